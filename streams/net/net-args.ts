import { NetstackError } from '../../src/errors.js';
import type { LookupFunction } from './resolve-host.js';

/** Options of `connect` / `createConnection` / `socket.connect` (node:net's TcpNetConnectOpts). */
export interface NetConnectOptions {
  readonly port: number | string;
  /** Default 'localhost' (the stack's own address). */
  readonly host?: string;
  readonly localAddress?: string;
  readonly localPort?: number;
  /** Resolves host names (the stack has no DNS); shaped like `dns.lookup`. */
  readonly lookup?: LookupFunction;
  /** As `socket.setTimeout(timeout)` right away (covers connecting too). */
  readonly timeout?: number;
  readonly noDelay?: boolean;
  readonly keepAlive?: boolean;
  readonly keepAliveInitialDelay?: number;
  /** Default false: the peer's FIN ends our side too once everything written is sent. Taken by
   * `net.connect()` / `createConnection()`, which make the socket; `socket.connect()` ignores it (as node:net). */
  readonly allowHalfOpen?: boolean;
  /** For a `lookup`: 4, 6, or 0 (default) for either; literal hosts need none. */
  readonly family?: number;
  /** Unix sockets do not exist on the stack: a `path` is refused. */
  readonly path?: string | null;
}

/** Options of `server.listen(options)`. */
export interface NetListenOptions {
  readonly port?: number | string;
  /** Default `::` (both families) when the stack runs IPv6, else 0.0.0.0. */
  readonly host?: string;
  readonly backlog?: number;
  /** Unix sockets do not exist on the stack: a `path` is refused. */
  readonly path?: string;
  /** Accepted and ignored (no cluster). */
  readonly exclusive?: boolean;
  /** With `::` (or no host): IPv6 only, no IPv4 peers. Default false. */
  readonly ipv6Only?: boolean;
  /** Aborting it closes the server. */
  readonly signal?: AbortSignal;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Callback = (...args: any[]) => void;

/** What node:net's connect overloads mean: (options[, cb]), (port[, host][, cb]), (path[, cb]). */
export function normalizeConnectArgs(args: readonly unknown[]): { options: NetConnectOptions; callback: Callback | undefined } {
  const last = args[args.length - 1];
  const callback = typeof last === 'function' ? (last as Callback) : undefined;
  const first = args[0];
  let options: NetConnectOptions;
  if (typeof first === 'object' && first !== null) {
    options = first as NetConnectOptions;
  } else if (typeof first === 'string' && !isNumeric(first)) {
    options = { port: Number.NaN, path: first };
  } else {
    options = { port: first as number, host: typeof args[1] === 'string' ? args[1] : undefined };
  }
  if (options.path !== undefined && options.path !== null && options.path !== '') {
    throw new NetstackError('ERR_INVALID_ARG_VALUE', `connect: path "${options.path}": the stack has no unix sockets; give a port (and host)`);
  }
  return { options, callback };
}

/** The port of `connect` as a number: 1..65535 (a numeric string is accepted, as by node:net). */
export function connectPort(port: unknown): number {
  const n = toPort(port);
  if (n === undefined || n === 0) throw badPort(port, 'connect', '1..65535');
  return n;
}

/**
 * What node:net's listen overloads mean: (port[, host][, backlog][, cb]), (port[, backlog][, cb]),
 * (options[, cb]), ([cb]).
 */
export function normalizeListenArgs(args: readonly unknown[]): {
  port: number;
  host: string | undefined;
  backlog: number | undefined;
  signal: AbortSignal | undefined;
  ipv6Only: boolean | undefined;
  callback: Callback | undefined;
} {
  const last = args[args.length - 1];
  const callback = typeof last === 'function' ? (last as Callback) : undefined;
  const rest = callback === undefined ? args : args.slice(0, -1);
  const first = rest[0];
  let options: NetListenOptions;
  let backlog: number | undefined;
  if (typeof first === 'object' && first !== null) {
    options = first as NetListenOptions;
    if ('handle' in options || 'fd' in options || ('_handle' in first)) {
      throw new NetstackError('ERR_INVALID_ARG_VALUE', 'listen: handles and file descriptors do not exist on the stack; give a port (and host)');
    }
    backlog = options.backlog;
  } else if (typeof first === 'string' && !isNumeric(first)) {
    options = { path: first };
  } else {
    const host = typeof rest[1] === 'string' ? rest[1] : undefined;
    const backlogArg = host === undefined ? rest[1] : rest[2];
    options = { port: first as number | undefined, host };
    backlog = typeof backlogArg === 'number' ? backlogArg : undefined;
  }
  if (options.path !== undefined) {
    throw new NetstackError('ERR_INVALID_ARG_VALUE', `listen: path "${options.path}": the stack has no unix sockets; give a port (and host)`);
  }
  let port = 0;
  if (options.port !== undefined && options.port !== null) {
    const n = toPort(options.port);
    if (n === undefined) throw badPort(options.port, 'listen', '0..65535');
    port = n;
  }
  if (backlog !== undefined && (!Number.isInteger(backlog) || backlog < 0)) {
    throw new NetstackError('ERR_INVALID_ARG_VALUE', `listen: backlog ${String(backlog)} is not a non-negative integer`);
  }
  return { port, host: options.host, backlog: backlog || undefined, signal: options.signal, ipv6Only: options.ipv6Only, callback };
}

function isNumeric(s: string): boolean {
  return s.trim() !== '' && Number.isFinite(Number(s));
}

function toPort(port: unknown): number | undefined {
  if (typeof port === 'string' && isNumeric(port)) port = Number(port);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  return port;
}

function badPort(port: unknown, what: string, range: string): NetstackError {
  const shown = typeof port === 'string' ? `"${port}"` : String(port);
  return new NetstackError('ERR_SOCKET_BAD_PORT', `${what}: port should be in ${range}, got ${shown}`);
}
