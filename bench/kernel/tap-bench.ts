/**
 * rx-netstack over TAP against the Linux kernel over veth, measured by the same kernel-side
 * client (kclient.c) in the same run.
 *
 *   namespace S:  TAP device rxb0, kernel side 198.18.0.1/24 + the client
 *                 `rx-netstack serve` attached to rxb0 at 198.18.0.2 (the compiled CLI)
 *   namespace P:  the same, with the TAP offloads off (RX_NETSTACK_TAP_OFFLOAD=0)
 *   namespace C:  veth rxv0 198.18.0.1/24 + the client          } the kernel reference
 *   namespace K:  veth rxv1 198.18.0.2/24 + kserver.c           }
 *
 * Runs alternate between the targets (stack, stack without offload, kernel, stack...) so drift
 * affects all alike; each figure is the median of its runs. With `cpu` set, the stack, the kernel
 * server and the client are all pinned to that CPU (`taskset -c`): on a 2-vCPU machine a
 * cross-CPU wake-up costs tens of microseconds and makes request/response figures jump.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { buildKernelTools, type KernelTools } from './build.js';
import { Netns, waitForLine } from './netns.js';
import { median, medianRatio } from '../lib/stats.js';

export interface TapBenchOptions {
  /** Seconds per run of each figure. */
  readonly durationS: number;
  readonly runs: number;
  readonly pingCount: number;
  /** CPU to pin everything to; undefined: no pinning. */
  readonly cpu: number | undefined;
  /** Path of the compiled CLI (dist/bin/rx-netstack.js). */
  readonly cli: string;
  /** Log progress lines. */
  readonly log: (line: string) => void;
  /** Also run the 10,000-connection scale test with this many connections (0: skip). */
  readonly scaleConnections: number;
  /** Also measure the stack with the TAP offloads off. */
  readonly plain: boolean;
}

export interface Figure {
  /** rx-netstack over TAP. */
  readonly stack: number;
  /** Linux over veth. */
  readonly kernel: number;
  /** stack / kernel, or kernel / stack for latencies (higher is better either way). */
  readonly ratio: number;
  /**
   * The median of the run-by-run ratios (each stack run against the kernel run of the same round,
   * seconds apart): steadier than `ratio` when the machine changes speed during a figure's runs.
   */
  readonly pairedRatio: number;
  readonly stackRuns: readonly number[];
  readonly kernelRuns: readonly number[];
  /** The stack with the TAP offloads off, when measured. */
  readonly plain?: number;
  readonly plainRatio?: number;
  readonly plainPairedRatio?: number;
  readonly plainRuns?: readonly number[];
}

export interface ScaleResult {
  readonly requested: number;
  readonly verified: number;
  readonly failed: number;
  readonly seconds: number;
  /** Growth of the stack process's resident memory per open connection (VmRSS, no GC forced). */
  readonly rssBytesPerConnection: number;
  readonly passed: boolean;
}

export interface TapBenchResult {
  readonly bulkToStack: Figure;
  readonly bulkFromStack: Figure;
  readonly tcpRr: Figure;
  readonly tcpCrr: Figure;
  readonly udpRr: Figure;
  /** Median RTT in ms; ratio is kernel RTT / stack RTT. */
  readonly ping: Figure;
  readonly scale?: ScaleResult;
  readonly pinnedCpu: number | undefined;
}

const TAP = 'rxb0';
export const STACK_IP = '198.18.0.2';

/** The namespaces of a TAP benchmark run (also used by the latency section). */
export interface Setup {
  readonly tools: KernelTools;
  readonly s: Netns;
  /** The stack without offloads, when measured. */
  readonly p: Netns | undefined;
  readonly c: Netns;
  readonly k: Netns;
  readonly serve: ChildProcess;
}

export function pinned(cpu: number | undefined, program: string, args: readonly string[]): [string, string[]] {
  return cpu === undefined ? [program, [...args]] : ['taskset', ['-c', String(cpu), program, ...args]];
}

/**
 * A namespace with a TAP device and `rx-netstack serve` on it; `offload` false turns the TAP
 * offloads off; `extraArgs` go to `serve` (e.g. `--busy-poll`), `nodeArgs` to node before the CLI
 * (V8 flags, for comparisons).
 */
export async function stackNamespace(o: Pick<TapBenchOptions, 'cpu' | 'cli'>, made: Netns[], role: string, offload: boolean, extraArgs: readonly string[] = [], nodeArgs: readonly string[] = []): Promise<{ ns: Netns; serve: ChildProcess }> {
  const ns = await Netns.create(role);
  made.push(ns);
  await ns.ip(['tuntap', 'add', 'dev', TAP, 'mode', 'tap']);
  await ns.addAddress('198.18.0.1/24', TAP);
  await ns.ip(['link', 'set', TAP, 'up']);
  const [prog, args] = pinned(o.cpu, process.execPath, [
    ...nodeArgs, o.cli, 'serve', '--tap', TAP, '--ip', `${STACK_IP}/24`, '--services', 'echo:7,discard:9,chargen:19,udp-echo:7', ...extraArgs,
  ]);
  const serve = ns.spawn(prog, args, { RX_NETSTACK_TAP_OFFLOAD: offload ? '1' : '0' });
  await waitForLine(serve, 'ready', 15_000, `rx-netstack serve (offload ${offload ? 'on' : 'off'})`);
  return { ns, serve };
}

/**
 * The kernel reference: namespaces C (the client's side, veth 198.18.0.1) and K (kserver on
 * 198.18.0.2, pinned to `cpu`); both are pushed to `made`.
 */
export async function kernelReference(cpu: number | undefined, tools: KernelTools, made: Netns[]): Promise<{ c: Netns; k: Netns }> {
  const c = await Netns.create('c');
  made.push(c);
  const k = await Netns.create('k');
  made.push(k);
  // Created from inside C, the peer end placed straight into K: nothing touches the root namespace.
  await c.ip(['link', 'add', 'rxv0', 'type', 'veth', 'peer', 'name', 'rxv1', 'netns', k.name]);
  await c.addAddress('198.18.0.1/24', 'rxv0');
  await k.addAddress(`${STACK_IP}/24`, 'rxv1');
  await c.ip(['link', 'set', 'rxv0', 'up']);
  await k.ip(['link', 'set', 'rxv1', 'up']);
  const [kprog, kargs] = pinned(cpu, tools.server, ['7', '9', '19', '7']);
  await waitForLine(k.spawn(kprog, kargs), 'ready', 5_000, 'kserver');
  return { c, k };
}

/** Builds the topology above; every namespace made is pushed to `made` (the caller destroys them). */
export async function setUp(o: Pick<TapBenchOptions, 'cpu' | 'cli' | 'plain'>, made: Netns[]): Promise<Setup> {
  const tools = await buildKernelTools();
  const { ns: s, serve } = await stackNamespace(o, made, 's', true);
  const p = o.plain ? (await stackNamespace(o, made, 'p', false)).ns : undefined;

  const { c, k } = await kernelReference(o.cpu, tools, made);
  return { tools, s, p, c, k, serve };
}

/** Runs kclient in `ns` (pinned like everything else) and returns its JSON line. */
export async function client(ns: Netns, o: Pick<TapBenchOptions, 'cpu'>, tools: KernelTools, args: readonly string[], timeoutMs: number): Promise<Record<string, number | string>> {
  const [prog, pargs] = pinned(o.cpu, tools.client, args);
  const r = await ns.exec(prog, pargs, timeoutMs);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let parsed: Record<string, number | string>;
  try {
    parsed = JSON.parse(line) as Record<string, number | string>;
  } catch {
    throw new Error(`kclient ${args.join(' ')} in ${ns.name}: no result (exit ${r.code}): ${r.stdout} ${r.stderr}`);
  }
  if (parsed.error !== undefined) throw new Error(`kclient ${args.join(' ')} in ${ns.name}: ${parsed.error}`);
  return parsed;
}

function figure(stackRuns: number[], kernelRuns: number[], plainRuns: number[], lowerIsBetter = false): Figure {
  const stack = median(stackRuns);
  const kernel = median(kernelRuns);
  const ratioOf = (x: number): number => (lowerIsBetter ? kernel / x : x / kernel);
  const pairedOf = (runs: readonly number[]): number => (lowerIsBetter ? medianRatio(kernelRuns, runs) : medianRatio(runs, kernelRuns));
  const f: Figure = { stack, kernel, ratio: ratioOf(stack), pairedRatio: pairedOf(stackRuns), stackRuns, kernelRuns };
  if (plainRuns.length === 0) return f;
  const plain = median(plainRuns);
  return { ...f, plain, plainRatio: ratioOf(plain), plainPairedRatio: pairedOf(plainRuns), plainRuns };
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? Number.NaN : Number(m[1]) * 1024;
}

export async function tapBench(o: TapBenchOptions): Promise<TapBenchResult> {
  const made: Netns[] = [];
  try {
    const setup = await setUp(o, made);
    const { tools, s, p, c } = setup;
    const d = String(o.durationS);
    const timeout = (o.durationS + 15) * 1000;
    const measure = async (name: string, args: readonly string[], key: string, lowerIsBetter = false): Promise<Figure> => {
      const stackRuns: number[] = [];
      const plainRuns: number[] = [];
      const kernelRuns: number[] = [];
      for (let i = 0; i < o.runs; i++) {
        stackRuns.push(Number((await client(s, o, tools, args, timeout))[key]));
        if (p !== undefined) plainRuns.push(Number((await client(p, o, tools, args, timeout))[key]));
        kernelRuns.push(Number((await client(c, o, tools, args, timeout))[key]));
      }
      const f = figure(stackRuns, kernelRuns, plainRuns, lowerIsBetter);
      const plainText = f.plain === undefined ? '' : `, without offload ${fmt(f.plain)} (ratio ${f.plainRatio!.toFixed(3)}, run by run ${f.plainPairedRatio!.toFixed(3)})`;
      o.log(`${name}: stack ${fmt(f.stack)}, kernel ${fmt(f.kernel)}, ratio ${f.ratio.toFixed(3)}, run by run ${f.pairedRatio.toFixed(3)}${plainText}`);
      return f;
    };
    // Warm-up (ARP on both sides, the stack's JIT), not measured. Every kind of exchange measured
    // below runs once first: without it the first TCP_CRR runs measured TurboFan compiling the
    // connection's setup and teardown (2 of 5 runs at about half the rate, session 14), and the
    // kernel's side gets the same turns so that neither is measured cold.
    for (const ns of p === undefined ? [s] : [s, p]) {
      await client(ns, o, tools, ['ping', STACK_IP, '50'], 20_000);
      await client(ns, o, tools, ['rr', STACK_IP, '7', '0.5'], 20_000);
      await client(ns, o, tools, ['stream-to', STACK_IP, '9', '0.5'], 20_000);
      // Five seconds: after one, the stack's TCP_CRR rate still climbed for several more (the
      // first runs of a figure measured at 0.55-0.75 of the later ones, session 15).
      await client(ns, o, tools, ['crr', STACK_IP, '7', '5'], 20_000);
      await client(ns, o, tools, ['udp-rr', STACK_IP, '7', '0.5'], 20_000);
    }
    await client(c, o, tools, ['ping', STACK_IP, '5'], 20_000);
    await client(c, o, tools, ['crr', STACK_IP, '7', '1'], 20_000);
    await client(c, o, tools, ['udp-rr', STACK_IP, '7', '0.5'], 20_000);

    const bulkToStack = await measure('bulk to stack (Gbit/s)', ['stream-to', STACK_IP, '9', d], 'gbps');
    const bulkFromStack = await measure('bulk from stack (Gbit/s)', ['stream-from', STACK_IP, '19', d], 'gbps');
    const tcpRr = await measure('TCP_RR (/s)', ['rr', STACK_IP, '7', d], 'rate');
    const tcpCrr = await measure('TCP_CRR (/s)', ['crr', STACK_IP, '7', d], 'rate');
    const udpRr = await measure('UDP_RR (/s)', ['udp-rr', STACK_IP, '7', d], 'rate');
    const ping = await measure('ping RTT (ms)', ['ping', STACK_IP, String(o.pingCount)], 'medianMs', true);

    let scale: ScaleResult | undefined;
    if (o.scaleConnections > 0) scale = await scaleTest(setup, o);
    return { bulkToStack, bulkFromStack, tcpRr, tcpCrr, udpRr, ping, scale, pinnedCpu: o.cpu };
  } finally {
    for (const ns of made.reverse()) await ns.destroy();
  }
}

/** N concurrent connections from the kernel to the stack's echo, each checked, all open at once. */
async function scaleTest(setup: Setup, o: TapBenchOptions): Promise<ScaleResult> {
  const { s, tools, serve } = setup;
  const n = o.scaleConnections;
  const pid = serve.pid!;
  const before = rssBytes(pid);
  const [prog, args] = pinned(o.cpu, tools.client, ['scale', STACK_IP, '7', String(n), '120']);
  const child = s.spawn(prog, args);
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('scale: no result within 150 s')), 150_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`scale client exited (${code}) early`));
    });
  });
  const r = JSON.parse(line) as { requested: number; verified: number; failed: number; seconds: number; error?: string };
  if (r.error !== undefined) throw new Error(`scale: ${r.error}`);
  // Connections are all open now: sample, then let the client close them.
  const after = rssBytes(pid);
  child.stdin!.end('\n');
  await new Promise((resolve) => child.once('exit', resolve));
  const result: ScaleResult = {
    requested: r.requested,
    verified: r.verified,
    failed: r.failed,
    seconds: r.seconds,
    rssBytesPerConnection: (after - before) / Math.max(1, r.verified),
    passed: r.verified === n && r.failed === 0,
  };
  o.log(`scale: ${r.verified}/${n} connections echoed correctly in ${r.seconds.toFixed(2)} s, ${Math.round(result.rssBytesPerConnection)} B RSS per connection`);
  return result;
}

function fmt(x: number): string {
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3);
}
