import type { SchedulerLike, Subscription } from 'rxjs';
import { refTimer, scheduleKeptAlive } from './unref-scheduler.js';
import { readIfHeldUp } from './late-wake.js';

/** No deadline (armed or wanted). */
const NONE = Infinity;

/**
 * One re-armable timer on the stack's scheduler, for a sans-IO core that reports its next
 * deadline (`nextDeadline()`) and wants `onTimer(now)` called when it comes.
 *
 * Re-arming is lazy: a deadline later than the one already armed does not touch the scheduler
 * (when the earlier wake-up fires, it finds nothing due and re-arms for the real deadline). A TCP
 * connection moves its retransmission deadline on every ACK; this keeps that from costing a
 * clearTimeout/setTimeout pair per segment.
 *
 * A wake-up that comes more than LATE_WAKE_MS after the deadline (the event loop was held up)
 * reads the stack's links first and then looks again (late-wake.ts): the input that came
 * meanwhile may have moved or cancelled the deadline.
 */
export class DeadlineTimer<C = undefined> {
  // Times are numbers, NONE when absent, never undefined: a field that only ever holds numbers
  // is kept as a raw double and overwritten in place, where a `number | undefined` field boxes
  // every fractional time stored into it (an allocation per re-arm: a TCP connection re-arms
  // two or three times per segment).
  #armedAt = NONE;
  #subscription: Subscription | undefined;
  #wanted = NONE;
  #closed = false;
  #keepAlive = false;

  constructor(
    private readonly scheduler: SchedulerLike,
    /**
     * Called with `now` when the wanted deadline has come, with `context` as `this`: an owner
     * with many timers (a TCP connection each) passes one shared function and itself rather
     * than a closure per timer.
     */
    private readonly fire: (this: C, now: number) => void,
    private readonly context?: C,
  ) {}

  /** Wants a call at `deadline` (ms, scheduler time); undefined cancels. */
  set(deadline: number | undefined): void {
    if (this.#closed) return;
    if (deadline === undefined) {
      // Keep any armed wake-up: it will find nothing wanted and stop. Cheaper than cancelling.
      this.#wanted = NONE;
      return;
    }
    this.#wanted = deadline;
    if (this.#armedAt <= deadline) return;
    this.#arm(deadline);
  }

  /**
   * Whether an armed wake-up keeps the process alive (default false: the stack's timers never
   * do, see unref-scheduler.ts). Only the default scheduler has a process to keep alive.
   */
  set keepAlive(on: boolean) {
    if (on === this.#keepAlive) return;
    this.#keepAlive = on;
    if (this.#subscription !== undefined) refTimer(this.#subscription, on);
  }

  get keepAlive(): boolean {
    return this.#keepAlive;
  }

  /**
   * As `set(undefined)`, but an armed wake-up is cleared now instead of left to run out: for a
   * deadline that goes away for good rather than moving (a connection's handshake timer once it
   * is established), so that an idle owner holds no scheduled action.
   */
  cancel(): void {
    this.#wanted = NONE;
    if (this.#subscription === undefined) return;
    this.#subscription.unsubscribe();
    this.#subscription = undefined;
    this.#armedAt = NONE;
  }

  /** Cancels for good: no call after this. */
  close(): void {
    this.#closed = true;
    this.#wanted = NONE;
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    this.#armedAt = NONE;
  }

  #arm(deadline: number): void {
    this.#subscription?.unsubscribe();
    const delay = Math.max(0, deadline - this.scheduler.now());
    this.#armedAt = deadline;
    this.#subscription = this.#keepAlive
      ? scheduleKeptAlive(this.scheduler, DeadlineTimer.#wake, delay, this as DeadlineTimer<unknown>)
      : this.scheduler.schedule(DeadlineTimer.#wake, delay, this as DeadlineTimer<unknown>);
  }

  /** The scheduled work, one function for every timer: the timer is its state. */
  static #wake(this: unknown, timer?: DeadlineTimer<unknown>): void {
    timer!.#onWake();
  }

  #onWake(): void {
    this.#subscription = undefined;
    this.#armedAt = NONE;
    if (this.#closed) return;
    let wanted = this.#wanted;
    if (wanted === NONE) return;
    let now = this.scheduler.now();
    if (now < wanted) {
      this.#arm(wanted);
      return;
    }
    if (readIfHeldUp(this.scheduler, wanted, now)) {
      // The input read may have set, cancelled or closed this timer (a set() meanwhile armed a
      // wake-up of its own: #armedAt was cleared above).
      if (this.#closed) return;
      wanted = this.#wanted;
      if (wanted === NONE) return;
      now = this.scheduler.now();
      if (now < wanted) {
        if (this.#armedAt > wanted) this.#arm(wanted);
        return;
      }
    }
    this.#wanted = NONE;
    this.fire.call(this.context as C, now);
  }
}
