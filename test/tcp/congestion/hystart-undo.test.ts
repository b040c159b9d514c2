/**
 * HyStart++ across an undone reduction (cubic.ts undoRecovery): a spurious loss in the initial
 * slow start stopped HyStart++, and the undo, which puts ssthresh back to "arbitrarily high",
 * resumed slow start with no exit but the next loss. As Linux's cubic: after a fast recovery
 * HyStart++'s state comes back as it was (Linux never touches it in recovery), after a timeout
 * it starts over (Linux resets its HyStart when a timeout enters the Loss state). On the
 * algorithm alone and on the core (a D-SACK undo).
 */
import assert from 'node:assert/strict';
import { Cubic, cubic } from '../../../src/tcp/congestion/cubic.js';
import { HyStartPlusPlus } from '../../../src/tcp/congestion/hystart.js';
import { bytes, MSS, send } from '../harness.js';
import { sackAck, sackEstablished, sent } from '../sack-harness.js';

const M = 1000;

/** Rounds of slow start, one window each, ACK per segment; `rtt(round)` each ACK's sample. Returns the next SND.UNA and time. */
function rounds(c: Cubic, n: number, rtt: (round: number) => number, from = { una: 1, now: 0 }): { una: number; now: number } {
  let { una, now } = from;
  for (let r = 0; r < n; r++) {
    const segments = Math.max(1, Math.floor(c.cwnd / M));
    for (let i = 0; i < segments; i++) {
      now += 100 / segments;
      una += M;
      c.onRttSample(rtt(r), rtt(r));
      c.onAck(M, una, c.cwnd, una + c.cwnd, now);
    }
  }
  return { una, now };
}

function fresh(): { c: Cubic; counters: { hystartCssEntries: number; hystartExits: number } } {
  const counters = { hystartCssEntries: 0, hystartExits: 0 };
  const c = cubic({ initialWindowSegments: 10, counters });
  c.init(M, false, 0);
  return { c, counters };
}

describe('HyStart++ on undo (cubic)', () => {
  it('an undone fast recovery in slow start: HyStart++ comes back and still ends slow start on an RTT rise', () => {
    const { c, counters } = fresh();
    let at = rounds(c, 3, () => 100);
    const before = { phase: c.hystart.phase, last: c.hystart.lastRoundMinRtt, cwnd: c.cwnd };
    assert.equal(before.phase, 'slow-start');
    c.enterRecovery(c.cwnd, at.una + c.cwnd);
    assert.equal(c.hystart.phase, 'done', 'the reduction stops it');
    c.undoRecovery();
    assert.equal(c.ssthresh, Number.MAX_SAFE_INTEGER, 'slow start resumes');
    assert.equal(c.cwnd, before.cwnd);
    assert.deepEqual({ phase: c.hystart.phase, last: c.hystart.lastRoundMinRtt }, { phase: before.phase, last: before.last });
    // The queue builds: HyStart++ still sees it, enters CSS and ends slow start without a loss.
    at = rounds(c, 8, (r) => 100 + 20 * (r + 1), at);
    assert.deepEqual(counters, { hystartCssEntries: 1, hystartExits: 1 });
    assert.notEqual(c.ssthresh, Number.MAX_SAFE_INTEGER, 'slow start ended');
  });

  it('an undone fast recovery in CSS: CSS resumes (a quarter of the growth, its round count kept)', () => {
    const { c } = fresh();
    const at = rounds(c, 3, (r) => (r < 2 ? 100 : 130));
    assert.equal(c.hystart.phase, 'css');
    const cssRounds = c.hystart.cssRounds;
    const baseline = c.hystart.cssBaselineMinRtt;
    c.enterRecovery(c.cwnd, at.una + c.cwnd);
    c.undoRecovery();
    assert.equal(c.hystart.phase, 'css');
    assert.equal(c.hystart.cssRounds, cssRounds);
    assert.equal(c.hystart.cssBaselineMinRtt, baseline);
    assert.equal(c.hystart.increment(2 * M), M / 2, 'CSS growth');
  });

  it('an undone timeout: HyStart++ starts over (no round history), as Linux re-arms its HyStart', () => {
    const { c } = fresh();
    const at = rounds(c, 3, (r) => (r < 2 ? 100 : 130));
    assert.equal(c.hystart.phase, 'css');
    c.onTimeout(c.cwnd, at.una + c.cwnd, true);
    assert.equal(c.hystart.phase, 'done', 'a timeout that stands ends HyStart++ (RFC 9406 4.3)');
    c.undoRecovery();
    assert.equal(c.ssthresh, Number.MAX_SAFE_INTEGER);
    assert.equal(c.hystart.phase, 'slow-start');
    assert.equal(c.hystart.lastRoundMinRtt, Infinity);
    assert.equal(c.hystart.cssRounds, 0);
  });

  it('a reduction that stands (no undo), or an ECN reduction, leaves HyStart++ stopped', () => {
    const { c } = fresh();
    const at = rounds(c, 3, () => 100);
    c.enterRecovery(c.cwnd, at.una + c.cwnd);
    c.exitRecovery();
    assert.equal(c.hystart.phase, 'done');
    const e = new Cubic(10, new HyStartPlusPlus());
    e.init(M, false, 0);
    rounds(e, 2, () => 100);
    e.enterRecovery(e.cwnd, 100 * M);
    e.undoRecovery();
    e.onEcnEcho(e.cwnd);
    e.undoRecovery();
    assert.equal(e.hystart.phase, 'done', 'ECN congestion was real: nothing brings HyStart++ back');
  });

  it('core: a D-SACK undo of a recovery in the initial slow start gives HyStart++ back', () => {
    let cc: Cubic | undefined;
    const h = sackEstablished({ config: { rtoMin: 1000, congestionControl: (p) => (cc = cubic(p)) } });
    const c = cc as unknown as Cubic;
    h.conn.write(bytes(20 * MSS), h.now);
    sent(h);
    assert.equal(c.hystart.phase, 'slow-start');
    send(h, sackAck(0, [1000, 2000]));
    send(h, sackAck(0, [1000, 3000]));
    send(h, sackAck(0, [1000, 4000]));
    assert.ok(sent(h).some(([off]) => off === 0), 'fast recovery resent segment 0');
    assert.equal(c.hystart.phase, 'done');
    // The original was only late; the next ACK has a D-SACK for the needless retransmission.
    send(h, sackAck(4000, [0, 1000]));
    assert.equal(h.conn.counters.spuriousUndos, 1);
    assert.equal(c.ssthresh, Number.MAX_SAFE_INTEGER, 'back in the initial slow start');
    assert.equal(c.hystart.phase, 'slow-start', 'with HyStart++ to end it');
  });
});
