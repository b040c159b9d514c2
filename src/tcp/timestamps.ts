/**
 * RFC 7323 timestamps of one connection: the TSval clock we send, TS.Recent and Last.ACK.sent
 * (section 4.3), the PAWS test (section 5) and RTT samples from the echoed TSecr (section 4.1).
 *
 * The clock ticks once per millisecond (RFC 7323 5.4 allows 1 ms to 1 s) and starts at a
 * per-connection offset, so a TSval tells an observer neither the host's uptime nor how other
 * connections' clocks run (RFC 7323 7.1, as Linux's per-connection ts_off).
 *
 * Timestamp values compare modulo 2^32, like sequence numbers.
 */

import { seqGeq, seqLeq, seqLt } from './seq.js';

/**
 * A TS.Recent not refreshed for this long is invalid (RFC 7323 5.5): the peer's 1 ms clock may
 * have wrapped past the sign bit meanwhile, so PAWS would wrongly drop everything. 24 days.
 */
export const PAWS_IDLE_LIMIT_MS = 24 * 24 * 60 * 60 * 1000;

/** RTT samples above this are taken as a bogus echo and ignored (RFC 7323 4.1 "sanity"). */
const MAX_RTT_SAMPLE_MS = 0x7fffffff;

/**
 * The clock offset of a connection, a well-mixed function of its ISS (itself a keyed hash of the
 * 4-tuple plus a clock, RFC 6528): unpredictable off-path, and the listener can rebuild it for a
 * SYN-cookie connection from the cookie alone.
 */
export function timestampOffset(iss: number): number {
  // The 32-bit finalizer of MurmurHash3: every input bit flips about half the output bits.
  let h = (iss ^ 0x5bd1e995) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The TSval of a clock starting at `offset`, at `now` (ms). */
export function timestampAt(offset: number, now: number): number {
  return (Math.floor(now) + offset) >>> 0;
}

export class TcpTimestamps {
  /** The peer's TSval to echo (RFC 7323 4.3 TS.Recent). */
  tsRecent = 0;
  /** When TS.Recent was last set, ms (for the 24-day rule). */
  tsRecentAt = 0;
  /** The ACK field of the last ACK we sent (RFC 7323 4.3 Last.ACK.sent). */
  lastAckSent = 0;
  /**
   * An echo that measures nothing: a SYN cookie's TSval, whose low bits carry options rather
   * than the clock (up to 63 ms off). Undefined for other connections.
   */
  unusableEcr: number | undefined;

  constructor(readonly offset: number) {}

  /** Our TSval at `now` (ms). */
  tsVal(now: number): number {
    return timestampAt(this.offset, now);
  }

  /** Takes the TSval of the peer's SYN or SYN-ACK as the first TS.Recent. */
  start(peerTsVal: number, now: number): void {
    this.tsRecent = peerTsVal >>> 0;
    this.tsRecentAt = now;
  }

  /** Whether TS.Recent is still valid at `now` (RFC 7323 5.5). */
  recentValid(now: number): boolean {
    return now - this.tsRecentAt <= PAWS_IDLE_LIMIT_MS;
  }

  /**
   * PAWS (RFC 7323 5.3 R1): true when a segment carrying `tsVal` is an old duplicate and must be
   * dropped. Never true once TS.Recent has gone stale (24-day rule).
   */
  isOld(tsVal: number, now: number): boolean {
    return seqLt(tsVal, this.tsRecent) && this.recentValid(now);
  }

  /**
   * An acceptable segment arrived (RFC 7323 4.3 (2), 5.3 R3): its TSval becomes TS.Recent when
   * it is not older and the segment starts at or before Last.ACK.sent, so the value echoed is the
   * one of the earliest segment a delayed ACK covers. A stale TS.Recent is replaced by any value.
   */
  onAcceptable(tsVal: number, seq: number, now: number): void {
    if (!seqLeq(seq, this.lastAckSent)) return;
    if (seqGeq(tsVal, this.tsRecent) || !this.recentValid(now)) {
      this.tsRecent = tsVal >>> 0;
      this.tsRecentAt = now;
    }
  }

  /**
   * The RTT measured by an echoed TSecr (ms), or undefined when the echo is unusable: zero (the
   * peer echoed nothing yet, as Linux treats it) or from the future.
   */
  rttSample(tsEcr: number, now: number): number | undefined {
    if (tsEcr === 0 || tsEcr === this.unusableEcr) return undefined;
    const r = (this.tsVal(now) - tsEcr) >>> 0;
    return r > MAX_RTT_SAMPLE_MS ? undefined : r;
  }
}
