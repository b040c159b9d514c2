/**
 * The timeouts left over TAP at 5 % loss, 10 ms RTT (issue 10, traced with
 * bench/kernel/lossy-tap-trace.ts): Linux's receiver acknowledges a burst of back-to-back
 * segments with one ACK, and a lone segment (the tail loss probe) with one delayed ACK. When both
 * of those ACKs are lost, nothing is left in flight to bring another: neither RACK (no SACK
 * arrives) nor a second probe (RFC 8985 sends one until an ACK comes, as Linux) can act, and the
 * RTO fires, as Linux's does. The data had arrived: the timeout is found spurious and undone.
 */
import assert from 'node:assert/strict';
import { bytes, fireNext, Harness, MSS, send } from './harness.js';
import { sackAck, sackEstablished, sent } from './sack-harness.js';

/** RTT 100 ms (SRTT 100, RTTVAR 50: RTO 300), ten segments out at 100, five more queued. */
function flight(): Harness {
  const h = sackEstablished({ config: { lossDetection: 'rack', rtoMin: 200 } });
  h.conn.write(bytes(15 * MSS), h.now);
  assert.equal(sent(h).length, 10);
  return h;
}

describe('tcp: the flight\'s only ACK and the tail loss probe\'s ACK both lost', () => {
  it('probe at 2 * SRTT, RTO one RTO after it; the retransmission\'s D-SACK undoes the timeout', () => {
    const h = flight();
    // The peer got segments 0-9 and sent one ACK for them: lost.
    assert.equal(fireNext(h), 300, 'the tail loss probe at 2 * SRTT');
    assert.deepEqual(sent(h), [[10 * MSS, MSS]], 'new data as the probe');
    assert.equal(h.conn.counters.tlpProbes, 1);
    // Its delayed ACK is lost too: nothing in flight can bring another.
    assert.equal(fireNext(h), 600, 'the RTO, restarted from the probe');
    assert.equal(h.conn.counters.timeouts, 1);
    assert.deepEqual(sent(h), [[0, MSS]]);
    // The peer holds everything: its ACK of the duplicate carries a D-SACK for it.
    h.now = 700;
    send(h, sackAck(11 * MSS, [0, MSS]));
    assert.equal(h.conn.counters.spuriousUndos, 1, 'the timeout was spurious');
    assert.ok(h.conn.cwnd >= 10 * MSS, `cwnd as before it (and slow start from there): ${h.conn.cwnd}`);
    assert.equal(h.conn.ssthresh, Number.MAX_SAFE_INTEGER, "ssthresh as before it");
    assert.equal(h.conn.counters.retransmits, 1, 'no go-back-N');
  });

  it('a peer without D-SACK: F-RTO sees data sent before the timeout and never resent acknowledged', () => {
    const h = flight();
    fireNext(h);
    sent(h);
    fireNext(h);
    sent(h);
    h.now = 700;
    send(h, sackAck(11 * MSS));
    assert.equal(h.conn.counters.frtoSpuriousRtos, 1);
    assert.ok(h.conn.cwnd >= 10 * MSS);
    assert.equal(h.conn.counters.retransmits, 1);
  });
});
