/**
 * System calls of `rx-netstack serve` per TCP_CRR connection (or per transaction of another
 * kclient MODE): `strace -c -f` attached to serve around one kclient run, its counts divided by
 * the connections. strace slows serve down: the counts per connection are the figure, not the
 * rate. Root; `npx tsc -p tsconfig.build.json` first; the namespace is deleted afterwards.
 *
 *   node --import tsx bench/kernel/crr-syscalls.ts [SECONDS=1] [MODE=crr] [--tree DIR]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, stackNamespace, STACK_IP } from './tap-bench.js';
import { takeTreeCli } from './ab-trees.js';

const argv = process.argv.slice(2);
const cli = takeTreeCli(argv);
const [seconds = '1', mode = 'crr'] = argv;

const made: Netns[] = [];
try {
  const tools = await buildKernelTools();
  const { ns, serve } = await stackNamespace({ cpu: 0, cli }, made, 'cs', true, [], process.env.CRR_NODE_ARGS?.split(' ') ?? []);
  await client(ns, { cpu: 0 }, tools, [mode, STACK_IP, '7', '1'], 20_000);
  const perfStat = process.env.CRR_SYSCALLS_PERF !== undefined;
  const record = process.env.CRR_SYSCALLS_PERF?.startsWith('record:') === true ? process.env.CRR_SYSCALLS_PERF.slice(7) : undefined;
  const strace = record !== undefined
    ? spawn('perf', ['record', '-g', '-o', record, '-p', String(serve.pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
    : perfStat
    ? spawn('perf', ['stat', '-e', 'syscalls:sys_enter_read,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_write', '-p', String(serve.pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn('strace', ['-c', '-f', '-p', String(serve.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let report = '';
  strace.stderr.on('data', (b: Buffer) => (report += b.toString()));
  // strace says it attached on stderr before tracing: wait for that line.
  await new Promise<void>((resolve) => {
    const check = (): void => (perfStat || report.includes('attached') ? resolve() : void setTimeout(check, 20));
    if (perfStat) setTimeout(check, 300);
    else check();
  });
  const r = await client(ns, { cpu: 0 }, tools, [mode, STACK_IP, '7', seconds], (Number(seconds) + 15) * 1000);
  strace.kill('SIGINT');
  await once(strace, 'exit');
  const n = Number(r.connections ?? r.transactions);
  process.stdout.write(`${JSON.stringify(r)}\n`);
  for (const line of report.split('\n')) {
    const f = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (perfStat && f.length >= 2 && /^[\d,]+$/.test(f[0])) process.stdout.write(`${(Number(f[0].replaceAll(',', '')) / n).toFixed(3).padStart(8)} ${f[1]}\n`);
    else if (!perfStat && f.length >= 5 && /^\d+$/.test(f[3])) process.stdout.write(`${(Number(f[3]) / n).toFixed(3).padStart(8)} ${f.at(-1)}${f.length === 6 ? ` (errors ${(Number(f[4]) / n).toFixed(3)})` : ''}\n`);
  }
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
