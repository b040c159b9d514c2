import assert from 'node:assert/strict';
import { BASE_MSS, BLACK_HOLE_TIMEOUTS, BlackHoleDetector, FLOOR_MSS } from '../../src/tcp/plpmtud.js';
import { bytes, established, fireNext, LOCAL_ISS, MSS, send, SEND, take, tick, type Harness } from './harness.js';

const L = LOCAL_ISS + 1;
const INTERVAL = 10_000;

/** Fires the timer until a segment comes out; returns it. */
function nextSent(h: Harness) {
  while (h.outbox.length === 0) fireNext(h);
  return take(h);
}

/** Established, 6000 bytes written, the first full segments lost until the black hole is detected. */
function fellBack(config = {}): Harness {
  const h = established({ rtt: 100, config: { mtuProbing: true, mtuProbeInterval: INTERVAL, ...config } });
  h.conn.write(bytes(6000), h.now);
  for (let i = 0; i < 6; i++) assert.equal(take(h).payload.length, MSS);
  for (let i = 1; i < BLACK_HOLE_TIMEOUTS; i++) {
    const rtx = nextSent(h);
    assert.equal(rtx.payload.length, MSS, `timeout ${i}: still full-sized`);
  }
  return h;
}

describe('tcp/plpmtud: the search (RFC 4821)', () => {
  it('falls back to 1024 first, then halves, never below the floor', () => {
    const d = new BlackHoleDetector(INTERVAL);
    for (let i = 1; i < BLACK_HOLE_TIMEOUTS; i++) assert.equal(d.onTimeout(1460, true, 0), undefined);
    assert.equal(d.onTimeout(1460, true, 0), BASE_MSS);
    for (let i = 1; i < BLACK_HOLE_TIMEOUTS; i++) d.onTimeout(BASE_MSS, true, 0);
    assert.equal(d.onTimeout(BASE_MSS, true, 0), FLOOR_MSS);
    for (let i = 0; i < 2 * BLACK_HOLE_TIMEOUTS; i++) assert.equal(d.onTimeout(FLOOR_MSS, true, 0), undefined);
  });

  it('timeouts of short segments, or interrupted by progress, are no black hole', () => {
    const d = new BlackHoleDetector(INTERVAL);
    for (let i = 0; i < 10; i++) assert.equal(d.onTimeout(1460, false, 0), undefined);
    d.onTimeout(1460, true, 0);
    d.onTimeout(1460, true, 0);
    d.onAck(1000, 0);
    assert.equal(d.onTimeout(1460, true, 0), undefined);
    assert.equal(d.probeAt, Number.POSITIVE_INFINITY, 'no probing without a fallback');
  });
});

describe('tcp/connection: black-hole detection and probing (RFC 4821)', () => {
  it('after repeated timeouts of full-sized segments resends in smaller ones', () => {
    const h = fellBack();
    const rtx = nextSent(h);
    assert.equal(rtx.seq, L);
    assert.equal(rtx.payload.length, 512, 'MSS 1000 halved is below the floor: 512');
    assert.equal(h.conn.sndMss, 512);
    assert.equal(h.conn.counters.pmtuBlackHoles, 1);
    assert.equal(h.conn.counters.pmtuChanges, 1);
  });

  it('probes a larger MSS after the interval: an ACK of a full probe keeps it, the search goes on, a lost probe goes back', () => {
    const h = fellBack();
    nextSent(h); // 512 at L
    const fellAt = h.now;
    // The small segments pass: the peer acknowledges everything as it comes.
    let acked = 0;
    const ackAll = () => {
      for (let s = h.outbox.shift(); s !== undefined; s = h.outbox.shift()) acked = Math.max(acked, s.seq + s.payload.length - L);
      send(h, { ...SEND, ack: L + acked });
    };
    send(h, { ...SEND, ack: L + 512 });
    acked = 512;
    for (let rounds = 0; (h.outbox.length > 0 || acked < 6000) && rounds < 100; rounds++) ackAll();
    assert.equal(acked, 6000);
    assert.equal(h.conn.sndMss, 512);
    // The probe timer: a larger size, midway to the negotiated 1000.
    tick(h, fellAt + INTERVAL - h.now);
    assert.equal(h.conn.sndMss, 756);
    assert.equal(h.conn.counters.pmtuProbes, 1);
    h.conn.write(bytes(3000, 6000), h.now);
    const probe = take(h);
    assert.equal(probe.payload.length, 756);
    ackAll(); // the probe passed: keep 756 and try higher at once
    tick(h, 1);
    assert.equal(h.conn.sndMss, 878);
    assert.equal(h.conn.counters.pmtuProbes, 2);
    h.conn.write(bytes(3000, 9000), h.now);
    // This size is lost (the path carries 800): the timeout brings back 756.
    h.outbox.length = 0;
    const rtx = nextSent(h);
    assert.equal(h.conn.sndMss, 756);
    assert.equal(rtx.payload.length, 756);
    assert.equal(h.conn.counters.pmtuProbeFailures, 1);
  });

  it('mtuProbing: false keeps the MSS whatever times out', () => {
    const h = fellBack({ mtuProbing: false });
    for (let i = 0; i < 3; i++) assert.equal(nextSent(h).payload.length, MSS);
    assert.equal(h.conn.counters.pmtuBlackHoles, 0);
  });

  it('short segments timing out are not a black hole', () => {
    const h = established({ rtt: 100 });
    h.conn.write(bytes(100), h.now);
    take(h);
    for (let i = 0; i < 5; i++) assert.equal(nextSent(h).payload.length, 100);
    assert.equal(h.conn.sndMss, MSS);
    assert.equal(h.conn.counters.pmtuBlackHoles, 0);
  });
});
