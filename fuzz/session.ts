/**
 * One fuzzing session: the fuzzed stack A and the well-behaved stack B on a memory wire in
 * virtual time, B running a TCP echo transfer and a UDP echo exchange with A, and a door in
 * A's link through which the fuzzer pushes frames as if they came off the wire.
 *
 * The invariants are checked as the session goes (emitted segments, exceptions) and on demand
 * (`check()`: counters and tables); `finish()` drains the live transfer and checks it.
 */
import { Subject, merge, config as rxConfig, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createMemoryWire, type MemoryWireEnd } from '../streams/links/memory-wire.js';
import type { Link } from '../streams/links/link.js';
import { createStack, type Stack } from '../streams/stack/create-stack.js';
import { isIpv6Outbound } from '../streams/stack/ipv6-layer.js';
import type { StackStats } from '../streams/stack/stack-stats.js';
import { TcpConnection } from '../streams/stack/tcp-connection.js';
import { echoService, echoConnection } from '../streams/services/echo.js';
import { discardService } from '../streams/services/discard.js';
import { udpEchoService } from '../streams/services/udp-echo.js';
import { tcpService } from '../streams/services/tcp-service.js';
import { advance } from '../streams/testing/wait.js';
import { totalDrops } from '../src/stats.js';
import { A_IP, A_IP_NUM, A_MAC, B_IP, B_IP_NUM, B_MAC, LIVE_TCP_PORT, LIVE_UDP_PORT, TCP_DISCARD_PORT, TCP_ECHO_PORT, UDP_ECHO_PORT } from './addresses.js';
import { EmittedTcpChecker } from './tcp-checker.js';
import { withSeededRandomBytes } from './seeded-crypto.js';
import type { SynAckSeen } from './grammar.js';
import { parseTcp } from '../src/wire/tcp.js';

/** An invariant that did not hold. */
export interface Failure {
  readonly invariant: string;
  readonly message: string;
  /** Index of the injected frame after which it was seen (-1: before any). */
  readonly afterFrame: number;
}

/** The byte at position `i` of B's live stream. */
function liveByte(i: number): number {
  return (i * 31 + (i >>> 11)) & 0xff;
}

/** Bytes B writes per millisecond of virtual time, and how often it sends a UDP datagram. */
const LIVE_BYTES_PER_MS = 512;
const UDP_EVERY_MS = 10;
/**
 * A's TCP configuration: defaults, but a smaller out-of-order queue and timeouts that end a
 * stranger's forgotten connection within MAX_CONNECTION_AGE_MS of virtual time (keepalive on an
 * idle one, the user timeout on one with data outstanding, a short TIME-WAIT), so that a run of
 * minutes shows whether every connection does end.
 */
const A_TCP_CONFIG = {
  maxOutOfOrderSegments: 64,
  keepalive: true,
  keepaliveIdle: 5_000,
  keepaliveInterval: 1_000,
  keepaliveProbes: 2,
  userTimeout: 10_000,
  msl: 5_000,
} as const;
/**
 * Longest a stranger's connection may live: SYN-ACK retries (1+2+4+8+16+32 s), or the user
 * timeout plus the last RTO, or keepalive, or FIN-WAIT-2 (60 s), or TIME-WAIT, with room to spare.
 */
const MAX_CONNECTION_AGE_MS = 150_000;
const LISTENERS = 4;
/** Seed of the stacks' secrets (ISNs, SYN cookies): fixed, so that every session is alike. */
const STACK_SEED = 0x5eed;
const BACKLOG = 128;

export class FuzzSession {
  readonly scheduler = new TestScheduler(() => undefined);
  readonly a: Stack;
  readonly b: Stack;
  readonly failures: Failure[] = [];
  readonly checker: EmittedTcpChecker;
  /** Frames injected so far. */
  injected = 0;
  readonly #inject = new Subject<Uint8Array>();
  readonly #aEnd: MemoryWireEnd;
  readonly #subs: Subscription[] = [];
  /** Routed packets A handed to its links (the rest of ipv4.txPackets were looped back). */
  #networkDown = 0;
  /** Datagrams IPv4 delivered to each transport protocol, as the transport tap saw them. */
  readonly #delivered = new Map<number, number>();
  #live: TcpConnection | undefined;
  #written = 0;
  #echoed = 0;
  #echoDone = false;
  #udpSent = 0;
  readonly #udpSeen = new Set<number>();
  #lastTick = 0;
  #closed = false;
  readonly #uncaught = (err: unknown) => this.fail('exception', `uncaught: ${describe(err)}`);
  readonly #previousOnUnhandled = rxConfig.onUnhandledError;
  readonly heap: number[] = [];
  /** Numbers for A's connections (the checker keeps numbers, not connections). */
  readonly #connectionIds = new WeakMap<TcpConnection, number>();
  #nextConnectionId = 1;
  /** When each of A's connections was first seen (virtual ms). */
  readonly #born = new WeakMap<TcpConnection, number>();

  constructor() {
    const scheduler = this.scheduler;
    const [aEnd, bEnd] = createMemoryWire({ scheduler, macs: [A_MAC, B_MAC], latencyMs: 1 });
    this.#aEnd = aEnd;
    this.checker = new EmittedTcpChecker(
      (inv, msg) => this.fail(inv, msg),
      (src, srcPort, dst, dstPort) => {
        const ep = this.a.tcpLayer.endpoints.lookup(src, srcPort, dst, dstPort);
        if (!(ep instanceof TcpConnection)) return undefined;
        let id = this.#connectionIds.get(ep);
        if (id === undefined) this.#connectionIds.set(ep, (id = this.#nextConnectionId++));
        return { iss: ep.core.iss, id };
      },
    );
    rxConfig.onUnhandledError = (err) => this.fail('exception', `unhandled in an RxJS subscriber: ${describe(err)}`);
    process.on('uncaughtException', this.#uncaught);
    // A's link: the wire end, with the fuzzer's frames merged in and A's sends watched.
    const inject$ = this.#inject.asObservable();
    const checker = this.checker;
    const aLink: Link = {
      name: 'fuzzed',
      mtu: aEnd.mtu,
      mac: aEnd.mac,
      frames$: merge(aEnd.frames$, inject$),
      send: (frame) => {
        checker.emitted(frame);
        aEnd.send(frame);
      },
      close: () => aEnd.close(),
    };
    this.#subs.push(aEnd.frames$.subscribe((f) => checker.peerFrame(f)));
    // The same ISN and cookie secrets in every session: recorded answers to A's SYN-ACKs replay.
    [this.a, this.b] = withSeededRandomBytes(STACK_SEED, () => [
      createStack({ interfaces: [{ name: 'eth0', link: aLink, mac: A_MAC, ipv4: [`${A_IP}/24`] }], tcp: A_TCP_CONFIG }, { scheduler }),
      createStack({ interfaces: [{ name: 'eth0', link: bEnd, mac: B_MAC, ipv4: [`${B_IP}/24`] }] }, { scheduler }),
    ]);
    this.#subs.push(
      this.a.taps.network.down$.subscribe((o) => {
        this.#networkDown++;
        if (o.protocol !== 6 || isIpv6Outbound(o)) return;
        const packet = o.pb.bytes();
        this.checker.routed(packet);
        if (o.dst !== B_IP_NUM) this.#noteSynAck(packet, o.src, o.dst);
      }),
    );
    this.#subs.push(this.a.taps.transport.up$.subscribe((d) => this.#delivered.set(d.protocol, (this.#delivered.get(d.protocol) ?? 0) + 1)));
    // A's services: echo and discard for the fuzzer to find, the live ones for B.
    this.#subs.push(echoService(this.a, TCP_ECHO_PORT), discardService(this.a, TCP_DISCARD_PORT), udpEchoService(this.a, UDP_ECHO_PORT));
    this.#subs.push(tcpService(this.a, LIVE_TCP_PORT, echoConnection), udpEchoService(this.a, LIVE_UDP_PORT));
    this.#startLive();
  }

  /** SYN-ACKs A sent lately to strangers, oldest first (the grammar's TCP sessions answer them). */
  readonly synAcks: SynAckSeen[] = [];

  #noteSynAck(packet: Uint8Array, src: number, dst: number): void {
    const ihl = (packet[0] & 15) * 4;
    if (packet.length < ihl + 20 || (packet[ihl + 13] & 0x12) !== 0x12) return;
    const t = parseTcp(packet.subarray(ihl), src, dst, { verifyChecksum: false });
    if (!t.ok) return;
    const seg = t.value;
    if (this.synAcks.length >= 16) this.synAcks.shift();
    this.synAcks.push({ local: src, localPort: seg.srcPort, remote: dst, remotePort: seg.dstPort, iss: seg.seq, ack: seg.ack, tsVal: seg.timestamp?.tsVal });
  }

  /** Records a failed invariant. */
  fail(invariant: string, message: string): void {
    if (this.failures.length < 100) this.failures.push({ invariant, message, afterFrame: this.injected - 1 });
  }

  get failed(): boolean {
    return this.failures.length > 0;
  }

  readonly #hasConnection = (src: number, srcPort: number, dst: number, dstPort: number): boolean =>
    this.a.tcpLayer.endpoints.lookup(dst, dstPort, src, srcPort) instanceof TcpConnection;

  /** Feeds one frame to A as if it came off the wire. */
  inject(frame: Uint8Array): void {
    this.checker.injected(frame, this.#hasConnection);
    try {
      this.#inject.next(frame);
    } catch (err) {
      this.fail('exception', `thrown by the stack on input: ${describe(err)}`);
    }
    this.checker.current = undefined;
    this.injected++;
  }

  /** Moves virtual time to `at` ms (timers, the wire, the live transfer run). */
  advanceTo(at: number): void {
    while (this.scheduler.now() < at) {
      const next = Math.min(at, this.scheduler.now() + 1);
      this.#liveTick(next);
      try {
        advance(this.scheduler, next - this.scheduler.now());
      } catch (err) {
        this.fail('exception', `thrown by a timer or delivery: ${describe(err)}`);
        return;
      }
    }
  }

  get now(): number {
    return this.scheduler.now();
  }

  // --- the live transfer -----------------------------------------------------------------------

  #startLive(): void {
    this.#subs.push(
      this.b.tcp.connect({ address: A_IP, port: LIVE_TCP_PORT }).subscribe({
        next: (conn) => {
          this.#live = conn;
          const live = `${B_IP_NUM}:${conn.localPort}>${A_IP_NUM}:${LIVE_TCP_PORT}`;
          this.checker.setLive((k) => k === live);
          conn.data$.subscribe({
            next: (chunk) => {
              for (let i = 0; i < chunk.length; i++) {
                if (chunk[i] !== liveByte(this.#echoed + i)) {
                  this.fail('transfer', `echoed byte ${this.#echoed + i} is ${chunk[i]}, expected ${liveByte(this.#echoed + i)}`);
                  break;
                }
              }
              this.#echoed += chunk.length;
            },
            error: (err: unknown) => this.fail('transfer', `live connection failed: ${describe(err)}`),
            complete: () => {
              this.#echoDone = true;
            },
          });
        },
        error: (err: unknown) => this.fail('transfer', `live connect failed: ${describe(err)}`),
      }),
    );
    const udp = this.b.udp.bind({ port: 45000 });
    this.#udpSocket = udp;
    this.#subs.push(
      udp.datagrams$.subscribe((d) => {
        const n = d.payload.length >= 4 ? new DataView(d.payload.buffer, d.payload.byteOffset).getUint32(0) : -1;
        const expected = udpPayload(n);
        if (n < 0 || n >= this.#udpSent || this.#udpSeen.has(n) || !sameBytes(d.payload, expected)) {
          this.fail('transfer', `UDP echo ${n} is wrong (duplicate, unknown or altered)`);
          return;
        }
        this.#udpSeen.add(n);
      }),
    );
  }

  #udpSocket: ReturnType<Stack['udp']['bind']> | undefined;
  #writing = true;

  #liveTick(now: number): void {
    const elapsed = now - this.#lastTick;
    this.#lastTick = now;
    const conn = this.#live;
    if (this.#writing && conn !== undefined && conn.state === 'ESTABLISHED') {
      const n = LIVE_BYTES_PER_MS * elapsed;
      if (conn.bufferedLength < 64 * 1024) {
        const chunk = new Uint8Array(n);
        for (let i = 0; i < n; i++) chunk[i] = liveByte(this.#written + i);
        conn.write(chunk);
        this.#written += n;
      }
    }
    if (this.#writing && now % UDP_EVERY_MS === 0 && this.#udpSocket !== undefined) {
      this.#udpSocket.send(udpPayload(this.#udpSent++), { address: A_IP, port: LIVE_UDP_PORT });
    }
  }

  // --- invariants ----------------------------------------------------------------------------

  /**
   * Checks the counters and the tables now. `settled`: nothing is in flight inside A (after
   * time moved on with no input), so the loopback counts must match exactly.
   */
  check(settled = false): void {
    // The registry's snapshot: stats() would also sum every connection's counters, which the
    // checks do not use and which costs more than the checks with thousands of connections.
    const s = this.a.statsRegistry.snapshot() as unknown as StackStats;
    const eth = s['eth:eth0'];
    const arp = s['arp:eth0'];
    const fromLink = this.#aEnd.stats.rxFrames + this.injected;
    if (eth.rxFrames + eth.drops.truncated !== fromLink) {
      this.fail('counters', `ethernet saw ${eth.rxFrames} + ${eth.drops.truncated} truncated, the link delivered ${fromLink}`);
    }
    // IPv4 also receives what A sent to itself; those arrive by a zero-delay action, so some may
    // be on their way: IPv4's packets from the link are its packets less 0..all of those.
    const loopback = s.ipv4.txPackets - this.#networkDown;
    const notIpv4 = eth.drops.notForUs + eth.drops.vlanTagged + eth.drops.unknownEthertype + arp.rxPackets;
    const ipFromLink = eth.rxFrames - notIpv4;
    const loopedIn = s.ipv4.rxPackets - ipFromLink;
    if (loopedIn < 0 || loopedIn > loopback || (settled && loopedIn !== loopback)) {
      this.fail('counters', `ethernet accepted ${eth.rxFrames} frames: notForUs ${eth.drops.notForUs}, vlan ${eth.drops.vlanTagged}, unknown ${eth.drops.unknownEthertype}, arp ${arp.rxPackets}, so ${ipFromLink} for IPv4, which counted ${s.ipv4.rxPackets} with ${loopback} looped back`);
    }
    const arpOut = arp.drops.truncated + arp.drops.badHardwareType + arp.drops.badProtocolType + arp.drops.badAddressLength + arp.drops.unknownOp + sumOther(arp.otherDrops) + arp.rxRequests + arp.rxReplies;
    if (arp.rxPackets !== arpOut) this.fail('counters', `ARP received ${arp.rxPackets} but accounted for ${arpOut}`);
    const ip = s.ipv4;
    const ipDrops = dropsOf(ip) - ip.drops.fragmentDropped;
    const ipOut = ipDrops + (ip.rxDelivered - ip.rxReassembled) + ip.rxFragments;
    if (ip.rxPackets !== ipOut) this.fail('counters', `IPv4 received ${ip.rxPackets} but accounted for ${ipOut}`);
    let delivered = 0;
    for (const n of this.#delivered.values()) delivered += n;
    if (ip.rxDelivered !== delivered) this.fail('counters', `IPv4 delivered ${ip.rxDelivered}, the transports were handed ${delivered}`);
    const d = (p: number) => this.#delivered.get(p) ?? 0;
    if (s.icmp.rxMessages !== d(1)) this.fail('counters', `ICMP counted ${s.icmp.rxMessages} of ${d(1)} datagrams`);
    if (s.udp.rxDatagrams !== d(17)) this.fail('counters', `UDP counted ${s.udp.rxDatagrams} of ${d(17)} datagrams`);
    if (s.tcp.rxSegments !== d(6)) this.fail('counters', `TCP counted ${s.tcp.rxSegments} of ${d(6)} datagrams`);
    const icmp = s.icmp;
    const icmpOut = icmp.drops.truncated + icmp.drops.badChecksum + sumOther(icmp.otherDrops) + icmp.rxEchoRequests + icmp.rxEchoReplies + icmp.rxErrors + icmp.drops.unknownType;
    if (icmp.rxMessages !== icmpOut) this.fail('counters', `ICMP received ${icmp.rxMessages} but accounted for ${icmpOut}`);
    const udp = s.udp;
    const udpOut = dropsOf(udp) + udp.rxDelivered;
    if (udp.rxDatagrams !== udpOut) this.fail('counters', `UDP received ${udp.rxDatagrams} but accounted for ${udpOut}`);
    const tcp = s.tcp;
    const tcpParseDrops = tcp.drops.truncated + tcp.drops.badDataOffset + tcp.drops.badChecksum + tcp.drops.badOption + tcp.drops.broadcast + sumOther(tcp.otherDrops);
    const tcpEndpointDrops = tcp.drops.noEndpoint + tcp.drops.synBacklogFull + tcp.drops.acceptQueueFull + tcp.drops.listenerNotSyn;
    if (tcp.rxSegments < tcpParseDrops + tcpEndpointDrops) this.fail('counters', `TCP received ${tcp.rxSegments}, fewer than its drops ${tcpParseDrops + tcpEndpointDrops}`);
    this.#checkTables();
  }

  #checkTables(): void {
    const ipv4 = this.a.ipv4;
    const r = ipv4.reassembler;
    if (r.size > r.config.maxDatagrams) this.fail('bounds', `reassembly holds ${r.size} datagrams (limit ${r.config.maxDatagrams})`);
    if (r.bytesHeld > r.config.maxBytes) this.fail('bounds', `reassembly holds ${r.bytesHeld} bytes (limit ${r.config.maxBytes})`);
    for (const l of this.a.layers.interfaces) {
      const cache = l.arp!.cache;
      const entries = cache.entries().filter((e) => e.state !== 'static').length;
      if (entries > cache.config.maxEntries) this.fail('bounds', `neighbour cache has ${entries} entries (limit ${cache.config.maxEntries})`);
      if (cache.queuedPackets > cache.config.maxQueuedPackets) this.fail('bounds', `neighbour cache queues ${cache.queuedPackets} packets (limit ${cache.config.maxQueuedPackets})`);
    }
    const conns = this.a.tcpLayer.connections();
    const now = this.now;
    let halfOpen = 0;
    for (const c of conns) {
      if (c.state === 'SYN-RECEIVED') halfOpen++;
      let born = this.#born.get(c);
      if (born === undefined) this.#born.set(c, (born = now));
      if (c.remoteAddress !== B_IP && now - born > MAX_CONNECTION_AGE_MS) {
        this.fail('bounds', `${c} still ${c.state} after ${now - born} ms (its timeouts end it within ${MAX_CONNECTION_AGE_MS})`);
      }
      // Test-only look inside the core: its receive buffer's out-of-order queue.
      const recv = (c.core as unknown as { recvBuf: { outOfOrderCount: number; maxOutOfOrder: number; capacity: number; readable: number } }).recvBuf;
      if (recv.outOfOrderCount > recv.maxOutOfOrder) this.fail('bounds', `${c}: ${recv.outOfOrderCount} out-of-order pieces (limit ${recv.maxOutOfOrder})`);
      if (recv.readable > recv.capacity) this.fail('bounds', `${c}: ${recv.readable} unread bytes (buffer ${recv.capacity})`);
      if (c.bufferedLength > c.core.config.sendBufferSize + 64 * 1024) this.fail('bounds', `${c}: ${c.bufferedLength} bytes waiting to be sent`);
    }
    if (halfOpen > LISTENERS * BACKLOG) this.fail('bounds', `${halfOpen} half-open connections (backlogs allow ${LISTENERS * BACKLOG})`);
  }

  /** Samples the heap (after a collection when `gc` is exposed). */
  sampleHeap(): void {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc !== undefined) gc();
    this.heap.push(process.memoryUsage().heapUsed);
  }

  /**
   * No upward trend: the heap in the last quarter of the samples stays within 32 MiB and 50 % of
   * the first quarter's (after warm-up). Only meaningful with `gc` exposed.
   */
  checkHeap(): void {
    const h = this.heap;
    if (h.length < 8 || (globalThis as { gc?: unknown }).gc === undefined) return;
    const q = Math.floor(h.length / 4);
    const early = Math.max(...h.slice(1, 1 + q));
    const late = Math.min(...h.slice(h.length - q));
    if (late > early * 1.5 + 32 * 1024 * 1024) this.fail('bounds', `heap grew from ${mb(early)} to ${mb(late)} MiB`);
  }

  /**
   * Stops the fuzzing side, lets the live transfer finish (B ends; the echo must come back in
   * full and byte-exact, every UDP echo too), checks everything once more and closes.
   */
  finish(maxMs = 120_000): void {
    this.#writing = false;
    this.check();
    const conn = this.#live;
    if (conn === undefined) this.fail('transfer', 'the live connection never opened');
    else if (conn.state === 'ESTABLISHED') conn.end();
    const deadline = this.now + maxMs;
    while (this.now < deadline && !(this.#echoDone && this.#udpSeen.size === this.#udpSent)) this.advanceTo(this.now + 50);
    if (conn !== undefined && (!this.#echoDone || this.#echoed !== this.#written)) {
      this.fail('transfer', `echo incomplete: wrote ${this.#written}, got back ${this.#echoed}${this.#echoDone ? '' : ' (no FIN)'}, state ${conn.state}`);
    }
    if (this.#udpSeen.size !== this.#udpSent) this.fail('transfer', `UDP: ${this.#udpSent - this.#udpSeen.size} of ${this.#udpSent} echoes missing`);
    this.check(true);
    this.close();
  }

  /** The sizes of A's tables, for progress lines. */
  tables(): string {
    const r = this.a.ipv4.reassembler;
    const cache = this.a.layers.interfaces[0].arp!.cache;
    const heap = process.memoryUsage().heapUsed;
    return `tcp ${this.a.tcpLayer.connections().length} conns, reassembly ${r.size}/${r.bytesHeld} B, neighbours ${cache.size} (${cache.queuedPackets} queued), heap ${mb(heap)} MiB`;
  }

  /** Bytes of the live transfer echoed so far. */
  get liveBytes(): number {
    return this.#echoed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#subs) s.unsubscribe();
    this.#udpSocket?.close();
    this.a.close();
    this.b.close();
    rxConfig.onUnhandledError = this.#previousOnUnhandled;
    process.off('uncaughtException', this.#uncaught);
  }
}

function udpPayload(n: number): Uint8Array {
  const p = new Uint8Array(4 + (n % 200));
  new DataView(p.buffer).setUint32(0, n);
  for (let i = 4; i < p.length; i++) p[i] = (n + i) & 0xff;
  return p;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sumOther(other: Readonly<Record<string, number>>): number {
  let n = 0;
  for (const k in other) n += other[k];
  return n;
}

function dropsOf(c: { readonly drops: Readonly<Record<string, number>>; readonly otherDrops: Readonly<Record<string, number>> }): number {
  return totalDrops({ drops: c.drops as Record<string, number>, otherDrops: new Map(Object.entries(c.otherDrops)) });
}

function mb(n: number): string {
  return (n / 1048576).toFixed(1);
}

export function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}${err.stack === undefined ? '' : `\n${err.stack.split('\n').slice(1, 6).join('\n')}`}`;
  return String(err);
}
