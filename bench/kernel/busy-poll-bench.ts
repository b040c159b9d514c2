/**
 * What busy polling (`serve --busy-poll US`, TapLinkOptions.busyPollUs) buys at low load, and
 * what it costs.
 *
 * Busy polling only helps when the stack has a CPU of its own: on the CPU of the client it
 * would compete with the very process that is about to send. So, unlike the latency section
 * (everything on one CPU), here the client and the kernel reference run on `clientCpu` and each
 * stack on `stackCpu`:
 *
 *   namespace S:  rx-netstack serve (TAP, offloads on), pinned to stackCpu
 *   namespace B:  the same with --busy-poll US
 *   namespaces C/K: the kernel over veth (client and kserver on clientCpu)
 *
 * For each interval, request/response exchanges spaced that far apart (kclient `latency` mode)
 * against S, B and the kernel in turn; the figure is the median over runs of each run's p50 and
 * p99. The cost is the stack process's CPU time (user + system, from /proc) per exchange.
 */
import type { ChildProcess } from 'node:child_process';
import { client, kernelReference, stackNamespace, STACK_IP } from './tap-bench.js';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { median } from '../lib/stats.js';
import { exchangesFor, type LatencyKind } from './latency-bench.js';
import { processCpu } from '../lib/proc-cpu.js';

export interface BusyPollBenchOptions {
  readonly runs: number;
  readonly cli: string;
  /** The busy-poll window, microseconds. */
  readonly busyPollUs: number;
  readonly clientCpu: number;
  readonly stackCpu: number;
  readonly intervalsMs: readonly number[];
  readonly kinds: readonly LatencyKind[];
  readonly shrink?: number;
  readonly log: (line: string) => void;
}

export interface BusyPollCell {
  readonly kind: LatencyKind;
  readonly intervalMs: number;
  readonly count: number;
  /** p50 / p99 RTT in ms: the stack without and with busy polling, and the kernel. */
  readonly plain: { p50: number; p99: number };
  readonly busy: { p50: number; p99: number };
  readonly kernel: { p50: number; p99: number };
  /** CPU seconds of the stack process per 1000 exchanges, without and with busy polling. */
  readonly plainCpuMsPerExchange: number;
  readonly busyCpuMsPerExchange: number;
}

const PORT: Record<LatencyKind, string> = { ping: '0', udp: '7', tcp: '7' };

/** User + system CPU time of a process, in ms. */
function cpuMs(pid: number): number {
  const { user, system } = processCpu(pid);
  return (user + system) * 1000;
}

export async function busyPollBench(o: BusyPollBenchOptions): Promise<BusyPollCell[]> {
  const made: Netns[] = [];
  try {
    const tools = await buildKernelTools();
    const stackOpts = { cpu: o.stackCpu, cli: o.cli };
    const plain = await stackNamespace(stackOpts, made, 's', true);
    const busy = await stackNamespace(stackOpts, made, 'b', true, ['--busy-poll', String(o.busyPollUs)]);
    const { c } = await kernelReference(o.clientCpu, tools, made);

    const clientOpts = { cpu: o.clientCpu };
    const once = async (ns: Netns, kind: LatencyKind, count: number, intervalMs: number): Promise<{ p50: number; p99: number }> => {
      const r = await client(ns, clientOpts, tools, ['latency', kind, STACK_IP, PORT[kind], String(count), String(intervalMs)], 20_000 + count * (intervalMs + 5));
      return { p50: Number(r.p50Ms), p99: Number(r.p99Ms) };
    };
    const measured = async (serve: ChildProcess, run: () => Promise<{ p50: number; p99: number }>): Promise<{ p50: number; p99: number; cpu: number }> => {
      const before = cpuMs(serve.pid!);
      const r = await run();
      return { ...r, cpu: cpuMs(serve.pid!) - before };
    };
    for (const ns of [plain.ns, busy.ns, c]) for (const kind of o.kinds) await once(ns, kind, 200, 0);

    const cells: BusyPollCell[] = [];
    for (const intervalMs of o.intervalsMs) {
      for (const kind of o.kinds) {
        const count = exchangesFor(intervalMs, o.shrink);
        const p: Array<{ p50: number; p99: number; cpu: number }> = [];
        const b: Array<{ p50: number; p99: number; cpu: number }> = [];
        const kk: Array<{ p50: number; p99: number }> = [];
        for (let run = 0; run < o.runs; run++) {
          p.push(await measured(plain.serve, () => once(plain.ns, kind, count, intervalMs)));
          b.push(await measured(busy.serve, () => once(busy.ns, kind, count, intervalMs)));
          kk.push(await once(c, kind, count, intervalMs));
        }
        const med = (xs: ReadonlyArray<{ p50: number; p99: number }>): { p50: number; p99: number } =>
          ({ p50: median(xs.map((x) => x.p50)), p99: median(xs.map((x) => x.p99)) });
        const cell: BusyPollCell = {
          kind, intervalMs, count,
          plain: med(p), busy: med(b), kernel: med(kk),
          plainCpuMsPerExchange: median(p.map((x) => x.cpu)) / count,
          busyCpuMsPerExchange: median(b.map((x) => x.cpu)) / count,
        };
        o.log(`busy-poll ${kind} every ${intervalMs} ms: p50 ${cell.plain.p50.toFixed(3)} -> ${cell.busy.p50.toFixed(3)} ms ` +
          `(p99 ${cell.plain.p99.toFixed(3)} -> ${cell.busy.p99.toFixed(3)}), kernel ${cell.kernel.p50.toFixed(3)}; ` +
          `CPU ${(cell.plainCpuMsPerExchange * 1000).toFixed(0)} -> ${(cell.busyCpuMsPerExchange * 1000).toFixed(0)} us/exchange`);
        cells.push(cell);
      }
    }
    return cells;
  } finally {
    for (const ns of made.reverse()) await ns.destroy();
  }
}
