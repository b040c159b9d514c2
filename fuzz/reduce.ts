/**
 * Delta debugging (Zeller's ddmin) of a failing frame sequence: first over the frames (which
 * can go), then over the bytes of each frame left (which can go). "Still failing" means the
 * same invariant fails again on replay. Bounded in time: what is left when the time runs out is
 * the reproducer.
 */
import { replay, type RecordedFrame } from './run-fuzz.js';
import { ETH, fixChecksums, isIpv4, readU16, writeU16 } from './raw.js';

export interface ReduceOptions {
  /** The invariant that must fail again. */
  readonly invariant: string;
  /** Wall-clock budget in ms. Default 120 000. */
  readonly budgetMs?: number;
  readonly log?: (line: string) => void;
}

/** Generic ddmin: the smallest sublist (1-minimal within the budget) for which `fails` holds. */
export async function ddmin<T>(items: readonly T[], fails: (subset: readonly T[]) => Promise<boolean>, outOfTime: () => boolean): Promise<T[]> {
  let current = [...items];
  let n = 2;
  while (current.length >= 2 && !outOfTime()) {
    const size = Math.ceil(current.length / n);
    let reduced = false;
    for (let i = 0; i < n && !outOfTime(); i++) {
      const complement = [...current.slice(0, i * size), ...current.slice((i + 1) * size)];
      if (complement.length < current.length && (await fails(complement))) {
        current = complement;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= current.length) break;
      n = Math.min(current.length, n * 2);
    }
  }
  return current;
}

export async function reduceFailure(frames: readonly RecordedFrame[], o: ReduceOptions): Promise<RecordedFrame[]> {
  const deadline = performance.now() + (o.budgetMs ?? 120_000);
  const outOfTime = () => performance.now() > deadline;
  let runs = 0;
  const fails = async (subset: readonly RecordedFrame[]): Promise<boolean> => {
    runs++;
    const failures = await replay(subset);
    return failures.some((f) => f.invariant === o.invariant);
  };
  let kept = await ddmin(frames, fails, outOfTime);
  o.log?.(`  reduced to ${kept.length} frames (${runs} replays)`);
  // Then the bytes of each frame: first the payload cut short with the lengths and checksums
  // made to agree (so the frame keeps its meaning), then any chunk of bytes that can go.
  for (let i = 0; i < kept.length && !outOfTime(); i++) {
    const shortened = await shortenPayload(kept, i, fails, outOfTime);
    if (shortened !== undefined) kept = shortened;
  }
  for (let i = 0; i < kept.length && !outOfTime(); i++) {
    const frame = kept[i];
    if (frame.bytes.length > 256) continue; // chunk removal on big frames costs more than it gains

    const indices = Array.from(frame.bytes, (_, k) => k);
    const withBytes = (idx: readonly number[]) => {
      const copy = [...kept];
      copy[i] = { at: frame.at, bytes: Uint8Array.from(idx, (k) => frame.bytes[k]) };
      return copy;
    };
    const left = await ddmin(indices, (idx) => fails(withBytes(idx)), outOfTime);
    kept = withBytes(left);
  }
  o.log?.(`  bytes reduced: ${kept.length <= 20 ? kept.map((f) => f.bytes.length).join(', ') : `${kept.reduce((n, f) => n + f.bytes.length, 0)} in all`} (${runs} replays)`);
  return kept;
}

/**
 * The shortest IPv4 frame (header and transport header kept, payload cut, total length, UDP
 * length and checksums rewritten) that still fails, by bisection; undefined when none does.
 */
async function shortenPayload(
  frames: RecordedFrame[], i: number, fails: (f: readonly RecordedFrame[]) => Promise<boolean>, outOfTime: () => boolean,
): Promise<RecordedFrame[] | undefined> {
  const frame = frames[i];
  const b = frame.bytes;
  if (!isIpv4(b)) return undefined;
  const ihl = (b[ETH] & 15) * 4;
  const total = readU16(b, ETH + 2);
  if (ihl < 20 || ETH + total > b.length || total < ihl) return undefined;
  const transportHeader = b[ETH + 9] === 6 && total >= ihl + 20 ? ((b[ETH + ihl + 12] >>> 4) * 4) : b[ETH + 9] === 17 ? 8 : b[ETH + 9] === 1 ? 8 : 0;
  const min = Math.min(total, ihl + transportHeader);
  const cut = (payloadEnd: number): RecordedFrame[] => {
    const c = b.slice(0, ETH + payloadEnd);
    writeU16(c, ETH + 2, payloadEnd);
    if (c[ETH + 9] === 17 && payloadEnd >= ihl + 8) writeU16(c, ETH + ihl + 4, payloadEnd - ihl);
    fixChecksums(c);
    const copy = [...frames];
    copy[i] = { at: frame.at, bytes: c };
    return copy;
  };
  let lo = min;
  let hi = total; // fails at hi (the original, as far as we know)
  let best: RecordedFrame[] | undefined;
  while (lo < hi && !outOfTime()) {
    const mid = (lo + hi) >>> 1;
    const candidate = cut(mid);
    if (await fails(candidate)) {
      hi = mid;
      best = candidate;
    } else {
      lo = mid + 1;
    }
  }
  return best;
}
