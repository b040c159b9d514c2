/**
 * `npm run soak -- --minutes N`: the stack under mixed load from the Linux kernel for N minutes,
 * its memory and handles sampled throughout; exits 0 only when no load run failed and nothing
 * grew (root: it makes a network namespace with a TAP device, 198.18.0.0/24 inside it only).
 *
 *   namespace rxbench-...-soak:  kernel 198.18.0.1 ── TAP rxs0 ── this process: the stack at
 *                                198.18.0.2 (echo:7, discard:9, chargen:19, udp-echo:7), with
 *                                seeded loss and reordering on its link, both directions
 *
 * The load is the benchmark client (bench/kernel/kclient.c) run over and over in four lanes at
 * once, each run bounded in time: connection churn (crr), bulk to and from the stack in turn,
 * UDP request/response, and pings. The stack runs in this process, so every sample reads its
 * own heap, RSS, handles and TCP tables directly.
 *
 * Options:
 *   --minutes M     how long the load runs (default 5; fractions allowed)
 *   --sample S      seconds between samples (default 10, at most a tenth of the run)
 *   --seed N        impairment seed (default 1)
 *   --loss P        loss probability each way (default 0.002)
 *   --reorder P     reordering probability each way (default 0.005)
 *   --out FILE      where the JSON report goes (default bench/results/soak-<date>.json)
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernelTools } from './kernel/build.js';
import { Netns } from './kernel/netns.js';
import { createStack } from '../streams/stack/create-stack.js';
import { tapLink } from '../streams/links/tap-link.js';
import { impairLink } from '../streams/operators/impair.js';
import { startServices } from '../streams/services/index.js';
import { judgeSoak, type SoakSample } from './lib/soak-trend.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STACK_IP = '198.18.0.2';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    sample: { type: 'string' },
    seed: { type: 'string', default: '1' },
    loss: { type: 'string', default: '0.002' },
    reorder: { type: 'string', default: '0.005' },
    out: { type: 'string' },
  },
});

function usage(problems: string[]): never {
  for (const p of problems) console.error(`soak: ${p}`);
  process.exit(2);
}

const minutes = Number(values.minutes);
const seed = Number(values.seed);
const loss = Number(values.loss);
const reorder = Number(values.reorder);
const sampleS = values.sample === undefined ? Math.min(10, Math.max(1, (minutes * 60) / 10)) : Number(values.sample);
const problems: string[] = [];
if (!(minutes > 0 && minutes <= 24 * 60)) problems.push('--minutes must be in (0, 1440]');
if (!Number.isInteger(seed)) problems.push('--seed must be an integer');
if (!(loss >= 0 && loss <= 0.05)) problems.push('--loss must be in [0, 0.05]');
if (!(reorder >= 0 && reorder <= 0.2)) problems.push('--reorder must be in [0, 0.2]');
if (!(sampleS >= 0.5 && sampleS <= (minutes * 60) / 4)) problems.push('--sample must be at least 0.5 s and at most a quarter of the run');
if (problems.length > 0) usage(problems);
if (process.platform !== 'linux' || process.getuid?.() !== 0) {
  console.error('soak: needs root on Linux (it makes a network namespace and a TAP device): run `sudo npm run soak`');
  process.exit(2);
}

const log = (line: string): void => {
  process.stderr.write(`soak: ${line}\n`);
};

interface Lane {
  readonly name: string;
  /** kclient arguments of the next run (lanes may alternate between several). */
  readonly next: (i: number) => string[];
  runs: number;
  failures: string[];
}

async function main(): Promise<number> {
  const tools = await buildKernelTools();
  const ns = await Netns.create('soak');
  const started = new Date();
  let stack: ReturnType<typeof createStack> | undefined;
  try {
    await ns.ip(['tuntap', 'add', 'dev', 'rxs0', 'mode', 'tap']);
    await ns.addAddress('198.18.0.1/24', 'rxs0');
    await ns.ip(['link', 'set', 'rxs0', 'up']);
    // MTU-sized frames (no offload), so a lost frame is one lost segment as on a real path.
    const link = impairLink(tapLink({ name: 'rxs0', netns: ns.name, offload: false }), {
      inbound: { loss, reorder, seed },
      outbound: { loss, reorder, seed: seed + 1 },
    });
    stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: [`${STACK_IP}/24`] }] });
    const services = startServices(stack, [
      { name: 'echo', port: 7 }, { name: 'discard', port: 9 }, { name: 'chargen', port: 19 }, { name: 'udp-echo', port: 7 },
    ]);

    const lanes: Lane[] = [
      { name: 'churn', next: () => ['crr', STACK_IP, '7', '5'], runs: 0, failures: [] },
      { name: 'bulk', next: (i) => (i % 2 === 0 ? ['stream-to', STACK_IP, '9', '5'] : ['stream-from', STACK_IP, '19', '5']), runs: 0, failures: [] },
      { name: 'udp', next: () => ['udp-rr', STACK_IP, '7', '2'], runs: 0, failures: [] },
      { name: 'ping', next: () => ['ping', STACK_IP, '200'], runs: 0, failures: [] },
    ];
    const endAt = Date.now() + minutes * 60_000;
    const laneLoop = async (lane: Lane): Promise<void> => {
      for (let i = 0; Date.now() < endAt; i++) {
        const args = lane.next(i);
        const r = await ns.exec(tools.client, args, 30_000);
        lane.runs++;
        const last = r.stdout.trim().split('\n').pop() ?? '';
        if (r.code !== 0 || last.includes('"error"')) {
          lane.failures.push(`${args.join(' ')}: exit ${r.code} ${last} ${r.stderr.trim()}`.slice(0, 300));
          // A failing lane backs off instead of spinning; it is reported at the end.
          await new Promise((res) => setTimeout(res, 1000));
        }
      }
    };

    const samples: SoakSample[] = [];
    const t0 = Date.now();
    const sample = (): void => {
      const m = process.memoryUsage();
      const tcp = stack!.tcpLayer.counters;
      const s: SoakSample = {
        t: (Date.now() - t0) / 1000,
        rss: m.rss,
        heapUsed: m.heapUsed,
        external: m.external,
        handles: process.getActiveResourcesInfo().length,
        activeConnections: tcp.activeConnections,
        connectionsOpened: tcp.connectionsOpened + tcp.connectionsAccepted,
      };
      samples.push(s);
      log(`t=${s.t.toFixed(0)} s  rss ${(s.rss / 2 ** 20).toFixed(1)} MiB  heap ${(s.heapUsed / 2 ** 20).toFixed(1)} MiB  external ${(s.external / 2 ** 20).toFixed(1)} MiB  handles ${s.handles}  connections ${s.activeConnections} open, ${s.connectionsOpened} opened  runs ${lanes.map((l) => `${l.name} ${l.runs}`).join(', ')}`);
    };
    sample();
    const timer = setInterval(sample, sampleS * 1000);
    log(`mixed load for ${minutes} min (loss ${loss}, reorder ${reorder} each way, seed ${seed}), a sample every ${sampleS} s`);
    try {
      await Promise.all(lanes.map(laneLoop));
    } finally {
      clearInterval(timer);
    }
    // Let the last connections finish closing before the final sample.
    await new Promise((res) => setTimeout(res, 2000));
    sample();

    const verdict = judgeSoak(samples);
    const failures = lanes.flatMap((l) => l.failures.map((f) => `${l.name}: ${f}`));
    const stats = stack.stats();
    const report = {
      date: started.toISOString(),
      options: { minutes, sampleS, seed, loss, reorder },
      lanes: lanes.map((l) => ({ name: l.name, runs: l.runs, failures: l.failures.length })),
      failures,
      verdict,
      tcp: stats.tcp,
      samples,
    };
    const out = resolve(values.out ?? join(ROOT, 'bench', 'results', `soak-${started.toISOString().replace(/[:.]/g, '-')}.json`));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    services.unsubscribe();
    for (const g of verdict.growth) log(`${g.name}: ${g.detail}`);
    const ok = failures.length === 0 && verdict.ok;
    for (const f of failures.slice(0, 10)) log(`FAILED ${f}`);
    log(`report written to ${out}`);
    console.log(`soak: ${ok ? 'PASS' : 'FAIL'}: ${minutes} min, ${lanes.map((l) => `${l.name} ${l.runs} runs`).join(', ')}, ${stats.tcp.connectionsAccepted + stats.tcp.connectionsOpened} connections, ${failures.length} failed runs, ${verdict.ok ? 'no growth' : `growth in ${verdict.growth.filter((g) => g.grew).map((g) => g.name).join(', ')}`}`);
    return ok ? 0 : 1;
  } finally {
    stack?.close();
    await ns.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`soak: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
