/**
 * Per-frame cost of the stack alone: one stack on a fake link, frames built before the clock
 * starts and handed over in batches as a TAP wake-up would, a scripted peer on the other side.
 *
 * - inbound: full-sized in-order data segments of an established connection through
 *   Ethernet -> IPv4 -> TCP -> `data$` (the stack's ACKs are counted, not sent anywhere);
 * - outbound: `write()` of a large buffer until every byte has left as frames, the peer
 *   acknowledging every second segment (those ACKs are part of the cost, as on a real link);
 * - checksum: the Internet checksum over 1,500-byte and 64 KiB buffers.
 *
 * Both over IPv4 or IPv6 (`family`); `pairedPerFrame` runs the two families alternately on two
 * stacks made once, run for run, so a shared machine's drift hits both alike.
 */
import type { Subscription } from 'rxjs';
import { createStack, type Stack } from '../streams/stack/create-stack.js';
import type { TcpConnection } from '../streams/stack/tcp-connection.js';
import { parseIpv4 } from '../src/ipv4/address.js';
import { ipv6Addr } from '../src/ipv6/address.js';
import { ipv6PseudoHeaderSum } from '../src/wire/ipv6.js';
import { parseMac } from '../src/mac.js';
import { onesSum, pseudoHeaderSum, foldChecksum } from '../src/wire/checksum.js';
import { IpProtocol } from '../src/wire/ipv4.js';
import { fakeLink, peerTcpFrame, readStackSegment, TcpFlags, type FakeLink, type PeerEndpoints } from './lib/fake-peer.js';
import { median, nowNs, turn } from './lib/stats.js';

const { SYN, ACK, PSH } = TcpFlags;
const MSS = 1460;
/** Frames per batch: what one TAP wake-up delivers under load. */
const BATCH = 64;

export interface PerFrameOptions {
  /** Frames per timed run. */
  readonly frames: number;
  readonly runs: number;
  /** Payload bytes per data segment. Default: the family's MSS (1460, 1440 over IPv6). */
  readonly payload?: number;
  /** IP version the peer speaks. Default 4. */
  readonly family?: 4 | 6;
  /**
   * What a run's time is: 'wall' (default, what `npm run bench` reports) or 'cpu', the
   * process's CPU time (`process.cpuUsage`, all threads: GC helpers included), which time
   * slices given to other processes on a shared machine do not inflate.
   */
  readonly clock?: 'wall' | 'cpu';
}

/** The process's CPU time (user and system, all threads) in ns. */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

export interface PerFrameResult {
  /** Median ns per frame. */
  readonly nsPerFrame: number;
  readonly runs: readonly number[];
  /** Frames the stack sent while processing (ACKs inbound, data outbound). */
  readonly framesSent: number;
}

interface Established {
  readonly stack: Stack;
  readonly link: FakeLink;
  readonly conn: TcpConnection;
  readonly e: PeerEndpoints;
  /** Next sequence number the peer sends. */
  peerSeq: number;
  /** The stack's SND.NXT as the peer last saw it (what the peer acknowledges). */
  stackSeq: number;
  readonly subs: Subscription[];
  close(): void;
}

/** The MSS each family's peer announces and sends: 1500 - 40, 1500 - 60. */
function mssOf(family: 4 | 6): number {
  return family === 6 ? 1440 : MSS;
}

async function establish(family: 4 | 6 = 4): Promise<Established> {
  const link = fakeLink('bench0');
  const v6 = family === 6;
  const e: PeerEndpoints = {
    peerMac: parseMac('02:00:00:00:00:01')!,
    stackMac: parseMac('02:00:00:00:00:02')!,
    peerIp: parseIpv4('198.18.0.1')!,
    stackIp: parseIpv4('198.18.0.2')!,
    peerPort: 40000,
    stackPort: 5001,
    ...(v6 ? { peerIp6: ipv6Addr('fd00:198:18::1'), stackIp6: ipv6Addr('fd00:198:18::2') } : {}),
  };
  // Over IPv6: a dual-stack stack whose address is usable at once (no DAD, no RAs awaited).
  const stack = v6
    ? createStack({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.2/24'], ipv6: ['fd00:198:18::2/64'], mac: '02:00:00:00:00:02' }], ipv6: { dadTransmits: 0, acceptRa: false } })
    : createStack({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.2/24'], mac: '02:00:00:00:00:02' }] });
  if (v6) stack.ndp.addStatic('fd00:198:18::1', '02:00:00:00:00:01');
  else stack.arp.addStatic('198.18.0.1', '02:00:00:00:00:01');
  let conn: TcpConnection | undefined;
  const subs: Subscription[] = [stack.tcp.listen({ port: e.stackPort }).subscribe((c) => (conn = c))];
  const sent: Uint8Array[] = [];
  link.onSend = (f) => sent.push(f);
  const isn = 1000;
  link.deliver([peerTcpFrame(e, { seq: isn, ack: 0, flags: SYN, mss: mssOf(family), windowScale: 7 })]);
  const synAck = sent.map(readStackSegment).find((s) => s !== undefined && s.flags === (SYN | ACK));
  if (synAck === undefined) throw new Error('per-frame bench: the stack sent no SYN-ACK');
  link.deliver([peerTcpFrame(e, { seq: isn + 1, ack: (synAck.seq + 1) >>> 0, flags: ACK })]);
  await turn();
  if (conn === undefined) throw new Error('per-frame bench: the connection was not accepted');
  link.onSend = () => undefined;
  const est: Established = {
    stack, link, conn, e, subs,
    peerSeq: isn + 1,
    stackSeq: (synAck.seq + 1) >>> 0,
    close: () => {
      for (const s of subs) s.unsubscribe();
      stack.close();
    },
  };
  return est;
}

/** A timed workload on one established stack: `run()` gives ns per frame of one run. */
interface Session {
  run(): Promise<number>;
  /** Frames the stack sent in the last run. */
  readonly framesSent: number;
  close(): void;
}

/** Inbound: full-sized data frames, Ethernet in to `data$` out. */
async function inboundSession(options: PerFrameOptions): Promise<Session> {
  const family = options.family ?? 4;
  const est = await establish(family);
  const payloadLength = options.payload ?? mssOf(family);
  let received = 0;
  est.subs.push(est.conn.data$.subscribe((chunk) => (received += chunk.length)));
  let acks = 0;
  est.link.onSend = () => acks++;
  const payload = new Uint8Array(payloadLength).fill(0x61);
  const batch: Uint8Array[] = new Array(BATCH);
  const now = options.clock === 'cpu' ? cpuNs : nowNs;
  return {
    get framesSent() {
      return acks;
    },
    close: () => est.close(),
    async run(): Promise<number> {
      // Each batch is built just before it is delivered (untimed), so its bytes are in the
      // cache as after a TAP read.
      const before = received;
      acks = 0;
      let elapsed = 0;
      for (let done = 0; done < options.frames; done += BATCH) {
        const n = Math.min(BATCH, options.frames - done);
        batch.length = n;
        // Frames of one batch share one buffer, back to back, as the TAP addon delivers them.
        const store = new Uint8Array(n * (payloadLength + 80));
        let at = 0;
        for (let i = 0; i < n; i++) {
          const f = peerTcpFrame(est.e, { seq: est.peerSeq, ack: est.stackSeq, flags: ACK | PSH, window: 0xffff, payload });
          store.set(f, at);
          batch[i] = store.subarray(at, at + f.length);
          at += f.length;
          est.peerSeq = (est.peerSeq + payloadLength) >>> 0;
        }
        const t0 = now();
        est.link.deliver(batch);
        elapsed += now() - t0;
      }
      if (received - before !== options.frames * payloadLength) {
        throw new Error(`inbound bench: ${received - before} bytes reached data$, expected ${options.frames * payloadLength}`);
      }
      await turn();
      return elapsed / options.frames;
    },
  };
}

/** Runs a session: one untimed run first (the JIT warms up on the same path), then `runs` timed ones. */
async function timed(session: Session, runs: number): Promise<PerFrameResult> {
  const samples: number[] = [];
  try {
    for (let run = 0; run <= runs; run++) {
      const ns = await session.run();
      if (run > 0) samples.push(ns);
    }
  } finally {
    session.close();
  }
  return { nsPerFrame: median(samples), runs: samples, framesSent: session.framesSent };
}

/** Inbound: ns per full-sized data frame, Ethernet in to `data$` out. */
export async function inboundPerFrame(options: PerFrameOptions): Promise<PerFrameResult> {
  return timed(await inboundSession(options), options.runs);
}

/** Patches a pure-ACK template from the peer with a new ACK number and fixes its checksum. */
function ackFramer(est: Established): (ack: number) => Uint8Array {
  const template = peerTcpFrame(est.e, { seq: est.peerSeq, ack: 0, flags: ACK, window: 0xffff });
  const e = est.e;
  const v6 = e.peerIp6 !== undefined && e.stackIp6 !== undefined;
  const t = 14 + (v6 ? 40 : 20);
  const pseudo = v6 ? ipv6PseudoHeaderSum(e.peerIp6!, 0, e.stackIp6!, 0, IpProtocol.TCP, 20) : pseudoHeaderSum(e.peerIp, e.stackIp, IpProtocol.TCP, 20);
  return (ack: number): Uint8Array => {
    const f = template.slice();
    f[t + 8] = ack >>> 24;
    f[t + 9] = (ack >>> 16) & 0xff;
    f[t + 10] = (ack >>> 8) & 0xff;
    f[t + 11] = ack & 0xff;
    f[t + 16] = 0;
    f[t + 17] = 0;
    const c = foldChecksum(onesSum(f, t, 20, pseudo));
    f[t + 16] = c >>> 8;
    f[t + 17] = c & 0xff;
    return f;
  };
}

/** Outbound: data frames from `write()` to the link, ACK processing included. */
async function outboundSession(options: PerFrameOptions): Promise<Session> {
  const family = options.family ?? 4;
  const est = await establish(family);
  const makeAck = ackFramer(est);
  let ends: number[] = [];
  est.link.onSend = (f) => {
    const s = readStackSegment(f);
    if (s !== undefined && s.payloadLength > 0) ends.push((s.seq + s.payloadLength) >>> 0);
  };
  const total = options.frames * mssOf(family);
  const data = new Uint8Array(total).fill(0x62);
  const now = options.clock === 'cpu' ? cpuNs : nowNs;
  let frames = 0;
  return {
    get framesSent() {
      return frames;
    },
    close: () => est.close(),
    async run(): Promise<number> {
      ends = [];
      const t0 = now();
      est.conn.write(data);
      let next = 0;
      let acked = 0;
      // Acknowledge every second segment, as a Linux receiver does in bulk; each ACK lets the
      // stack send more, synchronously, until every byte is out and acknowledged.
      while (acked < total) {
        if (next >= ends.length) throw new Error(`outbound bench: stalled after ${acked} of ${total} bytes`);
        const upTo = Math.min(next + 1, ends.length - 1);
        const ack = ends[upTo];
        acked += ((ack - est.stackSeq) >>> 0);
        est.stackSeq = ack;
        next = upTo + 1;
        est.link.deliver([makeAck(ack)]);
      }
      const t1 = now();
      frames = ends.length;
      await turn();
      return (t1 - t0) / ends.length;
    },
  };
}

/** Outbound: ns per data frame from `write()` to the link, ACK processing included. */
export async function outboundPerFrame(options: PerFrameOptions): Promise<PerFrameResult> {
  return timed(await outboundSession(options), options.runs);
}

/** One per-frame figure over both families, measured alternately. */
export interface PairedPerFrameResult {
  readonly v4: PerFrameResult;
  readonly v6: PerFrameResult;
  /** Median over runs of (IPv6 ns / IPv4 ns) of the same round. */
  readonly ratio: number;
}

/**
 * `inbound` or `outbound` over IPv4 and IPv6 on two stacks made once: a warm-up run of each,
 * then rounds of one IPv4 run and one IPv6 run (the order swapped every round), medians.
 */
export async function pairedPerFrame(kind: 'inbound' | 'outbound', options: Omit<PerFrameOptions, 'family'>): Promise<PairedPerFrameResult> {
  const open = kind === 'inbound' ? inboundSession : outboundSession;
  const s4 = await open({ ...options, family: 4 });
  const s6 = await open({ ...options, family: 6 });
  const r4: number[] = [];
  const r6: number[] = [];
  const ratios: number[] = [];
  try {
    await s4.run();
    await s6.run();
    for (let run = 0; run < options.runs; run++) {
      let a: number;
      let b: number;
      if (run % 2 === 0) {
        a = await s4.run();
        b = await s6.run();
      } else {
        b = await s6.run();
        a = await s4.run();
      }
      r4.push(a);
      r6.push(b);
      ratios.push(b / a);
    }
  } finally {
    s4.close();
    s6.close();
  }
  return {
    v4: { nsPerFrame: median(r4), runs: r4, framesSent: s4.framesSent },
    v6: { nsPerFrame: median(r6), runs: r6, framesSent: s6.framesSent },
    ratio: median(ratios),
  };
}

export interface ChecksumResult {
  /** GB/s (10^9 bytes per second) over 1,500-byte buffers. */
  readonly gbps1500: number;
  /** GB/s over 64 KiB buffers. */
  readonly gbps64k: number;
}

function checksumRate(size: number, totalBytes: number, runs: number): number {
  const buf = new Uint8Array(size + 2);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 131) & 0xff;
  const view = buf.subarray(0, size);
  const iterations = Math.max(1, Math.floor(totalBytes / size));
  const rates: number[] = [];
  let sink = 0;
  for (let run = 0; run <= runs; run++) {
    const t0 = nowNs();
    for (let i = 0; i < iterations; i++) sink ^= onesSum(view, 0, size, i & 0xff);
    const t1 = nowNs();
    if (run > 0) rates.push((iterations * size) / (t1 - t0));
  }
  if (sink === -1) console.log('');
  return median(rates);
}

export function checksumThroughput(totalBytes: number, runs: number): ChecksumResult {
  return { gbps1500: checksumRate(1500, totalBytes, runs), gbps64k: checksumRate(65536, totalBytes, runs) };
}
