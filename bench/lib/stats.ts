/** Small statistics and timing helpers for the benchmarks. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >>> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The median of the ratios a[i] / b[i] of runs taken side by side (run i of each target in the
 * same minutes). When the machine changes speed between runs, every target moves with it, and
 * the ratio of each pair keeps what the separate medians lose; pairs with a missing side (a
 * longer list's tail) are left out.
 */
export function medianRatio(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(a[i] / b[i]);
  return median(ratios);
}

/** Monotonic time in nanoseconds, as a number (exact far beyond any benchmark's length). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Lets the event loop run once (timers, I/O, setImmediate work queued by the stack). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects after `ms` with `what` in the message, unless `promise` settles first. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
