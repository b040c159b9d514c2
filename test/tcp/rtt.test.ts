import assert from 'node:assert/strict';
import { RttEstimator } from '../../src/tcp/rtt.js';

const CONFIG = { rtoInitial: 1000, rtoMin: 200, rtoMax: 60_000 };

describe('tcp/rtt (RFC 6298)', () => {
  it('gives every sample (the least-queued one) and the SRTT after it to its sink, as a method, then to onSample', () => {
    const rtt = new RttEstimator(CONFIG);
    const seen: string[] = [];
    rtt.sampleSink = { onRttSample(r, srtt) { seen.push(`sink ${r} ${srtt} ${this === rtt.sampleSink}`); } };
    rtt.onSample = (r, srtt) => void seen.push(`fn ${r} ${srtt}`);
    rtt.sample(100, 80);
    assert.deepEqual(seen, ['sink 80 100 true', 'fn 80 100']);
  });

  it('starts at the initial RTO', () => {
    assert.equal(new RttEstimator(CONFIG).rto, 1000);
  });

  it('first sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR', () => {
    const rtt = new RttEstimator(CONFIG);
    rtt.sample(100);
    assert.equal(rtt.srtt, 100);
    assert.equal(rtt.rttvar, 50);
    assert.equal(rtt.rto, 300);
  });

  it('later samples smooth with alpha 1/8 and beta 1/4', () => {
    const rtt = new RttEstimator(CONFIG);
    rtt.sample(100);
    rtt.sample(200);
    assert.equal(rtt.rttvar, 0.75 * 50 + 0.25 * 100);
    assert.equal(rtt.srtt, 0.875 * 100 + 0.125 * 200);
    assert.equal(rtt.rto, rtt.srtt + 4 * rtt.rttvar);
  });

  it('clamps to rtoMin and rtoMax', () => {
    const rtt = new RttEstimator(CONFIG);
    rtt.sample(1);
    assert.equal(rtt.rto, 200);
    const slow = new RttEstimator(CONFIG);
    slow.sample(50_000);
    assert.equal(slow.rto, 60_000);
  });

  it('backs off exponentially up to rtoMax, and a sample clears the backoff', () => {
    const rtt = new RttEstimator(CONFIG);
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      seen.push(rtt.rto);
      rtt.backoff();
    }
    assert.deepEqual(seen, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    rtt.sample(100);
    assert.equal(rtt.rto, 300);
  });

  it('times one segment at a time and samples when the ACK covers it', () => {
    const rtt = new RttEstimator(CONFIG);
    rtt.startTiming(1000, 0);
    rtt.startTiming(2000, 5); // ignored: already timing
    assert.equal(rtt.onAck(999, 50), false);
    assert.equal(rtt.onAck(1000, 80), true);
    assert.equal(rtt.srtt, 80);
    assert.equal(rtt.onAck(2000, 90), false, 'the second segment was never timed');
  });

  it('minTimedRtt: the timed segments at full resolution, also when another sample (a timestamp echo) feeds SRTT', () => {
    const rtt = new RttEstimator(CONFIG);
    assert.equal(rtt.minTimedRtt, Infinity);
    rtt.startTiming(1000, 10);
    rtt.onAckTimedOnly(999, 10.03); // does not cover the timed segment: still timing
    assert.equal(rtt.isTiming, true);
    rtt.onAckTimedOnly(1000, 10.04);
    rtt.sample(0); // the echo's whole milliseconds
    assert.ok(Math.abs(rtt.minTimedRtt - 0.04) < 1e-9);
    assert.equal(rtt.srtt, 0, 'SRTT took only the other sample');
    assert.equal(rtt.isTiming, false);
    rtt.startTiming(2000, 20);
    assert.equal(rtt.onAck(2000, 20.5), true);
    assert.ok(Math.abs(rtt.minTimedRtt - 0.04) < 1e-9, 'the smallest is kept');
  });

  it("Karn: a retransmission cancels the measurement", () => {
    const rtt = new RttEstimator(CONFIG);
    rtt.startTiming(0xffff_fff0, 0);
    rtt.cancelTiming();
    assert.equal(rtt.onAck(0x10, 3000), false);
    assert.equal(rtt.samples, 0);
  });

  it('times across the sequence wrap', () => {
    const rtt = new RttEstimator(CONFIG);
    rtt.startTiming(0x10, 0); // the segment ends just after the wrap
    assert.equal(rtt.onAck(0xffff_fff0, 10), false);
    assert.equal(rtt.onAck(0x10, 20), true);
  });

  it('after a SYN timeout, data starts with an RTO of 3 s (RFC 6298 5.7)', () => {
    const rtt = new RttEstimator(CONFIG);
    rtt.backoff();
    rtt.onHandshakeComplete(true);
    assert.equal(rtt.rto, 3000);
    const clean = new RttEstimator(CONFIG);
    clean.onHandshakeComplete(false);
    assert.equal(clean.rto, 1000);
  });
});
