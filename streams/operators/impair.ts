import {
  Observable,
  Subject,
  asyncScheduler,
  share,
  type MonoTypeOperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { NetstackError } from '../../src/errors.js';
import { createRandom, randomSeed } from '../../src/random.js';
import type { Link } from '../links/link.js';

/**
 * Options of {@link impair}. Every probability is in [0, 1]; times are in milliseconds.
 */
export interface ImpairOptions {
  /** Probability that a frame is dropped. Default 0. */
  readonly loss?: number;
  /** Probability that a frame is delivered twice (the second time as a copy). Default 0. */
  readonly duplicate?: number;
  /**
   * Probability that a frame is held back and released right after the next frame (or after
   * `reorderTimeout` when no next frame comes, or before completion). Default 0.
   */
  readonly reorder?: number;
  /** How long a held-back frame waits at most for a frame to overtake it (ms). Default 10. */
  readonly reorderTimeout?: number;
  /** Fixed delay added to every frame (ms). Default 0. */
  readonly delay?: number;
  /**
   * Random extra delay, uniform in [0, jitter) ms. Jitter never reorders: a frame is never
   * delivered before the frame in front of it (use `reorder` for that). Default 0.
   */
  readonly jitter?: number;
  /**
   * Probability that one random bit of the frame is flipped. The flip is made in a copy, so the
   * sender's bytes are never touched. Applies to `Uint8Array` items only. Default 0.
   */
  readonly corrupt?: number;
  /** PRNG seed: the same seed and input give the same impairment. Default: random. */
  readonly seed?: number;
}

const PROBABILITIES = ['loss', 'duplicate', 'reorder', 'corrupt'] as const;
const DURATIONS = ['delay', 'jitter', 'reorderTimeout'] as const;
const KNOWN = new Set<string>([...PROBABILITIES, ...DURATIONS, 'seed']);

/**
 * Checks every option and throws one `NetstackError` (`ERR_INVALID_ARG_VALUE`) that names every
 * bad one, so a user fixes them all at once. Unknown keys are errors too (a typo such as `los`
 * would otherwise silently impair nothing).
 */
export function validateImpairOptions(options: ImpairOptions): void {
  const problems: string[] = [];
  if (options === null || typeof options !== 'object') {
    throw new NetstackError('ERR_INVALID_ARG_VALUE', 'impair: options must be an object');
  }
  const record = options as Readonly<Record<string, unknown>>;
  for (const key of Object.keys(record)) {
    if (!KNOWN.has(key)) problems.push(`unknown option "${key}"`);
  }
  for (const key of PROBABILITIES) {
    const v = record[key];
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1)) {
      problems.push(`${key} must be a probability in [0, 1] (got ${describe(v)})`);
    }
  }
  for (const key of DURATIONS) {
    const v = record[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
      problems.push(`${key} must be a finite number of milliseconds >= 0 (got ${describe(v)})`);
    }
  }
  const seed = record.seed;
  if (seed !== undefined && !(typeof seed === 'number' && Number.isSafeInteger(seed))) {
    problems.push(`seed must be a safe integer (got ${describe(seed)})`);
  }
  if (problems.length > 0) {
    throw new NetstackError('ERR_INVALID_ARG_VALUE', `impair: ${problems.join('; ')}`);
  }
}

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** A copy of `frame` with one random bit flipped. */
function flipOneBit(frame: Uint8Array, below: (n: number) => number): Uint8Array {
  const copy = frame.slice();
  if (copy.length > 0) {
    const bit = below(copy.length * 8);
    copy[bit >>> 3] ^= 1 << (bit & 7);
  }
  return copy;
}

/** A second delivery must not share bytes with the first: a receiver may rewrite its frame. */
function duplicateOf<T>(item: T): T {
  return (item instanceof Uint8Array ? item.slice() : item) as T;
}

/**
 * Impairs any frame stream, like Linux netem: loss, duplication, reordering, delay with jitter
 * and bit corruption, reproducible for a given `seed`. Stages, in order: loss → corrupt →
 * duplicate → reorder → delay.
 *
 * Timers run on `scheduler` (default `asyncScheduler`), so with a `TestScheduler` everything
 * happens in virtual time. Without delay and jitter, frames pass synchronously. Errors are
 * forwarded at once (pending frames are dropped, as a dead link loses what is in flight);
 * completion waits for a held-back frame and every delayed frame to be delivered. Unsubscribing
 * cancels every timer. Each subscription has its own PRNG started from `seed`.
 *
 * @throws NetstackError `ERR_INVALID_ARG_VALUE` naming every bad option.
 * @example
 * link.frames$.pipe(impair({ loss: 0.01, delay: 20, jitter: 5, seed: 7 }))
 */
export function impair<T>(options: ImpairOptions, scheduler: SchedulerLike = asyncScheduler): MonoTypeOperatorFunction<T> {
  validateImpairOptions(options);
  const loss = options.loss ?? 0;
  const duplicate = options.duplicate ?? 0;
  const reorder = options.reorder ?? 0;
  const reorderTimeout = options.reorderTimeout ?? 10;
  const delay = options.delay ?? 0;
  const jitter = options.jitter ?? 0;
  const corrupt = options.corrupt ?? 0;
  const seed = options.seed ?? randomSeed();
  const delayed = delay > 0 || jitter > 0;

  return (source) =>
    new Observable<T>((subscriber) => {
      const { next: random, below } = createRandom(seed);

      // Delay stage: a FIFO of frames and due times, with one timer for the head.
      const queue: T[] = [];
      const dueAt: number[] = [];
      let head = 0;
      let lastDue = -Infinity;
      let delayTimer: Subscription | null = null;
      let completing = false;

      // Reorder stage: at most one frame held back.
      let held: T | undefined;
      let holding = false;
      let holdTimer: Subscription | null = null;

      const finishIfDone = (): void => {
        if (completing && !holding && head === queue.length) subscriber.complete();
      };

      const flushDue = (): void => {
        delayTimer = null;
        const now = scheduler.now();
        while (head < queue.length && dueAt[head] <= now) {
          const item = queue[head];
          queue[head] = undefined as T; // let the frame be collected
          head++;
          subscriber.next(item);
          if (subscriber.closed) return;
        }
        if (head === queue.length) {
          queue.length = 0;
          dueAt.length = 0;
          head = 0;
          finishIfDone();
        } else {
          delayTimer = scheduler.schedule(flushDue, Math.max(0, dueAt[head] - now));
        }
      };

      const toDelay = (item: T): void => {
        if (!delayed) {
          subscriber.next(item);
          return;
        }
        const now = scheduler.now();
        // Never earlier than the frame in front: jitter must not reorder.
        const due = Math.max(now + delay + (jitter > 0 ? random() * jitter : 0), lastDue);
        lastDue = due;
        queue.push(item);
        dueAt.push(due);
        if (delayTimer === null) delayTimer = scheduler.schedule(flushDue, due - now);
      };

      const releaseHeld = (): void => {
        if (!holding) return;
        const item = held as T;
        held = undefined;
        holding = false;
        if (holdTimer !== null) {
          holdTimer.unsubscribe();
          holdTimer = null;
        }
        toDelay(item);
      };

      const onHoldTimeout = (): void => {
        holdTimer = null;
        releaseHeld();
        finishIfDone();
      };

      const toReorder = (item: T): void => {
        if (holding) {
          // This frame overtakes the one held back.
          toDelay(item);
          releaseHeld();
        } else if (reorder > 0 && random() < reorder) {
          held = item;
          holding = true;
          holdTimer = scheduler.schedule(onHoldTimeout, reorderTimeout);
        } else {
          toDelay(item);
        }
      };

      const subscription = source.subscribe({
        next(item) {
          if (loss > 0 && random() < loss) return;
          let out = item;
          if (corrupt > 0 && item instanceof Uint8Array && random() < corrupt) {
            out = flipOneBit(item, below) as T;
          }
          const twice = duplicate > 0 && random() < duplicate;
          toReorder(out);
          if (twice && !subscriber.closed) toReorder(duplicateOf(out));
        },
        error(err) {
          subscriber.error(err);
        },
        complete() {
          completing = true;
          releaseHeld();
          finishIfDone();
        },
      });

      return () => {
        subscription.unsubscribe();
        delayTimer?.unsubscribe();
        holdTimer?.unsubscribe();
        delayTimer = holdTimer = null;
        queue.length = dueAt.length = 0;
        held = undefined;
      };
    });
}

/** Options of {@link impairLink}: each direction is impaired only if given. */
export interface ImpairLinkOptions {
  /** Impairment of frames arriving from the link (its `frames$`). */
  readonly inbound?: ImpairOptions;
  /** Impairment of frames written to the link (its `send`). */
  readonly outbound?: ImpairOptions;
  /** Scheduler for delays. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
}

/**
 * Wraps a Link so that its inbound and/or outbound direction is impaired. The wrapper's
 * `frames$` is shared (one impairment for all subscribers, as a real lossy link drops a frame
 * for everybody). Outbound frames pass through their impairment into `link.send`; `close()`
 * drops outbound frames still delayed and closes the wrapped link.
 *
 * @throws NetstackError `ERR_INVALID_ARG_VALUE` when either direction's options are bad.
 */
export function impairLink(link: Link, options: ImpairLinkOptions): Link {
  const scheduler = options.scheduler ?? asyncScheduler;
  const inbound = options.inbound === undefined ? undefined : impair<Uint8Array>(options.inbound, scheduler);
  const outbound = options.outbound === undefined ? undefined : impair<Uint8Array>(options.outbound, scheduler);

  const frames$ = inbound === undefined ? link.frames$ : link.frames$.pipe(inbound, share());

  let closed = false;
  let send: (frame: Uint8Array) => void;
  let outboundSubscription: Subscription | null = null;
  if (outbound === undefined) {
    send = (frame) => {
      if (!closed) link.send(frame);
    };
  } else {
    const out = new Subject<Uint8Array>();
    outboundSubscription = out.pipe(outbound).subscribe((frame) => link.send(frame));
    send = (frame) => {
      if (!closed) out.next(frame);
    };
  }

  return {
    name: link.name,
    mtu: link.mtu,
    mac: link.mac,
    frames$,
    // Unchanged frames keep the vouching of the link below; changed copies are not in its set.
    checksumVerified: link.checksumVerified?.bind(link),
    send,
    close() {
      if (closed) return;
      closed = true;
      outboundSubscription?.unsubscribe();
      link.close();
    },
  };
}
