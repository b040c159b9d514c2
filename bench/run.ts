/**
 * `npm run bench`: every benchmark of issue 6, a table on stdout, the results as JSON in
 * bench/results/latest.json and a dated copy beside it, and the table in docs/benchmarks.md.
 *
 * Sections (all by default):
 *   frame   per-frame cost of one stack on a fake link (inbound, outbound) and checksum speed,
 *           over IPv4 and IPv6 alternately (the ratio IPv6/IPv4 in the note)
 *   memory  two stacks on the memory wire: TCP bulk, request/response, connect/close rate,
 *           over IPv4 and IPv6 alternately
 *   idle    memory per idle established connection (child process with --expose-gc)
 *   lossy   goodput and RTOs of a bulk transfer over lossy, slow, reordering paths (memory wire,
 *           virtual time: deterministic, NewReno and CUBIC)
 *   tap     rx-netstack over TAP vs the Linux kernel over veth, same client (root only)
 *   lossy-tap  over TAP against Linux, loss and delay on the stack's link: our sender's goodput
 *           next to Linux's sender's on the same path, retransmissions and RTOs (root only)
 *   scale   10,000 concurrent echo connections from the kernel to the stack (root only)
 *   latency p50/p99 RTT of ping, UDP and TCP request/response at 0, 1, 2, 5, 10 ms intervals,
 *           stack over TAP and kernel over veth in the same run, pinned (root only)
 *   nat     `rx-netstack nat` vs `slirp4netns` on the same topology: bulk both ways, TCP_RR,
 *           TCP_CRR, UDP_RR (root and slirp4netns only; not part of a default run)
 *   busy-poll  p50/p99 RTT and the stack's CPU time per exchange without and with
 *           `serve --busy-poll US` (stack on CPU 1, client on CPU 0; root and 2 CPUs; not part
 *           of a default run)
 *
 * Options:
 *   --sections a,b   run only these sections
 *   --quick          short runs (a smoke test of the harness; figures are rough)
 *   --runs N         runs per figure (median reported; default 5, quick 1)
 *   --duration S     seconds per run of a rate figure (default 2, quick 0.3)
 *   --connections N  idle-memory and scale connections (default 10000)
 *   --no-pin         do not pin the TAP benchmarks to CPU 0
 *   --no-plain       do not also measure the stack with the TAP offloads off
 *   --no-build       do not rebuild dist/ (the CLI the TAP benchmarks run)
 *   --out DIR        where results go (default bench/results)
 *   --no-docs        leave docs/benchmarks.md alone (it is only updated by a full run anyway)
 *   --seed N         the lossy section's loss/reordering seed (default 1)
 *   --lossy-seconds S  seconds of each lossy-tap transfer (default 5, quick 1)
 *   --lossy-rtts a,b   lossy-tap round-trip times, ms (default 10)
 *   --lossy-losses a,b lossy-tap loss probabilities (default 0,0.01,0.05)
 *   --busy-poll-us US  the busy-poll section's window (default 2000)
 *   --lossy-linux-cc a,b  Linux's congestion controls for lossy-tap; the first is compared with
 *                    ours (default cubic,bbr; quick cubic)
 */
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { machineInfo } from './lib/machine.js';
import { formatValue, markdownTable, textTable, type Row } from './lib/table.js';
import { checksumThroughput, pairedPerFrame } from './per-frame.js';
import { memoryBulk, memoryCrr, memoryIdle, memoryRr, pairedRate } from './memory.js';
import { tapBench, type Figure, type TapBenchResult } from './kernel/tap-bench.js';
import { lossyBench, type LossyResult } from './lossy.js';
import { latencyBench, type LatencyCell } from './kernel/latency-bench.js';
import { busyPollBench, type BusyPollCell } from './kernel/busy-poll-bench.js';
import { lossyTapBench, type LossyTapResult } from './kernel/lossy-tap.js';
import { natBench, natBenchUnavailable, type NatBenchResult, type NatFigure } from './kernel/nat-bench.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ALL_SECTIONS = ['frame', 'memory', 'idle', 'lossy', 'tap', 'scale', 'lossy-tap', 'latency'] as const;
/** Sections run only when named in --sections. */
const EXTRA_SECTIONS = ['nat', 'busy-poll'] as const;
type Section = (typeof ALL_SECTIONS)[number] | (typeof EXTRA_SECTIONS)[number];

/** gVisor netstack over TAP, as a ratio to Linux over veth, pinned, on this kind of machine (issue 6). */
export const GVISOR_RATIOS = {
  bulkToStack: 0.076,
  bulkFromStack: 0.049,
  tcpRr: 0.4,
  tcpCrr: 0.46,
  udpRr: 0.51,
  ping: 0.25,
} as const;

const { values } = parseArgs({
  options: {
    sections: { type: 'string' },
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    'no-plain': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    out: { type: 'string' },
    'no-docs': { type: 'boolean', default: false },
    seed: { type: 'string' },
    'lossy-seconds': { type: 'string' },
    'lossy-rtts': { type: 'string' },
    'lossy-losses': { type: 'string' },
    'lossy-linux-cc': { type: 'string' },
    'busy-poll-us': { type: 'string' },
  },
});

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

const sections = new Set<Section>(
  values.sections === undefined
    ? ALL_SECTIONS
    : values.sections.split(',').map((s) => {
        if (![...ALL_SECTIONS, ...EXTRA_SECTIONS].includes(s as Section)) fail(`unknown section "${s}" (sections: ${[...ALL_SECTIONS, ...EXTRA_SECTIONS].join(', ')})`);
        return s as Section;
      }),
);
const quick = values.quick;
const runs = values.runs === undefined ? (quick ? 1 : 5) : Number(values.runs);
const duration = values.duration === undefined ? (quick ? 0.3 : 2) : Number(values.duration);
const connections = values.connections === undefined ? (quick ? 500 : 10_000) : Number(values.connections);
if (!Number.isInteger(runs) || runs < 1 || runs > 50) fail('--runs must be 1..50');
if (!(duration > 0 && duration <= 30)) fail('--duration must be in (0, 30] seconds');
if (!Number.isInteger(connections) || connections < 1 || connections > 50_000) fail('--connections must be 1..50000');
const seed = values.seed === undefined ? 1 : Number(values.seed);
if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31) fail('--seed must be an integer 0..2^31');
const outDir = resolve(values.out ?? join(ROOT, 'bench', 'results'));
const lossySeconds = values['lossy-seconds'] === undefined ? (quick ? 1 : 5) : Number(values['lossy-seconds']);
const numberList = (text: string): number[] => text.split(',').map(Number);
const lossyRtts = numberList(values['lossy-rtts'] ?? '10');
const lossyLosses = numberList(values['lossy-losses'] ?? '0,0.01,0.05');
const lossyLinuxCcs = (values['lossy-linux-cc'] ?? (quick ? 'cubic' : 'cubic,bbr')).split(',');
{
  // Every bad lossy-tap option at once.
  const problems: string[] = [];
  if (!(lossySeconds > 0 && lossySeconds <= 30)) problems.push('--lossy-seconds must be in (0, 30]');
  if (!lossyRtts.every((r) => Number.isFinite(r) && r >= 0 && r <= 1000)) problems.push('--lossy-rtts must be numbers of ms in [0, 1000]');
  if (!lossyLosses.every((l) => l >= 0 && l < 1)) problems.push('--lossy-losses must be probabilities in [0, 1)');
  if (!lossyLinuxCcs.every((c) => /^[a-z0-9_]+$/.test(c))) problems.push('--lossy-linux-cc must be congestion-control names (reno, cubic, bbr...)');
  if (problems.length > 0) fail(problems.join('; '));
}

const log = (line: string): void => {
  process.stderr.write(`bench: ${line}\n`);
};

function kernelUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root (TAP devices and namespaces need CAP_NET_ADMIN/CAP_SYS_ADMIN: run `sudo npm run bench`)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  for (const tool of ['ip', 'taskset', 'cc']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `no \`${tool}\` command (apt-get install ${tool === 'ip' ? 'iproute2' : tool === 'cc' ? 'gcc' : 'util-linux'})`;
    }
  }
  return undefined;
}

let distBuilt = false;

/** Compiles the TypeScript to dist/ (once per run) so the CLI the TAP benchmarks start is the current code. */
function buildDist(): string {
  const cli = join(ROOT, 'dist', 'bin', 'rx-netstack.js');
  if (!values['no-build'] && !distBuilt) {
    distBuilt = true;
    log('building dist/ (tsc -p tsconfig.build.json)');
    try {
      execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'pipe', cwd: ROOT });
    } catch (error) {
      // Type errors still emit JavaScript; only a missing CLI is fatal.
      const out = String((error as { stdout?: Buffer }).stdout ?? '').split('\n').slice(0, 5).join('\n');
      log(`tsc reported errors (continuing with what it emitted):\n${out}`);
    }
  }
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\``);
  return cli;
}

interface Results {
  perFrame?: {
    inboundNsPerFrame: number;
    outboundNsPerFrame: number;
    inboundRuns: readonly number[];
    outboundRuns: readonly number[];
    checksumGBps1500: number;
    checksumGBps64k: number;
    /** The same over IPv6, measured alternately with IPv4; ratios IPv6/IPv4 (medians of the rounds'). */
    ipv6: { inboundNsPerFrame: number; outboundNsPerFrame: number; inboundRuns: readonly number[]; outboundRuns: readonly number[]; inboundRatio: number; outboundRatio: number };
  };
  memory?: {
    bulkGbps: number; rrPerSecond: number; crrPerSecond: number; runs: Record<string, readonly number[]>;
    ipv6: { bulkGbps: number; rrPerSecond: number; crrPerSecond: number; bulkRatio: number; rrRatio: number; crrRatio: number; runs: Record<string, readonly number[]> };
  };
  idle?: { connections: number; bytesPerConnection: number; heapBytesPerConnection: number; arrayBufferBytesPerConnection: number };
  tap?: TapBenchResult | { skipped: string } | { failed: string };
  lossyTap?: LossyTapResult | { skipped: string } | { failed: string };
  lossy?: readonly LossyResult[];
  latency?: readonly LatencyCell[] | { skipped: string } | { failed: string };
  nat?: NatBenchResult | { skipped: string } | { failed: string };
  busyPoll?: readonly BusyPollCell[] | { skipped: string } | { failed: string };
}

async function main(): Promise<void> {
  const started = new Date();
  const machine = machineInfo();
  log(`${machine.cpuModel}, ${machine.cores} CPUs, Linux ${machine.kernel}, Node ${machine.node}`);
  const results: Results = {};
  const rows: Row[] = [];

  if (sections.has('frame')) {
    const frames = quick ? 2000 : 20_000;
    const frameRuns = quick ? 2 : 7;
    log(`per-frame: ${frameRuns} runs of ${frames} frames`);
    // IPv4 and IPv6 alternately, run for run (the IPv6 rows' note: the median of the rounds' ratios).
    const inboundPair = await pairedPerFrame('inbound', { frames, runs: frameRuns });
    const outboundPair = await pairedPerFrame('outbound', { frames, runs: frameRuns });
    const inbound = inboundPair.v4;
    const outbound = outboundPair.v4;
    const sum = checksumThroughput(quick ? 20e6 : 300e6, quick ? 2 : 7);
    results.perFrame = {
      inboundNsPerFrame: inbound.nsPerFrame,
      outboundNsPerFrame: outbound.nsPerFrame,
      inboundRuns: inbound.runs,
      outboundRuns: outbound.runs,
      checksumGBps1500: sum.gbps1500,
      checksumGBps64k: sum.gbps64k,
      ipv6: {
        inboundNsPerFrame: inboundPair.v6.nsPerFrame,
        outboundNsPerFrame: outboundPair.v6.nsPerFrame,
        inboundRuns: inboundPair.v6.runs,
        outboundRuns: outboundPair.v6.runs,
        inboundRatio: inboundPair.ratio,
        outboundRatio: outboundPair.ratio,
      },
    };
    rows.push(
      { group: 'per frame', name: 'inbound 1460-byte TCP data (eth->data$)', unit: 'ns/frame', value: inbound.nsPerFrame },
      { group: 'per frame', name: 'inbound 1440-byte TCP data over IPv6', unit: 'ns/frame', value: inboundPair.v6.nsPerFrame, note: ipv6Note(inboundPair.ratio, 'ns') },
      { group: 'per frame', name: 'outbound 1460-byte TCP data (write->link)', unit: 'ns/frame', value: outbound.nsPerFrame },
      { group: 'per frame', name: 'outbound 1440-byte TCP data over IPv6', unit: 'ns/frame', value: outboundPair.v6.nsPerFrame, note: ipv6Note(outboundPair.ratio, 'ns') },
      { group: 'per frame', name: 'checksum, 1500-byte buffers', unit: 'GB/s', value: sum.gbps1500 },
      { group: 'per frame', name: 'checksum, 64 KiB buffers', unit: 'GB/s', value: sum.gbps64k },
    );
  }

  if (sections.has('memory')) {
    const ms = duration * 1000;
    log(`memory wire: ${runs} runs of ${duration} s per figure`);
    // IPv4 and IPv6 alternately, run for run.
    const bulkPair = await pairedRate(memoryBulk, ms, runs);
    const rrPair = await pairedRate(memoryRr, ms, runs);
    const crrPair = await pairedRate(memoryCrr, ms, runs);
    const [bulk, rr, crr] = [bulkPair.v4, rrPair.v4, crrPair.v4];
    results.memory = {
      bulkGbps: bulk.value, rrPerSecond: rr.value, crrPerSecond: crr.value, runs: { bulk: bulk.runs, rr: rr.runs, crr: crr.runs },
      ipv6: {
        bulkGbps: bulkPair.v6.value, rrPerSecond: rrPair.v6.value, crrPerSecond: crrPair.v6.value,
        bulkRatio: bulkPair.ratio, rrRatio: rrPair.ratio, crrRatio: crrPair.ratio,
        runs: { bulk: bulkPair.v6.runs, rr: rrPair.v6.runs, crr: crrPair.v6.runs },
      },
    };
    rows.push(
      { group: 'memory wire', name: 'TCP bulk', unit: 'Gbit/s', value: bulk.value },
      { group: 'memory wire', name: 'TCP bulk over IPv6', unit: 'Gbit/s', value: bulkPair.v6.value, note: ipv6Note(bulkPair.ratio, 'rate') },
      { group: 'memory wire', name: 'TCP request/response (1 byte)', unit: '/s', value: rr.value },
      { group: 'memory wire', name: 'TCP request/response (1 byte) over IPv6', unit: '/s', value: rrPair.v6.value, note: ipv6Note(rrPair.ratio, 'rate') },
      { group: 'memory wire', name: 'TCP connect + 1-byte echo + close', unit: '/s', value: crr.value },
      { group: 'memory wire', name: 'TCP connect + 1-byte echo + close over IPv6', unit: '/s', value: crrPair.v6.value, note: ipv6Note(crrPair.ratio, 'rate') },
    );
  }

  if (sections.has('idle')) {
    log(`idle memory: ${connections} connections`);
    const idle = await memoryIdle(connections);
    results.idle = idle;
    rows.push({
      group: 'memory wire',
      name: `memory per idle connection (${connections.toLocaleString('en-US')} open)`,
      unit: 'bytes',
      value: idle.bytesPerConnection,
      note: `heap ${Math.round(idle.heapBytesPerConnection)} + buffers ${Math.round(idle.arrayBufferBytesPerConnection)}`,
    });
  }

  if (sections.has('lossy')) {
    // Virtual time: the figures depend on the seed and the code, not on this machine's load.
    const mib = quick ? 2 : 8;
    log(`lossy paths: ${mib} MiB per case, two stacks on the memory wire in virtual time, seed ${seed}`);
    const lossy = lossyBench(quick, mib, log, seed);
    results.lossy = lossy;
    for (const r of lossy) {
      rows.push({
        group: 'lossy paths',
        name: `RTT ${r.rttMs} ms, loss ${(r.loss * 100).toFixed(1)} %${r.reorder > 0 ? `, reorder ${(r.reorder * 100).toFixed(0)} %` : ''}, ${r.congestionControl}${r.recovery === 'dupack' ? ', SACK+RACK off' : ''}`,
        unit: 'Mbit/s',
        value: r.goodputMbps,
        note: `${r.finished ? '' : 'not finished; '}${r.rtos} RTOs, ${r.retransmits} retransmits`,
      });
    }
  }

  if (sections.has('tap') || sections.has('scale')) {
    const missing = kernelUnavailable();
    if (missing !== undefined) {
      log(`SKIPPING the TAP benchmarks: ${missing}`);
      results.tap = { skipped: missing };
      rows.push({ group: 'TAP vs kernel', name: 'all TAP figures', unit: '', value: Number.NaN, note: `skipped: ${missing}` });
    } else {
      try {
        const cli = buildDist();
        const tap = await tapBench({
          durationS: duration,
          runs: sections.has('tap') ? runs : 1,
          pingCount: quick ? 200 : 2000,
          cpu: values['no-pin'] ? undefined : 0,
          cli,
          log,
          scaleConnections: sections.has('scale') ? connections : 0,
          plain: sections.has('tap') && !values['no-plain'] && !quick,
        });
        results.tap = tap;
        if (sections.has('tap')) rows.push(...tapRows(tap));
        if (tap.scale !== undefined) {
          rows.push({
            group: 'TAP vs kernel',
            name: `${tap.scale.requested.toLocaleString('en-US')} concurrent echo connections`,
            unit: 'bytes RSS/conn',
            value: tap.scale.rssBytesPerConnection,
            note: `${tap.scale.passed ? 'PASS' : 'FAIL'}: ${tap.scale.verified} echoed correctly, ${tap.scale.failed} failed, ${tap.scale.seconds.toFixed(1)} s`,
          });
        }
      } catch (error) {
        const message = (error as Error).message;
        log(`TAP benchmarks FAILED: ${message}`);
        results.tap = { failed: message };
        rows.push({ group: 'TAP vs kernel', name: 'all TAP figures', unit: '', value: Number.NaN, note: `failed: ${message.split('\n')[0]}` });
      }
    }
  }

  if (sections.has('latency')) {
    const missing = kernelUnavailable();
    if (missing !== undefined) {
      log(`SKIPPING the latency benchmarks: ${missing}`);
      results.latency = { skipped: missing };
      rows.push({ group: 'latency', name: 'all latency figures', unit: '', value: Number.NaN, note: `skipped: ${missing}` });
    } else {
      try {
        const cells = await latencyBench({
          runs: quick ? 1 : Math.min(runs, 3),
          cpu: values['no-pin'] ? undefined : 0,
          cli: buildDist(),
          shrink: quick ? 20 : 1,
          log,
        });
        results.latency = cells;
        for (const c of cells) {
          rows.push({
            group: 'latency',
            name: `${c.kind === 'ping' ? 'ping' : c.kind === 'udp' ? 'UDP 1-byte echo' : 'TCP 1-byte echo'}, ${c.intervalMs === 0 ? 'back to back' : `every ${c.intervalMs} ms`}: p50`,
            unit: 'ms',
            value: c.stack.p50,
            kernel: c.kernel.p50,
            ratio: c.ratioP50,
            note: `p99 ${c.stack.p99.toFixed(3)} ms (kernel ${c.kernel.p99.toFixed(3)}); run by run ${c.pairedRatioP50.toFixed(3)}`,
          });
        }
      } catch (error) {
        const message = (error as Error).message;
        log(`latency benchmarks FAILED: ${message}`);
        results.latency = { failed: message };
        rows.push({ group: 'latency', name: 'all latency figures', unit: '', value: Number.NaN, note: `failed: ${message.split('\n')[0]}` });
      }
    }
  }

  if (sections.has('lossy-tap')) {
    const missing = kernelUnavailable();
    if (missing !== undefined) {
      log(`SKIPPING the lossy TAP benchmark: ${missing}`);
      results.lossyTap = { skipped: missing };
      rows.push({ group: 'lossy paths, TAP', name: 'all lossy TAP figures', unit: '', value: Number.NaN, note: `skipped: ${missing}` });
    } else {
      log(`lossy paths over TAP: ${runs} runs of ${lossySeconds} s per direction, RTT ${lossyRtts.join('/')} ms, Linux ${lossyLinuxCcs.join('/')}`);
      try {
        const lossyTap = await lossyTapBench({
          rttsMs: lossyRtts,
          losses: lossyLosses,
          seconds: lossySeconds,
          runs,
          linuxCongestionControls: lossyLinuxCcs,
          log,
        });
        results.lossyTap = lossyTap;
        rows.push(...lossyTapRows(lossyTap));
      } catch (error) {
        const message = (error as Error).message;
        log(`lossy TAP benchmark FAILED: ${message}`);
        results.lossyTap = { failed: message };
        rows.push({ group: 'lossy paths, TAP', name: 'all lossy TAP figures', unit: '', value: Number.NaN, note: `failed: ${message.split('\n')[0]}` });
      }
    }
  }

  if (sections.has('busy-poll')) {
    const missing = kernelUnavailable() ?? (os.cpus().length < 2 ? 'fewer than 2 CPUs (busy polling needs a CPU of its own)' : undefined);
    if (missing !== undefined) {
      log(`SKIPPING the busy-poll benchmark: ${missing}`);
      results.busyPoll = { skipped: missing };
    } else {
      try {
        const busyPollUs = values['busy-poll-us'] === undefined ? 2000 : Number(values['busy-poll-us']);
        const cells = await busyPollBench({
          runs: quick ? 1 : Math.min(runs, 3), cli: buildDist(), busyPollUs, clientCpu: 0, stackCpu: 1,
          intervalsMs: [0, 1, 2, 10], kinds: ['ping', 'udp', 'tcp'], shrink: quick ? 20 : 1, log,
        });
        results.busyPoll = cells;
        for (const c of cells) {
          rows.push({
            group: `busy poll ${busyPollUs} us`,
            name: `${c.kind === 'ping' ? 'ping' : c.kind === 'udp' ? 'UDP 1-byte echo' : 'TCP 1-byte echo'}, ${c.intervalMs === 0 ? 'back to back' : `every ${c.intervalMs} ms`}: p50 (off -> on)`,
            unit: 'ms',
            value: c.busy.p50,
            kernel: c.kernel.p50,
            ratio: c.kernel.p50 / c.busy.p50,
            note: `off ${c.plain.p50.toFixed(3)} ms; p99 ${c.plain.p99.toFixed(3)} -> ${c.busy.p99.toFixed(3)}; CPU ${(c.plainCpuMsPerExchange * 1000).toFixed(0)} -> ${(c.busyCpuMsPerExchange * 1000).toFixed(0)} us/exchange`,
          });
        }
      } catch (error) {
        const message = (error as Error).message;
        log(`busy-poll benchmark FAILED: ${message}`);
        results.busyPoll = { failed: message };
      }
    }
  }

  if (sections.has('nat')) {
    const missing = kernelUnavailable() ?? natBenchUnavailable();
    if (missing !== undefined) {
      log(`SKIPPING nat vs slirp4netns: ${missing}`);
      results.nat = { skipped: missing };
      rows.push({ group: 'nat vs slirp4netns', name: 'all nat figures', unit: '', value: Number.NaN, note: `skipped: ${missing}` });
    } else {
      try {
        const nat = await natBench({ durationS: duration, runs, cpu: values['no-pin'] ? undefined : 0, cli: buildDist(), log });
        results.nat = nat;
        rows.push(...natRows(nat));
      } catch (error) {
        const message = (error as Error).message;
        log(`nat benchmark FAILED: ${message}`);
        results.nat = { failed: message };
        rows.push({ group: 'nat vs slirp4netns', name: 'all nat figures', unit: '', value: Number.NaN, note: `failed: ${message.split('\n')[0]}` });
      }
    }
  }

  const report = {
    date: started.toISOString(),
    machine,
    options: {
      sections: [...sections], quick, runs, durationS: duration, connections, pinnedCpu: values['no-pin'] ? null : 0,
      lossySeconds, lossyRtts, lossyLosses, lossyLinuxCcs,
    },
    gvisorRatios: GVISOR_RATIOS,
    results,
    rows,
  };
  const table = textTable(rows);
  console.log(table);
  mkdirSync(outDir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(join(outDir, 'latest.json'), json);
  const dated = join(outDir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(dated, json);
  log(`results written to ${join(outDir, 'latest.json')} and ${dated}`);

  const complete = !quick && ALL_SECTIONS.every((s) => sections.has(s)) && results.tap !== undefined && !('skipped' in results.tap) && !('failed' in results.tap);
  if (!values['no-docs'] && complete) {
    updateDocs(markdownTable(rows), report.date, machine);
  } else if (!values['no-docs']) {
    log('docs/benchmarks.md left as is (only a full run with the TAP benchmarks updates it)');
  }
}

/**
 * The note of an IPv6 row: IPv6/IPv4 of the same rounds, and whether it is within the target
 * (issue 14: within 10 %, i.e. at most 1.10 for a cost in ns, at least 0.90 for a rate).
 */
function ipv6Note(ratio: number, kind: 'ns' | 'rate'): string {
  const within = kind === 'ns' ? ratio <= 1.1 : ratio >= 0.9;
  return `IPv6/IPv4 ${ratio.toFixed(3)} (${within ? 'within' : 'outside'} 10 %)`;
}

/**
 * A TAP row's note: the median of the run-by-run ratios beside the ratio of the medians. The runs
 * alternate stack and kernel, so a pair shares the machine's speed of its minute; when the speed
 * shifts during a figure's runs (a third at times on this kind of guest), the two medians can
 * come from different phases and the paired figure is the steadier one.
 */
function pairedNote(paired: number): string {
  return `run by run ${paired.toFixed(3)}`;
}

function tapRows(t: TapBenchResult): Row[] {
  const figures: Array<[string, string, Figure, number]> = [
    ['bulk to the stack (discard:9)', 'Gbit/s', t.bulkToStack, GVISOR_RATIOS.bulkToStack],
    ['bulk from the stack (chargen:19)', 'Gbit/s', t.bulkFromStack, GVISOR_RATIOS.bulkFromStack],
    ['TCP_RR 1 byte (echo:7)', '/s', t.tcpRr, GVISOR_RATIOS.tcpRr],
    ['TCP_CRR connect+echo+close (echo:7)', '/s', t.tcpCrr, GVISOR_RATIOS.tcpCrr],
    ['UDP_RR 1 byte (udp-echo:7)', '/s', t.udpRr, GVISOR_RATIOS.udpRr],
    ['ping RTT (ratio = kernel/stack)', 'ms', t.ping, GVISOR_RATIOS.ping],
  ];
  const rows: Row[] = figures.map(([name, unit, f, gvisorRatio]) => ({
    group: 'TAP vs kernel', name, unit, value: f.stack, kernel: f.kernel, ratio: f.ratio, gvisorRatio, note: pairedNote(f.pairedRatio),
  }));
  for (const [name, unit, f, gvisorRatio] of figures) {
    if (f.plain === undefined) continue;
    rows.push({ group: 'TAP, no offload', name, unit, value: f.plain, kernel: f.kernel, ratio: f.plainRatio, gvisorRatio, note: pairedNote(f.plainPairedRatio!) });
  }
  return rows;
}

/** rx-netstack nat in the rx-netstack column; slirp4netns and the ratio (nat / slirp4netns) in the note. */
function natRows(t: NatBenchResult): Row[] {
  const figures: Array<[string, string, NatFigure]> = [
    ['bulk out, namespace to host (discard:9)', 'Gbit/s', t.bulkOut],
    ['bulk in, host to namespace (chargen:19)', 'Gbit/s', t.bulkIn],
    ['TCP_RR 1 byte (echo:7)', '/s', t.tcpRr],
    ['TCP_CRR connect+echo+close (echo:7)', '/s', t.tcpCrr],
    ['UDP_RR 1 byte (udp echo:7)', '/s', t.udpRr],
  ];
  return figures.map(([name, unit, f]) => ({
    group: 'nat vs slirp4netns', name, unit, value: f.nat,
    note: `slirp4netns ${formatValue(f.slirp)}; nat/slirp4netns ${f.ratio.toFixed(2)}, run by run ${f.pairedRatio.toFixed(2)}`,
  }));
}

/**
 * One row per RTT x loss: our sender's goodput in the rx-netstack column, Linux's sender's (the
 * first congestion control) in the Linux column; other congestion controls in the note.
 */
function lossyTapRows(t: LossyTapResult): Row[] {
  return t.cases.map((c) => {
    const others = Object.entries(c.toStackBy)
      .filter(([, r]) => r !== c.toStack)
      .map(([cc, r]) => `Linux ${cc} ${formatValue(r.goodputMbps)} Mbit/s, ${r.rtos} RTOs`);
    const ours = c.fromStack.runs[0]?.congestionControl ?? '?';
    const theirs = c.toStack.runs[0]?.congestionControl ?? '?';
    return {
      group: 'lossy paths, TAP',
      name: `bulk, RTT ${c.rttMs} ms, loss ${(c.loss * 100).toFixed(1)} % (our ${ours} vs Linux ${theirs} sender)`,
      unit: 'Mbit/s',
      value: c.fromStack.goodputMbps,
      kernel: c.toStack.goodputMbps,
      ratio: c.fromStack.goodputMbps / c.toStack.goodputMbps,
      note: [
        `RTOs ${c.fromStack.rtos} vs ${c.toStack.rtos}`,
        `retransmits ${c.fromStack.retransmits} vs ${c.toStack.retransmits}`,
        ...others,
      ].join('; '),
    };
  });
}

const BEGIN = '<!-- bench:latest:begin -->';
const END = '<!-- bench:latest:end -->';

function updateDocs(table: string, date: string, machine: ReturnType<typeof machineInfo>): void {
  const path = join(ROOT, 'docs', 'benchmarks.md');
  if (!existsSync(path)) {
    log(`${path} is missing; not updated`);
    return;
  }
  const doc = readFileSync(path, 'utf8');
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) {
    log(`${path} has no ${BEGIN} ... ${END} markers; not updated`);
    return;
  }
  const body = [
    BEGIN,
    '',
    `Measured ${date} on ${machine.cpuModel} (${machine.cores} vCPUs), Linux ${machine.kernel}, Node ${machine.node}` +
      `${machine.distro === undefined ? '' : `, ${machine.distro}`}.`,
    '',
    table,
    '',
    END,
  ].join('\n');
  writeFileSync(path, doc.slice(0, a) + body + doc.slice(b + END.length));
  log(`${path} updated`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
