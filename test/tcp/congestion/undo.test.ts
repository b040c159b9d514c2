/**
 * Undoing a spurious reduction (RFC 4015, as Linux's tcp_undo_cwnd_reduction; RFC 9438 4.9 for
 * CUBIC's curve): `undoRecovery` on the algorithms alone, and on the core without SACK, where a
 * NewReno `recover` left at the undone timeout's SND.MAX made the next real loss wait for an RTO.
 */
import assert from 'node:assert/strict';
import { NewReno } from '../../../src/tcp/congestion/newreno.js';
import { Cubic } from '../../../src/tcp/congestion/cubic.js';
import { HyStartPlusPlus } from '../../../src/tcp/congestion/hystart.js';
import type { CongestionControl } from '../../../src/tcp/congestion/congestion-control.js';
import { bytes, fireNext, MSS, send } from '../harness.js';
import { sackAck, sackEstablished, sent } from '../sack-harness.js';

const M = 1000;

/** Three duplicate ACKs at `ack`: whether the third asked for a fast retransmit. */
function threeDupAcks(c: NewReno, ack: number, flight: number, sndMax: number): boolean {
  let action = 'none';
  for (let i = 0; i < 3; i++) action = c.onDupAck(ack, flight, sndMax);
  return action === 'retransmit';
}

describe('tcp/congestion undo (spurious reductions)', () => {
  for (const make of [() => new NewReno(10), () => new Cubic(10, new HyStartPlusPlus())]) {
    const name = make().name;

    it(`${name}: undoing a first timeout restores cwnd, ssthresh and recover`, () => {
      const c = make();
      c.init(M, false, 0);
      c.onAck(5 * M, 5 * M, 10 * M, 15 * M, 100); // slow start to 15 segments; recover follows SND.UNA
      const cwnd = c.cwnd;
      c.onTimeout(10 * M, 15 * M, true);
      assert.equal(c.cwnd, M);
      assert.equal(c.recover, 15 * M, 'RFC 6582 4: duplicates below the timeout\'s SND.MAX are ignored');
      c.undoRecovery();
      assert.equal(c.cwnd, cwnd);
      assert.equal(c.ssthresh, Number.MAX_SAFE_INTEGER);
      assert.equal(c.recover, 5 * M, 'recover back to where it was');
      // A real loss of data sent before the undone timeout: fast retransmit at once.
      assert.equal(threeDupAcks(c, 6 * M, 10 * M, 16 * M), true);
      assert.equal(c.inRecovery, true);
    });

    it(`${name}: undoing fast recovery (enterRecovery, and a third duplicate ACK) restores the same`, () => {
      const c = make();
      c.init(M, false, 0);
      c.cwnd = 20 * M;
      c.ssthresh = 30 * M;
      c.enterRecovery(20 * M, 20 * M);
      assert.ok(c.cwnd < 20 * M);
      c.undoRecovery();
      assert.deepEqual([c.cwnd, c.ssthresh, c.recover, c.inRecovery], [20 * M, 30 * M, 0, false]);
      assert.equal(threeDupAcks(c, 0, 20 * M, 20 * M), true, 'reduced once more, as a new episode');
      c.undoRecovery();
      assert.deepEqual([c.cwnd, c.ssthresh, c.recover, c.inRecovery], [20 * M, 30 * M, 0, false]);
    });

    it(`${name}: nothing to undo after an undo, nor an ECN reduction (congestion was real)`, () => {
      const c = make();
      c.init(M, false, 0);
      c.cwnd = 20 * M;
      c.enterRecovery(20 * M, 20 * M);
      c.undoRecovery();
      const undone = [c.cwnd, c.ssthresh];
      c.undoRecovery();
      assert.deepEqual([c.cwnd, c.ssthresh], undone);
      c.onTimeout(20 * M, 20 * M, true);
      c.onEcnEcho?.(2 * M);
      const after = [c.cwnd, c.ssthresh];
      c.undoRecovery();
      assert.deepEqual([c.cwnd, c.ssthresh], after, 'the ECN reduction stands');
    });
  }

  it('recover follows SND.UNA: after 2 GiB without a loss, three duplicate ACKs still start fast recovery', () => {
    const c = new NewReno(10);
    c.init(M, false, 0);
    let una = 0;
    for (let i = 0; i < 4; i++) {
      una = (una + 0x3000_0000) >>> 0; // 3 x 0.75 GiB: past the ISS's half of the sequence space
      c.onAck(M, una, 10 * M, una + 10 * M, i);
    }
    assert.equal(threeDupAcks(c, una, 10 * M, (una + 10 * M) >>> 0), true);
  });

  it('cubic: the curve comes back too (W_max lowered by fast convergence, epoch, K, W_est)', () => {
    const c = new Cubic(10, new HyStartPlusPlus());
    c.init(M, false, 0);
    c.onRttSample(100, 100);
    // A first loss at 100 segments, then congestion avoidance on the curve for a while.
    c.cwnd = 100 * M;
    c.enterRecovery(100 * M, 100 * M);
    c.exitRecovery();
    let una = 100 * M;
    for (let now = 1000; now < 3000; now += 10) {
      una += M;
      c.onAck(M, una, c.cwnd, una + c.cwnd, now);
    }
    const before = { wMax: c.wMax, k: c.k, epochStart: c.epochStart, origin: c.origin, wEst: c.wEst, cwnd: c.cwnd, ssthresh: c.ssthresh };
    assert.ok(before.epochStart >= 0 && before.cwnd < before.wMax);
    // A spurious fast recovery below W_max: fast convergence lowers W_max, the epoch restarts.
    c.enterRecovery(c.cwnd, una + c.cwnd);
    assert.ok(c.wMax < before.wMax);
    assert.equal(c.epochStart, -1);
    c.undoRecovery();
    assert.deepEqual({ wMax: c.wMax, k: c.k, epochStart: c.epochStart, origin: c.origin, wEst: c.wEst, cwnd: c.cwnd, ssthresh: c.ssthresh }, before);
  });

  it('an algorithm without undoRecovery keeps working: the reduction stands', () => {
    const reno = new NewReno(10);
    const plain: CongestionControl = {
      name: 'no-undo',
      get cwnd() { return reno.cwnd; },
      get ssthresh() { return reno.ssthresh; },
      get inRecovery() { return reno.inRecovery; },
      init: (mss, lost, iss) => reno.init(mss, lost, iss),
      onAck: (a, b, c, d, e) => reno.onAck(a, b, c, d, e),
      onDupAck: (a, b, c) => reno.onDupAck(a, b, c),
      onTimeout: (a, b, c) => reno.onTimeout(a, b, c),
      enterRecovery: (a, b) => reno.enterRecovery(a, b),
      exitRecovery: () => reno.exitRecovery(),
      onIdleRestart: (n) => reno.onIdleRestart(n),
    };
    const h = sackEstablished({ config: { rtoMin: 1000, congestionControl: () => plain } }, { peerSack: false });
    h.conn.write(bytes(15 * MSS), h.now);
    sent(h);
    fireNext(h);
    sent(h);
    h.now += 100;
    send(h, sackAck(1000));
    send(h, sackAck(2000)); // F-RTO: spurious
    assert.equal(h.conn.counters.frtoSpuriousRtos, 1);
    assert.equal(h.conn.cwnd < 10 * MSS, true, 'no undo: the timeout\'s reduction stands');
  });

  describe('on the core without SACK (NewReno, F-RTO)', () => {
    it('a real loss after an undone spurious timeout is fast-retransmitted, not left to the RTO', () => {
      const h = sackEstablished({ config: { rtoMin: 1000 } }, { peerSack: false });
      h.conn.write(bytes(15 * MSS), h.now);
      assert.equal(sent(h).length, 10);
      fireNext(h); // the RTO resends segment 0
      assert.deepEqual(sent(h), [[0, MSS]]);
      h.now += 100;
      send(h, sackAck(1000)); // late ACK of the original: F-RTO sends new data
      assert.deepEqual(sent(h), [[10_000, MSS], [11_000, MSS]]);
      send(h, sackAck(2000)); // segment 1, never resent: spurious, undone
      assert.equal(h.conn.counters.frtoSpuriousRtos, 1);
      assert.equal(h.conn.cwnd, 10 * MSS);
      sent(h);
      // Segment 2 (sent before the timeout, below its SND.MAX) is really lost.
      for (let i = 0; i < 3; i++) send(h, sackAck(2000));
      assert.equal(h.conn.counters.fastRetransmits, 1, 'fast retransmit on the third duplicate ACK');
      assert.ok(sent(h).some(([off, len]) => off === 2000 && len === MSS), 'segment 2 resent');
      assert.equal(h.conn.counters.timeouts, 1, 'no second timeout');
    });
  });
});
