/**
 * A CPU profile of `rx-netstack serve` over TAP under one kclient workload: serve runs with
 * `node --cpu-prof` in a namespace of its own (tap-bench.ts `stackNamespace`), kclient drives
 * MODE against its echo service (stream-to: discard:9; stream-from: chargen:19) for SECONDS,
 * then serve is stopped by SIGTERM (it exits, and V8 writes the .cpuprofile into DIR). Root;
 * `npx tsc -p tsconfig.build.json` first.
 *
 *   node --import tsx bench/kernel/serve-profile.ts DIR [MODE=rr] [SECONDS=5] [--offload on|off] [--tree DIR]
 *
 * --tree DIR profiles another build's serve (DIR/dist/bin/rx-netstack.js) instead of this one.
 * PROFILE_NODE_ARGS (space-separated) replaces `--cpu-prof` with other options for serve's node,
 * e.g. `--import=/abs/path/bench/kernel/heap-sampling.mjs`: V8's sampling heap profiler, started
 * (SIGUSR2) after the warm-up run, whose profile heap-per-op.mjs divides by the transactions of
 * the measured run (the last line printed).
 */
import { once } from 'node:events';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, stackNamespace, STACK_IP } from './tap-bench.js';
import { takeTreeCli } from './ab-trees.js';

const argv = process.argv.slice(2);
const offloadAt = argv.indexOf('--offload');
const offload = offloadAt < 0 || argv[offloadAt + 1] !== 'off';
if (offloadAt >= 0) argv.splice(offloadAt, 2);
const cli = takeTreeCli(argv);
const [dir, mode = 'rr', seconds = '5'] = argv;
if (dir === undefined) throw new Error('usage: serve-profile.ts DIR [MODE] [SECONDS] [--offload on|off] [--tree DIR]');
const made: Netns[] = [];
try {
  const tools = await buildKernelTools();
  const { ns, serve } = await stackNamespace({ cpu: 0, cli }, made, 'sp', offload, [], process.env.PROFILE_NODE_ARGS ? process.env.PROFILE_NODE_ARGS.split(' ') : ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  // Bulk to the stack goes to discard:9, bulk from it to chargen:19, the rest to echo:7.
  const port = mode === 'stream-to' ? '9' : mode === 'stream-from' ? '19' : '7';
  const warm = await client(ns, { cpu: 0 }, tools, [mode, STACK_IP, port, '1'], 20_000);
  process.stdout.write(`warm-up ${JSON.stringify(warm)}\n`);
  // A heap sampler preloaded with heap-sampling.mjs starts now (nothing else in serve listens).
  if (process.env.PROFILE_NODE_ARGS?.includes('heap-sampling') === true) serve.kill('SIGUSR2');
  const r = await client(ns, { cpu: 0 }, tools, [mode, STACK_IP, port, seconds], (Number(seconds) + 15) * 1000);
  process.stdout.write(`${JSON.stringify(r)}\n`);
  const exited = once(serve, 'exit');
  serve.kill('SIGTERM');
  await exited;
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
