import assert from 'node:assert/strict';
import { Subject, filter, map, tap } from 'rxjs';
import { between, hookPoint, type Boundary, type Sink } from '../../../streams/pipeline/boundary.js';
import { TapPoint } from '../../../streams/pipeline/taps.js';
import type { FrameSink } from '../../../streams/pipeline/link-boundary.js';

/** A boundary over a Subject (up) and an array (down), as a layer below would offer. */
function lower(): { boundary: Boundary<number, string> & { extra: string }; up: Subject<number>; sent: string[] } {
  const up = new Subject<number>();
  const sent: string[] = [];
  const down: Sink<string> = { next: (s) => sent.push(s), partialChecksum: true };
  return { boundary: { up$: up.asObservable(), down, extra: 'kept' }, up, sent };
}

describe('pipeline/boundary', () => {
  it('between() applies `up` to what goes up and `down` to what goes down, keeping the other members', () => {
    const { boundary, up, sent } = lower();
    const b = between(boundary, { up: filter((n: number) => n % 2 === 0), down: map((s: string) => s.toUpperCase()) });
    const got: number[] = [];
    b.up$.subscribe((n) => got.push(n));
    for (let i = 1; i <= 4; i++) up.next(i);
    b.down.next('a');
    b.down.next('b');
    assert.deepEqual(got, [2, 4]);
    assert.deepEqual(sent, ['A', 'B']);
    assert.equal(b.extra, 'kept');
  });

  it('between() without operators is the boundary itself (the default stack pays nothing)', () => {
    const { boundary } = lower();
    assert.equal(between(boundary, undefined), boundary);
    assert.equal(between(boundary, {}), boundary);
  });

  it('an inserted down operator hides the partial-checksum capability of what is below', () => {
    const { boundary } = lower();
    assert.equal(boundary.down.partialChecksum, true);
    assert.notEqual(between(boundary, { down: tap(() => undefined) }).down.partialChecksum, true);
    assert.equal(between(boundary, { up: tap(() => undefined) }).down.partialChecksum, true, 'an up operator changes nothing below');
  });

  it('an inserted down operator hides that what is below keeps no record', () => {
    const down: Sink<string> = { next: () => undefined, retainsNothing: true };
    const boundary: Boundary<number, string> = { up$: new Subject<number>(), down };
    assert.equal(between(boundary, { up: tap(() => undefined) }).down.retainsNothing, true);
    assert.notEqual(between(boundary, { down: tap(() => undefined) }).down.retainsNothing, true);
  });

  it('hookPoint() calls the handlers straight without operators, through them with', () => {
    const seen: string[] = [];
    const plain = hookPoint<number, number>(undefined, (n) => seen.push(`up${n}`), (n) => seen.push(`down${n}`));
    plain.up(1);
    plain.down(2);
    const hooked = hookPoint<number, number>({ up: map((n: number) => n * 10), down: filter(() => false) }, (n) => seen.push(`up${n}`), (n) => seen.push(`down${n}`));
    hooked.up(3);
    hooked.down(4);
    assert.deepEqual(seen, ['up1', 'down2', 'up30']);
  });
});

describe('pipeline/taps', () => {
  it('observers see both directions of every wrapped boundary and change nothing', () => {
    const point = new TapPoint<number, string>();
    const one = lower();
    const two = lower();
    const a = point.wrap(one.boundary);
    const b = point.wrap(two.boundary);
    const ups: number[] = [];
    const downs: string[] = [];
    point.up$.subscribe((n) => ups.push(n));
    point.down$.subscribe((s) => downs.push(s));
    const gotA: number[] = [];
    a.up$.subscribe((n) => gotA.push(n));
    b.up$.subscribe(() => undefined);
    one.up.next(1);
    two.up.next(2);
    a.down.next('x');
    b.down.next('y');
    assert.deepEqual(ups, [1, 2]);
    assert.deepEqual(downs, ['x', 'y']);
    assert.deepEqual(gotA, [1]);
    assert.deepEqual(one.sent, ['x']);
    assert.deepEqual(two.sent, ['y']);
    assert.equal(a.down.partialChecksum, true, 'a tap keeps what is below usable');
    assert.equal(a.extra, 'kept');
  });

  it('keeps a link sink’s checksum offload and shows the frame sent that way', () => {
    const partial: number[] = [];
    const sink: FrameSink = { next: () => undefined, sendPartial: (_f, start) => partial.push(start) };
    const point = new TapPoint<Uint8Array, Uint8Array>();
    const wrapped = point.wrap({ up$: new Subject<Uint8Array>(), down: sink });
    const seen: number[] = [];
    point.down$.subscribe((f) => seen.push(f.length));
    (wrapped.down as FrameSink).sendPartial?.(new Uint8Array(60), 34, 16);
    assert.deepEqual(partial, [34]);
    assert.deepEqual(seen, [60]);
  });

  it('passes on that what is below keeps no record, and shows its observers records of their own', () => {
    type Rec = { n: number };
    const below: Rec[] = [];
    const down: Sink<Rec> = { next: (r) => below.push({ ...r }), retainsNothing: true };
    const point = new TapPoint<number, Rec>();
    const wrapped = point.wrap({ up$: new Subject<number>(), down });
    assert.equal(wrapped.down.retainsNothing, true);
    const kept: Rec[] = [];
    point.down$.subscribe((r) => kept.push(r));
    // The sender refills one record, as the TCP layer does.
    const record = { n: 0 };
    for (let i = 1; i <= 3; i++) {
      record.n = i;
      wrapped.down.next(record);
    }
    assert.deepEqual(below, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    assert.deepEqual(kept, [{ n: 1 }, { n: 2 }, { n: 3 }], 'what an observer kept is not changed by the next item');
    assert.ok(kept.every((r) => r !== record));
    // A sink that may keep its records: observers get the items themselves, and no flag.
    const plain = new TapPoint<number, Rec>();
    const seen: Rec[] = [];
    plain.down$.subscribe((r) => seen.push(r));
    const mayKeep: Sink<Rec> = { next: () => undefined };
    const w2 = plain.wrap({ up$: new Subject<number>(), down: mayKeep });
    assert.notEqual(w2.down.retainsNothing, true);
    w2.down.next(record);
    assert.equal(seen[0], record);
  });
});
