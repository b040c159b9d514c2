/**
 * V8's optimizations and deoptimizations of `rx-netstack serve` per run of a kclient workload
 * over TAP: serve with `--trace-opt --trace-deopt`, a 1 s warm-up (serve-cost.ts's), then RUNS
 * runs of SECONDS each; per run, the functions optimized (with a count when more than once) and
 * deoptimized. Compilations that go on run after run are CPU of serve's V8 threads (on the
 * pinned CPU) in every measured run. Pinned to CPU 0, namespaces as tap-bench.ts (offload on),
 * 198.18.0.0/24 inside them only, deleted afterwards. Root; `npx tsc -p tsconfig.build.json` first.
 *
 *   node --import tsx bench/kernel/crr-tiering.ts [MODE=crr] [SECONDS=3] [RUNS=4] [--tree DIR] [--node-arg ARG]...
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, stackNamespace, STACK_IP } from './tap-bench.js';

const OPTIMIZED = /\[completed (?:optimizing|compiling) \S+ <JSFunction ([^ >]*)[^\]]*?\(target ([A-Z]+)\)/;
const BAILOUT = /\[bailout \(kind: ([^,]+), reason: ([^)]+)\): begin\. deoptimizing \S+ <JSFunction ([^ >]*)/;

const argv = process.argv.slice(2);
let tree = fileURLToPath(new URL('../..', import.meta.url));
const positional: string[] = [];
const nodeArgs: string[] = ['--trace-opt', '--trace-deopt'];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--tree') tree = argv[++i];
  else if (argv[i] === '--node-arg') nodeArgs.push(argv[++i]);
  else positional.push(argv[i]);
}
const [mode = 'crr', seconds = '3', runs = '4'] = positional;
const made: Netns[] = [];
try {
  const tools = await buildKernelTools();
  const { ns, serve } = await stackNamespace({ cpu: 0, cli: join(tree, 'dist/bin/rx-netstack.js') }, made, 'ct', true, [], nodeArgs);
  let out = '';
  serve.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const phase = (name: string, r: Record<string, number | string>): void => {
    const opt = new Map<string, number>();
    const deopt = new Map<string, number>();
    for (const line of out.split('\n')) {
      const o = OPTIMIZED.exec(line);
      if (o !== null) opt.set(`${o[1]}(${o[2]})`, (opt.get(`${o[1]}(${o[2]})`) ?? 0) + 1);
      const d = BAILOUT.exec(line);
      if (d !== null) deopt.set(`${d[3]} [${d[2]}]`, (deopt.get(`${d[3]} [${d[2]}]`) ?? 0) + 1);
    }
    out = '';
    const list = (m: Map<string, number>): string => [...m].map(([k, n]) => (n > 1 ? `${k} x${n}` : k)).join(', ');
    process.stdout.write(`${name} (${JSON.stringify(r)}): ${[...opt.values()].reduce((a, b) => a + b, 0)} optimized: ${list(opt)}\n  ${[...deopt.values()].reduce((a, b) => a + b, 0)} deoptimized: ${list(deopt)}\n`);
  };
  phase('warm-up', await client(ns, { cpu: 0 }, tools, [mode, STACK_IP, '7', '1'], 20_000));
  for (let i = 0; i < Number(runs); i++) phase(`run ${i + 1}`, await client(ns, { cpu: 0 }, tools, [mode, STACK_IP, '7', seconds], (Number(seconds) + 15) * 1000));
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
