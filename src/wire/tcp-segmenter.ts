/**
 * Software TCP segmentation (what Linux calls GSO done in software): cuts one large TCP segment
 * (a TSO segment built for a link that segments, see PacketBuffer.gsoSize) into segments of
 * `gsoSize` payload bytes each, for a path that cannot take it whole (a link without offload,
 * an operator inserted below IPv4, a datagram looped back to ourselves).
 *
 * Each piece gets a copy of the TCP header with its own sequence number; PSH and FIN stay only
 * on the last piece and CWR only on the first (as a NIC's TSO does), and the checksum is redone
 * for the piece: complete, or left partial (pseudo-header sum only, csumStart/csumOffset set)
 * when `partial` says what is below finishes it.
 *
 * The payload is not copied: each piece is its headers (a small buffer with headroom) followed by
 * a view of the large segment's payload as `PacketBuffer.tail`, which a link that gathers writes
 * behind the headers (one writev) and anything that needs the piece whole or keeps it copies
 * (`bytes()`, `own()`). Copying every byte into fresh packet memory cost more than the copy: at
 * bulk rates it churned hundreds of MB/s of ArrayBuffers, and V8 counts their bytes as external
 * memory allocated since the last full GC, which (with a small old generation) started a
 * mark-compact every few tens of milliseconds (docs/history/topics.md "Bulk from the stack
 * without offload: the collector's trigger").
 */
import type { Ipv4Addr } from '../ipv4/address.js';
import { PacketBuffer } from '../packet-buffer.js';
import { foldChecksum, onesSum, pseudoHeaderSum } from './checksum.js';
import { IpProtocol } from './ipv4.js';
import { TcpFlags, TcpOffset } from './tcp.js';

const SEQ = TcpOffset.SEQ;
const DATA_OFFSET = TcpOffset.DATA_OFFSET;
const FLAGS = TcpOffset.FLAGS;
const CHECKSUM = TcpOffset.CHECKSUM;
const LAST_ONLY = TcpFlags.PSH | TcpFlags.FIN;
const FIRST_ONLY = TcpFlags.CWR;
const TCP = IpProtocol.TCP;

/**
 * Cuts the TCP segment in `pb` (TCP header first, no IP header yet) into pieces of `gsoSize`
 * payload bytes (the last may be shorter) and hands each to `out`, in order. Returns the number
 * of pieces (0 for a segment without payload: nothing to cut). `pb` itself is only read.
 */
export function segmentTcp(pb: PacketBuffer, gsoSize: number, src: Ipv4Addr, dst: Ipv4Addr, partial: boolean, out: (piece: PacketBuffer) => void): number {
  return segmentTcpWithPseudoSum(pb, gsoSize, pseudoHeaderSum(src, dst, TCP, 0), partial, out);
}

/**
 * `segmentTcp` for either family: `pseudoBase` is the pseudo-header sum with a length of 0
 * (IPv4's `pseudoHeaderSum(src, dst, 6, 0)`, IPv6's `ipv6PseudoHeaderSum(src, 0, dst, 0, 6, 0)`,
 * folded to 16 bits); each piece's length is added to it.
 */
export function segmentTcpWithPseudoSum(pb: PacketBuffer, gsoSize: number, pseudoBase: number, partial: boolean, out: (piece: PacketBuffer) => void): number {
  const b = pb.buf;
  const at = pb.head;
  const hl = (b[at + DATA_OFFSET] >>> 4) << 2;
  // The payload: behind the header in `buf`, or gathered (PacketBuffer.tail), read from there.
  const tail = pb.tail;
  const data = tail === undefined ? b : tail;
  const dataAt = tail === undefined ? at + hl : 0;
  const total = pb.length - hl;
  const seq0 = ((b[at + SEQ] << 24) | (b[at + SEQ + 1] << 16) | (b[at + SEQ + 2] << 8) | b[at + SEQ + 3]) >>> 0;
  const flags = b[at + FLAGS];
  let pieces = 0;
  for (let off = 0; off < total; off += gsoSize) {
    const n = total - off < gsoSize ? total - off : gsoSize;
    const piece = PacketBuffer.alloc(0);
    const payload = data.subarray(dataAt + off, dataAt + off + n);
    piece.tail = payload;
    const p = piece.buf;
    const h = piece.prepend(hl);
    p.set(b.subarray(at, at + hl), h);
    const seq = (seq0 + off) >>> 0;
    p[h + SEQ] = seq >>> 24;
    p[h + SEQ + 1] = (seq >>> 16) & 0xff;
    p[h + SEQ + 2] = (seq >>> 8) & 0xff;
    p[h + SEQ + 3] = seq & 0xff;
    let f = flags;
    if (off + n < total) f &= ~LAST_ONLY;
    if (off > 0) f &= ~FIRST_ONLY;
    p[h + FLAGS] = f;
    // The pseudo-header sum for this piece's length (folded: one's complement addition).
    let pseudo = pseudoBase + hl + n;
    pseudo = (pseudo & 0xffff) + (pseudo >>> 16);
    if (partial) {
      p[h + CHECKSUM] = pseudo >>> 8;
      p[h + CHECKSUM + 1] = pseudo & 0xff;
      piece.csumStart = h;
      piece.csumOffset = CHECKSUM;
    } else {
      p[h + CHECKSUM] = 0;
      p[h + CHECKSUM + 1] = 0;
      // The header's length is a multiple of 4: the payload's sum carries on from it.
      const c = foldChecksum(onesSum(payload, 0, n, onesSum(p, h, hl, pseudo)));
      p[h + CHECKSUM] = c >>> 8;
      p[h + CHECKSUM + 1] = c & 0xff;
    }
    pieces++;
    out(piece);
  }
  return pieces;
}
