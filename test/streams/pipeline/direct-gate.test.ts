/**
 * The gate of a direct way in (streams/pipeline/direct-gate.ts): one number the bottom layer
 * reads per item, kept by every hop the way skips as its observers come and go. These tests pin
 * that each hop shuts the gate exactly while it is observed, however many observers and hops.
 */
import assert from 'node:assert/strict';
import { Subject, Subscription } from 'rxjs';
import { DirectGate, GateKeeper } from '../../../streams/pipeline/direct-gate.js';
import { UpStream, attachUp, attachUpDirect, type DirectIn } from '../../../streams/pipeline/up-stream.js';
import { TapPoint } from '../../../streams/pipeline/taps.js';
import { createDemux } from '../../../streams/operators/demux.js';
import { sinkOf } from '../../../streams/pipeline/boundary.js';

/** A bottom layer offering a direct way in: records who took it, and delivers by it while the gate is open. */
function bottom(): { up$: UpStream<number>; taken: Array<{ handler: (n: number) => void; gate: DirectGate }>; source: Subject<number>; push(n: number): void } {
  const source = new Subject<number>();
  const taken: Array<{ handler: (n: number) => void; gate: DirectGate }> = [];
  const direct: DirectIn<number> = {
    take(handler, gate) {
      const entry = { handler, gate };
      taken.push(entry);
      return new Subscription(() => taken.splice(taken.indexOf(entry), 1));
    },
  };
  const up$ = new UpStream<number>((observer) => attachUp(source.asObservable(), observer), direct);
  return {
    up$,
    taken,
    source,
    push(n) {
      const t = taken[0];
      if (t !== undefined && t.gate.shut === 0) t.handler(n);
      else source.next(n);
    },
  };
}

describe('pipeline: the direct way in’s gate', () => {
  it('a keeper shuts each of its gates by one while observed, and lets go of a gate for good', () => {
    const keeper = new GateKeeper();
    const a = new DirectGate();
    const b = new DirectGate();
    const keptA = keeper.keep(a);
    keeper.keep(b);
    assert.deepEqual([a.shut, b.shut], [0, 0]);
    keeper.observed = true;
    keeper.observed = true;
    assert.deepEqual([a.shut, b.shut], [1, 1], 'once per change, not per call');
    keptA.unsubscribe();
    assert.equal(a.shut, 0, 'let go while observed: opened again');
    keeper.observed = false;
    assert.deepEqual([a.shut, b.shut], [0, 0]);
    const c = new DirectGate();
    keeper.observed = true;
    keeper.keep(c);
    assert.equal(c.shut, 1, 'kept while observed: shut at once');
  });

  it('a tap point shuts the gate of a way taken through it while any observer of up$ is there, and every item reaches them', () => {
    const low = bottom();
    const tap = new TapPoint<number, number>();
    const wrapped = tap.wrap({ up$: low.up$, down: sinkOf<number>(() => {}) });
    const got: number[] = [];
    const subscription = attachUpDirect(wrapped.up$, (n) => got.push(n));
    assert.equal(low.taken.length, 1, 'the way was taken through the wrapper');
    const gate = low.taken[0].gate;
    assert.equal(gate.shut, 0);
    const seenA: number[] = [];
    const seenB: number[] = [];
    const a = tap.up$.subscribe((n) => seenA.push(n));
    const b = tap.up$.subscribe((n) => seenB.push(n));
    assert.equal(gate.shut, 1);
    low.push(1);
    a.unsubscribe();
    assert.equal(gate.shut, 1, 'one observer left');
    low.push(2);
    b.unsubscribe();
    assert.equal(gate.shut, 0);
    low.push(3);
    assert.deepEqual(got, [1, 2, 3]);
    assert.deepEqual(seenA, [1]);
    assert.deepEqual(seenB, [1, 2]);
    subscription.unsubscribe();
    assert.equal(low.taken.length, 0, 'let go with the attachment');
  });

  it('a demux shuts a gate it keeps while anyone subscribes to observe$ (of any key)', () => {
    const source = new Subject<number>();
    const demux = createDemux(source.asObservable(), (n: number) => n % 2);
    const gate = new DirectGate();
    const kept = demux.keepGate(gate);
    const all = demux.observe$().subscribe();
    const odd = demux.observe$(1).subscribe();
    assert.equal(gate.shut, 1, 'one hop observed: shut by one');
    all.unsubscribe();
    assert.equal(gate.shut, 1);
    odd.unsubscribe();
    assert.equal(gate.shut, 0);
    kept.unsubscribe();
    demux.observe$().subscribe();
    assert.equal(gate.shut, 0, 'let go: no longer kept');
  });

  it('onShut is called each time a hop shuts the gate; a tap point keeps a gate for down$ as for up$', () => {
    const point = new TapPoint<number, number>();
    const gate = new DirectGate();
    let shuts = 0;
    gate.onShut = () => {
      assert.ok(gate.shut > 0, 'called after shut grew');
      shuts++;
    };
    const keptUp = point.keepUp(gate);
    const keptDown = point.keepDown(gate);
    const up = point.up$.subscribe();
    assert.equal(gate.shut, 1);
    assert.equal(shuts, 1);
    const down = point.down$.subscribe();
    assert.equal(gate.shut, 2);
    assert.equal(shuts, 2);
    up.unsubscribe();
    down.unsubscribe();
    assert.equal(gate.shut, 0);
    assert.equal(shuts, 2, 'not called when it opens');
    // A gate kept by a hop already observed is shut (and told) at once.
    const watching = point.down$.subscribe();
    const late = new DirectGate();
    let lateShuts = 0;
    late.onShut = () => lateShuts++;
    point.keepDown(late);
    assert.equal(late.shut, 1);
    assert.equal(lateShuts, 1);
    watching.unsubscribe();
    keptUp.unsubscribe();
    keptDown.unsubscribe();
  });
});
