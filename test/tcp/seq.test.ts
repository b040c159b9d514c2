import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seqAdd, seqDiff, seqGeq, seqGt, seqInRange, seqLeq, seqLt, seqMax, seqMin } from '../../src/tcp/seq.js';

describe('tcp/seq', () => {
  it('compares across the 2^32 wrap', () => {
    const nearTop = 0xffff_fff0;
    const wrapped = seqAdd(nearTop, 0x20); // 0x10
    assert.equal(wrapped, 0x10);
    assert.ok(seqLt(nearTop, wrapped));
    assert.ok(seqGt(wrapped, nearTop));
    assert.ok(seqLeq(nearTop, nearTop));
    assert.ok(seqGeq(wrapped, wrapped));
    assert.equal(seqDiff(wrapped, nearTop), 0x20);
    assert.equal(seqDiff(nearTop, wrapped), -0x20);
    assert.equal(seqMax(nearTop, wrapped), wrapped);
    assert.equal(seqMin(nearTop, wrapped), nearTop);
  });

  it('seqAdd handles negative steps and returns uint32', () => {
    assert.equal(seqAdd(0, -1), 0xffff_ffff);
    assert.equal(seqAdd(0xffff_ffff, 1), 0);
  });

  it('seqInRange is half-open and wrap-aware', () => {
    const lo = 0xffff_fffe;
    const hi = seqAdd(lo, 4); // 2
    assert.ok(seqInRange(lo, lo, hi));
    assert.ok(seqInRange(0, lo, hi));
    assert.ok(seqInRange(1, lo, hi));
    assert.ok(!seqInRange(2, lo, hi));
    assert.ok(!seqInRange(seqAdd(lo, -1), lo, hi));
    assert.ok(!seqInRange(lo, lo, lo), 'empty range');
  });

  it('agrees with plain comparison of offsets within 2^31 (property)', () => {
    fc.assert(
      fc.property(fc.nat(0xffff_ffff), fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), (base, delta) => {
        const other = seqAdd(base, delta);
        assert.equal(seqDiff(other, base), delta);
        assert.equal(seqLt(base, other), delta > 0);
        assert.equal(seqGt(base, other), delta < 0);
        assert.equal(seqLeq(base, other), delta >= 0);
        assert.equal(seqGeq(base, other), delta <= 0);
      }),
    );
  });
});
