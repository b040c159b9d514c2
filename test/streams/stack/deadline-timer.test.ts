import assert from 'node:assert/strict';
import type { SchedulerAction, SchedulerLike, Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { DeadlineTimer } from '../../../streams/stack/deadline-timer.js';
import { advance } from './raw-peer.js';

describe('stack/deadline-timer', () => {
  const setup = (): { ts: TestScheduler; fired: number[]; timer: DeadlineTimer } => {
    const ts = new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
    const fired: number[] = [];
    const timer = new DeadlineTimer(ts, (now) => fired.push(now));
    return { ts, fired, timer };
  };

  it('fires once at the deadline wanted last, fractional times included, and not after undefined', () => {
    const { ts, fired, timer } = setup();
    timer.set(10.25);
    timer.set(30.5); // later: the earlier wake-up finds it not due and waits on
    advance(ts, 20);
    assert.deepEqual(fired, []);
    advance(ts, 20);
    assert.equal(fired.length, 1);
    assert.ok(fired[0] >= 30.5);
    timer.set(ts.now() + 5.5);
    timer.set(undefined);
    advance(ts, 20);
    assert.equal(fired.length, 1, 'a deadline cancelled by undefined never fires');
    timer.set(ts.now() + 7);
    timer.set(ts.now() + 2); // earlier: armed at once
    advance(ts, 3);
    assert.equal(fired.length, 2);
    advance(ts, 10);
    assert.equal(fired.length, 2, 'the deadline replaced by an earlier one does not fire as well');
  });

  it('cancel() clears the armed wake-up at once (set(undefined) leaves it to run out); set() arms again', () => {
    const ts = new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
    const scheduled: Subscription[] = [];
    const counting: SchedulerLike = {
      now: () => ts.now(),
      schedule<T>(work: (this: SchedulerAction<T>, state: T) => void, delay?: number, state?: T): Subscription {
        const sub = ts.schedule(work as (this: SchedulerAction<T>, state?: T) => void, delay, state);
        scheduled.push(sub);
        return sub;
      },
    };
    const live = (): number => scheduled.filter((s) => !s.closed).length;
    const fired: number[] = [];
    const timer = new DeadlineTimer(counting, (now) => fired.push(now));
    timer.set(1000);
    timer.set(undefined);
    assert.equal(live(), 1, 'set(undefined) keeps the armed wake-up');
    timer.set(1000);
    timer.cancel();
    assert.equal(live(), 0, 'cancel() leaves no scheduled action');
    advance(ts, 2000);
    assert.deepEqual(fired, []);
    timer.set(ts.now() + 5);
    advance(ts, 10);
    assert.equal(fired.length, 1, 'a cancelled timer arms again');
  });

  it('calls fire with the context given as `this`', () => {
    const ts = new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
    const owner = { calls: [] as number[] };
    const timer = new DeadlineTimer(ts, function (this: typeof owner, now: number) {
      this.calls.push(now);
    }, owner);
    timer.set(3);
    advance(ts, 5);
    assert.equal(owner.calls.length, 1);
  });

  it('nothing after close()', () => {
    const { ts, fired, timer } = setup();
    timer.set(5);
    timer.close();
    timer.set(6);
    advance(ts, 20);
    assert.deepEqual(fired, []);
  });
});
