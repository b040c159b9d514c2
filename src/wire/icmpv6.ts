/**
 * ICMPv6 (RFC 4443): echo, and the four error messages. Neighbour Discovery (ndp.ts) and MLD
 * (mld.ts) are ICMPv6 messages too; `parseIcmpv6` returns them as kind 'other' with their
 * bytes, and the wiring hands those to `parseNdp`/`parseMldQuery` by type.
 *
 * Unlike ICMP for IPv4, the checksum covers the IPv6 pseudo-header (RFC 4443 2.3), so parsing
 * and emitting take the packet's source and destination addresses.
 *
 * Error messages quote as much of the invoking packet as fits in the minimum MTU (RFC 4443
 * 2.4 (c)); `parseIcmpv6` insists on its 40-byte IPv6 header, and `parseIcmpv6Quote` finds the
 * transport endpoint behind the quoted extension headers.
 */

import type { Ipv6Addr } from '../ipv6/address.js';
import type { PacketBuffer } from '../packet-buffer.js';
import { foldChecksum, onesSum } from './checksum.js';
import { IPV6_HEADER_LEN, IPV6_MIN_MTU, Ipv6NextHeader, Ipv6Offset, ipv6PseudoHeaderSum } from './ipv6.js';
import { malformed, ok, type ChecksumParseOptions, type ParseResult } from './parse-result.js';

/** Byte offsets of the header fields. */
const F = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** Echo: identifier and sequence number. */
  IDENT: 4,
  SEQ: 6,
  /** Packet Too Big: the MTU; Parameter Problem: the pointer (32 bits each). */
  REST: 4,
  DATA: 8,
} as const;

export const ICMPV6_HEADER_LEN = 8;
/** The most an error message may be: the whole ICMPv6 message fits in the minimum MTU. */
export const ICMPV6_ERROR_MAX_LEN = IPV6_MIN_MTU - IPV6_HEADER_LEN;

export const Icmpv6Type = {
  DEST_UNREACHABLE: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAMETER_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
  MLD_QUERY: 130,
  MLDV1_REPORT: 131,
  MLDV1_DONE: 132,
  ROUTER_SOLICIT: 133,
  ROUTER_ADVERT: 134,
  NEIGHBOR_SOLICIT: 135,
  NEIGHBOR_ADVERT: 136,
  REDIRECT: 137,
  MLDV2_REPORT: 143,
} as const;
export type Icmpv6Type = (typeof Icmpv6Type)[keyof typeof Icmpv6Type];

/** Codes of Destination Unreachable (RFC 4443 3.1). */
export const Icmpv6UnreachableCode = {
  NO_ROUTE: 0,
  ADMIN_PROHIBITED: 1,
  BEYOND_SCOPE: 2,
  ADDRESS_UNREACHABLE: 3,
  PORT_UNREACHABLE: 4,
  SOURCE_POLICY_FAILED: 5,
  REJECT_ROUTE: 6,
} as const;

export const Icmpv6TimeExceededCode = {
  HOP_LIMIT_EXCEEDED: 0,
  REASSEMBLY_TIME_EXCEEDED: 1,
} as const;

/** True for error types (0..127, RFC 4443 2.1): never answered with another error. */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

export type Icmpv6MalformedReason = 'truncated' | 'badChecksum' | 'badQuote';

export interface Icmpv6Echo {
  readonly kind: 'echo-request' | 'echo-reply';
  readonly ident: number;
  readonly seq: number;
  /** On parse a view; on emit ignored (already in the buffer). */
  readonly data: Uint8Array;
}

export interface Icmpv6DestUnreachable {
  readonly kind: 'dest-unreachable';
  readonly code: number;
  /** The invoking packet from its IPv6 header, as much as fits. On parse a view; on emit ignored. */
  readonly quoted: Uint8Array;
}

export interface Icmpv6PacketTooBig {
  readonly kind: 'packet-too-big';
  /** The MTU of the next-hop link (RFC 8201 feeds path MTU from it). */
  readonly mtu: number;
  readonly quoted: Uint8Array;
}

export interface Icmpv6TimeExceeded {
  readonly kind: 'time-exceeded';
  readonly code: number;
  readonly quoted: Uint8Array;
}

export interface Icmpv6ParameterProblem {
  readonly kind: 'parameter-problem';
  /** Icmpv6ParamProblemCode value (ipv6-ext.ts). */
  readonly code: number;
  /** Offset of the offending byte in the quoted packet (32 bits). */
  readonly pointer: number;
  readonly quoted: Uint8Array;
}

/** Any other type (NDP, MLD, unknown): carried, not interpreted. */
export interface Icmpv6Other {
  readonly kind: 'other';
  readonly type: number;
  readonly code: number;
  /** The whole message (header included), for parseNdp / parseMldQuery. A view on parse; on emit ignored. */
  readonly message: Uint8Array;
}

export type Icmpv6Repr =
  | Icmpv6Echo
  | Icmpv6DestUnreachable
  | Icmpv6PacketTooBig
  | Icmpv6TimeExceeded
  | Icmpv6ParameterProblem
  | Icmpv6Other;

/** The endpoint named by the packet an error quotes. Addresses are views into the quote. */
export interface Icmpv6Quote {
  readonly src: Ipv6Addr;
  readonly dst: Ipv6Addr;
  /** The upper-layer protocol past the quoted extension headers. */
  readonly protocol: number;
  /** The quoted upper-layer bytes (at least 8). A view. */
  readonly transport: Uint8Array;
  readonly srcPort: number;
  readonly dstPort: number;
  /** Bytes 4-7 of the transport header (TCP's sequence number). */
  readonly word1: number;
}

/** Addresses of the IPv6 header that carries the message, for the pseudo-header. */
export interface Icmpv6Addresses {
  readonly src: Ipv6Addr;
  readonly dst: Ipv6Addr;
}

/** The ICMPv6 checksum's starting sum for `length` message bytes between `src` and `dst`. */
export function icmpv6PseudoSum(src: Ipv6Addr, dst: Ipv6Addr, length: number): number {
  return ipv6PseudoHeaderSum(src, 0, dst, 0, Ipv6NextHeader.ICMPV6, length);
}

/** True when the checksum of `message` (the whole ICMPv6 message) is right. */
export function verifyIcmpv6Checksum(message: Uint8Array, src: Ipv6Addr, dst: Ipv6Addr): boolean {
  return onesSum(message, 0, message.length, icmpv6PseudoSum(src, dst, message.length)) === 0xffff;
}

/** Writes the checksum of the message at `buf[at..at+length)` into it. */
export function fillIcmpv6Checksum(buf: Uint8Array, at: number, length: number, src: Ipv6Addr, dst: Ipv6Addr): void {
  buf[at + F.CHECKSUM] = 0;
  buf[at + F.CHECKSUM + 1] = 0;
  const c = foldChecksum(onesSum(buf, at, length, icmpv6PseudoSum(src, dst, length)));
  buf[at + F.CHECKSUM] = c >>> 8;
  buf[at + F.CHECKSUM + 1] = c & 0xff;
}

function be32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

function quoteHasHeader(quoted: Uint8Array): boolean {
  return quoted.length >= IPV6_HEADER_LEN && quoted[0] >>> 4 === 6;
}

/**
 * Parses an ICMPv6 message (the upper-layer bytes of an IPv6 packet from `addrs.src` to
 * `addrs.dst`). Never throws; data, quotes and messages are views.
 */
export function parseIcmpv6(
  bytes: Uint8Array, addrs: Icmpv6Addresses, opts?: ChecksumParseOptions,
): ParseResult<Icmpv6Repr, Icmpv6MalformedReason> {
  if (bytes.length < 4) return malformed('truncated');
  if (opts?.verifyChecksum !== false && !verifyIcmpv6Checksum(bytes, addrs.src, addrs.dst)) return malformed('badChecksum');
  const type = bytes[F.TYPE];
  const code = bytes[F.CODE];
  switch (type) {
    case Icmpv6Type.ECHO_REQUEST:
    case Icmpv6Type.ECHO_REPLY:
      if (bytes.length < ICMPV6_HEADER_LEN) return malformed('truncated');
      return ok({
        kind: type === Icmpv6Type.ECHO_REQUEST ? 'echo-request' : 'echo-reply',
        ident: (bytes[F.IDENT] << 8) | bytes[F.IDENT + 1],
        seq: (bytes[F.SEQ] << 8) | bytes[F.SEQ + 1],
        data: bytes.subarray(F.DATA),
      });
    case Icmpv6Type.DEST_UNREACHABLE:
    case Icmpv6Type.PACKET_TOO_BIG:
    case Icmpv6Type.TIME_EXCEEDED:
    case Icmpv6Type.PARAMETER_PROBLEM: {
      if (bytes.length < ICMPV6_HEADER_LEN) return malformed('truncated');
      const quoted = bytes.subarray(F.DATA);
      if (!quoteHasHeader(quoted)) return malformed('badQuote');
      if (type === Icmpv6Type.DEST_UNREACHABLE) return ok({ kind: 'dest-unreachable', code, quoted });
      if (type === Icmpv6Type.PACKET_TOO_BIG) return ok({ kind: 'packet-too-big', mtu: be32(bytes, F.REST), quoted });
      if (type === Icmpv6Type.TIME_EXCEEDED) return ok({ kind: 'time-exceeded', code, quoted });
      return ok({ kind: 'parameter-problem', code, pointer: be32(bytes, F.REST), quoted });
    }
    default:
      return ok({ kind: 'other', type, code, message: bytes });
  }
}

/**
 * The endpoint of the packet an error quotes: its addresses, and past any quoted extension
 * headers (hop-by-hop, routing, destination options, a first fragment) the upper-layer protocol
 * and its first 8 bytes. A quote cut before those 8 bytes, or a non-first fragment, is
 * 'badQuote'. Never throws.
 */
export function parseIcmpv6Quote(quoted: Uint8Array): ParseResult<Icmpv6Quote, 'badQuote'> {
  if (!quoteHasHeader(quoted)) return malformed('badQuote');
  let next = quoted[Ipv6Offset.NEXT_HEADER];
  let at = IPV6_HEADER_LEN;
  for (let headers = 0; headers < 8; headers++) {
    if (next !== Ipv6NextHeader.HOP_BY_HOP && next !== Ipv6NextHeader.ROUTING &&
      next !== Ipv6NextHeader.DESTINATION_OPTIONS && next !== Ipv6NextHeader.FRAGMENT) break;
    if (at + 8 > quoted.length) return malformed('badQuote');
    if (next === Ipv6NextHeader.FRAGMENT) {
      // Only the first fragment carries the transport header.
      if ((((quoted[at + 2] << 8) | quoted[at + 3]) & 0xfff8) !== 0) return malformed('badQuote');
      next = quoted[at];
      at += 8;
    } else {
      next = quoted[at];
      at += (quoted[at + 1] + 1) << 3;
    }
  }
  if (at + 8 > quoted.length) return malformed('badQuote');
  return ok({
    src: quoted.subarray(Ipv6Offset.SRC, Ipv6Offset.SRC + 16),
    dst: quoted.subarray(Ipv6Offset.DST, Ipv6Offset.DST + 16),
    protocol: next,
    transport: quoted.subarray(at),
    srcPort: (quoted[at] << 8) | quoted[at + 1],
    dstPort: (quoted[at + 2] << 8) | quoted[at + 3],
    word1: be32(quoted, at + 4),
  });
}

/** The type number of a repr. */
export function icmpv6TypeOf(repr: Icmpv6Repr): number {
  switch (repr.kind) {
    case 'echo-request': return Icmpv6Type.ECHO_REQUEST;
    case 'echo-reply': return Icmpv6Type.ECHO_REPLY;
    case 'dest-unreachable': return Icmpv6Type.DEST_UNREACHABLE;
    case 'packet-too-big': return Icmpv6Type.PACKET_TOO_BIG;
    case 'time-exceeded': return Icmpv6Type.TIME_EXCEEDED;
    case 'parameter-problem': return Icmpv6Type.PARAMETER_PROBLEM;
    case 'other': return repr.type;
  }
}

/**
 * How many bytes of `invoking` (a packet from its IPv6 header) an error message may quote so
 * that the whole error fits in the minimum MTU (RFC 4443 2.4 (c)).
 */
export function icmpv6QuoteLength(invokingLength: number): number {
  return Math.min(invokingLength, ICMPV6_ERROR_MAX_LEN - ICMPV6_HEADER_LEN);
}

/**
 * Prepends the 8-byte header (type, code, checksum, and the 32-bit field of the type) in front
 * of what `pb` holds and computes the checksum over the pseudo-header and the whole message.
 * The body (echo data, quoted packet) must already be in `pb`; the repr's views are ignored.
 * For kind 'other', `pb` must hold everything after the first 4 bytes.
 */
export function emitIcmpv6(repr: Icmpv6Repr, pb: PacketBuffer, addrs: Icmpv6Addresses): void {
  let rest = 0;
  let code = 0;
  let headerLen = ICMPV6_HEADER_LEN;
  switch (repr.kind) {
    case 'echo-request':
    case 'echo-reply':
      rest = (((repr.ident & 0xffff) << 16) | (repr.seq & 0xffff)) >>> 0;
      break;
    case 'dest-unreachable':
    case 'time-exceeded':
      code = repr.code;
      break;
    case 'packet-too-big':
      rest = repr.mtu >>> 0;
      break;
    case 'parameter-problem':
      code = repr.code;
      rest = repr.pointer >>> 0;
      break;
    case 'other':
      code = repr.code;
      headerLen = 4;
      break;
  }
  const at = pb.prepend(headerLen);
  const b = pb.buf;
  b[at + F.TYPE] = icmpv6TypeOf(repr);
  b[at + F.CODE] = code;
  if (headerLen === ICMPV6_HEADER_LEN) {
    b[at + F.REST] = rest >>> 24;
    b[at + F.REST + 1] = (rest >>> 16) & 0xff;
    b[at + F.REST + 2] = (rest >>> 8) & 0xff;
    b[at + F.REST + 3] = rest & 0xff;
  }
  fillIcmpv6Checksum(b, at, pb.end - at, addrs.src, addrs.dst);
}
