/**
 * The stack's time base: wall-clock milliseconds with sub-millisecond resolution,
 * `performance.timeOrigin + performance.now()` (what `unrefScheduler.now()` returns), and how a
 * reading of CLOCK_MONOTONIC taken by the TAP addon (uv_hrtime in ms: `TapHandle.wakeTime`)
 * maps onto it.
 *
 * `performance.now()` is uv_hrtime (CLOCK_MONOTONIC) less a constant the process fixed at start,
 * which Node does not expose; process.hrtime.bigint() is uv_hrtime itself. The constant is
 * measured once, between two hrtime readings around a performance.now(): the tightest of a few
 * such brackets, taken at its late end, so a converted reading is never later than
 * performance.now() read at the same instant (one microsecond is given away besides, for the
 * rounding of the sums), and a fresh reading taken after a converted one is never earlier.
 */
const perf = performance;
/** Constant for the process: read once (each read of the getter makes a new number object). */
export const TIME_ORIGIN = perf.timeOrigin;

/** Added to CLOCK_MONOTONIC in ms (uv_hrtime / 1e6), gives the stack's clock. */
export const MONOTONIC_TO_CLOCK = measureOffset();

function measureOffset(): number {
  const hrtime = process.hrtime.bigint;
  let narrowest = Infinity;
  let offset = 0;
  for (let i = 0; i < 16; i++) {
    const before = hrtime();
    const now = perf.now();
    const after = hrtime();
    const width = Number(after - before);
    if (width < narrowest) {
      narrowest = width;
      // now = (t - origin) for some t in [before, after]: origin <= after - now. Taking the
      // largest origin makes converted readings the earliest they could be.
      offset = now - Number(after) / 1e6;
    }
  }
  return TIME_ORIGIN + offset - 0.001;
}

/** The stack's clock for a CLOCK_MONOTONIC reading in ms. */
export function clockFromMonotonic(monotonicMs: number): number {
  return monotonicMs + MONOTONIC_TO_CLOCK;
}
