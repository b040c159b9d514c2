import { EventEmitter } from 'node:events';
import { isIP, isIPv6 } from 'node:net';
import type { Subscription } from 'rxjs';
import { NetstackError } from '../../src/errors.js';
import type { TcpConnection } from '../stack/tcp-connection.js';
import type { TcpSocket, TcpSocketOptions } from '../stack/tcp-socket.js';
import type { NetContext } from './net-context.js';
import { KeepAliveRef } from './keep-alive.js';
import { normalizeListenArgs, type NetListenOptions } from './net-args.js';
import { isLocalhost, isLoopbackLiteral } from './resolve-host.js';
import { netSystemError, withEndpoint } from './net-errors.js';

/** Options of `stack.net.createServer(options)`, as node:net's. */
export interface NetServerOptions {
  /** Default false: a connection whose peer ends is ended by us too, once written data is sent. */
  readonly allowHalfOpen?: boolean;
  /** Accepted sockets start paused (for handing them to another consumer). Default false. */
  readonly pauseOnConnect?: boolean;
  /** Nagle off for accepted sockets. Default false. */
  readonly noDelay?: boolean;
  /** Keepalive on for accepted sockets, after `keepAliveInitialDelay` ms idle. Default false. */
  readonly keepAlive?: boolean;
  readonly keepAliveInitialDelay?: number;
  /** The accepted sockets' readable buffer. Default Node's. */
  readonly highWaterMark?: number;
}

/** `server.address()` of a listening server. */
export interface NetAddressInfo {
  readonly address: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly port: number;
}

/** Makes a socket over an accepted connection (the stack's Socket class). */
export type AcceptedSocketFactory = (options: TcpSocketOptions) => TcpSocket;

/**
 * node:net's Server for the stack: `listen()` opens a listener on the stack (`stack.tcp.listen`),
 * each accepted connection becomes a Socket and a 'connection' event.
 *
 * Events: 'listening', 'connection' (socket), 'error' (EADDRINUSE, EADDRNOTAVAIL, ENOTFOUND...,
 * with `syscall` 'listen', `address`, `port` and `errno` as node:net's), 'drop' (a connection
 * over `maxConnections`, closed at once), 'close' (after `close()`, once every connection is
 * gone).
 */
export class NetServer extends EventEmitter {
  /** Connections beyond this many are closed as they arrive ('drop'). Default: no limit. */
  maxConnections: number | undefined = undefined;
  readonly #net: NetContext;
  readonly #newSocket: AcceptedSocketFactory;
  readonly #options: NetServerOptions;
  readonly #sockets = new Set<TcpSocket>();
  readonly #keepAlive: KeepAliveRef;
  #listener: Subscription | undefined;
  #address: NetAddressInfo | undefined;
  /** close() was called and 'close' is not emitted yet. */
  #closing = false;

  /** @internal Use `stack.net.createServer()` or `new stack.net.Server()`. */
  constructor(net: NetContext, newSocket: AcceptedSocketFactory, options: NetServerOptions = {}, connectionListener?: (socket: TcpSocket) => void) {
    super();
    this.#net = net;
    this.#newSocket = newSocket;
    this.#options = options;
    this.#keepAlive = new KeepAliveRef(net.keepAlive);
    if (connectionListener !== undefined) this.on('connection', connectionListener);
  }

  /** True while accepting connections. */
  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /**
   * Listens, as net.Server#listen: `(port[, host][, backlog][, callback])`, `(options[,
   * callback])` or `([callback])`. Port 0 (or none) picks a free ephemeral port; no host means
   * every address of the stack: `::` in both families when the stack runs IPv6 (IPv4 peers
   * then appear IPv4-mapped, `::ffff:198.18.0.1`, as with node:net; `ipv6Only` keeps IPv4
   * out), else 0.0.0.0 (and '::' is taken to mean it). 'listening' follows on the next tick;
   * failures come as 'error'.
   * @throws NetstackError ERR_SOCKET_BAD_PORT, ERR_INVALID_ARG_VALUE (a `path`, handle or fd:
   * none exist on the stack), ERR_SERVER_ALREADY_LISTEN.
   */
  listen(port?: number | string, host?: string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string, host?: string, listeningListener?: () => void): this;
  listen(port?: number | string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string, listeningListener?: () => void): this;
  listen(options: NetListenOptions, listeningListener?: () => void): this;
  listen(listeningListener?: () => void): this;
  listen(...args: unknown[]): this {
    const { port: wanted, host, backlog, signal, ipv6Only, callback } = normalizeListenArgs(args);
    if (this.#listener !== undefined) throw new NetstackError('ERR_SERVER_ALREADY_LISTEN', 'listen: the server is listening already; close it first');
    if (callback !== undefined) this.once('listening', callback);
    const any = host === undefined || host === '::' || host === '::0';
    const address = any ? (this.#net.ipv6 ? '::' : '0.0.0.0') : host;
    // As node:net on a host with IPv6: '::' takes IPv4 too, unless ipv6Only.
    const dualStack = address === '::' && ipv6Only !== true;
    const failed = (err: Error): void => void process.nextTick(() => this.emit('error', err));
    if (!isIP(address)) {
      if (isLocalhost(address)) {
        failed(netSystemError('EADDRNOTAVAIL', `listen ${address}:${wanted}: the stack has no loopback interface (listen on one of its addresses, or on 0.0.0.0)`, 'listen', { address, port: wanted }));
      } else {
        failed(netSystemError('ENOTFOUND', `getaddrinfo ${address}: the stack has no DNS (listen on an IP address)`, 'getaddrinfo', { hostname: address }));
      }
      return this;
    }
    if (isLoopbackLiteral(address)) {
      failed(netSystemError('EADDRNOTAVAIL', `listen ${address}:${wanted}: the stack has no loopback interface`, 'listen', { address, port: wanted }));
      return this;
    }
    const port = wanted === 0 ? this.#net.freePort(address, dualStack) : wanted;
    if (port === undefined) {
      failed(netSystemError('EADDRINUSE', `listen ${address}:0: no free port left`, 'listen', { address, port: 0 }));
      return this;
    }
    let error: Error | undefined;
    const subscription = this.#net.tcp.listen({ address, port, backlog, ipv6Only: address === '::' ? ipv6Only === true : undefined }).subscribe({
      next: (conn) => this.#accept(conn, dualStack),
      error: (err: Error) => {
        error = withEndpoint(err, address, port, 'listen');
        if (this.#listener !== undefined) this.#stopped();
      },
      // The stack closed: the listener is gone, as if close() was called.
      complete: () => {
        if (this.#listener === subscription) this.close();
      },
    });
    if (error !== undefined) {
      failed(error);
      return this;
    }
    this.#listener = subscription;
    this.#address = Object.freeze({ address, family: isIPv6(address) ? 'IPv6' : 'IPv4', port });
    this.#keepAlive.setActive(true);
    if (signal !== undefined) {
      if (signal.aborted) process.nextTick(() => this.close());
      else signal.addEventListener('abort', () => this.close(), { once: true });
    }
    process.nextTick(() => {
      if (this.#listener === subscription) this.emit('listening');
    });
    return this;
  }

  /** Where the server listens, or null when it does not (as net.Server#address). */
  address(): NetAddressInfo | null {
    return this.#address ?? null;
  }

  /**
   * Stops accepting; connections already accepted live on. 'close' follows once every one of
   * them is gone; `callback` gets it, or ERR_SERVER_NOT_RUNNING when the server was not
   * listening (as net.Server#close).
   */
  close(callback?: (err?: Error) => void): this {
    if (callback !== undefined) {
      if (this.#listener === undefined) {
        this.once('close', () => callback(new NetstackError('ERR_SERVER_NOT_RUNNING', 'close: the server is not running')));
      } else {
        this.once('close', () => callback());
      }
    }
    if (this.#listener !== undefined) this.#stopped();
    this.#closing = true;
    this.#emitCloseIfDrained();
    return this;
  }

  /** Calls back with the number of open connections (as net.Server#getConnections). */
  getConnections(callback: (err: Error | null, count: number) => void): this {
    const count = this.#sockets.size;
    process.nextTick(() => callback(null, count));
    return this;
  }

  /** A listening server keeps the process alive unless unref'd (as net.Server). */
  ref(): this {
    this.#keepAlive.ref();
    return this;
  }

  unref(): this {
    this.#keepAlive.unref();
    return this;
  }

  /** Closes, and resolves at 'close' (`await using server = ...`). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#listener === undefined && !this.#closing) return;
    await new Promise<void>((resolve) => this.close(() => resolve()));
  }

  #accept(conn: TcpConnection, dualStack: boolean): void {
    // IPv4 peers of a server on '::' appear IPv4-mapped, as node:net reports them.
    const mapped = dualStack && conn.family === 'IPv4';
    if (this.maxConnections !== undefined && this.#sockets.size >= this.maxConnections) {
      const family = mapped ? 'IPv6' : conn.family;
      const text = (a: string): string => (mapped ? `::ffff:${a}` : a);
      const drop = { localAddress: text(conn.localAddress), localPort: conn.localPort, localFamily: family, remoteAddress: text(conn.remoteAddress), remotePort: conn.remotePort, remoteFamily: family };
      conn.close();
      this.emit('drop', drop);
      return;
    }
    const o = this.#options;
    const socket = this.#newSocket({ connection: conn, allowHalfOpen: o.allowHalfOpen === true, highWaterMark: o.highWaterMark, ipv4Mapped: mapped });
    socket.server = this;
    if (o.noDelay) socket.setNoDelay(true);
    if (o.keepAlive) socket.setKeepAlive(true, o.keepAliveInitialDelay);
    if (o.pauseOnConnect) socket.pause();
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#emitCloseIfDrained();
    });
    this.emit('connection', socket);
  }

  /** Stops listening (close(), or the stack closed). */
  #stopped(): void {
    const l = this.#listener;
    this.#listener = undefined;
    this.#address = undefined;
    this.#keepAlive.setActive(false);
    l?.unsubscribe();
  }

  #emitCloseIfDrained(): void {
    if (!this.#closing || this.#listener !== undefined || this.#sockets.size > 0) return;
    this.#closing = false;
    process.nextTick(() => this.emit('close'));
  }
}
