import { isIPv4, isIPv6 } from 'node:net';
import type { LookupAddress, LookupOneOptions } from 'node:dns';
import { netSystemError, type NetSystemError } from './net-errors.js';

/**
 * A host name resolver shaped like `dns.lookup`, as node:net's `lookup` option takes. It is
 * called with `{ family: 4, hints: 0, all: false }`; an answer with `all: true` semantics (an
 * array) is accepted too, and its first IPv4 address used.
 */
export type LookupFunction = (
  hostname: string,
  options: LookupOneOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/** How a host resolved: `lookedUp` says a name was resolved (node:net then emits 'lookup'). */
export interface ResolvedHost {
  readonly address: string;
  readonly lookedUp: boolean;
}

/**
 * The stack has no DNS. A host is, in this order:
 * - an IPv4 literal: used as is, except 127.0.0.0/8: ENETUNREACH (the stack has no loopback
 *   interface; a datagram to 127.x must never leave by a link);
 * - an IPv6 literal: EAFNOSUPPORT (the stack is IPv4 only);
 * - `localhost`: the stack's own address (`localhostAddress`), which the IPv4 layer delivers to
 *   itself without touching the wire. The stack has no 127.0.0.0/8 interface;
 * - any other name: resolved by `lookup` when given, else ENOTFOUND (syscall 'getaddrinfo').
 *
 * Calls `done` asynchronously in every case, as node:net does.
 */
export function resolveHost(
  host: string,
  lookup: LookupFunction | undefined,
  localhostAddress: string | undefined,
  done: (err: NetSystemError | NodeJS.ErrnoException | null, resolved: ResolvedHost | undefined) => void,
): void {
  if (isIPv4(host)) {
    if (isLoopbackLiteral(host)) process.nextTick(done, noLoopback(host), undefined);
    else process.nextTick(done, null, { address: host, lookedUp: false });
    return;
  }
  if (isIPv6(host)) {
    process.nextTick(done, netSystemError('EAFNOSUPPORT', `connect ${host}: the stack is IPv4 only`, 'connect', { address: host }), undefined);
    return;
  }
  if (isLocalhost(host)) {
    if (localhostAddress === undefined) {
      process.nextTick(done, notFound(host, 'the stack has no IPv4 address for localhost'), undefined);
    } else {
      process.nextTick(done, null, { address: localhostAddress, lookedUp: true });
    }
    return;
  }
  if (lookup === undefined) {
    process.nextTick(done, notFound(host, 'the stack has no DNS: pass an IPv4 address, or a `lookup` function'), undefined);
    return;
  }
  let called = false;
  let returned = false;
  lookup(host, { family: 4, hints: 0, all: false }, (err, address) => {
    if (called) return;
    called = true;
    // A lookup that answers synchronously still answers after connect() returned.
    if (!returned) return process.nextTick(answer, err, address);
    answer(err, address);
  });
  returned = true;

  function answer(err: NodeJS.ErrnoException | null, address: string | LookupAddress[]): void {
    if (err) return done(err, undefined);
    const first = typeof address === 'string' ? address : address.find((a) => a.family === 4 || isIPv4(a.address))?.address;
    if (first === undefined || !isIPv4(first)) {
      return done(netSystemError('EAFNOSUPPORT', `lookup ${host} gave ${JSON.stringify(address)}: the stack is IPv4 only`, 'connect', { hostname: host }), undefined);
    }
    if (isLoopbackLiteral(first)) return done(noLoopback(first), undefined);
    done(null, { address: first, lookedUp: true });
  }
}

/** `localhost`, `LOCALHOST`, `localhost.` (and names under .localhost, RFC 6761 6.3). */
export function isLocalhost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

/** True for 127.0.0.0/8, which the stack does not have. */
export function isLoopbackLiteral(host: string): boolean {
  return isIPv4(host) && host.startsWith('127.');
}

function noLoopback(host: string): NetSystemError {
  return netSystemError('ENETUNREACH', `connect ${host}: the stack has no loopback interface (use 'localhost' or one of its addresses)`, 'connect', { address: host });
}

function notFound(host: string, why: string): NetSystemError {
  return netSystemError('ENOTFOUND', `getaddrinfo ${host}: ${why}`, 'getaddrinfo', { hostname: host });
}
