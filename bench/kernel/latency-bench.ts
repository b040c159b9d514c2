/**
 * Latency at low load: request/response round trips spaced 0 (back to back), 1, 2, 5 and 10 ms
 * apart, for ping, UDP echo and TCP echo, against rx-netstack over TAP and the Linux kernel over
 * veth in the same run (the topology of tap-bench.ts, everything pinned to one CPU).
 *
 * Sporadic requests are what most servers see; between them the stack's process sleeps, and the
 * wake-up (epoll, libuv, cold caches and code) is part of every reply. Back-to-back figures hide
 * that cost; spaced ones show it. Each exchange is timed on its own by kclient's `latency` mode;
 * a figure is the median over runs of each run's p50 (and p99).
 */
import { client, setUp, STACK_IP } from './tap-bench.js';
import type { Netns } from './netns.js';
import { median, medianRatio } from '../lib/stats.js';

export type LatencyKind = 'ping' | 'udp' | 'tcp';
export const LATENCY_KINDS: readonly LatencyKind[] = ['ping', 'udp', 'tcp'];
export const LATENCY_INTERVALS_MS: readonly number[] = [0, 1, 2, 5, 10];

export interface LatencyBenchOptions {
  readonly runs: number;
  /** CPU to pin everything to; undefined: no pinning. */
  readonly cpu: number | undefined;
  /** Path of the compiled CLI (dist/bin/rx-netstack.js). */
  readonly cli: string;
  /** Exchanges per figure and run are scaled down by this factor (quick runs). Default 1. */
  readonly shrink?: number;
  readonly intervalsMs?: readonly number[];
  readonly log: (line: string) => void;
}

export interface LatencyPercentiles {
  /** Median over runs of the run's p50 RTT, ms. */
  readonly p50: number;
  /** Median over runs of the run's p99 RTT, ms. */
  readonly p99: number;
  readonly p50Runs: readonly number[];
  readonly p99Runs: readonly number[];
}

export interface LatencyCell {
  readonly kind: LatencyKind;
  readonly intervalMs: number;
  /** Exchanges per run. */
  readonly count: number;
  readonly stack: LatencyPercentiles;
  readonly kernel: LatencyPercentiles;
  /** kernel p50 / stack p50 (higher is better; 1 means as fast as the kernel). */
  readonly ratioP50: number;
  /**
   * The median over runs of each run's kernel p50 / stack p50 (the two measured one after the
   * other): steadier than `ratioP50` when other work on the machine comes and goes between
   * runs, which moves both targets' figures of a run alike (session 16: the stack's ping p50
   * every 2 ms 57.0 / 30.9 / 33.1 us in one section's three runs, the kernel's 18.9 / 9.5 / 11.9).
   */
  readonly pairedRatioP50: number;
}

/** Exchanges per run at an interval: about 2 s of requests each (2,000 back to back). */
export function exchangesFor(intervalMs: number, shrink = 1): number {
  const n = intervalMs === 0 ? 2000 : Math.max(200, Math.round(2000 / intervalMs));
  return Math.max(20, Math.round(n / shrink));
}

const PORT: Record<LatencyKind, string> = { ping: '0', udp: '7', tcp: '7' };
/** Warm-up runs per kind and target (see latencyBench), and exchanges in each. */
const WARM_RUNS = 5;
const WARM_EXCHANGES = 4000;

export async function latencyBench(o: LatencyBenchOptions): Promise<LatencyCell[]> {
  const made: Netns[] = [];
  try {
    const { tools, s, c } = await setUp({ cpu: o.cpu, cli: o.cli, plain: false }, made);
    const once = async (ns: Netns, kind: LatencyKind, count: number, intervalMs: number): Promise<{ p50: number; p99: number }> => {
      const timeout = 20_000 + count * (intervalMs + 5);
      const r = await client(ns, o, tools, ['latency', kind, STACK_IP, PORT[kind], String(count), String(intervalMs)], timeout);
      return { p50: Number(r.p50Ms), p99: Number(r.p99Ms) };
    };
    // Warm-up, not measured: ARP on both sides, and the stack's JavaScript to its steady state,
    // as a server that has been up a while is. That takes more than one connection: V8 settles
    // the TCP connection objects' field representations over the first few (a sequence number
    // above 2^30 turns a field from small integer to double, a new field type widens another,
    // and each such change deoptimizes the TCP code that relied on the old shape), so with one
    // warm-up connection of 200 exchanges the first two measured TCP runs took most of those
    // deoptimizations: p50 20-25 us and p99 1.5-2 ms back to back, against 8-10 us and 0.04-0.2
    // ms from the third run on. Each kind: WARM_RUNS runs (a new connection each for TCP), 20,000
    // exchanges in all, as floor-bench: after 5,000 a couple of V8's optimizing compile jobs
    // still ran in the first measured runs, on a V8 thread sharing the pinned CPU (one such job
    // took 21 ms; docs/history/session-13.md "Session 13: the tail after idle, rung by rung").
    // A shrunk
    // run warms less.
    const warm = Math.max(200, Math.round(WARM_EXCHANGES / (o.shrink ?? 1)));
    for (let w = 0; w < WARM_RUNS; w++) for (const ns of [s, c]) for (const kind of LATENCY_KINDS) await once(ns, kind, warm, 0);

    const intervals = o.intervalsMs ?? LATENCY_INTERVALS_MS;
    const samples = new Map<string, { stack: Array<{ p50: number; p99: number }>; kernel: Array<{ p50: number; p99: number }> }>();
    for (let run = 0; run < o.runs; run++) {
      for (const intervalMs of intervals) {
        for (const kind of LATENCY_KINDS) {
          const key = `${kind}@${intervalMs}`;
          const entry = samples.get(key) ?? { stack: [], kernel: [] };
          samples.set(key, entry);
          const count = exchangesFor(intervalMs, o.shrink);
          // Alternate the targets so drift affects both alike.
          entry.stack.push(await once(s, kind, count, intervalMs));
          entry.kernel.push(await once(c, kind, count, intervalMs));
        }
      }
    }
    const cells: LatencyCell[] = [];
    for (const intervalMs of intervals) {
      for (const kind of LATENCY_KINDS) {
        const entry = samples.get(`${kind}@${intervalMs}`)!;
        const stack = percentiles(entry.stack);
        const kernel = percentiles(entry.kernel);
        const pairedRatioP50 = medianRatio(kernel.p50Runs, stack.p50Runs);
        const cell: LatencyCell = { kind, intervalMs, count: exchangesFor(intervalMs, o.shrink), stack, kernel, ratioP50: kernel.p50 / stack.p50, pairedRatioP50 };
        o.log(`latency ${kind} every ${intervalMs} ms: stack p50 ${stack.p50.toFixed(3)} p99 ${stack.p99.toFixed(3)} ms, kernel p50 ${kernel.p50.toFixed(3)} p99 ${kernel.p99.toFixed(3)} ms`);
        cells.push(cell);
      }
    }
    return cells;
  } finally {
    for (const ns of made.reverse()) await ns.destroy();
  }
}

function percentiles(runs: ReadonlyArray<{ p50: number; p99: number }>): LatencyPercentiles {
  const p50Runs = runs.map((r) => r.p50);
  const p99Runs = runs.map((r) => r.p99);
  return { p50: median(p50Runs), p99: median(p99Runs), p50Runs, p99Runs };
}
