/**
 * Did anything grow during a soak run? A pure judgement over the samples, so it is unit-tested
 * (test/bench/soak-trend.test.ts) apart from the run itself.
 *
 * The first fifth of the run is warm-up (JIT, heap and buffers reach their working size) and is
 * left out. The rest is cut into thirds; a quantity grew when the median of the last third
 * exceeds the median of the first by more than both a relative and an absolute margin (memory
 * figures of a garbage-collected process move by megabytes from one sample to the next; a leak
 * shows as a steady climb that outruns them). The least-squares slope is reported beside it.
 */

export interface SoakSample {
  /** Seconds since the load started. */
  readonly t: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  /** `process.getActiveResourcesInfo().length`. */
  readonly handles: number;
  readonly activeConnections: number;
  /** Connections opened or accepted so far. */
  readonly connectionsOpened: number;
}

export interface Growth {
  readonly name: string;
  readonly grew: boolean;
  readonly firstMedian: number;
  readonly lastMedian: number;
  /** Least-squares slope per hour over the judged samples. */
  readonly slopePerHour: number;
  readonly detail: string;
}

export interface SoakVerdict {
  readonly ok: boolean;
  /** Why not judged (too few samples), when so. */
  readonly note?: string;
  readonly growth: readonly Growth[];
}

const MIB = 2 ** 20;

/** Margins: grew when last > first * (1 + relative) + absolute. */
const MARGINS: ReadonlyArray<{ name: keyof SoakSample; relative: number; absolute: number; unit: number; unitName: string }> = [
  { name: 'rss', relative: 0.15, absolute: 16 * MIB, unit: MIB, unitName: 'MiB' },
  { name: 'heapUsed', relative: 0.2, absolute: 8 * MIB, unit: MIB, unitName: 'MiB' },
  { name: 'external', relative: 0.5, absolute: 32 * MIB, unit: MIB, unitName: 'MiB' },
  { name: 'handles', relative: 0, absolute: 8, unit: 1, unitName: '' },
  { name: 'activeConnections', relative: 0, absolute: 64, unit: 1, unitName: '' },
];

/** Fewer judged samples than this and the verdict is "not judged" (ok false). */
export const MIN_JUDGED_SAMPLES = 6;

export function judgeSoak(samples: readonly SoakSample[]): SoakVerdict {
  if (samples.length === 0) return { ok: false, note: 'no samples', growth: [] };
  const end = samples[samples.length - 1].t;
  const judged = samples.filter((s) => s.t >= end / 5);
  if (judged.length < MIN_JUDGED_SAMPLES) {
    return { ok: false, note: `only ${judged.length} samples after the warm-up (need ${MIN_JUDGED_SAMPLES}): sample more often or run longer`, growth: [] };
  }
  const third = Math.floor(judged.length / 3);
  const growth = MARGINS.map(({ name, relative, absolute, unit, unitName }): Growth => {
    const first = median(judged.slice(0, third).map((s) => s[name]));
    const last = median(judged.slice(judged.length - third).map((s) => s[name]));
    const slopePerHour = slope(judged.map((s) => s.t), judged.map((s) => s[name])) * 3600;
    const grew = last > first * (1 + relative) + absolute;
    const f = (x: number): string => `${(x / unit).toFixed(unit === 1 ? 0 : 1)}${unitName === '' ? '' : ` ${unitName}`}`;
    return {
      name, grew, firstMedian: first, lastMedian: last, slopePerHour,
      detail: `${f(first)} -> ${f(last)} (medians of the first and last thirds; ${(slopePerHour / unit).toFixed(1)}${unitName === '' ? '' : ` ${unitName}`}/h)${grew ? ' GREW' : ''}`,
    };
  });
  return { ok: growth.every((g) => !g.grew), growth };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
