import { Observable, asyncScheduler, type MonoTypeOperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { NetstackError } from '../../src/errors.js';

/** Options of {@link shape}. */
export interface ShapeOptions<T> {
  /** The sustained rate, in bytes per second (> 0). */
  readonly bytesPerSecond: number;
  /** Bytes that may pass back to back after a quiet period (the bucket size). Default 16 KiB. */
  readonly burstBytes?: number;
  /**
   * Bytes allowed to wait (> 0). An item that would make the queue longer is dropped (tail
   * drop, as a router's queue does) and handed to `onDrop`. Default 256 KiB.
   */
  readonly queueBytes?: number;
  /** Called with every dropped item (count them, log them). */
  readonly onDrop?: (item: T) => void;
  /** The size of an item in bytes. Default: its `length` (frames are Uint8Arrays). */
  readonly sizeOf?: (item: T) => number;
  /** Where the waiting happens. Default asyncScheduler; tests pass a TestScheduler. */
  readonly scheduler?: SchedulerLike;
}

/**
 * A traffic shaper: lets items through at `bytesPerSecond` on average (a token bucket of
 * `burstBytes`), holding the excess in a bounded FIFO queue and dropping what does not fit.
 * Order is kept. Put it at a link's egress to emulate a slow line, or between two layers:
 *
 * @example
 * createStack(config, { hooks: { link: { down: shape({ bytesPerSecond: 1_000_000 }) } } });
 *
 * An item larger than the bucket passes when the bucket is full (the bucket then goes into
 * debt), so no size blocks the queue for ever. Completion waits for the queue to drain; an
 * error is passed on at once (what waits is dropped).
 */
export function shape<T>(options: ShapeOptions<T>): MonoTypeOperatorFunction<T> {
  const rate = options.bytesPerSecond;
  const burst = options.burstBytes ?? 16 * 1024;
  const queueLimit = options.queueBytes ?? 256 * 1024;
  const problems: string[] = [];
  if (!(typeof rate === 'number' && rate > 0 && Number.isFinite(rate))) problems.push(`bytesPerSecond: ${String(rate)} is not a number > 0`);
  if (!(typeof burst === 'number' && burst > 0 && Number.isFinite(burst))) problems.push(`burstBytes: ${String(burst)} is not a number > 0`);
  if (!(typeof queueLimit === 'number' && queueLimit > 0)) problems.push(`queueBytes: ${String(queueLimit)} is not a number > 0`);
  if (problems.length > 0) throw new NetstackError('ERR_INVALID_ARG_VALUE', `shape: ${problems.join('; ')}`);
  const scheduler = options.scheduler ?? asyncScheduler;
  const sizeOf = options.sizeOf ?? ((item: T) => (item as unknown as { length: number }).length);

  return (source) =>
    new Observable<T>((subscriber) => {
      let tokens = burst;
      let last = scheduler.now();
      const queue: T[] = [];
      let queued = 0;
      let timer: Subscription | undefined;
      let sourceDone = false;

      const refill = (): void => {
        const now = scheduler.now();
        tokens = Math.min(burst, tokens + ((now - last) * rate) / 1000);
        last = now;
      };
      // Sends what the bucket allows from the head of the queue; arms a timer for the rest.
      const drain = (): void => {
        timer = undefined;
        refill();
        while (queue.length > 0) {
          const size = sizeOf(queue[0]);
          const need = Math.min(size, burst);
          if (tokens < need) {
            timer = scheduler.schedule(drain, Math.max(1, Math.ceil(((need - tokens) * 1000) / rate)));
            return;
          }
          tokens -= size;
          queued -= size;
          subscriber.next(queue.shift() as T);
        }
        if (sourceDone) subscriber.complete();
      };

      const subscription = source.subscribe({
        next(item) {
          const size = sizeOf(item);
          if (queue.length === 0) {
            refill();
            if (tokens >= Math.min(size, burst)) {
              tokens -= size;
              subscriber.next(item);
              return;
            }
          }
          if (queued + size > queueLimit) {
            options.onDrop?.(item);
            return;
          }
          queue.push(item);
          queued += size;
          if (timer === undefined) drain();
        },
        error(err) {
          subscriber.error(err);
        },
        complete() {
          sourceDone = true;
          if (queue.length === 0) subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        timer?.unsubscribe();
        queue.length = 0;
      };
    });
}
