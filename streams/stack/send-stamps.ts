import { VirtualTimeScheduler, type SchedulerLike } from 'rxjs';
import type { TcpConnectionCore } from '../../src/tcp/connection.js';
import { emptyArray } from '../../src/empty-array.js';
import { atEndOfTask } from '../microtask.js';
import { atTaskClockEnd, freshNow, unrefScheduler } from './unref-scheduler.js';

/**
 * Gives the TCP segments built in a task the time they leave (TcpConnectionCore.stampSent).
 *
 * The stack's clock is read once per task (unref-scheduler.ts), and a segment's send time is
 * that reading, the start of the task that built it; but the link writes the task's frames in
 * one flush at its end (tap-link.ts). Measured from the start, every RTT sample held the
 * sender's own task (a batch of some 40 segments over TAP): RACK's minimum RTT came out at
 * 0.11-0.33 ms on a 37 us path, and the send buffer, bounded by the delivery over that minimum,
 * grew to megabytes. Here the connections that recorded send times in a task (the core tells
 * its host once per batch, TcpHost.onSendTimed) are stamped at the end of the task with one
 * fresh clock reading for all, as Linux stamps a segment when it is handed to the driver: with
 * the default scheduler in the microtask that drops the task's clock reading, which was queued
 * before the link's flush (so the stamp precedes the write call, whose run the kernel's answer
 * may come from: the TAP peer acknowledges inside it), else in a microtask of its own.
 *
 * Under a virtual-time scheduler (TestScheduler) no stamp is taken: no time passes in a task
 * there, and the end of the task comes after the whole virtual run, so send times stay the
 * build time, exactly as before.
 */
export class SendStamps {
  readonly #scheduler: SchedulerLike;
  readonly #enabled: boolean;
  /** Connections with send times waiting for this task's stamp (each at most once a batch). */
  readonly #waiting: TcpConnectionCore[] = [];
  /** Whether the scheduler is the stack's default, whose per-task clock reset can stamp too. */
  readonly #unref: boolean;
  readonly #stampAt = (now: number): void => {
    const waiting = this.#waiting;
    for (let i = 0; i < waiting.length; i++) waiting[i].stampSent(now);
    emptyArray(waiting);
  };
  readonly #stampAll = (): void => this.#stampAt(freshNow(this.#scheduler));

  constructor(scheduler: SchedulerLike) {
    this.#scheduler = scheduler;
    this.#enabled = !(scheduler instanceof VirtualTimeScheduler);
    this.#unref = scheduler === unrefScheduler;
  }

  /** `core` recorded send times in this task (its host's onSendTimed). */
  note(core: TcpConnectionCore): void {
    if (!this.#enabled) return;
    if (this.#waiting.length === 0) {
      // With the stack's default scheduler the stamp rides on the microtask that drops the
      // task's clock reading (queued with that reading, before the link's flush): no promise
      // reaction of its own per task, which request/response paths would pay per transaction.
      if (!(this.#unref && atTaskClockEnd(this.#stampAt))) atEndOfTask(this.#stampAll);
    }
    this.#waiting.push(core);
  }
}
