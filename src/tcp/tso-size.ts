/**
 * How large a segment the sender builds when the link cuts segments itself (TCP segmentation
 * offload, `TcpConnectionCore.gsoMaxBytes`): the size of a TSO burst, chosen as Linux chooses it
 * (tcp_tso_autosize), so a large segment is never more than the path can take in about a
 * millisecond, and a slow or long path still gets its data in small pieces:
 *
 *   rate  = ratio * max(cwnd, flight) / SRTT          (Linux's pacing rate: ratio 2 in slow
 *                                                       start, 1.2 in congestion avoidance)
 *   bytes = rate * 1 ms                               (sk_pacing_shift 10: 1/1024 s of data)
 *         + maxBytes >> floor(minRTT / 0.512 ms)      (tcp_tso_rtt_log 9: on a path of well under
 *                                                       a millisecond a whole 64 KiB is added)
 *   segs  = max(2, floor(min(bytes, maxBytes) / MSS))  (tcp_min_tso_segs 2)
 *
 * and the segment is `segs` MSS long, at most `floor(maxBytes / MSS)` MSS. With no RTT sample
 * yet, the rate has no bound (as Linux, which divides by SRTT only once it has one) and the
 * segment is the largest. The sender still sends no more than cwnd and the peer's window allow.
 * Pure; no allocation.
 */

/** Linux's sk_pacing_shift: a TSO burst is about 2^-10 s of the pacing rate. */
const BURST_MS = 1000 / 1024;
/** Linux's tcp_tso_rtt_log: the 64 KiB bonus halves per 2^9 us of minimum RTT. */
const RTT_LOG_MS = 512 / 1000;
/** Linux's pacing ratios, percent: slow start, congestion avoidance. */
const SS_RATIO = 2;
const CA_RATIO = 1.2;
/** tcp_min_tso_segs. */
const MIN_TSO_SEGS = 2;

/**
 * Payload bytes of the next new-data segment: a multiple of `mss` between `mss` and `maxBytes`
 * (at least 2 MSS when `maxBytes` allows). Times in ms; `minRtt` Infinity or `srtt` 0 when not
 * measured yet.
 */
export function tsoSegmentBytes(mss: number, maxBytes: number, cwnd: number, flight: number, srtt: number, minRtt: number, slowStart: boolean): number {
  const most = Math.floor(maxBytes / mss);
  if (most <= 1) return mss;
  let bytes = maxBytes;
  if (srtt > 0) {
    const rate = ((slowStart ? SS_RATIO : CA_RATIO) * (cwnd > flight ? cwnd : flight)) / srtt; // bytes per ms
    bytes = rate * BURST_MS;
    const r = Math.floor((minRtt === Number.POSITIVE_INFINITY ? srtt : minRtt) / RTT_LOG_MS);
    if (r < 31) bytes += maxBytes / 2 ** r;
    if (bytes > maxBytes) bytes = maxBytes;
  }
  let segs = Math.floor(bytes / mss);
  if (segs < MIN_TSO_SEGS) segs = MIN_TSO_SEGS;
  if (segs > most) segs = most;
  return segs * mss;
}

/** Linux's tcp_tso_win_divisor: a third of cwnd free is enough to send without waiting. */
const WIN_DIVISOR = 3;

/**
 * Whether to hold back a new-data segment of `len` bytes (less than the `goal` tsoSegmentBytes
 * chose, less than what is queued) while `inFlight` bytes are unacknowledged, as Linux's
 * tcp_tso_should_defer: an ACK is coming that will let a larger segment go, unless a third of
 * `cwnd` is free already. Only while at least two full segments are in flight: the peer ACKs
 * those at once (RFC 5681 4.2: at least every second full-sized segment), so the wait is a
 * round trip. Less than that (a response's header, a short reply) may be acknowledged only by
 * the peer's delayed-ACK timer: a body written after it waited 40 ms (Linux sends it, finding
 * the window free: its own test is on the room, min(send_win, cong_win), and its writer is
 * woken only when a third of the send buffer is free, which keeps bulk segments large; here the
 * host refills the buffer on every ACK, so the test stays on the segment's length). Nothing is
 * held once the flight is empty (no timer is needed: the ACK of the flight sends it).
 */
export function tsoShouldDefer(len: number, goal: number, cwnd: number, inFlight: number, mss: number): boolean {
  return inFlight >= 2 * mss && len < goal && len * WIN_DIVISOR < cwnd;
}
