/**
 * The IPv6 fixed header (RFC 8200 3) and the pseudo-header of upper-layer checksums (RFC 8200
 * 8.1). Extension headers are walked by ipv6-ext.ts; this file stops at the 40 fixed bytes.
 *
 * The codec is `parseIpv6Header`/`emitIpv6Header` (not parseIpv6: that name is the text parser
 * of src/ipv6/address.ts, as parseIpv4 is for IPv4 addresses).
 *
 * Addresses are 16-byte views into the packet on parse (src/ipv6/address.ts): no copy; a
 * caller that keeps one past the packet's life copies it (`.slice()`).
 */

import { IPV6_ADDR_LEN, type Ipv6Addr } from '../ipv6/address.js';
import type { PacketBuffer } from '../packet-buffer.js';
import { foldChecksum, onesSum } from './checksum.js';
import { malformed, ok, type ParseResult } from './parse-result.js';

/** Byte offsets of the fixed header's fields. Multi-byte fields are big-endian. */
export const Ipv6Offset = Object.freeze({
  /** Version (6) in the high nibble, then 8 bits of traffic class and 20 of flow label. */
  VER_TC_FLOW: 0,
  /** Length of everything after the 40-byte header (extension headers included), 2 bytes. */
  PAYLOAD_LENGTH: 4,
  /** The type of the header after this one (Ipv6NextHeader or an IpProtocol). */
  NEXT_HEADER: 6,
  HOP_LIMIT: 7,
  /** Source address, 16 bytes. */
  SRC: 8,
  /** Destination address, 16 bytes. */
  DST: 24,
  /** The first extension header, or the upper-layer header. */
  PAYLOAD: 40,
} as const);
const F = Ipv6Offset;

export const IPV6_VERSION = 6;
export const IPV6_HEADER_LEN = 40;
/** Largest payload the 16-bit payload length can describe (jumbograms, RFC 2675, are not supported). */
export const IPV6_MAX_PAYLOAD_LEN = 65535;
/** Every link must carry 1280-byte packets (RFC 8200 5): the floor of any path MTU. */
export const IPV6_MIN_MTU = 1280;

/**
 * Next Header values of the extension headers (IANA "IPv6 Extension Header Types") and of the
 * protocols an IPv6 host meets besides TCP (6) and UDP (17), which live in `IpProtocol`.
 */
export const Ipv6NextHeader = {
  HOP_BY_HOP: 0,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  /** Nothing follows (RFC 8200 4.7). */
  NO_NEXT_HEADER: 59,
  DESTINATION_OPTIONS: 60,
  MOBILITY: 135,
  HIP: 139,
  SHIM6: 140,
  EXPERIMENT_1: 253,
  EXPERIMENT_2: 254,
} as const;
export type Ipv6NextHeader = (typeof Ipv6NextHeader)[keyof typeof Ipv6NextHeader];

export type Ipv6MalformedReason = 'truncated' | 'badVersion' | 'badPayloadLength';

/** What an IPv6 fixed header means. */
export interface Ipv6Repr {
  readonly src: Ipv6Addr;
  readonly dst: Ipv6Addr;
  /** Type of the next header: an extension header or the upper layer (any 0..255). */
  readonly nextHeader: number;
  readonly hopLimit: number;
  /** DSCP, 6 bits (default 0). */
  readonly dscp?: number;
  /** ECN, 2 bits (default 0). */
  readonly ecn?: number;
  /** Flow label, 20 bits (default 0; RFC 6437 says a source should set one per flow). */
  readonly flowLabel?: number;
}

/** A parsed header, with the payload cut at the payload length (link padding dropped). */
export type ParsedIpv6 = Ipv6Repr & {
  readonly dscp: number;
  readonly ecn: number;
  readonly flowLabel: number;
  /** Everything after the fixed header: extension headers and the upper layer. A view. */
  readonly payload: Uint8Array;
};

/** A view over an IPv6 packet. Getters other than `check()` and `version` assume check() passed. */
export class Ipv6Packet {
  bytes: Uint8Array;

  constructor(bytes: Uint8Array = new Uint8Array(0)) {
    this.bytes = bytes;
  }

  /** Rebinds the view to other bytes without allocating. */
  reset(bytes: Uint8Array): this {
    this.bytes = bytes;
    return this;
  }

  /**
   * Undefined when every getter is safe: 40 bytes present, version 6, and the payload length
   * within the bytes available (more bytes are allowed: Ethernet padding).
   */
  check(): Ipv6MalformedReason | undefined {
    if (this.bytes.length < IPV6_HEADER_LEN) return 'truncated';
    if (this.version !== IPV6_VERSION) return 'badVersion';
    if (IPV6_HEADER_LEN + this.payloadLength > this.bytes.length) return 'badPayloadLength';
    return undefined;
  }

  get version(): number {
    return this.bytes[F.VER_TC_FLOW] >>> 4;
  }

  get trafficClass(): number {
    return ((this.bytes[0] & 0x0f) << 4) | (this.bytes[1] >>> 4);
  }

  get dscp(): number {
    return this.trafficClass >>> 2;
  }

  get ecn(): number {
    return this.trafficClass & 3;
  }

  get flowLabel(): number {
    return ((this.bytes[1] & 0x0f) << 16) | (this.bytes[2] << 8) | this.bytes[3];
  }

  get payloadLength(): number {
    return (this.bytes[F.PAYLOAD_LENGTH] << 8) | this.bytes[F.PAYLOAD_LENGTH + 1];
  }

  set payloadLength(value: number) {
    this.bytes[F.PAYLOAD_LENGTH] = value >>> 8;
    this.bytes[F.PAYLOAD_LENGTH + 1] = value & 0xff;
  }

  get nextHeader(): number {
    return this.bytes[F.NEXT_HEADER];
  }

  set nextHeader(value: number) {
    this.bytes[F.NEXT_HEADER] = value;
  }

  get hopLimit(): number {
    return this.bytes[F.HOP_LIMIT];
  }

  set hopLimit(value: number) {
    this.bytes[F.HOP_LIMIT] = value;
  }

  /** The source address as a view. */
  get src(): Ipv6Addr {
    return this.bytes.subarray(F.SRC, F.SRC + IPV6_ADDR_LEN);
  }

  /** The destination address as a view. */
  get dst(): Ipv6Addr {
    return this.bytes.subarray(F.DST, F.DST + IPV6_ADDR_LEN);
  }

  /** The packet up to the end of its payload (header included): what the extension walk reads. */
  get packet(): Uint8Array {
    return this.bytes.subarray(0, IPV6_HEADER_LEN + this.payloadLength);
  }

  /** Everything after the fixed header, cut at the payload length. */
  get payload(): Uint8Array {
    return this.bytes.subarray(IPV6_HEADER_LEN, IPV6_HEADER_LEN + this.payloadLength);
  }
}

/** Parses and validates the fixed header. Never throws; addresses and payload are views. */
export function parseIpv6Header(bytes: Uint8Array): ParseResult<ParsedIpv6, Ipv6MalformedReason> {
  const p = new Ipv6Packet(bytes);
  const reason = p.check();
  if (reason !== undefined) return malformed(reason);
  const tc = p.trafficClass;
  return ok({
    src: p.src,
    dst: p.dst,
    nextHeader: p.nextHeader,
    hopLimit: p.hopLimit,
    dscp: tc >>> 2,
    ecn: tc & 3,
    flowLabel: p.flowLabel,
    payload: p.payload,
  });
}

/**
 * Prepends the 40-byte header in front of what `pb` holds (extension headers and upper layer)
 * and sets the payload length to all of it. Throws RangeError for a payload over 65,535 bytes:
 * a caller bug (jumbograms are not supported), not wire input.
 */
export function emitIpv6Header(repr: Ipv6Repr, pb: PacketBuffer): void {
  const len = pb.length;
  if (len > IPV6_MAX_PAYLOAD_LEN) throw new RangeError(`IPv6 payload too long: ${len} bytes`);
  const at = pb.prepend(IPV6_HEADER_LEN);
  const b = pb.buf;
  const tc = (((repr.dscp ?? 0) & 0x3f) << 2) | ((repr.ecn ?? 0) & 3);
  const flow = (repr.flowLabel ?? 0) & 0xfffff;
  b[at] = (IPV6_VERSION << 4) | (tc >>> 4);
  b[at + 1] = ((tc & 0x0f) << 4) | (flow >>> 16);
  b[at + 2] = (flow >>> 8) & 0xff;
  b[at + 3] = flow & 0xff;
  b[at + F.PAYLOAD_LENGTH] = len >>> 8;
  b[at + F.PAYLOAD_LENGTH + 1] = len & 0xff;
  b[at + F.NEXT_HEADER] = repr.nextHeader;
  b[at + F.HOP_LIMIT] = repr.hopLimit;
  // Byte by byte: no view made per packet, and for 16 bytes cheaper than `set`.
  const src = repr.src;
  const dst = repr.dst;
  for (let i = 0; i < IPV6_ADDR_LEN; i++) {
    b[at + F.SRC + i] = src[i];
    b[at + F.DST + i] = dst[i];
  }
}

/**
 * Partial sum of the IPv6 pseudo-header (RFC 8200 8.1) that TCP, UDP and ICMPv6 checksums cover:
 * source, destination, the upper-layer packet length as 32 bits, three zero bytes and the
 * upper-layer protocol. Addresses are read in place (`src` at `srcOffset`...), so a header
 * view's bytes can be passed without copying. Folded, not complemented: pass it as `initial` to
 * `onesSum`. `dst` is the final destination (RFC 8200 8.1: the last address of a routing header).
 */
export function ipv6PseudoHeaderSum(
  src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number, protocol: number, length: number,
): number {
  let sum = protocol + (length >>> 16) + (length & 0xffff);
  for (let i = 0; i < IPV6_ADDR_LEN; i += 2) {
    sum += (src[srcOffset + i] << 8) | src[srcOffset + i + 1];
    sum += (dst[dstOffset + i] << 8) | dst[dstOffset + i + 1];
  }
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/**
 * True when the checksum of the upper-layer message `message` (a TCP segment, UDP datagram or
 * ICMPv6 message, its checksum field included) is right for the packet whose header is at
 * `header[0..40)`. Over IPv6 the UDP checksum is mandatory (RFC 8200 8.1): a UDP checksum field
 * of 0 fails here, as the receiver must discard it.
 */
export function ipv6UpperChecksumOk(header: Uint8Array, message: Uint8Array, protocol: number): boolean {
  const len = message.length;
  const sum = onesSum(message, 0, len, ipv6PseudoHeaderSum(header, Ipv6Offset.SRC, header, Ipv6Offset.DST, protocol, len));
  if (sum !== 0xffff) return false;
  // A zero UDP checksum field means "none" to IPv4, but is invalid over IPv6.
  return !(protocol === 17 && len >= 8 && message[6] === 0 && message[7] === 0);
}

/**
 * `ipv6UpperChecksumOk` read in place: the packet's fixed header at `bytes[headerAt..]`, the
 * upper-layer message at `bytes[at..end)` (a received frame, no view of either made).
 */
export function ipv6ChecksumOkAt(bytes: Uint8Array, headerAt: number, at: number, end: number, protocol: number): boolean {
  const len = end - at;
  const sum = onesSum(bytes, at, len, ipv6PseudoHeaderSum(bytes, headerAt + Ipv6Offset.SRC, bytes, headerAt + Ipv6Offset.DST, protocol, len));
  if (sum !== 0xffff) return false;
  return !(protocol === 17 && len >= 8 && bytes[at + 6] === 0 && bytes[at + 7] === 0);
}

/**
 * Why the IPv6 packet at `bytes[at..]` fails `Ipv6Packet.check()` (the same tests, read in
 * place), or undefined when its fixed header is whole and its payload length fits.
 */
export function checkIpv6At(bytes: Uint8Array, at: number): Ipv6MalformedReason | undefined {
  const available = bytes.length - at;
  if (available < IPV6_HEADER_LEN) return 'truncated';
  if (bytes[at] >>> 4 !== IPV6_VERSION) return 'badVersion';
  if (IPV6_HEADER_LEN + ((bytes[at + 4] << 8) | bytes[at + 5]) > available) return 'badPayloadLength';
  return undefined;
}

/**
 * `ipv6UpperChecksumOk` for addresses given apart from the packet (an operator at the transport
 * boundary may have rewritten them, as a NAT does, with the checksum adjusted to match).
 */
export function ipv6ChecksumOkFor(src: Ipv6Addr, dst: Ipv6Addr, message: Uint8Array, protocol: number): boolean {
  const len = message.length;
  const sum = onesSum(message, 0, len, ipv6PseudoHeaderSum(src, 0, dst, 0, protocol, len));
  if (sum !== 0xffff) return false;
  return !(protocol === 17 && len >= 8 && message[6] === 0 && message[7] === 0);
}

/**
 * Fills the checksum field at `checksumOffset` of the upper-layer message at `buf[at..at+length)`
 * for the addresses `src` and `dst`. A UDP result of 0 is sent as 0xffff (RFC 8200 8.1, RFC 768).
 */
export function fillIpv6UpperChecksum(
  buf: Uint8Array, at: number, length: number, checksumOffset: number, src: Ipv6Addr, dst: Ipv6Addr, protocol: number,
): void {
  buf[at + checksumOffset] = 0;
  buf[at + checksumOffset + 1] = 0;
  let c = foldChecksum(onesSum(buf, at, length, ipv6PseudoHeaderSum(src, 0, dst, 0, protocol, length)));
  if (c === 0 && protocol === 17) c = 0xffff;
  buf[at + checksumOffset] = c >>> 8;
  buf[at + checksumOffset + 1] = c & 0xff;
}
