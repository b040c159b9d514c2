import assert from 'node:assert/strict';
import { createRandom } from '../../src/random.js';
import { ReceiveBuffer } from '../../src/tcp/receive-buffer.js';
import { SackReporter } from '../../src/tcp/sack-blocks.js';
import { seqDiff } from '../../src/tcp/seq.js';
import { timestampOffset } from '../../src/tcp/timestamps.js';
import type { TcpRepr } from '../../src/wire/tcp.js';
import {
  ACK, bytes, Harness, type HarnessOptions, LOCAL_ISS, MSS, REMOTE_ISS, recvNothing, send, SEND, SYN, take,
} from './harness.js';

const R = REMOTE_ISS + 1;
const L = LOCAL_ISS + 1;
const OFF = timestampOffset(LOCAL_ISS);

/** Active open where both sides sent SACK-permitted (and timestamps when `withTs`). */
function sackEstablished(withTs = false, options: HarnessOptions = {}): Harness {
  const h = new Harness({ ...options, config: { sack: true, timestamps: withTs, receiveBufferSize: 64_000, ...options.config } });
  h.conn.connect(h.now);
  const syn = take(h);
  assert.equal(syn.sackPermitted, true, 'SACK-permitted in our SYN');
  send(h, {
    ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: L, mss: MSS, sackPermitted: true,
    ...(withTs ? { timestamp: { tsVal: 1, tsEcr: OFF } } : {}),
  });
  take(h);
  assert.equal(h.conn.sackNegotiated, true);
  h.events.length = 0;
  return h;
}

/** The peer sends `len` bytes at stream offset `at`; returns the ACK the core sent at once. */
function data(h: Harness, at: number, len: number, ts?: number): TcpRepr {
  send(h, { ...SEND, seq: R + at, payload: bytes(len, at), ...(ts !== undefined ? { timestamp: { tsVal: ts, tsEcr: OFF } } : {}) });
  return take(h);
}

/** Blocks as stream offsets (relative to R), for readable assertions. */
function blocks(seg: TcpRepr): Array<[number, number]> | undefined {
  return seg.sackBlocks?.map(([l, r]) => [l - R, r - R]);
}

describe('tcp/connection: SACK receiver (RFC 2018, RFC 2883)', () => {
  describe('negotiation', () => {
    it('a SYN-ACK without SACK-permitted leaves SACK off: no blocks for out-of-order data', () => {
      const h = new Harness({ config: { sack: true } });
      h.conn.connect(h.now);
      take(h);
      send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: L, mss: MSS });
      take(h);
      assert.equal(h.conn.sackNegotiated, false);
      assert.equal(data(h, 1000, 100).sackBlocks, undefined);
    });

    it('sack: false sends no SACK-permitted in the SYN', () => {
      const h = new Harness({ config: { sack: false } });
      h.conn.connect(h.now);
      assert.equal(take(h).sackPermitted, undefined);
    });

    for (const [config, peer, expected] of [[true, true, true], [true, false, false], [false, true, false]] as const) {
      it(`passive open: config ${config}, peer offers ${peer} -> SACK-permitted in SYN-ACK ${expected}`, () => {
        const h = new Harness({ config: { sack: config } });
        h.conn.listen();
        send(h, { ...SEND, flags: SYN, seq: REMOTE_ISS, ack: 0, mss: MSS, ...(peer ? { sackPermitted: true } : {}) });
        assert.equal(take(h).sackPermitted === true, expected);
        send(h, { ...SEND });
        assert.equal(h.conn.sackNegotiated, expected);
      });
    }
  });

  describe('SACK blocks', () => {
    it('no blocks while nothing is held out of order', () => {
      const h = sackEstablished();
      send(h, { ...SEND, payload: bytes(MSS) });
      send(h, { ...SEND, seq: R + MSS, payload: bytes(MSS, MSS) });
      const ack = take(h);
      assert.equal(ack.ack, R + 2 * MSS);
      assert.equal(ack.sackBlocks, undefined);
      assert.equal(h.conn.counters.sackAcksSent, 0);
    });

    it('the block of the most recent segment first, then the others by recency; runs merge as gaps fill', () => {
      const h = sackEstablished();
      assert.deepEqual(blocks(data(h, 1000, 1000)), [[1000, 2000]]);
      assert.deepEqual(blocks(data(h, 3000, 500)), [[3000, 3500], [1000, 2000]]);
      assert.deepEqual(blocks(data(h, 5000, 100)), [[5000, 5100], [3000, 3500], [1000, 2000]]);
      // An older run is touched again: it moves to the front.
      assert.deepEqual(blocks(data(h, 2000, 200)), [[1000, 2200], [5000, 5100], [3000, 3500]]);
      // The gap between two runs fills: one block for both.
      assert.deepEqual(blocks(data(h, 2200, 800)), [[1000, 3500], [5000, 5100]]);
      // The first hole fills: RCV.NXT jumps, the run below it is no longer reported.
      const ack = data(h, 0, 1000);
      assert.equal(ack.ack, R + 3500);
      assert.deepEqual(blocks(ack), [[5000, 5100]]);
      const last = data(h, 3500, 1500);
      assert.equal(last.ack, R + 5100);
      assert.equal(last.sackBlocks, undefined, 'nothing held any more');
      assert.equal(h.conn.counters.sackAcksSent, 6);
    });

    it('at most 4 blocks without timestamps, 3 beside the timestamps option: the most recent', () => {
      const plain = sackEstablished(false);
      for (let i = 1; i <= 5; i++) data(plain, i * 1000, 100);
      assert.deepEqual(blocks(data(plain, 6000, 100)), [[6000, 6100], [5000, 5100], [4000, 4100], [3000, 3100]]);

      const withTs = sackEstablished(true);
      for (let i = 1; i <= 5; i++) data(withTs, i * 1000, 100, 2);
      const ack = data(withTs, 6000, 100, 2);
      assert.ok(ack.timestamp !== undefined);
      assert.deepEqual(blocks(ack), [[6000, 6100], [5000, 5100], [4000, 4100]]);
    });

    it('blocks ride on data segments too (every ACK carries them)', () => {
      const h = sackEstablished(false, { config: { noDelay: true } });
      data(h, 1000, 100);
      h.conn.write(bytes(10), h.now);
      const seg = take(h);
      assert.equal(seg.payload.length, 10);
      assert.deepEqual(blocks(seg), [[1000, 1100]]);
      // A full-sized segment has no room for the option (the MSS counts options too).
      h.conn.write(bytes(MSS), h.now);
      const full = take(h);
      assert.equal(full.payload.length, MSS);
      assert.equal(full.sackBlocks, undefined);
    });
  });

  describe('D-SACK (RFC 2883)', () => {
    it('a segment entirely below RCV.NXT: a D-SACK block for it, reported once', () => {
      const h = sackEstablished(false, { config: { delayedAckTimeout: 0 } });
      send(h, { ...SEND, payload: bytes(1000) });
      take(h);
      const ack = data(h, 0, 500);
      assert.equal(ack.ack, R + 1000);
      assert.deepEqual(blocks(ack), [[0, 500]]);
      assert.equal(h.conn.counters.dsacksSent, 1);
      // The next ACK has no D-SACK any more.
      assert.deepEqual(blocks(data(h, 2000, 100)), [[2000, 2100]]);
      recvNothing(h);
    });

    it('a segment partly below RCV.NXT: the duplicate part is reported', () => {
      const h = sackEstablished(false, { config: { delayedAckTimeout: 0 } });
      send(h, { ...SEND, payload: bytes(1000) });
      take(h);
      const ack = data(h, 600, 800);
      assert.equal(ack.ack, R + 1400);
      assert.deepEqual(blocks(ack), [[600, 1000]]);
    });

    it('a duplicate of held out-of-order data: D-SACK first, then the run holding it (RFC 2883 4)', () => {
      const h = sackEstablished();
      data(h, 3000, 500);
      data(h, 1000, 1000);
      const ack = data(h, 3200, 100);
      assert.deepEqual(blocks(ack), [[3200, 3300], [3000, 3500], [1000, 2000]]);
      assert.equal(h.conn.counters.dsacksSent, 1);
    });
  });

  describe('ReceiveBuffer out-of-order runs', () => {
    it('adjacent pieces form one run; positions outside runs have none', () => {
      const b = new ReceiveBuffer(10_000, 16);
      b.insertOutOfOrder(100, bytes(50));
      b.insertOutOfOrder(150, bytes(50));
      b.insertOutOfOrder(300, bytes(10));
      const run = { start: 0, end: 0 };
      assert.equal(b.outOfOrderRunAt(160, run), true);
      assert.deepEqual(run, { start: 100, end: 200 });
      assert.equal(b.outOfOrderRunAt(200, run), false);
      assert.equal(b.outOfOrderRunAt(99, run), false);
      assert.equal(b.holdsOutOfOrder(120, 80), true);
      assert.equal(b.holdsOutOfOrder(120, 81), false);
      assert.equal(b.holdsOutOfOrder(300, 10), true);
    });
  });
});

describe('SackReporter against a model (random arrivals)', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`seed ${seed}: blocks are held runs, disjoint, the latest arrival's first, at most max`, () => {
      const rng = createRandom(seed);
      const rcvNxt0 = 0xffff_f000; // across the wrap
      const buf = new ReceiveBuffer(1 << 20, 64);
      const reporter = new SackReporter();
      const held = new Uint8Array(20_000); // the model: which stream bytes are held out of order
      for (let step = 0; step < 300; step++) {
        const offset = 1 + rng.below(19_000);
        const len = 1 + rng.below(800);
        const end = Math.min(offset + len, held.length);
        if (!buf.insertOutOfOrder(offset, bytes(end - offset))) continue;
        held.fill(1, offset, end);
        const seq = (rcvNxt0 + offset) >>> 0;
        reporter.onOutOfOrder(seq, rcvNxt0, buf);
        const max = 1 + rng.below(4);
        const blocks = reporter.take(rcvNxt0, buf, max) ?? [];
        assert.ok(blocks.length >= 1 && blocks.length <= max);
        const runs = blocks.map(([l, r]) => [seqDiff(l, rcvNxt0), seqDiff(r, rcvNxt0)]);
        assert.ok(runs[0][0] <= offset && offset < runs[0][1], 'the first block holds the latest arrival');
        for (const [a, b] of runs) {
          assert.ok(a < b);
          for (let i = a; i < b; i++) assert.equal(held[i], 1, `byte ${i} reported but not held`);
          assert.ok(a === 0 || held[a - 1] === 0, 'a block starts where its run starts');
          assert.ok(held[b] === 0, 'a block ends where its run ends');
        }
        for (let i = 0; i < runs.length; i++) {
          for (let k = i + 1; k < runs.length; k++) assert.ok(runs[i][1] <= runs[k][0] || runs[k][1] <= runs[i][0], 'disjoint');
        }
      }
    });
  }
});
