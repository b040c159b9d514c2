/**
 * Joins a connection of the stack with a node:net socket, both ways, without node:stream in
 * between: `relayTo` writes the connection's bytes into the socket (reading the connection only
 * as fast as the socket takes them, so its window closes when the host side is slow), and the
 * socket's bytes go into the connection, the socket paused while the connection's send buffer
 * is full. A FIN is passed on as a FIN (half-close), a reset as a reset.
 *
 * A socket this program opens itself reads through a `HostReader` (net.connect's `onread`):
 * into one buffer shared by all such sockets, straight to the connection, with no Buffer
 * allocated per read and no Readable stream ('data' events) in between. Sockets from a server
 * (published ports) are read through their 'data' events.
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

/**
 * What every HostReader reads into. One for all: each read is handed to its connection before
 * the next read of any socket, and what a connection may keep by reference is copied first.
 */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/**
 * The reading side of a host socket that `spliceTcp` will join: pass `reader.onread` to
 * `net.connect()`. Bytes that arrive before the join (a server that speaks first) are copied
 * and kept, the socket paused, until `spliceTcp` hands them on.
 */
export class HostReader {
  readonly onread = { buffer: SHARED_READ_BUFFER, callback: (n: number, buf: Buffer): boolean => this.#read(n, buf) };
  #conn: TcpConnection | undefined;
  #socket: Socket | undefined;
  #early: Buffer[] | undefined = [];
  #drainWait: { unsubscribe(): void } | undefined;

  /** @internal spliceTcp's: from now on the socket's bytes go into `conn`. */
  attach(conn: TcpConnection, socket: Socket): void {
    this.#conn = conn;
    this.#socket = socket;
    const early = this.#early ?? [];
    this.#early = undefined;
    // Copies, so the connection may keep them; a full send buffer resumes the socket at its drain.
    let room = true;
    for (const chunk of early) room = this.#write(chunk, chunk.length, false) && room;
    if (room && early.length > 0) socket.resume();
  }

  /** false pauses the socket (Node's onread contract) until resume(). */
  #read(n: number, buf: Buffer): boolean {
    if (this.#early !== undefined) {
      this.#early.push(Buffer.from(buf.subarray(0, n)));
      return false;
    }
    return this.#write(buf, n, true);
  }

  #write(buf: Buffer, n: number, shared: boolean): boolean {
    const conn = this.#conn!;
    const socket = this.#socket!;
    let room: boolean;
    try {
      // All of it into the send buffer (copied there): the shared buffer is free again at once.
      // Otherwise the connection keeps what does not fit by reference: give it a copy.
      const chunk = n === buf.length ? buf : buf.subarray(0, n);
      room = conn.write(shared && conn.writableRoom < n ? Buffer.from(chunk) : chunk);
    } catch {
      // EPIPE: the connection closed under us (reset, timed out); its error path resets the socket.
      socket.resetAndDestroy();
      return false;
    }
    if (room || this.#drainWait !== undefined) return room;
    socket.pause();
    this.#drainWait = conn.drain$.subscribe({
      next: () => {
        this.#drainWait?.unsubscribe();
        this.#drainWait = undefined;
        socket.resume();
      },
    });
    return false;
  }
}

/**
 * Joins `conn` and `socket` both ways until both directions have ended or either side resets.
 * `reader`: the HostReader the socket was opened with (its `onread`); without one, the socket
 * is read through its 'data' events.
 */
export function spliceTcp(conn: TcpConnection, socket: Socket, reader?: HostReader): void {
  // Host side to the stack's connection.
  if (reader !== undefined) reader.attach(conn, socket);
  else {
    let drainWait: { unsubscribe(): void } | undefined;
    socket.on('data', (chunk: Buffer) => {
      let room: boolean;
      try {
        room = conn.write(chunk);
      } catch {
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
  }
  socket.once('end', () => conn.end());
  // A reset (or any failure) of the host side resets the namespace's side.
  socket.once('error', () => conn.destroy());
  // The stack's connection to the host side; its reset or timeout resets the socket.
  conn.data$.pipe(relayTo(socketTarget(socket))).subscribe({ error: () => socket.resetAndDestroy() });
}
