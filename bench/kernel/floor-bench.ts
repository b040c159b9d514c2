/**
 * The floor for request/response over TAP, next to the stack and the kernel: UDP_RR (1 byte to
 * the echo port) and ping (back to back), from the same kernel client (kclient.c), against
 *
 *   C floor, block   tap-floor.c: a blocking read() per frame, the frame turned around in place
 *   C floor, epoll   tap-floor.c epoll: epoll_wait, the reads, the EAGAIN read (an event loop's shape)
 *   C floor, epoll, no EAGAIN read   tap-floor.c epoll1: one read per wake-up
 *   Node floor       tap-floor-node.ts: the same in JavaScript on the project's TAP addon
 *   Node floor, batchLimit 1   the addon reading one frame per wake-up (no EAGAIN read)
 *   Node floor, base   with --base DIR: DIR's tap-floor-node.ts on DIR's addon
 *   stack            `rx-netstack serve` (this tree's dist/), TAP offloads on
 *   stack, no offload   the same with plain frames (as the floors read and write them)
 *   stack, base      with --base DIR: DIR/dist/bin/rx-netstack.js the same way
 *   kernel           Linux over a veth pair (kserver.c), the reference of every ratio
 *
 * Each responder has a namespace of its own laid out like tap-bench.ts `stackNamespace` (TAP
 * device rxb0, kernel side 198.18.0.1/24, responder 198.18.0.2), deleted afterwards; every
 * process is pinned to one CPU (the client and the responder share it); the runs alternate
 * between the targets and each figure is the median of its runs. Beside the rates, the CPU
 * time of the responder process (/proc/PID/stat, user + system) per transaction: what each
 * layer adds, C floor -> Node floor -> stack.
 *
 *   node --import tsx bench/kernel/floor-bench.ts [SECONDS] [RUNS] [--base DIR] [--ping N] [--tcp] [--interval MS] [--count N]
 *
 * --tcp: TCP_RR too (to echo:7), for the stacks and the kernel, in the same alternation.
 * --interval MS: also the p50 and p99 of echoes spaced MS apart (kclient latency ping), where the
 * responder sleeps before each request: what waking up costs each of them. --count N: that many
 * spaced echoes per run (default max(200, 1000 / MS); fewer for long intervals).
 *
 * Root; `npx tsc -p tsconfig.build.json` first (the stack runs from dist/).
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernelTools } from './build.js';
import { Netns, waitForLine } from './netns.js';
import { client, kernelReference, pinned, stackNamespace, STACK_IP } from './tap-bench.js';
import { median } from '../lib/stats.js';
import { processCpu } from '../lib/proc-cpu.js';

const CPU = 0;
const TAP = 'rxb0';
const FLOOR_MAC = '02:00:00:00:00:02';

/** [user, system] CPU seconds of `pid` so far. */
function cpuSeconds(pid: number): [number, number] {
  const { user, system } = processCpu(pid);
  return [user, system];
}

interface Target {
  readonly name: string;
  readonly ns: Netns;
  /** The responder's PID, for its CPU time (undefined: the kernel, whose work is not one process's). */
  readonly pid: number | undefined;
  /** Answers TCP (a stack or the kernel; the floors turn around UDP, ICMP and ARP only). */
  readonly tcp: boolean;
}

/** A namespace with a TAP device (as stackNamespace makes it) and `program args` attached to it. */
async function floorNamespace(made: Netns[], role: string, program: string, args: readonly string[]): Promise<{ ns: Netns; child: ChildProcess }> {
  const ns = await Netns.create(role);
  made.push(ns);
  await ns.ip(['tuntap', 'add', 'dev', TAP, 'mode', 'tap']);
  await ns.addAddress('198.18.0.1/24', TAP);
  await ns.ip(['link', 'set', TAP, 'up']);
  const [prog, pargs] = pinned(CPU, program, args);
  const child = ns.spawn(prog, pargs);
  await waitForLine(child, 'ready', 15_000, `${program} ${args.join(' ')}`);
  return { ns, child };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const positional: string[] = [];
  let base: string | undefined;
  let pings = 2000;
  let tcp = false;
  let intervalMs: number | undefined;
  let count: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--base') base = argv[++i];
    else if (argv[i] === '--tcp') tcp = true;
    else if (argv[i] === '--ping') pings = Number(argv[++i]);
    else if (argv[i] === '--interval') intervalMs = Number(argv[++i]);
    else if (argv[i] === '--count') count = Number(argv[++i]);
    else positional.push(argv[i]);
  }
  const seconds = positional[0] ?? '2';
  const runs = Number(positional[1] ?? '3');
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const made: Netns[] = [];
  try {
    const tools = await buildKernelTools();
    const here = fileURLToPath(new URL('.', import.meta.url));
    const floorArgs = [TAP, STACK_IP, FLOOR_MAC, '7'];
    const targets: Target[] = [];
    const cBlock = await floorNamespace(made, 'fb', tools.floor, [...floorArgs, 'block']);
    targets.push({ name: 'C floor, block', ns: cBlock.ns, pid: cBlock.child.pid, tcp: false });
    const cEpoll = await floorNamespace(made, 'fe', tools.floor, [...floorArgs, 'epoll']);
    targets.push({ name: 'C floor, epoll', ns: cEpoll.ns, pid: cEpoll.child.pid, tcp: false });
    const cEpoll1 = await floorNamespace(made, 'f1', tools.floor, [...floorArgs, 'epoll1']);
    targets.push({ name: 'C floor, epoll, no EAGAIN read', ns: cEpoll1.ns, pid: cEpoll1.child.pid, tcp: false });
    const nodeFloor = await floorNamespace(made, 'fn', process.execPath, ['--import', 'tsx', join(here, 'tap-floor-node.ts'), ...floorArgs]);
    targets.push({ name: 'Node floor', ns: nodeFloor.ns, pid: nodeFloor.child.pid, tcp: false });
    const nodeFloor1 = await floorNamespace(made, 'f2', process.execPath, ['--import', 'tsx', join(here, 'tap-floor-node.ts'), ...floorArgs, '1']);
    targets.push({ name: 'Node floor, batchLimit 1 (no EAGAIN read)', ns: nodeFloor1.ns, pid: nodeFloor1.child.pid, tcp: false });
    if (base !== undefined) {
      // The base tree's floor script on the base tree's addon: what the addon's changes give.
      const baseFloor = await floorNamespace(made, 'fo', process.execPath, ['--import', 'tsx', join(base, 'bench/kernel/tap-floor-node.ts'), ...floorArgs]);
      targets.push({ name: 'Node floor, base', ns: baseFloor.ns, pid: baseFloor.child.pid, tcp: false });
    }
    const cli = fileURLToPath(new URL('../../dist/bin/rx-netstack.js', import.meta.url));
    const stack = await stackNamespace({ cpu: CPU, cli }, made, 'fs', true);
    targets.push({ name: 'stack', ns: stack.ns, pid: stack.serve.pid, tcp: true });
    const plain = await stackNamespace({ cpu: CPU, cli }, made, 'fp', false);
    targets.push({ name: 'stack, no offload', ns: plain.ns, pid: plain.serve.pid, tcp: true });
    if (base !== undefined) {
      const other = await stackNamespace({ cpu: CPU, cli: join(base, 'dist/bin/rx-netstack.js') }, made, 'fx', true);
      targets.push({ name: 'stack, base', ns: other.ns, pid: other.serve.pid, tcp: true });
    }
    const { c } = await kernelReference(CPU, tools, made);
    targets.push({ name: 'kernel', ns: c, pid: undefined, tcp: true });

    log(`load before: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    // Warm-up: ARP on both sides, the JIT. With spaced echoes measured, 20,000 pings first: after
    // 50 the stack was still compiling its ICMP path with TurboFan in the measured runs (one job
    // of 21 ms on a V8 thread sharing the pinned CPU), which made their p99 (wake-ladder.ts).
    for (const t of targets) {
      await client(t.ns, { cpu: CPU }, tools, ['ping', STACK_IP, intervalMs === undefined ? '50' : '20000'], 80_000);
      await client(t.ns, { cpu: CPU }, tools, ['udp-rr', STACK_IP, '7', '0.5'], 20_000);
      if (tcp && t.tcp) await client(t.ns, { cpu: CPU }, tools, ['rr', STACK_IP, '7', '0.5'], 20_000);
    }
    const rate = targets.map(() => [] as number[]);
    const cpuUs = targets.map(() => [] as number[]);
    const userUs = targets.map(() => [] as number[]);
    const pingMs = targets.map(() => [] as number[]);
    const tcpRate = targets.map(() => [] as number[]);
    const spacedMs = targets.map(() => [] as number[]);
    const spacedP99Ms = targets.map(() => [] as number[]);
    const timeout = (Number(seconds) + 15) * 1000;
    for (let i = 0; i < runs; i++) {
      for (const [k, t] of targets.entries()) {
        const before = t.pid === undefined ? [0, 0] : cpuSeconds(t.pid);
        const r = await client(t.ns, { cpu: CPU }, tools, ['udp-rr', STACK_IP, '7', seconds], timeout);
        rate[k].push(Number(r.rate));
        if (t.pid !== undefined) {
          const [user, system] = cpuSeconds(t.pid);
          const per = 1e6 / Number(r.transactions);
          cpuUs[k].push((user - before[0] + system - before[1]) * per);
          userUs[k].push((user - before[0]) * per);
        }
        const p = await client(t.ns, { cpu: CPU }, tools, ['ping', STACK_IP, String(pings)], timeout);
        pingMs[k].push(Number(p.medianMs));
        if (intervalMs !== undefined) {
          // Echoes spaced intervalMs apart: the responder sleeps between them (latency after idle).
          const n = String(count ?? Math.max(200, Math.round(1000 / intervalMs)));
          const l = await client(t.ns, { cpu: CPU }, tools, ['latency', 'ping', STACK_IP, '0', n, String(intervalMs)], timeout + Number(n) * (intervalMs + 5));
          spacedMs[k].push(Number(l.p50Ms));
          spacedP99Ms[k].push(Number(l.p99Ms));
        }
        if (tcp && t.tcp) tcpRate[k].push(Number((await client(t.ns, { cpu: CPU }, tools, ['rr', STACK_IP, '7', seconds], timeout)).rate));
      }
    }
    const kernelRate = median(rate[targets.length - 1]);
    const kernelPing = median(pingMs[targets.length - 1]);
    log('| responder | UDP_RR /s | ratio to kernel | responder CPU us per UDP_RR (of it user) | ping RTT us | ratio (kernel / it) |');
    log('|---|---:|---:|---:|---:|---:|');
    for (const [k, t] of targets.entries()) {
      const r = median(rate[k]);
      const p = median(pingMs[k]);
      const cpu = cpuUs[k].length > 0 ? `${median(cpuUs[k]).toFixed(2)} (${median(userUs[k]).toFixed(2)})` : '-';
      log(`| ${t.name} | ${Math.round(r).toLocaleString('en-US')} | ${(r / kernelRate).toFixed(3)} | ${cpu} | ${(p * 1000).toFixed(1)} | ${(kernelPing / p).toFixed(3)} |`);
    }
    if (intervalMs !== undefined) {
      const kernelSpaced = median(spacedMs[targets.length - 1]);
      log('');
      log(`| responder | ping p50 every ${intervalMs} ms, us | ratio (kernel / it) | p99, us | p99 / p50 |`);
      log('|---|---:|---:|---:|---:|');
      for (const [k, t] of targets.entries()) {
        const p = median(spacedMs[k]);
        const p99 = median(spacedP99Ms[k]);
        log(`| ${t.name} | ${(p * 1000).toFixed(1)} | ${(kernelSpaced / p).toFixed(3)} | ${(p99 * 1000).toFixed(1)} | ${(p99 / p).toFixed(1)} |`);
      }
    }
    if (tcp) {
      const kernelTcp = median(tcpRate[targets.length - 1]);
      log('');
      log('| responder | TCP_RR /s | ratio to kernel |');
      log('|---|---:|---:|');
      for (const [k, t] of targets.entries()) {
        if (!t.tcp) continue;
        const r = median(tcpRate[k]);
        log(`| ${t.name} | ${Math.round(r).toLocaleString('en-US')} | ${(r / kernelTcp).toFixed(3)} |`);
      }
    }
    log(`runs (UDP_RR /s): ${targets.map((t, k) => `${t.name}: ${rate[k].map((x) => Math.round(x)).join(' ')}`).join('; ')}`);
    log(`load after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  } finally {
    for (const ns of made.reverse()) await ns.destroy();
  }
}

await main();
