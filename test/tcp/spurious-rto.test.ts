/**
 * Spurious timeouts without SACK (issue 10): basic F-RTO (RFC 5682 section 2) and Eifel
 * detection with timestamps (RFC 3522, response RFC 4015), on the detector alone
 * (src/tcp/spurious-rto.ts) and on the core in virtual time, with a peer that declines SACK.
 */
import assert from 'node:assert/strict';
import { bytes, fireNext, Harness, LOCAL_ISS, MSS, send, SEND, take, type HarnessOptions } from './harness.js';
import { checkGoBackNWithoutFrto, sackAck, sackEstablished, sent } from './sack-harness.js';
import type { TcpRepr } from '../../src/wire/tcp.js';
import { timestampOffset } from '../../src/tcp/timestamps.js';
import {
  SpuriousRtoDetector, SRTO_CONTINUE, SRTO_REAL, SRTO_SEND_NEW, SRTO_SPURIOUS_EIFEL, SRTO_SPURIOUS_FRTO,
} from '../../src/tcp/spurious-rto.js';

/** Our TSval clock starts here (the default offset for LOCAL_ISS). */
const OFF = timestampOffset(LOCAL_ISS);

describe('tcp/spurious-rto (without SACK: RFC 5682 2, RFC 3522)', () => {
  describe('the detector', () => {
    /** A timeout at SND.MAX 10000 that resent [0, 1000). */
    const timedOut = (frto = true, tsVal?: number): SpuriousRtoDetector => {
      const d = new SpuriousRtoDetector();
      d.onTimeout(frto, 10_000, 1000, tsVal);
      return d;
    };

    it('F-RTO: ACK of the resent segment -> new data (2b); the next advancing ACK -> spurious (3b)', () => {
      const d = timedOut();
      assert.equal(d.onAck(1000, true, false, undefined, true), SRTO_SEND_NEW);
      assert.equal(d.newDataSent, true);
      assert.equal(d.onAck(2000, true, false, undefined, true), SRTO_SPURIOUS_FRTO);
      assert.equal(d.active, false);
    });

    it('F-RTO: a duplicate ACK after the new data -> real (3a)', () => {
      const d = timedOut();
      d.onAck(1000, true, false, undefined, true);
      assert.equal(d.onAck(1000, false, true, undefined, true), SRTO_REAL);
    });

    it('F-RTO step 2a: a duplicate, an ACK of everything, or no new data to send -> real', () => {
      assert.equal(timedOut().onAck(0, false, true, undefined, true), SRTO_REAL);
      assert.equal(timedOut().onAck(10_000, true, false, undefined, true), SRTO_REAL);
      assert.equal(timedOut().onAck(1000, true, false, undefined, false), SRTO_REAL);
      // A segment carrying data but no new ACK is not an ACK F-RTO counts.
      assert.equal(timedOut().onAck(0, false, false, undefined, true), SRTO_CONTINUE);
    });

    it('Eifel: the first advancing ACK decides (an older echo: spurious; the retransmission\'s: F-RTO goes on)', () => {
      assert.equal(timedOut(false, 500).onAck(1000, true, false, 400, true), SRTO_SPURIOUS_EIFEL);
      const d = timedOut(true, 500);
      assert.equal(d.onAck(1000, true, false, 500, true), SRTO_SEND_NEW);
      assert.equal(d.onAck(2000, true, false, 400, true), SRTO_SPURIOUS_FRTO, 'Eifel decided once; F-RTO decides now');
      // The echo compares modulo 2^32.
      assert.equal(timedOut(false, 5).onAck(1000, true, false, 0xffff_fff0, true), SRTO_SPURIOUS_EIFEL);
    });

    it('RTO recovery: SND.UNA below the last timeout\'s SND.MAX until an ACK reaches it', () => {
      const d = timedOut();
      assert.equal(d.inRtoRecovery(1000), true);
      d.onAck(10_000, true, false, undefined, true);
      assert.equal(d.inRtoRecovery(10_000), false);
    });
  });

  describe('on the core (peer without SACK)', () => {
    /**
     * Ten segments out at 100 and 5000 bytes more queued; no ACK: the RTO at 1100 resends
     * segment 0 (go-back-N, loss window of one segment).
     */
    function timedOut(config: HarnessOptions['config'] = {}, timestamps = false): Harness {
      const h = sackEstablished({ config: { rtoMin: 1000, ...config } }, { peerSack: false, timestamps });
      assert.equal(h.conn.sackNegotiated, false);
      const mss = timestamps ? MSS - 12 : MSS;
      h.conn.write(bytes(15 * mss), h.now);
      assert.equal(sent(h).length, 10);
      assert.equal(fireNext(h), 1100);
      assert.equal(h.conn.counters.timeouts, 1);
      assert.deepEqual(sent(h), [[0, mss]]);
      assert.equal(h.conn.cwnd, mss, 'loss window');
      h.now += 100;
      return h;
    }

    it('F-RTO, a delay spike: the late ACK lets new data out, the next one proves the timeout spurious', () => {
      const h = timedOut();
      send(h, sackAck(1000)); // the original segment 0's ACK, late
      assert.deepEqual(sent(h), [[10_000, MSS], [11_000, MSS]], 'new data, not segments 1 and 2 again (step 2b)');
      send(h, sackAck(2000)); // segment 1, sent before the timeout and never resent
      assert.equal(h.conn.counters.frtoSpuriousRtos, 1);
      assert.equal(h.conn.cwnd, 10 * MSS, 'cwnd as before the timeout');
      for (let n = 3000; n <= 12_000; n += 1000) send(h, sackAck(n));
      sent(h);
      assert.equal(h.conn.counters.retransmits, 1, 'only the timeout\'s segment was ever resent');
    });

    it('F-RTO, the flight was lost: a duplicate ACK after the new data resumes go-back-N from SND.UNA', () => {
      const h = timedOut();
      send(h, sackAck(1000)); // the retransmission's ACK; 1..9 lost
      assert.deepEqual(sent(h), [[10_000, MSS], [11_000, MSS]]);
      send(h, sackAck(1000)); // segment 10 arrived out of order
      assert.equal(h.conn.counters.frtoSpuriousRtos, 0);
      assert.deepEqual(sent(h), [[1000, MSS], [2000, MSS]], 'slow start from the first hole (cwnd 2 segments)');
      assert.ok(h.conn.cwnd < 10 * MSS, 'the timeout response stands');
    });

    it('frto: false: go-back-N after the ACK of the original', () => {
      checkGoBackNWithoutFrto(timedOut({ frto: false }));
    });

    it('a second timeout in RTO recovery runs no F-RTO (RFC 5682 2 step 1)', () => {
      const h = timedOut();
      send(h, sackAck(1000));
      sent(h); // the two new segments
      fireNext(h); // everything lost again
      assert.equal(h.conn.counters.timeouts, 2);
      assert.deepEqual(sent(h), [[1000, MSS]]);
      send(h, sackAck(2000));
      assert.deepEqual(sent(h), [[2000, MSS], [3000, MSS]], 'go-back-N, no new data in its place');
    });

    describe('Eifel (timestamps)', () => {
      const M = MSS - 12;
      const ackWithTs = (n: number, tsEcr: number): TcpRepr => ({ ...sackAck(n), timestamp: { tsVal: 7_100, tsEcr } });

      it('the first ACK echoes the original transmission: undone at once, nothing resent', () => {
        const h = timedOut({ frto: false }, true);
        send(h, ackWithTs(M, OFF + 100));
        assert.equal(h.conn.counters.spuriousRtoUndos, 1);
        assert.equal(h.conn.cwnd, 10 * M, 'cwnd as before the timeout');
        assert.deepEqual(sent(h), [[10 * M, M]], 'new data in the restored window; segments 1.. not resent (no go-back-N)');
        send(h, ackWithTs(3 * M, OFF + 100));
        assert.ok(sent(h).every(([off]) => off >= 11 * M), 'new data only');
        assert.equal(h.conn.counters.retransmits, 1);
      });

      it('the first ACK echoes the retransmission: a real loss, go-back-N goes on', () => {
        const h = timedOut({ frto: false }, true);
        send(h, ackWithTs(M, OFF + 1100));
        assert.equal(h.conn.counters.spuriousRtoUndos, 0);
        assert.ok(h.conn.cwnd < 10 * M);
        assert.deepEqual(sent(h), [[M, M], [2 * M, M]]);
      });

      it('the retransmission carries the TSval the ACK is compared with', () => {
        const h = sackEstablished({ config: { rtoMin: 1000 } }, { peerSack: false, timestamps: true });
        h.conn.write(bytes(3 * M), h.now);
        sent(h);
        fireNext(h);
        const rtx = take(h);
        assert.equal(rtx.timestamp?.tsVal, OFF + 1100);
        assert.equal(rtx.seq, SEND.ack);
      });
    });
  });
});
