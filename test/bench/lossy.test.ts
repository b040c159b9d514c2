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

  it('covers RTT 1/10/50 ms x loss 0/0.1/1/3/5/10 % x reordering x NewReno/CUBIC, and CUBIC with SACK+RACK off (quick: a subset)', () => {
    assert.equal(lossyCases(false).length, 3 * 6 * 2 * 2 + 3 * 6);
    assert.equal(lossyCases(false).filter((c) => c.recovery === 'dupack').length, 3 * 6);
    assert.ok(lossyCases(true).length < lossyCases(false).length);
  });

  it('SACK+RACK off is a real baseline: at 5 % loss it takes RTOs the default recovery avoids', () => {
    const c = { rttMs: 10, loss: 0.05, reorder: 0, congestionControl: 'cubic' } as const;
    const modern = runLossyCase(c, 1024 * 1024, 3);
    const old = runLossyCase({ ...c, recovery: 'dupack' }, 1024 * 1024, 3);
    assert.ok(modern.finished && old.finished);
    assert.ok(old.rtos > modern.rtos, `RTOs with SACK+RACK off ${old.rtos}, on ${modern.rtos}`);
  });
});
