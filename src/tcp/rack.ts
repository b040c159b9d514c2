/**
 * RACK-TLP (RFC 8985), pure: the tail loss probe timeout, and RACK's time-based loss detection
 * over per-segment transmit times.
 *
 * A tail loss probe (TLP) turns the loss of the last segments of a flight, which produce no
 * duplicate ACKs, into a loss fast recovery can repair: when no ACK arrives for about two
 * round trips, one segment (new data if any, else the last segment sent again) goes out, and
 * its ACK (with SACK blocks) shows what is missing, long before the retransmission timeout.
 */

import { seqGt, seqLeq, seqLt } from './seq.js';
import { allocBytes } from '../packet-buffer.js';
import type { SackScoreboard } from './sack-scoreboard.js';

/** RFC 8985 7.2 WCDelAckT: the worst-case delayed-ACK time of a peer, ms. */
export const WC_DEL_ACK_T = 200;
/** RFC 8985 7.2: the PTO with no RTT sample yet, ms. */
export const PTO_WITHOUT_SRTT = 1000;
/** Smallest PTO, ms (as Linux): on sub-millisecond paths 2 * SRTT is below ACK-clock jitter. */
export const MIN_PTO = 10;

/**
 * The probe timeout (RFC 8985 7.2): 2 * SRTT, plus WCDelAckT when only one segment is in
 * flight (its ACK may be delayed); 1 s without an RTT sample; never below MIN_PTO.
 */
export function probeTimeout(srtt: number, flightBytes: number, mss: number): number {
  if (srtt <= 0) return PTO_WITHOUT_SRTT;
  let pto = 2 * srtt;
  if (flightBytes <= mss) pto += WC_DEL_ACK_T;
  return Math.max(Math.ceil(pto), MIN_PTO);
}

// -------------------------------------------------------------------------------------------------
// RACK: time-based loss detection (RFC 8985 6)


const F_RETRANSMITTED = 1;
const F_DELIVERED = 2;
const F_LOST = 4;
/** Records made at the first send; the ring doubles from there (a short connection sends few segments). */
const INITIAL_RECORDS = 8;
/** The empty ring of a Rack that has sent nothing yet (shared, never written: length 0). */
const NO_F64 = new Float64Array(0);
const NO_U32 = new Uint32Array(0);
const NO_U8 = new Uint8Array(0);
/** RFC 8985 6.2: reordering window persistence, in recoveries, after a D-SACK widened it. */
const REO_WND_PERSIST = 16;

/**
 * Transmit times of the segments in flight, and the RACK state built from them. Records live in
 * a ring of typed arrays aligned with the send buffer (one per segment sent, oldest first): no
 * allocation per segment, the ring doubles when a window holds more segments than it has room
 * for. Retransmissions update the records they overlap.
 */
export class Rack {
  private times!: Float64Array;
  /**
   * Transmission order (a counter): "sent after" must not depend on the clock's resolution (two
   * segments sent in the same millisecond, or in the same instant of virtual time).
   */
  private orders!: Float64Array;
  private starts!: Uint32Array;
  private ends!: Uint32Array;
  private flags!: Uint8Array;
  private sends = 0;
  private head = 0;
  private count = 0;

  constructor() {
    // No records until the first segment is sent (see grow): a connection that never sends
    // data costs no record storage, and a short one only the first few records.
    this.times = NO_F64;
    this.orders = NO_F64;
    this.starts = NO_U32;
    this.ends = NO_U32;
    this.flags = NO_U8;
  }

  /** RACK.xmit_ts / RACK.end_seq: the most recently sent segment known delivered (and its order). */
  xmitTs = -Infinity;
  xmitOrder = -1;
  endSeq = 0;
  /** RACK.rtt: the RTT of that segment. */
  rtt = 0;
  /** RACK.min_RTT (from RACK's own samples). */
  minRtt = Infinity;
  /** RACK.fack: the highest end of any delivered segment. */
  fack = 0;
  reorderingSeen = false;
  reoWndMult = 1;
  reoWndPersist = 0;
  /** RACK.dsack_round: a D-SACK widens the window at most once per round trip (SND.NXT then). */
  private dsackRound: number | undefined;
  /** After `detectLoss`: unSACKed data below this edge is lost (SND.UNA when none is). */
  lostEdge = 0;
  /** After `detectLoss`: the lowest retransmission found lost again, or undefined. */
  lostRetransmission: number | undefined;

  /** Segments tracked (tests). */
  get records(): number {
    return this.count;
  }

  /** Forgets every record; `una` is the current SND.UNA (the edges start there). */
  clear(una: number): void {
    this.count = 0;
    this.head = 0;
    this.lostEdge = una;
    this.fack = una;
    this.endSeq = una;
  }

  /** Start of the last segment sent for the first time, or undefined when none is in flight. */
  lastStart(): number | undefined {
    return this.count === 0 ? undefined : this.starts[(this.head + this.count - 1) & (this.starts.length - 1)];
  }

  /** A segment [start, end) went out at `now` (new data, or a retransmission). */
  onSend(start: number, end: number, now: number, sndMaxBefore: number): void {
    if (seqLt(start, sndMaxBefore)) {
      // A retransmission: restamp what it covers (RACK looks at the latest transmission).
      const mask = this.starts.length - 1;
      for (let k = 0; k < this.count; k++) {
        const i = (this.head + k) & mask;
        if (!seqLt(this.starts[i], end)) break;
        if (seqGt(this.ends[i], start)) {
          this.times[i] = now;
          this.orders[i] = this.sends++;
          this.flags[i] = (this.flags[i] | F_RETRANSMITTED) & ~F_LOST;
        }
      }
      if (!seqGt(end, sndMaxBefore)) return;
      start = sndMaxBefore;
    }
    if (this.count === this.starts.length) this.grow();
    const i = (this.head + this.count) & (this.starts.length - 1);
    this.starts[i] = start;
    this.ends[i] = end;
    this.times[i] = now;
    this.orders[i] = this.sends++;
    this.flags[i] = 0;
    this.count++;
  }

  /**
   * One ACK (RFC 8985 6.2 steps 1-4): records up to `una` and those the scoreboard now covers
   * are delivered; the newest delivered transmission becomes RACK.xmit_ts, reordering is noted.
   * `scanSacked` is false when the ACK SACKed nothing new (the SACK scan is skipped).
   */
  onAck(una: number, sb: SackScoreboard | undefined, scanSacked: boolean, dsack: boolean, sndNxt: number, now: number): void {
    const mask = this.starts.length - 1;
    while (this.count > 0 && seqLeq(this.ends[this.head], una)) {
      if ((this.flags[this.head] & F_DELIVERED) === 0) this.delivered(this.head, now);
      this.head = (this.head + 1) & mask;
      this.count--;
    }
    if (scanSacked && sb !== undefined && !sb.empty) {
      for (let k = 0; k < this.count; k++) {
        const i = (this.head + k) & mask;
        if ((this.flags[i] & F_DELIVERED) !== 0) continue;
        if (sb.isSacked(this.starts[i]) && sb.isSacked((this.ends[i] - 1) >>> 0)) {
          this.flags[i] |= F_DELIVERED;
          this.delivered(i, now);
        }
      }
    }
    // Edges stay within the window (they are compared modulo 2^32).
    if (seqLt(this.lostEdge, una)) this.lostEdge = una;
    if (seqLt(this.fack, una)) this.fack = una;
    if (dsack && (this.dsackRound === undefined || !seqLt(una, this.dsackRound))) {
      // RFC 8985 6.2 step 4: a D-SACK means the window was too small for this path.
      this.dsackRound = sndNxt;
      this.reoWndMult++;
      this.reoWndPersist = REO_WND_PERSIST;
    }
  }

  /** A loss recovery ended: a widened window decays back after REO_WND_PERSIST of them. */
  onRecoveryEnd(): void {
    if (this.reoWndPersist > 0 && --this.reoWndPersist === 0) this.reoWndMult = 1;
  }

  /**
   * RACK.reo_wnd (RFC 8985 6.2 step 4): 0 without reordering seen once in recovery or once
   * DupThresh segments are SACKed, else min_RTT / 4 times the multiplier, at most SRTT.
   */
  reoWnd(inRecovery: boolean, sackedBytes: number, mss: number, srtt: number): number {
    if (!this.reorderingSeen && (inRecovery || sackedBytes >= 3 * mss)) return 0;
    if (this.minRtt === Infinity) return 0;
    return Math.min((this.minRtt / 4) * this.reoWndMult, srtt);
  }

  /**
   * RFC 8985 6.2 step 5: marks lost every undelivered segment sent before RACK.xmit_ts more than
   * RACK.rtt + reoWnd ago; sets `lostEdge` / `lostRetransmission`. Returns the time until the
   * next segment would be lost (arm the RACK timer), or 0.
   */
  detectLoss(now: number, reoWnd: number, una: number): number {
    const mask = this.starts.length - 1;
    let timeout = 0;
    this.lostEdge = una;
    this.lostRetransmission = undefined;
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) & mask;
      const f = this.flags[i];
      if ((f & F_DELIVERED) !== 0) continue;
      const t = this.times[i];
      if ((f & F_LOST) === 0) {
        if (!(this.xmitOrder > this.orders[i])) continue; // not sent before RACK's segment
        const remaining = t + this.rtt + reoWnd - now;
        if (remaining > 0) {
          if (remaining > timeout) timeout = remaining;
          continue;
        }
        this.flags[i] = f | F_LOST;
      }
      if ((f & F_RETRANSMITTED) !== 0 && this.lostRetransmission === undefined) this.lostRetransmission = this.starts[i];
      if (seqGt(this.ends[i], this.lostEdge)) this.lostEdge = this.ends[i];
    }
    return Math.ceil(timeout);
  }

  private delivered(i: number, now: number): void {
    const t = this.times[i];
    const rtt = now - t;
    // RFC 8985 6.2 step 2: an ACK sooner than min_RTT after a retransmission was for the original.
    if ((this.flags[i] & F_RETRANSMITTED) !== 0 && rtt < this.minRtt) return;
    if (rtt < this.minRtt) this.minRtt = rtt;
    const end = this.ends[i];
    if (this.orders[i] > this.xmitOrder) {
      this.xmitTs = t;
      this.xmitOrder = this.orders[i];
      this.endSeq = end;
      this.rtt = rtt;
    }
    // Step 3: a segment delivered below one delivered earlier was reordered.
    if (seqLt(end, this.fack)) this.reorderingSeen = true;
    else this.fack = end;
  }

  private grow(): void {
    const n = this.starts.length === 0 ? INITIAL_RECORDS : this.starts.length * 2;
    const mask = this.starts.length - 1;
    const { starts, ends, times, orders, flags } = records(n);
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) & mask;
      starts[k] = this.starts[i];
      ends[k] = this.ends[i];
      times[k] = this.times[i];
      orders[k] = this.orders[i];
      flags[k] = this.flags[i];
    }
    this.starts = starts;
    this.ends = ends;
    this.times = times;
    this.orders = orders;
    this.flags = flags;
    this.head = 0;
  }
}

/**
 * The five record arrays of `n` entries as views of ONE allocation, from the packet slab while
 * small (allocBytes): a connection makes them when SACK is negotiated, i.e. on nearly every
 * connection, and five typed arrays with their own backing stores cost more to make and to
 * collect than the rest of a short connection. Layout: 8-byte fields first, so every view is
 * aligned (allocBytes returns 8-byte aligned memory).
 */
function records(n: number): { times: Float64Array; orders: Float64Array; starts: Uint32Array; ends: Uint32Array; flags: Uint8Array } {
  const bytes = allocBytes(n * (8 + 8 + 4 + 4 + 1));
  const buf = bytes.buffer;
  const at = bytes.byteOffset;
  return {
    times: new Float64Array(buf, at, n),
    orders: new Float64Array(buf, at + 8 * n, n),
    starts: new Uint32Array(buf, at + 16 * n, n),
    ends: new Uint32Array(buf, at + 20 * n, n),
    flags: new Uint8Array(buf, at + 24 * n, n),
  };
}
