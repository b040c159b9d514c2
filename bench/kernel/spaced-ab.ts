/**
 * Spaced request/response, several kinds and trees side by side: the p50 of each kind (kclient
 * `latency`: ping, ping-recv, udp, tcp) at each spacing, for one or two compiled trees over TAP
 * (offload on, as the latency section's stack) and the kernel over veth, all pinned to CPU 0,
 * namespaces as tap-bench.ts makes them, deleted afterwards.
 *
 * The latency section measures the kinds one after another in a fixed order; here every round
 * rotates the order of the kinds and alternates the targets, so a kind's figure does not carry
 * the place it had (what ran just before it, on which target). Figures: medians over the rounds
 * of each run's p50 (and the runs' range); with --base, the median of the rounds' tree / base
 * ratios per kind and spacing.
 *
 *   node --import tsx bench/kernel/spaced-ab.ts [ROUNDS=5] [--intervals 0,1,2] [--kinds ping,udp]
 *        [--count N] [--base DIR] [--tree DIR] [--warm N]
 *
 * --count N: exchanges per run (default: about 1 s of them, at least 200; 2,000 back to back).
 * --warm N: back-to-back exchanges of each kind per target before the rounds (default 20,000,
 * as floor-bench: V8's compile jobs settled).
 * Root; `npx tsc -p tsconfig.build.json` first (the stacks run from dist/).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, kernelReference, stackNamespace, STACK_IP } from './tap-bench.js';
import { median } from '../lib/stats.js';

const CPU = 0;
const KINDS = ['ping', 'ping-recv', 'udp', 'tcp'] as const;

interface Target {
  readonly name: string;
  readonly ns: Netns;
}

function list(text: string): string[] {
  return text.split(',').filter((x) => x.length > 0);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const positional: string[] = [];
  let base: string | undefined;
  let tree = fileURLToPath(new URL('../..', import.meta.url));
  let intervals = [0, 1, 2];
  let kinds: string[] = ['ping', 'udp'];
  let count: number | undefined;
  let warm = 20_000;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--base') base = argv[++i];
    else if (argv[i] === '--tree') tree = argv[++i];
    else if (argv[i] === '--intervals') intervals = list(argv[++i]).map(Number);
    else if (argv[i] === '--kinds') kinds = list(argv[++i]);
    else if (argv[i] === '--count') count = Number(argv[++i]);
    else if (argv[i] === '--warm') warm = Number(argv[++i]);
    else positional.push(argv[i]);
  }
  for (const k of kinds) if (!(KINDS as readonly string[]).includes(k)) throw new Error(`--kinds: ${KINDS.join(', ')}`);
  if (intervals.some((x) => !(x >= 0 && x <= 100))) throw new Error('--intervals: milliseconds 0..100');
  const rounds = Number(positional[0] ?? '5');
  const countAt = (ms: number): number => count ?? (ms === 0 ? 2000 : Math.max(200, Math.round(1000 / ms)));
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const made: Netns[] = [];
  try {
    const tools = await buildKernelTools();
    const targets: Target[] = [];
    if (base !== undefined) {
      const a = await stackNamespace({ cpu: CPU, cli: join(base, 'dist/bin/rx-netstack.js') }, made, 'sa', true);
      targets.push({ name: 'base', ns: a.ns });
    }
    const b = await stackNamespace({ cpu: CPU, cli: join(tree, 'dist/bin/rx-netstack.js') }, made, 'sb', true);
    targets.push({ name: 'tree', ns: b.ns });
    const { c } = await kernelReference(CPU, tools, made);
    targets.push({ name: 'kernel', ns: c });
    log(`load before: ${readFileSync('/proc/loadavg', 'utf8').trim()}; tree ${tree}${base === undefined ? '' : `, base ${base}`}`);
    const port = (kind: string): string => (kind.startsWith('ping') ? '0' : '7');
    const latency = async (t: Target, kind: string, n: number, ms: number): Promise<number> => {
      const r = await client(t.ns, { cpu: CPU }, tools, ['latency', kind, STACK_IP, port(kind), String(n), String(ms)], 30_000 + n * (ms + 5));
      return Number(r.p50Ms) * 1000;
    };
    // Warm-up, in pieces of at most 5,000 (a new TCP connection each, as the latency section).
    for (const t of targets) for (const kind of kinds) for (let left = warm; left > 0; left -= 5000) await latency(t, kind, Math.min(5000, left), 0);
    // p50[target][kind@interval] = one figure per round.
    const p50 = targets.map(() => new Map<string, number[]>());
    for (let r = 0; r < rounds; r++) {
      // Rotate the kinds' order each round; alternate the targets inside each cell.
      const order = kinds.map((_, i) => kinds[(i + r) % kinds.length]);
      const targetOrder = r % 2 === 0 ? targets : [...targets].reverse();
      for (const ms of intervals) {
        for (const kind of order) {
          for (const t of targetOrder) {
            const at = targets.indexOf(t);
            const key = `${kind}@${ms}`;
            const runs = p50[at].get(key) ?? [];
            runs.push(await latency(t, kind, countAt(ms), ms));
            p50[at].set(key, runs);
          }
        }
      }
      log(`round ${r + 1} of ${rounds} done, load ${readFileSync('/proc/loadavg', 'utf8').trim().split(' ')[0]}`);
    }
    const f = (x: number): string => x.toFixed(1);
    log(`| kind | every, ms | ${targets.map((t) => `${t.name} p50, us (runs' range)`).join(' | ')} | kernel / ${targets.length > 2 ? 'base / tree' : 'tree'} |${base === undefined ? '' : ' tree / base, median of rounds |'}`);
    log(`|---|---:|${targets.map(() => '---:|').join('')}---:|${base === undefined ? '' : '---:|'}`);
    const kernelAt = targets.length - 1;
    for (const ms of intervals) {
      for (const kind of kinds) {
        const key = `${kind}@${ms}`;
        const cells = targets.map((_, k) => {
          const runs = p50[k].get(key)!;
          return `${f(median(runs))} (${f(Math.min(...runs))}-${f(Math.max(...runs))})`;
        });
        const kernel = median(p50[kernelAt].get(key)!);
        const ratios = targets.slice(0, kernelAt).map((_, k) => (kernel / median(p50[k].get(key)!)).toFixed(3)).join(' / ');
        let ab = '';
        if (base !== undefined) {
          const a = p50[0].get(key)!;
          const t = p50[1].get(key)!;
          ab = ` ${median(t.map((x, i) => x / a[i])).toFixed(3)} |`;
        }
        log(`| ${kind} | ${ms} | ${cells.join(' | ')} | ${ratios} |${ab}`);
      }
    }
    for (const [k, t] of targets.entries()) {
      for (const [key, runs] of p50[k]) log(`runs ${t.name} ${key}: ${runs.map(f).join(' ')}`);
    }
    log(`load after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  } finally {
    for (const ns of made.reverse()) await ns.destroy();
  }
}

await main();
