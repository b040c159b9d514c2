/**
 * The ping's cost over TAP, two compiled trees alternating (and the kernel over veth in the
 * same runs): per run and target, the serving process's CPU per echo (/proc/PID/stat, user +
 * system, around COUNT back-to-back echoes of kclient's `ping`), and the p50 / p99 RTT of
 * echoes spaced 0 (back to back), 2 and 10 ms apart (kclient `latency ping`). Everything is
 * pinned to CPU 0, namespaces as tap-bench.ts `stackNamespace` (offload on), deleted afterwards.
 * Figures are medians over RUNS of each run's figure.
 *
 *   node --import tsx bench/kernel/ping-ab.ts [RUNS=5] [COUNT=50000] --base DIR [--tree DIR] [--kind ping|tcp|udp]
 *
 * --base DIR and --tree DIR (default: this tree) are compiled trees (dist/bin/rx-netstack.js).
 * --kind tcp (or udp) measures the echo service on port 7 instead: one connection per figure,
 * one byte each way per exchange (kclient `latency tcp`), the CPU around COUNT back-to-back
 * exchanges of that mode.
 * Root; `npx tsc -p tsconfig.build.json` first.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, kernelReference, stackNamespace, STACK_IP } from './tap-bench.js';
import { median } from '../lib/stats.js';
import { processCpu } from '../lib/proc-cpu.js';

const CPU = 0;
const SPACED: readonly [number, number][] = [[0, 2000], [2, 500], [10, 100]];

interface Target {
  readonly name: string;
  readonly ns: Netns;
  readonly pid: number | undefined;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const positional: string[] = [];
  let base: string | undefined;
  let kind = 'ping';
  let tree = fileURLToPath(new URL('../..', import.meta.url));
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--base') base = argv[++i];
    else if (argv[i] === '--tree') tree = argv[++i];
    else if (argv[i] === '--kind') kind = argv[++i];
    else positional.push(argv[i]);
  }
  if (base === undefined) throw new Error('--base DIR: the compiled tree to compare against');
  if (kind !== 'ping' && kind !== 'tcp' && kind !== 'udp') throw new Error('--kind: ping, tcp or udp');
  const port = kind === 'ping' ? '0' : '7';
  // The back-to-back load the CPU is measured around: kclient's `ping` for echoes, else the
  // latency mode with no spacing.
  const load = (n: number): string[] => (kind === 'ping' ? ['ping', STACK_IP, String(n)] : ['latency', kind, STACK_IP, port, String(n), '0']);
  const runs = Number(positional[0] ?? '5');
  const count = Number(positional[1] ?? '50000');
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const made: Netns[] = [];
  try {
    const tools = await buildKernelTools();
    const targets: Target[] = [];
    const a = await stackNamespace({ cpu: CPU, cli: join(base, 'dist/bin/rx-netstack.js') }, made, 'pa', true);
    targets.push({ name: `base (${base})`, ns: a.ns, pid: a.serve.pid });
    const b = await stackNamespace({ cpu: CPU, cli: join(tree, 'dist/bin/rx-netstack.js') }, made, 'pb', true);
    targets.push({ name: `tree (${tree})`, ns: b.ns, pid: b.serve.pid });
    const { c } = await kernelReference(CPU, tools, made);
    targets.push({ name: 'kernel', ns: c, pid: undefined });
    log(`load before: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    log(`kind: ${kind}`);
    for (const t of targets) await client(t.ns, { cpu: CPU }, tools, load(2000), 30_000);
    const cpuUs = targets.map(() => [] as number[]);
    const userUs = targets.map(() => [] as number[]);
    const p50 = SPACED.map(() => targets.map(() => [] as number[]));
    const p99 = SPACED.map(() => targets.map(() => [] as number[]));
    for (let i = 0; i < runs; i++) {
      for (const [k, t] of targets.entries()) {
        if (t.pid !== undefined) {
          const before = processCpu(t.pid);
          await client(t.ns, { cpu: CPU }, tools, load(count), 120_000);
          const after = processCpu(t.pid);
          cpuUs[k].push(((after.user - before.user + after.system - before.system) * 1e6) / count);
          userUs[k].push(((after.user - before.user) * 1e6) / count);
        }
        for (const [j, [interval, n]] of SPACED.entries()) {
          const r = await client(t.ns, { cpu: CPU }, tools, ['latency', kind, STACK_IP, port, String(n), String(interval)], 60_000);
          p50[j][k].push(Number(r.p50Ms) * 1000);
          p99[j][k].push(Number(r.p99Ms) * 1000);
        }
      }
    }
    const f = (x: number): string => x.toFixed(1);
    log('| target | serve CPU us per echo (user) | p50 / p99 back to back | p50 / p99 every 2 ms | p50 / p99 every 10 ms | kernel p50 / its p50 at 2 ms |');
    log('|---|---:|---:|---:|---:|---:|');
    const kernelAt2 = median(p50[1][targets.length - 1]);
    for (const [k, t] of targets.entries()) {
      const cpu = cpuUs[k].length > 0 ? `${median(cpuUs[k]).toFixed(2)} (${median(userUs[k]).toFixed(2)})` : '-';
      const cells = SPACED.map((_, j) => `${f(median(p50[j][k]))} / ${f(median(p99[j][k]))}`);
      log(`| ${t.name} | ${cpu} | ${cells.join(' | ')} | ${(kernelAt2 / median(p50[1][k])).toFixed(3)} |`);
    }
    // Within each round the two trees ran minutes apart at most: the median of the rounds'
    // ratios is steadier than the ratio of the medians when other work comes and goes.
    const ratio = (xs: number[], ys: number[]): string => median(xs.map((x, i) => ys[i] / x)).toFixed(3);
    log(`tree / base, median of the rounds' ratios: CPU per echo ${ratio(cpuUs[0], cpuUs[1])}, user ${ratio(userUs[0], userUs[1])}; p50 back to back ${ratio(p50[0][0], p50[0][1])}, every 2 ms ${ratio(p50[1][0], p50[1][1])}, every 10 ms ${ratio(p50[2][0], p50[2][1])}`);
    for (const [k, t] of targets.entries()) {
      log(`runs ${t.name}: cpu ${cpuUs[k].map((x) => x.toFixed(2)).join(' ')}; p50@2ms ${p50[1][k].map(f).join(' ')}; p50@10ms ${p50[2][k].map(f).join(' ')}`);
    }
    log(`load after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  } finally {
    for (const ns of made.reverse()) await ns.destroy();
  }
}

await main();
