/**
 * RTT samples at SACK time, as Linux's tcp_sacktag_one and tcp_ack_update_rtt take them: an ACK
 * that newly SACKs data never retransmitted measures the path as well as a cumulative ACK does
 * (the SACKed copy is the only one sent, so Karn's ambiguity does not arise), and during a loss
 * episode, when the cumulative ACK stands still at the hole, it is the only fresh measure.
 *
 * One ACK gives two numbers: the send time of the earliest-sent segment it newly SACKs (the RTT
 * estimator's sample, Linux's sack_rtt_us: the longest, conservative for the RTO) and that of
 * the most recently sent one (the minimum RTT and the congestion control's sample, Linux's
 * ca_rtt_us: the least queueing). RACK notes the send times while it marks the segments
 * delivered (rack.ts onAck); the connection takes the sample when the cumulative ACK gave none.
 */

export class SackSendTimes {
  /** Send time (ms) of the earliest-sent segment this ACK newly SACKed, never retransmitted; -1 when none. */
  first = -1;
  /** Send time (ms) of the most recently sent one; -1 when none. */
  last = -1;

  /** A new ACK: nothing noted yet. */
  reset(): void {
    this.first = -1;
    this.last = -1;
  }

  /** A segment sent at `sentAt` (never retransmitted) was newly SACKed by this ACK. */
  note(sentAt: number): void {
    if (this.first < 0 || sentAt < this.first) this.first = sentAt;
    if (sentAt > this.last) this.last = sentAt;
  }

  /** True when this ACK newly SACKed a segment that was never retransmitted. */
  get any(): boolean {
    return this.first >= 0;
  }
}

/** The RTT from a send time to `now`, never negative (a batch not stamped yet measures from its build time). */
export function rttSince(sentAt: number, now: number): number {
  return now > sentAt ? now - sentAt : 0;
}

/**
 * What the cumulative part of an ACK that also newly SACKed data left for the SACK's turn
 * (TcpConnectionCore: its RTT is chosen once RACK has seen the SACKs, Linux's order: the
 * cumulative ACK's send-time sample, else the SACK's, else the TSecr echo or the timed segment).
 */
/** The ACK did not advance SND.UNA: only the SACK may give a sample. */
export const RTT_FALLBACK_NONE = 0;
/** The cumulative ACK gave a send-time sample: the SACK's is not used. */
export const RTT_FALLBACK_TAKEN = 1;
/** No send-time sample: the timed segment (RFC 6298), if the ACK covers it, unless the SACK gives one. */
export const RTT_FALLBACK_TIMED = 2;
/** The ACK may answer a retransmission: its TSecr echo, unless the SACK gives a sample. */
export const RTT_FALLBACK_ECR = 3;
