/**
 * perf record of CPU 0 while kclient runs MODE against `rx-netstack serve` over TAP (serve
 * with --perf-basic-prof so its JavaScript is named), to split a connection's CPU between the
 * kernel (system calls, the client's delivery inside serve's writes), V8/Node and the stack's
 * JavaScript. Root; `npx tsc -p tsconfig.build.json` first.
 *
 *   WARM=6 node --import tsx bench/kernel/crr-perf.ts OUT [MODE=crr] [SECONDS=3] [--tree DIR]
 *
 * WARM: seconds of the workload before recording (default 6: V8 has tiered everything up by then).
 * PERF_NODE_ARGS: more options for serve's node (space-separated), e.g. `--print-opt-code
 * --redirect-code-traces --redirect-code-traces-to=FILE` to find the call sites in the JIT code.
 *
 * Writes OUT (perf.data); read it with `perf report -i OUT --comm node --sort dso,sym`.
 * The namespace (198.18.0.0/24 inside it only) is deleted afterwards.
 */
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, stackNamespace, STACK_IP } from './tap-bench.js';
import { perfDuring } from '../lib/perf-during.js';
import { takeTreeCli } from './ab-trees.js';

const argv = process.argv.slice(2);
const cli = takeTreeCli(argv);
const [out, mode = 'crr', seconds = '3'] = argv;
if (out === undefined) throw new Error('usage: crr-perf.ts OUT [MODE] [SECONDS] [--tree DIR]');
const made: Netns[] = [];
try {
  const tools = await buildKernelTools();
  const { ns } = await stackNamespace({ cpu: 0, cli }, made, 'cp', true, [], ['--perf-basic-prof', ...(process.env.PERF_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')]);
  await client(ns, { cpu: 0 }, tools, [mode, STACK_IP, '7', process.env.WARM ?? '6'], 60_000);
  let result: Record<string, number | string> = {};
  await perfDuring(['record', '-q', '-g', '-C', '0', '-e', 'cpu-clock', '-o', out], async () => {
    result = await client(ns, { cpu: 0 }, tools, [mode, STACK_IP, '7', seconds], (Number(seconds) + 15) * 1000);
  }, 500);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
