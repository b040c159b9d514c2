/**
 * Hostile input: random segments (fields drawn near the interesting edges of the windows),
 * interleaved with timers and user calls, must never make the core throw or break its
 * invariants. A failing seed replays exactly.
 */

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createRandom } from '../../src/random.js';
import { seqAdd, seqGeq } from '../../src/tcp/seq.js';
import { TcpStates } from '../../src/tcp/state.js';
import type { TcpRepr } from '../../src/wire/tcp.js';
import { bytes, established, Harness, RCV_BUF, SEND, synReceived, synSent, type HarnessOptions } from './harness.js';

const STATES = new Set<string>(Object.values(TcpStates));

function fuzz(seed: number, start: (o?: HarnessOptions) => Harness, steps: number): void {
  const rng = createRandom(seed);
  const h = start({ config: { maxOutOfOrderSegments: 16 } });
  let tracking = false; // the invariants start once RCV.NXT exists (after a SYN arrived)
  let lastRcvNxt = 0;
  let lastSndUna = 0;
  const near = (base: number, spread: number): number => seqAdd(base, rng.below(2 * spread + 1) - spread);
  for (let i = 0; i < steps; i++) {
    const r = rng.next();
    if (r < 0.75) {
      const seg: TcpRepr = {
        ...SEND,
        seq: rng.next() < 0.1 ? rng.uint32() : near(h.conn.rcvNxt, RCV_BUF + 2000),
        ack: rng.next() < 0.1 ? rng.uint32() : near(h.conn.sndUna, 4000),
        flags: rng.next() < 0.7 ? 0x10 | (rng.below(4) === 0 ? 0x08 : 0) | (rng.below(20) === 0 ? 0x01 : 0) : rng.below(256),
        window: rng.next() < 0.1 ? 0 : rng.below(65536),
        payload: rng.next() < 0.5 ? bytes(rng.below(2500)) : new Uint8Array(0),
        ...(rng.below(10) === 0 ? { mss: rng.below(70000), windowScale: rng.below(20) } : {}),
      };
      h.conn.handleSegment(seg, h.now);
    } else if (r < 0.85) {
      h.now += rng.below(3000);
      const d = h.conn.nextDeadline();
      if (d !== undefined) {
        assert.ok(Number.isFinite(d), 'deadlines are finite numbers');
        if (d <= h.now) h.conn.handleTimer(h.now);
      }
    } else if (r < 0.93) {
      h.conn.read(rng.below(5000) + 1);
    } else if (r < 0.99) {
      if (h.conn.writableLength > 0) h.conn.write(bytes(rng.below(4000)), h.now);
    } else {
      h.conn.shutdown(h.now);
    }
    h.outbox.length = 0;
    assert.ok(STATES.has(h.conn.state));
    if (h.conn.state !== 'CLOSED' && h.conn.state !== 'LISTEN' && h.conn.state !== 'SYN-SENT') {
      if (tracking) {
        assert.ok(seqGeq(h.conn.rcvNxt, lastRcvNxt), 'RCV.NXT never goes back');
        assert.ok(seqGeq(h.conn.sndUna, lastSndUna), 'SND.UNA never goes back');
      }
      tracking = true;
      lastRcvNxt = h.conn.rcvNxt;
      lastSndUna = h.conn.sndUna;
    }
    assert.ok(h.conn.readableLength <= RCV_BUF + 65535, 'receive memory stays bounded');
    assert.ok(h.conn.bufferedLength <= h.conn.config.sendBufferSize);
    if (h.conn.state === 'CLOSED') {
      assert.equal(h.conn.nextDeadline(), undefined, 'no timer once closed');
      return;
    }
  }
}

describe('tcp/connection: random hostile segments never break it', function () {
  this.timeout(60_000);

  it('established connections (property over seeds)', () => {
    fc.assert(fc.property(fc.nat(), seed => fuzz(seed, established, 400)), { numRuns: 150 });
  });

  it('half-open connections, both sides (property over seeds)', () => {
    fc.assert(fc.property(fc.nat(), seed => fuzz(seed, synSent, 200)), { numRuns: 100 });
    fc.assert(fc.property(fc.nat(), seed => fuzz(seed, synReceived, 200)), { numRuns: 100 });
  });
});
