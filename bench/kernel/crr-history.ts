/**
 * Does a `serve`'s history change its TCP_CRR rate? Four `rx-netstack serve` namespaces of one
 * tree: offload on and off, each fresh (warmed with TCP_CRR only) and "full" (warmed as the full
 * bench's TAP section does, then BULK_RUNS runs of bulk to and from it, as that section measures
 * before TCP_CRR). Then ROUNDS rounds of TCP_CRR for SECONDS each, the four in turn (the order
 * rotated every round), all on CPU 0 with the kernel client; medians and every run.
 *
 *   node --import tsx bench/kernel/crr-history.ts [SECONDS=2] [ROUNDS=5] [BULK_RUNS=5] [--cli PATH]
 *
 * Root; build dist first. Namespaces as tap-bench.ts (198.18.0.0/24 inside them), deleted afterwards.
 */
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, stackNamespace, STACK_IP } from './tap-bench.js';
import { median } from '../lib/stats.js';

const argv = process.argv.slice(2);
let cli = fileURLToPath(new URL('../../dist/bin/rx-netstack.js', import.meta.url));
const positional: string[] = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--cli') cli = argv[++i]!;
  else positional.push(argv[i]!);
}
const [seconds = '2', rounds = '5', bulkRuns = '5'] = positional;
const o = { cpu: 0, cli };
const made: Netns[] = [];
const log = (line: string): void => void process.stdout.write(`${line}\n`);
try {
  const tools = await buildKernelTools();
  const timeout = (Number(seconds) + 15) * 1000;
  const targets: Array<[string, Netns]> = [];
  for (const [name, offload, full] of [['on-fresh', true, false], ['off-fresh', false, false], ['on-full', true, true], ['off-full', false, true]] as const) {
    const { ns } = await stackNamespace(o, made, name.replace('-', ''), offload);
    if (full) {
      await client(ns, o, tools, ['ping', STACK_IP, '50'], 20_000);
      await client(ns, o, tools, ['rr', STACK_IP, '7', '0.5'], 20_000);
      await client(ns, o, tools, ['stream-to', STACK_IP, '9', '0.5'], 20_000);
    }
    await client(ns, o, tools, ['crr', STACK_IP, '7', '1'], 20_000);
    if (full) {
      await client(ns, o, tools, ['udp-rr', STACK_IP, '7', '0.5'], 20_000);
      for (let i = 0; i < Number(bulkRuns); i++) await client(ns, o, tools, ['stream-to', STACK_IP, '9', seconds], timeout);
      for (let i = 0; i < Number(bulkRuns); i++) await client(ns, o, tools, ['stream-from', STACK_IP, '19', seconds], timeout);
      for (let i = 0; i < Number(bulkRuns); i++) await client(ns, o, tools, ['rr', STACK_IP, '7', seconds], timeout);
    }
    targets.push([name, ns]);
  }
  log(`load before: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  const rates = new Map<string, number[]>(targets.map(([name]) => [name, []]));
  for (let i = 0; i < Number(rounds); i++) {
    for (let j = 0; j < targets.length; j++) {
      const [name, ns] = targets[(i + j) % targets.length]!;
      const r = await client(ns, o, tools, ['crr', STACK_IP, '7', seconds], timeout);
      rates.get(name)!.push(Number(r.rate));
    }
  }
  for (const [name, runs] of rates) log(`crr ${name}: ${median(runs).toFixed(0)}/s (runs ${runs.map((x) => x.toFixed(0)).join(' ')})`);
  log(`load after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
