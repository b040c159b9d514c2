import { Observable, type Subscription } from 'rxjs';
import type { Tcp, TcpListenOptions } from '../stack/tcp-layer.js';
import type { TcpConnection } from '../stack/tcp-connection.js';
import { tcpService } from './tcp-service.js';
import { isPaced, pacedRead } from '../operators/paced-concat-map.js';

/**
 * The TCP discard service (RFC 863): reads everything and throws it away; answers the peer's
 * FIN with its own. Reading as fast as bytes arrive keeps the window open, which is the point.
 *
 * @example
 * const service = discardService(stack, 9);
 */
export function discardService(stack: { readonly tcp: Tcp }, port: number, options: Omit<TcpListenOptions, 'port'> = {}): Subscription {
  return tcpService(stack, port, discardConnection, options);
}

/**
 * Reads and drops until the peer's FIN, then ends `conn`. A paced reader that declares it keeps
 * nothing of what it reads (`copies`), so received frames read whole within their handling may
 * have their memory reused at once (frame-lease.ts).
 */
export function discardConnection(conn: TcpConnection): Observable<never> {
  return new Observable<never>((subscriber) => {
    const done = {
      complete: (): void => {
        conn.end();
        subscriber.complete();
      },
      error: (err: unknown): void => subscriber.error(err),
    };
    const data$ = conn.data$;
    if (!isPaced(data$)) return data$.subscribe(done);
    return data$[pacedRead]({ copies: true, next: () => true, ...done });
  });
}
