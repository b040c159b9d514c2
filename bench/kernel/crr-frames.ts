/**
 * Frames per TCP_CRR connection between the kernel client and `rx-netstack serve` over TAP:
 * the TAP device's packet counters (the kernel side's /proc/net/dev) around one kclient crr
 * run, divided by the connections. Written by the stack = the device's rx; read = its tx.
 *
 *   node --import tsx bench/kernel/crr-frames.ts [SECONDS=1] [--tree DIR]
 *
 * Root; `npx tsc -p tsconfig.build.json` first. The namespace (tap-bench.ts `stackNamespace`)
 * is deleted afterwards.
 */
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, stackNamespace, STACK_IP } from './tap-bench.js';
import { takeTreeCli } from './ab-trees.js';

const argv = process.argv.slice(2);
const cli = takeTreeCli(argv);
const seconds = argv[0] ?? '1';

async function packets(ns: Netns): Promise<{ rx: number; tx: number }> {
  const r = await ns.exec('cat', ['/proc/net/dev']);
  const line = r.stdout.split('\n').find((l) => l.trim().startsWith('rxb0:'));
  if (line === undefined) throw new Error(`no TAP line in /proc/net/dev: ${r.stdout}`);
  const f = line.split(':')[1].trim().split(/\s+/).map(Number);
  return { rx: f[1], tx: f[9] };
}

const made: Netns[] = [];
try {
  const tools = await buildKernelTools();
  const { ns } = await stackNamespace({ cpu: 0, cli }, made, 'cf', true);
  await client(ns, { cpu: 0 }, tools, ['crr', STACK_IP, '7', '1'], 20_000);
  const before = await packets(ns);
  const r = await client(ns, { cpu: 0 }, tools, ['crr', STACK_IP, '7', seconds], (Number(seconds) + 15) * 1000);
  const after = await packets(ns);
  const n = Number(r.connections);
  process.stdout.write(`${JSON.stringify({ connections: n, fromStack: (after.rx - before.rx) / n, toStack: (after.tx - before.tx) / n })}\n`);
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
