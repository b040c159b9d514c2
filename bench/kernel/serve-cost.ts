/**
 * CPU time of `rx-netstack serve` over TAP per request/response transaction: user and system
 * seconds (from /proc/PID/stat) per 10^4 TCP_RR / UDP_RR transactions and TCP_CRR connections
 * against its echo services, the kernel client in the stack's namespace, medians of RUNS runs,
 * everything pinned to CPU 0 (the figure nat-cost.ts gives for the nat, for the stack as a host).
 *
 *   [WARM=1] node --import tsx bench/kernel/serve-cost.ts [SECONDS] [RUNS] [--base DIR] [--modes rr,crr,udp-rr] [--offload on|off]
 *
 * Root; `npx tsc -p tsconfig.build.json` first. --base DIR runs a second `serve` from another
 * build (DIR/dist/bin/rx-netstack.js) in a namespace of its own, measured alternately with this
 * one (in ABBA order: each goes first in half the rounds): the ratio of the two is the change,
 * also given as the median of the rounds' own ratios. Each namespace has its own TAP device with the
 * kernel side 198.18.0.1/24 and the stack 198.18.0.2 (tap-bench.ts `stackNamespace`), deleted
 * afterwards. Options for serve's node go through NODE_OPTIONS (inherited). Each figure is also
 * given in user CPU alone (the JavaScript's share, without the kernel's work for the TAP device).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, stackNamespace, STACK_IP } from './tap-bench.js';
import { median, medianRatio } from '../lib/stats.js';
import { processCpu } from '../lib/proc-cpu.js';

const CPU = 0;
const COUNT: Record<string, string> = { rr: 'transactions', crr: 'connections', 'udp-rr': 'transactions' };

function cpuSeconds(pid: number): number {
  const { user, system } = processCpu(pid);
  return user + system;
}

/** User CPU seconds alone: the stack's JavaScript (and Node's), without the kernel's TAP work. */
function userSeconds(pid: number): number {
  return processCpu(pid).user;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const positional: string[] = [];
  let base: string | undefined;
  let modes = ['rr', 'crr', 'udp-rr'];
  let offload = true;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--base') base = argv[++i];
    else if (argv[i] === '--modes') modes = argv[++i].split(',');
    else if (argv[i] === '--offload') offload = argv[++i] !== 'off';
    else positional.push(argv[i]);
  }
  const seconds = positional[0] ?? '3';
  const runs = Number(positional[1] ?? '3');
  // Seconds of each mode per serve before the measured runs (WARM): TCP_CRR's rate still climbs
  // for several seconds after the first (session 15), so short warm-ups measure that climb.
  const warm = process.env.WARM ?? '1';
  const made: Netns[] = [];
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  try {
    const tools = await buildKernelTools();
    const cli = fileURLToPath(new URL('../../dist/bin/rx-netstack.js', import.meta.url));
    const targets: Array<{ name: string; ns: Netns; pid: number }> = [];
    const own = await stackNamespace({ cpu: CPU, cli }, made, 'sc', offload);
    targets.push({ name: 'serve', ns: own.ns, pid: own.serve.pid! });
    if (base !== undefined) {
      const other = await stackNamespace({ cpu: CPU, cli: join(base, 'dist/bin/rx-netstack.js') }, made, 'sb', offload);
      targets.push({ name: 'base', ns: other.ns, pid: other.serve.pid! });
    }
    log(`load before: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    for (const t of targets) for (const mode of modes) await client(t.ns, { cpu: CPU }, tools, [mode, STACK_IP, '7', warm], 60_000);
    for (const mode of modes) {
      const per = targets.map(() => [] as number[]);
      const user = targets.map(() => [] as number[]);
      for (let i = 0; i < runs; i++) {
        // ABBA: each tree goes first in half the rounds (the first of a pair measured differently).
        const order = i % 2 === 0 ? [...targets.entries()] : [...targets.entries()].reverse();
        for (const [k, t] of order) {
          const before = cpuSeconds(t.pid);
          const userBefore = userSeconds(t.pid);
          const r = await client(t.ns, { cpu: CPU }, tools, [mode, STACK_IP, '7', seconds], (Number(seconds) + 15) * 1000);
          per[k].push(((cpuSeconds(t.pid) - before) / Number(r[COUNT[mode]])) * 1e4);
          user[k].push(((userSeconds(t.pid) - userBefore) / Number(r[COUNT[mode]])) * 1e4);
        }
      }
      for (const [k, t] of targets.entries()) {
        log(`${mode} ${t.name}: CPU per 10^4 ${median(per[k]).toFixed(3)} s (runs ${per[k].map((x) => x.toFixed(3)).join(' ')}), of it user ${median(user[k]).toFixed(3)} s`);
      }
      if (targets.length > 1) {
        const pairwise = medianRatio(per[0], per[1]);
        log(`${mode}: CPU per operation serve / base = ${(median(per[0]) / median(per[1])).toFixed(3)}, user CPU ${(median(user[0]) / median(user[1])).toFixed(3)}, median of the rounds' ratios ${pairwise.toFixed(3)}`);
      }
    }
    log(`load after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  } finally {
    for (const ns of made.reverse()) await ns.destroy();
  }
}

await main();
