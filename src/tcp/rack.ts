/**
 * RACK-TLP (RFC 8985) arithmetic, pure: the tail loss probe timeout.
 *
 * A tail loss probe (TLP) turns the loss of the last segments of a flight, which produce no
 * duplicate ACKs, into a loss fast recovery can repair: when no ACK arrives for about two
 * round trips, one segment (new data if any, else the last segment sent again) goes out, and
 * its ACK (with SACK blocks) shows what is missing, long before the retransmission timeout.
 */

/** RFC 8985 7.2 WCDelAckT: the worst-case delayed-ACK time of a peer, ms. */
export const WC_DEL_ACK_T = 200;
/** RFC 8985 7.2: the PTO with no RTT sample yet, ms. */
export const PTO_WITHOUT_SRTT = 1000;

/**
 * The probe timeout (RFC 8985 7.2): 2 * SRTT, plus WCDelAckT when only one segment is in
 * flight (its ACK may be delayed); 1 s without an RTT sample.
 */
export function probeTimeout(srtt: number, flightBytes: number, mss: number): number {
  if (srtt <= 0) return PTO_WITHOUT_SRTT;
  let pto = 2 * srtt;
  if (flightBytes <= mss) pto += WC_DEL_ACK_T;
  return Math.ceil(pto);
}
