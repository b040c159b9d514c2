import { Duplex } from 'node:stream';
import { isIP } from 'node:net';
import type { EventEmitter } from 'node:events';
import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { TcpConnection, type TcpReader } from './tcp-connection.js';
import { DeadlineTimer } from './deadline-timer.js';
import { NetstackError, netError } from '../../src/errors.js';
import type { NetContext } from '../net/net-context.js';
import { KeepAliveRef } from '../net/keep-alive.js';
import { connectPort, normalizeConnectArgs, type NetConnectOptions } from '../net/net-args.js';
import { resolveHost } from '../net/resolve-host.js';
import { withEndpoint, withErrno } from '../net/net-errors.js';

/** Options of `new stack.net.Socket(options)` (and of the sockets a server accepts). */
export interface TcpSocketOptions {
  /**
   * When false (the default, as node:net), the peer's FIN ends our writable side too, once
   * everything written is sent. Sockets made by `conn.toSocket()` are half-open (true).
   */
  readonly allowHalfOpen?: boolean;
  /** Accepted and ignored (node:net's options for sockets over an existing fd). */
  readonly readable?: boolean;
  readonly writable?: boolean;
  /** Readable-side buffer (bytes); default Node's. */
  readonly highWaterMark?: number;
  /** @internal An established connection to wrap (a server's accepted one). */
  readonly connection?: TcpConnection;
  /**
   * @internal Report an IPv4 connection's addresses IPv4-mapped (`::ffff:198.18.0.1`, family
   * 'IPv6'), as node:net does for a server listening on `::`.
   */
  readonly ipv4Mapped?: boolean;
}

/** A write (or end) that came before the connection existed; replayed once it does. */
type PendingWrite = { chunk: Buffer; callback: (error?: Error | null) => void };

/**
 * The one TCP socket class: a node:stream Duplex that is `net.Socket` for the stack. It is made
 * three ways:
 * - `conn.toSocket()` over an established TcpConnection (half-open: `allowHalfOpen: true`);
 * - by `stack.net`: a server's accepted connections, and `stack.net.connect()`;
 * - unconnected, `new stack.net.Socket()`, then `socket.connect(...)` (as undici and
 *   `http.Agent` do). Writes and `end()` made while connecting wait and go out once connected.
 *
 * Backpressure both ways:
 * - reading is pull: bytes move from the connection's receive buffer into the Readable only
 *   while the Readable wants more (`push()` returned true, or `_read()` was called); unread
 *   bytes stay in the receive buffer, so the advertised window closes when the consumer stalls;
 * - writing: `_write` calls back only once the connection took the chunk into its send buffer,
 *   so `write()` returns false and 'drain' follows as for a net.Socket.
 *
 * Closing, as with a kernel socket:
 * - `end()` sends FIN after everything written (half-close: reading goes on while
 *   `allowHalfOpen`; otherwise the peer's FIN also ends our side);
 * - `destroy()` closes the connection as close(2) does: FIN after what was written, or RST if
 *   received bytes were left unread; `destroy(err)` and `resetAndDestroy()` send RST;
 * - the connection failing (ECONNRESET, ETIMEDOUT...) destroys the socket with that error;
 * - 'close' comes last, with `hadError` as its argument.
 */
export class TcpSocket extends Duplex {
  /** The server that accepted this socket (set by stack.net servers), as net.Socket#server. */
  server: EventEmitter | null = null;
  readonly #net: NetContext | undefined;
  #connection: TcpConnection | undefined;
  #connecting = false;
  /** The handshake in progress (unsubscribing aborts it). */
  #connectSubscription: Subscription | undefined;
  #pendingWrite: PendingWrite | undefined;
  #pendingFinal: ((error?: Error | null) => void) | undefined;
  #bytesRead = 0;
  /** Accepted by a dual-stack server: IPv4 addresses are reported IPv4-mapped. */
  readonly #ipv4Mapped: boolean;
  #bytesWritten = 0;
  #timeoutMs = 0;
  readonly #scheduler: SchedulerLike;
  /** The idle timer of setTimeout(), made by the first setTimeout with a timeout. */
  #idle: DeadlineTimer<TcpSocket> | undefined;
  readonly #keepAlive: KeepAliveRef | undefined;
  #subscriptions: Subscription[] = [];
  readonly #reader: TcpReader;

  /**
   * @param options a TcpConnection (what `toSocket()` passes), or options.
   * @param net @internal the stack's net context (stack.net's Socket class passes it).
   */
  constructor(options: TcpConnection | TcpSocketOptions = {}, net?: NetContext) {
    const opts: TcpSocketOptions = options instanceof TcpConnection ? { connection: options, allowHalfOpen: true } : options;
    // emitClose: false because, like net.Socket, we emit 'close' ourselves with `hadError`.
    super({ allowHalfOpen: opts.allowHalfOpen === true, emitClose: false, highWaterMark: opts.highWaterMark });
    this.#net = net;
    this.#ipv4Mapped = opts.ipv4Mapped === true;
    this.#scheduler = net?.scheduler ?? opts.connection?.scheduler ?? asyncScheduler;
    this.#keepAlive = net === undefined ? undefined : new KeepAliveRef(net.keepAlive);
    this.#reader = {
      push: (chunk) => {
        this.#bytesRead += chunk.length;
        this.#touch();
        // Buffer.from over the same memory: no copy. Node's stream consumers expect Buffers.
        return this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      },
      end: () => this.push(null),
      error: (err: NetstackError) => this.destroy(err),
    };
    if (opts.connection !== undefined) {
      this.#attach(opts.connection);
      this.#keepAlive?.setActive(true);
    }
  }

  /** The TcpConnection under the socket; undefined until connected. */
  get connection(): TcpConnection | undefined {
    return this.#connection;
  }

  /** True from `connect()` until 'connect' (or the failure). */
  get connecting(): boolean {
    return this.#connecting;
  }

  /** True until the socket is connected (and again never after: node:net's `pending`). */
  get pending(): boolean {
    return this.#connection === undefined || this.#connecting;
  }

  get remoteAddress(): string | undefined {
    const c = this.#connection;
    return c === undefined ? undefined : this.#mapped(c.remoteAddress, c);
  }

  get remotePort(): number | undefined {
    return this.#connection?.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.#family();
  }

  get localAddress(): string | undefined {
    const c = this.#connection;
    return c === undefined ? undefined : this.#mapped(c.localAddress, c);
  }

  get localPort(): number | undefined {
    return this.#connection?.localPort;
  }

  get localFamily(): string | undefined {
    return this.#family();
  }

  /** 'IPv4' or 'IPv6' (an IPv4-mapped connection's is 'IPv6', as node:net's). */
  #family(): string | undefined {
    const c = this.#connection;
    if (c === undefined) return undefined;
    return this.#ipv4Mapped ? 'IPv6' : c.family;
  }

  #mapped(address: string, c: TcpConnection): string {
    return this.#ipv4Mapped && c.family === 'IPv4' ? `::ffff:${address}` : address;
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /** The idle timeout set with setTimeout (ms), or undefined when off, as net.Socket#timeout. */
  get timeout(): number | undefined {
    return this.#timeoutMs > 0 ? this.#timeoutMs : undefined;
  }

  /** As net.Socket: 'opening' while connecting, then 'open', 'readOnly', 'writeOnly' or 'closed'. */
  get readyState(): string {
    if (this.#connecting) return 'opening';
    if (this.destroyed) return 'closed';
    const readable = !this.readableEnded;
    const writable = !this.writableEnded;
    return readable && writable ? 'open' : readable ? 'readOnly' : writable ? 'writeOnly' : 'closed';
  }

  /** The local end, as net.Socket#address(); `{}` before the socket is connected. */
  address(): { address: string; family: string; port: number } | Record<string, never> {
    const c = this.#connection;
    return c === undefined ? {} : { address: this.#mapped(c.localAddress, c), family: this.#family() as string, port: c.localPort };
  }

  /**
   * Connects, as net.Socket#connect: `(options[, connectListener])` or
   * `(port[, host][, connectListener])`. Emits 'lookup' for a host name, then 'connect' and
   * 'ready', or 'error' and 'close'. Only sockets made by `stack.net` can connect.
   * @throws NetstackError ERR_SOCKET_BAD_PORT, ERR_INVALID_ARG_VALUE (a `path`: no unix
   * sockets), EISCONN (connected or connecting already), ERR_SOCKET_CLOSED (destroyed).
   */
  connect(options: NetConnectOptions, connectListener?: () => void): this;
  connect(port: number | string, host?: string, connectListener?: () => void): this;
  connect(port: number | string, connectListener?: () => void): this;
  connect(...args: unknown[]): this {
    const { options, callback } = normalizeConnectArgs(args);
    const net = this.#net;
    if (net === undefined) throw new NetstackError('ERR_INVALID_ARG_VALUE', 'connect: this socket is not from stack.net (use new stack.net.Socket())');
    if (this.#connection !== undefined || this.#connecting) throw netError('EISCONN', 'connect: the socket is connected or connecting already', 'connect');
    if (this.destroyed) throw new NetstackError('ERR_SOCKET_CLOSED', 'connect: the socket is destroyed');
    const port = connectPort(options.port);
    const host = options.host ?? 'localhost';
    if (callback !== undefined) this.once('connect', callback);
    this.#connecting = true;
    this.#keepAlive?.setActive(true);
    if (options.timeout !== undefined) this.setTimeout(options.timeout);
    resolveHost(host, { lookup: options.lookup, localhostAddress: net.localhostAddress(), ipv6: net.ipv6, family: options.family }, (err, resolved) => {
      if (this.destroyed) return;
      if (resolved === undefined) {
        // A name that did not resolve: 'lookup' with the error, as node:net (not for literals).
        if (err && !isIP(host)) this.emit('lookup', err, undefined, undefined, host);
        this.destroy(err === null ? undefined : withErrno(err));
        return;
      }
      const address = resolved.address;
      if (resolved.lookedUp) this.emit('lookup', null, address, resolved.family, host);
      this.#connectSubscription = net.tcp
        .connect({ address, port, localAddress: options.localAddress, localPort: options.localPort, noDelay: options.noDelay })
        .subscribe({
          next: (conn) => {
            this.#connectSubscription = undefined;
            this.#established(conn, options);
          },
          error: (e: Error) => {
            this.#connectSubscription = undefined;
            this.destroy(withEndpoint(e, address, port, 'connect'));
          },
        });
    });
    return this;
  }

  setNoDelay(noDelay = true): this {
    const c = this.#connection;
    if (!this.destroyed && c !== undefined && c.state !== 'CLOSED') c.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelay?: number): this {
    const c = this.#connection;
    // node:net takes 0 as "the system's default"; the connection takes undefined for that.
    if (!this.destroyed && c !== undefined && c.state !== 'CLOSED') c.setKeepAlive(enable, initialDelay || undefined);
    return this;
  }

  /**
   * As net.Socket: emits 'timeout' after `ms` of inactivity (no byte read or written, and while
   * connecting); 0 turns it off; does not close the socket. The timer runs on the stack's
   * scheduler.
   */
  setTimeout(ms: number, callback?: () => void): this {
    this.#timeoutMs = ms > 0 ? ms : 0;
    if (callback) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    if (this.#timeoutMs === 0) this.#idle?.set(undefined);
    this.#touch();
    return this;
  }

  /**
   * As net.Socket: a ref'd socket (the default) keeps the process alive while it is connecting
   * or connected; `unref()` lets the process exit. Sockets made by `conn.toSocket()` hold
   * nothing (these are no-ops for them).
   */
  ref(): this {
    this.#keepAlive?.ref();
    return this;
  }

  unref(): this {
    this.#keepAlive?.unref();
    return this;
  }

  /** Closes with RST at once, whatever is queued or unread (net.Socket#resetAndDestroy). */
  resetAndDestroy(): this {
    this.#connection?.destroy();
    return this.destroy();
  }

  /** Ends once everything written has gone into the connection, as net.Socket#destroySoon. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  override _read(): void {
    this.#connection?.resumeReading();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const connection = this.#connection;
    if (connection === undefined) {
      // Still connecting: the Writable calls _write one chunk at a time, so one slot suffices.
      this.#pendingWrite = { chunk, callback };
      return;
    }
    this.#touch();
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let accepted: boolean;
    try {
      accepted = connection.write(bytes);
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.#bytesWritten += chunk.length;
    if (accepted) {
      callback();
      return;
    }
    // The rest of the chunk waits in the connection: call back when it has gone into the send
    // buffer, or fail if the connection closes first.
    const wait = connection.drain$.subscribe({
      next: () => {
        wait.unsubscribe();
        callback();
      },
      complete: () => callback(connection.error ?? netError('EPIPE', `${connection}: closed before the data was sent`, 'write')),
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    const connection = this.#connection;
    if (connection === undefined) {
      this.#pendingFinal = callback;
      return;
    }
    connection.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#idle?.close();
    this.#connecting = false;
    this.#connectSubscription?.unsubscribe(); // aborts a handshake in progress
    this.#connectSubscription = undefined;
    this.#pendingWrite = undefined;
    this.#pendingFinal = undefined;
    this.#keepAlive?.setActive(false);
    for (const s of this.#subscriptions) s.unsubscribe();
    const connection = this.#connection;
    if (connection !== undefined) {
      connection.detachReader(this.#reader);
      if (connection.state !== 'CLOSED') {
        // An error aborts; a plain destroy() closes like close(2): FIN, or RST if bytes were unread.
        if (error) connection.destroy();
        else connection.close();
      }
    }
    callback(error === null ? null : withErrno(error));
    // After 'error' (emitted on the next tick by the stream machinery), as net.Socket does.
    process.nextTick(() => this.emit('close', error != null));
  }

  /** Takes the reader slot of `connection`: from now on the socket is connected. */
  #attach(connection: TcpConnection): void {
    const err = connection.attachReader(this.#reader);
    if (err) throw err;
    this.#connection = connection;
    connection.adoptSocket(this);
    // A connection that fails takes the socket with it (its reader may be paused, so the error
    // would otherwise wait behind unread bytes). A connection that is gone no longer holds the
    // process either, even while unread bytes wait in the socket: without this, a socket whose
    // stack was closed under it (the stack destroys its connections) kept the process alive.
    this.#subscriptions.push(
      connection.closed$.subscribe((error) => {
        this.#keepAlive?.setActive(false);
        if (error) this.destroy(error);
      }),
    );
  }

  /** The handshake of `connect()` completed. */
  #established(connection: TcpConnection, options: NetConnectOptions): void {
    this.#attach(connection);
    this.#connecting = false;
    if (options.keepAlive) this.setKeepAlive(true, options.keepAliveInitialDelay);
    this.#touch();
    // What was written (or ended) while connecting goes first.
    const write = this.#pendingWrite;
    this.#pendingWrite = undefined;
    if (write !== undefined) this._write(write.chunk, 'binary', write.callback);
    const final = this.#pendingFinal;
    this.#pendingFinal = undefined;
    if (final !== undefined) this._final(final);
    this.emit('connect');
    this.emit('ready');
  }

  /** The idle timer's call, one for every socket (the timer passes its socket as `this`). */
  static #idleTimeout(this: TcpSocket): void {
    this.emit('timeout');
  }

  #touch(): void {
    if (this.#timeoutMs > 0 && !this.destroyed) {
      // (A destroyed socket's timer is closed; one made now would be a new, live one.)
      this.#idle ??= new DeadlineTimer<TcpSocket>(this.#scheduler, TcpSocket.#idleTimeout, this);
      this.#idle.set(this.#scheduler.now() + this.#timeoutMs);
    }
  }
}

TcpConnection.socketFactory = (conn) => new TcpSocket(conn);
