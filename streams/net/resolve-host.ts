import { isIPv4, isIPv6 } from 'node:net';
import type { LookupAddress, LookupOneOptions } from 'node:dns';
import { netSystemError, type NetSystemError } from './net-errors.js';
import { isIpv6Loopback, parseIpv6 } from '../../src/ipv6/address.js';

/**
 * A host name resolver shaped like `dns.lookup`, as node:net's `lookup` option takes. It is
 * called with `{ family, hints: 0, all: false }` (family 4 on an IPv4-only stack, else the
 * connect's `family`, default 0); an answer with `all: true` semantics (an array) is accepted
 * too, and its first address of a usable family taken.
 */
export type LookupFunction = (
  hostname: string,
  options: LookupOneOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/** How a host resolved: `lookedUp` says a name was resolved (node:net then emits 'lookup'). */
export interface ResolvedHost {
  readonly address: string;
  readonly family: 4 | 6;
  readonly lookedUp: boolean;
}

/** What the stack offers a host: its `localhost` address, IPv6 or not, the family asked for. */
export interface ResolveContext {
  readonly lookup: LookupFunction | undefined;
  readonly localhostAddress: string | undefined;
  /** The stack runs IPv6. */
  readonly ipv6: boolean;
  /** node:net's `family` option: 4, 6, or 0/undefined for either. */
  readonly family: number | undefined;
}

/**
 * The stack has no DNS. A host is, in this order:
 * - an IPv4 literal: used as is, except 127.0.0.0/8: ENETUNREACH (the stack has no loopback
 *   interface; a datagram to 127.x must never leave by a link);
 * - an IPv6 literal (with a `%zone` for a link-local one): used as is when the stack runs
 *   IPv6 (else EAFNOSUPPORT), except `::1`: ENETUNREACH, as 127.x;
 * - `localhost`: the stack's own address (`localhostAddress`), which the IP layer delivers to
 *   itself without touching the wire. The stack has no loopback interface;
 * - any other name: resolved by `lookup` when given, else ENOTFOUND (syscall 'getaddrinfo').
 *
 * Calls `done` asynchronously in every case, as node:net does.
 */
export function resolveHost(
  host: string,
  context: ResolveContext,
  done: (err: NetSystemError | NodeJS.ErrnoException | null, resolved: ResolvedHost | undefined) => void,
): void {
  const { lookup, localhostAddress, ipv6 } = context;
  if (isIPv4(host)) {
    if (isLoopbackLiteral(host)) process.nextTick(done, noLoopback(host), undefined);
    else process.nextTick(done, null, { address: host, family: 4, lookedUp: false });
    return;
  }
  if (isIPv6(host)) {
    if (!ipv6) process.nextTick(done, netSystemError('EAFNOSUPPORT', `connect ${host}: IPv6 is not enabled on this stack`, 'connect', { address: host }), undefined);
    else if (isLoopbackLiteral(host)) process.nextTick(done, noLoopback(host), undefined);
    else process.nextTick(done, null, { address: host, family: 6, lookedUp: false });
    return;
  }
  if (isLocalhost(host)) {
    if (localhostAddress === undefined) {
      process.nextTick(done, notFound(host, 'the stack has no address for localhost'), undefined);
    } else {
      process.nextTick(done, null, { address: localhostAddress, family: isIPv6(localhostAddress) ? 6 : 4, lookedUp: true });
    }
    return;
  }
  if (lookup === undefined) {
    process.nextTick(done, notFound(host, 'the stack has no DNS: pass an IP address, or a `lookup` function'), undefined);
    return;
  }
  // Which families an answer may be in: the one asked for, both when none was (if the stack runs IPv6).
  const want = !ipv6 ? 4 : context.family === 4 || context.family === 6 ? context.family : 0;
  const usable = (a: string): boolean => (isIPv4(a) && want !== 6) || (isIPv6(a) && want !== 4);
  let called = false;
  let returned = false;
  lookup(host, { family: want, hints: 0, all: false }, (err, address) => {
    if (called) return;
    called = true;
    // A lookup that answers synchronously still answers after connect() returned.
    if (!returned) return process.nextTick(answer, err, address);
    answer(err, address);
  });
  returned = true;

  function answer(err: NodeJS.ErrnoException | null, address: string | LookupAddress[]): void {
    if (err) return done(err, undefined);
    const first = typeof address === 'string' ? address : address.find((a) => usable(a.address))?.address;
    if (first === undefined || !usable(first)) {
      const why = ipv6 ? `no address of family ${want === 0 ? '4 or 6' : want}` : 'the stack is IPv4 only';
      return done(netSystemError('EAFNOSUPPORT', `lookup ${host} gave ${JSON.stringify(address)}: ${why}`, 'connect', { hostname: host }), undefined);
    }
    if (isLoopbackLiteral(first)) return done(noLoopback(first), undefined);
    done(null, { address: first, family: isIPv6(first) ? 6 : 4, lookedUp: true });
  }
}

/** `localhost`, `LOCALHOST`, `localhost.` (and names under .localhost, RFC 6761 6.3). */
export function isLocalhost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

/** True for 127.0.0.0/8 and ::1, which the stack does not have. */
export function isLoopbackLiteral(host: string): boolean {
  return (isIPv4(host) && host.startsWith('127.')) || (isIPv6(host) && isIpv6Loopback(parseIpv6(host.split('%')[0]) ?? new Uint8Array(16)));
}

function noLoopback(host: string): NetSystemError {
  return netSystemError('ENETUNREACH', `connect ${host}: the stack has no loopback interface (use 'localhost' or one of its addresses)`, 'connect', { address: host });
}

function notFound(host: string, why: string): NetSystemError {
  return netSystemError('ENOTFOUND', `getaddrinfo ${host}: ${why}`, 'getaddrinfo', { hostname: host });
}
