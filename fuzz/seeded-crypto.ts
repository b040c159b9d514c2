/**
 * Runs `fn` with `node:crypto`'s randomBytes replaced by a seeded generator, so that the
 * stacks made inside get the same ISN and SYN-cookie secrets in every session of a seed. That is
 * what lets a recorded frame sequence that answers the stack's SYN-ACKs replay exactly (the
 * reducer and the fixture replays depend on it). Test harness only: the stack's code is not
 * touched, and the real randomBytes is back before `fn`'s result is returned.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { createRandom } from '../src/random.js';

const require = createRequire(import.meta.url);
const crypto = require('node:crypto') as { randomBytes: (n: number) => Buffer };

export function withSeededRandomBytes<T>(seed: number, fn: () => T): T {
  const original = crypto.randomBytes;
  const rng = createRandom(seed);
  crypto.randomBytes = ((n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = rng.below(256);
    return b;
  }) as typeof crypto.randomBytes;
  syncBuiltinESMExports();
  try {
    return fn();
  } finally {
    crypto.randomBytes = original;
    syncBuiltinESMExports();
  }
}
