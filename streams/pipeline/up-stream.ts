import { config, Observable, Subscriber, Subscription, type Observer } from 'rxjs';
import { DirectGate } from './direct-gate.js';

/**
 * The inbound side of a boundary as the stack's own layers take it: an Observable like any
 * other (`up$`, for users: operators, subscribers), which a layer above may also `attach` to
 * with a plain observer, so that each item reaches it by direct calls instead of through a
 * chain of RxJS Subscribers (each of which adds a `next`, a `_next` and a consumer wrapper per
 * item and per hop).
 *
 * Both ways run the same code: an `UpStream` is made of one attach function, and subscribing
 * it attaches the subscriber. Whoever makes a new stream from one (`pipe()`, `between()` with an
 * `up` operator, `{ ...boundary, up$: boundary.up$.pipe(op) }`) gets a plain Observable, so a
 * layer over it takes the Observable path: the direct path exists only where nothing was
 * inserted, and cannot skip what was. Items, order, errors and completion are the same on both.
 */
export class UpStream<T> extends Observable<T> {
  readonly #attach: (observer: Observer<T>) => Subscription;
  /** @internal The direct way in past the hops below this stream, when a layer offers one (see DirectIn). */
  readonly direct: DirectIn<T> | undefined;

  /** `attach(observer)` delivers to `observer` until the returned Subscription is unsubscribed. */
  constructor(attach: (observer: Observer<T>) => Subscription, direct?: DirectIn<T>) {
    super((subscriber) => attach(subscriber));
    this.#attach = attach;
    this.direct = direct;
  }

  /** Delivers to `observer` by direct calls (no Subscriber per hop) until unsubscribed. */
  attach(observer: Observer<T>): Subscription {
    return this.#attach(observer);
  }
}

/**
 * @internal The inbound counterpart of `Sink.fused`: a layer further down offers to call the
 * layer that attaches to this stream straight from its own input, past the hops between
 * (demuxes, tap points), while its gate is open (nobody observes them). The layer above still
 * attaches as usual (that claims its key and keeps the stream running, and it is the way
 * items take whenever the direct way is closed); `take` adds its handler at the bottom. Only
 * `UpStream`s carry it: whatever is inserted (`pipe()`, `between()` with an `up` operator)
 * makes a plain Observable, so an operator always sees every item. A tap point's wrapper
 * passes it on, and keeps the gate shut while anyone observes its `up$`.
 */
export interface DirectIn<T> {
  /**
   * Calls `handler` for the items the layer below would have passed up this stream, from
   * below, whenever `gate.shut === 0`, until the Subscription is unsubscribed. Every hop the
   * way skips keeps `gate` (GateKeeper) from here until then. The layer above takes it
   * together with its attachment and lets go of both together.
   */
  take(handler: (item: T) => void, gate: DirectGate): Subscription;
}

/** `up$`'s direct way in, when it is an `UpStream` that offers one. */
export function directOf<T>(up$: Observable<T>): DirectIn<T> | undefined {
  return up$ instanceof UpStream ? (up$ as UpStream<T>).direct : undefined;
}

/**
 * Takes the items of `up$` with `handler`: by direct calls when `up$` is an `UpStream`,
 * otherwise subscribed through one lean Subscriber. Either way a handler that throws is
 * reported as RxJS reports a subscriber's error (asynchronously, or `config.onUnhandledError`)
 * and the items after it keep coming. This is how a layer takes its lower boundary's `up$`.
 */
export function attachUp<T>(up$: Observable<T>, handler: ((item: T) => void) | Observer<T>): Subscription {
  const observer = typeof handler === 'function' ? nextOnly(handler) : handler;
  if (up$ instanceof UpStream) return (up$ as UpStream<T>).attach(observer);
  return up$.subscribe(new DirectSubscriber(observer));
}

/** @internal A Subscriber that calls `observer` itself (see DirectSubscriber below). */
export function directSubscriber<T>(observer: Observer<T>): Subscriber<T> {
  return new DirectSubscriber(observer);
}

/** An observer of `next` alone: an error is reported as unhandled, as RxJS does without a handler. */
function nextOnly<T>(next: (item: T) => void): Observer<T> {
  return { next, error: reportUnhandled, complete: noop };
}

function noop(): void {}

/** @internal What RxJS does with an error nobody handles: `config.onUnhandledError`, else thrown from a timer. */
export function reportUnhandled(err: unknown): void {
  const handler = config.onUnhandledError;
  if (handler !== null) {
    handler(err);
    return;
  }
  setTimeout(() => {
    throw err;
  });
}

/**
 * A Subscriber that calls a plain observer itself: one call per item where RxJS's own
 * subscriber goes through `_next` and a consumer wrapper. Like that wrapper, it catches what
 * the observer throws and reports it (the source's loop goes on to the next item), stops
 * after an error or completion, and lets go of the source then.
 */
class DirectSubscriber<T> extends Subscriber<T> {
  readonly #observer: Observer<T>;

  constructor(observer: Observer<T>) {
    super();
    this.#observer = observer;
  }

  override next(value: T): void {
    if (this.isStopped) return;
    try {
      this.#observer.next(value);
    } catch (err) {
      reportUnhandled(err);
    }
  }

  override error(err: unknown): void {
    if (this.isStopped) return;
    this.isStopped = true;
    try {
      this.#observer.error(err);
    } catch (thrown) {
      reportUnhandled(thrown);
    } finally {
      this.unsubscribe();
    }
  }

  override complete(): void {
    if (this.isStopped) return;
    this.isStopped = true;
    try {
      this.#observer.complete();
    } catch (thrown) {
      reportUnhandled(thrown);
    } finally {
      this.unsubscribe();
    }
  }
}

/**
 * `attachUp(up$, handler)`, and the direct way in too when `up$` offers one: `handler` is then
 * also called from the layer below while the hops between are unobserved. One Subscription for
 * both. `handler` must not depend on which way an item came.
 */
export function attachUpDirect<T>(up$: Observable<T>, handler: (item: T) => void): Subscription {
  const subscription = attachUp(up$, handler);
  const direct = directOf(up$);
  // Not when the attachment failed (a claimed key): the holder's direct way stays its own.
  if (direct !== undefined && !subscription.closed) subscription.add(direct.take(handler, new DirectGate()));
  return subscription;
}
