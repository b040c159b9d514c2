/**
 * IPv4 addresses as unsigned 32-bit numbers: cheap to compare, and usable as Map keys without
 * allocating. Strings appear only at the user's API and in logs.
 */

import { NetstackError } from '../errors.js';

/** An IPv4 address as an unsigned 32-bit integer (0..2^32-1). */
export type Ipv4Addr = number;

export const IPV4_ANY: Ipv4Addr = 0;
export const IPV4_BROADCAST: Ipv4Addr = 0xffffffff;

/** Parses dotted-quad notation; returns undefined when it is not exactly four decimal octets. */
export function parseIpv4(text: string): Ipv4Addr | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(addr: Ipv4Addr): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/** Reads a big-endian address from `bytes` at `offset`. */
export function readIpv4(bytes: Uint8Array, offset: number): Ipv4Addr {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/** Writes a big-endian address into `bytes` at `offset`. */
export function writeIpv4(bytes: Uint8Array, offset: number, addr: Ipv4Addr): void {
  bytes[offset] = addr >>> 24;
  bytes[offset + 1] = (addr >>> 16) & 0xff;
  bytes[offset + 2] = (addr >>> 8) & 0xff;
  bytes[offset + 3] = addr & 0xff;
}

/** The netmask of a prefix length (0..32) as a number. */
export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** True when `addr` lies in `network`/`prefixLength`. */
export function inSubnet(addr: Ipv4Addr, network: Ipv4Addr, prefixLength: number): boolean {
  const mask = prefixMask(prefixLength);
  return ((addr & mask) >>> 0) === ((network & mask) >>> 0);
}

export function isMulticast(addr: Ipv4Addr): boolean {
  return addr >>> 28 === 0xe;
}

/**
 * `text` as an address, for code that knows it is one (a constant in a hook, a test): like
 * `parseIpv4`, but a bad one throws NetstackError ERR_INVALID_ARG_VALUE instead of returning
 * undefined, so the result is always a number to compare with.
 *
 * @example
 * const blocked = ipv4Addr('198.18.0.66');
 * hooks: { transport: { up: filter((d) => d.src !== blocked) } }
 */
export function ipv4Addr(text: string): Ipv4Addr {
  const addr = parseIpv4(text);
  if (addr === undefined) throw new NetstackError('ERR_INVALID_ARG_VALUE', `"${text}" is not an IPv4 address`);
  return addr;
}

/**
 * A predicate that is true for addresses inside any of `cidrs` (`'198.18.0.0/24'`; a plain
 * address is a /32). Bad entries throw ERR_INVALID_ARG_VALUE naming every one.
 *
 * @example
 * const lan = ipv4Matcher(['198.18.0.0/24']);
 * hooks: { transport: { up: filter((d) => lan(d.src)) } }
 */
export function ipv4Matcher(cidrs: readonly string[]): (addr: Ipv4Addr) => boolean {
  const nets: Array<{ network: number; mask: number }> = [];
  const bad: string[] = [];
  for (const c of cidrs) {
    const [a, p, extra] = c.split('/');
    const addr = parseIpv4(a);
    const prefix = p === undefined ? 32 : /^\d{1,2}$/.test(p) ? Number(p) : NaN;
    if (addr === undefined || extra !== undefined || !(prefix >= 0 && prefix <= 32)) bad.push(`"${c}"`);
    else nets.push({ network: (addr & prefixMask(prefix)) >>> 0, mask: prefixMask(prefix) });
  }
  if (bad.length > 0) throw new NetstackError('ERR_INVALID_ARG_VALUE', `not IPv4 CIDRs: ${bad.join(', ')}`);
  return (addr) => {
    for (const n of nets) if (((addr & n.mask) >>> 0) === n.network) return true;
    return false;
  };
}
