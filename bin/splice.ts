/**
 * Joins a connection of the stack with a host TCP socket, both ways, without node:stream in
 * between: the connection's bytes go to the socket through `relayTo` (the connection read only
 * as fast as the socket takes them, so its window closes when the host side is slow), and the
 * socket's bytes into the connection, the socket paused while the connection's send buffer is
 * full. A FIN is passed on as a FIN (half-close), a reset as a reset.
 *
 * Two kinds of host socket: the addon's TcpSocket (`NativeTcpJoin`), which `rx-netstack nat`
 * opens for each connection of the namespace (read into one buffer shared by all sockets,
 * handed over as views: no Buffer, stream or event per read, no Writable machinery per write);
 * and a node:net Socket (`spliceTcp`), for the connections a published port accepts.
 *
 * `stream.pipeline(socket, conn.toSocket(), socket)` does the same job at about twice the CPU
 * per connection and per request.
 */
import type { Socket } from 'node:net';
import { Observable, Subject } from 'rxjs';
import { loadTapAddon, type NativeTcpSocket, type NativeTcpSocketCallbacks } from '../streams/links/tap-native.js';
import { relayTo, type RelayTarget } from '../streams/operators/relay-to.js';
import type { TcpConnection } from '../streams/stack/tcp-connection.js';

/** A net.Socket as a target of `relayTo` that writes synchronously (`write` + `drain$`). */
function socketTarget(socket: Socket): RelayTarget & { write(bytes: Uint8Array): boolean; readonly copiesWrites: boolean; readonly drain$: Observable<void> } {
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
    // Buffer.from copies: the relay may hand this target views it keeps no hold on.
    copiesWrites: true,
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

let readBuffer: Uint8Array | undefined;
let readLength: Uint32Array | undefined;

/**
 * The addon's TcpSocket read buffer as one Uint8Array (a read's bytes are its subarray: a plain
 * Uint8Array's is cheaper to make than a Buffer's, whose subclass constructor runs each time).
 */
function sharedReadBuffer(): Uint8Array {
  return (readBuffer ??= new Uint8Array(loadTapAddon().tcpReadBuffer));
}

/**
 * The first `length` bytes of the shared read buffer. The last view is reused while reads have
 * the same length (request/response: every answer): one typed array less per read. Nothing
 * keeps it: a connection's write copies it (or is given a copy, see #write).
 */
let readView: Uint8Array | undefined;
function sharedReadView(length: number): Uint8Array {
  if (readView === undefined || readView.length !== length) readView = sharedReadBuffer().subarray(0, length);
  return readView;
}

/** How many bytes the read onData() reports holds (the addon's `tcpRead[0]`). */
function sharedReadLength(): number {
  return (readLength ??= loadTapAddon().tcpRead)[0];
}

/** Below this much room in the send buffer, a host socket's read is not limited to the room. */
const MIN_LIMITED_READ = 16 * 1024;
/** A read limit the addon takes as none (its own largest read). */
const NO_READ_LIMIT = 0x7fffffff;

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

/**
 * A connection of the stack joined with a host TCP socket of the addon (native/tcp-socket.c),
 * which `rx-netstack nat` opens for each connection: pass `join.callbacks` to the TcpSocket,
 * then `attach(conn)` once the stack's side is established. The same contract as spliceTcp:
 * both ways with backpressure, FIN as FIN, reset as reset. Bytes the host sends before the
 * attach are copied and kept, the socket paused.
 *
 * The join is itself relayTo's target for the stack's side (`write`, `write$`, `end`, `drain$`:
 * methods, not closures made per connection; its drain Subject made when a write first waits),
 * since a connection-rate workload makes one per connection.
 */
export class NativeTcpJoin implements RelayTarget {
  /** The connect's outcome, for whoever opened the socket (0: connected, else the errno). */
  onConnect: (errno: number) => void = () => undefined;
  readonly callbacks: NativeTcpSocketCallbacks = {
    onConnect: (errno) => this.onConnect(errno),
    onData: () => this.#data(sharedReadLength()),
    onEnd: () => this.#end(),
    onError: () => this.#error(),
    onDrain: () => this.#drain$?.next(),
  };
  /**
   * relayTo may lend `write` the frames' own views: the addon's write sends what the kernel
   * takes and copies the rest into its queue, keeping no view (a receive batch nothing else
   * kept can then be read over: tap-link.ts, recycleSlabs).
   */
  readonly copiesWrites = true;
  #socket: NativeTcpSocket | undefined;
  #conn: TcpConnection | undefined;
  /** Not attached yet (what the host sends meanwhile is kept in #early). */
  #waitingForConn = true;
  #early: Buffer[] | undefined;
  #endedEarly = false;
  /** The host side failed before the attach. */
  #failed = false;
  #drainWait: { unsubscribe(): void } | undefined;
  /** Made when first needed (most connections never wait for the socket's drain). */
  #drain$: Subject<void> | undefined;
  /** The last write to the socket left bytes waiting in it. */
  #socketBusy = false;
  /** Told when the namespace's bytes went to the socket (the link's answeredElsewhere), if given. */
  readonly #answered: (() => void) | undefined;

  /**
   * @param answeredElsewhere called when bytes of the stack's connection were handed to the
   *   socket: the namespace's request is answered through the host, not by a write to the device.
   */
  constructor(answeredElsewhere?: () => void) {
    this.#answered = answeredElsewhere;
  }

  /** The socket the callbacks belong to (set right after making it). */
  set socket(socket: NativeTcpSocket) {
    this.#socket = socket;
  }

  /** Joins the established connection `conn` with the socket, both ways. */
  attach(conn: TcpConnection): void {
    const socket = this.#socket!;
    this.#conn = conn;
    if (this.#failed) {
      conn.destroy();
      return;
    }
    const early = this.#early;
    this.#early = undefined;
    this.#waitingForConn = false;
    let room = true;
    if (early !== undefined) for (const chunk of early) room = this.#write(chunk, false) && room;
    if (this.#endedEarly) conn.end();
    else if (room && early !== undefined) socket.resume(this.#readLimit());
    // The stack's side to the host (this join as the target): the socket takes every write
    // (keeping what the kernel does not take yet); reading the connection waits for its drain
    // while bytes wait.
    const relay = conn.data$.pipe(relayTo(this)).subscribe({ error: () => socket.close(true) });
    // Both directions done (or the stack's side failed): the socket goes, once what it still
    // holds is sent (a reset of the stack's side resets it at once).
    conn.closed$.subscribe((err) => {
      relay.unsubscribe();
      if (err !== undefined || !this.#socketBusy) socket.close(err !== undefined);
      else this.drain$.subscribe(() => socket.close(false));
    });
  }

  /** @internal relayTo's target: bytes of the stack's connection to the socket; false while some wait in it. */
  write(bytes: Uint8Array): boolean {
    this.#answered?.();
    // The host's answer, when it ran during the write (a CPU shared with it), is read at once
    // (onData before this returns) and goes into the namespace in this same task.
    return (this.#socketBusy = !this.#socket!.writeAndRead(bytes)) === false;
  }

  /** @internal relayTo's target: `write`, completing once the socket took everything. */
  write$(bytes: Uint8Array): Observable<void> {
    return new Observable<void>((subscriber) => {
      if (this.write(bytes)) subscriber.complete();
      else return this.drain$.subscribe(() => subscriber.complete());
      return undefined;
    });
  }

  /** @internal relayTo's target: the stack's side ended; the host's FIN in return, when it closed as ours arrived, is read at once too. */
  end(): void {
    this.#socket!.endAndRead();
  }

  /** @internal relayTo's target: the socket's queue emptied (completes when the socket failed). */
  get drain$(): Observable<void> {
    if (this.#drain$ === undefined) {
      this.#drain$ = new Subject<void>();
      if (this.#failed) this.#drain$.complete();
    }
    return this.#drain$;
  }

  /** @internal relayTo's target: no error of its own to report (a failed socket resets the connection). */
  get error(): Error | undefined {
    return undefined;
  }

  /** How many bytes the socket's next read may take: 0 pauses it. */
  #data(length: number): number {
    const view = sharedReadView(length);
    if (this.#waitingForConn) {
      (this.#early ??= []).push(Buffer.from(view));
      return 0;
    }
    return this.#write(view, true) ? this.#readLimit() : 0;
  }

  /**
   * The next read takes no more than the connection's send buffer does, so what the socket
   * reads is copied once (into the send buffer), not kept as a copy waiting for room. When
   * little room is left, a full read anyway (the rest waits as a copy, and its drain resumes):
   * reads of a few KiB would cost a wake-up each.
   */
  #readLimit(): number {
    const room = this.#conn!.writableRoom;
    return room >= MIN_LIMITED_READ ? room : NO_READ_LIMIT;
  }

  #write(bytes: Uint8Array, shared: boolean): boolean {
    const conn = this.#conn!;
    const socket = this.#socket!;
    let room: boolean;
    try {
      // All of it into the send buffer (copied there): the shared buffer is free again at once.
      // Otherwise the connection keeps what does not fit by reference: give it a copy.
      room = conn.write(shared && conn.writableRoom < bytes.length ? Buffer.from(bytes) : bytes);
    } catch {
      // EPIPE: the connection closed under us (reset, timed out); its closed$ resets the socket.
      return false;
    }
    if (room || this.#drainWait !== undefined) return room;
    this.#drainWait = conn.drain$.subscribe({
      next: () => {
        this.#drainWait?.unsubscribe();
        this.#drainWait = undefined;
        socket.resume(this.#readLimit());
      },
    });
    return false;
  }

  #end(): void {
    if (this.#conn === undefined) this.#endedEarly = true;
    else this.#conn.end();
  }

  /** The host side failed (a reset...): so does the stack's side. */
  #error(): void {
    this.#failed = true;
    this.#drain$?.complete();
    this.#conn?.destroy();
  }
}
