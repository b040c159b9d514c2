/**
 * Packetization-layer path MTU discovery for TCP, the black-hole part (RFC 4821, RFC 8899's
 * ideas): when a path drops big packets without sending ICMP "fragmentation needed" (a
 * firewall eating ICMP, a tunnel), full-sized segments time out again and again while small
 * ones pass. After `BLACK_HOLE_TIMEOUTS` consecutive retransmission timeouts with a full-sized
 * segment in flight, fall back to a smaller MSS; later (the probe timer) try a larger one again,
 * halving the distance each time: an ACK of a full segment of the probed size keeps it, a
 * timeout of it goes back. Pure bookkeeping in MSS bytes; the connection applies the sizes.
 */

import { IPV6_MIN_PATH_MTU, MIN_PATH_MTU, TCP_IPV4_HEADERS, TCP_IPV6_HEADERS } from './pmtu.js';
import { seqGeq } from './seq.js';

/** Consecutive timeouts of full-sized segments that mean "black hole" (Linux's tcp_retries1). */
export const BLACK_HOLE_TIMEOUTS = 3;
/** The MSS to fall back to first (Linux's tcp_base_mss); below it, halve. */
export const BASE_MSS = 1024;
/** No MSS below this from black-hole fallback: the 552-byte path MTU floor. */
export const FLOOR_MSS = MIN_PATH_MTU - TCP_IPV4_HEADERS;
/** The same over IPv6: its minimum MTU, 1280, less 60 bytes of headers. */
export const FLOOR_MSS_IPV6 = IPV6_MIN_PATH_MTU - TCP_IPV6_HEADERS;
/** Stop searching when the bounds are this close (bytes). */
const SEARCH_RESOLUTION = 32;

const NEVER = Number.POSITIVE_INFINITY;

export class BlackHoleDetector {
  /** Consecutive timeouts with a full-sized segment in flight (read by the connection: nonzero means "call onAck"). */
  timeouts = 0;
  /** The largest MSS known to pass, and the smallest known (or assumed) to be dropped. */
  private low = 0;
  private high = 0;
  /** When to try a larger MSS; NEVER while no fallback happened (or the search is over). */
  probeAt = NEVER;
  /** The MSS under test (0: not probing), and the end of the first full segment sent at that size. */
  probeMss = 0;
  private probeEnd = 0;
  private probeSent = false;

  /** `floor`: no fallback below this MSS (default FLOOR_MSS; FLOOR_MSS_IPV6 over IPv6). */
  constructor(private readonly interval: number, private readonly floor: number = FLOOR_MSS) {}

  /**
   * A retransmission timeout at `now` with `mss` the current send MSS. `fullSized`: a segment of
   * that size was in flight. Returns the MSS to use from now on, or undefined for no change.
   */
  onTimeout(mss: number, fullSized: boolean, now: number): number | undefined {
    if (this.probeMss !== 0) {
      // The probe was lost: that size does not pass (or, if it never went out, the timeout is
      // about smaller segments and says nothing). Back to the last good size either way.
      if (this.probeSent) this.high = this.probeMss;
      this.probeMss = 0;
      this.timeouts = 0;
      this.probeAt = now + this.interval;
      return this.low;
    }
    if (!fullSized) return undefined;
    if (++this.timeouts < BLACK_HOLE_TIMEOUTS) return undefined;
    const lower = mss > BASE_MSS ? BASE_MSS : Math.max(this.floor, mss >>> 1);
    if (lower >= mss) return undefined;
    this.timeouts = 0;
    this.high = mss;
    this.low = lower;
    this.probeAt = now + this.interval;
    return lower;
  }

  /** The cumulative ACK advanced to `ack` (progress). Returns true when a probe succeeded. */
  onAck(ack: number, now: number): boolean {
    this.timeouts = 0;
    if (this.probeMss === 0 || !this.probeSent || !seqGeq(ack, this.probeEnd)) return false;
    this.low = this.probeMss;
    this.probeMss = 0;
    // Bounds still apart: probe the next size at once; else rest, and search again after the
    // interval (paths change).
    this.probeAt = this.high - this.low > SEARCH_RESOLUTION ? now : now + this.interval;
    return true;
  }

  /**
   * The probe timer fired: the MSS to try now (the middle of the search range), or undefined when
   * there is nothing left to try. `ceiling`: the largest MSS allowed (negotiated, and ICMP's
   * path MTU); a finished search starts again from it.
   */
  startProbe(ceiling: number): number | undefined {
    this.probeAt = NEVER;
    if (this.high - this.low <= SEARCH_RESOLUTION || this.high > ceiling) this.high = ceiling;
    if (this.high - this.low <= SEARCH_RESOLUTION) {
      if (this.low < this.high) {
        // Close enough: try the ceiling itself.
        this.probeMss = this.high;
        this.probeSent = false;
        return this.probeMss;
      }
      return undefined;
    }
    this.probeMss = Math.ceil((this.low + this.high) / 2);
    this.probeSent = false;
    return this.probeMss;
  }

  /** A segment of `len` bytes ending at `end` was sent while probing. */
  onSend(len: number, end: number): void {
    if (!this.probeSent && len === this.probeMss) {
      this.probeSent = true;
      this.probeEnd = end;
    }
  }
}
