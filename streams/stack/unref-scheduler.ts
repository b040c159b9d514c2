import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';
import { atEndOfTask } from '../microtask.js';
import { inInboundBatch, setInboundBatchEnd, setInboundBatchStart } from '../inbound-batch.js';
import { TIME_ORIGIN } from '../clock-base.js';
import { emptyArray } from '../../src/empty-array.js';

/**
 * The stack's default scheduler: `asyncScheduler`'s behaviour (Node timers, `Date.now()` as
 * `now()`, actions that may reschedule themselves) except that its timers are unref'd, so a
 * timer of the stack never keeps the process alive. A program whose connections are finished
 * exits even though TIME-WAIT, ARP aging or a reassembly timeout is still pending, as a program
 * using kernel sockets does.
 *
 * A timer that someone is waiting for (a connection still sending, a ping) is made to keep the
 * process alive with `refTimer()`, which does nothing on other schedulers (a TestScheduler).
 */
class UnrefAction<T> extends Subscription implements SchedulerAction<T> {
  #timer: NodeJS.Timeout | undefined;
  #state: T | undefined;
  #ref = false;

  constructor(private readonly work: (this: SchedulerAction<T>, state?: T) => void) {
    super();
  }

  // The timer is cleared here rather than by a teardown added in the constructor, and the
  // timeout calls a shared function with the action as its argument: a connection arms a
  // few timers in its life, each without closures of its own.
  override unsubscribe(): void {
    if (this.closed) return;
    this.#clear();
    super.unsubscribe();
  }

  /** @internal Whether the timers keep the process alive, set before the first `schedule` (see scheduleKeptAlive). */
  presetRef(on: boolean): this {
    this.#ref = on;
    return this;
  }

  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.#state = state;
    this.#clear();
    const timer = setTimeout(runAction, delay, this);
    if (!this.#ref) timer.unref();
    this.#timer = timer;
    return this;
  }

  /** Makes this action's timers keep the process alive (true) or not (false, the default). */
  setRef(on: boolean): void {
    this.#ref = on;
    if (on) this.#timer?.ref();
    else this.#timer?.unref();
  }

  /** @internal Called by the timer (see runAction). */
  run(): void {
    this.#timer = undefined;
    if (this.closed) return;
    try {
      this.work(this.#state);
    } catch (err) {
      // As asyncScheduler: the action ends and the error surfaces from the timer.
      this.unsubscribe();
      throw err;
    }
  }

  #clear(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}

function runAction(action: { run(): void }): void {
  action.run();
}

/**
 * The clock, read once per run of synchronous work: a TAP batch of 64 segments asks for the time
 * hundreds of times (timers, RTT, RACK, timestamps), and each reading is a call into the runtime
 * (6 % of a bulk transfer's profile). The first reading in a task is kept until the task ends, as
 * Linux refreshes its per-socket clock once per batch (tcp_mstamp_refresh). Where the task ends:
 * inside a link's inbound batch (inbound-batch.ts), at the batch's end, which the link marks
 * anyway; elsewhere (timers, user calls) in a microtask. A request/response transaction is one
 * batch of one frame, so it pays no promise reaction for its clock (the microtask was 1.6 % of
 * serve's user time under UDP_RR, 3.3 % under TCP_RR). Where the batch comes from the TAP addon,
 * the reading is not even taken here: the addon reads the clock when it hands the batch over
 * (in C, no call) and the link passes it on (inboundBatchStart), so a UDP or TCP
 * request/response transaction reads the clock in JavaScript only for its send stamps.
 */
let cachedNow = -1;
/** Whether a microtask that drops the reading is queued (at most one at a time). */
let forgetQueued = false;
/**
 * Node's `performance` object, looked up once: the global is a lazy accessor, and reading it
 * costs a global load that V8 cannot make fast plus Node's getter (about 10 ns per clock read,
 * 1 % of serve's user time under TCP_RR, which reads the clock twice per transaction).
 */
const perf = performance;
/** What runs when the task's reading is dropped (atTaskClockEnd), emptied each time. */
const atForget: Array<(now: number) => void> = [];
/** Drops the task's reading (and runs what waits for that): the task is over. */
const forget = (): void => {
  cachedNow = -1;
  if (atForget.length > 0) runAtForget();
};
const forgetNow = (): void => {
  forgetQueued = false;
  forget();
};
function runAtForget(): void {
  // A reading of its own, not cached: the next reading in this task is fresh again, so no later.
  const now = TIME_ORIGIN + perf.now();
  for (let i = 0; i < atForget.length; i++) atForget[i](now);
  emptyArray(atForget);
}
/** A reading was just cached: make sure something drops it when the task ends. */
function noteReading(): void {
  if (!forgetQueued && !inInboundBatch()) {
    forgetQueued = true;
    atEndOfTask(forgetNow);
  }
}
function batchNow(): number {
  if (cachedNow < 0) {
    // Wall-clock milliseconds like Date.now(), with sub-millisecond resolution: RTTs on a local
    // link are tens of microseconds, and the TCP core's path measurements (minimum RTT, delivery
    // per RTT) need them. Timers still run on Node's millisecond timers.
    cachedNow = TIME_ORIGIN + perf.now();
    noteReading();
  }
  return cachedNow;
}

// The start of a link's inbound batch whose device read the clock when it handed the frames
// over: that is the task's reading (the batch's end drops it). A reading already taken in this
// task is replaced only by a later one, so the clock never moves back within a task.
setInboundBatchStart((time) => {
  if (time > cachedNow) cachedNow = time;
});

// The end of a link's inbound batch (inbound-batch.ts): the task's work is done, before the link
// writes the replies. A reading taken during the batch is dropped here, and what waits for that
// (the send stamps, send-stamps.ts) runs with a fresh reading, so the stamps precede the
// replies' write. A reading taken before the batch began (its microtask queued) is dropped here
// too: earlier than needed, never stale.
setInboundBatchEnd(() => {
  if (cachedNow >= 0) forget();
});

/**
 * The clock read afresh, not the task's first reading: for what must say when something
 * happened late in the task (a batch of segments handed to the link, send-stamps.ts). On
 * `unrefScheduler` the reading also becomes the task's cached one, so no later reading in the
 * task is older than it; on any other scheduler this is `scheduler.now()`.
 */
export function freshNow(scheduler: SchedulerLike): number {
  if (scheduler !== unrefScheduler) return scheduler.now();
  cachedNow = TIME_ORIGIN + perf.now();
  noteReading();
  return cachedNow;
}

/**
 * Runs `callback(now)` when the task's clock reading is dropped at the end of the task (at the
 * end of the link's inbound batch, or in the microtask `batchNow` queued with its first reading:
 * no microtask of its own), with a fresh reading; returns false, running nothing, when the task
 * has no reading (then queue your own, e.g. `atEndOfTask` and `freshNow`). The callback must
 * not register again.
 */
export function atTaskClockEnd(callback: (now: number) => void): boolean {
  if (cachedNow < 0) return false;
  atForget.push(callback);
  return true;
}

/** An asyncScheduler whose timers do not keep the process alive (see the file comment). */
export const unrefScheduler: SchedulerLike = {
  now: batchNow,
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    return new UnrefAction<T>(work).schedule(state, delay);
  },
};

/**
 * `scheduler.schedule(work, delay, state)`, whose timer keeps the process alive on
 * `unrefScheduler` (as `refTimer` after it, without the unref and ref of the Node timer in
 * between: a connection that is sending arms its timer this way at every re-arm).
 */
export function scheduleKeptAlive<T>(scheduler: SchedulerLike, work: (this: SchedulerAction<T>, state?: T) => void, delay: number, state?: T): Subscription {
  if (scheduler === unrefScheduler) return new UnrefAction<T>(work).presetRef(true).schedule(state, delay);
  return scheduler.schedule(work, delay, state);
}

/**
 * Makes a timer scheduled on `unrefScheduler` keep the process alive (`on`, the default) or
 * stop doing so; any other scheduler's subscription is left as it is. Returns `sub`.
 */
export function refTimer<S extends Subscription>(sub: S, on = true): S {
  if (sub instanceof UnrefAction) sub.setRef(on);
  return sub;
}
