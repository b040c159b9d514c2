import { Observable, type OperatorFunction, type Subscription, type Unsubscribable } from 'rxjs';
import { isPaced, pacedConcatMap, pacedRead, type PacedObservable, type PacedReader, type PacedSubscription } from './paced-concat-map.js';
import { netError } from '../../src/errors.js';

/** Where `relayTo` writes: a `TcpConnection`, or anything with the same two methods. */
export interface RelayTarget {
  /** Completes once `bytes` are taken (for a connection: in its send buffer). */
  write$(bytes: Uint8Array): Observable<void>;
  /** Called when the source completes (for a connection: FIN after everything written). */
  end(): void;
}

/**
 * A target that also takes bytes synchronously, as a `TcpConnection` does: `write` queues them
 * and says whether there is room for more, `drain$` emits when there is again (and completes
 * without a value when the target closes). `relayTo` then writes each chunk directly and only
 * waits when `write` said false: no Observable per chunk on a request/response path.
 */
interface DirectTarget extends RelayTarget {
  write(bytes: Uint8Array): boolean;
  /**
   * `write` copies the bytes it takes at once (a connection's send buffer), so the relay keeps no
   * view of a chunk but one whose write waited (at most one: reading stops until the drain).
   */
  readonly copiesWrites?: boolean;
  readonly drain$: Observable<void>;
  readonly error?: Error;
}

/** @internal What a direct relay reports to: its Subscriber, or a service's connection lifetime. */
export interface RelaySink {
  /** No more reports wanted (the subscriber unsubscribed, or the relay already ended). */
  readonly closed: boolean;
  error(err: unknown): void;
  complete(): void;
}

/** @internal Anything read at its consumer's pace: a paced `data$`, or a TcpConnection itself. */
export type PacedSource = Pick<PacedObservable<Uint8Array>, typeof pacedRead>;

/**
 * @internal `source.pipe(relayTo(target))` without an Observable or a Subscriber: for the stack's
 * own services (tcp-service.ts), which make one relay per accepted connection. `sink` hears the
 * end (after `target` is ended, when `end`) or the error; the result stops the relay.
 */
export function relayDirectly(source: PacedSource, target: RelayTarget, end: boolean, sink: RelaySink): Unsubscribable {
  if (!isDirect(target)) throw new TypeError('relayDirectly: the target has no synchronous write');
  return new DirectRelay(target, end, sink).start(source);
}

function isDirect(target: RelayTarget): target is DirectTarget {
  const t = target as Partial<DirectTarget>;
  return typeof t.write === 'function' && typeof t.drain$ === 'object';
}

export interface RelayOptions {
  /** End the target when the source completes (default true), as `stream.pipeline` does. */
  readonly end?: boolean;
}

/**
 * Writes every chunk of a connection's `data$` to `target`, reading no faster than `target`
 * takes them: while a write waits for room in the target's send buffer, the source connection
 * is not read, so its receive window closes and its peer stops sending. Memory stays bounded by
 * the two connections' buffers (plus the one chunk being written) however slow the far side is.
 *
 * When the source completes (its peer's FIN, after the last byte), the target is ended (FIN),
 * unless `{ end: false }`; the result then completes. Errors of either side (ECONNRESET, EPIPE)
 * error the result; nothing is destroyed for you.
 *
 * Apply it directly to `data$` (see `pacedConcatMap`): after other operators it still relays,
 * but buffers without bound while the target is full.
 *
 * @example
 * // An echo server.
 * stack.tcp.listen({ port: 7 }).pipe(mergeMap((c) => c.data$.pipe(relayTo(c)))).subscribe();
 * // A proxy, both directions.
 * merge(a.data$.pipe(relayTo(b)), b.data$.pipe(relayTo(a))).subscribe();
 */
export function relayTo(target: RelayTarget, options: RelayOptions = {}): OperatorFunction<Uint8Array, never> {
  const end = options.end ?? true;
  return (source) => {
    if (isPaced(source) && isDirect(target)) return directRelay(source, target, end);
    return new Observable<never>((subscriber) =>
      source.pipe(pacedConcatMap((chunk) => target.write$(chunk))).subscribe({
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          if (end) target.end();
          subscriber.complete();
        },
      }),
    );
  };
}

/** The relay for a paced source and a target that writes synchronously (see DirectTarget). */
function directRelay(source: PacedObservable<Uint8Array>, target: DirectTarget, end: boolean): Observable<never> {
  return new Observable<never>((subscriber) => new DirectRelay(target, end, subscriber).start(source));
}

/**
 * One relay's state, and the paced reader of its source: an echo service makes one per
 * connection, so its callbacks are methods rather than closures made for each.
 */
class DirectRelay implements PacedReader<Uint8Array>, Unsubscribable {
  #paced: PacedSubscription | undefined;
  #waiting: Subscription | undefined;
  /** The target drained while the source was still handing over its first chunks. */
  #resumeWanted = false;

  constructor(
    readonly target: DirectTarget,
    readonly endTarget: boolean,
    readonly subscriber: RelaySink,
  ) {}

  /** The source may lend views (see PacedReader.copies) when the target copies what it writes. */
  get copies(): boolean {
    return this.target.copiesWrites === true;
  }

  start(source: PacedSource): Unsubscribable {
    const paced = source[pacedRead](this);
    this.#paced = paced;
    if (this.#resumeWanted && !this.subscriber.closed) paced.resume();
    return this;
  }

  next(chunk: Uint8Array): boolean {
    if (this.target.write(chunk)) return true;
    this.#wait();
    return false;
  }

  error(err: unknown): void {
    this.subscriber.error(err);
  }

  complete(): void {
    if (this.endTarget) this.target.end();
    this.subscriber.complete();
  }

  unsubscribe(): void {
    this.#waiting?.unsubscribe();
    this.#paced?.unsubscribe();
  }

  /** The target is full: reading waits for its drain (rare on a request/response path). */
  #wait(): void {
    let drained = false;
    this.#waiting = this.target.drain$.subscribe({
      next: () => {
        drained = true;
        this.#waiting?.unsubscribe();
        this.#waiting = undefined;
        if (this.#paced === undefined) this.#resumeWanted = true;
        else this.#paced.resume();
      },
      complete: () => {
        if (!drained) this.subscriber.error(this.target.error ?? netError('EPIPE', 'relayTo: the target closed', 'write'));
      },
    });
  }
}
