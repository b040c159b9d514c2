/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4; RFC 1982 serial-number style).
 *
 * Sequence numbers wrap, so `a < b` on raw numbers is wrong near 2^32: every comparison in the
 * TCP core goes through these helpers. Two numbers compare by the sign of their 32-bit
 * difference, which is meaningful while they lie within 2^31 of each other (always true for
 * numbers inside one connection's windows).
 */

/** `a + n` modulo 2^32 (n may be negative). Result is a uint32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Signed distance `a - b` in the range [-2^31, 2^31). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** `a < b` modulo 2^32. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** `a <= b` modulo 2^32. */
export function seqLeq(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** `a > b` modulo 2^32. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** `a >= b` modulo 2^32. */
export function seqGeq(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** The later of two sequence numbers. */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a : b;
}

/** The earlier of two sequence numbers. */
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) <= 0 ? a : b;
}

/** `lo <= x < hi` modulo 2^32 (the half-open range of a window). Empty when lo == hi. */
export function seqInRange(x: number, lo: number, hi: number): boolean {
  return ((x - lo) | 0) >= 0 && ((x - hi) | 0) < 0;
}
