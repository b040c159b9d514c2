/**
 * IPv6 addresses (RFC 4291) as 16-byte Uint8Arrays, big-endian, exactly as they sit in a header.
 *
 * Why bytes and not numbers: 128 bits fit no JavaScript primitive, and the wire already holds
 * them as bytes, so a parsed header can hand out a 16-byte view (no copy) and an emitter writes
 * one `set`. Code that needs a Map key on the hot path does not turn addresses into strings: it
 * hashes the four 32-bit words (`ipv6Hash`) and compares bytes in place (`ipv6EqualsAt`); see
 * docs/ipv6.md for the measurements behind that choice and `Ipv6AddressTable` (address-table.ts)
 * for the table built on it. Strings appear only at the user's API and in logs.
 *
 * Text forms: `parseIpv6` accepts every form of RFC 4291 2.2 (full, `::`-compressed, a trailing
 * dotted quad); `formatIpv6` writes RFC 5952's canonical form (lower case, no leading zeros, the
 * longest run of two or more zero groups as `::`, the first one on a tie, IPv4-mapped addresses
 * as `::ffff:a.b.c.d`).
 */

import { NetstackError } from '../errors.js';
import type { Ipv4Addr } from '../ipv4/address.js';
import type { MacAddr } from '../mac.js';
import { SipHash24 } from '../tcp/siphash.js';

/** An IPv6 address: 16 bytes in network order. A view into a packet or an owned copy. */
export type Ipv6Addr = Uint8Array;

export const IPV6_ADDR_LEN = 16;

function constant(...bytes: number[]): Ipv6Addr {
  const a = new Uint8Array(IPV6_ADDR_LEN);
  a.set(bytes, IPV6_ADDR_LEN - bytes.length);
  return a;
}

function multicastConstant(scope: number, low: number): Ipv6Addr {
  const a = new Uint8Array(IPV6_ADDR_LEN);
  a[0] = 0xff;
  a[1] = scope;
  a[15] = low;
  return a;
}

/**
 * Well-known addresses. They are shared Uint8Arrays: never write into them (copy with
 * `.slice()` first). Frozen typed arrays are not possible in JavaScript.
 */
export const Ipv6Addresses = {
  /** `::`, the unspecified address (RFC 4291 2.5.2): "any" in a bind, the source of DAD probes. */
  UNSPECIFIED: constant(),
  /** `::1` (RFC 4291 2.5.3). */
  LOOPBACK: constant(1),
  /** `ff02::1`, all nodes on the link. */
  ALL_NODES: multicastConstant(0x02, 1),
  /** `ff02::2`, all routers on the link (router solicitations go there). */
  ALL_ROUTERS: multicastConstant(0x02, 2),
  /** `ff02::16`, all MLDv2-capable routers (RFC 3810 5.2.14: reports go there). */
  ALL_MLDV2_ROUTERS: multicastConstant(0x02, 0x16),
} as const;

/** Reads one hex group (1..4 digits) or returns -1. */
function hexGroup(text: string): number {
  if (text.length === 0 || text.length > 4) return -1;
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else return -1;
    v = (v << 4) | d;
  }
  return v;
}

/** Strict dotted quad (no leading zeros, which some parsers read as octal) into out[at..at+4). */
function dottedQuad(text: string, out: Uint8Array, at: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i])) return false;
    const n = Number(parts[i]);
    if (n > 255) return false;
    out[at + i] = n;
  }
  return true;
}

/**
 * Parses any RFC 4291 2.2 text form: `2001:db8:0:0:8:800:200c:417a`, `2001:db8::417a`, `::`,
 * `::ffff:198.18.0.1`. Hex digits in either case. Returns undefined for anything else, including
 * zone suffixes (`fe80::1%eth0`: split the zone off first) and prefixes (`/64`: see
 * `parseIpv6Prefix`). Never throws.
 */
export function parseIpv6(text: string): Ipv6Addr | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const out = new Uint8Array(IPV6_ADDR_LEN);
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0].split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : halves[1].split(':')) : undefined;

  // The last group of the whole address may be a dotted quad worth two groups.
  const last = tail ?? head;
  let v4 = false;
  if (last.length > 0 && last[last.length - 1].includes('.')) {
    v4 = true;
    if (!dottedQuad(last[last.length - 1], out, 12)) return undefined;
    last.pop();
  }
  const groupsAvailable = v4 ? 6 : 8;
  const headCount = head.length;
  const tailCount = tail === undefined ? 0 : tail.length;
  if (tail === undefined) {
    if (headCount !== groupsAvailable) return undefined;
  } else if (headCount + tailCount > groupsAvailable - 1) {
    // `::` stands for at least one group of zeros (RFC 4291 2.2 item 2).
    return undefined;
  }
  for (let i = 0; i < headCount; i++) {
    const g = hexGroup(head[i]);
    if (g < 0) return undefined;
    out[i * 2] = g >>> 8;
    out[i * 2 + 1] = g & 0xff;
  }
  if (tail !== undefined) {
    const start = groupsAvailable - tailCount;
    for (let i = 0; i < tailCount; i++) {
      const g = hexGroup(tail[i]);
      if (g < 0) return undefined;
      out[(start + i) * 2] = g >>> 8;
      out[(start + i) * 2 + 1] = g & 0xff;
    }
  }
  return out;
}

/** RFC 5952 canonical text of the 16 bytes at `addr[offset..]`. */
export function formatIpv6(addr: Ipv6Addr, offset = 0): string {
  if (isIpv4MappedAt(addr, offset)) {
    return `::ffff:${addr[offset + 12]}.${addr[offset + 13]}.${addr[offset + 14]}.${addr[offset + 15]}`;
  }
  // Find the longest run of zero groups (length >= 2, first on a tie: RFC 5952 4.2.2, 4.2.3).
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let g = 0; g <= 8; g++) {
    const zero = g < 8 && addr[offset + g * 2] === 0 && addr[offset + g * 2 + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = g;
    } else if (runStart >= 0) {
      if (g - runStart > bestLen) {
        bestStart = runStart;
        bestLen = g - runStart;
      }
      runStart = -1;
    }
  }
  let s = '';
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      s += '::';
      g += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += (((addr[offset + g * 2] << 8) | addr[offset + g * 2 + 1])).toString(16);
  }
  return s;
}

/**
 * `text` as an address, for code that knows it is one (a constant, a test): like `parseIpv6`,
 * but a bad one throws NetstackError ERR_INVALID_ARG_VALUE.
 */
export function ipv6Addr(text: string): Ipv6Addr {
  const a = parseIpv6(text);
  if (a === undefined) throw new NetstackError('ERR_INVALID_ARG_VALUE', `"${text}" is not an IPv6 address`);
  return a;
}

/** An address with its prefix length, as written `fd00:198:18::2/64`. */
export interface Ipv6Prefixed {
  readonly address: Ipv6Addr;
  /** 0..128. */
  readonly prefixLength: number;
}

/** Parses `address/length` (length 0..128, decimal, no leading zeros). Undefined when malformed. */
export function parseIpv6Prefix(text: string): Ipv6Prefixed | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const len = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(len)) return undefined;
  const prefixLength = Number(len);
  if (prefixLength > 128) return undefined;
  const address = parseIpv6(text.slice(0, slash));
  return address === undefined ? undefined : { address, prefixLength };
}

/** A copy of the 16 bytes at `bytes[offset..]`. */
export function readIpv6(bytes: Uint8Array, offset: number): Ipv6Addr {
  return bytes.slice(offset, offset + IPV6_ADDR_LEN);
}

/** Writes `addr` into `bytes` at `offset`. */
export function writeIpv6(bytes: Uint8Array, offset: number, addr: Ipv6Addr): void {
  bytes.set(addr.subarray(0, IPV6_ADDR_LEN), offset);
}

/** True when the 16 bytes at a[aOff..] and b[bOff..] are equal. No allocation. */
export function ipv6EqualsAt(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < IPV6_ADDR_LEN; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

/** True when two addresses are equal. */
export function ipv6Equals(a: Ipv6Addr, b: Ipv6Addr): boolean {
  return ipv6EqualsAt(a, 0, b, 0);
}

/** Reads the big-endian 32-bit word `w` (0..3) of the address at `bytes[offset..]`. */
export function ipv6Word(bytes: Uint8Array, offset: number, w: number): number {
  const i = offset + w * 4;
  return ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
}

/**
 * A 30-bit hash of the address at `bytes[offset..]`, for bucketing in a Map<number, ...> without
 * building a key string (`Ipv6AddressMap` is built on it). Tables exposed to addresses a peer
 * chooses should pass a secret `seed`.
 */
export function ipv6Hash(bytes: Uint8Array, offset = 0, seed = 0): number {
  return ipv6HashWords(seed, ipv6Word(bytes, offset, 0) | 0, ipv6Word(bytes, offset, 1) | 0,
    ipv6Word(bytes, offset, 2) | 0, ipv6Word(bytes, offset, 3) | 0);
}

/**
 * The hash of an address given as its four 32-bit words (int32 or uint32 alike): a murmur3-style
 * mix (multiply, rotate, final avalanche). 30 bits, so the key is a small integer, which V8's Map
 * hashes fastest.
 */
export function ipv6HashWords(seed: number, w0: number, w1: number, w2: number, w3: number): number {
  let h = seed;
  h = Math.imul(h ^ w0, 0x85ebca6b);
  h = (h << 13) | (h >>> 19);
  h = Math.imul(h ^ w1, 0x85ebca6b);
  h = (h << 13) | (h >>> 19);
  h = Math.imul(h ^ w2, 0x85ebca6b);
  h = (h << 13) | (h >>> 19);
  h = Math.imul(h ^ w3, 0x85ebca6b);
  h ^= h >>> 16;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 13;
  return h & 0x3fffffff;
}

// -- prefixes ---------------------------------------------------------------------------------

/** A copy of `addr` with every bit past `prefixLength` cleared (the network of a prefix). */
export function ipv6Network(addr: Ipv6Addr, prefixLength: number): Ipv6Addr {
  const out = addr.slice(0, IPV6_ADDR_LEN);
  const whole = prefixLength >>> 3;
  const bits = prefixLength & 7;
  if (whole < IPV6_ADDR_LEN) {
    if (bits !== 0) out[whole] &= (0xff << (8 - bits)) & 0xff;
    out.fill(0, bits !== 0 ? whole + 1 : whole);
  }
  return out;
}

/** True when the first `prefixLength` bits of the address at `bytes[offset..]` equal those of `prefix`. */
export function ipv6InPrefix(bytes: Uint8Array, offset: number, prefix: Ipv6Addr, prefixLength: number): boolean {
  const whole = prefixLength >>> 3;
  for (let i = 0; i < whole; i++) if (bytes[offset + i] !== prefix[i]) return false;
  const bits = prefixLength & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (bytes[offset + whole] & mask) === (prefix[whole] & mask);
}

/** The prefix length's netmask as an address (`/64` -> `ffff:ffff:ffff:ffff::`). */
export function ipv6Mask(prefixLength: number): Ipv6Addr {
  return ipv6Network(new Uint8Array(IPV6_ADDR_LEN).fill(0xff), prefixLength);
}

/** Number of leading bits two addresses share (0..128): RFC 6724 rule 8's CommonPrefixLen. */
export function ipv6CommonPrefixLength(a: Ipv6Addr, b: Ipv6Addr): number {
  for (let i = 0; i < IPV6_ADDR_LEN; i++) {
    const x = a[i] ^ b[i];
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return 128;
}

// -- kinds and scopes -------------------------------------------------------------------------

/**
 * Scopes (RFC 4007, RFC 4291 2.7): the multicast scope field values, which unicast addresses
 * share (link-local unicast is LINK_LOCAL, global unicast GLOBAL, loopback INTERFACE_LOCAL).
 */
export const Ipv6Scope = {
  INTERFACE_LOCAL: 0x1,
  LINK_LOCAL: 0x2,
  REALM_LOCAL: 0x3,
  ADMIN_LOCAL: 0x4,
  SITE_LOCAL: 0x5,
  ORGANIZATION_LOCAL: 0x8,
  GLOBAL: 0xe,
} as const;
export type Ipv6Scope = (typeof Ipv6Scope)[keyof typeof Ipv6Scope];

export function isIpv6Multicast(addr: Ipv6Addr, offset = 0): boolean {
  return addr[offset] === 0xff;
}

export function isIpv6Unspecified(addr: Ipv6Addr, offset = 0): boolean {
  for (let i = 0; i < IPV6_ADDR_LEN; i++) if (addr[offset + i] !== 0) return false;
  return true;
}

export function isIpv6Loopback(addr: Ipv6Addr, offset = 0): boolean {
  for (let i = 0; i < 15; i++) if (addr[offset + i] !== 0) return false;
  return addr[offset + 15] === 1;
}

/** fe80::/10 (RFC 4291 2.5.6). */
export function isIpv6LinkLocal(addr: Ipv6Addr, offset = 0): boolean {
  return addr[offset] === 0xfe && (addr[offset + 1] & 0xc0) === 0x80;
}

/** fc00::/7, unique local addresses (RFC 4193): global scope, but not routed on the Internet. */
export function isIpv6UniqueLocal(addr: Ipv6Addr, offset = 0): boolean {
  return (addr[offset] & 0xfe) === 0xfc;
}

/** ::ffff:0:0/96, an IPv4 address seen through an IPv6 socket (RFC 4291 2.5.5.2). */
export function isIpv4MappedAt(addr: Uint8Array, offset = 0): boolean {
  for (let i = 0; i < 10; i++) if (addr[offset + i] !== 0) return false;
  return addr[offset + 10] === 0xff && addr[offset + 11] === 0xff;
}

/** ff02::1:ff00:0/104, a solicited-node multicast group. */
export function isSolicitedNode(addr: Ipv6Addr, offset = 0): boolean {
  if (addr[offset] !== 0xff || addr[offset + 1] !== 0x02) return false;
  for (let i = 2; i < 11; i++) if (addr[offset + i] !== 0) return false;
  return addr[offset + 11] === 1 && addr[offset + 12] === 0xff;
}

/**
 * The scope of an address: a multicast address's scope field; for unicast, INTERFACE_LOCAL for
 * loopback (RFC 4291 2.5.3: never leaves the node), LINK_LOCAL for fe80::/10, SITE_LOCAL for the
 * deprecated fec0::/10 (RFC 3879), GLOBAL for everything else (unique local addresses included,
 * as RFC 4193 3.3 says).
 */
export function ipv6Scope(addr: Ipv6Addr, offset = 0): number {
  if (isIpv6Multicast(addr, offset)) return addr[offset + 1] & 0x0f;
  if (isIpv6Loopback(addr, offset)) return Ipv6Scope.INTERFACE_LOCAL;
  if (isIpv6LinkLocal(addr, offset)) return Ipv6Scope.LINK_LOCAL;
  if (addr[offset] === 0xfe && (addr[offset + 1] & 0xc0) === 0xc0) return Ipv6Scope.SITE_LOCAL;
  return Ipv6Scope.GLOBAL;
}

// -- derived addresses ------------------------------------------------------------------------

/** The solicited-node group of `addr` (RFC 4291 2.7.1): ff02::1:ff + its low 24 bits. */
export function solicitedNodeAddress(addr: Ipv6Addr): Ipv6Addr {
  const out = new Uint8Array(IPV6_ADDR_LEN);
  out[0] = 0xff;
  out[1] = 0x02;
  out[11] = 0x01;
  out[12] = 0xff;
  out[13] = addr[13];
  out[14] = addr[14];
  out[15] = addr[15];
  return out;
}

/** The Ethernet group address of an IPv6 multicast address (RFC 2464 7): 33:33 + its low 32 bits. */
export function ipv6MulticastMac(addr: Ipv6Addr, offset = 0): MacAddr {
  return new Uint8Array([0x33, 0x33, addr[offset + 12], addr[offset + 13], addr[offset + 14], addr[offset + 15]]);
}

/** `::ffff:a.b.c.d` for an IPv4 address. */
export function ipv4MappedAddress(v4: Ipv4Addr): Ipv6Addr {
  const out = new Uint8Array(IPV6_ADDR_LEN);
  out[10] = 0xff;
  out[11] = 0xff;
  out[12] = v4 >>> 24;
  out[13] = (v4 >>> 16) & 0xff;
  out[14] = (v4 >>> 8) & 0xff;
  out[15] = v4 & 0xff;
  return out;
}

/** The IPv4 address inside an IPv4-mapped address, or undefined when it is not one. */
export function ipv4FromMapped(addr: Ipv6Addr): Ipv4Addr | undefined {
  return isIpv4MappedAt(addr, 0) ? ipv6Word(addr, 0, 3) : undefined;
}

/**
 * The modified EUI-64 interface identifier of a MAC (RFC 4291 appendix A): the OUI, ff:fe, the
 * rest, with the universal/local bit inverted. 8 bytes. RFC 8064 recommends stable identifiers
 * (`stableInterfaceId`) over this one for SLAAC, since it exposes the MAC; it remains what many
 * hosts use for link-local addresses.
 */
export function eui64InterfaceId(mac: MacAddr): Uint8Array {
  return new Uint8Array([mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]]);
}

/** `prefix` (its first 64 bits) followed by the 8-byte interface identifier `iid`. */
export function addressFromPrefix(prefix: Ipv6Addr, iid: Uint8Array): Ipv6Addr {
  const out = new Uint8Array(IPV6_ADDR_LEN);
  out.set(prefix.subarray(0, 8), 0);
  out.set(iid.subarray(0, 8), 8);
  return out;
}

/** fe80::/64 with the interface identifier `iid` (RFC 4862 5.3). */
export function linkLocalAddress(iid: Uint8Array): Ipv6Addr {
  const out = new Uint8Array(IPV6_ADDR_LEN);
  out[0] = 0xfe;
  out[1] = 0x80;
  out.set(iid.subarray(0, 8), 8);
  return out;
}

/**
 * True for interface identifiers RFC 5453 reserves (and RFC 7217 5 tells us to skip): all
 * zeros (the subnet-router anycast), 0200:5eff:fe00:0000..5212 and 0200:5eff:fe00:5213 (the
 * proxy mobile IPv6 one), and fdff:ffff:ffff:ff80..ffff (the subnet anycast range, RFC 2526).
 */
export function isReservedInterfaceId(iid: Uint8Array): boolean {
  let allZero = true;
  for (let i = 0; i < 8; i++) if (iid[i] !== 0) allZero = false;
  if (allZero) return true;
  if (iid[0] === 0x02 && iid[1] === 0x00 && iid[2] === 0x5e && iid[3] === 0xff && iid[4] === 0xfe && iid[5] === 0x00) {
    return ((iid[6] << 8) | iid[7]) <= 0x5213;
  }
  if (iid[0] === 0xfd && iid[1] === 0xff && iid[2] === 0xff && iid[3] === 0xff && iid[4] === 0xff && iid[5] === 0xff && iid[6] === 0xff) {
    return iid[7] >= 0x80;
  }
  return false;
}

/** What RFC 7217 5 hashes into a stable, semantically opaque interface identifier. */
export interface StableIdInput {
  /** The prefix the address is for (its first 64 bits are used); fe80:: for the link-local one. */
  readonly prefix: Ipv6Addr;
  /** A stable name of the interface (`'tap0'`, an index as text). */
  readonly netIface: string;
  /** Something naming the network (an SSID...), or '' (the RFC's optional Network_ID). */
  readonly networkId?: string;
  /** Starts at 0; bumped by the caller after each DAD failure so the next try differs. */
  readonly dadCounter: number;
  /** The secret key: 16 random bytes kept across restarts (else addresses change per boot). */
  readonly secretKey: Uint8Array;
}

/**
 * A stable interface identifier per RFC 7217 5: F(Prefix, Net_Iface, Network_ID, DAD_Counter,
 * secret_key), taking F = SipHash-2-4 keyed with the secret (a PRF with exactly the 64 bits we
 * need; the RFC names SHA-256 only as one possible choice). Same inputs, same identifier; a
 * different prefix gives an unrelated one, so hosts cannot be tracked across networks. Reserved
 * identifiers (RFC 5453) are skipped by bumping the counter, as the RFC asks. 8 bytes.
 * Throws RangeError when the secret is not 16 bytes (a caller bug).
 */
export function stableInterfaceId(input: StableIdInput): Uint8Array {
  if (input.secretKey.length !== 16) throw new RangeError(`RFC 7217 secret must be 16 bytes, got ${input.secretKey.length}`);
  const prf = new SipHash24(input.secretKey);
  const text = new TextEncoder().encode(`${input.netIface}\u0000${input.networkId ?? ''}\u0000`);
  const msg = new Uint8Array(8 + text.length + 4);
  msg.set(input.prefix.subarray(0, 8), 0);
  msg.set(text, 8);
  const out = new Uint8Array(8);
  const words = new Uint32Array(2);
  for (let counter = input.dadCounter; ; counter++) {
    const at = 8 + text.length;
    msg[at] = counter >>> 24;
    msg[at + 1] = (counter >>> 16) & 0xff;
    msg[at + 2] = (counter >>> 8) & 0xff;
    msg[at + 3] = counter & 0xff;
    prf.hash64(msg, words);
    for (let i = 0; i < 4; i++) {
      out[i] = (words[0] >>> (24 - i * 8)) & 0xff;
      out[4 + i] = (words[1] >>> (24 - i * 8)) & 0xff;
    }
    if (!isReservedInterfaceId(out)) return out;
  }
}
