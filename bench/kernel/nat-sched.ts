/**
 * The whole request/response chain through `rx-netstack nat` and through slirp4netns, per
 * transaction, in the same run: for each of the client (kclient), the server (kserver) and the
 * relay (the nat or slirp4netns), its user and system CPU and its voluntary and involuntary
 * context switches; and CPU 0's busy time (user, system, irq, softirq from /proc/stat), with what
 * is left of it once the three processes' CPU is taken away (kernel work charged to no one of
 * them: softirq time, kworkers; and other load on CPU 0, which a shared machine has).
 *
 * Topology as in nat-cost.ts (H with kserver and both relays, R behind the nat's TUN device, S
 * behind slirp4netns's TAP device); everything pinned to CPU 0 unless --unpinned.
 *
 *   node --import tsx bench/kernel/nat-sched.ts [SECONDS] [RUNS] [--modes udp-rr,rr] [--unpinned]
 *        [--perf-sched DIR] [--base DIR] [--nat-arg ARG]... [--base-arg ARG]... [--batch | --slice-us N]
 *        [--relays-on CPU]
 *
 * --perf-sched DIR records `perf sched record` of CPU 0 (all CPUs with --unpinned) over one
 * extra one-second run per target and mode into DIR/MODE-NAME.data (read it with
 * `perf sched timehist -w -i FILE`: who wakes whom, in order). --base DIR adds a second nat from
 * another build (DIR/dist/bin/rx-netstack.js), measured alternately; --nat-arg goes to both
 * nats, --base-arg to the base only (`--base . --base-arg --sched-slice --base-arg 0`). --batch (SCHED_BATCH) and
 * --slice-us N (SCHED_OTHER with an EEVDF slice of N us) set the first nat's main thread's
 * scheduling from outside, for experiments (`--base .` gives the same build untouched beside it). The client's figures come
 * from GNU time (`%U %S %w %c`: CPU to 10 ms, so use runs of a few seconds). --relays-on CPU pins
 * only the relays (the nats and slirp4netns) to CPU and leaves the client and the server to the
 * scheduler (busy time then of all CPUs): a nat pinned by its user, its peers free to move.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernelTools, type KernelTools } from './build.js';
import { Netns, waitForLine } from './netns.js';
import { median } from '../lib/stats.js';
import { perfDuring } from '../lib/perf-during.js';
import { setSched } from './sched-attr.js';

const SERVER = '198.18.0.200';
const CIDR = '198.18.0.0/25';
const CPU = 0;
const TICK = 100; // USER_HZ: /proc's clock ticks per second

interface ProcFigures {
  user: number;
  sys: number;
  vol: number;
  invol: number;
}

/** CPU seconds and context switches of `pid` so far. */
function procFigures(pid: number): ProcFigures {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const vol = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)![1]);
  const invol = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)![1]);
  return { user: Number(fields[11]) / TICK, sys: Number(fields[12]) / TICK, vol, invol };
}

/** CPU 0's (or all CPUs') busy seconds so far: user+nice, system, irq, softirq. */
function cpuBusy(unpinned: boolean): { user: number; sys: number; irq: number; softirq: number } {
  const name = unpinned ? 'cpu ' : `cpu${CPU} `;
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(name))!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  return { user: (f[0] + f[1]) / TICK, sys: f[2] / TICK, irq: f[5] / TICK, softirq: f[6] / TICK };
}

const diff = (a: ProcFigures, b: ProcFigures): ProcFigures => ({ user: b.user - a.user, sys: b.sys - a.sys, vol: b.vol - a.vol, invol: b.invol - a.invol });

/** One client run under GNU time: its result and its own figures. */
async function timedClient(ns: Netns, tools: KernelTools, args: readonly string[], unpinned: boolean, seconds: number): Promise<{ r: Record<string, number | string>; c: ProcFigures }> {
  const dir = mkdtempSync(join(tmpdir(), 'rx-nat-sched-'));
  const out = join(dir, 'time.txt');
  try {
    const prog = unpinned ? [tools.client] : ['taskset', '-c', String(CPU), tools.client];
    const res = await ns.exec('/usr/bin/time', ['-f', '%U %S %w %c', '-o', out, ...prog, ...args], (seconds + 15) * 1000);
    const r = JSON.parse(res.stdout.trim().split('\n').pop() ?? '') as Record<string, number | string>;
    if (r.error !== undefined) throw new Error(`kclient ${args.join(' ')}: ${r.error}`);
    const [user, sys, vol, invol] = readFileSync(out, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    return { r, c: { user, sys, vol, invol } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Target = readonly [name: string, ns: Netns, pid: number];

interface RunFigures {
  rate: number;
  client: ProcFigures;
  server: ProcFigures;
  relay: ProcFigures;
  busy: number;
  softirq: number;
  rest: number;
}

async function oneRun(t: Target, serverPid: number, tools: KernelTools, mode: string, seconds: number, unpinned: boolean): Promise<RunFigures> {
  const [, ns, pid] = t;
  const s0 = procFigures(serverPid);
  const r0 = procFigures(pid);
  const b0 = cpuBusy(unpinned);
  const { r, c } = await timedClient(ns, tools, [mode, SERVER, '7', String(seconds)], unpinned, seconds);
  const b1 = cpuBusy(unpinned);
  const s1 = procFigures(serverPid);
  const r1 = procFigures(pid);
  const n = Number(r.transactions);
  const per = (x: ProcFigures): ProcFigures => ({ user: (x.user / n) * 1e6, sys: (x.sys / n) * 1e6, vol: x.vol / n, invol: x.invol / n });
  const server = per(diff(s0, s1));
  const relay = per(diff(r0, r1));
  const client = per(c);
  const busy = ((b1.user + b1.sys + b1.irq + b1.softirq - b0.user - b0.sys - b0.irq - b0.softirq) / n) * 1e6;
  const softirq = ((b1.softirq - b0.softirq) / n) * 1e6;
  const mine = [client, server, relay].reduce((a, x) => a + x.user + x.sys, 0);
  return { rate: Number(r.rate), client, server, relay, busy, softirq, rest: busy - mine };
}

function medianFigures(runs: readonly RunFigures[]): RunFigures {
  const m = (f: (r: RunFigures) => number): number => median(runs.map(f));
  const mp = (k: 'client' | 'server' | 'relay'): ProcFigures => ({ user: m((r) => r[k].user), sys: m((r) => r[k].sys), vol: m((r) => r[k].vol), invol: m((r) => r[k].invol) });
  return { rate: m((r) => r.rate), client: mp('client'), server: mp('server'), relay: mp('relay'), busy: m((r) => r.busy), softirq: m((r) => r.softirq), rest: m((r) => r.rest) };
}

const fmt = (p: ProcFigures): string => `${p.user.toFixed(2)}+${p.sys.toFixed(2)} us, cs ${p.vol.toFixed(2)}/${p.invol.toFixed(2)}`;

async function perfSched(ns: Netns, tools: KernelTools, mode: string, unpinned: boolean, out: string): Promise<void> {
  await perfDuring(['sched', 'record', '-q', ...(unpinned ? ['-a'] : ['-C', String(CPU)]), '-o', out], () => timedClient(ns, tools, [mode, SERVER, '7', '1'], unpinned, 1), 700);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const positional: string[] = [];
  const natArgs: string[] = [];
  const baseArgs: string[] = [];
  let unpinned = false;
  let perfDir: string | undefined;
  let base: string | undefined;
  let modes = ['udp-rr'];
  let batch = false;
  let sliceUs: number | undefined;
  let relayCpu: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--unpinned') unpinned = true;
    else if (argv[i] === '--perf-sched') perfDir = argv[++i];
    else if (argv[i] === '--base') base = argv[++i];
    else if (argv[i] === '--nat-arg') natArgs.push(argv[++i]);
    else if (argv[i] === '--base-arg') baseArgs.push(argv[++i]);
    else if (argv[i] === '--batch') batch = true;
    else if (argv[i] === '--slice-us') sliceUs = Number(argv[++i]);
    else if (argv[i] === '--modes') modes = argv[++i].split(',');
    else if (argv[i] === '--relays-on') relayCpu = Number(argv[++i]);
    else positional.push(argv[i]);
  }
  const seconds = Number(positional[0] ?? '3');
  const runs = Number(positional[1] ?? '3');
  if (relayCpu !== undefined) unpinned = true; // the client, the server and the busy time
  const pin = (prog: string, args: readonly string[]): [string, string[]] => (unpinned ? [prog, [...args]] : ['taskset', ['-c', String(CPU), prog, ...args]]);
  const pinRelay = (prog: string, args: readonly string[]): [string, string[]] => (relayCpu === undefined ? pin(prog, args) : ['taskset', ['-c', String(relayCpu), prog, ...args]]);
  const cli = fileURLToPath(new URL('../../dist/bin/rx-netstack.js', import.meta.url));
  const made: Netns[] = [];
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  try {
    const tools = await buildKernelTools();
    const h = await Netns.create('h');
    made.push(h);
    await h.addAddress(`${SERVER}/32`, 'lo');
    const server = h.spawn(...pin(tools.server, ['7', '9', '19', '7']));
    await waitForLine(server, 'ready', 5_000, 'kserver');
    const targets: Target[] = [];
    const startNat = async (name: string, dist: string, extra: readonly string[]): Promise<void> => {
      const ns = await Netns.create(name.slice(0, 1));
      made.push(ns);
      const nat = h.spawn(...pinRelay(process.execPath, [dist, 'nat', '--netns', ns.name, '--cidr', CIDR, '--disable-dns', ...natArgs, ...extra]));
      await waitForLine(nat, 'ready', 15_000, `rx-netstack nat (${name})`);
      targets.push([name, ns, nat.pid!]);
    };
    await startNat('nat', cli, []);
    // Experiments on the first nat's main thread only (the base, if any, keeps the default).
    if (batch || sliceUs !== undefined) setSched(targets[0][2], { batch, sliceUs });
    if (base !== undefined) await startNat('base', join(base, 'dist/bin/rx-netstack.js'), baseArgs);
    const s = await Netns.create('s');
    made.push(s);
    const slirp = h.spawn(...pinRelay('slirp4netns', ['--configure', '--cidr', CIDR, '--disable-dns', '--netns-type=path', `/var/run/netns/${s.name}`, 'tap0']));
    for (let i = 0; i < 300 && !(await s.ip(['route', 'show', 'default'])).includes('default'); i++) await new Promise((res) => setTimeout(res, 50));
    targets.push(['slirp4netns', s, slirp.pid!]);
    log(`load before: ${readFileSync('/proc/loadavg', 'utf8').trim()}; ${relayCpu !== undefined ? `relays pinned to CPU ${relayCpu}, client and server unpinned` : unpinned ? 'unpinned' : `pinned to CPU ${CPU}`}`);
    for (const [, ns] of targets) for (const mode of modes) await timedClient(ns, tools, [mode, SERVER, '7', '1'], unpinned, 1);
    for (const mode of modes) {
      const all = targets.map(() => [] as RunFigures[]);
      for (let i = 0; i < runs; i++) for (const [k, t] of targets.entries()) all[k].push(await oneRun(t, server.pid!, tools, mode, seconds, unpinned));
      for (const [k, [name]] of targets.entries()) {
        const f = medianFigures(all[k]);
        log(`${mode} ${name}: ${Math.round(f.rate)}/s (runs ${all[k].map((r) => Math.round(r.rate)).join(' ')}); per transaction: client ${fmt(f.client)}; server ${fmt(f.server)}; relay ${fmt(f.relay)}; CPU busy ${f.busy.toFixed(2)} us (softirq ${f.softirq.toFixed(2)}, not charged to the three ${f.rest.toFixed(2)})`);
      }
      if (perfDir !== undefined) for (const [name, ns] of targets) await perfSched(ns, tools, mode, unpinned, join(perfDir, `${mode}-${name}.data`));
    }
    log(`load after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  } finally {
    for (const ns of made.reverse()) await ns.destroy();
  }
}

await main();
