import assert from 'node:assert/strict';
import { from, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { NetstackError } from '../../../src/errors.js';
import { createDemux } from '../../../streams/operators/demux.js';

interface Item {
  readonly k: string | undefined;
  readonly v: number;
}

const values: Record<string, Item> = {
  a: { k: 'x', v: 1 },
  b: { k: 'y', v: 2 },
  c: { k: 'z', v: 3 },
  d: { k: 'x', v: 4 },
  u: { k: undefined, v: 5 },
};
const keyOf = (item: Item): string | undefined => item.k;

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}

describe('streams/operators/demux', () => {
  it('routes each item to the endpoint of its key, the rest to unmatched$, with one source subscription', () => {
    const ts = newScheduler();
    const demux = ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('  -a-b-c-d-u-|', values);
      const demux = createDemux(source, keyOf);
      expectObservable(demux.endpoint('x')).toBe('-a-----d---|', values);
      expectObservable(demux.endpoint('y')).toBe('---b-------|', values);
      expectObservable(demux.unmatched$).toBe('  -----c---u-|', values);
      expectSubscriptions(source.subscriptions).toBe('^----------!');
      return demux;
    });
    assert.deepEqual({ ...demux.stats }, { routed: 3, unmatched: 2, dropped: 0 });
    assert.equal(demux.size, 0, 'completion released every key');
  });

  it('drops and counts unmatched items while nobody subscribes to unmatched$ (no buffering)', () => {
    const ts = newScheduler();
    ts.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('     -a-c-u-c-d-|', values);
      const demux = createDemux(source, keyOf);
      expectObservable(demux.endpoint('x')).toBe('-a-------d-|', values);
      // Subscribes after the first three unmatched items: it must not receive them late.
      expectObservable(demux.unmatched$, '------^').toBe('-------c---|', values);
      expectSubscriptions(source.subscriptions).toBe('^----------!');
      ts.schedule(() => assert.deepEqual({ ...demux.stats }, { routed: 2, unmatched: 1, dropped: 2 }), 10);
    });
  });

  it('errors a second subscriber of a claimed key with EADDRINUSE and keeps the first', () => {
    const ts = newScheduler();
    let caught: unknown;
    ts.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-d-|', values);
      const demux = createDemux(source, keyOf, { name: 'udp' });
      expectObservable(demux.endpoint('x')).toBe('-a-d-|', values);
      expectObservable(demux.endpoint('x')).toBe('#', undefined, new NetstackError('EADDRINUSE', 'udp: key x is already claimed'));
      expectSubscriptions(source.subscriptions).toBe('^----!');
      ts.schedule(() => demux.endpoint('x').subscribe({ error: (err: unknown) => (caught = err) }), 2);
    });
    assert.ok(caught instanceof NetstackError);
    assert.equal(caught.code, 'EADDRINUSE');
  });

  it('releases the key on unsubscribe, unsubscribes the source when the last subscriber leaves, and lets a later subscriber claim the key', () => {
    const ts = newScheduler();
    const seen: Array<[number, boolean, number]> = [];
    ts.run(({ hot, expectObservable, expectSubscriptions }) => {
      const all = { a: values.a, d: values.d };
      const source = hot('               -a-d-a-d-a-d-|', all);
      const demux = createDemux(source, keyOf);
      expectObservable(demux.endpoint('x'), '^-!          ').toBe('-a', all);
      expectObservable(demux.endpoint('x'), '----^---!    ').toBe('-----a-d', all);
      expectSubscriptions(source.subscriptions).toBe(['^-!', '----^---!']);
      for (const t of [1, 3, 5, 9]) ts.schedule(() => seen.push([t, demux.has('x'), demux.size]), t);
    });
    assert.deepEqual(seen, [
      [1, true, 1],
      [3, false, 0],
      [5, true, 1],
      [9, false, 0],
    ]);
  });

  it('keeps the source subscribed while any endpoint or unmatched$ subscriber remains', () => {
    const ts = newScheduler();
    ts.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-c-d-a-b-|', values);
      const demux = createDemux(source, keyOf);
      expectObservable(demux.endpoint('x'), '^--!').toBe('-a', values);
      expectObservable(demux.endpoint('y'), '^------!').toBe('---b', values);
      // Once x is released, its items are unmatched too.
      expectObservable(demux.unmatched$, '--^--------!').toBe('-----c-d-a-', values);
      expectSubscriptions(source.subscriptions).toBe('^----------!');
    });
  });

  it('forwards a source error to every endpoint and to unmatched$, releasing every key', () => {
    const ts = newScheduler();
    const failure = new Error('device gone');
    const demux = ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-#', values, failure);
      const demux = createDemux(source, keyOf);
      expectObservable(demux.endpoint('x')).toBe('-a---#', values, failure);
      expectObservable(demux.endpoint('y')).toBe('---b-#', values, failure);
      expectObservable(demux.unmatched$).toBe('-----#', values, failure);
      expectSubscriptions(source.subscriptions).toBe('^----!');
      return demux;
    });
    assert.equal(demux.has('x'), false);
    assert.equal(demux.size, 0);
  });

  it('after the source completed, a new subscriber claims the key again and resubscribes the source', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a|', values);
      const demux = createDemux(source, keyOf);
      expectObservable(demux.endpoint('x')).toBe('-a|', values);
      expectObservable(demux.endpoint('x'), '----^').toBe('-----a|', values);
      expectSubscriptions(source.subscriptions).toBe(['^-!', '----^-!']);
    });
  });

  it('ends the demux with an error when keyOf throws, and lets go of the source', () => {
    const ts = newScheduler();
    const boom = new Error('bad key');
    ts.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-d-|', values);
      const demux = createDemux(source, (item: Item) => {
        if (item.v === 2) throw boom;
        return item.k;
      });
      expectObservable(demux.endpoint('x')).toBe('-a-#', values, boom);
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('works with a synchronous source and releases the key afterwards', () => {
    const got: number[] = [];
    let completed = false;
    const demux = createDemux(from([values.a, values.b, values.d]), keyOf);
    demux.endpoint('x').subscribe({ next: (i) => got.push(i.v), complete: () => (completed = true) });
    assert.deepEqual(got, [1, 4]);
    assert.equal(completed, true);
    assert.equal(demux.has('x'), false);
    assert.deepEqual({ ...demux.stats }, { routed: 2, unmatched: 0, dropped: 1 });
  });

  it('costs one keyOf call and routes correctly with many endpoints (no per-endpoint filtering)', () => {
    const source = new Subject<number>();
    let keyCalls = 0;
    let observedSource = 0;
    const demux = createDemux(
      source,
      (n: number) => {
        keyCalls++;
        return n % 1000;
      },
    );
    const counts = new Array<number>(1000).fill(0);
    for (let k = 0; k < 1000; k++) demux.endpoint(k).subscribe(() => counts[k]++);
    observedSource = source.observers.length;
    for (let i = 0; i < 5000; i++) source.next(i);
    assert.equal(observedSource, 1, 'the source is subscribed once for all endpoints');
    assert.equal(keyCalls, 5000);
    assert.ok(counts.every((c) => c === 5));
    assert.equal(demux.stats.routed, 5000);
  });
});
