import assert from 'node:assert/strict';
import { TokenBucket } from '../../src/icmp/rate-limiter.js';

describe('TokenBucket', () => {
  it('allows a burst, then refuses until tokens flow back in', () => {
    const b = new TokenBucket(10, 3); // 10/s: one token per 100 ms
    assert.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
    assert.equal(b.take(99), false, 'not a whole token yet at 99 ms');
    assert.equal(b.take(100), true);
    assert.equal(b.take(100), false);
  });

  it('never holds more than the burst, however long it was idle', () => {
    const b = new TokenBucket(1000, 5);
    b.take(0);
    assert.equal(b.available(1_000_000), 5);
    let taken = 0;
    while (b.take(1_000_000)) taken++;
    assert.equal(taken, 5);
  });

  it('supports rates below one per second', () => {
    const b = new TokenBucket(0.5, 1);
    assert.equal(b.take(0), true);
    assert.equal(b.take(1999), false);
    assert.equal(b.take(2000), true);
  });

  it('a clock going backwards adds nothing', () => {
    const b = new TokenBucket(10, 1);
    assert.equal(b.take(1000), true);
    assert.equal(b.take(500), false);
    assert.equal(b.take(1050), false, 'only 50 ms since the last real refill');
    assert.equal(b.take(1100), true);
  });

  it('rate 0 gives only the initial burst', () => {
    const b = new TokenBucket(0, 2);
    assert.equal(b.take(0), true);
    assert.equal(b.take(0), true);
    assert.equal(b.take(1e9), false);
    assert.equal(b.nextAvailable(1e9), Infinity);
  });

  it('nextAvailable says when the next token comes', () => {
    const b = new TokenBucket(4, 1); // one per 250 ms
    assert.equal(b.nextAvailable(0), 0);
    b.take(0);
    assert.equal(b.nextAvailable(0), 250);
    assert.equal(b.nextAvailable(100), 250);
    assert.equal(b.take(249), false);
    assert.equal(b.take(250), true);
  });

  it('takes several tokens at once only when all are there', () => {
    const b = new TokenBucket(1, 3);
    assert.equal(b.take(0, 2), true);
    assert.equal(b.take(0, 2), false);
    assert.equal(b.available(0), 1);
  });

  it('rejects negative parameters', () => {
    assert.throws(() => new TokenBucket(-1, 1), RangeError);
    assert.throws(() => new TokenBucket(1, Number.NaN), RangeError);
  });
});
