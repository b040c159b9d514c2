/**
 * Slow start against a peer that ACKs each of our large (TSO) segments once, as Linux does
 * behind a TAP device (the kernel receives the whole burst as one segment): a reply written
 * after an idle restart, or the first one of a connection, starts from the initial window, and
 * how many round trips it takes depends on what one ACK may add to cwnd. RFC 3465's L of 2
 * segments made that 2 segments per round trip (a 256 KiB reply in 10 round trips, Linux's
 * sender 5); counting every byte an ACK covers, as Linux does, doubles cwnd per round trip
 * again. Virtual time, the test as the peer, CUBIC (the default).
 */
import assert from 'node:assert/strict';
import { Cubic } from '../../src/tcp/congestion/cubic.js';
import { HyStartPlusPlus } from '../../src/tcp/congestion/hystart.js';
import { ACK, SEND, SYN, bytes, recvNothing, send, synSent, take, tick, LOCAL_ISS, MSS, REMOTE_ISS, type Harness } from './harness.js';

const RTT = 1; // ms
const BUFFER = 1 << 20;

/** A connection with window scaling both ways (the peer offers 20,000 << 7) whose link segments. */
function tsoConnection(): Harness {
  const h = synSent({
    rtt: RTT,
    config: { congestionControl: 'cubic', windowScaling: true, sendBufferSize: BUFFER, sendBufferMax: BUFFER },
  });
  h.now += RTT;
  send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1, mss: MSS, windowScale: 7 });
  take(h); // our ACK of the SYN-ACK
  h.conn.gsoMaxBytes = 65_535;
  return h;
}

/**
 * Writes `n` bytes and plays the peer until all are acknowledged: per round trip, every segment
 * sent gets one ACK of its own (no delayed ACK: each covers more than one full segment).
 * Returns the number of round trips and the bytes sent in each.
 */
function reply(h: Harness, n: number, from: number): number[] {
  h.conn.write(bytes(n, from), h.now);
  const rounds: number[] = [];
  for (let acked = 0; acked < n;) {
    assert.ok(rounds.length < 100, 'no progress');
    const sent = h.outbox.splice(0);
    assert.ok(sent.length > 0, `nothing sent with ${n - acked} bytes unacknowledged`);
    rounds.push(sent.reduce((sum, seg) => sum + seg.payload.length, 0));
    h.now += RTT;
    for (const seg of sent) {
      send(h, { ...SEND, seq: REMOTE_ISS + 1, ack: seg.seq + seg.payload.length });
      acked += seg.payload.length;
    }
  }
  recvNothing(h);
  return rounds;
}

describe('tcp: slow start against a peer that ACKs each large segment once', () => {
  it('a 256,000-byte reply after an idle restart takes 5 round trips (13 with L = 2), the first a window of 10', () => {
    const h = tsoConnection();
    // A first exchange grows cwnd, then the connection idles for longer than the RTO.
    reply(h, 256_000, 0);
    tick(h, 2000);
    const rounds = reply(h, 256_000, 256_000);
    assert.equal(rounds[0], 10 * MSS, 'the restart window (RFC 5681 4.1)');
    // cwnd doubles per round trip (with L = 2: 10, 12, 14, ... segments); from the fourth on a
    // 64 KiB segment's worth is sent and the rest of the window held for its ACK (Linux's
    // tcp_tso_should_defer, tso-size.ts), the fifth carries what is left.
    assert.deepEqual(rounds.slice(0, 3).map((b) => b / MSS), [10, 20, 40]);
    assert.equal(rounds.length, 5, `rounds ${rounds.map((b) => b / MSS).join(', ')}`);
  });

  it('the first 65,536-byte reply of a connection takes 3 round trips (5 with L = 2)', () => {
    const h = tsoConnection();
    const rounds = reply(h, 65_536, 0);
    assert.deepEqual(rounds, [10 * MSS, 20 * MSS, 35_536]);
  });

  it('one ACK adds all it covers to cwnd, but never carries it past ssthresh', () => {
    const c = new Cubic(10, new HyStartPlusPlus());
    c.init(MSS, false, 0);
    // A stretch ACK of 10 segments, the whole window in flight before it.
    c.onAck(10 * MSS, 10 * MSS + 1, 10 * MSS, 10 * MSS + 1, 0);
    assert.equal(c.cwnd, 20 * MSS);
    // An ACK of 2 segments adds 2, as before.
    c.onAck(2 * MSS, 12 * MSS + 1, 20 * MSS, 30 * MSS + 1, 1);
    assert.equal(c.cwnd, 22 * MSS);
    c.ssthresh = 24 * MSS;
    c.onAck(10 * MSS, 22 * MSS + 1, 22 * MSS, 42 * MSS + 1, 2);
    assert.equal(c.cwnd, 24 * MSS, 'slow start stops at ssthresh');
  });
});
