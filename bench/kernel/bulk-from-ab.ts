/**
 * Bulk from the stack (kclient stream-from against `serve`'s chargen), several compiled trees
 * side by side with the TAP offloads off, runs alternating between them: per run the rate and
 * what the serving process spent per GB moved: CPU seconds (user, system: the kernel's receive
 * work for the client runs in the stack's write calls), context switches (voluntary: it slept in
 * the event loop; involuntary: the client, pinned to the same CPU, took over), write and read
 * system calls (/proc/PID/io), and the TAP's counters (frames the stack wrote, ACKs it read).
 *
 *   TREES="old=/tmp/old-tree/dist/bin/rx-netstack.js,new=dist/bin/rx-netstack.js" \
 *     npx tsx bench/kernel/bulk-from-ab.ts [RUNS=4] [SECONDS=2]
 *
 * Needs root; one namespace per tree (198.18.0.0/24 inside it only, deleted afterwards),
 * everything pinned to CPU 0 as in tap-bench.ts.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, stackNamespace, STACK_IP } from './tap-bench.js';
import { processCpu, processSwitches } from '../lib/proc-cpu.js';

const runs = Number(process.argv[2] ?? 4);
const seconds = process.argv[3] ?? '2';
const trees: Record<string, string> = Object.fromEntries(
  (process.env.TREES ?? 'now=dist/bin/rx-netstack.js').split(',').map((entry) => {
    const [name, cli] = entry.split('=');
    return [name!, resolve(cli!)];
  }),
);

interface ProcCounts { voluntary: number; involuntary: number; writes: number; reads: number; user: number; system: number }

function procCounts(pid: number): ProcCounts {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const num = (re: RegExp): number => Number(re.exec(io)![1]);
  return { ...processSwitches(pid), ...processCpu(pid), writes: num(/syscw: (\d+)/), reads: num(/syscr: (\d+)/) };
}

/** The kernel side of the TAP: rx is what the stack wrote, tx what it was given to read. */
async function tapCounts(ns: Netns): Promise<{ rx: number; tx: number; rxBytes: number }> {
  const dir = '/sys/class/net/rxb0/statistics';
  const r = await ns.exec('cat', [`${dir}/rx_packets`, `${dir}/tx_packets`, `${dir}/rx_bytes`]);
  const [rx, tx, rxBytes] = r.stdout.trim().split('\n').map(Number);
  return { rx: rx!, tx: tx!, rxBytes: rxBytes! };
}

const tools = await buildKernelTools();
const made: Netns[] = [];
try {
  const served: Record<string, { ns: Netns; pid: number }> = {};
  for (const [name, cli] of Object.entries(trees)) {
    const { ns, serve } = await stackNamespace({ cpu: 0, cli }, made, name.slice(0, 2), false);
    served[name] = { ns, pid: serve.pid! };
    await client(ns, { cpu: 0 }, tools, ['stream-from', STACK_IP, '19', '1'], 20_000); // warm-up
  }
  for (let i = 0; i < runs; i++) {
    for (const name of Object.keys(trees)) {
      const { ns, pid } = served[name]!;
      const p0 = procCounts(pid);
      const t0 = await tapCounts(ns);
      const r = await client(ns, { cpu: 0 }, tools, ['stream-from', STACK_IP, '19', seconds], 30_000);
      const p1 = procCounts(pid);
      const t1 = await tapCounts(ns);
      const gb = (t1.rxBytes - t0.rxBytes) / 1e9;
      const per = (a: number, b: number, digits = 0): string => ((b - a) / gb).toFixed(digits);
      console.log(
        `${name} ${Number(r.gbps).toFixed(2)} Gbit/s, per GB: CPU ${per(p0.user + p0.system, p1.user + p1.system, 2)} s ` +
          `(user ${per(p0.user, p1.user, 2)}, system ${per(p0.system, p1.system, 2)}), ` +
          `switches ${per(p0.voluntary, p1.voluntary)} voluntary ${per(p0.involuntary, p1.involuntary)} involuntary, ` +
          `writes ${per(p0.writes, p1.writes)} reads ${per(p0.reads, p1.reads)}, frames ${per(t0.rx, t1.rx)} ACKs ${per(t0.tx, t1.tx)}`,
      );
    }
  }
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
