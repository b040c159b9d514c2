/**
 * Waiting in the test's time base: for a frame at the peer, for a connection state, or for
 * nothing to happen. Each wait comes twice: as an Observable (`nextFrame$`) for marble tests and
 * pipelines, and as a Promise (`nextFrame`) for `async` tests. Both fail with an
 * `AssertionError` that says what was awaited, for how long, and what came instead, when the
 * time runs out on the given scheduler: virtual milliseconds under a TestScheduler (advance it,
 * or run the test inside `run()`), real ones under the default `asyncScheduler`.
 */
import { AssertionError } from 'node:assert';
import {
  asyncScheduler, defer, filter, firstValueFrom, lastValueFrom, Observable, of, take, tap, throwError, throwIfEmpty, timeout, timer,
  type MonoTypeOperatorFunction, type SchedulerLike, type VirtualTimeScheduler,
} from 'rxjs';
import type { TcpConnection, TcpState } from '../index.js';
import { describeFrame, type DecodedFrame, type ReceivedFrame } from './decode.js';
import type { FrameMatcher } from './match.js';
import type { TestPeer } from './peer.js';

/** How long to wait. */
export interface WaitOptions {
  /** Default 5000 ms, on the scheduler of the peer (frame waits) or `scheduler` (others). */
  readonly timeoutMs?: number;
}

/** How long to wait, and on which clock. */
export interface ClockedWaitOptions extends WaitOptions {
  /**
   * The clock of the timeout. Default `asyncScheduler` (real time; inside `TestScheduler.run()`
   * RxJS moves it to virtual time). Pass the stack's scheduler when the test advances a
   * TestScheduler by hand.
   */
  readonly scheduler?: SchedulerLike;
}

const DEFAULT_TIMEOUT_MS = 5000;

/**
 * An operator that fails with an AssertionError (`no <what> within <ms> ms`) when the source
 * has not emitted within `ms` on `scheduler`. `what` is called only then, so it may describe
 * the state at the time of failure.
 */
export function failAfter<T>(ms: number, scheduler: SchedulerLike, what: () => string): MonoTypeOperatorFunction<T> {
  return (source) =>
    defer(() => {
      const start = scheduler.now();
      return source.pipe(
        timeout<T, Observable<never>>({
          first: ms,
          scheduler,
          with: () => throwError(() => new AssertionError({ message: `no ${what()} within ${ms} ms (waited from t=${start} to t=${scheduler.now()})` })),
        }),
      );
    });
}

function recent(peer: TestPeer): string {
  const frames = peer.pending.slice(-8);
  if (frames.length === 0) return 'nothing pending';
  return `pending: ${frames.map((f) => `t=${f.at} ${describeFrame(f)}`).join('; ')}`;
}

/**
 * The first frame `matcher` accepts among those the peer received and nobody took yet, or the
 * first such frame to arrive: emits it (taking it from the peer's pending frames) and completes.
 * Frames it skips stay pending for later waits.
 */
export function nextFrame$<T extends DecodedFrame>(peer: TestPeer, matcher: FrameMatcher<T>, options: WaitOptions = {}): Observable<T & ReceivedFrame> {
  const ms = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return defer(() => {
    const ready = peer.take(matcher);
    if (ready !== undefined) return of(ready);
    return peer.frames$.pipe(
      // Still pending: an earlier waiter may have taken it in the same emission.
      filter((f): f is T & ReceivedFrame => matcher(f) && peer.claim(f)),
      take(1),
      throwIfEmpty(() => new AssertionError({ message: `the link closed before a frame matching ${matcher.description} arrived` })),
      failAfter(ms, peer.scheduler, () => `frame matching ${matcher.description} (${recent(peer)})`),
    );
  });
}

/** `nextFrame$` as a Promise. */
export function nextFrame<T extends DecodedFrame>(peer: TestPeer, matcher: FrameMatcher<T>, options: WaitOptions = {}): Promise<T & ReceivedFrame> {
  return firstValueFrom(nextFrame$(peer, matcher, options));
}

/**
 * Completes after `forMs` on the peer's scheduler when no frame `matcher` accepts is pending or
 * arrives meanwhile; otherwise fails at once with an AssertionError naming the frame. Frames
 * are not taken.
 */
export function expectNoFrame$(peer: TestPeer, matcher: FrameMatcher, forMs: number): Observable<void> {
  return defer(() => {
    const fail = (f: ReceivedFrame) =>
      throwError(() => new AssertionError({ message: `expected no frame matching ${matcher.description} for ${forMs} ms, got t=${f.at} ${describeFrame(f)}` }));
    const already = peer.pending.find((f) => matcher(f));
    if (already !== undefined) return fail(already);
    return new Observable<void>((subscriber) => {
      const arrivals = peer.frames$.pipe(filter((f) => matcher(f))).subscribe((f) => fail(f).subscribe(subscriber));
      const done = timer(forMs, peer.scheduler).subscribe(() => subscriber.complete());
      return () => {
        arrivals.unsubscribe();
        done.unsubscribe();
      };
    });
  });
}

/** `expectNoFrame$` as a Promise. */
export function expectNoFrame(peer: TestPeer, matcher: FrameMatcher, forMs: number): Promise<void> {
  return lastValueFrom(expectNoFrame$(peer, matcher, forMs), { defaultValue: undefined });
}

/**
 * Emits `state` once the connection is in it (at once if it already is) and completes. Fails
 * with an AssertionError when it is not reached in time, or when the connection closes without
 * reaching it; the message lists the states seen.
 */
export function waitForState$(conn: TcpConnection, state: TcpState, options: ClockedWaitOptions = {}): Observable<TcpState> {
  const ms = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const scheduler = options.scheduler ?? asyncScheduler;
  return defer(() => {
    const seen: TcpState[] = [];
    const history = () => seen.join(' -> ') || 'none';
    return conn.state$.pipe(
      tap((s) => seen.push(s)),
      filter((s) => s === state),
      take(1),
      (source) =>
        new Observable<TcpState>((subscriber) =>
          source.subscribe({
            next: (s) => subscriber.next(s),
            error: (err: unknown) => subscriber.error(err),
            complete: () => {
              if (seen.at(-1) !== state) {
                const why = conn.error === undefined ? '' : ` (${conn.error.code})`;
                subscriber.error(new AssertionError({ message: `connection ${conn.localPort}->${conn.remotePort} closed${why} without reaching ${state}; states: ${history()}` }));
              } else subscriber.complete();
            },
          }),
        ),
      failAfter(ms, scheduler, () => `${state} on ${conn.localPort}->${conn.remotePort} (states: ${history()})`),
    );
  });
}

/** `waitForState$` as a Promise. */
export function waitForState(conn: TcpConnection, state: TcpState, options: ClockedWaitOptions = {}): Promise<TcpState> {
  return firstValueFrom(waitForState$(conn, state, options));
}

/**
 * The first value of `source$` that `predicate` accepts, within the timeout: the general form
 * of the waits above (`waitFor$(stack.tcp.listen({ port: 80 }), () => true, { what: 'a connection' })`).
 */
export function waitFor$<T>(source$: Observable<T>, predicate: (value: T) => boolean, options: ClockedWaitOptions & { readonly what?: string } = {}): Observable<T> {
  const ms = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return source$.pipe(
    filter(predicate),
    take(1),
    throwIfEmpty(() => new AssertionError({ message: `the source completed without ${options.what ?? 'a matching value'}` })),
    failAfter(ms, options.scheduler ?? asyncScheduler, () => options.what ?? 'matching value'),
  );
}

/** `waitFor$` as a Promise. */
export function waitFor<T>(source$: Observable<T>, predicate: (value: T) => boolean, options: ClockedWaitOptions & { readonly what?: string } = {}): Promise<T> {
  return firstValueFrom(waitFor$(source$, predicate, options));
}

/**
 * Moves a TestScheduler (or any VirtualTimeScheduler) that is not inside `run()` forward by
 * `ms`, running everything due by then, and leaves its clock exactly there. Promises that the
 * actions settled resolve after the next `await`.
 */
export function advance(scheduler: VirtualTimeScheduler, ms: number): void {
  const target = scheduler.now() + ms;
  scheduler.schedule(() => undefined, ms);
  scheduler.maxFrames = target;
  scheduler.flush();
}
