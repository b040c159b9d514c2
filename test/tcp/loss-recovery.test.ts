/**
 * Loss recovery at heavy loss (issue 10): the recovery probe, the recovery point after an undo,
 * D-SACK undo by bytes (a D-SACK covering part of a retransmission), Eifel detection after a
 * timeout (RFC 3522 / RFC 4015), RACK's reordering rule for retransmissions, TLP loss detection
 * (RFC 8985 7.4), and PRR sending for losses the RACK timer marks.
 */
import assert from 'node:assert/strict';
import { bytes, fireNext, Harness, LOCAL_ISS, MSS, send, take, type HarnessOptions } from './harness.js';
import type { TcpRepr } from '../../src/wire/tcp.js';
import { seqDiff } from '../../src/tcp/seq.js';
import { timestampOffset } from '../../src/tcp/timestamps.js';
import { Rack } from '../../src/tcp/rack.js';
import { SackScoreboard } from '../../src/tcp/sack-scoreboard.js';
import { TLP_PENDING, TLP_REPAIRED, TLP_SPURIOUS, TlpEpisode } from '../../src/tcp/tlp.js';
import { checkGoBackNWithoutFrto, L, PEER_TS, sackAck, sackEstablished, sackSegmentsAboveFirst, sackSending, sent, spuriousSackRecovery } from './sack-harness.js';

/** Our TSval clock starts here (the default offset for LOCAL_ISS). */
const OFF = timestampOffset(LOCAL_ISS);

/** Active open with SACK (and timestamps when asked), RTT 100 ms. */
const established = (options: HarnessOptions = {}, timestamps = false): Harness => sackEstablished(options, { timestamps });

describe('tcp/connection: loss recovery at heavy loss', () => {
  it('RACK: a retransmission delivered below RACK.fack is not reordering; an original is', () => {
    for (const retransmitted of [true, false]) {
      const r = new Rack();
      r.clear(0);
      for (let i = 0; i < 4; i++) r.onSend(i * MSS, (i + 1) * MSS, 0, i * MSS);
      const sb = new SackScoreboard();
      sb.update([[MSS, 4 * MSS]], 0, 4 * MSS);
      r.onAck(0, sb, true, false, 4 * MSS, 100); // 1..3 SACKed: RACK.fack = 4 MSS, min_RTT 100
      if (retransmitted) r.onSend(0, MSS, 100, 4 * MSS); // segment 0 resent
      sb.advance(4 * MSS);
      r.onAck(4 * MSS, sb, false, false, 4 * MSS, 250);
      assert.equal(r.reorderingSeen, !retransmitted, retransmitted ? 'the repaired hole' : 'the original arrived late: reordered');
    }
  });

  it('after a D-SACK undo, a new loss below the old recovery point starts fast recovery at once', () => {
    const h = sackSending(20_000);
    sackSegmentsAboveFirst(h);
    assert.ok(sent(h).some(([off]) => off === 0), 'fast recovery; its recovery point is above 10000');
    // The original segment 0 was only late; the ACK of it was lost, the next one has a D-SACK
    // for the retransmission, which was needless.
    send(h, sackAck(4000, [0, 1000]));
    assert.equal(h.conn.counters.spuriousUndos, 1);
    sent(h);
    // Segment 4000 (sent before the undone episode's recovery point) is lost now.
    send(h, sackAck(4000, [5000, 6000]));
    send(h, sackAck(4000, [5000, 7000]));
    send(h, sackAck(4000, [5000, 8000]));
    assert.ok(sent(h).some(([off]) => off === 4000), 'segment 4000 retransmitted by fast recovery');
    assert.equal(h.conn.counters.sackRecoveries, 2);
  });

  it('D-SACK undo counts bytes: a D-SACK covering half the retransmission undoes nothing, the other half does', () => {
    const h = spuriousSackRecovery();
    send(h, sackAck(10_000, [0, 500]));
    assert.equal(h.conn.counters.dsacksReceived, 1);
    assert.equal(h.conn.counters.spuriousUndos, 0, 'half the retransmission may have been needed');
    assert.equal(h.conn.cwnd, 5000);
    send(h, sackAck(10_000, [500, 1000]));
    assert.equal(h.conn.counters.spuriousUndos, 1);
    assert.equal(h.conn.cwnd, 10_000);
  });

  it('recovery probe: fast recovery quiet for 2 * SRTT resends the hole at SND.UNA before the RTO', () => {
    const h = established({ config: { lossDetection: 'rack', rtoMin: 1000 } });
    h.conn.write(bytes(10_000), h.now);
    assert.equal(sent(h).length, 10);
    h.now += 100;
    send(h, sackAck(0, [1000, 4000]));
    assert.deepEqual(sent(h), [[0, MSS]], 'segment 0 lost, retransmitted at 200');
    // The retransmission is lost too, and nothing else comes back.
    const at = fireNext(h);
    assert.equal(at, 200 + 2 * 100, 'two SRTTs after the last ACK');
    assert.deepEqual(sent(h), [[0, MSS]], 'the hole again, without a timeout');
    assert.equal(h.conn.counters.recoveryProbes, 1);
    assert.equal(h.conn.counters.timeouts, 0);
    // One probe per quiet spell: the next timer is the RTO.
    fireNext(h);
    assert.equal(h.conn.counters.recoveryProbes, 1);
    assert.equal(h.conn.counters.timeouts, 1);
  });

  describe('Eifel detection (RFC 3522, RFC 4015)', () => {
    /** Three segments sent at 100 (TSval OFF + 100), no ACK: the RTO fires at 1100 and resends segment 0. */
    function timedOut(): Harness {
      const h = established({ config: { rtoMin: 1000 } }, true);
      h.conn.write(bytes(3 * (MSS - 12)), h.now);
      assert.equal(sent(h).length, 3);
      assert.equal(h.conn.cwnd, 10 * (MSS - 12), 'the initial window (segments MSS - 12 beside TSopt)');
      const at = fireNext(h);
      assert.equal(at, 1100);
      assert.equal(h.conn.counters.timeouts, 1);
      const rtx = take(h);
      assert.equal(seqDiff(rtx.seq, L), 0);
      assert.equal(rtx.timestamp?.tsVal, OFF + 1100);
      return h;
    }
    const ackWithTs = (n: number, tsEcr: number): TcpRepr => ({ ...sackAck(n), timestamp: { tsVal: PEER_TS + 50, tsEcr } });

    it('the first ACK echoes the original transmission: the timeout was spurious, undone, nothing resent', () => {
      const h = timedOut();
      h.now += 10;
      send(h, ackWithTs(MSS - 12, OFF + 100));
      assert.equal(h.conn.counters.spuriousRtoUndos, 1);
      assert.equal(h.conn.cwnd, 10 * (MSS - 12), 'cwnd as before the timeout');
      assert.deepEqual(sent(h), [], 'segments 1 and 2 are not resent (no go-back-N)');
      send(h, ackWithTs(3 * (MSS - 12), OFF + 100));
      assert.equal(h.conn.counters.retransmits, 1);
    });

    it('the first ACK echoes the retransmission: a real loss, the timeout response stands', () => {
      const h = timedOut();
      h.now += 10;
      send(h, ackWithTs(MSS - 12, OFF + 1100));
      assert.equal(h.conn.counters.spuriousRtoUndos, 0);
      assert.ok(h.conn.cwnd < 10 * (MSS - 12));
      assert.deepEqual(sent(h), [[MSS - 12, MSS - 12], [2 * (MSS - 12), MSS - 12]], 'the rest of the flight is resent');
    });
  });

  describe('TLP loss detection (RFC 8985 7.4)', () => {
    /** Ten segments out, the peer ACKs nine; the tail loss probe resends the last one. */
    function probed(): Harness {
      const h = established({ config: { lossDetection: 'rack', rtoMin: 1000 } });
      h.conn.write(bytes(10_000), h.now);
      assert.equal(sent(h).length, 10);
      h.now += 100;
      send(h, sackAck(9000));
      const at = fireNext(h);
      assert.equal(at, 200 + 2 * 100 + 200, 'PTO: 2 * SRTT + WCDelAckT (one segment in flight)');
      assert.deepEqual(sent(h), [[9000, MSS]], 'the probe resends the last segment');
      assert.equal(h.conn.counters.tlpProbes, 1);
      return h;
    }

    it('the probe repaired a loss (no D-SACK for it): the window is reduced once the episode ends', () => {
      const h = probed();
      h.now += 100;
      send(h, sackAck(10_000)); // the probe's ACK: the original was lost
      const cwnd = h.conn.cwnd;
      assert.ok(cwnd > 10_000, 'slow start so far');
      h.conn.write(bytes(1000, 10_000), h.now);
      assert.deepEqual(sent(h), [[10_000, MSS]]);
      assert.equal(h.conn.counters.tlpLossesRepaired, 0, 'undecided until an ACK beyond TLP.end_seq');
      h.now += 100;
      send(h, sackAck(11_000));
      assert.equal(h.conn.counters.tlpLossesRepaired, 1);
      assert.equal(h.conn.ssthresh, 2 * MSS, 'RFC 5681 (4) over the flight when the probe went out (one segment)');
      assert.equal(h.conn.cwnd, 2 * MSS);
      assert.equal(h.conn.counters.timeouts, 0);
    });

    it('a D-SACK for the probe: both copies arrived, nothing was lost, no reduction', () => {
      const h = probed();
      h.now += 100;
      send(h, sackAck(10_000)); // the original's ACK, late
      send(h, sackAck(10_000, [9000, 10_000])); // then the probe, a duplicate
      assert.equal(h.conn.counters.tlpSpuriousProbes, 1);
      const cwnd = h.conn.cwnd;
      h.conn.write(bytes(1000, 10_000), h.now);
      sent(h);
      h.now += 100;
      send(h, sackAck(11_000));
      assert.equal(h.conn.counters.tlpLossesRepaired, 0);
      assert.ok(h.conn.cwnd >= cwnd, 'not reduced');
    });

    it('TlpEpisode: D-SACK at any time, a pure duplicate ACK of TLP.end_seq, an ACK beyond it', () => {
      const e = new TlpEpisode();
      e.onProbe(9000, 10_000, 1000);
      assert.equal(e.onAck(9500, false, 0, 0, false), TLP_PENDING, 'below TLP.end_seq');
      assert.equal(e.onAck(10_000, false, 0, 0, false), TLP_PENDING, 'the ACK of the probe or of the original');
      assert.equal(e.onAck(10_000, false, 0, 0, true), TLP_SPURIOUS, 'a duplicate of it: both arrived (peer without D-SACK)');
      assert.equal(e.active, false);
      e.onProbe(9000, 10_000, 1000);
      assert.equal(e.onAck(9000, true, 9000, 10_000, false), TLP_PENDING, 'D-SACK noted before the episode ends');
      assert.equal(e.onAck(12_000, false, 0, 0, false), TLP_SPURIOUS);
      e.onProbe(9000, 10_000, 1000);
      assert.equal(e.onAck(12_000, true, 5000, 6000, false), TLP_REPAIRED, 'a D-SACK of other data does not count');
      e.onProbe(9000, 10_000, 1000);
      e.onProbe(11_000, 12_000, 3000);
      assert.equal(e.endSeq, 10_000, 'one episode at a time');
    });
  });

  it('PRR may send when the RACK timer marks data lost in fast recovery (no ACK needed)', () => {
    // An initial window of 12 segments: the first two segments' ACK does not grow it (the
    // flight was far below cwnd, RFC 7661), so cwnd is 12000 below.
    const h = established({ config: { lossDetection: 'rack', rtoMin: 1000, initialCwndSegments: 12 } });
    // Reordering seen first: segment 0 arrives after segment 1, not retransmitted. RACK's
    // window is then min_RTT / 4 = 25 ms, in recovery too, so losses are marked by its timer.
    h.now = 100;
    h.conn.write(bytes(2000), h.now);
    sent(h);
    h.now = 200;
    send(h, sackAck(0, [1000, 2000]));
    send(h, sackAck(2000));
    assert.deepEqual(sent(h), []);
    // Segments 2-5 at 200, 6-13 at 250, 5000 bytes more waiting for cwnd (12000).
    h.conn.write(bytes(4000, 2000), h.now);
    h.now = 250;
    h.conn.write(bytes(13_000, 6000), h.now);
    assert.equal(sent(h).length, 12);
    h.now = 300;
    send(h, sackAck(2000, [3000, 6000])); // segment 2 lost: overdue at 325
    assert.deepEqual(sent(h), [[14_000, MSS]], 'limited transmit (RFC 3042)');
    assert.equal(fireNext(h), 325);
    assert.deepEqual(sent(h), [[2000, MSS]], 'fast recovery, segment 2 resent');
    h.now = 350;
    send(h, sackAck(2000, [3000, 6000], [7000, 14_000])); // segment 6 lost: overdue at 375
    // In flight: the retransmission, segments 6 and 14 (pipe 3000, ssthresh 6000); the RACK
    // timeout that started recovery counted as one segment delivered.
    assert.deepEqual(sent(h), [[15_000, MSS], [16_000, MSS], [17_000, MSS]], 'PRR: what its budget allows (nothing left)');
    assert.equal(h.conn.counters.rackLosses, 1);
    // No ACK comes: the RACK timer marks segment 6 lost, and PRR lets it go at once.
    assert.equal(fireNext(h), 375);
    assert.equal(h.conn.counters.rackLosses, 2);
    // PRR-SSRB (pipe 5000 below ssthresh 6000): the lost segment, without waiting for an ACK.
    assert.deepEqual(sent(h), [[6000, MSS]]);
    assert.equal(h.conn.counters.timeouts, 0);
  });
  it('fast recovery entered on the RACK reordering timer sends the hole and one new segment', () => {
    // A three-segment window; the peer SACKs 1 and 2 with a grown window (not duplicate ACKs,
    // so no limited transmit): segment 0 is overdue only after RACK's reordering window.
    const h = established({ config: { lossDetection: 'rack', rtoMin: 1000, initialCwndSegments: 3 } });
    h.conn.write(bytes(10_000), h.now);
    assert.equal(sent(h).length, 3);
    h.now = 200;
    send(h, { ...sackAck(0, [1000, 3000]), window: 20_001 });
    assert.deepEqual(sent(h), []);
    assert.equal(fireNext(h), 225, 'min_RTT / 4 after segment 1 was delivered');
    // Everything else in flight is SACKed: no ACK will come to grow PRR's budget. The timeout
    // counts as one segment delivered (as Linux): the hole and one new segment.
    assert.deepEqual(sent(h), [[0, MSS], [3000, MSS]]);
    assert.equal(h.conn.counters.sackRecoveries, 1);
    // The retransmission is lost; the new segment's SACK shows it, without a timeout.
    h.now = 325;
    send(h, { ...sackAck(0, [1000, 4000]), window: 20_001 });
    assert.ok(sent(h).some(([off]) => off === 0), 'the lost retransmission is sent again');
    assert.equal(h.conn.counters.timeouts, 0);
    assert.equal(h.conn.counters.recoveryProbes, 0);
  });

  it('small window: a resent hole counts once in pipe, so PRR sends the segment that exposes its loss', () => {
    const h = established({ config: { lossDetection: 'rack', rtoMin: 1000, initialCwndSegments: 3 } });
    h.conn.write(bytes(10_000), h.now);
    assert.equal(sent(h).length, 3);
    h.now = 200;
    send(h, sackAck(0, [1000, 2000]));
    send(h, sackAck(0, [1000, 3000]));
    assert.deepEqual(sent(h), [[3000, MSS], [4000, MSS]], 'limited transmit (RFC 3042)');
    send(h, sackAck(0, [1000, 4000]));
    // Fast recovery over a five-segment flight: ssthresh 2500, segment 0 resent.
    assert.deepEqual(sent(h), [[0, MSS]]);
    assert.equal(h.conn.ssthresh, 2500);
    // Segment 4 is SACKed: in flight are the retransmission only (pipe 1000, not 2000 counting
    // the lost original too), so there is room for a segment below ssthresh.
    h.now = 300;
    send(h, sackAck(0, [1000, 5000]));
    assert.deepEqual(sent(h), [[5000, MSS]]);
    // The retransmission was lost; segment 5's SACK shows it (RACK), no timeout, no probe.
    h.now = 400;
    send(h, sackAck(0, [1000, 6000]));
    assert.ok(sent(h).some(([off]) => off === 0), 'the lost retransmission is sent again');
    assert.equal(h.conn.counters.timeouts, 0);
    assert.equal(h.conn.counters.recoveryProbes, 0);
  });
  it('after a timeout only the holes sent before it are lost: new data is sent once, within cwnd', () => {
    const h = established({ config: { rtoMin: 1000 } });
    h.conn.write(bytes(16_000), h.now);
    assert.equal(sent(h).length, 10);
    h.now = 200;
    // Segments 0 and 5 lost: fast recovery resends them (RFC 6675 IsLost); both are lost again.
    send(h, sackAck(0, [1000, 5000], [6000, 10_000]));
    const fr = sent(h);
    assert.deepEqual(fr.slice(0, 2), [[0, MSS], [5000, MSS]]);
    const sndMax = 10_000 + (fr.length - 2) * MSS;
    assert.equal(fireNext(h), 1100);
    assert.equal(h.conn.counters.timeouts, 1);
    assert.deepEqual(sent(h), [[0, MSS]], 'the hole at SND.UNA, cwnd one segment');
    h.now = 1300;
    send(h, sackAck(5000, [6000, sndMax]));
    // cwnd 3000 (slow start from one segment): the other hole and two new segments, each once
    // (new data counted lost at once was resent as a "hole" right after going out).
    assert.equal(h.conn.cwnd, 3 * MSS);
    assert.deepEqual(sent(h), [[5000, MSS], [sndMax, MSS], [sndMax + MSS, MSS]]);
  });
  describe('F-RTO (RFC 5682, SACK-enhanced)', () => {
    /**
     * Ten segments out at 100 and 5000 bytes more queued; no ACK: the tail loss probe sends
     * segment 10 (new data), then the RTO resends segment 0. Eleven segments sent before it.
     */
    function timedOut(config: HarnessOptions['config'] = {}): Harness {
      const h = established({ config: { lossDetection: 'rack', rtoMin: 1000, ...config } });
      h.conn.write(bytes(15_000), h.now);
      assert.equal(sent(h).length, 10);
      fireNext(h);
      assert.deepEqual(sent(h), [[10_000, MSS]], 'the tail loss probe');
      fireNext(h);
      assert.equal(h.conn.counters.timeouts, 1);
      assert.deepEqual(sent(h), [[0, MSS]]);
      assert.equal(h.conn.cwnd, MSS, 'loss window');
      h.now += 100;
      return h;
    }

    it('a delay spike: the ACK of the original lets new data out, the next one proves the timeout spurious', () => {
      const h = timedOut();
      const retransmits = h.conn.counters.retransmits;
      send(h, sackAck(1000)); // the original segment 0's ACK, late
      assert.deepEqual(sent(h), [[11_000, MSS], [12_000, MSS]], 'new data, not segments 1 and 2 again');
      send(h, sackAck(2000)); // segment 1, sent before the timeout and never resent
      assert.equal(h.conn.counters.frtoSpuriousRtos, 1);
      assert.equal(h.conn.cwnd, 10 * MSS, 'cwnd as before the timeout');
      assert.equal(h.conn.ssthresh, Number.MAX_SAFE_INTEGER, 'ssthresh as before');
      for (let n = 3000; n <= 13_000; n += 1000) send(h, sackAck(n));
      sent(h);
      assert.equal(h.conn.counters.retransmits, retransmits, 'nothing resent after the timeout');
    });

    it('ACKs lost, the flight delivered (peer without D-SACK): the ACK of the resent segment covers it all, undone', () => {
      const h = timedOut();
      send(h, sackAck(11_000));
      assert.equal(h.conn.counters.frtoSpuriousRtos, 1);
      assert.ok(h.conn.cwnd >= 10 * MSS, 'cwnd as before the timeout (and slow start from there)');
    });

    it('the flight was lost: new data arrives alone, the conventional recovery resends the holes', () => {
      const h = timedOut();
      send(h, sackAck(1000)); // the retransmission's ACK; 1..9 lost
      assert.deepEqual(sent(h), [[11_000, MSS], [12_000, MSS]]);
      send(h, sackAck(1000, [11_000, 12_000]));
      assert.equal(h.conn.counters.frtoSpuriousRtos, 0);
      assert.ok(h.conn.cwnd <= 3 * MSS, 'the timeout response stands');
      assert.equal(h.conn.ssthresh, 5500, "RFC 5681 (4) over the eleven segments");
      assert.deepEqual(sent(h), [[1000, MSS]], 'the first hole (cwnd 2000, segment 12000 in flight)');
    });

    it('off (frto: false): go-back-N of the flight after the ACK of the original', () => {
      checkGoBackNWithoutFrto(timedOut({ frto: false }));
    });

    it('D-SACKs for every retransmission after a timeout undo its reduction (without F-RTO too)', () => {
      for (const frto of [true, false]) {
        const h = timedOut({ frto });
        send(h, sackAck(11_000, [0, 1000])); // the flight had arrived: the resent segment is a duplicate
        assert.equal(h.conn.counters.spuriousUndos, 1, `frto ${frto}`);
        assert.ok(h.conn.cwnd >= 10 * MSS);
      }
    });
  });
  describe('partial ACKs with RACK (no NewReno rule: RACK decides)', () => {
    /** Ten segments at 100; at 200 segments 1-3 SACKed: segment 0 lost (reo_wnd 0), resent. */
    function recovering(): Harness {
      const h = sackSending(10_000, { config: { lossDetection: 'rack', rtoMin: 1000 } });
      h.now = 200;
      send(h, sackAck(0, [1000, 4000]));
      assert.deepEqual(sent(h), [[0, MSS]]);
      return h;
    }

    it('the late original fills the hole: the segment now at SND.UNA is not resent', () => {
      const h = recovering();
      h.now = 210;
      send(h, sackAck(4000)); // 10 ms after the retransmission: the original's ACK (RFC 8985 6.2 step 2)
      assert.deepEqual(sent(h), [], 'segment 4 is in flight, not lost');
      assert.equal(h.conn.counters.retransmits, 1);
      assert.equal(h.conn.counters.partialAcks, 0);
      send(h, sackAck(5000, [0, 1000]));
      assert.equal(h.conn.counters.spuriousUndos, 1);
    });

    it('the retransmission fills the hole and segment 4 was lost: RACK resends it at once', () => {
      const h = recovering();
      h.now = 300;
      send(h, sackAck(4000)); // the retransmission's ACK, one RTT later
      // Segments 4-9, sent before the retransmission and not delivered a round trip after it,
      // are lost (RACK's time rule, each segment by its own send time, above the highest SACK
      // too, as Linux): resent from SND.UNA as far as PRR allows (four segments: the
      // reduction-bound's delivered data plus one).
      assert.deepEqual(sent(h), [[4000, MSS], [5000, MSS], [6000, MSS], [7000, MSS]]);
      assert.equal(h.conn.counters.rackLosses, 2);
      assert.equal(h.conn.counters.timeouts, 0);
    });
  });
});
