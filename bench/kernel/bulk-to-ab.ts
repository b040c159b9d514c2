/**
 * Bulk to the stack (kclient stream-to against `serve`'s discard), several compiled trees side by
 * side and the kernel over veth as the reference, runs alternating between them (tree A, tree B,
 * ..., kernel, tree A, ...), everything pinned to CPU 0 as in tap-bench.ts. Per run: the rate,
 * its ratio to the kernel's run of the same round, and what the serving process spent per GB
 * received: CPU seconds (user, system), context switches, the TAP's counters (frames the stack
 * read: the kernel's GSO packets with offload; frames it wrote: its ACKs), read system calls
 * (/proc/PID/io syscr: the frames plus the reads that found nothing); for bulk to the stack also
 * the kernel receiver's packets in and out per GB in its run (veth rxv1: GRO packets, ACKs).
 * Medians at the end.
 *
 *   TREES="base=/tmp/base-tree/dist/bin/rx-netstack.js,now=dist/bin/rx-netstack.js" \
 *     npx tsx bench/kernel/bulk-to-ab.ts [RUNS=4] [SECONDS=2] [OFFLOAD=on|off]
 *   TREES="now=dist/bin/rx-netstack.js,semi1=dist/bin/rx-netstack.js@--max-semi-space-size=1"  # V8 flags per tree
 *   MODE=stream-from|rr|crr|udp-rr ...  # bulk from chargen:19, or a request/response figure against
 *                                        # echo:7 (rate, /s; CPU per 10^4 transactions) instead
 *   PERF=file ...   # perf record of CPU 0 during the first tree's runs (NODE_OPTIONS=--perf-basic-prof names JS);
 *                   # PERF_G=1 records call graphs too (-g)
 *
 * Needs root; one namespace per tree plus the kernel's two (198.18.0.0/24 inside them only,
 * deleted afterwards).
 */
import { spawn } from 'node:child_process';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { comparedTrees, serveTrees, tapCounters } from './ab-trees.js';
import { client, kernelReference, STACK_IP } from './tap-bench.js';
import { median } from '../lib/stats.js';
import { processCpu, processSwitches, processSyscalls } from '../lib/proc-cpu.js';

const runs = Number(process.argv[2] ?? 4);
const seconds = process.argv[3] ?? '2';
const offload = (process.argv[4] ?? 'on') !== 'off';
const trees = comparedTrees();

const procCounts = (pid: number) => ({ ...processSwitches(pid), ...processCpu(pid), ...processSyscalls(pid) });

/** kclient mode, port and the JSON key of its figure: bulk to discard by default. */
const mode = process.env.MODE ?? 'stream-to';
const port = mode === 'stream-to' ? '9' : mode === 'stream-from' ? '19' : '7';
const key = mode.startsWith('stream-') ? 'gbps' : 'rate';

const tools = await buildKernelTools();
const made: Netns[] = [];
try {
  const served = await serveTrees(trees, made, offload, tools, [mode, port]);
  const { c, k: kns } = await kernelReference(0, tools, made);
  // The kernel's receiver (kserver, behind veth rxv1): packets it took (GRO/GSO ones) and sent (its ACKs).
  const vethCounters = async (): Promise<{ rx: number; tx: number; rxBytes: number }> => {
    const dir = '/sys/class/net/rxv1/statistics';
    const r = await kns.exec('cat', [`${dir}/rx_packets`, `${dir}/tx_packets`, `${dir}/rx_bytes`]);
    const [rx, tx, rxBytes] = r.stdout.trim().split('\n').map(Number);
    return { rx: rx!, tx: tx!, rxBytes: rxBytes! };
  };
  await client(c, { cpu: 0 }, tools, [mode, STACK_IP, port, '0.5'], 20_000);
  const ratios: Record<string, number[]> = {};
  const cpus: Record<string, number[]> = {};
  const kernel: number[] = [];
  for (let i = 0; i < runs; i++) {
    const rates: Record<string, number> = {};
    const lines: Record<string, string> = {};
    for (const name of Object.keys(trees)) {
      const { ns, pid } = served[name]!;
      const p0 = procCounts(pid);
      const t0 = await tapCounters(ns);
      const perf = process.env.PERF !== undefined && name === Object.keys(trees)[0] ? spawn('perf', ['record', '-q', '-C', '0', '-F', '1999', ...(process.env.PERF_G === undefined ? [] : ['-g']), '-o', `${process.env.PERF}.${i}`], { stdio: 'ignore' }) : undefined;
      const r = await client(ns, { cpu: 0 }, tools, [mode, STACK_IP, port, seconds], 30_000);
      if (perf !== undefined) await new Promise((done) => { perf.once('exit', done); perf.kill('SIGINT'); });
      const p1 = procCounts(pid);
      const t1 = await tapCounters(ns);
      // Per GB received; for request/response, per 10^4 transactions instead.
      const gb = key === 'gbps' ? (mode === 'stream-to' ? t1.txBytes - t0.txBytes : (Number(r[key]) * Number(seconds) * 1e9) / 8) / 1e9 : (Number(r[key]) * Number(seconds)) / 1e4;
      const per = (a: number, b: number, digits = 0): string => ((b - a) / gb).toFixed(digits);
      rates[name] = Number(r[key]);
      (cpus[name] ??= []).push((p1.user + p1.system - p0.user - p0.system) / gb);
      lines[name] =
        `CPU ${per(p0.user + p0.system, p1.user + p1.system, 3)} s/GB (user ${per(p0.user, p1.user, 2)}, system ${per(p0.system, p1.system, 2)}), ` +
        `switches ${per(p0.voluntary, p1.voluntary)} voluntary ${per(p0.involuntary, p1.involuntary)} involuntary, ` +
        `per GB read ${per(t0.tx, t1.tx)} written ${per(t0.rx, t1.rx)}, read calls ${per(p0.reads, p1.reads)}`;
    }
    const v0 = await vethCounters();
    const k = Number((await client(c, { cpu: 0 }, tools, [mode, STACK_IP, port, seconds], 30_000))[key]);
    const v1 = await vethCounters();
    kernel.push(k);
    if (mode === 'stream-to') {
      const gb = (v1.rxBytes - v0.rxBytes) / 1e9;
      console.log(`round ${i + 1} kernel receiver: per GB read ${((v1.rx - v0.rx) / gb).toFixed(0)} written ${((v1.tx - v0.tx) / gb).toFixed(0)}`);
    }
    for (const name of Object.keys(trees)) {
      const ratio = rates[name]! / k;
      (ratios[name] ??= []).push(ratio);
      console.log(`round ${i + 1} ${name}: ${rates[name]!.toFixed(2)} ${key === 'gbps' ? 'Gbit/s' : '/s'}, kernel ${k.toFixed(2)}, ratio ${ratio.toFixed(3)}; ${lines[name]}`);
    }
  }
  for (const name of Object.keys(trees)) {
    console.log(`median ${name}: ratio ${median(ratios[name]!).toFixed(3)} (${ratios[name]!.map((x) => x.toFixed(3)).join(' ')}), CPU ${median(cpus[name]!).toFixed(3)} s/${key === 'gbps' ? 'GB' : '10^4'}; kernel ${median(kernel).toFixed(2)}`);
  }
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
