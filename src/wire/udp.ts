/**
 * UDP header (RFC 768). The checksum covers the IPv4 pseudo-header, the header and the data.
 * A received checksum of 0 means the sender computed none, and is accepted; a computed
 * checksum of 0 is sent as 0xffff, its other one's complement form.
 */

import type { Ipv4Addr } from '../ipv4/address.js';
import type { PacketBuffer } from '../packet-buffer.js';
import { foldChecksum, onesSum, pseudoHeaderSum } from './checksum.js';
import { IpProtocol } from './ipv4.js';
import { malformed, ok, type ChecksumParseOptions, type ParseResult } from './parse-result.js';

/**
 * Byte offsets of the UDP header fields from the start of the header, for code that reads raw
 * datagrams without a view. Multi-byte fields are big-endian.
 */
export const UdpOffset = Object.freeze({
  /** Source port, 2 bytes. */
  SRC_PORT: 0,
  /** Destination port, 2 bytes. */
  DST_PORT: 2,
  /** Length of header and data, 2 bytes. */
  LENGTH: 4,
  /** Checksum, 2 bytes (0: none computed). */
  CHECKSUM: 6,
  /** The data. */
  PAYLOAD: 8,
} as const);
const F = UdpOffset;

export const UDP_HEADER_LEN = 8;

export type UdpMalformedReason = 'truncated' | 'badLength' | 'badChecksum';

/** What a UDP datagram means. */
export interface UdpRepr {
  readonly srcPort: number;
  readonly dstPort: number;
  /**
   * The data. On parse: a view into the packet, cut at the UDP length. On emit: ignored, the
   * data must already be in the PacketBuffer.
   */
  readonly payload: Uint8Array;
}

/** `verifyChecksum`: verify the checksum when the sender set one (default true). */
export type UdpParseOptions = ChecksumParseOptions;

/** A view over a UDP datagram. Getters other than `check()` assume it returned undefined. */
export class UdpDatagram {
  bytes: Uint8Array;
  /** Where the datagram starts in `bytes` (a received frame is read in place). */
  at = 0;
  /** Where the bytes available to it end (the IP payload's end: link padding beyond is not its). */
  end: number;

  constructor(bytes: Uint8Array = new Uint8Array(0)) {
    this.bytes = bytes;
    this.end = bytes.length;
  }

  /**
   * Rebinds the view to other bytes without allocating: the datagram from `at` to `end` (by
   * default all of `bytes`), read in place without a view of its own.
   */
  reset(bytes: Uint8Array, at = 0, end = bytes.length): this {
    this.bytes = bytes;
    this.at = at;
    this.end = end;
    return this;
  }

  /** Undefined when the header is present and 8 <= length field <= the bytes available. */
  check(): UdpMalformedReason | undefined {
    const available = this.end - this.at;
    if (available < UDP_HEADER_LEN) return 'truncated';
    const len = this.length;
    if (len < UDP_HEADER_LEN || len > available) return 'badLength';
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

  /** The length field: header + data. */
  get length(): number {
    return (this.bytes[this.at + F.LENGTH] << 8) | this.bytes[this.at + F.LENGTH + 1];
  }

  get checksum(): number {
    return (this.bytes[this.at + F.CHECKSUM] << 8) | this.bytes[this.at + F.CHECKSUM + 1];
  }

  /** The data, cut at the length field. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.at + F.PAYLOAD, this.at + this.length);
  }

  /** True when the checksum is right, or absent (0). */
  verifyChecksum(src: Ipv4Addr, dst: Ipv4Addr): boolean {
    if (this.checksum === 0) return true;
    const len = this.length;
    return onesSum(this.bytes, this.at, len, pseudoHeaderSum(src, dst, IpProtocol.UDP, len)) === 0xffff;
  }
}

/** Parses a datagram (the IPv4 payload). Never throws; the payload is a view. */
export function parseUdp(
  bytes: Uint8Array, src: Ipv4Addr, dst: Ipv4Addr, opts?: UdpParseOptions,
): ParseResult<UdpRepr, UdpMalformedReason> {
  const d = new UdpDatagram(bytes);
  const reason = d.check();
  if (reason !== undefined) return malformed(reason);
  if (opts?.verifyChecksum !== false && !d.verifyChecksum(src, dst)) return malformed('badChecksum');
  return ok({ srcPort: d.srcPort, dstPort: d.dstPort, payload: d.payload });
}

/**
 * Prepends the 8-byte UDP header in front of the data already in `pb` (repr.payload is
 * ignored), sets the length and computes the checksum with the pseudo-header for src -> dst.
 * Throws RangeError when the datagram would exceed 65,535 bytes (a caller bug).
 */
export function emitUdp(repr: UdpRepr, pb: PacketBuffer, src: Ipv4Addr, dst: Ipv4Addr): void {
  const len = UDP_HEADER_LEN + pb.length;
  if (len > 0xffff) throw new RangeError(`UDP datagram too long: ${len} bytes`);
  const at = pb.prepend(UDP_HEADER_LEN);
  writeUdpHeader(pb.buf, at, repr.srcPort, repr.dstPort, len, src, dst);
}

/**
 * Writes the 8-byte UDP header at `at` in `b`, in front of the `len - 8` data bytes already
 * there, with its checksum (pseudo-header for src -> dst; 0 sent as 0xFFFF): what `emitUdp`
 * writes, also for a caller that made the whole frame itself. `partial`: only the
 * pseudo-header's sum (folded, not complemented) goes in the field, for a link that finishes
 * the checksum (checksum offload) to add the header and data in.
 */
export function writeUdpHeader(b: Uint8Array, at: number, srcPort: number, dstPort: number, len: number, src: Ipv4Addr, dst: Ipv4Addr, partial = false): void {
  b[at + F.SRC_PORT] = (srcPort >>> 8) & 0xff;
  b[at + F.SRC_PORT + 1] = srcPort & 0xff;
  b[at + F.DST_PORT] = (dstPort >>> 8) & 0xff;
  b[at + F.DST_PORT + 1] = dstPort & 0xff;
  b[at + F.LENGTH] = len >>> 8;
  b[at + F.LENGTH + 1] = len & 0xff;
  if (partial) {
    const p = pseudoHeaderSum(src, dst, IpProtocol.UDP, len);
    b[at + F.CHECKSUM] = p >>> 8;
    b[at + F.CHECKSUM + 1] = p & 0xff;
    return;
  }
  b[at + F.CHECKSUM] = 0;
  b[at + F.CHECKSUM + 1] = 0;
  let c = foldChecksum(onesSum(b, at, len, pseudoHeaderSum(src, dst, IpProtocol.UDP, len)));
  if (c === 0) c = 0xffff; // 0 on the wire would mean "no checksum" (RFC 768)
  b[at + F.CHECKSUM] = c >>> 8;
  b[at + F.CHECKSUM + 1] = c & 0xff;
}
