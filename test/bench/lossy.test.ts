import assert from 'node:assert/strict';
import { lossyCases, runLossyCase } from '../../bench/lossy.js';

/** The lossy-path benchmark runs in virtual time: its figures are a function of code and seed. */
describe('bench/lossy (virtual time)', () => {
  it('the same case and seed give the same figures; a clean path takes no RTO', () => {
    const c = { rttMs: 10, loss: 0.01, reorder: 0, congestionControl: 'cubic' } as const;
    const one = runLossyCase(c, 512 * 1024, 7);
    const two = runLossyCase(c, 512 * 1024, 7);
    assert.deepEqual(one, two);
    assert.equal(one.finished, true);
    const clean = runLossyCase({ ...c, loss: 0 }, 512 * 1024, 7);
    assert.equal(clean.finished, true);
    assert.equal(clean.rtos, 0);
    assert.equal(clean.retransmits, 0);
  });

  it('covers RTT 1/10/50 ms x loss 0/0.1/1/3/5/10 % x reordering x NewReno/CUBIC (quick: a subset)', () => {
    assert.equal(lossyCases(false).length, 3 * 6 * 2 * 2);
    assert.ok(lossyCases(true).length < lossyCases(false).length);
  });
});
