import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DatagramQueue } from '../../../streams/stack/udp-receive-queue.js';

const d = (n: number, tag = 0) => ({ payload: new Uint8Array(n), tag });

describe('streams/stack/udp-receive-queue', () => {
  it('is FIFO and bounded by count', () => {
    const q = new DatagramQueue<ReturnType<typeof d>>(2, 1000);
    assert.equal(q.push(d(1, 1)), true);
    assert.equal(q.push(d(1, 2)), true);
    assert.equal(q.push(d(1, 3)), false);
    assert.equal(q.length, 2);
    assert.equal(q.shift()?.tag, 1);
    assert.equal(q.push(d(1, 4)), true);
    assert.deepEqual([q.shift()?.tag, q.shift()?.tag, q.shift()], [2, 4, undefined]);
    assert.equal(q.bytes, 0);
  });

  it('checks the byte limit before adding (one oversized datagram fits an empty queue)', () => {
    const q = new DatagramQueue<ReturnType<typeof d>>(10, 100);
    assert.equal(q.push(d(500)), true);
    assert.equal(q.push(d(1)), false);
    assert.equal(q.bytes, 500);
    q.shift();
    assert.equal(q.push(d(60)), true);
    assert.equal(q.push(d(60)), true);
    assert.equal(q.push(d(1)), false);
    assert.equal(q.bytes, 120);
  });

  it('a zero limit holds nothing', () => {
    assert.equal(new DatagramQueue(0, 1000).push(d(1)), false);
    assert.equal(new DatagramQueue(10, 0).push(d(1)), false);
  });

  it('behaves like a bounded array model under any sequence of push/shift', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.nat(300), fc.constant(-1)), { maxLength: 3000 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 2000 }), (ops, maxCount, maxBytes) => {
        const q = new DatagramQueue<ReturnType<typeof d>>(maxCount, maxBytes);
        const model: number[] = [];
        const sizes = new Map<number, number>();
        let tag = 0;
        for (const op of ops) {
          if (op < 0) {
            const expected = model.shift();
            assert.equal(q.shift()?.tag, expected);
          } else {
            const bytes = model.reduce((s, t) => s + sizes.get(t)!, 0);
            const fits = model.length < maxCount && bytes < maxBytes;
            const t = tag++;
            sizes.set(t, op);
            assert.equal(q.push(d(op, t)), fits);
            if (fits) model.push(t);
          }
          assert.equal(q.length, model.length);
          assert.equal(q.bytes, model.reduce((s, t) => s + sizes.get(t)!, 0));
        }
      }),
      { numRuns: 50 },
    );
  });
});
