/**
 * The serving process's system calls around spaced exchanges, for one compiled tree: serve over
 * TAP (offload on, pinned to CPU 0, namespaces as tap-bench.ts), `strace -f -T -tt` attached
 * while kclient's `latency KIND` sends N exchanges INTERVAL ms apart, the trace written to OUT.
 * The read() buffer addresses tell whether the receive batch was reused (the same address each
 * time) or read into fresh memory (moving by 128 bytes per small batch). Root only.
 *
 *   node --import tsx bench/kernel/recycle-trace.ts TREE KIND(ping|tcp|udp) N INTERVAL_MS OUT
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, stackNamespace, STACK_IP } from './tap-bench.js';

const [tree, kind, n, interval, out] = process.argv.slice(2);
if (out === undefined) throw new Error('usage: recycle-trace.ts TREE KIND N INTERVAL_MS OUT');
const port = kind === 'ping' ? '0' : '7';
const made: Netns[] = [];
try {
  const tools = await buildKernelTools();
  const { ns, serve } = await stackNamespace({ cpu: 0, cli: join(tree, 'dist/bin/rx-netstack.js') }, made, 'tr', true);
  await client(ns, { cpu: 0 }, tools, ['latency', kind, STACK_IP, port, '2000', '0'], 30_000);
  const strace = spawn('strace', ['-f', '-T', '-tt', '-o', out, '-p', String(serve.pid)], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const r = await client(ns, { cpu: 0 }, tools, ['latency', kind, STACK_IP, port, n, interval], 60_000);
  process.stdout.write(`${JSON.stringify(r)}\n`);
  strace.kill('SIGINT');
  await new Promise((resolve) => strace.once('exit', resolve));
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
