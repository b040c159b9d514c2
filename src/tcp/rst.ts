/**
 * The reset a host sends for a segment that belongs to no connection (RFC 9293 3.10.7.1, the
 * CLOSED state; also 3.5.2 "Reset Generation" group 1). Pure: the wiring calls it for segments
 * its demux cannot place and sends the result back to the segment's source.
 */

import { TcpFlags, type TcpRepr } from '../wire/tcp.js';

const EMPTY = new Uint8Array(0);

/**
 * The RST answering `seg`, or undefined when none may be sent (never answer a RST with a RST).
 * If the segment had ACK, the reset takes its sequence number from that ACK; otherwise it has
 * sequence number zero and acknowledges everything the segment occupied (SYN and FIN count).
 */
export function rstForSegment(seg: Readonly<TcpRepr>): TcpRepr | undefined {
  if ((seg.flags & TcpFlags.RST) !== 0) return undefined;
  if ((seg.flags & TcpFlags.ACK) !== 0) {
    return { srcPort: seg.dstPort, dstPort: seg.srcPort, seq: seg.ack, ack: 0, flags: TcpFlags.RST, window: 0, urgent: 0, payload: EMPTY };
  }
  const len = seg.payload.length + ((seg.flags & TcpFlags.SYN) !== 0 ? 1 : 0) + ((seg.flags & TcpFlags.FIN) !== 0 ? 1 : 0);
  return {
    srcPort: seg.dstPort,
    dstPort: seg.srcPort,
    seq: 0,
    ack: (seg.seq + len) >>> 0,
    flags: TcpFlags.RST | TcpFlags.ACK,
    window: 0,
    urgent: 0,
    payload: EMPTY,
  };
}
