import assert from 'node:assert/strict';
import { from, lastValueFrom, toArray, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { NetstackError } from '../../../src/errors.js';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { impair, impairLink, type ImpairOptions } from '../../../streams/operators/impair.js';

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}

/** Passes `count` numbered items through impair synchronously (no delay) and returns the output. */
function passThrough(count: number, options: ImpairOptions): number[] {
  const out: number[] = [];
  from(Array.from({ length: count }, (_, i) => i))
    .pipe(impair<number>(options))
    .subscribe((n) => out.push(n));
  return out;
}

function frame(n: number, length = 64): Uint8Array {
  const f = new Uint8Array(length);
  for (let i = 0; i < length; i++) f[i] = (n * 31 + i) & 0xff;
  return f;
}

function bitDistance(a: Uint8Array, b: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < a.length; i++) {
    let x = a[i] ^ b[i];
    while (x) {
      bits += x & 1;
      x >>>= 1;
    }
  }
  return bits;
}

describe('streams/operators/impair', () => {
  describe('in virtual time', () => {
    it('delays every frame and completes after the last delayed frame', () => {
      const ts = newScheduler();
      ts.run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('a-b-c|');
        expectObservable(source.pipe(impair({ delay: 3 }, ts))).toBe('---a-b-(c|)');
        expectSubscriptions(source.subscriptions).toBe('^----!');
      });
    });

    it('jitters within [delay, delay + jitter) without reordering, the same way for the same seed', () => {
      const runOnce = (seed: number): Array<[number, string]> => {
        const ts = newScheduler();
        const got: Array<[number, string]> = [];
        ts.run(({ cold }) => {
          const letters = 'abcdefghijklmnopqrst';
          const source = cold(letters.split('').join('-') + '|');
          source.pipe(impair({ delay: 2, jitter: 5, seed }, ts)).subscribe((v) => got.push([ts.now(), v]));
        });
        return got;
      };
      const first = runOnce(11);
      assert.equal(first.length, 20);
      first.forEach(([t, v], i) => {
        assert.equal(v, 'abcdefghijklmnopqrst'[i], 'order kept');
        if (i > 0) assert.ok(t >= first[i - 1][0], 'never before the frame in front');
        const sent = i * 2;
        assert.ok(t >= sent + 2, `frame ${v} at ${t} is delayed at least 2`);
        // Below delay + jitter, unless held behind the frame in front (the FIFO clamp).
        assert.ok(t < sent + 7 || (i > 0 && t === first[i - 1][0]), `frame ${v} at ${t} is late by less than 7`);
      });
      assert.ok(first.some(([t], i) => t - i * 2 > 2), 'jitter added something');
      assert.deepEqual(runOnce(11), first, 'same seed, same schedule');
      assert.notDeepEqual(runOnce(12), first, 'another seed, another schedule');
    });

    it('reorder holds a frame back until the next one has passed', () => {
      const ts = newScheduler();
      ts.run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('a---b---c---d---|');
        expectObservable(source.pipe(impair({ reorder: 1 }, ts))).toBe('----(ba)----(dc)|');
        expectSubscriptions(source.subscriptions).toBe('^---------------!');
      });
    });

    it('reorder releases a held frame after reorderTimeout when nothing overtakes it', () => {
      const ts = newScheduler();
      ts.run(({ cold, expectObservable }) => {
        const source = cold('a 20ms |');
        expectObservable(source.pipe(impair({ reorder: 1, reorderTimeout: 5 }, ts))).toBe('5ms a 15ms |');
      });
    });

    it('reorder releases a held frame before completing', () => {
      const ts = newScheduler();
      ts.run(({ cold, expectObservable }) => {
        expectObservable(cold('a|').pipe(impair({ reorder: 1 }, ts))).toBe('-(a|)');
      });
    });

    it('reorder and delay combine: the overtaking frame is delayed first', () => {
      const ts = newScheduler();
      ts.run(({ cold, expectObservable }) => {
        expectObservable(cold('a-b|').pipe(impair({ reorder: 1, delay: 4 }, ts))).toBe('------(ba|)');
      });
    });

    it('forwards an error at once, dropping frames still delayed', () => {
      const ts = newScheduler();
      const failure = new Error('link down');
      ts.run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('a-#', undefined, failure);
        expectObservable(source.pipe(impair({ delay: 5 }, ts))).toBe('--#', undefined, failure);
        expectSubscriptions(source.subscriptions).toBe('^-!');
      });
    });

    it('unsubscribing cancels the delay and reorder timers', () => {
      const ts = newScheduler();
      const timers: Subscription[] = [];
      const spy: SchedulerLike = {
        now: () => ts.now(),
        schedule<S>(work: (this: SchedulerAction<S>, state?: S) => void, delay?: number, state?: S): Subscription {
          const s = ts.schedule(work, delay, state);
          timers.push(s);
          return s;
        },
      };
      let allClosed = false;
      ts.run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('a-b-c|');
        expectObservable(source.pipe(impair({ delay: 10, reorder: 0.5, seed: 3 }, spy)), '^--!').toBe('');
        expectSubscriptions(source.subscriptions).toBe('^--!');
        ts.schedule(() => (allClosed = timers.length > 0 && timers.every((t) => t.closed)), 4);
      });
      assert.equal(allClosed, true);
    });
  });

  describe('loss, duplication and corruption', () => {
    it('loss is deterministic for a seed', () => {
      const a = passThrough(500, { loss: 0.3, seed: 42 });
      assert.deepEqual(passThrough(500, { loss: 0.3, seed: 42 }), a);
      assert.notDeepEqual(passThrough(500, { loss: 0.3, seed: 43 }), a);
      assert.ok(a.every((n, i) => i === 0 || n > a[i - 1]), 'survivors keep their order');
    });

    it('loss 0 keeps everything, loss 1 drops everything', () => {
      assert.equal(passThrough(1000, { loss: 0, seed: 1 }).length, 1000);
      assert.equal(passThrough(1000, { loss: 1, seed: 1 }).length, 0);
    });

    it('loses close to the configured rate over 10,000 frames, for several seeds', () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const lost = 10_000 - passThrough(10_000, { loss: 0.1, seed }).length;
        // Binomial(10000, 0.1): mean 1000, sigma 30. 5 sigma either side.
        assert.ok(lost > 850 && lost < 1150, `seed ${seed}: lost ${lost}`);
      }
    });

    it('duplicates close to the configured rate, deterministically', () => {
      const out = passThrough(10_000, { duplicate: 0.2, seed: 9 });
      const extra = out.length - 10_000;
      // Binomial(10000, 0.2): mean 2000, sigma 40.
      assert.ok(extra > 1800 && extra < 2200, `duplicated ${extra}`);
      assert.deepEqual(passThrough(10_000, { duplicate: 0.2, seed: 9 }), out);
      for (let i = 1; i < out.length; i++) assert.ok(out[i] >= out[i - 1], 'a duplicate follows its original');
    });

    it('a duplicated frame is a second copy with the same bytes', () => {
      const input = [frame(1), frame(2)];
      const out: Uint8Array[] = [];
      from(input).pipe(impair<Uint8Array>({ duplicate: 1, seed: 1 })).subscribe((f) => out.push(f));
      assert.equal(out.length, 4);
      assert.equal(out[0], input[0]);
      assert.notEqual(out[1], input[0]);
      assert.deepEqual(out[1], input[0]);
      assert.deepEqual(out[3], input[1]);
    });

    it('corrupt flips exactly one bit in a copy, never in the sender’s bytes', () => {
      const input = Array.from({ length: 200 }, (_, i) => frame(i));
      const pristine = input.map((f) => f.slice());
      const out = lastValueFrom(from(input).pipe(impair<Uint8Array>({ corrupt: 1, seed: 5 }), toArray()));
      return out.then((frames) => {
        assert.equal(frames.length, 200);
        const bitsHit = new Set<number>();
        frames.forEach((f, i) => {
          assert.notEqual(f, input[i]);
          assert.equal(bitDistance(f, input[i]), 1);
          for (let b = 0; b < f.length * 8; b++) {
            if (((f[b >>> 3] ^ input[i][b >>> 3]) >> (b & 7)) & 1) bitsHit.add(b);
          }
        });
        assert.deepEqual(input, pristine, 'upstream bytes untouched');
        assert.ok(bitsHit.size > 100, 'the flipped bit is spread over the frame');
      });
    });

    it('corrupt leaves non-byte items alone', () => {
      assert.deepEqual(passThrough(10, { corrupt: 1, seed: 1 }), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
  });

  describe('options', () => {
    it('rejects bad options with ERR_INVALID_ARG_VALUE naming every one', () => {
      const bad = { loss: 2, duplicate: -0.1, delay: -1, jitter: Infinity, seed: 1.5, los: 0.1 } as unknown as ImpairOptions;
      assert.throws(
        () => impair(bad),
        (err: unknown) => {
          assert.ok(err instanceof NetstackError);
          assert.equal(err.code, 'ERR_INVALID_ARG_VALUE');
          for (const word of ['loss', 'duplicate', 'delay', 'jitter', 'seed', '"los"']) {
            assert.ok(err.message.includes(word), `message names ${word}: ${err.message}`);
          }
          assert.ok(!err.message.includes('reorder'), 'valid (absent) options are not named');
          return true;
        },
      );
    });

    it('accepts the boundaries 0 and 1, and they mean never and always', () => {
      const input = Array.from({ length: 20 }, (_, i) => frame(i));
      const out: Uint8Array[] = [];
      from(input)
        .pipe(impair<Uint8Array>({ loss: 0, duplicate: 1, reorder: 0, corrupt: 1, delay: 0, jitter: 0, seed: 0 }))
        .subscribe((f) => out.push(f));
      // Nothing lost or reordered, every frame twice, every copy corrupted by one bit.
      assert.equal(out.length, 40);
      out.forEach((f, i) => {
        const original = input[i >> 1];
        assert.equal(f.length, original.length);
        assert.equal(bitDistance(f, original), 1, `output ${i} is frame ${i >> 1} with one bit flipped`);
      });
    });
  });

  describe('impairLink', () => {
    it('impairs only the directions given, in virtual time', () => {
      const ts = newScheduler();
      const atB: Array<[number, number]> = [];
      const atA: Array<[number, number]> = [];
      ts.run(() => {
        const [a, b] = createMemoryWire({ scheduler: ts });
        const lossyA = impairLink(a, { outbound: { loss: 1 }, inbound: { delay: 7 }, scheduler: ts });
        b.frames$.subscribe((f) => atB.push([ts.now(), f[0]]));
        lossyA.frames$.subscribe((f) => atA.push([ts.now(), f[0]]));
        ts.schedule(() => {
          lossyA.send(frame(1));
          b.send(frame(2));
        }, 3);
      });
      assert.deepEqual(atB, [], 'outbound loss 1: nothing reaches b');
      assert.deepEqual(atA, [[10, frame(2)[0]]], 'inbound delayed by 7');
    });

    it('shares one inbound impairment among subscribers and closes the wrapped link', () => {
      const ts = newScheduler();
      const first: number[] = [];
      const second: number[] = [];
      let completed = 0;
      ts.run(() => {
        const [a, b] = createMemoryWire({ scheduler: ts });
        const lossy = impairLink(a, { inbound: { loss: 0.5, seed: 77 }, scheduler: ts });
        lossy.frames$.subscribe({ next: (f) => first.push(f[0]), complete: () => completed++ });
        lossy.frames$.subscribe({ next: (f) => second.push(f[0]), complete: () => completed++ });
        ts.schedule(() => {
          for (let i = 0; i < 40; i++) b.send(frame(i));
        }, 1);
        ts.schedule(() => lossy.close(), 2);
        ts.schedule(() => b.send(frame(99)), 3);
      });
      assert.ok(first.length > 5 && first.length < 35, `some lost: ${first.length}`);
      assert.deepEqual(second, first, 'both subscribers see the same survivors');
      assert.equal(completed, 2);
    });
  });
});
