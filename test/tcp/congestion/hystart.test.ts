import assert from 'node:assert/strict';
import { HyStartPlusPlus, HYSTART_CSS_ROUNDS } from '../../../src/tcp/congestion/hystart.js';
import { Cubic, cubic } from '../../../src/tcp/congestion/cubic.js';

const MSS = 1000;

/**
 * One HyStart++ round by hand: an ACK at `start` opens the round (its end is `start + 10`), then
 * `rtts` samples each followed by an ACK inside the round. Returns the ACK that ends it.
 */
function round(h: HyStartPlusPlus, start: number, rtts: number[]): { next: number; exit: boolean } {
  let exit = h.onAck(start, start + 100);
  for (let i = 0; i < rtts.length; i++) {
    h.onRttSample(rtts[i]);
    exit = h.onAck(start + 1 + i, start + 100) || exit;
  }
  return { next: start + 100, exit };
}

/** RTT threshold at which a round minimum of `base + rise` must enter CSS, per RFC 9406 4.2. */
function entersCss(base: number, rise: number): boolean {
  const h = new HyStartPlusPlus();
  let at = 0;
  at = round(h, at, Array(8).fill(base)).next;
  at = round(h, at, Array(8).fill(base + rise)).next;
  return h.phase === 'css';
}

describe('HyStart++ (RFC 9406)', () => {
  it('enters CSS when a round minimum rises by the threshold: clamp(lastMin / 8, 4, 16) ms', () => {
    assert.equal(entersCss(100, 12), false);
    assert.equal(entersCss(100, 12.5), true);
    assert.equal(entersCss(20, 3.9), false, 'at least 4 ms');
    assert.equal(entersCss(20, 4), true);
    assert.equal(entersCss(400, 15.9), false, 'at most 16 ms');
    assert.equal(entersCss(400, 16), true);
  });

  it('needs N_RTT_SAMPLE (8) samples in the round', () => {
    const h = new HyStartPlusPlus();
    const at = round(h, 0, Array(8).fill(100)).next;
    round(h, at, Array(7).fill(200));
    assert.equal(h.phase, 'slow-start', 'seven samples');
    h.onRttSample(200);
    h.onAck(at + 50, at + 100);
    assert.equal(h.phase, 'css', 'the eighth');
  });

  it('CSS: a quarter of the growth; back to slow start when the RTT falls below the baseline', () => {
    const h = new HyStartPlusPlus();
    let at = round(h, 0, Array(8).fill(100)).next;
    at = round(h, at, Array(8).fill(130)).next;
    assert.equal(h.phase, 'css');
    assert.equal(h.increment(2000), 500);
    round(h, at, Array(8).fill(110));
    assert.equal(h.phase, 'slow-start', 'the rise was spurious');
    assert.equal(h.increment(2000), 2000);
  });

  it('CSS_ROUNDS (5) rounds of CSS end slow start', () => {
    const h = new HyStartPlusPlus();
    let at = round(h, 0, Array(8).fill(100)).next;
    at = round(h, at, Array(8).fill(130)).next;
    // The round CSS began in counts as the first.
    let exits = 0;
    for (let r = 0; r < HYSTART_CSS_ROUNDS - 1; r++) {
      const res = round(h, at, Array(8).fill(130));
      at = res.next;
      if (res.exit) exits++;
    }
    assert.equal(h.onAck(at, at + 100), true, 'the fifth CSS round closes');
    assert.equal(exits, 0);
    assert.equal(h.phase, 'done');
  });
});

/**
 * Slow start in virtual time: rounds of one window each, ACK per segment, the sender refilling
 * (SND.MAX = SND.UNA + cwnd). `rttOf(round, i)` gives each ACK's RTT sample.
 */
function slowStart(c: Cubic, rounds: number, rttOf: (round: number, i: number) => number): void {
  let una = 1;
  let now = 0;
  for (let r = 0; r < rounds; r++) {
    const segments = Math.floor(c.cwnd / MSS);
    for (let i = 0; i < segments; i++) {
      now += 100 / segments;
      una += MSS;
      const rtt = rttOf(r, i);
      c.onRttSample(rtt, rtt);
      c.onAck(MSS, una, c.cwnd, una + c.cwnd, now);
    }
  }
}

describe('CUBIC slow start with HyStart++', () => {
  function fresh(): Cubic {
    const c = new Cubic(10);
    c.init(MSS, false, 0);
    return c;
  }

  it('an RTT rise (queue building) ends slow start after the CSS rounds, without a loss', () => {
    const counters = { hystartCssEntries: 0, hystartExits: 0 };
    const c = cubic({ initialWindowSegments: 10, counters });
    c.init(MSS, false, 0);
    slowStart(c, 12, (r) => (r < 3 ? 100 : 100 + 20 * (r - 2)));
    assert.notEqual(c.ssthresh, Number.MAX_SAFE_INTEGER, 'slow start ended');
    assert.equal(c.hystart.phase, 'done');
    assert.deepEqual(counters, { hystartCssEntries: 1, hystartExits: 1 });
    // Three plain doublings (10 -> 80), about a round of 1.5x growth into CSS, then CSS at 1.25x per round.
    assert.ok(c.cwnd < 400 * MSS, `cwnd ${c.cwnd}`);
    const plain = fresh();
    slowStart(plain, 12, () => 100);
    assert.equal(plain.ssthresh, Number.MAX_SAFE_INTEGER, 'a flat RTT keeps slow start going');
    assert.ok(plain.cwnd > 10 * c.cwnd, `${plain.cwnd} vs ${c.cwnd}`);
  });

  it('noise (samples scattered above a steady minimum) does not end slow start', () => {
    const c = fresh();
    let x = 1;
    slowStart(c, 9, (_r, i) => {
      x = (x * 1103515245 + 12345) >>> 0;
      return i % 4 === 1 ? 100 : 100 + (x >>> 24) / 4; // up to +64 ms, but every round sees 100
    });
    assert.equal(c.hystart.phase, 'slow-start');
    assert.equal(c.ssthresh, Number.MAX_SAFE_INTEGER);
    assert.equal(c.cwnd, 10 * 2 ** 9 * MSS, 'nine doublings');
  });

  it('a loss ends HyStart++: later slow starts are plain', () => {
    const c = fresh();
    slowStart(c, 2, () => 100);
    const una = c.recover; // (recover follows SND.UNA outside recovery: duplicates come at SND.UNA)
    for (let i = 0; i < 3; i++) c.onDupAck(una, c.cwnd, una + c.cwnd);
    assert.equal(c.inRecovery, true);
    assert.equal(c.hystart.phase, 'done');
  });
});
