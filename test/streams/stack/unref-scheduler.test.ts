/**
 * The stack's default scheduler: asyncScheduler's behaviour with unref'd timers, so a program
 * whose connections are finished exits although TIME-WAIT is still running.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { interval, take, tap, toArray, lastValueFrom } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { unrefScheduler, refTimer, freshNow, atTaskClockEnd, scheduleKeptAlive } from '../../../streams/stack/unref-scheduler.js';
import { DeadlineTimer } from '../../../streams/stack/deadline-timer.js';
import { inboundBatchEnd, inboundBatchStart } from '../../../streams/inbound-batch.js';
import { deviceLink } from '../../../streams/links/tap-link.js';
import { fakeDevicePair } from '../../helpers/fake-tap-device.js';
import { TIME_ORIGIN, clockFromMonotonic } from '../../../streams/clock-base.js';
import { loadTapAddon } from '../../../streams/links/tap-native.js';

/** Spins for `ms` of wall-clock time (the task runs on). */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the task runs on
  }
}

/** Runs `fn`, counting the promise reactions queued meanwhile (how atEndOfTask queues its work). */
function countingReactions<T>(fn: () => T): { result: T; reactions: number } {
  const then = Promise.prototype.then;
  let reactions = 0;
  Promise.prototype.then = function (this: Promise<unknown>, ...args: Parameters<typeof then>) {
    reactions++;
    return then.apply(this, args);
  } as typeof then;
  try {
    return { result: fn(), reactions };
  } finally {
    Promise.prototype.then = then;
  }
}

const FIXTURE = fileURLToPath(new URL('./fixtures/exits-when-done.ts', import.meta.url));

/** The line the fixture prints once its exchange is done and the client is in TIME-WAIT. */
const DONE_LINE = /^hello TIME-WAIT$/m;
/** How long the fixture may take to start and print DONE_LINE (tsx compiles it first: seconds on a loaded machine). */
const START_MS = 30_000;

/**
 * Runs the fixture; resolves with its exit code and output, or 'timeout' (after killing it) when
 * it is still running `ms` after it printed DONE_LINE (or START_MS after it started, when it
 * never printed it). Counted from the line, not from the start: how long node and tsx take to
 * start depends on the machine's load, and the question is what the program does once done.
 */
function runFixture(env: Record<string, string>, ms: number): Promise<{ code: number | null | 'timeout'; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = (after: number): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        // Still alive: stop it (by its PID) and report.
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
        resolve({ code: 'timeout', out });
      }, after);
    };
    arm(START_MS);
    child.stdout.on('data', (b: Buffer) => {
      const done = DONE_LINE.test(out);
      out += b.toString();
      if (!done && DONE_LINE.test(out)) arm(ms);
    });
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('stack: unrefScheduler (the default scheduler)', () => {
  it('runs work after the delay, reschedules from inside the work, and cancels on unsubscribe', async () => {
    const seen: number[] = [];
    const ticks = lastValueFrom(interval(5, unrefScheduler).pipe(take(3), tap((n) => seen.push(n)), toArray()));
    assert.deepEqual(seen, [], 'nothing before the first period');
    assert.deepEqual(await ticks, [0, 1, 2]);
    let ran = false;
    const sub = unrefScheduler.schedule(() => (ran = true), 5);
    sub.unsubscribe();
    // Work due after the cancelled one has run: the cancelled one would have run first.
    await new Promise<void>((resolve) => unrefScheduler.schedule(() => resolve(), 10));
    assert.equal(ran, false);
    let state: number | undefined;
    await new Promise<void>((resolve) =>
      unrefScheduler.schedule(
        function (n) {
          state = n;
          if (n! < 3) this.schedule(n! + 1, 1);
          else resolve();
        },
        0,
        0,
      ),
    );
    assert.equal(state, 3);
    // refTimer leaves other schedulers' subscriptions alone.
    const plain = unrefScheduler.schedule(() => undefined, 1);
    assert.equal(refTimer(plain), plain);
    const timer = new DeadlineTimer(unrefScheduler, () => undefined);
    timer.keepAlive = true;
    assert.equal(timer.keepAlive, true);
    timer.close();
  });

  it('scheduleKeptAlive: a timer that keeps the process alive from the start; a keep-alive DeadlineTimer arms such timers', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const plain = unrefScheduler.schedule(() => undefined, 1000);
    assert.equal(timers(), before, 'the stack\'s timers do not hold the process');
    plain.unsubscribe();
    let ran = false;
    const kept = scheduleKeptAlive(unrefScheduler, () => void (ran = true), 1000);
    assert.equal(timers(), before + 1, 'kept alive');
    kept.unsubscribe();
    assert.equal(timers(), before);
    assert.equal(ran, false);
    // On another scheduler it is plain scheduling.
    const ts = new TestScheduler(() => undefined);
    let virtual = false;
    scheduleKeptAlive(ts, () => void (virtual = true), 5);
    ts.flush();
    assert.equal(virtual, true);
    // A DeadlineTimer with keepAlive arms kept-alive timers, re-arms included, and lets go on close.
    const timer = new DeadlineTimer(unrefScheduler, () => undefined);
    timer.keepAlive = true;
    timer.set(unrefScheduler.now() + 1000);
    assert.equal(timers(), before + 1);
    timer.set(unrefScheduler.now() + 500);
    assert.equal(timers(), before + 1, 'the re-armed wake-up is kept alive, the first one gone');
    timer.keepAlive = false;
    assert.equal(timers(), before);
    timer.close();
    await Promise.resolve();
  });

  it('a program that made two stacks, exchanged over TCP and closed the connection exits by itself (TIME-WAIT does not hold it)', async function () {
    this.timeout(2 * START_MS + 20_000);
    // Both bounds are well inside TIME-WAIT (60 s), which would hold a program whose timers are ref'd.
    const done = await runFixture({}, 10_000);
    assert.match(done.out, DONE_LINE, 'it did the exchange and was in TIME-WAIT when done');
    assert.notEqual(done.code, 'timeout', `the program did not exit within 10 s of being done: ${done.out}`);
    assert.equal(done.code, 0, done.out);
    // The same program on asyncScheduler is still running (its TIME-WAIT timer is ref'd): the
    // check above can fail.
    const held = await runFixture({ SCHEDULER: 'async' }, 2_000);
    assert.match(held.out, DONE_LINE);
    assert.equal(held.code, 'timeout', `with asyncScheduler it exited: ${held.out}`);
  });

  it('freshNow reads the clock again within a task, and later readings in the task are not older', () => {
    const first = unrefScheduler.now();
    const until = performance.now() + 2;
    while (performance.now() < until) {
      // the task runs on
    }
    assert.equal(unrefScheduler.now(), first, 'one reading per task');
    const fresh = freshNow(unrefScheduler);
    assert.ok(fresh - first >= 2, `fresh ${fresh - first} ms after the task's first reading`);
    assert.equal(unrefScheduler.now(), fresh, 'the task reads the fresh value from then on');
    const ts = new TestScheduler(() => undefined);
    assert.equal(freshNow(ts), ts.now(), 'any other scheduler: its now()');
  });

  it('inside an inbound batch: one reading, dropped at the end of the batch (callbacks run there), no microtask; a reading after is fresh', async () => {
    await new Promise((resolve) => setImmediate(resolve)); // a task of its own: no reading yet
    const calls: number[] = [];
    let first = 0;
    const { reactions } = countingReactions(() => {
      inboundBatchStart();
      try {
        first = unrefScheduler.now();
        assert.equal(atTaskClockEnd((now) => calls.push(now)), true);
        spin(2);
        assert.equal(unrefScheduler.now(), first, 'one reading per batch');
        inboundBatchStart(); // nested: the outer batch's end ends the task
        inboundBatchEnd();
        assert.deepEqual(calls, [], 'not at a nested batch\'s end');
      } finally {
        inboundBatchEnd();
      }
    });
    assert.equal(reactions, 0, 'no microtask queued for the reading');
    assert.equal(calls.length, 1, 'run at the end of the batch');
    assert.ok(calls[0] - first >= 2, `${calls[0] - first} ms after the batch's first reading`);
    spin(2);
    const after = unrefScheduler.now();
    assert.ok(after - first >= 4, `a reading after the batch is fresh (${after - first} ms later)`);
    // Outside a batch the reading is dropped by a microtask again: the next task reads afresh.
    await Promise.resolve();
    await Promise.resolve();
    spin(1);
    assert.ok(unrefScheduler.now() > after, 'not stale in the next task');
  });

  it('a batch that brings the time its frames were read (the TAP addon\'s reading): that is the reading of the batch, no clock read; a reading already taken gives way only to a later one', async () => {
    await new Promise((resolve) => setImmediate(resolve)); // a task of its own: no reading yet
    const read = TIME_ORIGIN + performance.now() - 5; // as if read 5 ms ago by the device
    inboundBatchStart(read);
    try {
      assert.equal(unrefScheduler.now(), read, 'the batch\'s time, not a reading of the clock');
      inboundBatchStart(read + 1000); // nested: the outer batch's time stays
      inboundBatchEnd();
      assert.equal(unrefScheduler.now(), read);
    } finally {
      inboundBatchEnd();
    }
    const after = unrefScheduler.now();
    assert.ok(after - read >= 5, `dropped at the end of the batch: the next reading is the clock's (${after - read} ms later)`);
    // A reading taken before the batch in the same task: an older batch time does not move it back.
    inboundBatchStart(read);
    try {
      assert.equal(unrefScheduler.now(), after, 'the clock never moves back within a task');
    } finally {
      inboundBatchEnd();
    }
    const later = TIME_ORIGIN + performance.now() + 1;
    unrefScheduler.now();
    inboundBatchStart(later);
    try {
      assert.equal(unrefScheduler.now(), later, 'a later batch time replaces an earlier reading');
    } finally {
      inboundBatchEnd();
    }
  });

  it('clockFromMonotonic: the addon\'s CLOCK_MONOTONIC on the stack\'s base, never later than performance.now() and within microseconds of it', function () {
    const addon = loadTapAddon(); // built by npm install, like every addon test's
    for (let i = 0; i < 1000; i++) {
      const before = TIME_ORIGIN + performance.now();
      const converted = clockFromMonotonic(addon.monotonicNow());
      const after = TIME_ORIGIN + performance.now();
      assert.ok(converted <= after, `not later than a reading after it (${converted - after} ms)`);
      assert.ok(converted >= before - 0.01, `not more than 10 us before a reading before it (${before - converted} ms)`);
    }
  });

  it('a TAP link ends the clock task at the end of its inbound batch, before it writes the replies', async () => {
    const [da, db] = fakeDevicePair({ offload: false });
    const la = deviceLink(da.asTapDevice(), { mac: undefined, coalesceAcks: false, layer: 'ethernet' });
    const lb = deviceLink(db.asTapDevice(), { mac: undefined, coalesceAcks: false, layer: 'ethernet' });
    const frame = new Uint8Array(60).fill(0xab);
    let reactions = -1;
    let writtenAtEnd = -1;
    let readings: number[] = [];
    const ended = new Promise<void>((resolve) => {
      lb.frames$.subscribe((f) => {
        ({ reactions } = countingReactions(() => {
          readings = [unrefScheduler.now()];
          atTaskClockEnd(() => {
            writtenAtEnd = db.written.length;
            resolve();
          });
          spin(1);
          readings.push(unrefScheduler.now());
          lb.send(f); // the reply, written at the batch's end
        }));
      });
    });
    await new Promise((resolve) => setImmediate(resolve)); // not in the task that sends
    la.send(frame);
    await ended;
    assert.equal(readings[1], readings[0], 'one reading in the batch');
    assert.equal(reactions, 0, 'neither the clock nor the reply queued a microtask');
    assert.equal(writtenAtEnd, 0, 'the task ended before the reply was written');
    assert.equal(db.written.length, 1, 'then the reply was written');
    la.close();
    lb.close();
  });

  it('atTaskClockEnd runs with a fresh reading when the reading of the task is dropped; false without a reading', async () => {
    await new Promise((resolve) => setImmediate(resolve)); // a task of its own: no reading yet
    const calls: number[] = [];
    assert.equal(atTaskClockEnd((now) => calls.push(now)), false, 'no reading in this task yet');
    const first = unrefScheduler.now();
    assert.equal(atTaskClockEnd((now) => calls.push(now)), true);
    const until = performance.now() + 2;
    while (performance.now() < until) {
      // the task runs on
    }
    assert.deepEqual(calls, [], 'not before the end of the task');
    await Promise.resolve();
    await Promise.resolve();
    assert.equal(calls.length, 1);
    assert.ok(calls[0] - first >= 2, `${calls[0] - first} ms after the task's first reading`);
  });
});
