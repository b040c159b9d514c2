/**
 * What the TAP offloads cost request/response exchanges: one `rx-netstack serve` per variant, each
 * in its own namespace, the same tree, measured alternately (A, B, C, A, ...), everything pinned
 * to CPU 0. Variants:
 *
 * - `on`:    IFF_VNET_HDR with checksum offload and TSO (TUNSETOFFLOAD CSUM|TSO4|TSO6)
 * - `off`:   a plain TAP device (no virtio_net_hdr)
 * - `base`:  as `on`, another tree's build (--base DIR: DIR/dist/bin/rx-netstack.js)
 * - `txoff`: as `on`, with the kernel side's transmit checksum off (`ethtool -K <tap> tx off`
 *            inside the namespace: requests arrive complete, not NEEDS_CSUM)
 *
 * Per round and variant: the rate, serve's user and system CPU per 10^4 transactions, and CPU 0's
 * whole busy time per 10^4 (/proc/stat: serve, the client, the softirqs; anything else on CPU 0
 * too, hence alternating rounds and medians).
 *
 *   node --import tsx bench/kernel/offload-ab.ts [ROUNDS=6] [SECONDS=3] [--modes udp-rr,rr,crr] [--variants on,off,txoff,base] [--cli PATH] [--base DIR]
 *   FEATURES=1 ...    # print each device's ethtool -k features that are on (not fixed)
 *   PERF=prefix ...   # perf record -g of CPU 0 during each variant's first round (prefix.MODE.VARIANT)
 *
 * Root; build dist first (or --cli). Namespaces and addresses as tap-bench.ts (198.18.0.0/24
 * inside them only), deleted afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildKernelTools } from './build.js';
import { Netns, waitForLine } from './netns.js';
import { client, pinned, STACK_IP } from './tap-bench.js';
import { median } from '../lib/stats.js';
import { processCpu } from '../lib/proc-cpu.js';

const CPU = 0;
const TAP = 'rxb0';
const COUNT: Record<string, string> = { rr: 'transactions', crr: 'connections', 'udp-rr': 'transactions' };

/** CPU `cpu`'s busy seconds so far (user, nice, system, irq, softirq of /proc/stat). */
function cpuBusy(cpu: number): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `))!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  return (f[0] + f[1] + f[2] + f[5] + f[6]) / 100;
}

const argv = process.argv.slice(2);
const positional: string[] = [];
let modes = ['udp-rr'];
let variants = ['on', 'off'];
let baseCli: string | undefined;
let cli = fileURLToPath(new URL('../../dist/bin/rx-netstack.js', import.meta.url));
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--modes') modes = argv[++i].split(',');
  else if (argv[i] === '--variants') variants = argv[++i].split(',');
  else if (argv[i] === '--cli') cli = argv[++i];
  else if (argv[i] === '--base') baseCli = `${argv[++i]}/dist/bin/rx-netstack.js`;
  else positional.push(argv[i]);
}
const rounds = Number(positional[0] ?? 6);
const seconds = positional[1] ?? '3';

function perfStart(args: readonly string[]): ChildProcess {
  return spawn('perf', args, { stdio: 'ignore' });
}

async function perfStop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  await new Promise((done) => {
    p.once('exit', done);
    p.kill('SIGINT');
  });
}

/** Nanoseconds `pid` has run so far (/proc/PID/schedstat's first field: exact, not in ticks). */
function runNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

/** kclient pinned to CPU 0 under `perf stat -e task-clock`: its JSON line and the nanoseconds it ran. */
async function timedClient(ns: Netns, kclient: string, args: readonly string[], timeoutMs: number): Promise<{ result: Record<string, number | string>; clientNs: number }> {
  const out = `/tmp/offload-ab-${process.pid}.stat`;
  const r = await ns.exec('perf', ['stat', '-x', ',', '-e', 'task-clock', '-o', out, '--', 'taskset', '-c', String(CPU), kclient, ...args], timeoutMs);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  const result = JSON.parse(line) as Record<string, number | string>;
  if (result.error !== undefined) throw new Error(`kclient ${args.join(' ')}: ${result.error}`);
  const stat = readFileSync(out, 'utf8').split('\n').find((l) => l.includes('task-clock'))!;
  // task-clock is given in msec.
  return { result, clientNs: Number(stat.split(',')[0]) * 1e6 };
}

/** `rx-netstack serve` for variant `v` in a namespace of its own, as tap-bench.ts's stackNamespace. */
async function serveVariant(v: string, made: Netns[]): Promise<{ ns: Netns; serve: ChildProcess }> {
  const ns = await Netns.create(`o${v}`);
  made.push(ns);
  await ns.ip(['tuntap', 'add', 'dev', TAP, 'mode', 'tap']);
  await ns.addAddress('198.18.0.1/24', TAP);
  await ns.ip(['link', 'set', TAP, 'up']);
  if (v === 'base' && baseCli === undefined) throw new Error('variant base needs --base DIR');
  const [prog, args] = pinned(CPU, process.execPath, [v === 'base' ? baseCli! : cli, 'serve', '--tap', TAP, '--ip', `${STACK_IP}/24`, '--services', 'echo:7,discard:9,chargen:19,udp-echo:7']);
  const env: Record<string, string> = { RX_NETSTACK_TAP_OFFLOAD: v === 'off' ? '0' : '1' };
  const serve = ns.spawn(prog, args, env);
  await waitForLine(serve, 'ready', 15_000, `rx-netstack serve (${v})`);
  return { ns, serve };
}

const made: Netns[] = [];
try {
  const tools = await buildKernelTools();
  const served: Array<{ name: string; ns: Netns; pid: number }> = [];
  for (const v of variants) {
    const { ns, serve } = await serveVariant(v, made);
    if (v === 'txoff') await ns.exec('ethtool', ['-K', TAP, 'tx', 'off']);
    served.push({ name: v, ns, pid: serve.pid! });
    if (process.env.FEATURES !== undefined) {
      const k = await ns.exec('ethtool', ['-k', TAP]);
      const on = k.stdout.split('\n').filter((l) => /: on/.test(l) && !/fixed/.test(l)).map((l) => l.trim().replace(/: on.*/, ''));
      console.log(`${v}: the kernel side's features on (ethtool -k, not fixed): ${on.join(', ')}`);
    }
  }
  for (const s of served) for (const mode of modes) await client(s.ns, { cpu: CPU }, tools, [mode, STACK_IP, '7', '1'], 20_000);
  for (const mode of modes) {
    const fig: Record<string, { rate: number[]; user: number[]; sys: number[]; busy: number[]; serveUs: number[]; clientUs: number[] }> = {};
    const recorded = new Set<string>();
    for (let i = 0; i < rounds; i++) {
      // Alternate the order too, so neither variant always runs first in a round.
      const order = i % 2 === 0 ? served : [...served].reverse();
      for (const s of order) {
        const rec = process.env.PERF !== undefined && !recorded.has(s.name)
          ? perfStart(['record', '-q', '-g', '-C', String(CPU), '-e', 'cpu-clock', '-F', '2999', '-o', `${process.env.PERF}.${mode}.${s.name}`]) : undefined;
        if (rec !== undefined) recorded.add(s.name);
        const p0 = processCpu(s.pid);
        const r0 = runNs(s.pid);
        const b0 = cpuBusy(CPU);
        const { result: r, clientNs } = await timedClient(s.ns, tools.client, [mode, STACK_IP, '7', seconds], (Number(seconds) + 15) * 1000);
        const b1 = cpuBusy(CPU);
        const r1 = runNs(s.pid);
        const p1 = processCpu(s.pid);
        if (rec !== undefined) await perfStop(rec);
        const n = Number(r[COUNT[mode]]) / 1e4;
        const f = (fig[s.name] ??= { rate: [], user: [], sys: [], busy: [], serveUs: [], clientUs: [] });
        f.rate.push(Number(r.rate));
        f.user.push((p1.user - p0.user) / n);
        f.sys.push((p1.system - p0.system) / n);
        f.busy.push((b1 - b0) / n);
        f.serveUs.push((r1 - r0) / 1e3 / (n * 1e4));
        f.clientUs.push(clientNs / 1e3 / (n * 1e4));
        console.log(`${mode} round ${i + 1} ${s.name}: ${Number(r.rate).toFixed(0)}/s, serve user ${((p1.user - p0.user) / n).toFixed(4)} system ${((p1.system - p0.system) / n).toFixed(4)} s/10^4, CPU 0 busy ${((b1 - b0) / n).toFixed(4)} s/10^4; run time per transaction serve ${f.serveUs.at(-1)!.toFixed(3)} us, client ${f.clientUs.at(-1)!.toFixed(3)} us`);
      }
    }
    // Paired ratios against the first variant, round by round (the load moves both alike).
    const first = fig[served[0].name];
    for (const s of served.slice(1)) {
      const f = fig[s.name];
      const pair = (a: number[], b: number[]): string => median(a.map((x, k) => x / b[k])).toFixed(3);
      console.log(`${mode} ${s.name}/${served[0].name} paired medians: rate ${pair(f.rate, first.rate)}, serve run time ${pair(f.serveUs, first.serveUs)}, client run time ${pair(f.clientUs, first.clientUs)}, both ${pair(f.serveUs.map((x, k) => x + f.clientUs[k]), first.serveUs.map((x, k) => x + first.clientUs[k]))}`);
    }
    for (const s of served) {
      const f = fig[s.name];
      console.log(`${mode} median ${s.name}: ${median(f.rate).toFixed(0)}/s, serve user ${median(f.user).toFixed(4)} system ${median(f.sys).toFixed(4)}, CPU 0 busy ${median(f.busy).toFixed(4)} s/10^4; run time per transaction serve ${median(f.serveUs).toFixed(3)} us, client ${median(f.clientUs).toFixed(3)} us (rates ${f.rate.map((x) => x.toFixed(0)).join(' ')})`);
    }
  }
} finally {
  for (const ns of made.reverse()) await ns.destroy();
}
