import assert from 'node:assert/strict';
import { MIN_PTO, probeTimeout, Rack, PTO_WITHOUT_SRTT, WC_DEL_ACK_T } from '../../src/tcp/rack.js';
import { SackScoreboard } from '../../src/tcp/sack-scoreboard.js';

const MSS = 100;

describe('tcp/rack', () => {
  it('probeTimeout: 2 * SRTT, + WCDelAckT for one segment in flight, 1 s without a sample', () => {
    assert.equal(probeTimeout(50, 5 * MSS, MSS), 100);
    assert.equal(probeTimeout(50, MSS, MSS), 100 + WC_DEL_ACK_T);
    assert.equal(probeTimeout(0, 5 * MSS, MSS), PTO_WITHOUT_SRTT);
    assert.equal(probeTimeout(0.4, 5 * MSS, MSS), MIN_PTO);
  });

  it('keeps one record per segment in a ring that grows, and drops them as they are acknowledged', () => {
    const r = new Rack();
    r.clear(0);
    for (let i = 0; i < 200; i++) r.onSend(i * MSS, (i + 1) * MSS, i, i * MSS);
    assert.equal(r.records, 200);
    r.onAck(150 * MSS, undefined, false, false, 200 * MSS, 300);
    assert.equal(r.records, 50);
    assert.equal(r.xmitTs, 149, 'the newest delivered transmission');
    assert.equal(r.rtt, 300 - 149);
    assert.equal(r.minRtt, 300 - 149);
  });

  it('a retransmission restamps the records it covers; an early ACK of it is not an RTT sample', () => {
    const r = new Rack();
    r.clear(0);
    for (let i = 0; i < 4; i++) r.onSend(i * MSS, (i + 1) * MSS, 0, i * MSS);
    r.onAck(MSS, undefined, false, false, 4 * MSS, 100); // min_RTT 100
    r.onSend(MSS, 2 * MSS, 500, 4 * MSS); // segment 1 resent at 500
    r.onAck(2 * MSS, undefined, false, false, 4 * MSS, 510); // 10 ms later: for the original
    assert.equal(r.xmitTs, 0, 'ambiguous sample ignored');
    const sb = new SackScoreboard();
    sb.update([[3 * MSS, 4 * MSS]], 2 * MSS, 4 * MSS);
    r.onAck(2 * MSS, sb, true, false, 4 * MSS, 520);
    assert.equal(r.xmitTs, 0);
    assert.equal(r.endSeq, 4 * MSS);
    // Segment 2 was sent with 3 (time 0) and is undelivered: lost once rtt + reo_wnd has passed.
    assert.equal(r.detectLoss(520, 0, 2 * MSS), 0);
    assert.equal(r.lostEdge, 3 * MSS);
  });

  it('D-SACK widens reo_wnd (once per round trip) for 16 recoveries, capped at SRTT', () => {
    const r = new Rack();
    r.clear(0);
    r.onSend(0, MSS, 0, 0);
    r.onAck(MSS, undefined, false, false, MSS, 40); // min_RTT 40
    assert.equal(r.reoWnd(false, 0, MSS, 1000), 10);
    r.onAck(MSS, undefined, false, true, 2 * MSS, 50);
    r.onAck(MSS, undefined, false, true, 2 * MSS, 51); // same round: no second step
    assert.equal(r.reoWnd(false, 0, MSS, 1000), 20);
    assert.equal(r.reoWnd(false, 0, MSS, 15), 15, 'at most SRTT');
    for (let i = 0; i < 15; i++) r.onRecoveryEnd();
    assert.equal(r.reoWndMult, 2);
    r.onRecoveryEnd();
    assert.equal(r.reoWndMult, 1);
    assert.equal(r.reoWnd(true, 0, MSS, 1000), 0, 'in recovery without reordering seen');
  });
});
