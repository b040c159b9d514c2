/**
 * serve's deoptimizations over TAP in the latency bench's order: serve started with
 * `--trace-deopt`, the latency bench's warm-up (each kind five runs of 1,000 back-to-back
 * exchanges, a new connection each for TCP), then spaced TCP runs (a new kclient connection
 * each). Prints serve's deoptimizations per phase (function, bytecode offset, reason), the
 * optimized code invalidated through its dependencies (a deprecated map, ...), and with
 * --opt the functions optimized in each phase too (serve runs with `--trace-opt` as well).
 * Pinned to CPU 0, namespaces as tap-bench.ts (offload on), deleted afterwards.
 *
 *   node --import tsx bench/kernel/deopt-trace-tap.ts [--tree DIR] [--opt] [RUNS=3]
 *
 * Root; `npx tsc -p tsconfig.build.json` first (DIR: a compiled tree, default this one).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, stackNamespace, STACK_IP } from './tap-bench.js';

const CPU = 0;
const OPTIMIZED = /\[completed optimizing \S+ <JSFunction ([^ >]*)/;
const INVALIDATED = /\[marking dependent code .*?<SharedFunctionInfo ?([^>]*)>\).*reason: ([^\]]+)/;
const BAILOUT = /\[bailout \(kind: ([^,]+), reason: ([^)]+)\): begin\. deoptimizing \S+ <JSFunction ([^ >]*).*?bytecode offset (\d+)/;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let tree = fileURLToPath(new URL('../..', import.meta.url));
  const positional: string[] = [];
  let opt = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--tree') tree = argv[++i];
    else if (argv[i] === '--opt') opt = true;
    else positional.push(argv[i]);
  }
  const runs = Number(positional[0] ?? '3');
  const made: Netns[] = [];
  try {
    const tools = await buildKernelTools();
    const { ns, serve } = await stackNamespace({ cpu: CPU, cli: join(tree, 'dist/bin/rx-netstack.js') }, made, 'dt', true, [], opt ? ['--trace-deopt', '--trace-opt'] : ['--trace-deopt']);
    let out = '';
    serve.stdout?.on('data', (d: Buffer) => void (out += d.toString()));
    const phases: Array<[string, number]> = [];
    const phase = (name: string): void => void phases.push([name, out.length]);
    const once = (kind: string, count: number, intervalMs: number): Promise<unknown> =>
      client(ns, { cpu: CPU }, tools, ['latency', kind, STACK_IP, kind === 'ping' ? '0' : '7', String(count), String(intervalMs)], 30_000 + count * (intervalMs + 5));
    for (let w = 0; w < 5; w++) {
      for (const kind of ['ping', 'udp', 'tcp']) {
        phase(`warm-${w}-${kind}`);
        await once(kind, 1000, 0);
      }
    }
    for (let r = 0; r < runs; r++) {
      for (const [interval, count] of [[0, 2000], [2, 500], [10, 200]] as const) {
        phase(`run-${r}-tcp-every-${interval}ms`);
        await once('tcp', count, interval);
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    phases.push(['end', out.length]);
    for (let i = 0; i < phases.length - 1; i++) {
      const text = out.slice(phases[i][1], phases[i + 1][1]).split('\n');
      const lines = text.map((l) => BAILOUT.exec(l)).filter((m) => m !== null);
      process.stdout.write(`${phases[i][0]}: ${lines.length} deoptimizations\n`);
      for (const m of lines) process.stdout.write(`  ${m[3] === '(sfi' ? '(anonymous)' : m[3]} @${m[4]} ${m[1]}: ${m[2]}\n`);
      // Optimized code thrown away without a bailout (a map it relied on was deprecated, ...).
      const invalidated = text.map((l) => INVALIDATED.exec(l)).filter((m) => m !== null);
      if (invalidated.length > 0) process.stdout.write(`  invalidated (${invalidated.length}): ${invalidated.map((m) => `${m[1] || '(anonymous)'} (${m[2]})`).join(', ')}\n`);
      if (!opt) continue;
      const optimized = text.map((l) => OPTIMIZED.exec(l)?.[1]).filter((n) => n !== undefined);
      process.stdout.write(`  optimized (${optimized.length}): ${optimized.join(' ')}\n`);
    }
  } finally {
    for (const n of made.reverse()) await n.destroy();
  }
}

await main();
