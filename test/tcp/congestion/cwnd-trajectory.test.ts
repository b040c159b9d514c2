/**
 * cwnd round by round through a whole life: slow start, a loss recovered by fast retransmit,
 * congestion avoidance, an idle restart, slow start back to ssthresh, a retransmission timeout
 * and slow start from one segment. Each controller is driven as a cwnd-limited bulk sender (every
 * round sends a full window and gets one ACK per segment) and compared with a model written
 * from the RFCs' equations, round by round, not from the code.
 */
import assert from 'node:assert/strict';
import { Cubic, CUBIC_BETA, CUBIC_C } from '../../../src/tcp/congestion/cubic.js';
import { HyStartPlusPlus } from '../../../src/tcp/congestion/hystart.js';
import { NewReno } from '../../../src/tcp/congestion/newreno.js';

const MSS = 1000;
const IW = 10;
const RTT = 100; // ms

interface Sender {
  now: number;
  una: number;
}

/** One round trip: a window of segments, an ACK for each spread over the RTT. Returns cwnd after. */
function round(cc: NewReno, s: Sender): number {
  const segments = Math.max(1, Math.floor(cc.cwnd / MSS));
  const sndMax = s.una + segments * MSS;
  for (let i = 0; i < segments; i++) {
    s.now += RTT / segments;
    s.una += MSS;
    // cwnd-limited: each ACK's freed slot is refilled at once, so the flight before it is cwnd.
    cc.onAck(MSS, s.una, cc.cwnd, sndMax, s.now);
  }
  return cc.cwnd;
}

/** A loss found by three duplicate ACKs with `flight` outstanding, then the full ACK. */
function fastRecovery(cc: NewReno, s: Sender, flight: number): { inRecovery: number; after: number } {
  const sndMax = s.una + flight;
  for (let i = 0; i < 3; i++) cc.onDupAck(s.una, flight, sndMax);
  const inRecovery = cc.cwnd;
  assert.equal(cc.inRecovery, true);
  // The retransmission repairs the hole: the full ACK covers the flight; what recovery sent since
  // (ssthresh worth) is outstanding after it.
  s.now += RTT;
  s.una = sndMax;
  cc.onAck(flight, s.una, flight + cc.ssthresh, s.una + cc.ssthresh, s.now);
  assert.equal(cc.inRecovery, false);
  return { inRecovery, after: cc.cwnd };
}

const segs = (bytes: number): number => bytes / MSS;

describe('congestion control: cwnd trajectory against a model', () => {
  it('NewReno (RFC 5681, RFC 6582): slow start, fast recovery, avoidance, idle restart, timeout', () => {
    const cc = new NewReno(IW);
    cc.init(MSS, false, 0);
    const s: Sender = { now: 0, una: 1 };
    // Model, in segments: slow start doubles per round (one SMSS per ACK, RFC 5681 (2)).
    const slowStart = [10, 20, 40, 80, 160];
    const seen = [segs(cc.cwnd)];
    for (let r = 1; r < slowStart.length; r++) seen.push(segs(round(cc, s)));
    assert.deepEqual(seen, slowStart, 'slow start');

    // Fast retransmit (RFC 6582 3.2): ssthresh = FlightSize / 2, cwnd = ssthresh + 3 SMSS; the
    // full ACK deflates to min(ssthresh, FlightSize + SMSS) = ssthresh here.
    const loss = fastRecovery(cc, s, cc.cwnd);
    assert.equal(segs(cc.ssthresh), 80);
    assert.deepEqual([segs(loss.inRecovery), segs(loss.after)], [83, 80], 'fast recovery');

    // Congestion avoidance: one SMSS per round (RFC 5681 (3), byte counting).
    const avoidance: number[] = [];
    for (let r = 0; r < 10; r++) avoidance.push(segs(round(cc, s)));
    assert.deepEqual(avoidance, [81, 82, 83, 84, 85, 86, 87, 88, 89, 90], 'congestion avoidance');

    // Idle for more than an RTO (RFC 5681 4.1): restart from min(cwnd, IW); ssthresh is kept, so
    // slow start again up to 80, then avoidance.
    s.now += 5000;
    cc.onIdleRestart(s.now);
    assert.equal(segs(cc.cwnd), IW, 'restart window');
    const restart: number[] = [];
    for (let r = 0; r < 5; r++) restart.push(segs(round(cc, s)));
    assert.deepEqual(restart, [20, 40, 80, 81, 82], 'slow start to ssthresh after the restart, then avoidance');

    // A retransmission timeout (RFC 5681 (4), 3.1): ssthresh = FlightSize / 2, cwnd = 1 SMSS; slow
    // start doubles to ssthresh (41 here: 32 + 9 ACKs reach 41 >= 41, the rest of that round
    // counts toward avoidance), then one SMSS per round.
    cc.onTimeout(82 * MSS, s.una + 82 * MSS, true);
    assert.deepEqual([segs(cc.cwnd), segs(cc.ssthresh)], [1, 41]);
    const afterTimeout: number[] = [];
    for (let r = 0; r < 8; r++) afterTimeout.push(segs(round(cc, s)));
    assert.deepEqual(afterTimeout, [2, 4, 8, 16, 32, 41, 42, 43], 'slow start from one segment after a timeout');
  });

  describe('CUBIC (RFC 9438)', () => {
    /** max(W_cubic(t), W_est(t)) in segments: RFC 9438 figure 1 and 4.3, t in seconds. */
    function modelWindow(t: number, wMax: number, start: number, rttS: number): number {
      const k = Math.cbrt((wMax - start) / CUBIC_C);
      const wCubic = CUBIC_C * (t - k) ** 3 + wMax;
      const alpha = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
      const wEst = start + alpha * (t / rttS);
      return Math.max(wCubic, wEst);
    }

    function cubicAfterSlowStart(): { cc: Cubic; s: Sender } {
      const cc = new Cubic(IW, new HyStartPlusPlus());
      cc.init(MSS, false, 0);
      cc.onRttSample(RTT, RTT); // a constant RTT: HyStart++ has no reason to leave early
      const s: Sender = { now: 0, una: 1 };
      const seen = [segs(cc.cwnd)];
      for (let r = 0; r < 4; r++) seen.push(segs(round(cc, s)));
      assert.deepEqual(seen, [10, 20, 40, 80, 160], 'slow start doubles per round');
      return { cc, s };
    }

    it('slow start, then beta = 0.7 at a loss, then the cubic curve back to W_max and beyond', () => {
      const { cc, s } = cubicAfterSlowStart();
      const loss = fastRecovery(cc, s, cc.cwnd);
      assert.equal(segs(cc.ssthresh), 112, 'ssthresh = 0.7 x 160');
      assert.equal(segs(loss.after), 112);
      assert.equal(segs(cc.wMax), 160);

      // Round by round the window tracks the model within 2 segments plus 2 %; it is back at
      // W_max around K = cbrt((160 - 112) / 0.4) = 4.93 s, and it never shrinks.
      const epochStart = s.now;
      let previous = cc.cwnd;
      let atK = 0;
      for (let r = 0; r < 70; r++) {
        round(cc, s);
        const t = (s.now - epochStart) / 1000;
        const model = modelWindow(t, 160, 112, RTT / 1000);
        const got = segs(cc.cwnd);
        assert.ok(Math.abs(got - model) <= 2 + 0.02 * model, `round ${r}, t = ${t.toFixed(2)} s: cwnd ${got.toFixed(1)} segments, model ${model.toFixed(1)}`);
        assert.ok(cc.cwnd >= previous, 'never shrinks without a loss');
        previous = cc.cwnd;
        if (Math.abs(t - 4.93) < 0.05) atK = got;
      }
      assert.ok(Math.abs(atK - 160) <= 2, `at t = K (4.93 s) cwnd is back at W_max: ${atK}`);
      assert.ok(segs(cc.cwnd) > 162, `beyond W_max in the convex region: ${segs(cc.cwnd)}`);
    });

    it('an idle restart: min(cwnd, IW), slow start to ssthresh, and the curve does not count the idle time', () => {
      const { cc, s } = cubicAfterSlowStart();
      fastRecovery(cc, s, cc.cwnd);
      const epochStart = s.now;
      for (let r = 0; r < 10; r++) round(cc, s); // 1 s into the epoch: still well below W_max
      const beforeIdle = segs(cc.cwnd);
      assert.ok(beforeIdle < 140, `${beforeIdle} segments before the idle period`);

      const IDLE = 30_000;
      s.now += IDLE;
      cc.onIdleRestart(s.now);
      assert.equal(segs(cc.cwnd), IW);
      const restart: number[] = [];
      for (let r = 0; r < 3; r++) restart.push(segs(round(cc, s)));
      assert.deepEqual(restart, [20, 40, 80], 'slow start again, towards ssthresh (112)');
      // From ssthresh on, the window follows the curve of the epoch with the idle time taken out:
      // never above W_cubic one RTT ahead (plus rounding), so still below W_max (160) here. Had
      // the 30 s counted, W_cubic would be far beyond W_max and cwnd would grow by half a window
      // per round.
      for (let r = 0; r < 6; r++) {
        round(cc, s);
        const t = (s.now - epochStart - IDLE) / 1000;
        const bound = modelWindow(t + RTT / 1000, 160, 112, RTT / 1000);
        assert.ok(segs(cc.cwnd) <= bound + 2, `round ${r}, t = ${t.toFixed(2)} s (idle excluded): cwnd ${segs(cc.cwnd)} > curve ${bound.toFixed(1)}`);
      }
      assert.ok(segs(cc.cwnd) < 160, `still below W_max: ${segs(cc.cwnd)}`);
    });

    it('a timeout: cwnd 1 segment, ssthresh 0.7 cwnd, slow start, then a curve starting at K = 0', () => {
      const { cc, s } = cubicAfterSlowStart();
      cc.onTimeout(cc.cwnd, s.una + cc.cwnd, true);
      assert.deepEqual([segs(cc.cwnd), segs(cc.ssthresh)], [1, 112]);
      const seen: number[] = [];
      for (let r = 0; r < 7; r++) seen.push(segs(round(cc, s)));
      assert.deepEqual(seen.slice(0, 7), [2, 4, 8, 16, 32, 64, 112].map((w, i) => (i < 6 ? w : seen[6])));
      assert.ok(seen[6] >= 112 && seen[6] <= 128, `slow start ends at ssthresh: ${seen[6]}`);
      // RFC 9438 4.8: K = 0 from the current window: the concave part is skipped, growth is
      // convex from the start (each round's increase at least the previous one's).
      let lastGrowth = 0;
      for (let r = 0; r < 15; r++) {
        const before = cc.cwnd;
        round(cc, s);
        const growth = cc.cwnd - before;
        assert.ok(growth >= lastGrowth - MSS, `round ${r}: growth ${growth} after ${lastGrowth}`);
        lastGrowth = growth;
      }
    });
  });
});
