/**
 * The whole-stack fuzzer: frames from the grammar fed to a session (session.ts) at a steady
 * rate of virtual time, invariants checked every `checkEvery` frames and at the end. The last
 * `keep` frames are remembered (with their virtual times) so that a failure can be replayed
 * and reduced.
 */
import { createRandom } from '../src/random.js';
import { FrameGrammar, type GeneratedKind } from './grammar.js';
import { FuzzSession, type Failure } from './session.js';

export interface FuzzRunOptions {
  readonly frames: number;
  readonly seed: number;
  /** Frames injected per millisecond of virtual time. Default 10. */
  readonly framesPerMs?: number;
  /** Counters and tables are checked every this many frames. Default 500. */
  readonly checkEvery?: number;
  /** The heap is sampled every this many frames. Default 20 000. */
  readonly heapEvery?: number;
  /** Frames remembered for replay and reduction. Default 64 000. */
  readonly keep?: number;
  /** Progress lines (about every 10 % of the run). */
  readonly log?: (line: string) => void;
}

/** A frame as injected: its virtual time (ms from the session's start) and bytes. */
export interface RecordedFrame {
  readonly at: number;
  readonly bytes: Uint8Array;
}

export interface FuzzRunResult {
  readonly seed: number;
  readonly frames: number;
  readonly elapsedMs: number;
  readonly failures: readonly Failure[];
  readonly byKind: Readonly<Record<string, number>>;
  /** Frames by what they carry (EtherType, IP protocol; `fragment` for non-first fragments). */
  readonly byProtocol: Readonly<Record<string, number>>;
  /** The last frames injected, oldest first (for replay when something failed). */
  readonly recent: readonly RecordedFrame[];
  readonly liveBytes: number;
  readonly segmentsChecked: number;
  readonly virtualMs: number;
}

/** Lets timers of the real clock run: RxJS reports errors in subscribers with setTimeout. */
export function yieldToTimers(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export async function runFuzz(o: FuzzRunOptions): Promise<FuzzRunResult> {
  const rng = createRandom(o.seed);

  const perMs = o.framesPerMs ?? 10;
  const checkEvery = o.checkEvery ?? 500;
  const heapEvery = o.heapEvery ?? 20_000;
  const keep = o.keep ?? 64_000;
  const ring: RecordedFrame[] = [];
  let ringAt = 0;
  const byKind: Record<string, number> = {};
  const byProtocol: Record<string, number> = {};
  const session = new FuzzSession();
  const grammar = new FrameGrammar(rng, () => session.synAcks);
  const started = performance.now();
  const progressEvery = Math.max(checkEvery, Math.floor(o.frames / 10 / checkEvery) * checkEvery);
  let n = 0;
  session.sampleHeap();
  while (n < o.frames && !session.failed) {
    const g = grammar.next();
    byKind[g.kind] = (byKind[g.kind] ?? 0) + g.frames.length;
    for (const bytes of g.frames) {
      if (n === o.frames) break; // a group (a fragment storm...) may cross the count: stop at it exactly
      const at = Math.floor(n / perMs);
      session.advanceTo(at);
      const rec = { at, bytes };
      if (ring.length < keep) ring.push(rec);
      else ring[ringAt] = rec;
      ringAt = (ringAt + 1) % keep;
      session.inject(bytes);
      const p = protocolOf(bytes);
      byProtocol[p] = (byProtocol[p] ?? 0) + 1;
      n++;
      if (n % checkEvery === 0) {
        session.check();
        await yieldToTimers();
      }
      if (n % heapEvery === 0) session.sampleHeap();
      if (o.log !== undefined && n % progressEvery === 0) {
        const s = (performance.now() - started) / 1000;
        o.log(`  ${n} frames, ${Math.round(n / s)} frames/s, live transfer ${session.liveBytes} bytes echoed, ${session.checker.checked} segments checked; ${session.tables()}`);
      }
    }
  }
  await yieldToTimers();
  if (!session.failed) session.checkHeap();
  const virtualMs = session.now;
  if (!session.failed) session.finish();
  else session.close();
  await yieldToTimers();
  const recent = ring.length < keep ? ring : [...ring.slice(ringAt), ...ring.slice(0, ringAt)];
  return {
    seed: o.seed, frames: n, elapsedMs: performance.now() - started, failures: session.failures, byKind, byProtocol, recent,
    liveBytes: session.liveBytes, segmentsChecked: session.checker.checked, virtualMs,
  };
}

/**
 * Replays recorded frames into a fresh session at their virtual times, then drains the live
 * transfer; returns the failures (none when every invariant held).
 */
export async function replay(frames: readonly RecordedFrame[], options: { readonly finish?: boolean } = {}): Promise<Failure[]> {
  const session = new FuzzSession();
  try {
    for (const f of frames) {
      session.advanceTo(f.at);
      session.inject(f.bytes);
      if (session.failed) break;
    }
    session.check();
    await yieldToTimers();
    if (!session.failed && options.finish !== false) session.finish(30_000);
    await yieldToTimers();
    return session.failures;
  } finally {
    session.close();
  }
}

export type { GeneratedKind };

/** What a frame carries, by its headers as they are (however broken the rest). */
export function protocolOf(f: Uint8Array): string {
  if (f.length < 14) return 'runt';
  const type = (f[12] << 8) | f[13];
  if (type === 0x0806) return 'arp';
  if (type !== 0x0800) return 'other-ethertype';
  if (f.length < 34) return 'ipv4';
  if ((((f[20] << 8) | f[21]) & 0x1fff) !== 0) return 'ipv4-fragment';
  switch (f[23]) {
    case 1: return 'icmp';
    case 6: return 'tcp';
    case 17: return 'udp';
    default: return 'ipv4';
  }
}
