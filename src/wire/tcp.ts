/**
 * TCP header (RFC 9293 3.1). The record type and flag constants are shared by the wire codec
 * and the sans-IO TCP core; the view and parse/emit live below them.
 */

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
