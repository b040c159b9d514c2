import assert from 'node:assert/strict';
import { median, medianRatio } from '../../bench/lib/stats.js';

describe('bench statistics', () => {
  it('median of odd and even lists, and NaN for none', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  it('medianRatio pairs runs taken side by side, where the ratio of the medians mixes phases', () => {
    // The machine slows by a third after the third pair: each pair is at 0.8 throughout, but
    // the stack's median lands in the slow phase and the kernel's in the fast one.
    const stack = [8, 8, 8, 5.6, 5.6];
    const kernel = [10, 10, 10, 7, 7];
    assert.equal(median(stack) / median(kernel), 0.8);
    // Phases interleaved so the medians come from different ones: 0.56 against 0.8 in four
    // pairs of five.
    const skewedStack = [8, 5.6, 5.6, 5.6, 8];
    const skewedKernel = [10, 7, 10, 7, 10];
    assert.ok(Math.abs(median(skewedStack) / median(skewedKernel) - 0.56) < 1e-9);
    assert.ok(Math.abs(medianRatio(skewedStack, skewedKernel) - 0.8) < 1e-9);
  });

  it('medianRatio leaves out a longer list\'s unpaired tail', () => {
    assert.equal(medianRatio([2, 4, 6, 100], [1, 2, 3]), 2);
    assert.ok(Number.isNaN(medianRatio([], [1])));
  });
});
