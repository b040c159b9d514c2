/**
 * Errors that reach a user carry the codes a Node user knows (`err.code === 'ECONNREFUSED'`),
 * like the errors of `node:net` and `node:dgram`.
 */

export type NetstackErrorCode =
  | 'EADDRINUSE'
  | 'EADDRNOTAVAIL'
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'ECONNABORTED'
  | 'ETIMEDOUT'
  | 'EHOSTUNREACH'
  | 'ENETUNREACH'
  | 'EMSGSIZE'
  | 'EPROTO'
  | 'EPIPE'
  | 'ENOTCONN'
  | 'EINVAL'
  | 'ENOBUFS'
  | 'EMFILE'
  | 'ENOENT'
  | 'EPERM'
  | 'EACCES'
  | 'ENODEV'
  | 'EBUSY'
  | 'ENOTFOUND'
  | 'EAFNOSUPPORT'
  | 'EISCONN'
  | 'ERR_INVALID_CONFIG'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_SOCKET_CLOSED'
  | 'ERR_STREAM_DESTROYED'
  | 'ERR_LINK_CLOSED'
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_SOCKET_BAD_PORT'
  | 'ERR_SERVER_ALREADY_LISTEN'
  | 'ERR_SERVER_NOT_RUNNING'
  | 'ERR_INVALID_STATE';

/** An error with a stable Node-style `code` (and errno-like `syscall` where one applies). */
export class NetstackError extends Error {
  readonly code: NetstackErrorCode;
  readonly syscall?: string;

  constructor(code: NetstackErrorCode, message: string, options?: { syscall?: string; cause?: unknown }) {
    super(`${code}: ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NetstackError';
    this.code = code;
    if (options?.syscall !== undefined) this.syscall = options.syscall;
  }
}

/** Shorthand used by the layers: `netError('ECONNREFUSED', 'connect 198.18.0.1:80')`. */
export function netError(code: NetstackErrorCode, message: string, syscall?: string): NetstackError {
  return new NetstackError(code, message, syscall === undefined ? undefined : { syscall });
}
