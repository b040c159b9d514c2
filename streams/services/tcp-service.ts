import { mergeMap, Observable, type Subscription } from 'rxjs';
import type { Tcp, TcpListenOptions } from '../stack/tcp-layer.js';
import type { TcpConnection } from '../stack/tcp-connection.js';
import { logger } from '../../src/log.js';

const log = logger('services');

/** What a TCP service does with one accepted connection, for as long as it lives. */
export type ConnectionHandler = (conn: TcpConnection) => Observable<unknown>;

/**
 * Listens on `port` at once and runs `handle(conn)` for every accepted connection.
 *
 * - The listen happens inside this call, so a taken port throws `EADDRINUSE` here (the CLI
 *   reports it before printing `ready`).
 * - Each connection's work stays subscribed until the connection is CLOSED; an error in it
 *   (ECONNRESET...) ends that connection only, never the listener.
 * - Unsubscribing the returned Subscription stops listening and aborts (RST) the service's
 *   connections that are still open: a stopped service leaves nothing behind.
 */
export function tcpService(
  stack: { readonly tcp: Tcp },
  port: number,
  handle: ConnectionHandler,
  options: Omit<TcpListenOptions, 'port'> = {},
): Subscription {
  let listening = false;
  let failure: unknown;
  const subscription = stack.tcp
    .listen({ ...options, port })
    .pipe(mergeMap((conn) => connectionLifetime(conn, handle)))
    .subscribe({
      error: (err: unknown) => {
        if (!listening) failure = err;
        else if (log.enabled) log('listener on port %d failed: %s', port, (err as Error).message);
      },
    });
  listening = true;
  if (failure !== undefined) throw failure;
  return subscription;
}

/**
 * Completes when `conn` is finished (closed$: TIME-WAIT, CLOSED or failed); unsubscribed
 * earlier (service stopped), it aborts `conn`. A finished connection is left alone: TIME-WAIT
 * runs its course in the stack.
 */
function connectionLifetime(conn: TcpConnection, handle: ConnectionHandler): Observable<never> {
  return new Observable<never>((subscriber) => {
    let finished = false;
    const work = handle(conn).subscribe({
      error: (err: unknown) => {
        // The connection failed (reset, timeout): closed$ follows and ends this lifetime.
        if (log.enabled) log('%s: %s', conn.toString(), (err as Error).message);
      },
    });
    const closed = conn.closed$.subscribe(() => {
      finished = true;
      subscriber.complete();
    });
    return () => {
      work.unsubscribe();
      closed.unsubscribe();
      if (!finished) conn.destroy();
    };
  });
}
