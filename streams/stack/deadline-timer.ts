import type { SchedulerLike, Subscription } from 'rxjs';
import { refTimer } from './unref-scheduler.js';

/**
 * One re-armable timer on the stack's scheduler, for a sans-IO core that reports its next
 * deadline (`nextDeadline()`) and wants `onTimer(now)` called when it comes.
 *
 * Re-arming is lazy: a deadline later than the one already armed does not touch the scheduler
 * (when the earlier wake-up fires, it finds nothing due and re-arms for the real deadline). A TCP
 * connection moves its retransmission deadline on every ACK; this keeps that from costing a
 * clearTimeout/setTimeout pair per segment.
 */
export class DeadlineTimer {
  #armedAt: number | undefined;
  #subscription: Subscription | undefined;
  #wanted: number | undefined;
  #closed = false;
  #keepAlive = false;

  constructor(
    private readonly scheduler: SchedulerLike,
    /** Called with `now` when the wanted deadline has come. */
    private readonly fire: (now: number) => void,
  ) {}

  /** Wants a call at `deadline` (ms, scheduler time); undefined cancels. */
  set(deadline: number | undefined): void {
    if (this.#closed) return;
    this.#wanted = deadline;
    if (deadline === undefined) {
      // Keep any armed wake-up: it will find nothing wanted and stop. Cheaper than cancelling.
      return;
    }
    if (this.#armedAt !== undefined && this.#armedAt <= deadline) return;
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

  /** Cancels for good: no call after this. */
  close(): void {
    this.#closed = true;
    this.#wanted = undefined;
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    this.#armedAt = undefined;
  }

  #arm(deadline: number): void {
    this.#subscription?.unsubscribe();
    const delay = Math.max(0, deadline - this.scheduler.now());
    this.#armedAt = deadline;
    this.#subscription = this.scheduler.schedule(this.#wake, delay);
    if (this.#keepAlive) refTimer(this.#subscription);
  }

  /** The scheduled work, made once per timer rather than once per arming. */
  readonly #wake = (): void => this.#onWake();

  #onWake(): void {
    this.#subscription = undefined;
    this.#armedAt = undefined;
    if (this.#closed) return;
    const wanted = this.#wanted;
    if (wanted === undefined) return;
    const now = this.scheduler.now();
    if (now < wanted) {
      this.#arm(wanted);
      return;
    }
    this.#wanted = undefined;
    this.fire(now);
  }
}
