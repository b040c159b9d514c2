/**
 * The byte pattern the kernel-peer transfer tests send and check, in TypeScript and in Python
 * (the kernel side): the same bytes on both sides, so every payload is compared byte for byte.
 */

/** A prime: the pattern never lines up with segment or buffer sizes. */
export const PATTERN_BLOCK = 65521;

/** `n` bytes: a prime-length block of `seed`-dependent bytes, repeated. */
export function pattern(n: number, seed: number): Uint8Array {
  const block = new Uint8Array(PATTERN_BLOCK);
  for (let i = 0; i < PATTERN_BLOCK; i++) block[i] = (((i * 31 + seed) * 17) + (i >> 8)) & 0xff;
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += PATTERN_BLOCK) out.set(block.subarray(0, Math.min(PATTERN_BLOCK, n - o)), o);
  return out;
}

/** The same as Python source: `pattern(n, seed)` returning bytes. */
export const PY_PATTERN = `
def pattern(n, seed):
    block = bytes((((i * 31 + seed) * 17) + (i >> 8)) & 0xff for i in range(${PATTERN_BLOCK}))
    return (block * (n // ${PATTERN_BLOCK} + 1))[:n]
`;
