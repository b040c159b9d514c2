import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SchedulerAction, SchedulerLike, Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { TimerQueue } from '../../../streams/stack/timer-queue.js';
import { LATE_WAKE_MS, watchHeldInput } from '../../../streams/stack/late-wake.js';
import { DeadlineTimer } from '../../../streams/stack/deadline-timer.js';
import { unrefScheduler } from '../../../streams/stack/unref-scheduler.js';
import { advance } from './raw-peer.js';

/** A TestScheduler that counts the actions scheduled on it and those still live. */
function counting(): { ts: TestScheduler; scheduler: SchedulerLike; live: () => number; scheduled: () => number } {
  const ts = new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
  const subs: Subscription[] = [];
  const scheduler: SchedulerLike = {
    now: () => ts.now(),
    schedule<T>(work: (this: SchedulerAction<T>, state: T) => void, delay?: number, state?: T): Subscription {
      const sub = ts.schedule(work as (this: SchedulerAction<T>, state?: T) => void, delay, state);
      subs.push(sub);
      return sub;
    },
  };
  return { ts, scheduler, live: () => subs.filter((s) => !s.closed).length, scheduled: () => subs.length };
}

describe('stack/timer-queue', () => {
  it('a wake-up that comes late (the loop held up) reads the held input first, which may cancel what was due; one on time does not', () => {
    const ts = new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
    let skew = 0; // how far behind the virtual clock the wake-up runs
    const scheduler: SchedulerLike = {
      now: () => ts.now() + skew,
      schedule: (work, delay, state) => ts.schedule(work as (this: SchedulerAction<unknown>, state?: unknown) => void, delay, state),
    };
    const q = new TimerQueue(scheduler);
    const events: string[] = [];
    const rto = q.timer(() => events.push('rto'), undefined);
    const other = q.timer(() => events.push('other'), undefined);
    const unwatch = watchHeldInput(scheduler, () => {
      events.push('drain');
      rto.set(undefined); // what the drained input does: the ACK cancels the retransmission
    });
    rto.set(10);
    advance(ts, 10);
    assert.deepEqual(events, ['rto'], 'on time: no drain');
    events.length = 0;
    rto.set(ts.now() + 10);
    other.set(ts.now() + 10);
    skew = LATE_WAKE_MS + 5;
    advance(ts, 10);
    assert.deepEqual(events, ['drain', 'other'], 'late: the links are read first, and the cancelled timer does not fire');
    skew = LATE_WAKE_MS - 5;
    events.length = 0;
    rto.set(ts.now() + 10);
    advance(ts, 10);
    assert.deepEqual(events, ['rto'], 'a little late (within a timer\'s ordinary lateness): no drain');
    unwatch();
    skew = LATE_WAKE_MS + 5;
    events.length = 0;
    rto.set(ts.now() + 10);
    advance(ts, 10);
    assert.deepEqual(events, ['rto'], 'once the stack is closed its links are not read');
  });

  it('a late DeadlineTimer whose held input moves its deadline later waits for it; one moved earlier fires now', () => {
    const ts = new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
    let skew = 0; // set after arming: the wake-up runs this far behind the virtual clock
    const scheduler: SchedulerLike = {
      now: () => ts.now() + skew,
      schedule: (work, delay, state) => ts.schedule(work as (this: SchedulerAction<unknown>, state?: unknown) => void, delay, state),
    };
    const fired: number[] = [];
    const timer = new DeadlineTimer(scheduler, (now) => fired.push(now));
    let moveTo = 0;
    const unwatch = watchHeldInput(scheduler, () => timer.set(moveTo));
    try {
      // The input read moves the deadline past now (a retransmission timer restarted by an ACK).
      timer.set(ts.now() + 10);
      skew = LATE_WAKE_MS + 5;
      moveTo = ts.now() + 10 + skew + 100;
      advance(ts, 10);
      assert.deepEqual(fired, [], 'moved later: not fired at the late wake-up');
      skew = 0;
      advance(ts, 200);
      assert.equal(fired.length, 1, 'fired at the new deadline');
      // Moved, but still due: fires at once, with the clock read after the input.
      fired.length = 0;
      timer.set(ts.now() + 10);
      skew = LATE_WAKE_MS + 5;
      moveTo = ts.now() + 11;
      advance(ts, 10);
      assert.equal(fired.length, 1, 'still due after the input: fired');
      skew = 0;
      advance(ts, 50);
      assert.equal(fired.length, 1, 'and only once');
    } finally {
      unwatch();
    }
  });

  it('fires many timers from one scheduled wake-up, in deadline order, equal deadlines in the order queued', () => {
    const { ts, scheduler, live } = counting();
    const q = new TimerQueue(scheduler);
    const fired: string[] = [];
    const make = (name: string) => q.timer(function (this: string) { fired.push(this); }, name);
    const a = make('a');
    const b = make('b');
    const c = make('c');
    const d = make('d');
    c.set(30);
    a.set(10);
    d.set(20);
    b.set(20);
    assert.equal(live(), 1, 'one scheduler action for four deadlines');
    assert.equal(q.size, 4);
    advance(ts, 25);
    assert.deepEqual(fired, ['a', 'd', 'b']);
    advance(ts, 10);
    assert.deepEqual(fired, ['a', 'd', 'b', 'c']);
    assert.equal(q.size, 0);
  });

  it('is lazy for later deadlines (no re-queue), cancels at once with cancel() and for good with close()', () => {
    const { ts, scheduler, scheduled } = counting();
    const q = new TimerQueue(scheduler);
    const fired: number[] = [];
    const t = q.timer((now: number) => void fired.push(now), undefined);
    t.set(10);
    const armed = scheduled();
    for (let i = 11; i < 50; i++) t.set(i); // an RTO moved by every ACK
    assert.equal(scheduled(), armed, 'later deadlines touch neither the heap order nor the scheduler');
    advance(ts, 20);
    assert.deepEqual(fired, [], 'the wake-up at 10 finds the deadline at 49 not due');
    advance(ts, 40);
    assert.deepEqual(fired, [49]);
    t.set(ts.now() + 5);
    t.set(undefined);
    advance(ts, 10);
    assert.deepEqual(fired, [49], 'undefined: nothing fires');
    t.set(ts.now() + 5);
    t.cancel();
    assert.equal(q.size, 0, 'cancel() takes it out now');
    advance(ts, 10);
    t.set(ts.now() + 1);
    t.close();
    t.set(ts.now() + 1);
    advance(ts, 10);
    assert.deepEqual(fired, [49], 'nothing after close()');
    assert.equal(q.size, 0);
  });

  it('a callback asking for "now" again waits for the next wake-up; one queueing another timer for later', () => {
    const { ts, scheduler } = counting();
    const q = new TimerQueue(scheduler);
    let calls = 0;
    const again = q.timer(function (this: undefined, now: number) {
      calls++;
      if (calls < 3) again.set(now);
    }, undefined);
    again.set(5);
    advance(ts, 10);
    assert.equal(calls, 3, 'each "now" fired at a later wake-up (at the same virtual time), not in a loop');
    // A callback queueing another timer for later: that one fires at its own time.
    const fired: number[] = [];
    const later = q.timer((now: number) => void fired.push(now), undefined);
    const first = q.timer((now: number) => later.set(now + 7), undefined);
    const start = ts.now();
    first.set(start + 1);
    advance(ts, 5);
    assert.deepEqual(fired, []);
    advance(ts, 5);
    assert.deepEqual(fired, [start + 8]);
  });

  it('keeps the process alive while a queued timer with keepAlive waits, and not after (default scheduler)', () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const q = new TimerQueue(unrefScheduler);
    const quiet = q.timer(() => undefined, undefined);
    const kept = q.timer(() => undefined, undefined);
    quiet.set(unrefScheduler.now() + 1000);
    assert.equal(timers(), before, 'an unref\'d wake-up');
    kept.keepAlive = true;
    kept.set(unrefScheduler.now() + 2000);
    assert.equal(timers(), before + 1, 'a queued keep-alive timer holds the process');
    kept.keepAlive = false;
    assert.equal(timers(), before);
    kept.keepAlive = true;
    assert.equal(timers(), before + 1);
    kept.cancel();
    assert.equal(timers(), before, 'taken out: no longer held');
    quiet.close();
  });

  it('fires exactly what one DeadlineTimer per deadline would, at the same times (random sequences)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), timer: fc.nat(5), delay: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('unset' as const), timer: fc.nat(5) }),
      fc.record({ kind: fc.constant('cancel' as const), timer: fc.nat(5) }),
      fc.record({ kind: fc.constant('close' as const), timer: fc.nat(5) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const run = (queued: boolean): string[] => {
          const ts = new TestScheduler(() => undefined);
          const q = new TimerQueue(ts);
          const log: string[] = [];
          const timers = Array.from({ length: 6 }, (_, i) => {
            const fire = (now: number): void => void log.push(`${i}@${now}`);
            return queued ? q.timer(fire, undefined) : new DeadlineTimer(ts, fire);
          });
          for (const o of ops) {
            if (o.kind === 'set') timers[o.timer].set(ts.now() + o.delay);
            else if (o.kind === 'unset') timers[o.timer].set(undefined);
            else if (o.kind === 'cancel') timers[o.timer].cancel();
            else if (o.kind === 'close') timers[o.timer].close();
            else advance(ts, o.ms);
          }
          advance(ts, 100);
          // Order within one virtual instant is the queue's (deadline, then queue order): compare as sets per instant.
          return log.sort();
        };
        assert.deepEqual(run(true), run(false));
      }),
      { numRuns: 300 },
    );
  });
});
