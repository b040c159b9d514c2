/**
 * Hostile input: random segments (fields drawn near the interesting edges of the windows),
 * interleaved with timers and user calls, must never make the core throw or break its
 * invariants. A failing seed replays exactly.
 */

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createRandom } from '../../src/random.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { seqAdd, seqGeq, seqLeq } from '../../src/tcp/seq.js';
import { TcpStates } from '../../src/tcp/state.js';
import { emitTcp, parseTcp, TcpFlags, type TcpRepr } from '../../src/wire/tcp.js';
import { describe as describeSegment } from './harness.js';
import { bytes, established, Harness, LOCAL_ADDR, LOCAL_PORT, RCV_BUF, REMOTE_ADDR, REMOTE_PORT, SEND, synReceived, synSent, type HarnessOptions } from './harness.js';

const STATES = new Set<string>(Object.values(TcpStates));
const { SYN, FIN, RST, ACK } = TcpFlags;

/** The core's sequence variables before a step, to judge what it emitted during the step. */
interface Before {
  readonly rcvNxt: number | undefined; // undefined until a SYN has been received
  readonly sndUna: number;
}

/**
 * Every segment the core emits must be one a correct TCP may send: right ports and flags, data
 * within what was sent and no more than an MSS, ACK of nothing not received, a sane window, and
 * bytes that survive emission and parsing (lengths, options and checksum).
 */
function checkEmitted(h: Harness, seg: TcpRepr, before: Before): void {
  const what = describeSegment(seg);
  assert.equal(seg.srcPort, LOCAL_PORT, what);
  assert.equal(seg.dstPort, REMOTE_PORT, what);
  assert.equal(seg.flags & ~0xff, 0, `${what}: flags fit in a byte`);
  const syn = (seg.flags & SYN) !== 0;
  const fin = (seg.flags & FIN) !== 0;
  assert.ok(!(syn && fin) && !((syn || fin) && (seg.flags & RST) !== 0), `${what}: no SYN+FIN, no SYN/FIN with RST`);
  if ((seg.flags & RST) !== 0) {
    assert.equal(seg.payload.length, 0, `${what}: a RST carries no data`);
  } else {
    const c = h.conn;
    assert.ok(seg.payload.length <= c.config.mss, `${what}: at most one MSS`);
    if (syn) assert.equal(seg.payload.length, 0, `${what}: no data on a SYN`);
    assert.ok(seg.window >= 0 && seg.window <= Math.min(65535, RCV_BUF), `${what}: window within the receive buffer`);
    const end = seqAdd(seg.seq, seg.payload.length + (syn ? 1 : 0) + (fin ? 1 : 0));
    // From SND.UNA - 1 (a keep-alive) up to what has been sent (SND.MAX after the step).
    assert.ok(seqGeq(seg.seq, seqAdd(before.sndUna, -1)), `${what}: seq below SND.UNA ${before.sndUna}`);
    assert.ok(seqLeq(end, c.sndMax), `${what}: beyond SND.MAX ${c.sndMax}`);
    if ((seg.flags & ACK) !== 0) {
      if (before.rcvNxt !== undefined) assert.ok(seqGeq(seg.ack, before.rcvNxt), `${what}: acknowledges less than RCV.NXT ${before.rcvNxt} was`);
      assert.ok(seqLeq(seg.ack, c.rcvNxt), `${what}: acknowledges beyond RCV.NXT ${c.rcvNxt}`);
    } else {
      assert.ok(syn && seg.ack === 0, `${what}: only the first SYN goes without ACK`);
    }
  }
  const pb = PacketBuffer.withPayload(seg.payload);
  emitTcp(seg, pb, LOCAL_ADDR, REMOTE_ADDR);
  const back = parseTcp(pb.bytes(), LOCAL_ADDR, REMOTE_ADDR);
  assert.ok(back.ok, `${what}: emitted bytes do not parse`);
  assert.deepEqual(
    [back.value.seq, back.value.ack, back.value.flags, back.value.window, back.value.payload.length],
    [seg.seq, seg.ack, seg.flags, seg.window, seg.payload.length],
    `${what}: changed by emission`,
  );
}

function fuzz(seed: number, start: (o?: HarnessOptions) => Harness, steps: number): number {
  const rng = createRandom(seed);
  const h = start({ config: { maxOutOfOrderSegments: 16 } });
  let tracking = false; // the invariants start once RCV.NXT exists (after a SYN arrived)
  let lastRcvNxt = 0;
  let lastSndUna = 0;
  const near = (base: number, spread: number): number => seqAdd(base, rng.below(2 * spread + 1) - spread);
  let emitted = 0;
  for (let i = 0; i < steps; i++) {
    const hasRcvNxt = h.conn.state !== 'CLOSED' && h.conn.state !== 'LISTEN' && h.conn.state !== 'SYN-SENT';
    const before: Before = { rcvNxt: hasRcvNxt ? h.conn.rcvNxt : undefined, sndUna: h.conn.sndUna };
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
    for (const seg of h.outbox) checkEmitted(h, seg, before);
    emitted += h.outbox.length;
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
      break;
    }
  }
  return emitted;
}

describe('tcp/connection: random hostile segments never break it', function () {
  this.timeout(60_000);

  // Each property also counts what the core emitted, so the emitted-segment checks cannot pass
  // by never seeing a segment.
  it('established connections (property over seeds)', () => {
    let emitted = 0;
    fc.assert(fc.property(fc.nat(), (seed) => void (emitted += fuzz(seed, established, 400))), { numRuns: 150 });
    assert.ok(emitted > 1000, `${emitted} segments checked`);
  });

  it('half-open connections, both sides (property over seeds)', () => {
    let emitted = 0;
    fc.assert(fc.property(fc.nat(), (seed) => void (emitted += fuzz(seed, synSent, 200))), { numRuns: 100 });
    fc.assert(fc.property(fc.nat(), (seed) => void (emitted += fuzz(seed, synReceived, 200))), { numRuns: 100 });
    assert.ok(emitted > 500, `${emitted} segments checked`);
  });
});
