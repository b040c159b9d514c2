/**
 * `rx-netstack nat` against `slirp4netns` on the same topology, measured by the same kernel-side
 * client (kclient.c) in the same run:
 *
 *   namespace H:  plays the host: 198.18.0.200/32 on its loopback, kserver.c (echo 7, discard 9,
 *                 chargen 19, UDP echo 7), and both NAT programs, whose sockets live here
 *   namespace R:  connected by `rx-netstack nat --netns R --cidr 198.18.0.0/25` (TUN tun0,
 *                 R is 198.18.0.100) + the client
 *   namespace S:  connected by `slirp4netns --configure --cidr 198.18.0.0/25` (TAP tap0,
 *                 S is 198.18.0.100) + the client
 *
 * Both at MTU 1500 (the default of both), DNS off. Runs alternate in ABBA order (nat,
 * slirp4netns, slirp4netns, nat...); each figure is the median of its runs, and the median of the
 * run-by-run ratios is given beside the ratio of the medians. With `cpu` set, both NAT programs, the server and the client
 * are pinned to that CPU, as in tap-bench.ts. Bulk figures are what the client's connection
 * carried: through a NAT, the client's bytes are acknowledged by the NAT, whose buffers are
 * bounded, so over seconds that is the rate end to end.
 *
 * Standalone: node --import tsx bench/kernel/nat-bench.ts [SECONDS] [RUNS] [MTU] [--unpinned]
 * [--cli PATH]  (root; builds nothing: run `npx tsc -p tsconfig.build.json` first). --unpinned
 * leaves every process to the scheduler (how a user runs the nat; pinned to one CPU, a chain
 * of processes that wake each other is measured in its best case); --cli runs the nat of
 * another build (PATH/dist/bin/rx-netstack.js, e.g. /tmp/base-tree) against slirp4netns.
 * --nat-arg ARG (repeatable) passes an option to the nat (`--nat-arg --busy-poll --nat-arg 50`):
 * for measuring an option; the default figure is the nat's default behaviour, without it.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { buildKernelTools } from './build.js';
import { Netns, waitForLine } from './netns.js';
import { client } from './tap-bench.js';
import { median, medianRatio } from '../lib/stats.js';

export interface NatBenchOptions {
  readonly durationS: number;
  readonly runs: number;
  /** MTU of both NAT devices. Default 1500 (both programs' default). */
  readonly mtu?: number;
  readonly cpu: number | undefined;
  /** Path of the compiled CLI (dist/bin/rx-netstack.js). */
  readonly cli: string;
  /** More options for the nat (none by default). */
  readonly natArgs?: readonly string[];
  readonly log: (line: string) => void;
}

export interface NatFigure {
  readonly nat: number;
  readonly slirp: number;
  /** nat / slirp4netns: above 1, rx-netstack is faster. */
  readonly ratio: number;
  /** The median of the run-by-run ratios (each nat run against the slirp4netns run beside it). */
  readonly pairedRatio: number;
  readonly natRuns: readonly number[];
  readonly slirpRuns: readonly number[];
}

export interface NatBenchResult {
  readonly bulkOut: NatFigure;
  readonly bulkIn: NatFigure;
  readonly tcpRr: NatFigure;
  readonly tcpCrr: NatFigure;
  readonly udpRr: NatFigure;
  readonly mtu: number;
  readonly pinnedCpu: number | undefined;
  readonly slirpVersion: string;
}

const SERVER = '198.18.0.200';
const CIDR = '198.18.0.0/25';
const GUEST = '198.18.0.100';

/** Why the NAT benchmark cannot run here (no slirp4netns), or undefined. */
export function natBenchUnavailable(): string | undefined {
  try {
    execFileSync('sh', ['-c', 'command -v slirp4netns'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'no `slirp4netns` command (apt-get install slirp4netns)';
  }
}

function pinned(cpu: number | undefined, program: string, args: readonly string[]): [string, string[]] {
  return cpu === undefined ? [program, [...args]] : ['taskset', ['-c', String(cpu), program, ...args]];
}

/** Polls (bounded) until `ns` has its address and default route from the NAT program. */
async function configured(ns: Netns, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode})`);
    const addr = await ns.ip(['-4', 'addr']).catch(() => '');
    const route = await ns.ip(['route', 'show', 'default']).catch(() => '');
    if (addr.includes(`${GUEST}/25`) && route.includes('default')) return;
    if (Date.now() > deadline) throw new Error(`${what}: ${ns.name} not configured within 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function natBench(o: NatBenchOptions): Promise<NatBenchResult> {
  const made: Netns[] = [];
  const mtu = o.mtu ?? 1500;
  try {
    const tools = await buildKernelTools();
    const h = await Netns.create('h');
    made.push(h);
    const r = await Netns.create('r');
    made.push(r);
    const s = await Netns.create('s');
    made.push(s);
    await h.addAddress(`${SERVER}/32`, 'lo');
    const [kprog, kargs] = pinned(o.cpu, tools.server, ['7', '9', '19', '7']);
    await waitForLine(h.spawn(kprog, kargs), 'ready', 5_000, 'kserver');

    const [nprog, nargs] = pinned(o.cpu, process.execPath, [o.cli, 'nat', '--netns', r.name, '--cidr', CIDR, '--mtu', String(mtu), '--disable-dns', ...(o.natArgs ?? [])]);
    await waitForLine(h.spawn(nprog, nargs), 'ready', 15_000, 'rx-netstack nat');

    const [sprog, sargs] = pinned(o.cpu, 'slirp4netns', [
      '--configure', '--mtu', String(mtu), '--cidr', CIDR, '--disable-dns', '--netns-type=path', `/var/run/netns/${s.name}`, 'tap0',
    ]);
    const slirp = h.spawn(sprog, sargs);
    await configured(s, slirp, 'slirp4netns');
    const slirpVersion = execFileSync('slirp4netns', ['--version'], { encoding: 'utf8' }).split('\n')[0];

    const d = String(o.durationS);
    const timeout = (o.durationS + 15) * 1000;
    const measure = async (name: string, args: readonly string[], key: string): Promise<NatFigure> => {
      const natRuns: number[] = [];
      const slirpRuns: number[] = [];
      // ABBA order: whichever program runs first in a pair may find the machine in a different
      // state (session 14 saw a first-run bias of 2-8 % in CPU per operation), so each goes
      // first in half of the pairs.
      for (let i = 0; i < o.runs; i++) {
        const slirpFirst = (i & 1) === 1;
        if (slirpFirst) slirpRuns.push(Number((await client(s, o, tools, args, timeout))[key]));
        natRuns.push(Number((await client(r, o, tools, args, timeout))[key]));
        if (!slirpFirst) slirpRuns.push(Number((await client(s, o, tools, args, timeout))[key]));
      }
      const f: NatFigure = {
        nat: median(natRuns), slirp: median(slirpRuns), ratio: median(natRuns) / median(slirpRuns),
        pairedRatio: medianRatio(natRuns, slirpRuns), natRuns, slirpRuns,
      };
      o.log(`${name}: nat ${fmt(f.nat)}, slirp4netns ${fmt(f.slirp)}, ratio ${f.ratio.toFixed(3)}, run by run ${f.pairedRatio.toFixed(3)}`);
      return f;
    };
    // Warm-up, not measured: every path the figures take (connection setup and teardown, UDP
    // flows) must be compiled by the JIT before it is timed, or the first run of TCP_CRR
    // measures the compiler.
    for (const ns of [r, s]) {
      for (const [mode, port] of [['rr', '7'], ['stream-to', '9'], ['stream-from', '19'], ['crr', '7'], ['udp-rr', '7']]) {
        await client(ns, o, tools, [mode, SERVER, port, '1'], 20_000);
      }
    }
    const bulkOut = await measure('bulk out, namespace to host (Gbit/s)', ['stream-to', SERVER, '9', d], 'gbps');
    const bulkIn = await measure('bulk in, host to namespace (Gbit/s)', ['stream-from', SERVER, '19', d], 'gbps');
    const tcpRr = await measure('TCP_RR (/s)', ['rr', SERVER, '7', d], 'rate');
    const tcpCrr = await measure('TCP_CRR (/s)', ['crr', SERVER, '7', d], 'rate');
    const udpRr = await measure('UDP_RR (/s)', ['udp-rr', SERVER, '7', d], 'rate');
    return { bulkOut, bulkIn, tcpRr, tcpCrr, udpRr, mtu, pinnedCpu: o.cpu, slirpVersion };
  } finally {
    for (const ns of made.reverse()) await ns.destroy();
  }
}

function fmt(x: number): string {
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const unpinned = argv.includes('--unpinned');
  const cliAt = argv.indexOf('--cli');
  const cliRoot = cliAt >= 0 ? argv[cliAt + 1] : undefined;
  const natArgs = argv.flatMap((a, i) => (i > 0 && argv[i - 1] === '--nat-arg' ? [a] : []));
  const positional = argv.filter((a, i) => !a.startsWith('--') && (cliAt < 0 || i !== cliAt + 1) && (i === 0 || argv[i - 1] !== '--nat-arg'));
  const [seconds = '2', runs = '3', mtu = '1500'] = positional;
  const missing = natBenchUnavailable();
  if (missing !== undefined) {
    process.stderr.write(`nat-bench: ${missing}\n`);
    process.exit(1);
  }
  const result = await natBench({
    durationS: Number(seconds),
    runs: Number(runs),
    mtu: Number(mtu),
    cpu: unpinned ? undefined : 0,
    cli: cliRoot === undefined ? fileURLToPath(new URL('../../dist/bin/rx-netstack.js', import.meta.url)) : join(cliRoot, 'dist/bin/rx-netstack.js'),
    natArgs,
    log: (line) => process.stderr.write(`nat-bench: ${line}\n`),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
