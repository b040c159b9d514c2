/**
 * Experiment: one `rx-netstack serve` over TAP, its main thread's scheduling set from outside in
 * turn (the kernel's default, an EEVDF slice of SLICE us, SCHED_BATCH), kclient MODE for SECONDS
 * each, ROUNDS alternating rounds: rate, serve's CPU, system calls and context switches per
 * connection (/proc). Pinned to CPU 0. Root; the namespace is deleted afterwards.
 * CRR_TRACE=FILE first records 1 s of CPU 0's read/write/epoll_pwait returns and switches
 * (`perf script -i FILE` shows each wake-up's system calls in order). CRR_UNPINNED=1: nothing pinned.
 *
 *   node --import tsx bench/kernel/crr-slice.ts [SECONDS=2] [ROUNDS=3] [MODE=crr] [SLICE=6000] [--tree DIR]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, stackNamespace, STACK_IP } from './tap-bench.js';
import { takeTreeCli } from './ab-trees.js';
import { setSched } from './sched-attr.js';
import { processCpu, processSwitches, processSyscalls } from '../lib/proc-cpu.js';
import { median } from '../lib/stats.js';

const argv = process.argv.slice(2);
const cli = takeTreeCli(argv);
const [seconds = '2', rounds = '3', mode = 'crr', slice = '6000'] = argv;
const cpu = process.env.CRR_UNPINNED === '1' ? undefined : 0;

const made: Netns[] = [];
try {
  const tools = await buildKernelTools();
  const { ns, serve } = await stackNamespace({ cpu, cli }, made, 'sl', true);
  const pid = serve.pid!;
  await client(ns, { cpu }, tools, [mode, STACK_IP, '7', '3'], 20_000);
  if (process.env.CRR_TRACE !== undefined) {
    const perf = spawn('perf', ['record', '-q', '-o', process.env.CRR_TRACE, '-e', 'syscalls:sys_exit_read,syscalls:sys_exit_write,syscalls:sys_exit_epoll_pwait,sched:sched_switch', '-C', '0'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    await client(ns, { cpu }, tools, [mode, STACK_IP, '7', '1'], 20_000);
    perf.kill('SIGINT');
    await once(perf, 'exit');
  }
  const settings: Array<[string, { batch?: boolean; sliceUs?: number }]> = [['default', {}], [`slice ${slice}`, { sliceUs: Number(slice) }], ['batch', { batch: true }]];
  const results = new Map<string, number[][]>(settings.map(([n]) => [n, []]));
  for (let r = 0; r < Number(rounds); r++) {
    for (const [name, how] of settings) {
      setSched(pid, how);
      const c0 = processCpu(pid), s0 = processSwitches(pid), y0 = processSyscalls(pid);
      const res = await client(ns, { cpu }, tools, [mode, STACK_IP, '7', seconds], (Number(seconds) + 15) * 1000);
      const c1 = processCpu(pid), s1 = processSwitches(pid), y1 = processSyscalls(pid);
      const n = Number(res.connections ?? res.transactions);
      const row = [Number(res.rate), ((c1.user + c1.system - c0.user - c0.system) / n) * 1e6, ((c1.user - c0.user) / n) * 1e6, (s1.voluntary - s0.voluntary) / n, (s1.involuntary - s0.involuntary) / n, (y1.reads - y0.reads) / n, (y1.writes - y0.writes) / n];
      results.get(name)!.push(row);
      process.stdout.write(`${name.padEnd(12)} rate ${row[0].toFixed(0)} cpu ${row[1].toFixed(1)} us (user ${row[2].toFixed(1)}) vol ${row[3].toFixed(2)} invol ${row[4].toFixed(2)} reads ${row[5].toFixed(2)} writes ${row[6].toFixed(2)}\n`);
    }
  }
  for (const [name, rows] of results) {
    const col = (i: number): string => median(rows.map((x) => x[i])).toFixed(i === 0 ? 0 : 2);
    process.stdout.write(`median ${name.padEnd(12)} rate ${col(0)} cpu ${col(1)} user ${col(2)} vol ${col(3)} invol ${col(4)} reads ${col(5)} writes ${col(6)}\n`);
  }
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
