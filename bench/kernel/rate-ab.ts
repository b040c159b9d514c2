/**
 * Request/response rates of several compiled trees and of the kernel, side by side: one
 * `rx-netstack serve` namespace per tree of TREES (ab-trees.ts) and the kernel reference (kserver
 * over veth, tap-bench.ts), all on CPU 0 with the kernel client, measured in turn, ROUNDS rounds
 * of SECONDS per mode; medians, every run, and each tree's median over the kernel's.
 *
 *   TREES=new=dist/bin/rx-netstack.js,base=/tmp/base/dist/bin/rx-netstack.js \
 *     node --import tsx bench/kernel/rate-ab.ts [SECONDS=3] [ROUNDS=5] [MODES=crr]
 *
 * Root; `npx tsc -p tsconfig.build.json` in each tree first; the namespaces are deleted afterwards.
 */
import { readFileSync } from 'node:fs';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { comparedTrees, serveTrees } from './ab-trees.js';
import { client, kernelReference, STACK_IP } from './tap-bench.js';
import { median } from '../lib/stats.js';

const [seconds = '3', rounds = '5', modesArg = 'crr'] = process.argv.slice(2);
const made: Netns[] = [];
const log = (line: string): void => void process.stdout.write(`${line}\n`);
try {
  const tools = await buildKernelTools();
  const modes = modesArg.split(',');
  const served = await serveTrees(comparedTrees(), made, true, tools, [modes[0]!, '7']);
  const { c } = await kernelReference(0, tools, made);
  const targets: Array<[string, Netns]> = [...Object.entries(served).map(([name, s]): [string, Netns] => [name, s.ns]), ['kernel', c]];
  log(`load before: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  for (const mode of modes) {
    const rates = new Map<string, number[]>(targets.map(([name]) => [name, []]));
    for (let i = 0; i < Number(rounds); i++) {
      for (const [name, ns] of targets) {
        const r = await client(ns, { cpu: 0 }, tools, [mode, STACK_IP, '7', seconds], (Number(seconds) + 15) * 1000);
        rates.get(name)!.push(Number(r.rate));
      }
    }
    const kernelRuns = rates.get('kernel')!;
    const kernel = median(kernelRuns);
    for (const [name, runs] of rates) {
      const m = median(runs);
      // Each round's own ratio to the kernel's run next to it: the machine's phases (a third
      // slower for minutes) move both, so the median of these holds where the medians' ratio does not.
      const own = runs.map((x, i) => x / kernelRuns[i]!);
      const ownText = `; by round ${own.map((x) => x.toFixed(2)).join(' ')}, median ${median(own).toFixed(3)}`;
      log(`${mode} ${name}: ${m.toFixed(0)}/s (runs ${runs.map((x) => x.toFixed(0)).join(' ')})${name === 'kernel' ? '' : `, ${(m / kernel).toFixed(3)} of the kernel${ownText}`}`);
    }
  }
  log(`load after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
