import assert from 'node:assert/strict';
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

  it('nothing after close()', () => {
    const { ts, fired, timer } = setup();
    timer.set(5);
    timer.close();
    timer.set(6);
    advance(ts, 20);
    assert.deepEqual(fired, []);
  });
});
