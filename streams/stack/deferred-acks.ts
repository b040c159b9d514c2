import type { SchedulerLike } from 'rxjs';
import type { TcpConnectionCore } from '../../src/tcp/connection.js';
import { emptyArray } from '../../src/empty-array.js';
import { atInboundBatchEnd } from '../inbound-batch.js';

/**
 * The TCP layer's side of TcpHost.deferAck: while a link hands up one wake-up's frames (an
 * inbound batch, inbound-batch.ts), the ACK a connection owes for in-order data is built at the
 * end of the batch (and at most every 128 KiB before it) instead of once per two full segments.
 *
 * In bulk to the stack over TAP with offload, every 64 KiB segment owed an ACK; the TCP core
 * built each (a record, its headers, a packet buffer) and the link's ACK coalescer then dropped
 * nearly all of them before writing (ack-coalescer.ts): ~14 of every 15 built for nothing. Now
 * half as many are built, and the ones written are the same (docs/history/topics.md
 * "Session 7: bulk to the stack").
 * Outside a batch (in-memory links, timers, user calls) nothing is deferred.
 */
export class DeferredAcks {
  readonly #scheduler: SchedulerLike;
  /** Connections whose ACK waits for the end of this batch (each at most once a batch). */
  readonly #waiting: TcpConnectionCore[] = [];
  readonly #sendAll = (): void => {
    const waiting = this.#waiting;
    const now = this.#scheduler.now();
    for (let i = 0; i < waiting.length; i++) waiting[i].sendDeferredAck(now);
    emptyArray(waiting);
  };

  constructor(scheduler: SchedulerLike) {
    this.#scheduler = scheduler;
  }

  /** TcpHost.deferAck: true when inside a batch (the ACK then leaves at its end). */
  defer(core: TcpConnectionCore): boolean {
    if (this.#waiting.length === 0 && !atInboundBatchEnd(this.#sendAll)) return false;
    this.#waiting.push(core);
    return true;
  }
}
