/**
 * Bulk to the stack as the full benchmark meets it: each round starts a fresh `serve` per tree
 * (a namespace of its own, TAP offloads on, everything on CPU 0), warms it up as tap-bench.ts
 * does (ping, 0.5 s of TCP_RR, 0.5 s of bulk to it), then measures RUNS `kclient stream-to` runs
 * of SECONDS each, alternating with the kernel over veth. A serving process's receive state
 * (where the slab's fill point stands once the warm-up's held frames are left behind) lasts for
 * its life, so bulk-to-ab.ts, which keeps one process per tree, samples few such states; this
 * samples one per round. Per round and tree: the median ratio to the kernel's runs and the ACKs
 * written per GB (the slow regime of docs/history/session-12.md "Session 12: bulk to the stack"
 * writes
 * one per frame or two).
 *
 *   TREES="base=/tmp/base/dist/bin/rx-netstack.js,now=dist/bin/rx-netstack.js" \
 *     npx tsx bench/kernel/bulk-to-fresh.ts [ROUNDS=4] [RUNS=3] [SECONDS=2]
 *
 * Root; namespaces as bulk-to-ab.ts (198.18.0.0/24 inside them only, deleted afterwards).
 */
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { comparedTrees, tapCounters } from './ab-trees.js';
import { client, kernelReference, stackNamespace, STACK_IP } from './tap-bench.js';
import { median } from '../lib/stats.js';

const rounds = Number(process.argv[2] ?? 4);
const runs = Number(process.argv[3] ?? 3);
const seconds = process.argv[4] ?? '2';
const trees = comparedTrees();
const stream = ['stream-to', STACK_IP, '9', seconds];

const tools = await buildKernelTools();
const made: Netns[] = [];
try {
  const { c } = await kernelReference(0, tools, made);
  await client(c, { cpu: 0 }, tools, ['stream-to', STACK_IP, '9', '0.5'], 20_000);
  const summary: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, { cli, nodeArgs }] of Object.entries(trees)) {
      const { ns } = await stackNamespace({ cpu: 0, cli }, made, name.slice(0, 2), true, [], nodeArgs);
      try {
        await client(ns, { cpu: 0 }, tools, ['ping', STACK_IP, '50'], 20_000);
        await client(ns, { cpu: 0 }, tools, ['rr', STACK_IP, '7', '0.5'], 20_000);
        await client(ns, { cpu: 0 }, tools, ['stream-to', STACK_IP, '9', '0.5'], 20_000);
        const ratios: number[] = [];
        const t0 = await tapCounters(ns);
        for (let i = 0; i < runs; i++) {
          const g = Number((await client(ns, { cpu: 0 }, tools, stream, 30_000)).gbps);
          const k = Number((await client(c, { cpu: 0 }, tools, stream, 30_000)).gbps);
          ratios.push(g / k);
        }
        const t1 = await tapCounters(ns);
        const acks = (t1.rx - t0.rx) / ((t1.txBytes - t0.txBytes) / 1e9);
        (summary[name] ??= []).push(median(ratios));
        console.log(`round ${r + 1} ${name}: ratio ${median(ratios).toFixed(3)} (${ratios.map((x) => x.toFixed(3)).join(' ')}), ACKs written per GB ${acks.toFixed(0)}`);
      } finally {
        const i = made.indexOf(ns);
        if (i >= 0) made.splice(i, 1);
        await ns.destroy(); // kills serve (started in it) by PID
      }
    }
  }
  for (const [name, xs] of Object.entries(summary)) {
    console.log(`median ${name}: ratio ${median(xs).toFixed(3)} (rounds ${xs.map((x) => x.toFixed(3)).join(' ')})`);
  }
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
