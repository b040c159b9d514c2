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

  it('segments sent together (same time, back to back) share one record; an ACK inside it delivers its front', () => {
    const r = new Rack();
    r.clear(0);
    for (let i = 0; i < 4; i++) r.onSend(i * MSS, (i + 1) * MSS, 10, i * MSS);
    assert.equal(r.records, 1, 'one batch, one record');
    assert.equal(r.lastStart(), 3 * MSS, 'the last segment of the batch (what a tail loss probe resends)');
    r.onAck(MSS, undefined, false, false, 4 * MSS, 15);
    assert.equal(r.records, 1, 'the rest of the batch stays');
    assert.equal(r.minRtt, 5, 'RTT sampled when the first bytes are acknowledged, not the last');
    assert.equal(r.xmitTs, 10);
    assert.equal(r.endSeq, MSS);
    r.onSend(4 * MSS, 5 * MSS, 20, 4 * MSS);
    assert.equal(r.records, 2, 'a later send starts a record');
    r.onAck(4 * MSS, undefined, false, false, 5 * MSS, 30);
    assert.equal(r.records, 1);
    assert.equal(r.minRtt, 5);
  });

  it('a batch merges only with nothing sent in between: new data after a retransmission gets its own record', () => {
    const r = new Rack();
    r.clear(0);
    for (let i = 0; i < 3; i++) r.onSend(i * MSS, (i + 1) * MSS, 0, i * MSS);
    r.onSend(0, MSS, 0, 3 * MSS); // segment 0 resent in the same instant: its record is cut off
    assert.equal(r.records, 2);
    r.onSend(3 * MSS, 4 * MSS, 0, 3 * MSS);
    assert.equal(r.records, 3, 'sent after the retransmission: not part of the older batch');
    // Segment 3 SACKed: everything sent before it is lost, the retransmission of segment 0
    // included (merged into the older batch, segment 3 would have counted as sent before it).
    const sb = new SackScoreboard();
    sb.update([[3 * MSS, 4 * MSS]], 0, 4 * MSS);
    r.onAck(0, sb, true, false, 4 * MSS, 50);
    r.detectLoss(50, 0, 0);
    assert.equal(r.lostAt(0), true, 'the retransmission, sent before segment 3');
    assert.equal(r.lostAt(MSS), true);
    assert.equal(r.runEnd, 3 * MSS);
    assert.equal(r.lostAt(3 * MSS), false, 'delivered');
  });

  it('a SACK inside a batch cuts its record: below it lost (same time, lower end: sent before), above it not', () => {
    const r = new Rack();
    r.clear(0);
    for (let i = 0; i < 10; i++) r.onSend(i * MSS, (i + 1) * MSS, 0, i * MSS);
    assert.equal(r.records, 1);
    const sb = new SackScoreboard();
    sb.update([[5 * MSS, 6 * MSS]], 0, 10 * MSS);
    r.onAck(0, sb, true, false, 10 * MSS, 50);
    assert.equal(r.records, 3, 'cut at both edges of the SACKed block');
    assert.equal(r.endSeq, 6 * MSS);
    assert.equal(r.detectLoss(50, 0, 0), 0);
    assert.equal(r.lostEdge, 5 * MSS, 'segments 0-4 lost');
    assert.equal(r.lostAt(2 * MSS), true);
    assert.equal(r.runEnd, 5 * MSS);
    assert.equal(r.lostAt(5 * MSS), false, 'delivered');
    assert.equal(r.lostAt(7 * MSS), false, 'sent after the delivered segment');
    assert.equal(r.lostUnsacked(sb, 0, r.lostEdge), 5 * MSS);
    // Resending segment 2 restamps only it: 0-1 and 3-4 keep their marks.
    r.onSend(2 * MSS, 3 * MSS, 60, 10 * MSS);
    assert.equal(r.lostAt(2 * MSS), false, 'resent: not lost until RACK says so again');
    assert.equal(r.runEnd, 3 * MSS);
    assert.equal(r.lostAt(MSS), true);
    assert.equal(r.lostAt(3 * MSS), true);
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
