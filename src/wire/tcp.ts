/**
 * TCP header (RFC 9293 3.1). The record type and flag constants are shared by the wire codec
 * and the sans-IO TCP core; the view and parse/emit live below them.
 */

import type { Ipv4Addr } from '../ipv4/address.js';
import type { PacketBuffer } from '../packet-buffer.js';
import { foldChecksum, onesSum, pseudoHeaderSum } from './checksum.js';
import { IpProtocol } from './ipv4.js';
import { malformed, ok, type ChecksumParseOptions, type ParseResult } from './parse-result.js';

/** Control bits, as they sit in the low byte of header offset 13. */
export const TcpFlags = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

/** What a TCP segment means, independent of its bytes. Sequence numbers are uint32. */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Bitwise OR of TcpFlags. */
  flags: number;
  /** The raw 16-bit window field (before any window scaling). */
  window: number;
  urgent: number;
  /** MSS option (kind 2), only on SYN segments. */
  mss?: number;
  /** Window scale shift count (kind 3), only on SYN segments. */
  windowScale?: number;
  /** SACK-permitted option (kind 4), only on SYN segments. */
  sackPermitted?: boolean;
  /** SACK blocks (kind 5): pairs of [left edge, right edge). */
  sackBlocks?: ReadonlyArray<readonly [number, number]>;
  /** Timestamps option (kind 8). */
  timestamp?: { readonly tsVal: number; readonly tsEcr: number };
  /** The segment's data: a view into the received frame, or the bytes to send. */
  payload: Uint8Array;
}

/**
 * Byte offsets of the TCP header fields from the start of the header, for code that reads raw
 * segments without a view (`frame[tcpAt + TcpOffset.FLAGS]`). Multi-byte fields are big-endian.
 */
export const TcpOffset = Object.freeze({
  /** Source port, 2 bytes (the destination port follows: 4 bytes hold both). */
  SRC_PORT: 0,
  /** Destination port, 2 bytes. */
  DST_PORT: 2,
  /** Sequence number, 4 bytes. */
  SEQ: 4,
  /** Acknowledgment number, 4 bytes. */
  ACK: 8,
  /** Data offset in the high nibble (32-bit words). */
  DATA_OFFSET: 12,
  /** Control bits (TcpFlags). */
  FLAGS: 13,
  /** Window, 2 bytes (before any window scaling). */
  WINDOW: 14,
  /** Checksum, 2 bytes. */
  CHECKSUM: 16,
  /** Urgent pointer, 2 bytes. */
  URGENT: 18,
  /** Options, when the data offset is above 5; otherwise the data starts here. */
  OPTIONS: 20,
} as const);
const F = TcpOffset;

export const TCP_MIN_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;
/** Room for options: 40 bytes. */
const MAX_OPTIONS_LEN = TCP_MAX_HEADER_LEN - TCP_MIN_HEADER_LEN;
/** The payload of every received segment that has none (length 0: nothing can be written to it). */
const NO_PAYLOAD = new Uint8Array(0);

/** Option kinds (RFC 9293 3.2, RFC 7323, RFC 2018). Unknown kinds are skipped on parse. */
export const TcpOptionKind = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WINDOW_SCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMPS: 8,
} as const;
export type TcpOptionKind = (typeof TcpOptionKind)[keyof typeof TcpOptionKind];

/**
 * The length byte each fixed-size option carries (kind and length bytes included). SACK's
 * varies: 2 + 8 per block.
 */
export const TcpOptionLen = Object.freeze({
  MSS: 4,
  WINDOW_SCALE: 3,
  SACK_PERMITTED: 2,
  TIMESTAMPS: 10,
} as const);

export type TcpMalformedReason = 'truncated' | 'badDataOffset' | 'badChecksum' | 'badOption';

/** `verifyChecksum`: verify the checksum against the pseudo-header (default true). */
export type TcpParseOptions = ChecksumParseOptions;

/**
 * A view over a TCP segment (the IPv4 payload, already cut at the IP total length). Rebind with
 * `reset()`. Getters other than `check()` assume it returned undefined.
 */
export class TcpSegment {
  bytes: Uint8Array;
  /** Where the segment starts in `bytes` and where it ends (a received frame read in place). */
  at: number;
  end: number;

  constructor(bytes: Uint8Array = new Uint8Array(0), at = 0, end = bytes.length) {
    this.bytes = bytes;
    this.at = at;
    this.end = end;
  }

  /**
   * Rebinds the view to other bytes without allocating: the segment from `at` to `end` (a
   * received datagram's payload read in place in its frame, without a view of it).
   */
  reset(bytes: Uint8Array, at = 0, end = bytes.length): this {
    this.bytes = bytes;
    this.at = at;
    this.end = end;
    return this;
  }

  /** The segment's length in bytes (header and data). */
  get length(): number {
    return this.end - this.at;
  }

  /** Undefined when the header, with its options, is all there. Options are checked by parse. */
  check(): TcpMalformedReason | undefined {
    const len = this.end - this.at;
    if (len < TCP_MIN_HEADER_LEN) return 'truncated';
    const hl = this.headerLength;
    if (hl < TCP_MIN_HEADER_LEN) return 'badDataOffset';
    if (hl > len) return 'truncated';
    return undefined;
  }

  get srcPort(): number {
    return (this.bytes[this.at + F.SRC_PORT] << 8) | this.bytes[this.at + F.SRC_PORT + 1];
  }

  set srcPort(value: number) {
    this.bytes[this.at + F.SRC_PORT] = value >>> 8;
    this.bytes[this.at + F.SRC_PORT + 1] = value & 0xff;
  }

  get dstPort(): number {
    return (this.bytes[this.at + F.DST_PORT] << 8) | this.bytes[this.at + F.DST_PORT + 1];
  }

  set dstPort(value: number) {
    this.bytes[this.at + F.DST_PORT] = value >>> 8;
    this.bytes[this.at + F.DST_PORT + 1] = value & 0xff;
  }

  get seq(): number {
    return readU32(this.bytes, this.at + F.SEQ);
  }

  set seq(value: number) {
    writeU32(this.bytes, this.at + F.SEQ, value);
  }

  get ack(): number {
    return readU32(this.bytes, this.at + F.ACK);
  }

  set ack(value: number) {
    writeU32(this.bytes, this.at + F.ACK, value);
  }

  /** Header length in bytes (data offset * 4). */
  get headerLength(): number {
    return (this.bytes[this.at + F.DATA_OFFSET] >>> 4) << 2;
  }

  /** Control bits (TcpFlags). The experimental NS bit (offset 12 bit 0) is not included. */
  get flags(): number {
    return this.bytes[this.at + F.FLAGS];
  }

  set flags(value: number) {
    this.bytes[this.at + F.FLAGS] = value;
  }

  get window(): number {
    return (this.bytes[this.at + F.WINDOW] << 8) | this.bytes[this.at + F.WINDOW + 1];
  }

  set window(value: number) {
    this.bytes[this.at + F.WINDOW] = value >>> 8;
    this.bytes[this.at + F.WINDOW + 1] = value & 0xff;
  }

  get checksum(): number {
    return (this.bytes[this.at + F.CHECKSUM] << 8) | this.bytes[this.at + F.CHECKSUM + 1];
  }

  get urgent(): number {
    return (this.bytes[this.at + F.URGENT] << 8) | this.bytes[this.at + F.URGENT + 1];
  }

  /** Raw option bytes as a view. */
  get options(): Uint8Array {
    return this.bytes.subarray(this.at + F.OPTIONS, this.at + this.headerLength);
  }

  /** The data after the header, as a view. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.at + this.headerLength, this.end);
  }

  /** True when the checksum over pseudo-header, header and data is right. */
  verifyChecksum(src: Ipv4Addr, dst: Ipv4Addr): boolean {
    const len = this.end - this.at;
    return onesSum(this.bytes, this.at, len, pseudoHeaderSum(src, dst, IpProtocol.TCP, len)) === 0xffff;
  }

  /** Recomputes the checksum in place (after setters changed the segment). */
  fillChecksum(src: Ipv4Addr, dst: Ipv4Addr): void {
    const b = this.bytes;
    const at = this.at;
    b[at + F.CHECKSUM] = 0;
    b[at + F.CHECKSUM + 1] = 0;
    const len = this.end - at;
    const c = foldChecksum(onesSum(b, at, len, pseudoHeaderSum(src, dst, IpProtocol.TCP, len)));
    b[at + F.CHECKSUM] = c >>> 8;
    b[at + F.CHECKSUM + 1] = c & 0xff;
  }
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function writeU32(b: Uint8Array, at: number, value: number): void {
  b[at] = value >>> 24;
  b[at + 1] = (value >>> 16) & 0xff;
  b[at + 2] = (value >>> 8) & 0xff;
  b[at + 3] = value & 0xff;
}

/** Option fields as parse fills them in. */
interface MutableTcpOptions {
  mss: number | undefined;
  windowScale: number | undefined;
  sackPermitted: boolean;
  sackBlocks: Array<readonly [number, number]> | undefined;
  timestamp: { readonly tsVal: number; readonly tsEcr: number } | undefined;
}

/**
 * Walks the option list into `out`. Known kinds must have their defined length; any option
 * whose length byte is missing, below 2 or runs past the header is 'badOption'. Unknown kinds
 * are skipped by their length. A repeated option overwrites the earlier one.
 */
function parseOptions(b: Uint8Array, start: number, end: number, out: MutableTcpOptions): TcpMalformedReason | undefined {
  let i = start;
  while (i < end) {
    const kind = b[i];
    if (kind === TcpOptionKind.EOL) break;
    if (kind === TcpOptionKind.NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return 'badOption';
    const len = b[i + 1];
    if (len < 2 || i + len > end) return 'badOption';
    switch (kind) {
      case TcpOptionKind.MSS:
        if (len !== TcpOptionLen.MSS) return 'badOption';
        out.mss = (b[i + 2] << 8) | b[i + 3];
        break;
      case TcpOptionKind.WINDOW_SCALE:
        if (len !== TcpOptionLen.WINDOW_SCALE) return 'badOption';
        // Kept as sent; RFC 7323 2.3 says a receiver clamps values above 14, which is the core's job.
        out.windowScale = b[i + 2];
        break;
      case TcpOptionKind.SACK_PERMITTED:
        if (len !== TcpOptionLen.SACK_PERMITTED) return 'badOption';
        out.sackPermitted = true;
        break;
      case TcpOptionKind.SACK: {
        if (len < 10 || (len - 2) % 8 !== 0) return 'badOption';
        const blocks: Array<readonly [number, number]> = [];
        for (let j = i + 2; j < i + len; j += 8) blocks.push([readU32(b, j), readU32(b, j + 4)]);
        out.sackBlocks = blocks;
        break;
      }
      case TcpOptionKind.TIMESTAMPS:
        if (len !== TcpOptionLen.TIMESTAMPS) return 'badOption';
        out.timestamp = { tsVal: readU32(b, i + 2), tsEcr: readU32(b, i + 6) };
        break;
      default:
        break;
    }
    i += len;
  }
  return undefined;
}

/**
 * Parses a segment (the IPv4 payload, cut at the IP total length) from `src` to `dst`. Never
 * throws. The result always has every TcpRepr key: absent options are `undefined`, and
 * `sackPermitted` is a boolean. The payload is a view into `bytes` (a shared empty array when
 * the segment has none). Values are as sent (no clamping of the window scale, options reported
 * whatever the flags).
 */
export function parseTcp(
  bytes: Uint8Array, src: Ipv4Addr, dst: Ipv4Addr, opts?: TcpParseOptions,
): ParseResult<TcpRepr, TcpMalformedReason> {
  const s = new TcpSegment(bytes);
  const reason = s.check();
  if (reason !== undefined) return malformed(reason);
  if (opts?.verifyChecksum !== false && !s.verifyChecksum(src, dst)) return malformed('badChecksum');
  const repr = readTcpRepr(s);
  return typeof repr === 'string' ? malformed(repr) : ok(repr);
}

/**
 * The record of a segment whose header `view.check()` has passed (and whose checksum the caller
 * has dealt with): what `parseTcp` returns, made straight from the view a layer already holds,
 * so that input checks the header once and allocates the record alone (no second view, no
 * separate options object, no result wrapper). The options are parsed into the record itself;
 * an option that is malformed gives its reason instead. The payload is a view into the bytes
 * (one shared empty array for a segment without payload).
 */
export function readTcpRepr(view: TcpSegment): TcpRepr | TcpMalformedReason {
  const bytes = view.bytes;
  const at = view.at;
  const end = view.end;
  const hl = view.headerLength;
  // Every key present from the start, in one order: one object shape for every received segment.
  const repr: TcpRepr & MutableTcpOptions = {
    srcPort: (bytes[at + F.SRC_PORT] << 8) | bytes[at + F.SRC_PORT + 1],
    dstPort: (bytes[at + F.DST_PORT] << 8) | bytes[at + F.DST_PORT + 1],
    seq: readU32(bytes, at + F.SEQ),
    ack: readU32(bytes, at + F.ACK),
    flags: bytes[at + F.FLAGS],
    window: (bytes[at + F.WINDOW] << 8) | bytes[at + F.WINDOW + 1],
    urgent: (bytes[at + F.URGENT] << 8) | bytes[at + F.URGENT + 1],
    mss: undefined,
    windowScale: undefined,
    sackPermitted: false,
    sackBlocks: undefined,
    timestamp: undefined,
    // No payload (a SYN, a pure ACK, a FIN: most of a short connection's segments): one shared
    // empty array rather than a view made per segment (a typed array object, ~100 bytes).
    payload: at + hl === end ? NO_PAYLOAD : bytes.subarray(at + hl, end),
  };
  if (hl > TCP_MIN_HEADER_LEN) {
    const bad = parseOptions(bytes, at + F.OPTIONS, at + hl, repr);
    if (bad !== undefined) return bad;
  }
  return repr;
}

/** How many SACK blocks `emitTcp` writes for `repr`: as many as fit after the other options. */
function sackBlocksThatFit(repr: TcpRepr, otherLen: number): number {
  const n = repr.sackBlocks ? repr.sackBlocks.length : 0;
  if (n === 0) return 0;
  return Math.max(0, Math.min(n, Math.floor((MAX_OPTIONS_LEN - otherLen - 4) / 8)));
}

/** Option bytes other than SACK blocks (each piece is already 4-byte aligned). */
function fixedOptionsLen(repr: TcpRepr): number {
  let n = 0;
  if (repr.mss !== undefined) n += 4;
  if (repr.timestamp !== undefined) n += 12;
  else if (repr.sackPermitted) n += 4;
  if (repr.windowScale !== undefined) n += 4;
  return n;
}

/** Header length `emitTcp` will prepend for `repr` (20 + options, a multiple of 4, <= 60). */
export function tcpHeaderLen(repr: TcpRepr): number {
  const fixed = fixedOptionsLen(repr);
  const blocks = sackBlocksThatFit(repr, fixed);
  return TCP_MIN_HEADER_LEN + fixed + (blocks > 0 ? 4 + 8 * blocks : 0);
}

/**
 * Writes the TCP header and options of `repr` (`hl` = tcpHeaderLen(repr) bytes) at `b[at]`, the
 * checksum field zero: emitTcp's layout, for a caller that writes the segment into memory of its
 * own (the TCP layer's fused way out, a frame made by the layers below) and sums it itself.
 */
export function writeTcpHeader(b: Uint8Array, at: number, repr: TcpRepr, hl: number): void {
  b[at + F.SRC_PORT] = (repr.srcPort >>> 8) & 0xff;
  b[at + F.SRC_PORT + 1] = repr.srcPort & 0xff;
  b[at + F.DST_PORT] = (repr.dstPort >>> 8) & 0xff;
  b[at + F.DST_PORT + 1] = repr.dstPort & 0xff;
  writeU32(b, at + F.SEQ, repr.seq);
  writeU32(b, at + F.ACK, repr.ack);
  b[at + F.DATA_OFFSET] = (hl >>> 2) << 4;
  b[at + F.FLAGS] = repr.flags & 0xff;
  b[at + F.WINDOW] = (repr.window >>> 8) & 0xff;
  b[at + F.WINDOW + 1] = repr.window & 0xff;
  b[at + F.CHECKSUM] = 0;
  b[at + F.CHECKSUM + 1] = 0;
  b[at + F.URGENT] = (repr.urgent >>> 8) & 0xff;
  b[at + F.URGENT + 1] = repr.urgent & 0xff;
  let i = at + F.OPTIONS;
  if (repr.mss !== undefined) {
    b[i] = TcpOptionKind.MSS;
    b[i + 1] = TcpOptionLen.MSS;
    b[i + 2] = (repr.mss >>> 8) & 0xff;
    b[i + 3] = repr.mss & 0xff;
    i += 4;
  }
  if (repr.timestamp !== undefined) {
    if (repr.sackPermitted) {
      b[i] = TcpOptionKind.SACK_PERMITTED;
      b[i + 1] = TcpOptionLen.SACK_PERMITTED;
    } else {
      b[i] = TcpOptionKind.NOP;
      b[i + 1] = TcpOptionKind.NOP;
    }
    b[i + 2] = TcpOptionKind.TIMESTAMPS;
    b[i + 3] = TcpOptionLen.TIMESTAMPS;
    writeU32(b, i + 4, repr.timestamp.tsVal);
    writeU32(b, i + 8, repr.timestamp.tsEcr);
    i += 12;
  } else if (repr.sackPermitted) {
    b[i] = TcpOptionKind.NOP;
    b[i + 1] = TcpOptionKind.NOP;
    b[i + 2] = TcpOptionKind.SACK_PERMITTED;
    b[i + 3] = TcpOptionLen.SACK_PERMITTED;
    i += 4;
  }
  if (repr.windowScale !== undefined) {
    b[i] = TcpOptionKind.NOP;
    b[i + 1] = TcpOptionKind.WINDOW_SCALE;
    b[i + 2] = TcpOptionLen.WINDOW_SCALE;
    b[i + 3] = repr.windowScale & 0xff;
    i += 4;
  }
  const blocks = sackBlocksThatFit(repr, fixedOptionsLen(repr));
  if (blocks > 0 && repr.sackBlocks) {
    b[i] = TcpOptionKind.NOP;
    b[i + 1] = TcpOptionKind.NOP;
    b[i + 2] = TcpOptionKind.SACK;
    b[i + 3] = 2 + 8 * blocks;
    i += 4;
    for (let k = 0; k < blocks; k++) {
      writeU32(b, i, repr.sackBlocks[k][0]);
      writeU32(b, i + 4, repr.sackBlocks[k][1]);
      i += 8;
    }
  }
}

/**
 * Prepends the TCP header and options in front of the data already in `pb` (repr.payload is
 * ignored: write the data into the buffer first) and computes the checksum with the
 * pseudo-header for src -> dst.
 *
 * Options are laid out as Linux does, each piece padded with NOPs to 4 bytes: MSS; SACK-permitted
 * folded into the timestamps' padding (`04 02 08 0a ...`, else `01 01 08 0a ...` or
 * `01 01 04 02`); `01 03 03 ws`; `01 01 05 len blocks...`. SACK blocks beyond the 40-byte
 * option space are left out (the first ones are kept: RFC 2018 puts the newest first).
 */
export function emitTcp(repr: TcpRepr, pb: PacketBuffer, src: Ipv4Addr, dst: Ipv4Addr, options?: TcpEmitOptions): void {
  const hl = tcpHeaderLen(repr);
  const at = pb.prepend(hl);
  const b = pb.buf;
  writeTcpHeader(b, at, repr, hl);
  const len = pb.length; // the header just prepended (at === pb.head), the payload, a gathered tail
  if (options?.partialChecksum === true) {
    // Only the pseudo-header sum (folded, not complemented): the link, or pb.completeChecksum(),
    // adds the header and data in later.
    const p = pseudoHeaderSum(src, dst, IpProtocol.TCP, len);
    b[at + F.CHECKSUM] = p >>> 8;
    b[at + F.CHECKSUM + 1] = p & 0xff;
    pb.csumStart = at;
    pb.csumOffset = F.CHECKSUM;
    return;
  }
  if (pb.tail !== undefined) pb.own(); // summed in one piece
  const whole = pb.buf;
  const c = foldChecksum(onesSum(whole, at, len, pseudoHeaderSum(src, dst, IpProtocol.TCP, len)));
  whole[at + F.CHECKSUM] = c >>> 8;
  whole[at + F.CHECKSUM + 1] = c & 0xff;
}

export interface TcpEmitOptions {
  /**
   * Leave the checksum partial (pseudo-header sum only) and record where it is in
   * `pb.csumStart`/`csumOffset`, for a link that completes it (checksum offload) or a later
   * `pb.completeChecksum()`. Default false: the full checksum.
   */
  readonly partialChecksum?: boolean;
}
