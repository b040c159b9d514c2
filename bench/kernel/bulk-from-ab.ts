/**
 * Bulk from the stack (kclient stream-from against `serve`'s chargen), several compiled trees
 * side by side with the TAP offloads off, runs alternating between them: per run the rate and
 * what the serving process spent per GB moved: CPU seconds (user, system: the kernel's receive
 * work for the client runs in the stack's write calls), context switches (voluntary: it slept in
 * the event loop; involuntary: the client, pinned to the same CPU, took over), write and read
 * system calls (/proc/PID/io), and the TAP's counters (frames the stack wrote, ACKs it read).
 *
 *   TREES="old=/tmp/old-tree/dist/bin/rx-netstack.js,new=dist/bin/rx-netstack.js" \
 *     npx tsx bench/kernel/bulk-from-ab.ts [RUNS=4] [SECONDS=2]
 *   TREES="now=dist/bin/rx-netstack.js,semi1=dist/bin/rx-netstack.js@--max-semi-space-size=1"  # V8 flags per tree
 *
 * Needs root; one namespace per tree (198.18.0.0/24 inside it only, deleted afterwards),
 * everything pinned to CPU 0 as in tap-bench.ts.
 */
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { comparedTrees, serveTrees, tapCounters } from './ab-trees.js';
import { client, STACK_IP } from './tap-bench.js';
import { processCpu, processSwitches, processSyscalls } from '../lib/proc-cpu.js';

const runs = Number(process.argv[2] ?? 4);
const seconds = process.argv[3] ?? '2';
const trees = comparedTrees();

const procCounts = (pid: number) => ({ ...processSwitches(pid), ...processCpu(pid), ...processSyscalls(pid) });

const tools = await buildKernelTools();
const made: Netns[] = [];
try {
  const served = await serveTrees(trees, made, false, tools, ['stream-from', '19']);
  for (let i = 0; i < runs; i++) {
    for (const name of Object.keys(trees)) {
      const { ns, pid } = served[name]!;
      const p0 = procCounts(pid);
      const t0 = await tapCounters(ns);
      const r = await client(ns, { cpu: 0 }, tools, ['stream-from', STACK_IP, '19', seconds], 30_000);
      const p1 = procCounts(pid);
      const t1 = await tapCounters(ns);
      const gb = (t1.rxBytes - t0.rxBytes) / 1e9;
      const per = (a: number, b: number, digits = 0): string => ((b - a) / gb).toFixed(digits);
      console.log(
        `${name} ${Number(r.gbps).toFixed(2)} Gbit/s, per GB: CPU ${per(p0.user + p0.system, p1.user + p1.system, 2)} s ` +
          `(user ${per(p0.user, p1.user, 2)}, system ${per(p0.system, p1.system, 2)}), ` +
          `switches ${per(p0.voluntary, p1.voluntary)} voluntary ${per(p0.involuntary, p1.involuntary)} involuntary, ` +
          `writes ${per(p0.writes, p1.writes)} reads ${per(p0.reads, p1.reads)}, frames ${per(t0.rx, t1.rx)} ACKs ${per(t0.tx, t1.tx)}`,
      );
    }
  }
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
