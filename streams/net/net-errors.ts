import { constants } from 'node:os';
import { NetstackError, type NetstackErrorCode } from '../../src/errors.js';

/**
 * The fields node:net puts on its system errors, beside `code` and `syscall`: `errno` (libuv's
 * negative number), and for connect and listen errors the `address` and `port` concerned, or
 * the `hostname` that did not resolve.
 */
export interface NetErrorFields {
  errno?: number;
  address?: string;
  port?: number;
  hostname?: string;
}

/** A NetstackError as stack.net hands it out. */
export type NetSystemError = NetstackError & NetErrorFields;

/** libuv's number for getaddrinfo's "name not known" (what Node reports for ENOTFOUND). */
const UV_EAI_NONAME = -3008;

/** The errno Node reports for `code` (negative, as libuv's), or undefined for Node-only codes. */
export function errnoFor(code: string): number | undefined {
  if (code === 'ENOTFOUND') return UV_EAI_NONAME;
  const n = (constants.errno as Record<string, number | undefined>)[code];
  return n === undefined ? undefined : -n;
}

/** Adds `errno` (when the code has one and it is not set yet) to an error from the stack. */
export function withErrno<E extends Error>(err: E): E & NetErrorFields {
  const e = err as E & NetErrorFields & { code?: unknown };
  if (e.errno === undefined && typeof e.code === 'string') {
    const errno = errnoFor(e.code);
    if (errno !== undefined) e.errno = errno;
  }
  return e;
}

/**
 * Adds `address`, `port`, `errno` (and `syscall` when the error has none) to a connect or
 * listen error, as node:net does.
 */
export function withEndpoint<E extends Error>(err: E, address: string, port: number, syscall: string): E & NetErrorFields {
  const e = withErrno(err);
  const s = e as { syscall?: string };
  if (s.syscall === undefined) s.syscall = syscall;
  e.address ??= address;
  e.port ??= port;
  return e;
}

/** A new error with Node's fields: `code`, `syscall`, `errno`, and any of address/port/hostname. */
export function netSystemError(code: NetstackErrorCode, message: string, syscall: string, fields: NetErrorFields = {}): NetSystemError {
  const err: NetSystemError = new NetstackError(code, message, { syscall });
  Object.assign(err, fields);
  return withErrno(err);
}
