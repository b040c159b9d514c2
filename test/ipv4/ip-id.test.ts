import assert from 'node:assert/strict';
import { IpIdGenerator } from '../../src/ipv4/ip-id.js';

/** A deterministic 32-bit source (xorshift) for repeatable tests. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const A = 0xc6120002; // 198.18.0.2
const B = 0xc6120001;

describe('IpIdGenerator', () => {
  it('gives atomic datagrams ID 0 without touching the counters', () => {
    const g = new IpIdGenerator({ random: xorshift(1) });
    const first = g.next(A, B, 17, false);
    assert.equal(g.next(A, B, 17, true), 0);
    assert.equal(g.next(A, B, 17, false), (first + 1) & 0xffff);
  });

  it('counts up by one per (src, dst, protocol) when no time is given, wrapping at 16 bits', () => {
    const g = new IpIdGenerator({ random: xorshift(7) });
    const ids = Array.from({ length: 70_000 }, () => g.next(A, B, 1, false));
    for (let i = 1; i < ids.length; i++) assert.equal(ids[i], (ids[i - 1] + 1) & 0xffff);
    assert.equal(new Set(ids.slice(0, 65536)).size, 65536, 'no repeat within 65536 datagrams');
  });

  it('other destinations use their own counters', () => {
    const g = new IpIdGenerator({ random: xorshift(3), tableSize: 4096 });
    // Find a destination that hashes to another bucket than B.
    let C = B + 1;
    while (g.bucket(A, C, 17) === g.bucket(A, B, 17)) C++;
    const b1 = g.next(A, B, 17, false);
    for (let i = 0; i < 100; i++) g.next(A, C, 17, false);
    assert.equal(g.next(A, B, 17, false), (b1 + 1) & 0xffff, 'traffic to C did not advance B');
  });

  it('randomizes the hash key and the starting values', () => {
    const g1 = new IpIdGenerator({ random: xorshift(11) });
    const g2 = new IpIdGenerator({ random: xorshift(12) });
    const dsts = Array.from({ length: 64 }, (_, i) => B + i);
    const same = dsts.filter((d) => g1.next(A, d, 6, false) === g2.next(A, d, 6, false)).length;
    assert.ok(same < 4, `only chance agreement between two generators (${same}/64)`);
    const buckets = new Set(dsts.map((d) => g1.bucket(A, d, 6)));
    assert.ok(buckets.size > 55, `destinations spread over buckets (${buckets.size}/64)`);
  });

  it('an idle counter skips forward by less than the idle time', () => {
    const g = new IpIdGenerator({ random: xorshift(5) });
    const a = g.next(A, B, 17, false, 1000);
    const b = g.next(A, B, 17, false, 1000);
    assert.equal(b, (a + 1) & 0xffff, 'no skip within the same ms');
    let skipped = false;
    let prev = b;
    for (let t = 1500; t < 20_000; t += 500) {
      const id = g.next(A, B, 17, false, t);
      const step = (id - prev) & 0xffff;
      assert.ok(step >= 1 && step <= 500, `step ${step} within 1..500 after 500 ms idle`);
      if (step > 1) skipped = true;
      prev = id;
    }
    assert.ok(skipped, 'some idle periods skipped');
  });

  it('uses crypto randomness by default', () => {
    const g1 = new IpIdGenerator();
    const g2 = new IpIdGenerator();
    const s1 = Array.from({ length: 8 }, (_, i) => g1.next(A, B + i, 17, false));
    const s2 = Array.from({ length: 8 }, (_, i) => g2.next(A, B + i, 17, false));
    assert.notDeepEqual(s1, s2);
  });

  it('rejects a table size that is not a power of two', () => {
    assert.throws(() => new IpIdGenerator({ tableSize: 1000 }), RangeError);
  });
});
