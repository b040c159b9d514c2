import { Observable, concatMap, from, type ObservableInput, type OperatorFunction, type Subscription, type Unsubscribable } from 'rxjs';

/**
 * The key under which an Observable offers to be read at its consumer's pace. `TcpConnection`'s
 * `data$` has it; `pacedConcatMap` and `relayTo` use it.
 */
export const pacedRead: unique symbol = Symbol('rx-netstack.pacedRead');

/** The consumer side of a paced read. */
export interface PacedReader<T> {
  /**
   * `next` takes what it needs of each value before it returns and keeps no reference to it
   * (it copies the bytes on): a source may then hand over views it could not let be kept.
   */
  readonly copies?: boolean;
  /** Takes one value; returning false asks for nothing more until `resume()`. */
  next(value: T): boolean;
  error(err: unknown): void;
  complete(): void;
}

/** What a paced read returns: `resume()` after a `next` that returned false; unsubscribe to stop. */
export interface PacedSubscription extends Unsubscribable {
  resume(): void;
}

/**
 * An Observable that can also be read at the consumer's pace: while the reader is paused, the
 * source holds what it has (a TCP connection keeps bytes in its receive buffer, so its
 * advertised window closes and the peer stops sending).
 */
export interface PacedObservable<T> extends Observable<T> {
  [pacedRead](reader: PacedReader<T>): PacedSubscription;
}

/** True when `source` can be read at the consumer's pace. */
export function isPaced<T>(source: Observable<T>): source is PacedObservable<T> {
  return typeof (source as Partial<PacedObservable<T>>)[pacedRead] === 'function';
}

/**
 * `concatMap` that reads its source only as fast as the inner Observables complete: while the
 * inner Observable of a value is still running, no further value is taken from the source. On a
 * paced source (`conn.data$`) nothing queues here at all: the bytes wait in the connection's
 * receive buffer, its window closes and the sender stops. An inner Observable that completes
 * synchronously (a `write$` that fit) does not pause the source.
 *
 * Apply it directly to the paced source (`conn.data$.pipe(pacedConcatMap(...))`): on any other
 * Observable (`conn.data$.pipe(map(f), pacedConcatMap(...))`) it is plain `concatMap`, which
 * buffers values while an inner one runs.
 *
 * @example
 * // Decode each chunk and store it, reading the connection no faster than the store takes it.
 * conn.data$.pipe(pacedConcatMap((chunk) => store.append$(chunk))).subscribe();
 */
export function pacedConcatMap<T, R>(project: (value: T, index: number) => ObservableInput<R>): OperatorFunction<T, R> {
  return (source) => {
    if (!isPaced(source)) return source.pipe(concatMap(project));
    return new Observable<R>((subscriber) => {
      let index = 0;
      let inner: Subscription | undefined;
      let innerRunning = false;
      let sourceDone = false;
      let paced: PacedSubscription | undefined;
      /** An inner Observable completed while the paced read was still being set up. */
      let resumeWanted = false;

      const innerDone = (): void => {
        innerRunning = false;
        inner = undefined;
        if (sourceDone) subscriber.complete();
        else if (paced === undefined) resumeWanted = true;
        else paced.resume();
      };

      const reader: PacedReader<T> = {
        next: (value) => {
          let input: ObservableInput<R>;
          try {
            input = project(value, index++);
          } catch (err) {
            subscriber.error(err);
            return false;
          }
          innerRunning = true;
          let subscribing = true;
          let completedSync = false;
          const sub = from(input).subscribe({
            next: (r) => subscriber.next(r),
            error: (err: unknown) => subscriber.error(err),
            complete: () => {
              if (subscribing) {
                completedSync = true;
                innerRunning = false;
              } else innerDone();
            },
          });
          subscribing = false;
          if (!completedSync) inner = sub;
          // Go on at once only when the inner one is already done and we are still wanted.
          return completedSync && !subscriber.closed;
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          if (!innerRunning) subscriber.complete();
        },
      };
      paced = source[pacedRead](reader);
      if (resumeWanted && !subscriber.closed) paced.resume();
      return () => {
        inner?.unsubscribe();
        paced?.unsubscribe();
      };
    });
  };
}
