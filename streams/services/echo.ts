import type { Observable, Subscription } from 'rxjs';
import type { Tcp, TcpListenOptions } from '../stack/tcp-layer.js';
import type { TcpConnection } from '../stack/tcp-connection.js';
import { relayDirectly, relayTo } from '../operators/relay-to.js';
import { directWork, tcpService, type DirectConnectionHandler } from './tcp-service.js';

/**
 * The TCP echo service (RFC 862): every byte received on a connection goes back on it; the
 * peer's FIN is answered with ours once everything has been echoed.
 *
 * Backpressure (`relayTo`): while the send buffer is full the service does not read. Unread
 * bytes stay in the receive buffer, so the advertised window closes and a peer that sends
 * without reading stalls instead of growing our memory.
 *
 * @example
 * const service = echoService(stack, 7);
 * // later
 * service.unsubscribe();
 */
export function echoService(stack: { readonly tcp: Tcp }, port: number, options: Omit<TcpListenOptions, 'port'> = {}): Subscription {
  return tcpService(stack, port, echoConnection, options);
}

/**
 * Echoes `conn` until the peer's FIN, then ends it; completes after sending FIN. It is
 * `conn.data$.pipe(relayTo(conn))`: reading waits while a write waits for room in the send
 * buffer.
 */
export function echoConnection(conn: TcpConnection): Observable<never> {
  return conn.data$.pipe(relayTo(conn));
}

// The same relay started by the service without Observables (data$, the operator's Observable,
// a Subscriber and its observer: about 1.4 KB and a dozen calls per accepted connection, where
// the echo's whole work is one relay object).
(echoConnection as DirectConnectionHandler)[directWork] = (conn, sink) => relayDirectly(conn, conn, true, sink);
