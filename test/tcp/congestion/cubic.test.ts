import assert from 'node:assert/strict';
import { CUBIC_ALPHA, CUBIC_BETA, CUBIC_C, Cubic } from '../../../src/tcp/congestion/cubic.js';
import { HyStartPlusPlus } from '../../../src/tcp/congestion/hystart.js';

const MSS = 1000;

/**
 * A bulk sender in virtual time, cwnd-limited (it refills the window at every ACK, so the flight
 * before an ACK is cwnd): each round's ACKs (one per segment of the window at the round's
 * start) arrive spread evenly over one RTT. Returns the time after `rounds` rounds.
 */
function runRounds(c: Cubic, state: { now: number; una: number }, rounds: number, rtt: number, flightOf?: () => number): void {
  for (let r = 0; r < rounds; r++) {
    const window = c.cwnd;
    const segments = Math.max(1, Math.floor(window / MSS));
    const sndMax = state.una + segments * MSS;
    for (let i = 0; i < segments; i++) {
      state.now += rtt / segments;
      state.una += MSS;
      c.onAck(MSS, state.una, flightOf === undefined ? c.cwnd : flightOf(), sndMax, state.now);
    }
  }
}

/** A Cubic in congestion avoidance right after a fast-retransmit loss at cwnd `atLoss` bytes. */
function afterLoss(atLoss: number, srtt: number, previous?: { c: Cubic; state: { now: number; una: number } }): { c: Cubic; state: { now: number; una: number } } {
  const c = previous?.c ?? new Cubic(10, new HyStartPlusPlus());
  if (previous === undefined) {
    c.init(MSS, false, 0);
    c.onRttSample(srtt, srtt);
  }
  const state = previous?.state ?? { now: 10_000, una: 1 };
  c.cwnd = atLoss;
  for (let i = 0; i < 3; i++) c.onDupAck(state.una, atLoss, state.una + atLoss);
  assert.equal(c.inRecovery, true);
  // The full ACK; the window sent during recovery keeps the flight at ssthresh.
  state.una += atLoss;
  c.onAck(atLoss, state.una, atLoss + c.ssthresh, state.una + c.ssthresh, state.now);
  assert.equal(c.inRecovery, false);
  return { c, state };
}

/** RFC 9438 figure 1 and 2, in segments and seconds, independent of the implementation. */
function wCubicSegments(t: number, wMax: number, cwndEpoch: number): number {
  const k = Math.cbrt((wMax - cwndEpoch) / CUBIC_C);
  return CUBIC_C * (t - k) ** 3 + wMax;
}

describe('CUBIC (RFC 9438)', () => {
  it('multiplicative decrease: ssthresh = 0.7 cwnd, W_max = cwnd at the loss', () => {
    const { c } = afterLoss(100 * MSS, 100);
    assert.equal(c.ssthresh, 70 * MSS);
    assert.equal(c.cwnd, 70 * MSS);
    assert.equal(c.wMax, 100 * MSS);
    assert.equal(CUBIC_BETA, 0.7);
  });

  it('cwnd follows W_cubic(t) = C (t - K)^3 + W_max after a loss, RTT by RTT', () => {
    const rtt = 100;
    // A large W_max so the cubic curve stays above the Reno-friendly estimate throughout.
    const { c, state } = afterLoss(1000 * MSS, rtt);
    const epoch = state.now;
    // K = cbrt((1000 - 700) / 0.4) = 9.09 s: concave up to the old maximum, then convex.
    let done = 0;
    const seen: number[] = [];
    for (const k of [5, 10, 30, 60, 91, 120, 150]) {
      runRounds(c, state, k - done, rtt);
      done = k;
      const t = (state.now - epoch) / 1000;
      const expected = wCubicSegments(t, 1000, 700) * MSS;
      const tolerance = Math.max(1.5 * MSS, 0.01 * expected);
      assert.ok(Math.abs(c.cwnd - expected) <= tolerance, `after ${k} RTTs (t=${t.toFixed(2)} s): cwnd ${c.cwnd}, W_cubic ${expected.toFixed(0)}`);
      seen.push(c.cwnd);
    }
    // Plateau near W_max around t = K, convex growth beyond it.
    assert.ok(Math.abs(seen[4] - 1000 * MSS) <= 2 * MSS, `at t ~ K: ${seen[4]}`);
    assert.ok(seen[6] - seen[5] > seen[5] - seen[4], 'accelerating after K');
  });

  it('with a small W_max and a 100 ms RTT, the Reno-friendly W_est takes over after ~55 RTTs', () => {
    const rtt = 100;
    const { c, state } = afterLoss(100 * MSS, rtt);
    const epoch = state.now;
    runRounds(c, state, 40, rtt);
    const t40 = (state.now - epoch) / 1000;
    assert.ok(Math.abs(c.cwnd - wCubicSegments(t40, 100, 70) * MSS) <= 1.5 * MSS, `cubic region at 40 RTTs: ${c.cwnd}`);
    runRounds(c, state, 30, rtt);
    const t70 = (state.now - epoch) / 1000;
    // W_est: 70 + alpha per RTT up to cwnd_prior (100), then one per RTT: 113.3 after 70 RTTs.
    const west = (100 + (70 - 30 / CUBIC_ALPHA)) * MSS;
    assert.ok(west > wCubicSegments(t70, 100, 70) * MSS + 3 * MSS);
    assert.ok(Math.abs(c.cwnd - west) <= 1.5 * MSS, `Reno-friendly at 70 RTTs: cwnd ${c.cwnd}, W_est ${west.toFixed(0)}`);
  });

  it('the curve is time-based: with twice the RTT, the same seconds give the same window', () => {
    const a = afterLoss(100 * MSS, 50);
    const b = afterLoss(100 * MSS, 100);
    runRounds(a.c, a.state, 40, 50); // 2 s
    runRounds(b.c, b.state, 20, 100); // 2 s
    assert.ok(Math.abs(a.c.cwnd - b.c.cwnd) <= 1.5 * MSS, `${a.c.cwnd} vs ${b.c.cwnd}`);
    // NewReno-like linear growth would differ by 20 segments.
  });

  it('fast convergence: a loss below the previous W_max remembers W_max = cwnd (1 + beta) / 2', () => {
    const first = afterLoss(100 * MSS, 100);
    assert.equal(first.c.wMax, 100 * MSS);
    const second = afterLoss(80 * MSS, 100, first);
    assert.equal(second.c.wMax, 80 * MSS * 0.85);
    assert.equal(second.c.ssthresh, 56 * MSS);
    runRounds(second.c, second.state, 1, 100);
    assert.ok(Math.abs(second.c.k - Math.cbrt((68 - 56) / CUBIC_C)) < 0.02, `K ${second.c.k}`);
    // A loss above W_max takes the new window as W_max.
    const third = afterLoss(120 * MSS, 100, second);
    assert.equal(third.c.wMax, 120 * MSS);
  });

  it('Reno-friendly region: on a short RTT cwnd grows as W_est, faster than W_cubic', () => {
    const rtt = 10;
    const { c, state } = afterLoss(10 * MSS, rtt);
    const epoch = state.now;
    runRounds(c, state, 50, rtt);
    const t = (state.now - epoch) / 1000;
    const cubicOnly = wCubicSegments(t, 10, 7) * MSS;
    // W_est: alpha per RTT until it reaches cwnd_prior (10 segments), then one per RTT.
    const rttsToPrior = (10 - 7) / CUBIC_ALPHA;
    const expected = (10 + (50 - rttsToPrior)) * MSS;
    assert.ok(c.cwnd > cubicOnly + 10 * MSS, `cwnd ${c.cwnd} above W_cubic ${cubicOnly.toFixed(0)}`);
    assert.ok(Math.abs(c.cwnd - expected) <= 3 * MSS, `cwnd ${c.cwnd} ~ W_est ${expected.toFixed(0)}`);
  });

  it('application-limited: no growth and the curve clock stops', () => {
    const { c, state } = afterLoss(100 * MSS, 100);
    runRounds(c, state, 1, 100);
    const cwnd = c.cwnd;
    const epoch = c.epochStart;
    runRounds(c, state, 30, 100, () => 10 * MSS); // 3 s with 10 segments in flight
    assert.equal(c.cwnd, cwnd, 'no growth while app-limited');
    assert.ok(Math.abs(c.epochStart - (epoch + 3000)) < 1e-6, `epoch moved by the app-limited time: ${c.epochStart - epoch}`);
  });

  it('after a timeout the next epoch starts at K = 0 from the window then (RFC 9438 4.8)', () => {
    const c = new Cubic(10, new HyStartPlusPlus());
    c.init(MSS, false, 0);
    c.onRttSample(100, 100);
    c.cwnd = 50 * MSS;
    c.onTimeout(50 * MSS, 50 * MSS + 1, true);
    assert.equal(c.cwnd, MSS);
    assert.equal(c.ssthresh, 35 * MSS);
    assert.equal(c.wMax, 50 * MSS);
    const state = { now: 1000, una: 1 };
    c.cwnd = 35 * MSS; // slow start done
    runRounds(c, state, 1, 100);
    assert.equal(c.k, 0);
    assert.equal(c.origin, 35 * MSS);
  });

  it('slow start before any loss adds every byte an ACK covers (NewReno: 2 MSS per ACK at most)', () => {
    const c = new Cubic(10, new HyStartPlusPlus());
    c.init(MSS, false, 0);
    c.onAck(2 * MSS, 2001, 10 * MSS, 10_001, 0);
    c.onAck(3 * MSS, 5001, 8 * MSS, 12_001, 1);
    assert.equal(c.cwnd, 15 * MSS);
    assert.equal(c.name, 'cubic');
  });
});
