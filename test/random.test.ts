import assert from 'node:assert/strict';
import { createRandom, randomSeed } from '../src/random.js';
import { randomMac } from '../src/mac.js';

describe('random', () => {
  it('gives the same sequence for the same seed and another for another seed', () => {
    const take = (seed: number): number[] => {
      const r = createRandom(seed);
      return Array.from({ length: 16 }, () => r.uint32());
    };
    assert.deepEqual(take(1), take(1));
    assert.notDeepEqual(take(1), take(2));
    assert.notDeepEqual(take(1), take(2 ** 32 + 1), 'bits above 32 count');
  });

  it('next() is in [0, 1), below(n) in [0, n), both roughly uniform', () => {
    const r = createRandom(123);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = r.next();
      assert.ok(x >= 0 && x < 1);
      buckets[Math.floor(x * 10)]++;
    }
    // 10,000 expected per bucket, sigma ~95.
    for (const b of buckets) assert.ok(b > 9500 && b < 10500, `bucket ${b}`);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const k = r.below(7);
      assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
      seen.add(k);
    }
    assert.equal(seen.size, 7);
    assert.equal(r.below(1), 0);
  });

  it('its methods work detached (e.g. as randomMac’s source)', () => {
    const m1 = randomMac(createRandom(5).next);
    const m2 = randomMac(createRandom(5).next);
    assert.deepEqual(m1, m2);
    assert.equal(m1[0] & 0x03, 0x02);
  });

  it('randomSeed gives a 32-bit integer', () => {
    const s = randomSeed();
    assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32);
  });
});
