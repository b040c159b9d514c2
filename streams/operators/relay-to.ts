import { Observable, type OperatorFunction } from 'rxjs';
import { pacedConcatMap } from './paced-concat-map.js';

/** Where `relayTo` writes: a `TcpConnection`, or anything with the same two methods. */
export interface RelayTarget {
  /** Completes once `bytes` are taken (for a connection: in its send buffer). */
  write$(bytes: Uint8Array): Observable<void>;
  /** Called when the source completes (for a connection: FIN after everything written). */
  end(): void;
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
  return (source) =>
    new Observable<never>((subscriber) =>
      source.pipe(pacedConcatMap((chunk) => target.write$(chunk))).subscribe({
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          if (end) target.end();
          subscriber.complete();
        },
      }),
    );
}
