/**
 * CPU time of the `rx-netstack nat` process per transaction: user and system seconds (from
 * /proc/PID/stat) per 10^4 TCP_RR / UDP_RR transactions and TCP_CRR connections, medians of
 * RUNS runs. On a machine shared with other work, wall-clock rates move with the load; the
 * CPU time one transaction costs the nat process moves much less, so this is the figure to
 * compare changes with (and, with --slirp, the same for slirp4netns on the same topology).
 *
 * Topology as in nat-bench.ts: H (198.18.0.200 on loopback, kserver.c, the NAT programs), R
 * connected by `rx-netstack nat` (TUN), S by slirp4netns (TAP, with --slirp); everything
 * pinned to CPU 0.
 *
 *   node --import tsx bench/kernel/nat-cost.ts [SECONDS] [RUNS] [--slirp] [--modes rr,crr,udp-rr]
 *        (also stream-from, stream-to: bulk, per MB)
 *        [--strace] [--node-arg ARG]...      (root; `npx tsc -p tsconfig.build.json` first)
 *
 * --strace counts the nat process's system calls per transaction over one extra run of each
 * mode (strace -c; strace slows the process, so those runs are not timed); --node-arg passes an
 * option to the nat's node; --perf DIR records `perf record -g` of one extra run per mode into
 * DIR/MODE.data (of the base build instead with NAT_COST_PERF_OF=base in the environment;
 * NAT_COST_PERF_USER=1: user time only); --unpinned runs the nats, kserver, slirp4netns and the
 * client free to move over every CPU (no taskset), as nat-bench's and nat-sched's --unpinned;
 * --nat-arg ARG / --base-arg ARG (repeatable) pass an option to this tree's nat / to --base's
 * (`--base .` with `--nat-arg --heap-pages --nat-arg off`: one option A/B from one tree);
 * --base DIR runs a second nat from another build (DIR/dist/bin/rx-netstack.js,
 * e.g. `npx tsc -p tsconfig.build.json --outDir DIR/dist` of the commit before a change) on a
 * namespace of its own, measured alternately with this one: the ratio of the two is the change. (`--cpu-prof --cpu-prof-dir=DIR`: the profile is written when it stops).
 * --alloc runs each nat with V8's GC trace (`--trace-gc-nvp`, copied to a file by `tee`) and
 * adds the bytes it allocated per operation: the sum of the trace's `allocated=` over the GCs
 * of a run (add `--node-arg --max-semi-space-size=1` for many small GCs, so that the part
 * allocated before the first and after the last GC of a run matters little). A count that
 * does not move with the load, unlike CPU seconds.
 * --idle N opens N TCP connections to the server's echo port through each NAT before the runs
 * and leaves them idle until the end (a nat with many connections: each one a host socket the
 * nat watches), held by a python process in each namespace.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernelTools, type KernelTools } from './build.js';
import { Netns, waitForLine } from './netns.js';
import { client, pinned } from './tap-bench.js';
import { median } from '../lib/stats.js';
import { perfDuring } from '../lib/perf-during.js';
import { processCpu } from '../lib/proc-cpu.js';

const SERVER = '198.18.0.200';
const CIDR = '198.18.0.0/25';
const CPU = 0;
/** --unpinned: no CPU for anything (set once in main). */
let pinCpu: number | undefined = CPU;

/** `cmd args` under taskset -c CPU, or as it is when unpinned. */
const pinnedArgv = (cmd: string, args: readonly string[]): [string, string[]] => pinned(pinCpu, cmd, args);

/** kclient modes: the server port, what counts as one operation, and the rate's key. */
const MODES: Record<string, { port: string; count: string; per?: number; rate?: string }> = {
  rr: { port: '7', count: 'transactions' },
  crr: { port: '7', count: 'connections' },
  'udp-rr': { port: '7', count: 'transactions' },
  // Bulk (only with --modes): an operation is a MB carried, the rate Gbit/s.
  'stream-from': { port: '19', count: 'bytes', per: 1e6, rate: 'gbps' },
  'stream-to': { port: '9', count: 'bytes', per: 1e6, rate: 'gbps' },
};

/** User and system CPU seconds of `pid` so far. */
function cpuSeconds(pid: number): { user: number; sys: number } {
  const { user, system } = processCpu(pid);
  return { user, sys: system };
}

interface ModeCost {
  readonly rate: number;
  /** CPU seconds per 10^4 transactions (connections for crr). */
  readonly user: number;
  readonly sys: number;
  readonly total: number;
  readonly totals: readonly number[];
  /** User CPU of each run, per 10^4. */
  readonly users: readonly number[];
  /** Packets both ways on the namespace's NAT device per operation. */
  readonly packets: number;
  /** Bytes allocated per operation (with --alloc), else NaN. */
  readonly bytes: number;
}

/** Packets received plus sent by the namespace's NAT device (tun0 or tap0). */
async function devicePackets(ns: Netns): Promise<number> {
  const links = JSON.parse(await ns.ip(['-s', '-j', 'link', 'show'])) as Array<{ ifname: string; stats64?: { rx: { packets: number }; tx: { packets: number } } }>;
  const dev = links.find((l) => l.ifname === 'tun0' || l.ifname === 'tap0');
  return dev?.stats64 === undefined ? 0 : dev.stats64.rx.packets + dev.stats64.tx.packets;
}

/** name, namespace, PID, and with --alloc the file the nat's GC trace goes to. */
type Target = readonly [name: string, ns: Netns, pid: number, gcTrace?: string];

/** Bytes the GC trace in `file` reports allocated after byte `from` (sum of `allocated=`). */
function allocatedSince(file: string, from: number): number {
  const text = readFileSync(file).subarray(from).toString('utf8');
  let sum = 0;
  for (const m of text.matchAll(/\ballocated=(\d+)/g)) sum += Number(m[1]);
  return sum;
}

/**
 * Starts a nat in H for namespace `ns`; with `gcTrace`, its stdout (the GC trace and the
 * `ready` line) is also copied into that file. bash execs node, so the PID is still node's.
 */
function startNat(h: Netns, ns: Netns, cli: string, nodeArgs: readonly string[], gcTrace: string | undefined, extra: readonly string[] = []): ReturnType<Netns['spawn']> {
  const natArgs = [cli, 'nat', '--netns', ns.name, '--cidr', CIDR, '--disable-dns', ...extra];
  if (gcTrace === undefined) return h.spawn(...pinnedArgv(process.execPath, [...nodeArgs, ...natArgs]));
  const script = 'exec > >(tee "$0"); exec "${@:1}" --trace-gc-nvp "${@:2}"';
  const [cmd, rest] = pinnedArgv(process.execPath, []);
  return h.spawn('bash', ['-c', script, gcTrace, cmd, ...rest, ...nodeArgs, ...natArgs]);
}

/**
 * `runs` runs of `mode` against each target, alternating so that a change in the load touches all
 * alike, in ABBA order (a, b, then b, a, ...): whichever nat ran first in a pair showed 2-8 % less
 * user time in session 14, so each target goes first in half the pairs.
 */
async function measureMode(targets: readonly Target[], tools: KernelTools, mode: string, seconds: number, runs: number): Promise<ModeCost[]> {
  const samples = targets.map(() => ({ rates: [] as number[], users: [] as number[], syss: [] as number[], totals: [] as number[], packets: [] as number[], bytes: [] as number[] }));
  const forward = [...targets.keys()];
  const backward = [...forward].reverse();
  for (let i = 0; i < runs; i++) {
    for (const k of i % 2 === 0 ? forward : backward) {
      const [, ns, pid, gcTrace] = targets[k];
      const packetsBefore = await devicePackets(ns);
      const traceFrom = gcTrace === undefined ? 0 : statSync(gcTrace).size;
      const before = cpuSeconds(pid);
      const r = await client(ns, { cpu: pinCpu }, tools, [mode, SERVER, MODES[mode].port, String(seconds)], (seconds + 15) * 1000);
      const after = cpuSeconds(pid);
      const n = Number(r[MODES[mode].count]) / (MODES[mode].per ?? 1);
      const s = samples[k];
      s.packets.push(((await devicePackets(ns)) - packetsBefore) / n);
      s.rates.push(Number(r[MODES[mode].rate ?? 'rate']));
      s.users.push(((after.user - before.user) / n) * 1e4);
      s.syss.push(((after.sys - before.sys) / n) * 1e4);
      s.totals.push(((after.user + after.sys - before.user - before.sys) / n) * 1e4);
      s.bytes.push(gcTrace === undefined ? NaN : allocatedSince(gcTrace, traceFrom) / n);
    }
  }
  return samples.map((s) => ({ rate: median(s.rates), user: median(s.users), sys: median(s.syss), total: median(s.totals), totals: s.totals, users: s.users, packets: median(s.packets), bytes: median(s.bytes) }));
}

/** strace -c over one run: system calls per transaction, by name (the most frequent first). */
async function syscallsPerTransaction(ns: Netns, pid: number, tools: KernelTools, mode: string, seconds: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'rx-nat-strace-'));
  const out = join(dir, 'strace.txt');
  const tracer = spawn('strace', ['-c', '-f', '-o', out, '-p', String(pid)], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const r = await client(ns, { cpu: pinCpu }, tools, [mode, SERVER, MODES[mode].port, String(seconds)], (seconds + 15) * 1000);
  const exited = new Promise((resolve) => tracer.once('exit', resolve));
  tracer.kill('SIGINT');
  await exited;
  // Per operation: per transaction, or per MB for the bulk modes.
  const n = Number(r[MODES[mode].count]) / (MODES[mode].per ?? 1);
  const lines = readFileSync(out, 'utf8').split('\n');
  rmSync(dir, { recursive: true, force: true });
  const calls: string[] = [];
  let total = 0;
  for (const line of lines) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/.exec(line);
    if (m === null || m[2] === 'total') continue;
    total += Number(m[1]);
    calls.push(`${m[2]} ${(Number(m[1]) / n).toFixed(2)}`);
  }
  const unit = MODES[mode].per === 1e6 ? 'MB' : MODES[mode].count.replace(/s$/, '');
  return `${(total / n).toFixed(2)} per ${unit} (${calls.join(', ')})`;
}

/** `perf record -g` of the nat process over one run (run the nat with --node-arg --perf-basic-prof to name JIT frames). */
async function perfRecord(ns: Netns, pid: number, tools: KernelTools, mode: string, seconds: number, out: string): Promise<number> {
  const args = ['record', '-q', '-F', '4000', '-g', ...(process.env.NAT_COST_PERF_USER === '1' ? ['--all-user'] : []), '-o', out, '-p', String(pid)];
  let done = NaN;
  await perfDuring(args, async () => {
    const r = await client(ns, { cpu: pinCpu }, tools, [mode, SERVER, MODES[mode].port, String(seconds)], (seconds + 15) * 1000);
    done = Number(r[MODES[mode].count]) / (MODES[mode].per ?? 1);
  }, 500);
  return done;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const positional: string[] = [];
  const nodeArgs: string[] = [];
  const natExtra: string[] = [];
  const baseExtra: string[] = [];
  let slirp = false;
  let trace = false;
  let perfDir: string | undefined;
  let base: string | undefined;
  let alloc = false;
  let idle = 0;
  let modes = ['rr', 'crr', 'udp-rr'];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--slirp') slirp = true;
    else if (argv[i] === '--strace') trace = true;
    else if (argv[i] === '--perf') perfDir = argv[++i];
    else if (argv[i] === '--base') base = argv[++i];
    else if (argv[i] === '--alloc') alloc = true;
    else if (argv[i] === '--node-arg') nodeArgs.push(argv[++i]);
    else if (argv[i] === '--nat-arg') natExtra.push(argv[++i]);
    else if (argv[i] === '--base-arg') baseExtra.push(argv[++i]);
    else if (argv[i] === '--modes') modes = argv[++i].split(',');
    else if (argv[i] === '--unpinned') pinCpu = undefined;
    else if (argv[i] === '--idle') idle = Number(argv[++i]);
    else positional.push(argv[i]);
  }
  const seconds = Number(positional[0] ?? '3');
  const runs = Number(positional[1] ?? '3');
  const cli = fileURLToPath(new URL('../../dist/bin/rx-netstack.js', import.meta.url));
  const made: Netns[] = [];
  const traceDir = alloc ? mkdtempSync(join(tmpdir(), 'rx-nat-gc-')) : undefined;
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  try {
    const tools = await buildKernelTools();
    const h = await Netns.create('h');
    made.push(h);
    const r = await Netns.create('r');
    made.push(r);
    await h.addAddress(`${SERVER}/32`, 'lo');
    await waitForLine(h.spawn(...pinnedArgv(tools.server, ['7', '9', '19', '7'])), 'ready', 5_000, 'kserver');
    const natTrace = traceDir === undefined ? undefined : join(traceDir, 'nat.txt');
    const nat = startNat(h, r, cli, nodeArgs, natTrace, natExtra);
    await waitForLine(nat, 'ready', 15_000, 'rx-netstack nat');
    const targets: Target[] = [['nat', r, nat.pid!, natTrace]];
    if (base !== undefined) {
      const r2 = await Netns.create('b');
      made.push(r2);
      const baseCli = join(base, 'dist/bin/rx-netstack.js');
      const baseTrace = traceDir === undefined ? undefined : join(traceDir, 'base.txt');
      const other = startNat(h, r2, baseCli, nodeArgs, baseTrace, baseExtra);
      await waitForLine(other, 'ready', 15_000, `rx-netstack nat from ${base}`);
      targets.push(['base', r2, other.pid!, baseTrace]);
    }
    if (slirp) {
      const s = await Netns.create('s');
      made.push(s);
      const child = h.spawn(...pinnedArgv('slirp4netns', ['--configure', '--cidr', CIDR, '--disable-dns', '--netns-type=path', `/var/run/netns/${s.name}`, 'tap0']));
      for (let i = 0; i < 300 && !(await s.ip(['route', 'show', 'default'])).includes('default'); i++) await new Promise((res) => setTimeout(res, 50));
      targets.push(['slirp4netns', s, child.pid!]);
    }
    if (idle > 0) {
      // Killed with their namespaces (Netns.destroy ends what runs in it).
      const hold = `import socket, sys, time\nc = [socket.create_connection(('${SERVER}', 7), timeout=5) for _ in range(${idle})]\nprint('ready', flush=True)\ntime.sleep(3600)`;
      for (const [name, ns] of targets) await waitForLine(ns.spawn('python3', ['-u', '-c', hold]), 'ready', 15_000, `${idle} idle connections through ${name}`);
      log(`${idle} idle connections open through each NAT`);
    }
    log(`load before: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    // Warm-up (the JIT compiles every path before it is timed).
    for (const [, ns] of targets) for (const mode of modes) await client(ns, { cpu: pinCpu }, tools, [mode, SERVER, MODES[mode].port, '1'], 20_000);
    for (const mode of modes) {
      const costs = await measureMode(targets, tools, mode, seconds, runs);
      for (const [k, [name, ns, pid]] of targets.entries()) {
        const c = costs[k];
        log(`${mode} ${name}: ${c.rate >= 100 ? Math.round(c.rate) : c.rate.toFixed(2)}/s; CPU per 10^4: user ${c.user.toFixed(4)} s, sys ${c.sys.toFixed(4)} s, total ${c.total.toFixed(4)} s (runs ${c.totals.map((t) => t.toFixed(3)).join(' ')}; user ${c.users.map((t) => t.toFixed(4)).join(' ')}); ${c.packets.toFixed(2)} packets${Number.isNaN(c.bytes) ? '' : `; ${Math.round(c.bytes)} bytes allocated`}`);
        if (perfDir !== undefined && name === (process.env.NAT_COST_PERF_OF ?? 'nat')) log(`${mode} ${name}: perf record of ${await perfRecord(ns, pid, tools, mode, Math.min(seconds, 2), join(perfDir, `${mode}.data`))} operations (and perf's own start and stop) in ${join(perfDir, `${mode}.data`)}`);
        if (trace) log(`${mode} ${name} syscalls: ${await syscallsPerTransaction(ns, pid, tools, mode, Math.min(seconds, 2))}`);
      }
      if (costs.length > 1) log(`${mode}: CPU per operation ${targets[0][0]} / ${targets[1][0]} = ${(costs[0].total / costs[1].total).toFixed(3)} (user ${(costs[0].user / costs[1].user).toFixed(3)})${alloc && targets[1][3] !== undefined ? `, bytes allocated ${(costs[0].bytes / costs[1].bytes).toFixed(3)}` : ''}`);
    }
    log(`load after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  } finally {
    for (const ns of made.reverse()) await ns.destroy();
    if (traceDir !== undefined) rmSync(traceDir, { recursive: true, force: true });
  }
}

await main();
