import { Observable, type SchedulerAction, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import type { IpDatagram } from './ip-network.js';
import { ReceivedIpv4 } from './ipv4-layer.js';
import { IPV6_ID_BASE, type IpAddr } from '../../src/ip/address-book.js';
import { createCounters } from '../../src/stats.js';
import { log } from '../../src/log.js';
import { NetstackError } from '../../src/errors.js';
import { IcmpUnreachableCode } from '../../src/wire/icmp.js';
import { IpProtocol } from '../../src/wire/ipv4.js';
import { readIfHeldUp } from './late-wake.js';

/** Options of `stack.udp.forward()`. */
export interface UdpForwardOptions {
  /** Sessions at once; a datagram that would open one more is dropped (`drops.sessionLimit`). Default 1024. */
  readonly maxSessions?: number;
  /**
   * A session with no datagram either way for this long ends (`sessionsExpired`), within a
   * quarter of it more (the idle timer ticks every quarter). Default 60,000 ms.
   */
  readonly idleTimeoutMs?: number;
  /** Datagrams a session holds while its `datagrams$` has no subscriber (more: `drops.queueFull`). Default 64. */
  readonly queueLimit?: number;
}

/**
 * How a flow is refused (the words of the TCP forwarder's `refuse`): an ICMP destination
 * unreachable of that code, from the original destination; 'unreachable' is 'host-unreachable'.
 */
export type UdpRefusal = 'port-unreachable' | 'host-unreachable' | 'net-unreachable' | 'unreachable';

/**
 * One UDP flow to an address and port nobody bound: the client's datagrams to the original
 * destination come out of `datagrams$`; `send()` answers from that destination.
 */
export interface UdpForwardSession {
  /** The original destination address and port (what the client sent to). */
  readonly localAddress: string;
  readonly localPort: number;
  /** The client. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The interface the first datagram came in by. */
  readonly interface: string;
  /**
   * The client's payloads, the first one included. Held (up to `queueLimit`) until the first
   * subscriber, who gets them at once; one subscriber at a time sees each. Completes when the
   * session ends: idle timeout, `close()`, or the forwarder stopped.
   */
  readonly datagrams$: Observable<Uint8Array>;
  /**
   * Sends `payload` to the client from the original destination. False (and counted as
   * `txErrors`) when it cannot go: too big, no route, session ended. Refreshes the idle timer.
   */
  send(payload: Uint8Array): boolean;
  /**
   * Answers the flow with an ICMP destination unreachable (default 'port-unreachable') from the
   * original destination, quoting the last datagram the session received (as a host quotes the
   * datagram that caused the error), subject to the ICMP error rate limit. What the client sees
   * is its stack's: a connected socket gets ECONNREFUSED for port unreachable. The session stays
   * open (a later datagram may still get through, as after a connected socket's error); `close()`
   * ends it. False when the session had ended (nothing sent). Counted as `refused`.
   * @throws NetstackError ERR_INVALID_ARG_VALUE for an unknown refusal.
   */
  refuse(how?: UdpRefusal): boolean;
  /** Ends the session now (datagrams$ completes; the next datagram of the flow opens a new one). */
  close(): void;
  /**
   * For a flow relayed outside the stack (the nat's native flow offload): at each tick of the
   * idle timer that saw no datagram here, `probe()` says whether the flow had datagrams there
   * since it was last asked; true keeps the session alive. `undefined` removes it.
   */
  setActivityProbe(probe: (() => boolean) | undefined): void;
}

export const UDP_FORWARD_DROP_REASONS = ['sessionLimit', 'queueFull'] as const;

export function createUdpForwardCounters() {
  return createCounters(
    ['sessionsOpened', 'sessionsClosed', 'sessionsExpired', 'sessions', 'rxDatagrams', 'rxBytes', 'txDatagrams', 'txBytes', 'txErrors', 'refused'],
    UDP_FORWARD_DROP_REASONS,
  );
}
export type UdpForwardCounters = ReturnType<typeof createUdpForwardCounters>;

/** What the forwarder needs of the UDP layer. */
export interface UdpForwarderHost {
  readonly scheduler: SchedulerLike;
  /** Sends a datagram from any address (the forwarding mode is held); an error when it cannot. */
  send(src: IpAddr, dst: IpAddr, srcPort: number, dstPort: number, payload: Uint8Array): NetstackError | undefined;
  /**
   * A destination unreachable about `datagram`, from its destination (rate limited): ICMP with
   * `code`, or over IPv6 ICMPv6 with the code that means the same.
   */
  unreachable(datagram: IpDatagram, code: number): void;
  /** Text of an address (IPv6 ids through the stack's address book). */
  format(addr: IpAddr): string;
  /** One more reference on an IPv6 id (IPv4 numbers pass), and giving it back: a session holds its two addresses. */
  retain(addr: IpAddr): void;
  release(addr: IpAddr): void;
}

/** Bytes of a datagram's UDP part kept for an ICMP quote (RFC 1812 asks for 8 at least; Linux quotes more). */
const QUOTE_BYTES = 64;
/** The longest IPv4 header (with options). */
const MAX_IP_HEADER = 60;
/**
 * The idle timer ticks this many times per idle timeout; a session ends after that many ticks
 * in a row saw no datagram. A datagram then only sets a flag (no clock read per datagram, two
 * per request/response otherwise); the session ends between the timeout and a tick more after
 * its last datagram.
 */
const IDLE_TICKS = 4;

/**
 * The UDP forwarder (gVisor's udp.Forwarder, with sessions): datagrams that no socket takes,
 * to any unicast address, are grouped by 4-tuple into sessions emitted to the one subscriber.
 * Two Maps keyed by numbers (client address and port, then destination address and port) find
 * a datagram's session without making a key object.
 */
export class UdpForwarder {
  readonly #byClient = new Map<number, Map<number, Session>>();
  #count = 0;
  /**
   * The session of the last datagram: a request/response flow sends every datagram on it, and
   * four compares find it without the two keys (doubles) and the two map reads. Forgotten when
   * it ends.
   */
  #last: Session | undefined;

  constructor(
    readonly counters: UdpForwardCounters,
    readonly host: UdpForwarderHost,
    readonly subscriber: Subscriber<UdpForwardSession>,
    readonly options: Required<UdpForwardOptions>,
  ) {}

  /** A unicast datagram no socket took: into its session (opened on the first datagram). */
  offer(d: IpDatagram, srcPort: number, dstPort: number, payload: Uint8Array): void {
    const last = this.#last;
    if (last !== undefined && last.remotePort === srcPort && last.localPort === dstPort && last.remote === d.src && last.local === d.dst) {
      last.remember(d);
      last.deliver(payload);
      return;
    }
    const c = this.counters;
    const clientKey = d.src * 65536 + srcPort;
    const flowKey = d.dst * 65536 + dstPort;
    let flows = this.#byClient.get(clientKey);
    let session = flows?.get(flowKey);
    if (session === undefined) {
      if (this.#count >= this.options.maxSessions) {
        c.drops.sessionLimit++;
        if (log.udp.enabled) log.udp('forward: %d sessions, datagram to %s:%d dropped', this.#count, this.host.format(d.dst), dstPort);
        return;
      }
      if (flows === undefined) {
        flows = new Map();
        this.#byClient.set(clientKey, flows);
      }
      session = new Session(this, d, srcPort, dstPort);
      session.remember(d);
      flows.set(flowKey, session);
      this.#last = session;
      this.#count++;
      c.sessions = this.#count;
      c.sessionsOpened++;
      session.deliver(payload, true);
      this.subscriber.next(session);
      return;
    }
    this.#last = session;
    session.remember(d);
    session.deliver(payload);
  }

  /** Ends every session (the forwarder stopped). */
  close(): void {
    for (const flows of [...this.#byClient.values()]) for (const s of [...flows.values()]) s.close();
  }

  /** @internal A session ended: out of the tables. */
  remove(s: Session): void {
    if (this.#last === s) this.#last = undefined;
    const flows = this.#byClient.get(s.clientKey);
    if (flows === undefined || flows.get(s.flowKey) !== s) return;
    flows.delete(s.flowKey);
    if (flows.size === 0) this.#byClient.delete(s.clientKey);
    this.#count--;
    this.counters.sessions = this.#count;
    this.counters.sessionsClosed++;
  }
}

class Session implements UdpForwardSession {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly interface: string;
  readonly clientKey: number;
  readonly flowKey: number;
  readonly datagrams$: Observable<Uint8Array>;
  readonly #forwarder: UdpForwarder;
  /** @internal The destination's and the client's addresses (IPv6: the address book's ids). */
  readonly local: IpAddr;
  readonly remote: IpAddr;
  #queue: Uint8Array[] = [];
  #reader: Subscriber<Uint8Array> | undefined;
  /** A datagram either way since the idle timer's last tick. */
  #active = false;
  /** The idle timer's ticks in a row that saw no datagram. */
  #quietTicks = 0;
  #timer: Subscription | undefined;
  #closed = false;
  #probe: (() => boolean) | undefined;
  /**
   * The last datagram received: its IPv4 header and the start of its UDP part, or over IPv6
   * the start of the packet (header, extension headers, UDP), for `refuse()`.
   */
  #lastIface: IpDatagram['iface'];
  readonly #quote = new Uint8Array(MAX_IP_HEADER + QUOTE_BYTES);
  #quoteHeader = 0;
  #quoteLength = 0;

  constructor(forwarder: UdpForwarder, d: IpDatagram, srcPort: number, dstPort: number) {
    this.#forwarder = forwarder;
    // The session holds both IPv6 ids (given back by close()).
    const host = forwarder.host;
    host.retain(d.dst);
    host.retain(d.src);
    this.local = d.dst;
    this.remote = d.src;
    this.localAddress = host.format(d.dst);
    this.localPort = dstPort;
    this.remoteAddress = host.format(d.src);
    this.remotePort = srcPort;
    this.interface = d.iface.name;
    this.#lastIface = d.iface;
    this.clientKey = d.src * 65536 + srcPort;
    this.flowKey = d.dst * 65536 + dstPort;
    this.#arm(forwarder.options.idleTimeoutMs / IDLE_TICKS);
    this.datagrams$ = new Observable<Uint8Array>((subscriber) => {
      if (this.#closed && this.#queue.length === 0) {
        subscriber.complete();
        return undefined;
      }
      this.#reader = subscriber;
      const held = this.#queue;
      this.#queue = [];
      for (const p of held) subscriber.next(p);
      if (this.#closed) subscriber.complete();
      return () => {
        if (this.#reader === subscriber) this.#reader = undefined;
      };
    });
  }

  /**
   * Keeps what `refuse()` quotes of `d`: copied into the session's own buffer (the frame's slab
   * is reused), a hundred bytes at most and no allocation.
   */
  remember(d: IpDatagram): void {
    if (d.dst >= IPV6_ID_BASE) {
      // IPv6: `header` is the packet from its fixed header; its start is the quote.
      const n = d.header.length <= this.#quote.length ? d.header.length : this.#quote.length;
      this.#quote.set(n === d.header.length ? d.header : d.header.subarray(0, n), 0);
      this.#quoteHeader = n;
      this.#quoteLength = n;
      this.#lastIface = d.iface;
      return;
    }
    const q = this.#quote;
    if (d instanceof ReceivedIpv4) {
      // IPv4's own record: header and UDP part lie one after the other in the frame, copied
      // from there byte by byte (a few dozen bytes: no header or payload view made, no `set`).
      const frame = d.frame;
      const at = d.headerAt;
      const payloadAt = d.payloadAt;
      const rest = d.payloadEnd - payloadAt;
      const header = payloadAt - at; // at most 60 (IHL)
      const n = header + (rest <= QUOTE_BYTES ? rest : QUOTE_BYTES);
      for (let i = 0; i < n; i++) q[i] = frame[at + i];
      this.#quoteHeader = header;
      this.#quoteLength = n;
      this.#lastIface = d.iface;
      return;
    }
    const header = d.header.length <= MAX_IP_HEADER ? d.header.length : MAX_IP_HEADER;
    const data = d.payload.length <= QUOTE_BYTES ? d.payload.length : QUOTE_BYTES;
    q.set(header === d.header.length ? d.header : d.header.subarray(0, header), 0);
    q.set(data === d.payload.length ? d.payload : d.payload.subarray(0, data), header);
    this.#quoteHeader = header;
    this.#quoteLength = header + data;
    this.#lastIface = d.iface;
  }

  refuse(how: UdpRefusal = 'port-unreachable'): boolean {
    const code = refusalCode(how);
    if (code === undefined) {
      throw new NetstackError('ERR_INVALID_ARG_VALUE', `refuse: "${String(how)}" is not 'port-unreachable', 'host-unreachable', 'net-unreachable' or 'unreachable'`);
    }
    if (this.#closed) return false;
    const f = this.#forwarder;
    f.counters.refused++;
    if (log.udp.enabled) log.udp('forward: %s:%d refused (%s) to %s:%d', this.localAddress, this.localPort, how, this.remoteAddress, this.remotePort);
    const q = this.#quote;
    f.host.unreachable({
      iface: this.#lastIface, src: this.remote, dst: this.local, protocol: IpProtocol.UDP, ttl: 0,
      header: q.subarray(0, this.#quoteHeader), payload: q.subarray(this.#quoteHeader, this.#quoteLength),
      broadcast: false, reassembled: false, checksumVerified: false,
    }, code);
    return true;
  }

  /** A datagram of the flow; `first`: the one that opened the session (the idle time starts with it). */
  deliver(payload: Uint8Array, first = false): void {
    const f = this.#forwarder;
    const c = f.counters;
    c.rxDatagrams++;
    c.rxBytes += payload.length;
    this.#active = !first;
    const reader = this.#reader;
    if (reader !== undefined) reader.next(payload);
    else if (this.#queue.length < f.options.queueLimit) this.#queue.push(payload);
    else c.drops.queueFull++;
  }

  send(payload: Uint8Array): boolean {
    const f = this.#forwarder;
    const c = f.counters;
    if (this.#closed) {
      c.txErrors++;
      return false;
    }
    const err = f.host.send(this.local, this.remote, this.localPort, this.remotePort, payload);
    if (err !== undefined) {
      c.txErrors++;
      if (log.udp.enabled) log.udp('forward: reply to %s:%d failed: %s', this.remoteAddress, this.remotePort, err.message);
      return false;
    }
    c.txDatagrams++;
    c.txBytes += payload.length;
    this.#active = true;
    return true;
  }

  setActivityProbe(probe: (() => boolean) | undefined): void {
    this.#probe = probe;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.unsubscribe();
    this.#timer = undefined;
    this.#forwarder.remove(this);
    this.#forwarder.host.release(this.local);
    this.#forwarder.host.release(this.remote);
    this.#queue = [];
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.complete();
  }

  /**
   * One timer per session, ticking every `tick` ms (the same action rescheduled, no new one per
   * tick); the session ends at the IDLE_TICKS-th quiet tick in a row.
   */
  #arm(tick: number): void {
    const session = this;
    const scheduler = this.#forwarder.host.scheduler;
    let dueAt = scheduler.now() + tick;
    this.#timer = scheduler.schedule(function (this: SchedulerAction<undefined>) {
      if (session.#closed) return;
      // Held up past the tick (late-wake.ts): a datagram of the session may be waiting in the link.
      if (!session.#active && session.#quietTicks + 1 >= IDLE_TICKS) readIfHeldUp(scheduler, dueAt, scheduler.now());
      if (session.#closed) return;
      if (session.#active || session.#probe?.() === true) {
        session.#active = false;
        session.#quietTicks = 0;
      } else if (++session.#quietTicks >= IDLE_TICKS) {
        session.#timer = undefined;
        session.#forwarder.counters.sessionsExpired++;
        session.close();
        return;
      }
      dueAt = scheduler.now() + tick;
      this.schedule(undefined, tick);
    }, tick);
  }
}

function refusalCode(how: UdpRefusal): number | undefined {
  switch (how) {
    case 'port-unreachable':
      return IcmpUnreachableCode.PORT_UNREACHABLE;
    case 'unreachable':
    case 'host-unreachable':
      return IcmpUnreachableCode.HOST_UNREACHABLE;
    case 'net-unreachable':
      return IcmpUnreachableCode.NET_UNREACHABLE;
    default:
      return undefined;
  }
}
