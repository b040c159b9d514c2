/**
 * The latency tail after idle, rung by rung: from the C floor (tap-floor.c, the kernel's tail)
 * to the Node floor (tap-floor-node.ts) and the stack, one trait of a Node process added per
 * rung (tap-ladder.c's options; Node's flags; mlockall by preload), each timed the same way:
 * kclient's spaced pings (one echo every INTERVAL ms, the responder asleep in between), p50 and
 * p99 per run. Beside them, per echo, what the responder process did: minor page faults, CPU
 * time, context switches of all its threads (voluntary), from /proc.
 *
 *   node --import tsx bench/kernel/wake-ladder.ts [--rungs a,b,..] [--intervals 10,2] [--count N] [--rounds R] [--warm N] [--list]
 *
 * --warm N: back-to-back pings to every responder before measuring (default 20,000: V8 done
 * compiling the stack's ICMP path; see the warm-up below).
 * --rungs: keys from --list (default: all but the optional ones); the kernel (veth, kserver) is
 * always measured too. --count: echoes per run (default 400). --rounds: runs per rung and
 * interval, alternating the rungs (default 3). Each figure is the median of its runs; the
 * spread is the lowest and highest run's p99. Every responder and the client are pinned to CPU 0
 * and live in namespaces laid out as floor-bench.ts's (198.18.0.0/24), deleted afterwards.
 *
 * Root; `npx tsc -p tsconfig.build.json` first (the stack rung runs dist/).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, kernelReference, STACK_IP } from './tap-bench.js';
import { CPU, RUNGS, start, type Live } from './wake-rungs.js';
import { median } from '../lib/stats.js';

/**
 * Minor faults of the process; summed over its threads, the nanoseconds on a CPU (schedstat: not
 * the 10 ms ticks of stat) and the voluntary context switches (sleeps).
 */
function counters(pid: number): { faults: number; cpuNs: number; switches: number } {
  if (!existsSync(`/proc/${pid}/stat`)) throw new Error(`responder ${pid} has exited`);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let switches = 0;
  let cpuNs = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8'));
      switches += Number(m?.[1] ?? 0);
      cpuNs += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return { faults: Number(f[7]), cpuNs, switches };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let keys: string[] | undefined;
  let intervals = [10, 2];
  let count = 400;
  let rounds = 3;
  let warm = 20_000;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--rungs') keys = argv[++i].split(',');
    else if (argv[i] === '--intervals') intervals = argv[++i].split(',').map(Number);
    else if (argv[i] === '--count') count = Number(argv[++i]);
    else if (argv[i] === '--rounds') rounds = Number(argv[++i]);
    else if (argv[i] === '--warm') warm = Number(argv[++i]);
    else if (argv[i] === '--list') {
      for (const r of RUNGS) process.stdout.write(`${r.key.padEnd(18)} ${r.name}${r.optional ? ' (optional)' : ''}\n`);
      return;
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!(count >= 10 && count <= 5000) || !(rounds >= 1 && rounds <= 20) || intervals.some((m) => !(m >= 0 && m <= 100))) {
    throw new Error('--count 10..5000, --rounds 1..20, --intervals 0..100 ms');
  }
  const chosen = keys === undefined ? RUNGS.filter((r) => !r.optional) : keys.map((k) => {
    const r = RUNGS.find((x) => x.key === k);
    if (r === undefined) throw new Error(`unknown rung ${k} (--list)`);
    return r;
  });
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const made: Netns[] = [];
  try {
    const tools = await buildKernelTools();
    const live: Live[] = [];
    for (const [i, r] of chosen.entries()) live.push(await start(r, tools, made, `l${i}`));
    const { c } = await kernelReference(CPU, tools, made);
    live.push({ rung: { key: 'kernel', name: 'kernel (veth, kserver)' }, ns: c, pid: undefined });
    log(`load before: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    // ARP, and the JIT to its steady state: with 200 warm-up pings the stack was still compiling
    // its ICMP path with TurboFan during the measured runs (--trace-opt: ~20 functions per 1,000
    // spaced pings, one 21 ms job on a worker thread sharing CPU 0); after 20,000, none.
    for (const l of live) await client(l.ns, { cpu: CPU }, tools, ['ping', STACK_IP, String(warm)], 60_000 + warm);
    type Cell = { p50: number[]; p99: number[]; faults: number[]; cpuUs: number[]; switches: number[] };
    const cells = live.map(() => intervals.map((): Cell => ({ p50: [], p99: [], faults: [], cpuUs: [], switches: [] })));
    for (let round = 0; round < rounds; round++) {
      for (const [j, ms] of intervals.entries()) {
        // Alternate the order every round: no rung always follows the same one.
        const order = round % 2 === 0 ? [...live.keys()] : [...live.keys()].reverse();
        for (const k of order) {
          const l = live[k];
          const before = l.pid === undefined ? undefined : counters(l.pid);
          const r = await client(l.ns, { cpu: CPU }, tools, ['latency', 'ping', STACK_IP, '0', String(count), String(ms)], 30_000 + count * (ms + 5));
          const cell = cells[k][j];
          cell.p50.push(Number(r.p50Ms) * 1000);
          cell.p99.push(Number(r.p99Ms) * 1000);
          if (before !== undefined && l.pid !== undefined) {
            const after = counters(l.pid);
            cell.faults.push((after.faults - before.faults) / count);
            cell.cpuUs.push((after.cpuNs - before.cpuNs) / 1000 / count);
            cell.switches.push((after.switches - before.switches) / count);
          }
        }
      }
    }
    for (const [j, ms] of intervals.entries()) {
      log('');
      log(`| every ${ms} ms: responder | p50, us | p99, us (runs' range) | p99 / p50 | faults per echo | CPU us per echo | sleeps per echo (all threads) |`);
      log('|---|---:|---:|---:|---:|---:|---:|');
      for (const [k, l] of live.entries()) {
        const cell = cells[k][j];
        const p50 = median(cell.p50);
        const p99 = median(cell.p99);
        const opt = (xs: number[], digits: number): string => (xs.length > 0 ? median(xs).toFixed(digits) : '-');
        log(`| ${l.rung.name} | ${p50.toFixed(1)} | ${p99.toFixed(1)} (${Math.min(...cell.p99).toFixed(0)}-${Math.max(...cell.p99).toFixed(0)}) | ${(p99 / p50).toFixed(1)} | ${opt(cell.faults, 2)} | ${opt(cell.cpuUs, 1)} | ${opt(cell.switches, 2)} |`);
      }
    }
    log(`load after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  } finally {
    for (const ns of made.reverse()) await ns.destroy();
  }
}

await main();
