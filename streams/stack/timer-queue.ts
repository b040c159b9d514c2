import type { SchedulerLike } from 'rxjs';
import { DeadlineTimer } from './deadline-timer.js';

/** No deadline (queued or wanted). */
const NONE = Infinity;

/**
 * Many deadlines on one scheduler wake-up: a binary heap of `QueuedTimer`s ordered by deadline
 * (then by the order they were queued), with ONE `DeadlineTimer` armed for the earliest.
 *
 * Why: a TCP layer's connections each want a timer (the SYN-ACK's retransmission, the RTO, the
 * probes), and on the default scheduler every arming of its own was a Node `Timeout` object and
 * a timer-list insertion, every cancel a removal: four such calls for a short connection (about
 * 2 % of a connection-per-request server's busy time). Queued here, a connection's deadline is a
 * heap entry (O(log n), no allocation); the scheduler sees one timer per queue, re-armed only
 * when the earliest deadline moves earlier.
 *
 * Semantics are `DeadlineTimer`'s, per timer: lazy for later deadlines, `cancel()` and `close()`
 * take the timer out at once, `keepAlive` (see unref-scheduler.ts): the queue's wake-up keeps
 * the process alive while any queued timer wants that. Works on any scheduler (TestScheduler's
 * virtual time included); timers due at the same time fire in the order they were queued. A
 * wake-up held up past its time reads the links first (the DeadlineTimer's rule, late-wake.ts),
 * so an ACK that came meanwhile cancels its retransmission before the queue fires it.
 */
export class TimerQueue {
  /** The heap: heap[0] is the earliest; each timer knows its index (for removal). */
  readonly #heap: Array<QueuedTimer<unknown>> = [];
  /** Queue order, the tie-break among equal deadlines (and what a wake-up may fire). */
  #seq = 0;
  /** Queued timers with keepAlive on: the wake-up keeps the process alive while there are any. */
  #keptAlive = 0;
  readonly #wakeUp: DeadlineTimer<TimerQueue>;
  constructor(readonly scheduler: SchedulerLike) {
    this.#wakeUp = new DeadlineTimer<TimerQueue>(scheduler, TimerQueue.#wake, this);
  }

  /** A timer calling `fire.call(context, now)` when its deadline comes. */
  timer<C>(fire: (this: C, now: number) => void, context: C): QueuedTimer<C> {
    return new QueuedTimer<C>(this, fire, context);
  }

  /** Timers queued (for tests and diagnostics). */
  get size(): number {
    return this.#heap.length;
  }

  /** @internal Queues `t` (not queued) at `at`. */
  insert(t: QueuedTimer<unknown>, at: number): void {
    t.at = at;
    t.seq = this.#seq++;
    const heap = this.#heap;
    t.index = heap.length;
    heap.push(t);
    this.#up(t.index);
    if (t.keepAlive) this.#keepAliveDelta(1);
    if (heap[0] === t) this.#wakeUp.set(at);
  }

  /** @internal Takes `t` (queued) out. */
  remove(t: QueuedTimer<unknown>): void {
    const heap = this.#heap;
    const i = t.index;
    const last = heap.pop()!;
    if (last !== t) {
      heap[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
    t.index = -1;
    t.at = NONE;
    if (t.keepAlive) this.#keepAliveDelta(-1);
    // An earlier wake-up left armed finds nothing due and re-arms for the new earliest.
    if (heap.length === 0) this.#wakeUp.set(undefined);
  }

  /** @internal A queued timer's keepAlive changed. */
  keepAliveChanged(on: boolean): void {
    this.#keepAliveDelta(on ? 1 : -1);
  }

  #keepAliveDelta(d: number): void {
    const before = this.#keptAlive;
    this.#keptAlive = before + d;
    if (before === 0 || this.#keptAlive === 0) this.#wakeUp.keepAlive = this.#keptAlive > 0;
  }

  static #wake(this: TimerQueue, now: number): void {
    this.#fireDue(now);
  }

  /**
   * Fires every timer due at `now` that was queued before this wake-up; one queued during it
   * for a time already past (a callback's "at once") waits for the next wake-up, which is armed
   * with no delay, as a DeadlineTimer of its own would have been: a timer that keeps asking for
   * "now" cannot hold the loop.
   */
  #fireDue(now: number): void {
    const heap = this.#heap;
    const seqAtStart = this.#seq;
    try {
      while (heap.length > 0) {
        const top = heap[0];
        if (top.at > now || top.seq >= seqAtStart) break;
        this.remove(top);
        top.wake(now);
      }
    } finally {
      // Also after a throwing callback: the rest are not lost, they fire at the next wake-up.
      if (heap.length > 0) this.#wakeUp.set(heap[0].at);
    }
  }

  #less(a: QueuedTimer<unknown>, b: QueuedTimer<unknown>): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #up(i: number): void {
    const heap = this.#heap;
    const t = heap[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p];
      if (!this.#less(t, parent)) break;
      heap[i] = parent;
      parent.index = i;
      i = p;
    }
    heap[i] = t;
    t.index = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const t = heap[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.#less(heap[r], heap[l]) ? r : l;
      const child = heap[c];
      if (!this.#less(child, t)) break;
      heap[i] = child;
      child.index = i;
      i = c;
    }
    heap[i] = t;
    t.index = i;
  }
}

/**
 * One re-armable deadline in a `TimerQueue`, with `DeadlineTimer`'s interface: `set(deadline)`
 * (lazy: a later deadline than the queued one leaves it queued, and its wake-up re-queues for
 * the real one), `cancel()`, `close()`, `keepAlive`.
 */
export class QueuedTimer<C = undefined> {
  /** @internal The time it is queued at (NONE when not queued). */
  at = NONE;
  /** @internal Queue order (TimerQueue's tie-break). */
  seq = 0;
  /** @internal Its index in the heap, -1 when not queued. */
  index = -1;
  #wanted = NONE;
  #closed = false;
  #keepAlive = false;

  constructor(
    private readonly queue: TimerQueue,
    private readonly fire: (this: C, now: number) => void,
    private readonly context: C,
  ) {}

  /** Wants a call at `deadline` (ms, scheduler time); undefined cancels (lazily). */
  set(deadline: number | undefined): void {
    if (this.#closed) return;
    if (deadline === undefined) {
      // Left queued: it will find nothing wanted. Cheaper than a removal when the next ACK's
      // deadline comes back (set again later than `at`: a compare).
      this.#wanted = NONE;
      return;
    }
    this.#wanted = deadline;
    if (this.at <= deadline) return;
    if (this.index >= 0) this.queue.remove(this as QueuedTimer<unknown>);
    this.queue.insert(this as QueuedTimer<unknown>, deadline);
  }

  /** Whether this timer, while queued, keeps the process alive (default false). */
  set keepAlive(on: boolean) {
    if (on === this.#keepAlive) return;
    this.#keepAlive = on;
    if (this.index >= 0) this.queue.keepAliveChanged(on);
  }

  get keepAlive(): boolean {
    return this.#keepAlive;
  }

  /** As `set(undefined)`, but taken out of the queue now (a deadline gone for good). */
  cancel(): void {
    this.#wanted = NONE;
    if (this.index >= 0) this.queue.remove(this as QueuedTimer<unknown>);
  }

  /** Cancels for good: no call after this. */
  close(): void {
    this.#closed = true;
    this.cancel();
  }

  /** @internal Its queued time came (already taken out of the queue). */
  wake(now: number): void {
    if (this.#closed) return;
    const wanted = this.#wanted;
    if (wanted === NONE) return;
    if (now < wanted) {
      this.queue.insert(this as QueuedTimer<unknown>, wanted);
      return;
    }
    this.#wanted = NONE;
    this.fire.call(this.context, now);
  }
}
