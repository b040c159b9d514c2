/**
 * Joins a connection of the stack with a node:net socket, both ways, without node:stream in
 * between: `relayTo` writes the connection's bytes into the socket (reading the connection only
 * as fast as the socket takes them, so its window closes when the host side is slow), and the
 * socket's 'data' go into the connection, the socket paused while the connection's send buffer
 * is full. A FIN is passed on as a FIN (half-close), a reset as a reset.
 *
 * This is what `rx-netstack nat` does per connection; `stream.pipeline(socket, conn.toSocket(),
 * socket)` does the same job at about twice the CPU per connection and per request.
 */
import type { Socket } from 'node:net';
import { Observable } from 'rxjs';
import { relayTo, type RelayTarget } from '../streams/operators/relay-to.js';
import type { TcpConnection } from '../streams/stack/tcp-connection.js';

/** A net.Socket as a target of `relayTo` that writes synchronously (`write` + `drain$`). */
function socketTarget(socket: Socket): RelayTarget & { write(bytes: Uint8Array): boolean; readonly drain$: Observable<void> } {
  const drain$ = new Observable<void>((subscriber) => {
    if (socket.destroyed) {
      subscriber.complete();
      return undefined;
    }
    const onDrain = (): void => subscriber.next();
    const onClose = (): void => subscriber.complete();
    socket.on('drain', onDrain);
    socket.once('close', onClose);
    return () => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
    };
  });
  // The chunks of data$ are views into the stack's receive path: copied before the socket may
  // hold on to them. Buffer.from copies a small chunk into Node's shared pool (a new
  // ArrayBuffer per chunk with slice()), and a Buffer skips write()'s Uint8Array conversion.
  const write = (bytes: Uint8Array): boolean => socket.write(Buffer.from(bytes));
  return {
    write,
    drain$,
    write$: (bytes) =>
      new Observable<void>((subscriber) => {
        if (write(bytes)) subscriber.complete();
        else return drain$.subscribe(() => subscriber.complete());
        return undefined;
      }),
    end: () => socket.end(),
  };
}

/** Joins `conn` and `socket` both ways until both directions have ended or either side resets. */
export function spliceTcp(conn: TcpConnection, socket: Socket): void {
  // Host side to the stack's connection.
  let drainWait: { unsubscribe(): void } | undefined;
  socket.on('data', (chunk: Buffer) => {
    let room: boolean;
    try {
      room = conn.write(chunk);
    } catch {
      // EPIPE: the connection closed under us (reset, timed out); its error path resets the socket.
      socket.resetAndDestroy();
      return;
    }
    if (room || drainWait !== undefined) return;
    socket.pause();
    drainWait = conn.drain$.subscribe({
      next: () => {
        drainWait?.unsubscribe();
        drainWait = undefined;
        socket.resume();
      },
    });
  });
  socket.once('end', () => conn.end());
  // A reset (or any failure) of the host side resets the namespace's side.
  socket.once('error', () => conn.destroy());
  // The stack's connection to the host side; its reset or timeout resets the socket.
  conn.data$.pipe(relayTo(socketTarget(socket))).subscribe({ error: () => socket.resetAndDestroy() });
}
