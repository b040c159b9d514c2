/**
 * Bulk from the stack (kclient stream-from against `serve`'s chargen, TAP offloads on), per
 * tree, runs alternating: how the frames left. Per MB the client received: frames `serve` wrote
 * (the TAP's rx counter), its write/writev and io_uring_enter system calls (perf stat on the
 * syscall tracepoints of serve's threads), its involuntary context switches (the client, pinned
 * to the same CPU, took over) and the ACK frames it read; frames per io_uring_enter.
 * perf's tracepoints cost a little: the counts per MB are the figure, the rate is printed only
 * to show the run was bulk.
 *
 *   TREES="base=/tmp/base-tree/dist/bin/rx-netstack.js,now=dist/bin/rx-netstack.js" \
 *     npx tsx bench/kernel/bulk-from-calls.ts [RUNS=3] [SECONDS=2]
 *
 * Needs root and perf; one namespace per tree (198.18.0.0/24 inside it only, deleted afterwards),
 * everything pinned to CPU 0 as in tap-bench.ts.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { comparedTrees, serveTrees, tapCounters } from './ab-trees.js';
import { client, STACK_IP } from './tap-bench.js';
import { median } from '../lib/stats.js';
import { processSwitches } from '../lib/proc-cpu.js';

const runs = Number(process.argv[2] ?? 3);
const seconds = process.argv[3] ?? '2';
const trees = comparedTrees();
const EVENTS = ['write', 'writev', 'io_uring_enter'] as const;

/** perf stat of serve's system calls around `run`: calls per event name. */
async function countCalls(pid: number, run: () => Promise<unknown>): Promise<Record<string, number>> {
  const perf = spawn('perf', ['stat', '-x', ',', '-e', EVENTS.map((e) => `syscalls:sys_enter_${e}`).join(','), '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let report = '';
  perf.stderr.on('data', (b: Buffer) => (report += b.toString()));
  await new Promise((done) => setTimeout(done, 300)); // perf attaches
  await run();
  perf.kill('SIGINT');
  await once(perf, 'exit');
  const out: Record<string, number> = {};
  for (const line of report.split('\n')) {
    const f = line.split(',');
    const event = f[2]?.replace('syscalls:sys_enter_', '');
    if (event !== undefined && f[0] !== undefined && /^\d+$/.test(f[0])) out[event] = Number(f[0]);
  }
  return out;
}

const tools = await buildKernelTools();
const made: Netns[] = [];
const rows: Record<string, Record<string, number[]>> = {};
try {
  const served = await serveTrees(trees, made, true, tools, ['stream-from', '19']);
  for (let i = 0; i < runs; i++) {
    for (const name of Object.keys(trees)) {
      const { ns, pid } = served[name]!;
      const s0 = processSwitches(pid);
      const t0 = await tapCounters(ns);
      let gbps = 0;
      const calls = await countCalls(pid, async () => {
        gbps = Number((await client(ns, { cpu: 0 }, tools, ['stream-from', STACK_IP, '19', seconds], 30_000)).gbps);
      });
      const s1 = processSwitches(pid);
      const t1 = await tapCounters(ns);
      const mb = (t1.rxBytes - t0.rxBytes) / 1e6;
      const row = {
        frames: (t1.rx - t0.rx) / mb,
        writes: ((calls.write ?? 0) + (calls.writev ?? 0)) / mb,
        enters: (calls.io_uring_enter ?? 0) / mb,
        involuntary: (s1.involuntary - s0.involuntary) / mb,
        acks: (t1.tx - t0.tx) / mb,
      };
      const perEnter = calls.io_uring_enter ? ((t1.rx - t0.rx) - (calls.write ?? 0) - (calls.writev ?? 0)) / calls.io_uring_enter : 0;
      const r = (rows[name] ??= {});
      for (const [k, v] of Object.entries({ ...row, perEnter, gbps })) (r[k] ??= []).push(v);
      console.log(`round ${i + 1} ${name}: ${gbps.toFixed(2)} Gbit/s; per MB: frames ${row.frames.toFixed(1)}, write/writev ${row.writes.toFixed(1)}, ` +
        `io_uring_enter ${row.enters.toFixed(1)} (${perEnter.toFixed(2)} frames each), involuntary switches ${row.involuntary.toFixed(1)}, ACKs read ${row.acks.toFixed(1)}`);
    }
  }
  for (const [name, r] of Object.entries(rows)) {
    console.log(`median ${name}: ${Object.entries(r).map(([k, v]) => `${k} ${median(v).toFixed(2)} (${Math.min(...v).toFixed(2)}..${Math.max(...v).toFixed(2)})`).join(', ')}`);
  }
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
