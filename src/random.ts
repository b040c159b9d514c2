/**
 * A small seeded PRNG for everything that must be reproducible: impairment (loss, reorder,
 * corruption), test fixtures, random MACs in tests. Not for anything secret (ISNs, SYN cookies
 * and ephemeral ports want node:crypto).
 *
 * The generator is sfc32 (Chris Doty-Humphrey's "small fast counting" generator: 128 bits of
 * state, passes PractRand, only 32-bit integer operations, so it is fast in V8). The seed is
 * expanded into the four state words with splitmix32 so that nearby seeds (1, 2, 3) give
 * unrelated sequences.
 *
 * @example
 * const rng = createRandom(42);
 * if (rng.next() < 0.01) drop();   // 1 % loss, the same frames every run
 * randomMac(rng.next);             // the methods are plain closures: safe to pass detached
 */

export interface Random {
  /** The seed this generator was created with (its integer part). */
  readonly seed: number;
  /** A uniform float in [0, 1) with 32 bits of resolution. */
  readonly next: () => number;
  /** A uniform unsigned 32-bit integer. */
  readonly uint32: () => number;
  /** A uniform integer in [0, n) for 1 <= n <= 2^32 (0 when n <= 1). */
  readonly below: (n: number) => number;
}

const TWO_POW_32 = 0x1_0000_0000;

/** One splitmix32 step: a good 32-bit mixer, used only to spread the seed over the state. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z ^= z >>> 16;
  z = Math.imul(z, 0x21f0aaad);
  z ^= z >>> 15;
  z = Math.imul(z, 0x735a2d97);
  z ^= z >>> 15;
  return z >>> 0;
}

/**
 * A generator for `seed`. Any finite number is accepted: the integer part is used, including
 * bits above 32 (so 1 and 2^32 + 1 give different sequences). Non-finite seeds count as 0.
 */
export function createRandom(seed: number): Random {
  const s = Number.isFinite(seed) ? Math.trunc(seed) : 0;
  const lo = s >>> 0;
  const hi = Math.floor(s / TWO_POW_32) >>> 0;

  let a = splitmix32(lo);
  let b = splitmix32(a ^ hi);
  let c = splitmix32(b + 0x6a09e667);
  let d = splitmix32(c ^ 0xbb67ae85);

  const uint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // The first outputs of a freshly seeded sfc32 are still correlated with the seed.
  for (let i = 0; i < 12; i++) uint32();

  const next = (): number => uint32() / TWO_POW_32;
  const below = (n: number): number => (n <= 1 ? 0 : Math.floor(next() * n));

  return { seed: s, next, uint32, below };
}

/** A fresh seed for callers who did not give one (not reproducible, by definition). */
export function randomSeed(): number {
  return Math.floor(Math.random() * TWO_POW_32);
}
