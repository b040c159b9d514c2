/**
 * Where a slow echo after idle spends its time: one rung of the wake-up ladder (wake-rungs.ts)
 * answers kclient's spaced pings while the kernel's tracer (tracefs, an instance of its own,
 * CPU 0 only, removed afterwards) records scheduling, system calls, page faults, interrupts and
 * idle states. Each echo runs from kclient's sendto() to the return of its recvfrom(); within
 * it, the responder's part runs from its first switch-in to its write() of the reply. Prints the
 * percentiles of both, then the slowest echoes' events (time from the echo's start, us).
 *
 *   node --import tsx bench/kernel/wake-trace.ts RUNG [--interval MS] [--count N] [--slowest K] [--raw FILE]
 *
 * --raw FILE keeps the trace text. --footprint N: also, N times, the memory the responder touches
 * answering one echo after idle: its pages' referenced bits cleared (/proc/PID/clear_refs), one
 * ping 10 ms later, then the Referenced total of /proc/PID/smaps_rollup (pages of 4 KiB or more),
 * and the 2 MiB regions those pages lie in: in all, in anonymous mappings, in file-backed ones
 * (the last echo's, per file).
 * Root (tracefs at /sys/kernel/tracing).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, STACK_IP } from './tap-bench.js';
import { CPU, RUNGS, start } from './wake-rungs.js';
import { echoes, lastKdamond, parse, pct, type Echo } from './wake-trace-events.js';
import { sleep } from '../lib/stats.js';

const TRACEFS = '/sys/kernel/tracing';
const EVENTS = [
  'sched/sched_switch', 'sched/sched_waking', 'raw_syscalls/sys_enter', 'raw_syscalls/sys_exit',
  'exceptions/page_fault_user', 'exceptions/page_fault_kernel', 'irq_vectors', 'irq/irq_handler_entry',
  'irq/softirq_entry', 'irq/softirq_exit', 'power/cpu_idle', 'tlb/tlb_flush',
];
function cpus(): string[] {
  return readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor'));
}

/**
 * What `pid` has referenced since its bits were cleared, from /proc/PID/smaps: KiB in anonymous
 * mappings (heap, stacks, V8's spaces: the process's own) and file-backed ones (code and data
 * of the binary and libraries: a page shared with another process counts when that one touched
 * it, so only an upper bound); and the 2 MiB regions (each a page-table page of its own) those
 * referenced pages lie in, at least and at most: a mapping within one region counts once for all
 * mappings there; a larger one at least ceil(referenced / 2 MiB), at most the regions it spans.
 */
interface Referenced {
  anon: number;
  file: number;
  regionsMin: number;
  regionsMax: number;
  /** The same lower bound of regions, for the anonymous mappings alone and per file-backed path. */
  anonRegions: number;
  fileRegions: Map<string, number>;
}
function referenced(pid: number): Referenced {
  let anon = 0;
  let file = 0;
  let isFile = false;
  let path = '';
  let start = 0n;
  let end = 0n;
  const small = new Set<bigint>();
  let bigMin = 0;
  let bigMax = 0;
  // Per class, regions counted as for the total (a region with mappings of several classes
  // counts once in each).
  const byClass = new Map<string, { small: Set<bigint>; big: number }>();
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head !== null) {
      start = BigInt(`0x${head[1]}`);
      end = BigInt(`0x${head[2]}`);
      isFile = head[3] !== '0' && head[4].startsWith('/');
      path = isFile ? head[4] : '';
      continue;
    }
    const m = /^Referenced:\s+(\d+) kB/.exec(line);
    if (m === null || m[1] === '0') continue;
    const kib = Number(m[1]);
    if (isFile) file += kib;
    else anon += kib;
    const first = start >> 21n;
    const last = (end - 1n) >> 21n;
    const cls = byClass.get(path) ?? { small: new Set<bigint>(), big: 0 };
    byClass.set(path, cls);
    if (first === last) {
      small.add(first);
      cls.small.add(first);
    } else {
      bigMin += Math.ceil(kib / 2048);
      bigMax += Math.min(Number(last - first + 1n), Math.ceil(kib / 4));
      cls.big += Math.ceil(kib / 2048);
    }
  }
  const fileRegions = new Map<string, number>();
  let anonRegions = 0;
  for (const [name, c] of byClass) {
    if (name === '') anonRegions = c.small.size + c.big;
    else fileRegions.set(name, c.small.size + c.big);
  }
  return { anon, file, regionsMin: small.size + bigMin, regionsMax: small.size + bigMax, anonRegions, fileRegions };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const key = argv[0];
  let interval = 10;
  let count = 400;
  let slowest = 4;
  let raw: string | undefined;
  let footprint = 0;
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--interval') interval = Number(argv[++i]);
    else if (argv[i] === '--count') count = Number(argv[++i]);
    else if (argv[i] === '--slowest') slowest = Number(argv[++i]);
    else if (argv[i] === '--raw') raw = argv[++i];
    else if (argv[i] === '--footprint') footprint = Number(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  const rung = RUNGS.find((r) => r.key === key);
  if (rung === undefined) throw new Error(`usage: wake-trace.ts RUNG (one of ${RUNGS.map((r) => r.key).join(', ')})`);
  if (!(count >= 10 && count <= 5000) || !(interval >= 0 && interval <= 100)) throw new Error('--count 10..5000, --interval 0..100');
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const inst = join(TRACEFS, 'instances', `rxwake-${process.pid}`);
  const made: Netns[] = [];
  try {
    const tools = await buildKernelTools();
    const live = await start(rung, tools, made, 'wt');
    if (live.pid === undefined) throw new Error('no responder PID');
    await client(live.ns, { cpu: CPU }, tools, ['ping', STACK_IP, '20000'], 80_000); // the JIT settled: see wake-ladder.ts
    const tids = new Set(readdirSync(`/proc/${live.pid}/task`).map(Number));
    mkdirSync(inst);
    const w = (file: string, value: string): void => writeFileSync(join(inst, file), value);
    w('buffer_size_kb', '32768');
    // All CPUs: the echo's own events are CPU 0's; kdamond (DAMON's sampling) runs wherever.
    w('tracing_cpumask', ((1 << cpus().length) - 1).toString(16));
    for (const e of EVENTS) w(join('events', e, 'enable'), '1');
    w('tracing_on', '1');
    const r = await client(live.ns, { cpu: CPU }, tools, ['latency', 'ping', STACK_IP, '0', String(count), String(interval)], 30_000 + count * (interval + 5));
    w('tracing_on', '0');
    const text = readFileSync(join(inst, 'trace'), 'utf8');
    if (raw !== undefined) writeFileSync(raw, text);
    const ev = parse(text);
    const list = echoes(ev, tids);
    log(`${rung.name}, every ${interval} ms: kclient p50 ${(Number(r.p50Ms) * 1000).toFixed(1)} us, p99 ${(Number(r.p99Ms) * 1000).toFixed(1)} us; ${list.length} of ${count} echoes found in ${ev.length} events`);
    // Each echo by the time since kdamond's last pass: are the slow ones the first after it?
    const firstAfter = list.filter((e) => {
      const k = lastKdamond(ev, ev[e.from].t);
      return !Number.isNaN(k) && list.every((o) => o === e || !(ev[o.from].t > k && ev[o.from].t < ev[e.from].t));
    });
    const rest = list.filter((e) => !firstAfter.includes(e));
    const med = (xs: Echo[]): string => (xs.length === 0 ? '-' : pct(xs.map((x) => x.totalUs), 0.5).toFixed(1));
    log(`  the first echo after each of kdamond's passes: ${firstAfter.length} echoes, median ${med(firstAfter)} us; the others ${rest.length}, median ${med(rest)} us, p99 ${rest.length === 0 ? '-' : pct(rest.map((x) => x.totalUs), 0.99).toFixed(1)} us`);
    for (const [what, get] of [['echo', (e: Echo) => e.totalUs], ['to the switch-in', (e: Echo) => e.wakeUs], ['switch-in to write', (e: Echo) => e.responderUs]] as const) {
      const xs = list.map(get);
      log(`  ${what.padEnd(20)} p50 ${pct(xs, 0.5).toFixed(1)}  p90 ${pct(xs, 0.9).toFixed(1)}  p99 ${pct(xs, 0.99).toFixed(1)}  max ${Math.max(...xs).toFixed(1)} us`);
    }
    const byTotal = [...list].sort((a, b) => b.totalUs - a.totalUs);
    for (const e of [...byTotal.slice(0, slowest), byTotal[Math.floor(byTotal.length / 2)]]) {
      log('');
      const t0 = ev[e.from].t;
      const k = lastKdamond(ev, t0);
      log(`echo at ${t0.toFixed(6)}: ${e.totalUs.toFixed(1)} us (to switch-in ${e.wakeUs.toFixed(1)}, responder ${e.responderUs.toFixed(1)}); kdamond last ran ${((t0 - k) * 1e3).toFixed(1)} ms before`);
      for (let i = e.from; i <= e.to; i++) {
        const f = ev[i];
        if (f.cpu !== CPU) continue;
        log(`  ${((f.t - t0) * 1e6).toFixed(1).padStart(8)}  ${`${f.comm}-${f.pid}`.padEnd(22)} ${f.name} ${f.rest.slice(0, 110)}`);
      }
    }
    if (footprint > 0) {
      const anon: number[] = [];
      const file: number[] = [];
      const regionsMin: number[] = [];
      const regionsMax: number[] = [];
      const anonRegions: number[] = [];
      const fileRegions: number[] = [];
      let lastFiles = new Map<string, number>();
      for (let i = 0; i < footprint; i++) {
        writeFileSync(`/proc/${live.pid}/clear_refs`, '1');
        await sleep(10);
        await client(live.ns, { cpu: CPU }, tools, ['ping', STACK_IP, '1'], 20_000);
        const r = referenced(live.pid);
        anon.push(r.anon);
        file.push(r.file);
        regionsMin.push(r.regionsMin);
        regionsMax.push(r.regionsMax);
        anonRegions.push(r.anonRegions);
        fileRegions.push([...r.fileRegions.values()].reduce((a, b) => a + b, 0));
        lastFiles = r.fileRegions;
      }
      log('');
      log(`memory one echo after 10 ms idle touches (referenced, KiB; median of ${footprint}): anonymous ${pct(anon, 0.5)} (${Math.min(...anon)}-${Math.max(...anon)}), file-backed ${pct(file, 0.5)} (shared pages count when anyone touched them); 2 MiB regions ${pct(regionsMin, 0.5)}-${pct(regionsMax, 0.5)}`);
      const files = [...lastFiles].sort((a, b) => b[1] - a[1]).map(([n, c]) => `${n.split('/').pop()} ${c}`);
      log(`  of them (lower bounds, median): anonymous ${pct(anonRegions, 0.5)}, file-backed ${pct(fileRegions, 0.5)} (last echo: ${files.join(', ')})`);
    }
  } finally {
    if (existsSync(inst)) {
      writeFileSync(join(inst, 'tracing_on'), '0');
      for (const e of EVENTS) writeFileSync(join(inst, 'events', e, 'enable'), '0');
      rmdirSync(inst);
    }
    for (const ns of made.reverse()) await ns.destroy();
  }
}

await main();
