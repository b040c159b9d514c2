import { isIP, isIPv4, isIPv6 } from 'node:net';
import { TcpSocket, type TcpSocketOptions } from '../stack/tcp-socket.js';
import { NetServer, type NetServerOptions } from './server.js';
import type { NetContext } from './net-context.js';
import type { NetConnectOptions } from './net-args.js';

/**
 * `stack.net`: the node:net module over one stack. Code written against node:net runs on the
 * stack when given this object instead (`const net = stack.net`): servers listen on the
 * stack's addresses, sockets connect through it.
 */
export interface NetModule {
  /** `new net.Server([options][, connectionListener])`. */
  readonly Server: new (options?: NetServerOptions | ((socket: TcpSocket) => void), connectionListener?: (socket: TcpSocket) => void) => NetServer;
  /** `new net.Socket([options])`: unconnected until `socket.connect(...)`. */
  readonly Socket: new (options?: Omit<TcpSocketOptions, 'connection'>) => TcpSocket;
  createServer(connectionListener?: (socket: TcpSocket) => void): NetServer;
  createServer(options?: NetServerOptions, connectionListener?: (socket: TcpSocket) => void): NetServer;
  /** A new Socket, connecting: `(options[, cb])` or `(port[, host][, cb])`. */
  connect(options: NetConnectOptions, connectListener?: () => void): TcpSocket;
  connect(port: number | string, host?: string, connectListener?: () => void): TcpSocket;
  connect(port: number | string, connectListener?: () => void): TcpSocket;
  /** The same as `connect`. */
  createConnection(options: NetConnectOptions, connectListener?: () => void): TcpSocket;
  createConnection(port: number | string, host?: string, connectListener?: () => void): TcpSocket;
  createConnection(port: number | string, connectListener?: () => void): TcpSocket;
  /** node:net's own (pure functions of a string). */
  readonly isIP: typeof isIP;
  readonly isIPv4: typeof isIPv4;
  readonly isIPv6: typeof isIPv6;
}

/** Builds the node:net module of one stack. */
export function createNet(net: NetContext): NetModule {
  // Classes per stack: `new stack.net.Socket()` must know which stack it connects through.
  class Socket extends TcpSocket {
    constructor(options: TcpSocketOptions = {}) {
      super(options, net);
    }
  }
  // Accepted sockets are the stack's Socket too (`socket instanceof net.Socket`).
  const accepted = (options: TcpSocketOptions): TcpSocket => new Socket(options);
  class Server extends NetServer {
    constructor(options?: NetServerOptions | ((socket: TcpSocket) => void), connectionListener?: (socket: TcpSocket) => void) {
      if (typeof options === 'function') super(net, accepted, {}, options);
      else super(net, accepted, options ?? {}, connectionListener);
    }
  }
  function createServer(options?: NetServerOptions | ((socket: TcpSocket) => void), connectionListener?: (socket: TcpSocket) => void): NetServer {
    return new Server(options, connectionListener);
  }
  function connect(...args: unknown[]): TcpSocket {
    const first = args[0];
    const options: Partial<NetConnectOptions> = typeof first === 'object' && first !== null ? (first as NetConnectOptions) : {};
    const socket = new Socket({ allowHalfOpen: options.allowHalfOpen, highWaterMark: (options as TcpSocketOptions).highWaterMark });
    return (socket.connect as (...a: unknown[]) => TcpSocket)(...args);
  }
  return Object.freeze({
    Server,
    Socket,
    createServer: createServer as NetModule['createServer'],
    connect: connect as NetModule['connect'],
    createConnection: connect as NetModule['createConnection'],
    isIP,
    isIPv4,
    isIPv6,
  });
}
