/**
 * Lossy paths: goodput and retransmission timeouts of one bulk transfer between two stacks on the
 * memory wire, in VIRTUAL time (a TestScheduler drives every timer and the wire's latency and
 * bandwidth), with loss and reordering from `impairLink` on both directions, seeded. Each direction
 * is impaired once, on the sending end's outbound side: the loss rate of a case is the loss rate of
 * each direction (before 2026-12-06 both ends impaired both sides, so a direction passed two
 * impairments: "5 %" was 9.75 %).
 *
 * Virtual time, because what is measured is the protocol's behaviour on the path (how fast the
 * sender recovers, how often it waits for an RTO), not how fast this machine runs JavaScript: the
 * same seed gives the same figures on any machine, and a 50 ms path does not take 50 ms a round
 * trip to measure. Goodput is bytes delivered in order to the reader per virtual second.
 *
 * Run alone: `node --import tsx bench/lossy.ts [--quick] [--mib N] [--seed N] [--rtt MS]
 * [--loss P] [--reorder P] [--cc newreno|cubic] [--autotune | --small]` (the four in the middle
 * pick cases of the grid); `npm run bench -- --sections lossy [--seed N]` puts the table in the
 * bench output. `--autotune` starts both sides from 64 KiB buffers and lets auto-tuning grow
 * them (default caps) instead of fixing them at 4 MiB; `--small` fixes them at 64 KiB.
 */
import { TestScheduler } from 'rxjs/testing';
import { createMemoryWire } from '../streams/links/memory-wire.js';
import { impairLink } from '../streams/operators/impair.js';
import { createStack } from '../streams/stack/create-stack.js';
import type { TcpConnection } from '../streams/stack/tcp-connection.js';

export type LossyBuffers = 'fixed' | 'autotune' | 'small';

export interface LossyCase {
  /** Round-trip time of the path (half each way), ms. */
  readonly rttMs: number;
  /** Frame loss probability each way. */
  readonly loss: number;
  /** Reordering probability each way (a frame overtaken by the next one). */
  readonly reorder: number;
  /** The sender's congestion control. */
  readonly congestionControl: 'newreno' | 'cubic';
  /**
   * 'fixed' (default): 4 MiB buffers, no auto-tuning; 'autotune': 64 KiB to start, grown up to
   * the default caps; 'small': 64 KiB, no auto-tuning (what 'autotune' starts from).
   */
  readonly buffers?: LossyBuffers;
  /** Probability each way that a frame is delivered twice. Default 0. */
  readonly duplicate?: number;
  /** Probability each way that one bit of a frame is flipped (checksums must catch it). Default 0. */
  readonly corrupt?: number;
  /** The wire's rate, bit/s. Default 1 Gbit/s. */
  readonly bandwidthBitsPerSecond?: number;
}

export interface LossyResult extends LossyCase {
  /** Goodput, Mbit/s of virtual time; 0 when the transfer did not finish within the time bound. */
  readonly goodputMbps: number;
  /** Retransmission timeouts the sender took. */
  readonly rtos: number;
  readonly retransmits: number;
  /** Virtual seconds the transfer took (or the bound). */
  readonly seconds: number;
  readonly finished: boolean;
  /** Every byte the reader got equals what was written, in order (none missing up to the end). */
  readonly intact: boolean;
}

/** The path's bottleneck: fast enough that loss and RTT, not the wire, limit goodput. */
const BANDWIDTH = 1_000_000_000;
/** Give up on a case after this much virtual time. */
const BOUND_MS = 600_000;

/** One transfer of `bytes` from a to b over the case's path; deterministic for a seed. */
export function runLossyCase(c: LossyCase, bytes: number, seed: number): LossyResult {
  const ts = new TestScheduler(() => undefined);
  const [la, lb] = createMemoryWire({ scheduler: ts, latencyMs: c.rttMs / 2, bandwidthBitsPerSecond: c.bandwidthBitsPerSecond ?? BANDWIDTH, queueLimit: 4096 });
  const impairment = { loss: c.loss, reorder: c.reorder, reorderTimeout: Math.max(1, c.rttMs / 4), duplicate: c.duplicate ?? 0, corrupt: c.corrupt ?? 0 };
  const clean = c.loss === 0 && c.reorder === 0 && impairment.duplicate === 0 && impairment.corrupt === 0;
  // One impairment per direction: each end's outbound side (a -> b on a, b -> a on b).
  const wrap = (link: typeof la, s: number) =>
    clean ? link : impairLink(link, { outbound: { ...impairment, seed: s + 1 }, scheduler: ts });
  const size = c.buffers === 'autotune' || c.buffers === 'small' ? 64 * 1024 : 4 * 1024 * 1024;
  const caps = c.buffers === 'autotune' ? {} : { receiveBufferMax: size, sendBufferMax: size };
  const tcp = { congestionControl: c.congestionControl, receiveBufferSize: size, sendBufferSize: size, ...caps };
  let a;
  let b;
  try {
    a = createStack({ interfaces: [{ name: 'eth0', link: wrap(la, seed), ipv4: ['198.18.0.1/24'] }], tcp }, { scheduler: ts });
    b = createStack({ interfaces: [{ name: 'eth0', link: wrap(lb, seed + 100), ipv4: ['198.18.0.2/24'] }], tcp }, { scheduler: ts });
  } catch (err) {
    // A config key this tree does not have (an older one): say so instead of measuring nonsense.
    throw new Error(`lossy: ${(err as Error).message}`);
  }
  let received = 0;
  let intact = true;
  let doneAt: number | undefined;
  b.tcp.listen({ port: 9 }).subscribe((conn) =>
    conn.data$.subscribe({
      next: (chunk) => {
        for (let i = 0; i < chunk.length; i++) if (chunk[i] !== patternByte(received + i)) intact = false;
        received += chunk.length;
        if (received >= bytes && doneAt === undefined) doneAt = ts.now();
      },
      error: () => undefined,
    }),
  );
  let sender: TcpConnection | undefined;
  let startedAt = 0;
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = patternByte(i);
  a.tcp.connect({ address: '198.18.0.2', port: 9 }).subscribe({
    next: (conn) => {
      sender = conn;
      startedAt = ts.now();
      conn.write(data);
    },
    error: () => undefined,
  });
  // Advance virtual time in slices until the data is in or the bound is reached.
  for (let t = 0; t < BOUND_MS && doneAt === undefined; t += 100) {
    ts.schedule(() => undefined, 100);
    ts.maxFrames = ts.now() + 100;
    ts.flush();
  }
  const counters = sender?.counters;
  const finished = doneAt !== undefined;
  const seconds = ((doneAt ?? ts.now()) - startedAt) / 1000;
  a.close();
  b.close();
  return {
    ...c,
    goodputMbps: finished && seconds > 0 ? (bytes * 8) / seconds / 1e6 : 0,
    rtos: counters?.timeouts ?? 0,
    retransmits: counters?.retransmits ?? 0,
    seconds,
    finished,
    intact: intact && received === (finished ? bytes : received),
  };
}

/** The transfer's byte at `offset`: varied, so a misplaced or corrupted byte shows. */
function patternByte(offset: number): number {
  return (offset * 131 + (offset >>> 9)) & 0xff;
}

/** The grid of cases: full, or the quick subset (10 ms RTT only). */
export function lossyCases(quick: boolean, buffers: LossyBuffers = 'fixed'): LossyCase[] {
  const rtts = quick ? [10] : [1, 10, 50];
  // 10 %: about what "5 %" was when the bench impaired each direction twice.
  const losses = quick ? [0, 0.01, 0.05] : [0, 0.001, 0.01, 0.03, 0.05, 0.1];
  const reorders = quick ? [0] : [0, 0.01];
  const ccs = ['newreno', 'cubic'] as const;
  const out: LossyCase[] = [];
  for (const rttMs of rtts) for (const loss of losses) for (const reorder of reorders) for (const congestionControl of ccs) out.push({ rttMs, loss, reorder, congestionControl, buffers });
  return out;
}

/** Runs every case (those `pick` keeps), seeded with `seed`; `log` gets one line per case. */
export function lossyBench(quick: boolean, mib: number, log: (line: string) => void, seed = 1, pick: (c: LossyCase) => boolean = () => true, buffers: LossyBuffers = 'fixed'): LossyResult[] {
  const results: LossyResult[] = [];
  for (const c of lossyCases(quick, buffers)) {
    if (!pick(c)) continue;
    const r = runLossyCase(c, mib * 1024 * 1024, seed);
    results.push(r);
    log(
      `lossy: rtt ${c.rttMs} ms, loss ${(c.loss * 100).toFixed(1)} %, reorder ${(c.reorder * 100).toFixed(0)} %, ${c.congestionControl}, ${buffers} buffers: ` +
        (r.finished ? `${r.goodputMbps.toFixed(1)} Mbit/s` : `not done in ${BOUND_MS / 1000} s`) +
        `, ${r.rtos} RTOs, ${r.retransmits} retransmits`,
    );
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const arg = (name: string): string | undefined => {
    const at = process.argv.indexOf(name);
    return at > 0 ? process.argv[at + 1] : undefined;
  };
  const mib = arg('--mib') !== undefined ? Number(arg('--mib')) : quick ? 2 : 8;
  const seed = arg('--seed') !== undefined ? Number(arg('--seed')) : 1;
  const rtt = arg('--rtt');
  const loss = arg('--loss');
  const reorder = arg('--reorder');
  const cc = arg('--cc');
  const pick = (c: LossyCase): boolean =>
    (rtt === undefined || c.rttMs === Number(rtt)) &&
    (loss === undefined || c.loss === Number(loss)) &&
    (reorder === undefined || c.reorder === Number(reorder)) &&
    (cc === undefined || c.congestionControl === cc);
  const buffers = process.argv.includes('--autotune') ? 'autotune' : process.argv.includes('--small') ? 'small' : 'fixed';
  lossyBench(quick, mib, (line) => console.log(line), seed, pick, buffers);
}
