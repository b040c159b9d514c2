/**
 * Lossy paths over TAP: our sender against Linux's on the same impaired path.
 *
 *   namespace L:  TAP device rxl0, kernel side 198.18.0.1/24 + kclient (send-for / recv-for)
 *   this process: the stack at 198.18.0.2, attached to rxl0 (the addon opens it inside L),
 *                 with `impairLink` on its link: the same loss and a fixed delay (RTT / 2) on
 *                 both directions, seeded
 *
 * For each RTT x loss and each run, two transfers of a fixed duration on a fresh stack whose
 * impairment starts from the same seed: bulk from the stack (our sender, Linux receives) and bulk
 * to the stack (Linux's sender, we receive). Goodput is measured by the receiver: in-order bytes
 * from its first byte for `seconds`, after which it resets the connection. Sender figures: ours
 * from the connection's counters when the kernel's receiver is done; Linux's from the namespace's
 * /proc/net counters before and after (nothing else runs in it).
 *
 * Why the stack's own impairment: this kernel has no netem (no sch_netem, no module loading), and
 * the loss must hit both directions of the same link alike. Why offloads off: with TSO/GSO a
 * dropped frame can be a 64 KiB super-frame, some 45 segments lost at once; without them every
 * frame on the TAP device is one MTU-sized segment, so "1 % loss" means 1 % of the segments, for
 * both senders (Linux segments in software before the TAP device when it has no vnet header).
 *
 * Other settings, the same for both ends where they exist: CUBIC, SACK, timestamps and window
 * scaling as negotiated by default, 4 MiB socket buffers for the stack (Linux autotunes up to its
 * default 4-6 MiB), static neighbour entries on both sides (a lost ARP frame would otherwise
 * stall the start of a transfer for a second), `tcp_no_metrics_save` in the namespace (Linux
 * would otherwise start each connection with the ssthresh the previous lossy run left behind).
 * Nothing is pinned: on a lossy path the figures are limited by the path, not the CPU.
 */
import { performance } from 'node:perf_hooks';
import type { Subscription } from 'rxjs';
import { tapLink, type TapLink } from '../../streams/links/tap-link.js';
import { impairLink } from '../../streams/operators/impair.js';
import { createStack, type Stack } from '../../streams/stack/create-stack.js';
import type { TcpConnection } from '../../streams/stack/tcp-connection.js';
import type { Link } from '../../streams/links/link.js';
import { buildKernelTools, type KernelTools } from './build.js';
import { Netns } from './netns.js';
import { counterDelta, readProcCounters } from './proc-counters.js';
import { median } from '../lib/stats.js';

export interface LossyTapOptions {
  /** Round-trip times to measure, ms (half of each added on each direction). */
  readonly rttsMs: readonly number[];
  /** Frame loss probabilities, each direction. */
  readonly losses: readonly number[];
  /** Seconds of each transfer, counted by the receiver from its first byte. */
  readonly seconds: number;
  /** Runs per case and direction; figures are medians. */
  readonly runs: number;
  /** Seed of run 0 (run i uses seed + i). Default 1. */
  readonly seed?: number;
  /**
   * Linux's congestion controls for the bulk to the stack, each measured; the first is the one
   * our sender is compared with. Default ['cubic'] (Linux's stock default, and ours).
   */
  readonly linuxCongestionControls?: readonly string[];
  readonly log: (line: string) => void;
  /** Wraps the link below the impairment ('tap') and above it ('impaired'): tracing (lossy-tap-trace.ts). */
  readonly wrapLink?: (link: Link, where: 'tap' | 'impaired') => Link;
}

/** What the sending side did, in the same terms for both senders. */
export interface SenderFigures {
  /** Segments sent again. */
  readonly retransmits: number;
  /** Retransmission timeouts. */
  readonly rtos: number;
  /** SACK-based (RFC 6675) recoveries entered. */
  readonly sackRecoveries: number;
  /** Tail loss probes. */
  readonly lossProbes: number;
  /** The sender's own counters (ours by counter name; Linux's by nstat name). */
  readonly detail: Readonly<Record<string, number>>;
}

export interface NegotiatedOptions {
  readonly sack: boolean;
  readonly timestamps: boolean;
  readonly windowScale: boolean;
}

export interface TransferRun {
  readonly seed: number;
  /** In-order bytes the receiver got in `seconds`, as Mbit/s. */
  readonly goodputMbps: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly sender: SenderFigures;
  /** The receiver's reassembly and SACK counters (ours by name; Linux's by nstat name). */
  readonly receiver: Readonly<Record<string, number>>;
  /** The sender's congestion control. */
  readonly congestionControl: string;
  /** What the stack and Linux each report as negotiated on this connection. */
  readonly stackOptions: NegotiatedOptions;
  readonly linuxOptions: NegotiatedOptions;
  /** The sender's smoothed RTT and congestion window (segments) at the end. */
  readonly senderState: SenderState;
  /**
   * Frames the kernel dropped on the TAP device's transmit queue (towards the stack) because
   * the stack did not read them in time: loss the impairment did not make.
   */
  readonly tapTxDropped: number;
  /**
   * Frames the stack wrote that were lost before Linux's TCP saw them, also loss the impairment
   * did not make: the TAP link's write queue was full (`txDropped` + `txErrors` of the link), or
   * the kernel dropped them on receipt (the device's `rx_dropped`: a full backlog).
   */
  readonly stackTxDropped: number;
  readonly tapRxDropped: number;
}

export interface SenderState {
  readonly rttMs: number;
  readonly cwndSegments: number;
  /** Undefined while the sender has never left slow start. */
  readonly ssthreshSegments: number | undefined;
}

export interface DirectionResult {
  /** Medians over the runs. */
  readonly goodputMbps: number;
  readonly retransmits: number;
  readonly rtos: number;
  readonly runs: readonly TransferRun[];
}

export interface LossyTapCase {
  readonly rttMs: number;
  readonly loss: number;
  /** Bulk from the stack: our sender (CUBIC). */
  readonly fromStack: DirectionResult;
  /** Bulk to the stack: Linux's sender, with the first of the congestion controls. */
  readonly toStack: DirectionResult;
  /** Bulk to the stack for every congestion control measured, by name (toStack among them). */
  readonly toStackBy: Readonly<Record<string, DirectionResult>>;
}

export interface LossyTapResult {
  readonly cases: readonly LossyTapCase[];
  readonly settings: {
    readonly seconds: number;
    readonly runs: number;
    readonly seed: number;
    readonly offload: false;
    readonly mtu: number;
    readonly stackBufferBytes: number;
    readonly impairment: string;
    readonly linuxCongestionControls: readonly string[];
  };
}

const TAP = 'rxl0';
const KERNEL_IP = '198.18.0.1';
const STACK_IP = '198.18.0.2';
/** A fixed, locally administered MAC: the kernel's static neighbour entry stays right across stacks. */
const STACK_MAC = '02:72:78:6c:00:02';
const BUFFER_BYTES = 4 * 1024 * 1024;
const SINK_PORT = 9;
const SOURCE_PORT = 19;

/** Linux's sender counters (nstat names) kept in the report. */
const LINUX_SENDER = [
  'TcpRetransSegs', 'TcpExtTCPTimeouts', 'TcpExtTCPSackRecovery', 'TcpExtTCPRenoRecovery', 'TcpExtTCPLossProbes',
  'TcpExtTCPLossProbeRecovery', 'TcpExtTCPFastRetrans', 'TcpExtTCPSlowStartRetrans', 'TcpExtTCPLostRetransmit',
  'TcpExtTCPSpuriousRTOs', 'TcpExtTCPDSACKUndo', 'TcpExtTCPSackRecoveryFail', 'TcpExtTCPDSACKRecv',
  // Undoing a window reduction (Linux decided the loss was not one) and reordering it inferred:
  'TcpExtTCPFullUndo', 'TcpExtTCPPartialUndo', 'TcpExtTCPLossUndo', 'TcpExtTCPSACKReorder', 'TcpExtTCPTSReorder',
  'TcpExtTCPSpuriousRtxHostQueues',
] as const;
/** Linux's receiver counters kept in the report. */
const LINUX_RECEIVER = ['TcpExtTCPOFOQueue', 'TcpExtTCPOFODrop', 'TcpExtTCPDSACKOldSent', 'TcpExtTCPDSACKOfoSent'] as const;
/** Our sender counters kept in the report. */
const OUR_SENDER = [
  'retransmits', 'timeouts', 'fastRetransmits', 'sackRecoveries', 'sackRetransmits', 'recoveries', 'partialAcks',
  'rackLosses', 'tlpProbes', 'recoveryProbes', 'spuriousUndos', 'spuriousRtoUndos', 'frtoSpuriousRtos', 'dsacksReceived', 'dupAcksReceived',
] as const;
/** Our receiver counters kept in the report. */
const OUR_RECEIVER = ['outOfOrderSegments', 'outOfOrderDropped', 'duplicateSegments', 'sackAcksSent', 'dsacksSent'] as const;

interface Setup {
  readonly ns: Netns;
  readonly tools: KernelTools;
  readonly wrapLink?: (link: Link, where: 'tap' | 'impaired') => Link;
}

/** Our sender, or Linux's with the congestion control named. */
type Direction = { readonly to: 'kernel' } | { readonly to: 'stack'; readonly linuxCc: string };

export async function lossyTapBench(o: LossyTapOptions): Promise<LossyTapResult> {
  const seed = o.seed ?? 1;
  const ccs = o.linuxCongestionControls ?? ['cubic'];
  if (ccs.length === 0) throw new Error('lossy TAP: no Linux congestion control to measure');
  let ns: Netns | undefined;
  try {
    const tools = await buildKernelTools();
    ns = await Netns.create('l');
    await ns.sysctl({ 'net.ipv4.tcp_no_metrics_save': '1' });
    await ns.ip(['tuntap', 'add', 'dev', TAP, 'mode', 'tap']);
    await ns.addAddress(`${KERNEL_IP}/24`, TAP);
    await ns.ip(['link', 'set', TAP, 'up']);
    await ns.ip(['neigh', 'replace', STACK_IP, 'lladdr', STACK_MAC, 'dev', TAP, 'nud', 'permanent']);
    const setup: Setup = { ns, tools, wrapLink: o.wrapLink };

    const cases: LossyTapCase[] = [];
    for (const rttMs of o.rttsMs) {
      for (const loss of o.losses) {
        const ours: TransferRun[] = [];
        const linux = new Map<string, TransferRun[]>(ccs.map((cc) => [cc, []]));
        for (let i = 0; i < o.runs; i++) {
          // Every direction of a run sees the same seeded path; alternating spreads drift evenly.
          const order: Direction[] = [{ to: 'kernel' }, ...ccs.map((linuxCc) => ({ to: 'stack' as const, linuxCc }))];
          if (i % 2 === 1) order.reverse();
          for (const d of order) {
            const run = await transfer(setup, d, rttMs, loss, seed + i, o.seconds);
            if (d.to === 'kernel') ours.push(run);
            else linux.get(d.linuxCc)!.push(run);
          }
        }
        const toStackBy = Object.fromEntries([...linux].map(([cc, runs]) => [cc, summarise(runs)]));
        const c: LossyTapCase = { rttMs, loss, fromStack: summarise(ours), toStack: toStackBy[ccs[0]], toStackBy };
        cases.push(c);
        const text = (r: DirectionResult): string => `${r.goodputMbps.toFixed(2)} Mbit/s (${r.rtos} RTOs, ${r.retransmits} retransmits)`;
        o.log(
          `lossy TAP: rtt ${rttMs} ms, loss ${(loss * 100).toFixed(1)} %: our sender ${text(c.fromStack)}, ` +
            ccs.map((cc) => `Linux's (${cc}) ${text(toStackBy[cc])}`).join(', '),
        );
      }
    }
    const mtu = Number((await ns.exec('cat', [`/sys/class/net/${TAP}/mtu`])).stdout.trim());
    return {
      cases,
      settings: {
        seconds: o.seconds,
        runs: o.runs,
        seed,
        offload: false,
        mtu,
        stackBufferBytes: BUFFER_BYTES,
        impairment: 'impairLink on the stack\'s TAP link, both directions: loss, delay RTT/2; inbound seed s, outbound s+1',
        linuxCongestionControls: ccs,
      },
    };
  } finally {
    await ns?.destroy();
  }
}

function summarise(runs: readonly TransferRun[]): DirectionResult {
  return {
    goodputMbps: median(runs.map((r) => r.goodputMbps)),
    retransmits: median(runs.map((r) => r.sender.retransmits)),
    rtos: median(runs.map((r) => r.sender.rtos)),
    runs,
  };
}

/** The stack on the TAP device, impaired, with static neighbours both ways. */
function startStack(setup: Setup, rttMs: number, loss: number, seed: number): { stack: Stack; tap: TapLink } {
  // Loss is a property of the wire: each frame is lost or not. Receive coalescing (gro.ts) would
  // merge a batch's in-order segments into one frame before the impairment sees them, and a drop
  // would then take a whole burst (fewer, larger loss events for Linux's sender than for ours).
  const tap = tapLink({ name: TAP, netns: setup.ns.name, offload: false, up: true, coalesceReceived: false });
  let link: Link = setup.wrapLink !== undefined ? setup.wrapLink(tap, 'tap') : tap;
  if (loss > 0 || rttMs > 0) {
    const path = { loss, delay: rttMs / 2 };
    link = impairLink(link, { inbound: { ...path, seed }, outbound: { ...path, seed: seed + 1 } });
    if (setup.wrapLink !== undefined) link = setup.wrapLink(link, 'impaired');
  }
  let stack: Stack;
  try {
    stack = createStack({
      interfaces: [{ name: 'eth0', link, ipv4: [`${STACK_IP}/24`], mac: STACK_MAC }],
      tcp: { receiveBufferSize: BUFFER_BYTES, sendBufferSize: BUFFER_BYTES },
    });
  } catch (error) {
    link.close();
    throw error;
  }
  stack.arp.addStatic(KERNEL_IP, tap.device.mac);
  return { stack, tap };
}

async function transfer(setup: Setup, d: Direction, rttMs: number, loss: number, seed: number, seconds: number): Promise<TransferRun> {
  const { stack, tap } = startStack(setup, rttMs, loss, seed);
  try {
    const rxDroppedBefore = await deviceCounter(setup.ns, 'rx_dropped');
    const run = d.to === 'kernel' ? await fromStack(setup, stack, seed, seconds) : await toStack(setup, stack, seed, seconds, d.linuxCc);
    const link = tap.stats();
    return { ...run, stackTxDropped: link.txDropped + link.txErrors, tapRxDropped: (await deviceCounter(setup.ns, 'rx_dropped')) - rxDroppedBefore };
  } finally {
    stack.close();
  }
}

/** A run's figures but the link's drop counts, which transfer() adds. */
type RunFigures = Omit<TransferRun, 'stackTxDropped' | 'tapRxDropped'>;

/** Our sender: the stack writes as fast as it can; kclient reads for `seconds`, then resets. */

async function fromStack(setup: Setup, stack: Stack, seed: number, seconds: number): Promise<RunFigures> {
  const { ns } = setup;
  let conn: TcpConnection | undefined;
  const chunk = new Uint8Array(64 * 1024).fill(0x78);
  const subs: Subscription[] = [];
  subs.push(
    stack.tcp.listen({ port: SOURCE_PORT }).subscribe((c) => {
      if (conn !== undefined) return c.destroy(); // one transfer per stack
      conn = c;
      let open = true;
      const pump = (): void => {
        try {
          while (open && c.write(chunk)) {
            // the send buffer took all of it: write more until it is full (then drain$)
          }
        } catch {
          open = false; // reset by the receiver: done
        }
      };
      subs.push(c.closed$.subscribe({ complete: () => (open = false), next: () => (open = false) }));
      subs.push(c.drain$.subscribe(pump));
      pump();
    }),
  );
  try {
    const before = await readProcCounters(ns);
    const dropsBefore = await tapTxDropped(ns);
    const r = await kclient(setup, ['recv-for', STACK_IP, String(SOURCE_PORT), String(seconds)], seconds);
    // The receiver is done: what our sender did up to now is the transfer's.
    if (conn === undefined) throw new Error('lossy TAP: the kernel connected, but the stack saw no connection');
    const counters = conn.counters as unknown as Record<string, number>;
    const detail = pick(counters, OUR_SENDER);
    const info = conn.info();
    const after = await readProcCounters(ns);
    const dropsAfter = await tapTxDropped(ns);
    return {
      seed,
      congestionControl: info.congestionControl,
      goodputMbps: Number(r.mbps),
      bytes: Number(r.bytes),
      seconds: Number(r.seconds),
      sender: { retransmits: detail.retransmits, rtos: detail.timeouts, sackRecoveries: detail.sackRecoveries, lossProbes: detail.tlpProbes, detail },
      receiver: counterDelta(before, after, LINUX_RECEIVER),
      stackOptions: { sack: info.options.sack, timestamps: info.options.timestamps, windowScale: info.options.windowScale },
      linuxOptions: linuxOptions(r),
      senderState: {
        rttMs: info.rttMs,
        cwndSegments: info.cwnd / info.sendMss,
        ssthreshSegments: info.ssthresh >= 0x3fffffff ? undefined : info.ssthresh / info.sendMss,
      },
      tapTxDropped: dropsAfter - dropsBefore,
    };
  } finally {
    conn?.destroy();
    for (const s of subs) s.unsubscribe();
  }
}

/** Linux's sender: kclient writes until the stack, having read for `seconds`, resets. */
async function toStack(setup: Setup, stack: Stack, seed: number, seconds: number, cc: string): Promise<RunFigures> {
  const { ns } = setup;
  let conn: TcpConnection | undefined;
  let measured: { bytes: number; seconds: number; receiver: Record<string, number>; options: NegotiatedOptions } | undefined;
  const subs: Subscription[] = [];
  let timer: NodeJS.Timeout | undefined;
  subs.push(
    stack.tcp.listen({ port: SINK_PORT }).subscribe((c) => {
      if (conn !== undefined) return c.destroy();
      conn = c;
      let bytes = 0;
      let t0 = 0;
      const finish = (): void => {
        const elapsed = (performance.now() - t0) / 1000;
        const info = c.info();
        measured = {
          bytes,
          seconds: elapsed,
          receiver: pick(c.counters as unknown as Record<string, number>, OUR_RECEIVER),
          options: { sack: info.options.sack, timestamps: info.options.timestamps, windowScale: info.options.windowScale },
        };
        c.destroy(); // RST: Linux's sender stops, kclient exits
      };
      subs.push(
        c.data$.subscribe({
          next: (data) => {
            if (measured !== undefined) return;
            if (t0 === 0) {
              t0 = performance.now();
              timer = setTimeout(finish, seconds * 1000);
            }
            bytes += data.length;
          },
          error: () => undefined,
        }),
      );
    }),
  );
  try {
    const before = await readProcCounters(ns);
    const dropsBefore = await tapTxDropped(ns);
    // kclient's own bound is far beyond `seconds`: it normally ends on the stack's reset.
    const r = await kclient(setup, ['send-for', STACK_IP, String(SINK_PORT), String(seconds + 20), cc], seconds + 20);
    const after = await readProcCounters(ns);
    const dropsAfter = await tapTxDropped(ns);
    if (measured === undefined) throw new Error(`lossy TAP: Linux's sender ended before the stack had measured (${JSON.stringify(r)})`);
    const detail = counterDelta(before, after, LINUX_SENDER);
    if (r.congestionControl !== cc) throw new Error(`lossy TAP: Linux's sender used ${String(r.congestionControl)}, not ${cc}`);
    return {
      seed,
      congestionControl: cc,
      goodputMbps: (measured.bytes * 8) / measured.seconds / 1e6,
      bytes: measured.bytes,
      seconds: measured.seconds,
      sender: {
        retransmits: detail.TcpRetransSegs,
        rtos: detail.TcpExtTCPTimeouts,
        sackRecoveries: detail.TcpExtTCPSackRecovery,
        lossProbes: detail.TcpExtTCPLossProbes,
        detail,
      },
      receiver: measured.receiver,
      stackOptions: measured.options,
      linuxOptions: linuxOptions(r),
      senderState: {
        rttMs: Number(r.rttMs),
        cwndSegments: Number(r.cwnd),
        // Linux reports "no threshold yet" as a huge number.
        ssthreshSegments: Number(r.ssthresh) >= 0x7fff ? undefined : Number(r.ssthresh),
      },
      tapTxDropped: dropsAfter - dropsBefore,
    };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    conn?.destroy();
    for (const s of subs) s.unsubscribe();
  }
}

async function kclient(setup: Setup, args: readonly string[], seconds: number): Promise<Record<string, number | string>> {
  const r = await setup.ns.exec(setup.tools.client, args, (seconds + 40) * 1000);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let parsed: Record<string, number | string>;
  try {
    parsed = JSON.parse(line) as Record<string, number | string>;
  } catch {
    throw new Error(`kclient ${args.join(' ')}: no result (exit ${r.code}): ${r.stdout} ${r.stderr}`);
  }
  if (parsed.error !== undefined) throw new Error(`kclient ${args.join(' ')}: ${parsed.error}`);
  return parsed;
}

function tapTxDropped(ns: Netns): Promise<number> {
  return deviceCounter(ns, 'tx_dropped');
}

/** One of the TAP device's counters as the kernel keeps them (tx: towards the stack). */
async function deviceCounter(ns: Netns, name: 'tx_dropped' | 'rx_dropped'): Promise<number> {
  const r = await ns.exec('cat', [`/sys/class/net/${TAP}/statistics/${name}`], 10_000);
  return Number(r.stdout.trim());
}

function linuxOptions(r: Record<string, number | string>): NegotiatedOptions {
  return { sack: r.sack === 1, timestamps: r.timestamps === 1, windowScale: r.windowScale === 1 };
}

function pick(from: Record<string, number>, names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = from[n] ?? 0;
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // Alone (as root): `node --import tsx bench/kernel/lossy-tap.ts [seconds] [runs] [loss,...] [cc,...]`
  const [seconds = '2', runs = '1', losses = '0,0.01,0.05', ccs = 'cubic'] = process.argv.slice(2);
  const options = { rttsMs: [10], losses: losses.split(',').map(Number), seconds: Number(seconds), runs: Number(runs), linuxCongestionControls: ccs.split(',') };
  lossyTapBench({ ...options, log: (l) => console.error(l) })
    .then((r) => console.log(JSON.stringify(r, null, 2)))
    .catch((error) => {
      console.error(error);
      process.exitCode = 1;
    });
}
