/**
 * Instructions of `rx-netstack serve` per operation over TAP, counted (valgrind's cachegrind, JIT
 * code included) rather than timed: serve runs under valgrind (`--single-threaded
 * --predictable-gc-schedule`, as bench/cost.sh runs the memory wire) in a namespace of its own,
 * kclient drives MODE against its echo service for WARM seconds and then SHORT seconds in one
 * run, WARM and LONG in another, and the figure is the difference of the two runs' totals over
 * the difference of their operations (start-up and warm-up cancel; the warm-up lets V8 tier the
 * stack's code up first: under valgrind a connection takes ~100 times as long, and without it
 * the same tree's figure moved by 25 % from run to run). On this machine, where one tree's CPU per connection
 * spreads 10 % or more from run to run, a difference of a few per cent in the stack's work shows
 * here and nowhere else; what it leaves out is the kernel's side (system calls, the TAP device's
 * delivery), which a change to the JavaScript does not touch.
 *
 *   node --import tsx bench/kernel/serve-instr.ts [MODE=crr] [SHORT=3] [LONG=13] [WARM=25] [--tree DIR]...
 *
 * SERVE_INSTR_SINGLE=1 runs serve's node with `--single-threaded` (no concurrent compilation:
 * V8 then inlines what it leaves generic in code compiled in the background; see src/byte-view.ts).
 *
 * Each --tree DIR is measured (a compiled tree: DIR/dist/bin/rx-netstack.js; default this one),
 * in turn. Root; `npx tsc -p tsconfig.build.json` first; pinned to CPU 0 (serve and kclient);
 * 198.18.0.0/24 inside the namespaces only, deleted afterwards. Minutes per tree.
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernelTools } from './build.js';
import { Netns, waitForLine } from './netns.js';
import { client, pinned, STACK_IP } from './tap-bench.js';

const argv = process.argv.slice(2);
const trees: string[] = [];
const positional: string[] = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--tree') trees.push(argv[++i]);
  else positional.push(argv[i]);
}
if (trees.length === 0) trees.push(fileURLToPath(new URL('../..', import.meta.url)));
const [mode = 'crr', short = '3', long = '13', warm = '25'] = positional;
const COUNT: Record<string, string> = { rr: 'transactions', crr: 'connections', 'udp-rr': 'transactions' };

/** Total instructions of one serve under valgrind and the operations kclient made against it. */
async function measure(tree: string, seconds: string): Promise<{ instructions: number; ops: number }> {
  const tools = await buildKernelTools();
  const out = mkdtempSync(join(tmpdir(), 'serve-instr-'));
  const ns = await Netns.create('si');
  try {
    await ns.ip(['tuntap', 'add', 'dev', 'rxtap0', 'mode', 'tap']);
    await ns.addAddress('198.18.0.1/24', 'rxtap0');
    await ns.ip(['link', 'set', 'rxtap0', 'up']);
    const [prog, args] = pinned(0, 'valgrind', [
      '--tool=cachegrind', '--cache-sim=no', `--cachegrind-out-file=${join(out, 'cg.%p')}`, `--log-file=${join(out, 'log.%p')}`,
      process.execPath, ...(process.env.SERVE_INSTR_SINGLE === '1' ? ['--single-threaded'] : []), '--predictable-gc-schedule', join(tree, 'dist/bin/rx-netstack.js'),
      'serve', '--tap', 'rxtap0', '--ip', `${STACK_IP}/24`, '--services', 'echo:7,udp-echo:7',
    ]);
    const serve = ns.spawn(prog, args, { RX_NETSTACK_TAP_OFFLOAD: '1' });
    await waitForLine(serve, 'ready', 120_000, 'rx-netstack serve under valgrind');
    const w = await client(ns, { cpu: 0 }, tools, [mode, STACK_IP, '7', warm], (Number(warm) + 60) * 1000);
    const r = await client(ns, { cpu: 0 }, tools, [mode, STACK_IP, '7', seconds], (Number(seconds) + 60) * 1000);
    const exited = once(serve, 'exit');
    serve.kill('SIGTERM');
    await exited;
    const log = readdirSync(out).filter((f) => f.startsWith('log.')).map((f) => readFileSync(join(out, f), 'utf8')).join('\n');
    const refs = /I\s+refs:\s+([\d,]+)/.exec(log);
    if (refs === null) throw new Error(`no instruction count in valgrind's log:\n${log.slice(-2000)}`);
    return { instructions: Number(refs[1].replaceAll(',', '')), ops: Number(w[COUNT[mode]]) + Number(r[COUNT[mode]]) };
  } finally {
    await ns.destroy();
    rmSync(out, { recursive: true, force: true });
  }
}

for (const tree of trees) {
  const a = await measure(tree, short);
  const b = await measure(tree, long);
  const per = (b.instructions - a.instructions) / (b.ops - a.ops);
  process.stdout.write(`${tree} ${mode}: ${a.ops} ops ${a.instructions} instructions, ${b.ops} ops ${b.instructions}; per op ${Math.round(per)}\n`);
}
