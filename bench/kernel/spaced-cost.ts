/**
 * What a spaced exchange costs the serving process, two compiled trees alternating: serve over
 * TAP (offload on, pinned to CPU 0, namespaces as tap-bench.ts), and per round and tree, the
 * main thread's CPU time and times scheduled in (/proc/PID/schedstat, ns) and the process's
 * minor page faults around kclient's `latency KIND` exchanges spaced INTERVAL ms apart, with
 * the client's p50 / p99. Figures per exchange; medians over the rounds, and the median of the
 * rounds' tree / base ratios. Root; `npx tsc -p tsconfig.build.json` first.
 *
 *   node --import tsx bench/kernel/spaced-cost.ts ROUNDS KIND(ping|tcp|udp) N INTERVAL_MS BASE TREE
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, stackNamespace, STACK_IP } from './tap-bench.js';
import { median } from '../lib/stats.js';

const [roundsArg, kind, n, interval, ...trees] = process.argv.slice(2);
if (trees.length !== 2) throw new Error('usage: spaced-cost.ts ROUNDS KIND N INTERVAL_MS BASE TREE');
const rounds = Number(roundsArg);
const port = kind === 'ping' ? '0' : '7';
const log = (line: string): void => void process.stdout.write(`${line}\n`);

/**
 * The main thread's CPU time (ns, /proc/PID/schedstat: the scheduler's own account, not 10 ms
 * ticks), its switches onto the CPU, and the process's minor page faults (/proc/PID/stat).
 */
function counters(pid: number): { ns: number; slices: number; faults: number } {
  const [ns, , slices] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ns, slices, faults: Number(fields[7]) };
}

const made: Netns[] = [];
try {
  const tools = await buildKernelTools();
  const targets: { ns: Netns; pid: number }[] = [];
  for (const [i, tree] of trees.entries()) {
    const s = await stackNamespace({ cpu: 0, cli: join(tree, 'dist/bin/rx-netstack.js') }, made, `sc${i}`, true);
    targets.push({ ns: s.ns, pid: s.serve.pid! });
    await client(s.ns, { cpu: 0 }, tools, ['latency', kind, STACK_IP, port, '2000', '0'], 30_000);
  }
  log(`load before: ${readFileSync('/proc/loadavg', 'utf8').trim()}; ${kind} every ${interval} ms, ${n} per round`);
  const rows = targets.map(() => ({ us: [] as number[], faults: [] as number[], cs: [] as number[], p50: [] as number[], p99: [] as number[] }));
  for (let r = 0; r < rounds; r++) {
    for (const [k, t] of targets.entries()) {
      const before = counters(t.pid);
      const res = await client(t.ns, { cpu: 0 }, tools, ['latency', kind, STACK_IP, port, n, interval], 120_000);
      const after = counters(t.pid);
      const replies = Number(res.replies);
      rows[k].us.push((after.ns - before.ns) / 1000 / replies);
      rows[k].faults.push((after.faults - before.faults) / replies);
      rows[k].cs.push((after.slices - before.slices) / replies);
      rows[k].p50.push(Number(res.p50Ms) * 1000);
      rows[k].p99.push(Number(res.p99Ms) * 1000);
    }
  }
  log('| tree | CPU us per exchange | page faults per exchange | times scheduled in per exchange | p50 / p99 us |');
  log('|---|---:|---:|---:|---:|');
  for (const [k, tree] of trees.entries()) {
    const x = rows[k];
    log(`| ${tree} | ${median(x.us).toFixed(2)} | ${median(x.faults).toFixed(3)} | ${median(x.cs).toFixed(2)} | ${median(x.p50).toFixed(1)} / ${median(x.p99).toFixed(1)} |`);
  }
  const ratio = (a: number[], b: number[]): string => median(a.map((v, i) => b[i] / v)).toFixed(3);
  log(`tree / base, median of rounds' ratios: CPU ${ratio(rows[0].us, rows[1].us)}, faults ${ratio(rows[0].faults, rows[1].faults)}, p50 ${ratio(rows[0].p50, rows[1].p50)}, p99 ${ratio(rows[0].p99, rows[1].p99)}`);
  for (const [k, tree] of trees.entries()) log(`runs ${tree}: us ${rows[k].us.map((v) => v.toFixed(2)).join(' ')}; p50 ${rows[k].p50.map((v) => v.toFixed(1)).join(' ')}; faults ${rows[k].faults.map((v) => v.toFixed(3)).join(' ')}`);
  log(`load after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
