/**
 * RTT samples at SACK time (sack-rtt.ts, as Linux's tcp_sacktag_one / tcp_ack_update_rtt): an
 * ACK that newly SACKs segments sent once measures the path from their send times, also when
 * the cumulative ACK stands still; SRTT takes the earliest-sent of them, the minimum and the
 * congestion control the latest; a SACK of retransmitted data gives nothing (Karn). Core in
 * virtual time, fractional milliseconds; samples read where the congestion control gets them.
 */
import assert from 'node:assert/strict';
import { bytes, fireNext, MSS, send } from './harness.js';
import { sackAck, sackEstablished, sent } from './sack-harness.js';
import { NewReno } from '../../src/tcp/congestion/newreno.js';
import { Rack } from '../../src/tcp/rack.js';
import { SackScoreboard } from '../../src/tcp/sack-scoreboard.js';

class Recording extends NewReno {
  constructor(readonly samples: number[]) {
    super(10);
  }
  onRttSample(rtt: number): void {
    this.samples.push(rtt);
  }
}

function connection(): { h: ReturnType<typeof sackEstablished>; samples: number[] } {
  const samples: number[] = [];
  const h = sackEstablished({ config: { rtoMin: 1000, lossDetection: 'rack', congestionControl: () => new Recording(samples) } });
  samples.length = 0; // the handshake's
  return { h, samples };
}

/** The peer's ACK (at `now`) and what it should have measured: samples so far, SACK samples so far. */
function ackAt(h: ReturnType<typeof sackEstablished>, now: number, ack: ReturnType<typeof sackAck>, samples: number[], expected: [number, number]): void {
  h.now = now;
  send(h, ack);
  assert.deepEqual([samples.length, h.conn.counters.sackRttSamples], expected, `samples ${samples.join(', ')}, SACK samples`);
}

const near = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual}, expected ${expected}`);

describe('tcp RTT samples at SACK time', () => {
  it('an ACK that only SACKs gives a sample equal to the virtual time since the segment left', () => {
    const { h, samples } = connection();
    h.now = 200.2;
    h.conn.write(bytes(4 * MSS), h.now);
    assert.equal(sent(h).length, 4);
    const srttBefore = h.conn.srtt;
    h.now = 200.7;
    send(h, sackAck(0, [MSS, 2 * MSS])); // SND.UNA does not move: segment 0 is missing
    assert.equal(samples.length, 1, `samples ${samples.join(', ')}`);
    near(samples[0], 0.5, 'the congestion control sample');
    near(h.conn.srtt, 0.875 * srttBefore + 0.125 * 0.5, 'srtt');
    assert.equal(h.conn.counters.sackRttSamples, 1);
    // A later ACK SACKing nothing new (the same block again) measures nothing.
    ackAt(h, 201, sackAck(0, [MSS, 2 * MSS]), samples, [1, 1]);
  });

  it('several segments newly SACKed: SRTT from the earliest sent, the congestion control from the latest', () => {
    const { h, samples } = connection();
    h.now = 200.2;
    h.conn.write(bytes(2 * MSS), h.now);
    h.now = 200.4;
    h.conn.write(bytes(2 * MSS, 2 * MSS), h.now);
    assert.equal(sent(h).length, 4);
    const srttBefore = h.conn.srtt;
    h.now = 200.9;
    send(h, sackAck(0, [MSS, 4 * MSS])); // segment 1 (sent at 200.2), 2 and 3 (at 200.4)
    assert.equal(samples.length, 1);
    near(samples[0], 0.5, 'the congestion control sample (the latest sent)');
    near(h.conn.srtt, 0.875 * srttBefore + 0.125 * 0.7, 'srtt (from the earliest sent)');
  });

  it('Karn: a SACK of a retransmitted range gives no sample', () => {
    const { h, samples } = connection();
    h.now = 200.2;
    h.conn.write(bytes(3 * MSS), h.now);
    sent(h);
    fireNext(h); // the tail loss probe resends the last segment
    assert.equal(h.conn.counters.tlpProbes, 1);
    assert.deepEqual(sent(h), [[2 * MSS, MSS]]);
    ackAt(h, h.now + 0.5, sackAck(0, [2 * MSS, 3 * MSS]), samples, [0, 0]); // which copy? unknowable: no sample
    // The SACK was taken (the segment is no longer in flight), only its timing was not.
    ackAt(h, h.now + 0.1, sackAck(0, [MSS, 3 * MSS]), samples, [1, 1]); // segment 1, sent once: measured
  });

  it('an ACK whose cumulative part measures keeps that sample; the SACK adds none', () => {
    const { h, samples } = connection();
    h.now = 200.2;
    h.conn.write(bytes(4 * MSS), h.now);
    sent(h);
    h.now = 200.6;
    send(h, sackAck(MSS, [2 * MSS, 3 * MSS])); // segment 0 cumulatively, segment 2 SACKed
    assert.equal(samples.length, 1);
    near(samples[0], 0.4, 'the cumulative sample');
    assert.equal(h.conn.counters.sackRttSamples, 0);
  });

  it('RACK notes the send times per ACK: a merged batch SACKed in part, a retransmitted record left out', () => {
    const r = new Rack();
    r.clear(0);
    for (let i = 0; i < 4; i++) r.onSend(i * MSS, (i + 1) * MSS, 10, i * MSS); // one batch, one record
    r.onSend(4 * MSS, 5 * MSS, 20, 4 * MSS);
    r.onSend(4 * MSS, 5 * MSS, 30, 5 * MSS); // resent
    const sb = new SackScoreboard();
    sb.update([[2 * MSS, 3 * MSS]], 0, 5 * MSS);
    r.onAck(0, sb, true, false, 5 * MSS, 40);
    assert.deepEqual([r.sackSent.first, r.sackSent.last], [10, 10], 'the SACKed middle of the batch');
    sb.update([[4 * MSS, 5 * MSS]], 0, 5 * MSS);
    r.onAck(0, sb, true, false, 5 * MSS, 41);
    assert.equal(r.sackSent.any, false, 'only the retransmitted segment newly SACKed');
    r.onAck(0, sb, false, false, 5 * MSS, 42);
    assert.equal(r.sackSent.any, false, 'each ACK starts empty');
  });
});
