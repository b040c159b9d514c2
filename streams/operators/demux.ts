import { Observable, Subject, Subscription, type Observer } from 'rxjs';
import { NetstackError } from '../../src/errors.js';
import { attachUp, UpStream } from '../pipeline/up-stream.js';
import { GateKeeper, type DirectGate } from '../pipeline/direct-gate.js';
import { pinFrame } from '../frame-lease.js';

/**
 * The keyed demux of DESIGN.md: one source stream split into one Observable per key, routed
 * with ONE `Map` lookup per item whatever the number of endpoints (never one `filter` per
 * endpoint, which would cost O(endpoints) per item and subscribe the source once per branch).
 *
 * - `endpoint(key)` is cold until subscribed; subscribing claims the key. A second subscription
 *   to a claimed key errors at once with `NetstackError` code `EADDRINUSE` (like binding a port
 *   twice). Unsubscribing, or the endpoint's error/complete, releases the key.
 * - `unmatched$` gets every item whose key is `undefined` or has no endpoint. It is hot and may
 *   have several subscribers. Items that arrive while nobody listens to it are dropped and
 *   counted, never buffered (a flood of strangers must not grow memory).
 * - The source is subscribed once, and only while at least one endpoint or `unmatched$`
 *   subscriber exists (reference counting, like `share()`): the last one leaving unsubscribes
 *   it, the next one arriving subscribes it again.
 * - Source error/complete is forwarded to every endpoint and every `unmatched$` subscriber and
 *   releases every key; a later subscriber starts a fresh source subscription (as `share()`
 *   with its default resets does).
 *
 * Each claimed key maps straight to its endpoint's observer (a key has at most one, so a
 * Subject in between would add a hop and an array of observers for nothing). Endpoints are
 * `UpStream`s: a layer that `attach`es to one (streams/pipeline/up-stream.ts) is called
 * directly, a subscriber is called as usual; and when `source$` is an `UpStream` the demux
 * attaches to it likewise. The per-item path allocates nothing and creates no closures.
 *
 * Stats: every routed item is counted in exactly one of `routed` (to an endpoint), `unmatched`
 * (delivered to `unmatched$`) or `dropped` (unmatched, and nobody listened to `unmatched$`).
 *
 * @example
 * const byType = createDemux(frames$, (f) => f.length >= 14 ? (f[12] << 8) | f[13] : undefined);
 * byType.endpoint(0x0806).subscribe(handleArp);
 * byType.endpoint(0x0800).subscribe(handleIpv4);
 * byType.unmatched$.subscribe(countUnknownEthertype);
 */

export interface DemuxOptions<K> {
  /** Name used in error messages (`ethertype`, `udp`). Default `demux`. */
  readonly name?: string;
  /** Formats a key for error messages. Default `String(key)`. */
  readonly formatKey?: (key: K) => string;
}

export interface DemuxStats {
  /** Items delivered to an endpoint. */
  routed: number;
  /** Items with no endpoint, delivered to `unmatched$`. */
  unmatched: number;
  /** Items with no endpoint while nobody subscribed to `unmatched$`. */
  dropped: number;
}

export interface Demux<T, K> {
  /** The Observable of one key. Subscribing (or attaching) claims the key (EADDRINUSE if already claimed). */
  endpoint(key: K): Observable<T>;
  /** Items that no endpoint claimed (hot; unobserved items are dropped and counted). */
  readonly unmatched$: Observable<T>;
  /**
   * Observe-only: every item of `key` (every item at all when `key` is omitted) as it passes,
   * before it is routed, whether or not anyone claimed the key. Claims nothing, keeps nothing,
   * does not keep the source subscribed by itself (it sees items while the demux runs).
   */
  observe$(key?: K): Observable<T>;
  /** Whether `key` is currently claimed by a subscriber. */
  has(key: K): boolean;
  /** @internal Whether anyone subscribes to `observe$` (of any key): an item that skips the demux would go unseen. */
  readonly observed: boolean;
  /** @internal Shuts `gate` (a direct way in past this demux) while anyone subscribes to `observe$`. */
  keepGate(gate: DirectGate): Subscription;
  /** Number of claimed keys. */
  readonly size: number;
  /** Live counters (read them; do not write them). */
  readonly stats: Readonly<DemuxStats>;
}

/**
 * Splits `source$` by `keyOf(item)`. `keyOf` runs once per item and must not throw (return
 * `undefined` for items that have no key, e.g. a frame too short to hold one); if it throws
 * anyway, the error ends the demux like a source error.
 */
export function createDemux<T, K>(
  source$: Observable<T>,
  keyOf: (item: T) => K | undefined,
  options: DemuxOptions<K> = {},
): Demux<T, K> {
  const name = options.name ?? 'demux';
  const formatKey = options.formatKey ?? String;
  const endpoints = new Map<K, Observer<T>>();
  let unmatched = new Subject<T>();
  let unmatchedObservers = 0;
  const stats: DemuxStats = { routed: 0, unmatched: 0, dropped: 0 };

  let connected = false;
  let sourceSubscription: Subscription | null = null;
  // Observe-only taps: one Subject for all items, one per observed key; `taps` counts them so
  // the per-item path tests one number while nobody observes.
  const observeAll = new Subject<T>();
  const observeKey = new Map<K, Subject<T>>();
  let taps = 0;
  const keeper = new GateKeeper();

  // One observer object for the life of the demux: the per-item path creates nothing.
  const sourceObserver: Observer<T> = {
    next(item: T): void {
      let key: K | undefined;
      try {
        key = keyOf(item);
      } catch (err) {
        terminate(err, true);
        return;
      }
      if (taps > 0) notifyTaps(key, item);
      if (key !== undefined) {
        const endpoint = endpoints.get(key);
        if (endpoint !== undefined) {
          stats.routed++;
          endpoint.next(item);
          return;
        }
      }
      if (unmatchedObservers > 0) {
        stats.unmatched++;
        unmatched.next(item);
      } else {
        stats.dropped++;
      }
    },
    error(err: unknown): void {
      terminate(err, true);
    },
    complete(): void {
      terminate(undefined, false);
    },
  };

  function notifyTaps(key: K | undefined, item: T): void {
    // An observer may keep what it is shown (a frame, or a record with views of it): the
    // frame being handed up is held for good (frame-lease.ts), whatever its consumer says.
    if (observeAll.observed) {
      pinFrame();
      observeAll.next(item);
    }
    if (key === undefined) return;
    const subject = observeKey.get(key);
    if (subject !== undefined) {
      pinFrame();
      subject.next(item);
    }
  }

  function observe$(key?: K): Observable<T> {
    return new Observable<T>((subscriber) => {
      let subject = observeAll;
      if (key !== undefined) {
        subject = observeKey.get(key) ?? new Subject<T>();
        observeKey.set(key, subject);
      }
      const inner = subject.subscribe(subscriber);
      taps++;
      keeper.observed = true;
      return () => {
        inner.unsubscribe();
        taps--;
        keeper.observed = taps > 0;
        if (key !== undefined && !subject.observed && observeKey.get(key) === subject) observeKey.delete(key);
      };
    });
  }

  function connect(): void {
    if (connected) return;
    connected = true;
    const subscription = attachUp(source$, sourceObserver);
    // A synchronous source may have ended (or the last subscriber left) during subscribe().
    if (connected) sourceSubscription = subscription;
    else subscription.unsubscribe();
  }

  function disconnectIfUnused(): void {
    if (!connected || endpoints.size > 0 || unmatchedObservers > 0) return;
    connected = false;
    const subscription = sourceSubscription;
    sourceSubscription = null;
    subscription?.unsubscribe();
  }

  function terminate(err: unknown, isError: boolean): void {
    const subscription = sourceSubscription;
    connected = false;
    sourceSubscription = null;
    // keyOf threw: the source is still live and must be let go.
    subscription?.unsubscribe();

    // Release every key before notifying, so a subscriber that re-claims its key from inside
    // its own complete/error handler starts a fresh source subscription.
    const ended = [...endpoints.values()];
    endpoints.clear();
    const endedUnmatched = unmatched;
    unmatched = new Subject<T>();
    unmatchedObservers = 0;

    for (const endpoint of ended) {
      if (isError) endpoint.error(err);
      else endpoint.complete();
    }
    if (isError) endedUnmatched.error(err);
    else endedUnmatched.complete();
  }

  function endpoint(key: K): UpStream<T> {
    return new UpStream<T>((observer) => {
      if (endpoints.has(key)) {
        observer.error(new NetstackError('EADDRINUSE', `${name}: key ${formatKey(key)} is already claimed`));
        return Subscription.EMPTY;
      }
      endpoints.set(key, observer);
      connect();
      return new Subscription(() => {
        // The key may already be gone (source ended) or, in principle, re-claimed by another.
        if (endpoints.get(key) === observer) endpoints.delete(key);
        disconnectIfUnused();
      });
    });
  }

  const unmatched$ = new Observable<T>((subscriber) => {
    const inner = unmatched.subscribe(subscriber);
    unmatchedObservers++;
    const generation = unmatched;
    connect();
    return () => {
      inner.unsubscribe();
      // After the source ended, the counter belongs to the next generation's subject.
      if (generation === unmatched) unmatchedObservers--;
      disconnectIfUnused();
    };
  });

  return {
    endpoint,
    unmatched$,
    observe$,
    has: (key: K) => endpoints.has(key),
    get size() {
      return endpoints.size;
    },
    get observed() {
      return taps > 0;
    },
    keepGate: (gate: DirectGate) => keeper.keep(gate),
    stats,
  };
}
