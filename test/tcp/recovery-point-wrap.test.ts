/**
 * The recovery points (RFC 6582 `recover`, RFC 6675's RecoveryPoint) are compared with SND.UNA
 * modulo 2^32. Left at the ISS on a connection that never lost anything, after 2 GiB SND.UNA
 * compared below them and no fast recovery could start: every loss waited for the RTO. Between
 * episodes they now follow SND.UNA. A core in virtual time moving 2 GiB in 16 kB segments.
 */
import assert from 'node:assert/strict';
import { ACK, Harness, LOCAL_ISS, REMOTE_ISS, SEND, SYN, send, take } from './harness.js';
import { seqAdd } from '../../src/tcp/seq.js';

const SEG = 16_000;
const WINDOW = 4 * SEG;
const CHUNK = new Uint8Array(WINDOW);

function established(peerSack: boolean): Harness {
  const h = new Harness({
    config: { mss: SEG, sack: true, lossDetection: 'dupack', sendBufferSize: 2 * WINDOW, sendBufferMax: 2 * WINDOW, rtoMin: 1000 },
  });
  h.conn.connect(h.now);
  take(h);
  h.now += 1;
  send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1, mss: SEG, window: WINDOW, ...(peerSack ? { sackPermitted: true } : {}) });
  take(h);
  assert.equal(h.state, 'ESTABLISHED');
  return h;
}

/** The peer's ACK of everything up to `ack`, window WINDOW. */
const ackOf = (ack: number, blocks?: Array<readonly [number, number]>): typeof SEND => ({ ...SEND, ack, window: WINDOW, ...(blocks !== undefined ? { sackBlocks: blocks } : {}) });

describe('tcp recovery points across 2 GiB', () => {
  for (const peerSack of [true, false]) {
    it(`a loss after 2 GiB without one starts fast recovery (${peerSack ? 'SACK' : 'NewReno'})`, function () {
      this.timeout(30_000);
      const h = established(peerSack);
      let una = LOCAL_ISS + 1;
      // 2^31 + a bit, a window (four segments) per round, each round fully acknowledged.
      for (let moved = 0; moved < 2 ** 31 + 8 * WINDOW; moved += WINDOW) {
        h.conn.write(CHUNK, h.now);
        h.outbox.length = 0;
        una = seqAdd(una, WINDOW);
        h.now += 0.01;
        send(h, ackOf(una));
      }
      assert.equal(h.conn.counters.timeouts, 0);
      // The next window: the first segment lost, the other three arrive (three duplicate ACKs).
      h.conn.write(CHUNK, h.now);
      assert.equal(h.outbox.length, 4);
      h.outbox.length = 0;
      for (let i = 1; i <= 3; i++) send(h, ackOf(una, peerSack ? [[seqAdd(una, SEG), seqAdd(una, (i + 1) * SEG)]] : undefined));
      assert.equal(h.conn.counters.fastRetransmits, 1, 'fast retransmit on the third duplicate ACK');
      const rtx = h.outbox.map((s) => s.seq);
      assert.ok(rtx.includes(una), 'the lost segment resent at once');
      assert.equal(h.conn.counters.timeouts, 0);
    });
  }
});
