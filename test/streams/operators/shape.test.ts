import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { shape } from '../../../streams/operators/shape.js';

const newScheduler = (): TestScheduler => new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
const bytes = (n: number): Uint8Array => new Uint8Array(n);

describe('operators/shape', () => {
  it('lets a burst through at once, then holds the rest to the rate (marbles)', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      // 1000 bytes/s, a 200-byte bucket: 2 items of 100 pass at once, then one every 100 ms.
      const values = { a: bytes(100), b: bytes(100), c: bytes(100), d: bytes(100) };
      const source = cold('(abcd|)', values);
      expectObservable(source.pipe(shape({ bytesPerSecond: 1000, burstBytes: 200 }))).toBe('(ab) 96ms c 99ms (d|)', values);
    });
  });

  it('keeps order and drops at the tail when the queue is full, handing drops to onDrop', () => {
    const dropped: Uint8Array[] = [];
    newScheduler().run(({ cold, expectObservable }) => {
      const values = { a: bytes(100), b: bytes(100), c: bytes(100), d: bytes(100) };
      const source = cold('(abcd|)', values);
      const shaped = source.pipe(shape({ bytesPerSecond: 1000, burstBytes: 100, queueBytes: 200, onDrop: (x) => dropped.push(x) }));
      expectObservable(shaped).toBe('a 99ms b 99ms (c|)', values);
    });
    assert.equal(dropped.length, 1, 'd did not fit behind b and c');
  });

  it('passes an item larger than the bucket when the bucket is full (no deadlock)', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const values = { a: bytes(500), b: bytes(100) };
      expectObservable(cold('(ab|)', values).pipe(shape({ bytesPerSecond: 1000, burstBytes: 100 }))).toBe('a 499ms (b|)', values); // the 500-byte item left the bucket 400 in debt
    });
  });

  it('passes errors on at once', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const values = { a: bytes(100), b: bytes(100) };
      expectObservable(cold('(ab#)', values).pipe(shape({ bytesPerSecond: 1000, burstBytes: 100 }))).toBe('(a#)', values);
    });
  });

  it('names every bad option at once', () => {
    assert.throws(() => shape({ bytesPerSecond: 0, burstBytes: -1, queueBytes: 0 }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_INVALID_ARG_VALUE');
      for (const field of ['bytesPerSecond', 'burstBytes', 'queueBytes']) assert.match(err.message, new RegExp(field));
      return true;
    });
  });
});
