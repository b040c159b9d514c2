import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReceiveBuffer } from '../../src/tcp/receive-buffer.js';

function bytes(from: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (from + i) & 0xff;
  return out;
}

function drain(rb: ReceiveBuffer, max?: number): number[] {
  const out: number[] = [];
  for (let c = rb.read(max); c !== undefined; c = rb.read(max)) out.push(...c);
  return out;
}

describe('tcp/receive-buffer', () => {
  it('keeps large in-order payloads as views of the frame (zero-copy)', () => {
    const rb = new ReceiveBuffer(64 * 1024, 8);
    const frame = new Uint8Array(1514);
    const payload = frame.subarray(54, 54 + 1460);
    payload.fill(7);
    assert.equal(rb.append(payload), 1460);
    const got = rb.read();
    assert.equal(got, payload, 'the very same view comes back');
  });

  it('copies small payloads and coalesces them', () => {
    const rb = new ReceiveBuffer(64 * 1024, 8);
    const a = bytes(0, 10);
    rb.append(a);
    rb.append(bytes(10, 10));
    a.fill(0xee); // the frame may not be kept for small payloads: mutation must not show
    const got = rb.read();
    assert.ok(got !== undefined);
    assert.deepEqual([...got], [...bytes(0, 20)], 'both small payloads in one chunk');
    assert.equal(rb.read(), undefined);
  });

  it('lets go of its small-payload block once drained', () => {
    const rb = new ReceiveBuffer(64 * 1024, 8);
    rb.append(bytes(0, 10));
    assert.ok(rb.holdsTailBlock);
    const first = rb.read() as Uint8Array;
    assert.ok(!rb.holdsTailBlock);
    rb.append(bytes(10, 10));
    assert.deepEqual([...first], [...bytes(0, 10)], 'what the reader took stays intact');
    assert.deepEqual([...(rb.read() as Uint8Array)], [...bytes(10, 10)]);
  });

  it('lend: a small payload into an empty buffer is read as its own view; unread at settle it is copied', () => {
    const rb = new ReceiveBuffer(64 * 1024, 8);
    const a = bytes(0, 1);
    rb.append(a, true);
    assert.equal(rb.read(), a, 'the very view, no copy');
    rb.settle();
    // Not read before settle: copied, the frame may be let go (mutations do not show).
    const b = bytes(1, 5);
    rb.append(b, true);
    const c = bytes(6, 3);
    rb.append(c, true); // not empty any more: copied as before
    rb.settle();
    b.fill(0xee);
    c.fill(0xee);
    assert.deepEqual(drain(rb), [...bytes(1, 8)]);
    // Partly read before settle: the rest is copied.
    const d = bytes(9, 4);
    rb.append(d, true);
    assert.deepEqual([...(rb.read(1) as Uint8Array)], [...bytes(9, 1)]);
    rb.settle();
    d.fill(0xee);
    rb.append(bytes(13, 2), true);
    assert.deepEqual(drain(rb), [...bytes(10, 5)]);
    // Without lend, copied at once (as the test above).
    const e = bytes(15, 2);
    rb.append(e);
    assert.notEqual(rb.read(), e);
  });

  it('lend keeps the byte stream exact under random appends, reads and settles (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'r', 's'), fc.integer({ min: 1, max: 700 }), fc.boolean()), { maxLength: 60 }),
        (ops) => {
          const rb = new ReceiveBuffer(1 << 20, 8);
          let written = 0;
          const got: number[] = [];
          const lentFrames: Uint8Array[] = [];
          for (const [op, n, lend] of ops) {
            if (op === 'a') {
              const data = bytes(written, n);
              rb.append(data, lend);
              if (n < 512) lentFrames.push(data);
              written += n;
            } else if (op === 'r') {
              const chunk = rb.read(n);
              if (chunk !== undefined) got.push(...chunk);
            } else {
              rb.settle();
              // Small frames may be reused once settled: what is still held must not show it.
              for (const f of lentFrames) f.fill(0xee);
              lentFrames.length = 0;
            }
          }
          rb.settle();
          for (const f of lentFrames) f.fill(0xee);
          got.push(...drain(rb));
          assert.deepEqual(got, [...bytes(0, written)]);
        },
      ),
    );
  });

  it('reads at most max bytes and keeps the rest', () => {
    const rb = new ReceiveBuffer(64 * 1024, 8);
    rb.append(bytes(0, 1000));
    assert.deepEqual([...(rb.read(300) as Uint8Array)], [...bytes(0, 300)]);
    assert.equal(rb.readable, 700);
    assert.equal(rb.free, 64 * 1024 - 700);
    assert.deepEqual(drain(rb), [...bytes(300, 700)]);
  });

  it('reassembles out-of-order pieces when the gap fills', () => {
    const rb = new ReceiveBuffer(64 * 1024, 8);
    assert.ok(rb.insertOutOfOrder(1000, bytes(1000, 1000)));
    assert.ok(rb.insertOutOfOrder(3000, bytes(3000, 600)));
    assert.equal(rb.outOfOrderCount, 2);
    assert.equal(rb.outOfOrderBytes, 1600);
    assert.equal(rb.readable, 0);
    assert.equal(rb.append(bytes(0, 1000)), 2000, 'the first gap filled: in-order end moves past the held piece');
    assert.equal(rb.outOfOrderCount, 1);
    assert.equal(rb.append(bytes(2000, 1000)), 1600);
    assert.equal(rb.outOfOrderCount, 0);
    assert.deepEqual(drain(rb), [...bytes(0, 3600)]);
  });

  it('stores only the new parts of overlapping out-of-order data', () => {
    const rb = new ReceiveBuffer(64 * 1024, 8);
    rb.insertOutOfOrder(100, bytes(100, 50)); // [100,150)
    rb.insertOutOfOrder(200, bytes(200, 50)); // [200,250)
    rb.insertOutOfOrder(120, bytes(120, 200)); // [120,320) adds [150,200) and [250,320)
    assert.equal(rb.outOfOrderCount, 4);
    assert.equal(rb.outOfOrderBytes, 220);
    rb.insertOutOfOrder(130, bytes(130, 10)); // fully duplicate
    assert.equal(rb.outOfOrderCount, 4);
    rb.append(bytes(0, 110)); // overlaps the first piece by 10
    assert.deepEqual(drain(rb), [...bytes(0, 320)]);
  });

  it('refuses out-of-order data beyond the piece limit', () => {
    const rb = new ReceiveBuffer(64 * 1024, 2);
    assert.ok(rb.insertOutOfOrder(10, bytes(10, 1)));
    assert.ok(rb.insertOutOfOrder(20, bytes(20, 1)));
    assert.equal(rb.insertOutOfOrder(30, bytes(30, 1)), false);
    assert.equal(rb.outOfOrderCount, 2);
  });

  it('delivers the exact stream whatever the arrival order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.integer({ min: 1, max: 2000 }),
        (sizes, shuffle, readMax) => {
          const total = sizes.reduce((a, b) => a + b, 0);
          const segs: { start: number; len: number }[] = [];
          let pos = 0;
          for (const s of sizes) {
            segs.push({ start: pos, len: s });
            pos += s;
          }
          // Arrival order: a shuffled copy plus some duplicates.
          const order = segs.slice();
          for (let i = 0; i < shuffle.length; i++) {
            const j = shuffle[i] % order.length;
            if (i % 3 === 0) order.push(order[j]);
            else [order[i % order.length], order[j]] = [order[j], order[i % order.length]];
          }
          const rb = new ReceiveBuffer(1 << 20, 1000);
          let end = 0;
          const out: number[] = [];
          for (const s of order) {
            const data = bytes(s.start, s.len);
            if (s.start + s.len <= end) continue; // old duplicate: the core trims these
            if (s.start <= end) end += rb.append(data.subarray(end - s.start));
            else assert.ok(rb.insertOutOfOrder(s.start - end, data));
            out.push(...drain(rb, readMax));
          }
          // Everything arrives eventually (every segment at least once).
          assert.equal(end, total);
          assert.deepEqual(out, [...bytes(0, total)]);
          assert.equal(rb.outOfOrderCount, 0);
        },
      ),
    );
  });
});
