import { Observable, type Subscription } from 'rxjs';
import type { Tcp, TcpListenOptions } from '../stack/tcp-layer.js';
import type { TcpConnection } from '../stack/tcp-connection.js';
import { tcpService } from './tcp-service.js';

/** Characters per line, before CR LF (RFC 864's suggested pattern). */
const LINE = 72;
/** The 95 printable ASCII characters, 0x20 to 0x7e, that the lines rotate through. */
const FIRST = 0x20;
const PRINTABLE = 95;

/**
 * One full cycle of the RFC 864 pattern: 95 lines of 72 characters plus CR LF, line i starting
 * at the i-th printable character. Written over and over, it makes the stream continuous.
 */
export const CHARGEN_CYCLE: Uint8Array = (() => {
  const out = new Uint8Array(PRINTABLE * (LINE + 2));
  let o = 0;
  for (let line = 0; line < PRINTABLE; line++) {
    for (let i = 0; i < LINE; i++) out[o++] = FIRST + ((line + i) % PRINTABLE);
    out[o++] = 0x0d;
    out[o++] = 0x0a;
  }
  return out;
})();

/**
 * The TCP character generator (RFC 864): sends the rotating 72-character lines as fast as the
 * send buffer takes them, reads and drops whatever the peer sends, and stops when the peer
 * closes (FIN: we end too) or resets.
 *
 * Backpressure: it writes until `write` returns false, then waits for `drain$`; nothing beyond
 * the connection's send buffer (and one cycle of the pattern) is ever held.
 *
 * @example
 * const service = chargenService(stack, 19);
 */
export function chargenService(stack: { readonly tcp: Tcp }, port: number, options: Omit<TcpListenOptions, 'port'> = {}): Subscription {
  return tcpService(stack, port, chargenConnection, options);
}

/** Generates on `conn` until the peer closes; completes after ending it. */
export function chargenConnection(conn: TcpConnection): Observable<never> {
  return new Observable<never>((subscriber) => {
    let stopped = false;
    const fill = (): void => {
      // The cycle is never modified, so the connection may keep views of it until sent.
      // (write throws EPIPE once CLOSED: a reset ends data$ and sets `stopped` before that.)
      while (!stopped && conn.state !== 'CLOSED' && conn.write(CHARGEN_CYCLE));
    };
    const drains = conn.drain$.subscribe(fill);
    const reads = conn.data$.subscribe({
      complete: () => {
        // RFC 864: the service ends when the user closes.
        stopped = true;
        conn.end();
        subscriber.complete();
      },
      error: (err: unknown) => {
        stopped = true;
        subscriber.error(err);
      },
    });
    fill();
    return () => {
      stopped = true;
      drains.unsubscribe();
      reads.unsubscribe();
    };
  });
}
