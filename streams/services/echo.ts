import { Observable, Subject, takeUntil, type Subscription } from 'rxjs';
import type { Tcp, TcpListenOptions } from '../stack/tcp-layer.js';
import type { TcpConnection } from '../stack/tcp-connection.js';
import { tcpService } from './tcp-service.js';

/**
 * The TCP echo service (RFC 862): every byte received on a connection goes back on it; the
 * peer's FIN is answered with ours once everything has been echoed.
 *
 * Backpressure: when the send buffer is full (`write` returns false) the service stops reading
 * until `drain$`. Unread bytes stay in the receive buffer, so the advertised window closes and
 * a peer that sends without reading stalls instead of growing our memory.
 *
 * @example
 * const service = echoService(stack, 7);
 * // later
 * service.unsubscribe();
 */
export function echoService(stack: { readonly tcp: Tcp }, port: number, options: Omit<TcpListenOptions, 'port'> = {}): Subscription {
  return tcpService(stack, port, echoConnection, options);
}

/** Echoes `conn` until the peer's FIN, then ends it; completes after sending FIN. */
export function echoConnection(conn: TcpConnection): Observable<never> {
  return new Observable<never>((subscriber) => {
    const pause$ = new Subject<void>();
    let paused = false;
    let reading: Subscription | undefined;
    let waiting: Subscription | undefined;
    const read = (): void => {
      paused = false;
      reading = conn.data$.pipe(takeUntil(pause$)).subscribe({
        next: (chunk) => {
          if (!conn.write(chunk) && !paused) {
            // Stop reading: the rest of the chunk waits in the connection, the next bytes in
            // the receive buffer.
            paused = true;
            pause$.next();
          }
        },
        complete: () => {
          if (paused) {
            // drain$ completes without a value if the connection closes: closed$ ends us then.
            waiting = conn.drain$.subscribe(() => {
              waiting?.unsubscribe();
              read();
            });
          } else {
            conn.end();
            subscriber.complete();
          }
        },
        error: (err: unknown) => subscriber.error(err),
      });
    };
    read();
    return () => {
      reading?.unsubscribe();
      waiting?.unsubscribe();
    };
  });
}
