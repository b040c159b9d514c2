/**
 * CPU cost of bulk TCP over TAP, as user + system CPU seconds of the `rx-netstack serve` process
 * per GB moved (from /proc/PID/stat), for a machine shared with other work where wall-clock
 * rates move with the neighbours' load. Bulk from the stack (kclient stream-from, the stack's
 * chargen) and to it (stream-to, discard), with the TAP offloads on and off; median of N runs.
 *
 *   npx tsx bench/kernel/cpu-cost.ts [--cli dist/bin/rx-netstack.js] [--seconds 3] [--runs 3] [--offload on|off|both]
 *
 * Needs root; namespaces and addresses as in tap-bench.ts (198.18.0.0/24, inside namespaces made
 * for the run, deleted afterwards). `--cli` may name another tree's compiled CLI (before/after).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, stackNamespace, STACK_IP } from './tap-bench.js';
import { median } from '../lib/stats.js';
import { processCpu } from '../lib/proc-cpu.js';

const { values } = parseArgs({
  options: {
    cli: { type: 'string', default: 'dist/bin/rx-netstack.js' },
    seconds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    cpu: { type: 'string', default: '0' },
    offload: { type: 'string', default: 'both' },
  },
});
const cli = resolve(values.cli);
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const cpu = Number(values.cpu);

/** [user, system] CPU seconds of `pid` so far. */
function cpuSeconds(pid: number): [number, number] {
  const { user, system } = processCpu(pid);
  return [user, system];
}

const tools = await buildKernelTools();
for (const offload of values.offload === 'on' ? [true] : values.offload === 'off' ? [false] : [true, false]) {
  const made: Netns[] = [];
  try {
    const { ns, serve } = await stackNamespace({ cpu, cli }, made, offload ? 'o' : 'p', offload);
    const pid = serve.pid!;
    await client(ns, { cpu }, tools, ['stream-to', STACK_IP, '9', '0.5'], 20_000); // warm-up
    await client(ns, { cpu }, tools, ['stream-from', STACK_IP, '19', '0.5'], 20_000);
    for (const [name, mode, port] of [['bulk from stack', 'stream-from', '19'], ['bulk to stack', 'stream-to', '9']] as const) {
      const perGb: number[] = [];
      const userPerGb: number[] = [];
      const sysPerGb: number[] = [];
      const gbps: number[] = [];
      for (let i = 0; i < runs; i++) {
        const [u0, s0] = cpuSeconds(pid);
        const r = await client(ns, { cpu }, tools, [mode, STACK_IP, port, String(seconds)], (seconds + 15) * 1000);
        const [u1, s1] = cpuSeconds(pid);
        const gb = (Number(r.gbps) * seconds) / 8;
        perGb.push((u1 - u0 + s1 - s0) / gb);
        userPerGb.push((u1 - u0) / gb);
        sysPerGb.push((s1 - s0) / gb);
        gbps.push(Number(r.gbps));
      }
      const f = (x: number): string => x.toFixed(3);
      console.log(`offload ${offload ? 'on ' : 'off'} ${name}: ${f(median(perGb))} CPU s/GB (user ${f(median(userPerGb))}, system ${f(median(sysPerGb))}; runs ${perGb.map(f).join(' ')}), ${median(gbps).toFixed(2)} Gbit/s`);
    }
    serve.kill('SIGTERM');
  } finally {
    for (const ns of made.reverse()) await ns.destroy();
  }
}
