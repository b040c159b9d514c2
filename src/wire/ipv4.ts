/**
 * IPv4 header (RFC 791 3.1). Addresses are uint32 numbers (src/ipv4/address.ts). Options are
 * not interpreted: a host may ignore the ones it does not implement (RFC 1122 3.2.1.8), so the
 * view exposes their raw bytes and the payload starts after them.
 */

import { readIpv4, writeIpv4, type Ipv4Addr } from '../ipv4/address.js';
import type { PacketBuffer } from '../packet-buffer.js';
import { internetChecksum, onesSum } from './checksum.js';
import { malformed, ok, type ChecksumParseOptions, type ParseResult } from './parse-result.js';

/**
 * Byte offsets of the IPv4 header fields from the start of the header, for code that reads raw
 * packets without a view (`frame[ETHERNET_HEADER_LEN + Ipv4Offset.PROTOCOL]`). Multi-byte fields
 * are big-endian.
 */
export const Ipv4Offset = Object.freeze({
  /** Version in the high nibble (4), header length in 32-bit words (IHL) in the low one. */
  VER_IHL: 0,
  /** DSCP in the high 6 bits, ECN in the low 2. */
  DSCP_ECN: 1,
  /** Total length of the datagram, header included, 2 bytes. */
  TOTAL_LENGTH: 2,
  /** Identification, 2 bytes. */
  IDENT: 4,
  /** Flags and fragment offset, 2 bytes (bits in Ipv4FlagsFrag). */
  FLAGS_FRAG: 6,
  TTL: 8,
  /** IpProtocol of the payload. */
  PROTOCOL: 9,
  /** Header checksum, 2 bytes. */
  CHECKSUM: 10,
  /** Source address, 4 bytes. */
  SRC: 12,
  /** Destination address, 4 bytes. */
  DST: 16,
  /** Options, when IHL is above 5; otherwise the payload starts here. */
  OPTIONS: 20,
} as const);
const F = Ipv4Offset;

/** The version number in the high nibble of the first byte. */
export const IPV4_VERSION = 4;
export const IPV4_MIN_HEADER_LEN = 20;
export const IPV4_MAX_HEADER_LEN = 60;
/** Largest datagram the 16-bit total length can describe. */
export const IPV4_MAX_DATAGRAM_LEN = 65535;

/** Bits of the 16-bit flags/fragment-offset field (at Ipv4Offset.FLAGS_FRAG). */
export const Ipv4FlagsFrag = Object.freeze({
  /** Don't fragment. */
  DF: 0x4000,
  /** More fragments follow. */
  MF: 0x2000,
  /** The fragment offset, in 8-byte units. */
  OFFSET_MASK: 0x1fff,
} as const);
const DF = Ipv4FlagsFrag.DF;
const MF = Ipv4FlagsFrag.MF;
const FRAG_OFFSET_MASK = Ipv4FlagsFrag.OFFSET_MASK;

/** IP protocol numbers we know. Others are carried as plain numbers, not errors. */
export const IpProtocol = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
} as const;
export type IpProtocol = (typeof IpProtocol)[keyof typeof IpProtocol];

export type Ipv4MalformedReason =
  | 'truncated'
  | 'badVersion'
  | 'badIhl'
  | 'badTotalLength'
  | 'badChecksum';

/** What an IPv4 header means. */
export interface Ipv4Repr {
  readonly src: Ipv4Addr;
  readonly dst: Ipv4Addr;
  /** IpProtocol value (any 0..255). */
  readonly protocol: number;
  readonly ttl: number;
  /** Identification field. */
  readonly ident: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** Fragment offset in bytes (the field times 8). */
  readonly fragmentOffset: number;
  /** Differentiated services code point, 6 bits (default 0). */
  readonly dscp?: number;
  /** Explicit congestion notification, 2 bits (default 0). */
  readonly ecn?: number;
  /**
   * Raw option bytes. On parse: a view (empty when none). On emit: written as given and padded
   * with zeros (end of option list) to a multiple of 4; at most 40 bytes.
   */
  readonly options?: Uint8Array;
}

/** A parsed header, with the payload cut at the total length (Ethernet padding dropped). */
export type ParsedIpv4 = Ipv4Repr & {
  readonly dscp: number;
  readonly ecn: number;
  readonly options: Uint8Array;
  /** Header length in bytes (IHL * 4). */
  readonly headerLength: number;
  readonly payload: Uint8Array;
};

/** `verifyChecksum`: verify the header checksum (default true). */
export type Ipv4ParseOptions = ChecksumParseOptions;

/**
 * A view over an IPv4 packet. Rebind with `reset()` to reuse one instance per stream.
 * Getters other than `check()` and the first-byte ones assume `check()` returned undefined.
 */
export class Ipv4Packet {
  bytes: Uint8Array;
  /** Where the header starts in `bytes` (14 in an Ethernet frame read in place). */
  at: number;

  constructor(bytes: Uint8Array = new Uint8Array(0), at = 0) {
    this.bytes = bytes;
    this.at = at;
  }

  /**
   * Rebinds the view to other bytes without allocating: the packet from `at` on (a received
   * frame is read in place, without a view of its IPv4 part).
   */
  reset(bytes: Uint8Array, at = 0): this {
    this.bytes = bytes;
    this.at = at;
    return this;
  }

  /**
   * Undefined when the lengths make every getter safe: version 4, IHL >= 5, the header fits,
   * and IHL*4 <= total length <= the bytes available (more bytes are allowed: link padding).
   * The checksum is checked separately by `verifyChecksum()`.
   */
  check(): Ipv4MalformedReason | undefined {
    const len = this.bytes.length - this.at;
    if (len < IPV4_MIN_HEADER_LEN) return 'truncated';
    if (this.version !== IPV4_VERSION) return 'badVersion';
    const hl = this.headerLength;
    if (hl < IPV4_MIN_HEADER_LEN) return 'badIhl';
    if (hl > len) return 'truncated';
    const total = this.totalLength;
    if (total < hl || total > len) return 'badTotalLength';
    return undefined;
  }

  get version(): number {
    return this.bytes[this.at + F.VER_IHL] >>> 4;
  }

  /** Header length in bytes (IHL * 4). */
  get headerLength(): number {
    return (this.bytes[this.at + F.VER_IHL] & 0x0f) << 2;
  }

  get dscp(): number {
    return this.bytes[this.at + F.DSCP_ECN] >>> 2;
  }

  get ecn(): number {
    return this.bytes[this.at + F.DSCP_ECN] & 3;
  }

  get totalLength(): number {
    return (this.bytes[this.at + F.TOTAL_LENGTH] << 8) | this.bytes[this.at + F.TOTAL_LENGTH + 1];
  }

  set totalLength(value: number) {
    this.bytes[this.at + F.TOTAL_LENGTH] = value >>> 8;
    this.bytes[this.at + F.TOTAL_LENGTH + 1] = value & 0xff;
  }

  get ident(): number {
    return (this.bytes[this.at + F.IDENT] << 8) | this.bytes[this.at + F.IDENT + 1];
  }

  set ident(value: number) {
    this.bytes[this.at + F.IDENT] = value >>> 8;
    this.bytes[this.at + F.IDENT + 1] = value & 0xff;
  }

  private get flagsFrag(): number {
    return (this.bytes[this.at + F.FLAGS_FRAG] << 8) | this.bytes[this.at + F.FLAGS_FRAG + 1];
  }

  get dontFragment(): boolean {
    return (this.flagsFrag & DF) !== 0;
  }

  get moreFragments(): boolean {
    return (this.flagsFrag & MF) !== 0;
  }

  /** Fragment offset in bytes. */
  get fragmentOffset(): number {
    return (this.flagsFrag & FRAG_OFFSET_MASK) << 3;
  }

  /** True for any fragment (MF set or a non-zero offset). */
  get isFragment(): boolean {
    return (this.flagsFrag & (MF | FRAG_OFFSET_MASK)) !== 0;
  }

  get ttl(): number {
    return this.bytes[this.at + F.TTL];
  }

  set ttl(value: number) {
    this.bytes[this.at + F.TTL] = value;
  }

  get protocol(): number {
    return this.bytes[this.at + F.PROTOCOL];
  }

  get checksum(): number {
    return (this.bytes[this.at + F.CHECKSUM] << 8) | this.bytes[this.at + F.CHECKSUM + 1];
  }

  get src(): Ipv4Addr {
    return readIpv4(this.bytes, this.at + F.SRC);
  }

  set src(addr: Ipv4Addr) {
    writeIpv4(this.bytes, this.at + F.SRC, addr);
  }

  get dst(): Ipv4Addr {
    return readIpv4(this.bytes, this.at + F.DST);
  }

  set dst(addr: Ipv4Addr) {
    writeIpv4(this.bytes, this.at + F.DST, addr);
  }

  /** Raw option bytes as a view (empty when IHL is 5). */
  get options(): Uint8Array {
    return this.bytes.subarray(this.at + F.OPTIONS, this.at + this.headerLength);
  }

  /** The payload, cut at the total length (trailing link padding excluded). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.at + this.headerLength, this.at + this.totalLength);
  }

  /** True when the header checksum is right. */
  verifyChecksum(): boolean {
    return onesSum(this.bytes, this.at, this.headerLength) === 0xffff;
  }

  /** Recomputes the header checksum in place (after setters changed the header). */
  fillChecksum(): void {
    const b = this.bytes;
    const at = this.at;
    b[at + F.CHECKSUM] = 0;
    b[at + F.CHECKSUM + 1] = 0;
    const c = internetChecksum(b, at, this.headerLength);
    b[at + F.CHECKSUM] = c >>> 8;
    b[at + F.CHECKSUM + 1] = c & 0xff;
  }
}

/**
 * Parses and validates a packet: lengths, version, IHL, and (unless turned off) the header
 * checksum. Never throws; options and payload are views into `bytes`.
 */
export function parseIpv4(bytes: Uint8Array, opts?: Ipv4ParseOptions): ParseResult<ParsedIpv4, Ipv4MalformedReason> {
  const p = new Ipv4Packet(bytes);
  const reason = p.check();
  if (reason !== undefined) return malformed(reason);
  if (opts?.verifyChecksum !== false && !p.verifyChecksum()) return malformed('badChecksum');
  const ff = (bytes[F.FLAGS_FRAG] << 8) | bytes[F.FLAGS_FRAG + 1];
  const hl = p.headerLength;
  return ok({
    src: p.src,
    dst: p.dst,
    protocol: p.protocol,
    ttl: p.ttl,
    ident: p.ident,
    dontFragment: (ff & DF) !== 0,
    moreFragments: (ff & MF) !== 0,
    fragmentOffset: (ff & FRAG_OFFSET_MASK) << 3,
    dscp: p.dscp,
    ecn: p.ecn,
    options: bytes.subarray(F.OPTIONS, hl),
    headerLength: hl,
    payload: bytes.subarray(hl, p.totalLength),
  });
}

/** Header length `emitIpv4` will prepend for `repr` (20 + options padded to 4). */
export function ipv4HeaderLen(repr: Ipv4Repr): number {
  const n = repr.options ? repr.options.length : 0;
  return IPV4_MIN_HEADER_LEN + ((n + 3) & ~3);
}

/**
 * Writes a 20-byte IPv4 header (no options, not a fragment) at `b[at..at+20)`, its checksum
 * summed from the field values rather than read back from the bytes: the header of a whole
 * datagram on the way out, as `emitIpv4` writes it for such a repr. `tos` is the DSCP/ECN
 * byte; `total` the datagram's length, header included (the caller keeps it within 65,535).
 */
export function writeIpv4Header(b: Uint8Array, at: number, tos: number, total: number, ident: number, dontFragment: boolean, ttl: number, protocol: number, src: Ipv4Addr, dst: Ipv4Addr): void {
  const flags = dontFragment ? DF : 0;
  b[at] = 0x45;
  b[at + 1] = tos;
  b[at + 2] = total >>> 8;
  b[at + 3] = total & 0xff;
  b[at + 4] = ident >>> 8;
  b[at + 5] = ident & 0xff;
  b[at + 6] = flags >>> 8;
  b[at + 7] = 0;
  b[at + 8] = ttl;
  b[at + 9] = protocol;
  b[at + 12] = src >>> 24;
  b[at + 13] = (src >>> 16) & 0xff;
  b[at + 14] = (src >>> 8) & 0xff;
  b[at + 15] = src & 0xff;
  b[at + 16] = dst >>> 24;
  b[at + 17] = (dst >>> 16) & 0xff;
  b[at + 18] = (dst >>> 8) & 0xff;
  b[at + 19] = dst & 0xff;
  let sum = (0x4500 | tos) + total + ident + flags + ((ttl << 8) | protocol) + (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  b[at + 10] = c >>> 8;
  b[at + 11] = c & 0xff;
}

/**
 * Prepends the IPv4 header in front of what `pb` holds (the payload) and fills in the total
 * length (header + everything in `pb`) and the header checksum.
 * Throws RangeError for options over 40 bytes, a datagram over 65,535 bytes or a fragment offset
 * that is not a multiple of 8 below 65,536: those are caller bugs, not wire input.
 */
export function emitIpv4(repr: Ipv4Repr, pb: PacketBuffer): void {
  const optLen = repr.options ? repr.options.length : 0;
  const hl = ipv4HeaderLen(repr);
  if (hl > IPV4_MAX_HEADER_LEN) throw new RangeError(`IPv4 options too long: ${optLen} bytes`);
  const total = hl + pb.length;
  if (total > IPV4_MAX_DATAGRAM_LEN) throw new RangeError(`IPv4 datagram too long: ${total} bytes`);
  const fo = repr.fragmentOffset;
  if ((fo & 7) !== 0 || fo < 0 || fo > 0xffff) throw new RangeError(`IPv4 fragment offset ${fo} not a multiple of 8`);
  const at = pb.prepend(hl);
  const b = pb.buf;
  b[at + F.VER_IHL] = (IPV4_VERSION << 4) | (hl >>> 2);
  b[at + F.DSCP_ECN] = (((repr.dscp ?? 0) & 0x3f) << 2) | ((repr.ecn ?? 0) & 3);
  b[at + F.TOTAL_LENGTH] = total >>> 8;
  b[at + F.TOTAL_LENGTH + 1] = total & 0xff;
  b[at + F.IDENT] = (repr.ident >>> 8) & 0xff;
  b[at + F.IDENT + 1] = repr.ident & 0xff;
  const ff = (repr.dontFragment ? DF : 0) | (repr.moreFragments ? MF : 0) | (fo >>> 3);
  b[at + F.FLAGS_FRAG] = ff >>> 8;
  b[at + F.FLAGS_FRAG + 1] = ff & 0xff;
  b[at + F.TTL] = repr.ttl;
  b[at + F.PROTOCOL] = repr.protocol;
  b[at + F.CHECKSUM] = 0;
  b[at + F.CHECKSUM + 1] = 0;
  writeIpv4(b, at + F.SRC, repr.src);
  writeIpv4(b, at + F.DST, repr.dst);
  if (repr.options && optLen > 0) {
    b.set(repr.options, at + F.OPTIONS);
    b.fill(0, at + F.OPTIONS + optLen, at + hl);
  }
  const c = internetChecksum(b, at, hl);
  b[at + F.CHECKSUM] = c >>> 8;
  b[at + F.CHECKSUM + 1] = c & 0xff;
}
