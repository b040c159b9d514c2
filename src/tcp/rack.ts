/**
 * RACK-TLP (RFC 8985), pure: the tail loss probe timeout, and RACK's time-based loss detection
 * over per-segment transmit times.
 *
 * A tail loss probe (TLP) turns the loss of the last segments of a flight, which produce no
 * duplicate ACKs, into a loss fast recovery can repair: when no ACK arrives for about two
 * round trips, one segment (new data if any, else the last segment sent again) goes out, and
 * its ACK (with SACK blocks) shows what is missing, long before the retransmission timeout.
 */

import { seqAdd, seqDiff, seqGeq, seqGt, seqLeq, seqLt, seqMax } from './seq.js';
import { allocBytes } from '../packet-buffer.js';
import { bufferOf, byteOffsetOf } from '../byte-view.js';
import type { SackScoreboard } from './sack-scoreboard.js';
import { SackSendTimes } from './sack-rtt.js';

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

/**
 * The probe timeout in fast recovery: 2 * SRTT (never below MIN_PTO). No delayed-ACK allowance:
 * a receiver holding out-of-order data acknowledges every segment at once.
 */
export function recoveryProbeTimeout(srtt: number): number {
  if (srtt <= 0) return PTO_WITHOUT_SRTT;
  return Math.max(Math.ceil(2 * srtt), MIN_PTO);
}

// -------------------------------------------------------------------------------------------------
// RACK: time-based loss detection (RFC 8985 6)


const F_RETRANSMITTED = 1;
const F_DELIVERED = 2;
const F_LOST = 4;
/** Records made at the first send; the ring doubles from there (a short connection sends few segments). */
const INITIAL_RECORDS = 8;
/** A record's fields, RECORD doubles each (see Rack.rec). */
const RECORD = 5;
const TIME = 0;
const ORDER = 1;
const START = 2;
const END = 3;
const FLAGS = 4;
/** The records of a Rack that has sent nothing yet (shared, never written: length 0). */
const NO_RECORDS = new Float64Array(0);
/**
 * Most bytes one record covers when segments sent together are merged into it (as a TSO burst
 * of 64 KiB is one skb, with one timestamp, in Linux).
 */
const MERGE_MAX = 64 * 1024;
/** RFC 8985 6.2: reordering window persistence, in recoveries, after a D-SACK widened it. */
const REO_WND_PERSIST = 16;

/**
 * Transmit times of the segments in flight, and the RACK state built from them. Records live in
 * a ring in one typed array, aligned with the send buffer (oldest first): no allocation per
 * segment, the ring doubles when a window holds more records than it has room for.
 *
 * New segments sent back to back at the same time (one batch: one task, one clock reading) share
 * one record, up to MERGE_MAX bytes, as Linux's skb of a TSO burst has one timestamp: per
 * segment the sender then only extends the last record, and an ACK delivers records, not
 * segments. Where the answer would differ by segment, the record is cut first, so every
 * decision stays what it is with a record per segment: a cumulative ACK inside a record
 * delivers its front (the RTT sample is taken when the first bytes are acknowledged, not the
 * last), SACK edges and a retransmission's range become record boundaries, and among records of
 * the same transmission the one ending lower was sent first (RFC 8985's tie-break on the end
 * sequence number, `sentAfter`).
 *
 * A record's time is its batch's build time until `stampSent` gives the records sent since the
 * last stamp the time the batch left (the wiring calls it once the link has the frames); a
 * record stamped is never extended, so each batch keeps one time.
 */
export class Rack {
  /**
   * The records, RECORD fields each ([time, order, start, end, flags]) in one Float64Array (one
   * object per connection rather than one per field: a typed array costs about 0.1 us to make).
   * Times are ms; the order is a transmission counter: "sent after" must not depend on the
   * clock's resolution (two segments sent in the same millisecond, or in the same instant of
   * virtual time); start and end are sequence numbers (exact in a double).
   */
  private rec: Float64Array;
  /** Records `rec` has room for: 0 until the first send (see grow), then a power of two. */
  private capacity = 0;
  private sends = 0;
  private head = 0;
  private count = 0;

  constructor() {
    // No records until the first segment is sent (see grow): a connection that never sends
    // data costs no record storage, and a short one only the first few records.
    this.rec = NO_RECORDS;
  }

  /** RACK.xmit_ts / RACK.end_seq: the most recently sent segment known delivered (and its order). */
  xmitTs = -Infinity;
  xmitOrder = -1;
  endSeq = 0;
  /** RACK.rtt: the RTT of that segment. */
  rtt = 0;
  /** RACK.min_RTT (from RACK's own samples). */
  minRtt = Infinity;
  /**
   * After `onAck`: the send times of the segments that ACK newly SACKed and that were never
   * retransmitted (the RTT sample at SACK time, sack-rtt.ts).
   */
  readonly sackSent = new SackSendTimes();
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
  /** After `lostAt`: the end of the run of segments from the one asked about that share its mark. */
  runEnd = 0;
  /** Start of the last segment sent for the first time (its record may hold the ones before it). */
  private lastSegStart = 0;
  /**
   * Records of transmissions numbered from here on (ORDER >= stampOrder) carry their batch's
   * build time until `stampSent` gives them the time the batch left; `stampLow` is the lowest
   * sequence number any of them covers (NaN when there is none).
   */
  private stampOrder = 0;
  private stampLow = Number.NaN;

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
    if (this.count === 0) return undefined;
    const i = (this.head + this.count - 1) & (this.capacity - 1);
    const last = this.lastSegStart;
    // Within the last record (a merged batch): the last segment of it; else the record's start.
    return seqGeq(last, this.rec[i * RECORD + START]) && seqLt(last, this.rec[i * RECORD + END]) ? last : this.rec[i * RECORD + START];
  }

  /**
   * When the segment holding `una` (the oldest in flight: an ACK advancing SND.UNA from `una`
   * acknowledges it first) was sent, ms on the caller's clock; -1 when that time does not
   * measure the ACK: no record holds `una`, or the segment was retransmitted (Karn: the ACK may
   * answer either copy) or already SACKed (its delivery was seen before this ACK).
   */
  sentAt(una: number): number {
    if (this.count === 0) return -1;
    const i = this.head * RECORD;
    const rec = this.rec;
    if ((rec[i + FLAGS] & (F_RETRANSMITTED | F_DELIVERED)) !== 0 || seqGt(rec[i + START], una) || !seqLt(una, rec[i + END])) return -1;
    return rec[i + TIME];
  }

  /** A segment [start, end) went out at `now` (new data, or a retransmission). */
  onSend(start: number, end: number, now: number, sndMaxBefore: number): void {
    if (seqLt(start, sndMaxBefore)) {
      // A retransmission: restamp what it covers (RACK looks at the latest transmission), and
      // only that: a merged record is cut at its edges first.
      this.splitAt(start);
      this.splitAt(seqLt(end, sndMaxBefore) ? end : sndMaxBefore);
      this.noteUnstamped(start);
      const mask = this.capacity - 1;
      for (let k = 0; k < this.count; k++) {
        const i = (this.head + k) & mask;
        if (!seqLt(this.rec[i * RECORD + START], end)) break;
        if (seqGt(this.rec[i * RECORD + END], start)) {
          this.rec[i * RECORD + TIME] = now;
          this.rec[i * RECORD + ORDER] = this.sends++;
          this.rec[i * RECORD + FLAGS] = (this.rec[i * RECORD + FLAGS] | F_RETRANSMITTED) & ~F_LOST;
        }
      }
      if (!seqGt(end, sndMaxBefore)) return;
      start = sndMaxBefore;
    }
    this.lastSegStart = start >>> 0;
    if (this.count > 0) {
      // Sent right behind the last record, at the same time, with nothing (no retransmission)
      // sent in between, and that record neither resent, marked nor stamped (its batch has not
      // left yet): it grows (one record per batch, see the class comment).
      const t = ((this.head + this.count - 1) & (this.capacity - 1)) * RECORD;
      const rec = this.rec;
      if (
        rec[t + END] === start >>> 0 && rec[t + TIME] === now && rec[t + ORDER] === this.sends - 1 &&
        rec[t + ORDER] >= this.stampOrder && rec[t + FLAGS] === 0 && seqDiff(end, rec[t + START]) <= MERGE_MAX
      ) {
        rec[t + END] = end >>> 0;
        return;
      }
    }
    this.noteUnstamped(start);
    if (this.count === this.capacity) this.grow();
    const i = (this.head + this.count) & (this.capacity - 1);
    this.rec[i * RECORD + START] = start >>> 0; // as stored in 32 bits before
    this.rec[i * RECORD + END] = end >>> 0;
    this.rec[i * RECORD + TIME] = now;
    this.rec[i * RECORD + ORDER] = this.sends++;
    this.rec[i * RECORD + FLAGS] = 0;
    this.count++;
  }

  /**
   * The transmissions recorded since the last call left at `now` (the batch they were built in
   * was handed to the link): their records' times, the build time until now, become `now`, so
   * every RTT sample and loss deadline taken from them starts when the segments left, not when
   * the task that built them began (see TcpConnectionCore.stampSent). Records already delivered
   * keep their time (RACK.xmit_ts and the samples were taken from it); a time never moves back.
   * Cost: a search and a walk over the records from the lowest one touched since the last call.
   */
  stampSent(now: number): void {
    const from = this.stampOrder;
    const low = this.stampLow;
    this.stampOrder = this.sends;
    this.stampLow = Number.NaN;
    if (low !== low || this.count === 0) return; // NaN: nothing sent since the last stamp
    const mask = this.capacity - 1;
    const rec = this.rec;
    let k = this.find(low);
    if (k < 0) k = 0;
    for (; k < this.count; k++) {
      const i = ((this.head + k) & mask) * RECORD;
      if (rec[i + ORDER] >= from && (rec[i + FLAGS] & F_DELIVERED) === 0 && rec[i + TIME] < now) rec[i + TIME] = now;
    }
  }

  /** A transmission from `start` on awaits its stamp (see stampSent). */
  private noteUnstamped(start: number): void {
    const low = this.stampLow;
    if (low !== low || seqLt(start, low)) this.stampLow = start >>> 0;
  }

  /**
   * One ACK (RFC 8985 6.2 steps 1-4): records up to `una` and those the scoreboard now covers
   * are delivered; the newest delivered transmission becomes RACK.xmit_ts, reordering is noted.
   * `scanSacked` is false when the ACK SACKed nothing new (the SACK scan is skipped). The send
   * times of the newly SACKed segments never retransmitted are left in `sackSent`.
   */
  onAck(una: number, sb: SackScoreboard | undefined, scanSacked: boolean, dsack: boolean, sndNxt: number, now: number): void {
    const mask = this.capacity - 1;
    this.sackSent.reset();
    while (this.count > 0 && seqLeq(this.rec[this.head * RECORD + END], una)) {
      if ((this.rec[this.head * RECORD + FLAGS] & F_DELIVERED) === 0) this.delivered(this.head, this.rec[this.head * RECORD + END], now);
      this.head = (this.head + 1) & mask;
      this.count--;
    }
    if (this.count > 0 && seqLt(this.rec[this.head * RECORD + START], una)) {
      // A merged record acknowledged in part: its front is delivered now, as its own segments
      // would have been (RACK.rtt and min_RTT from the first bytes acknowledged, not the last).
      const h = this.head * RECORD;
      if ((this.rec[h + FLAGS] & F_DELIVERED) === 0) this.delivered(this.head, una >>> 0, now);
      this.rec[h + START] = una >>> 0;
    }
    if (scanSacked && sb !== undefined && !sb.empty) {
      // SACK edges inside merged records become record boundaries: SACKed parts are delivered,
      // the rest keeps its own mark.
      for (let r = 0; r < sb.ranges; r++) {
        const [s, e] = sb.range(r);
        this.splitAt(s);
        this.splitAt(e);
      }
      for (let k = 0; k < this.count; k++) {
        const i = (this.head + k) & mask;
        if ((this.rec[i * RECORD + FLAGS] & F_DELIVERED) !== 0) continue;
        if (sb.isSacked(this.rec[i * RECORD + START]) && sb.isSacked((this.rec[i * RECORD + END] - 1) >>> 0)) {
          // Karn: only a segment sent once says which copy the SACK answers.
          if ((this.rec[i * RECORD + FLAGS] & F_RETRANSMITTED) === 0) this.sackSent.note(this.rec[i * RECORD + TIME]);
          this.rec[i * RECORD + FLAGS] |= F_DELIVERED;
          this.delivered(i, this.rec[i * RECORD + END], now);
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
    const mask = this.capacity - 1;
    let timeout = 0;
    this.lostEdge = una;
    this.lostRetransmission = undefined;
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) & mask;
      const f = this.rec[i * RECORD + FLAGS];
      if ((f & F_DELIVERED) !== 0) continue;
      const t = this.rec[i * RECORD + TIME];
      if ((f & F_LOST) === 0) {
        if (!sentAfter(this.xmitOrder, this.endSeq, this.rec[i * RECORD + ORDER], this.rec[i * RECORD + END])) continue; // not sent before RACK's segment
        const remaining = t + this.rtt + reoWnd - now;
        if (remaining > 0) {
          if (remaining > timeout) timeout = remaining;
          continue;
        }
        this.rec[i * RECORD + FLAGS] = f | F_LOST;
      }
      if ((f & F_RETRANSMITTED) !== 0 && this.lostRetransmission === undefined) this.lostRetransmission = this.rec[i * RECORD + START];
      if (seqGt(this.rec[i * RECORD + END], this.lostEdge)) this.lostEdge = this.rec[i * RECORD + END];
    }
    return Math.ceil(timeout);
  }

  /**
   * Whether the segment holding byte `seq` is marked lost and not resent since (a retransmission
   * clears the mark until RACK finds it lost again): the scoreboard's per-segment loss marks
   * (SegmentLossMarks). Sets `runEnd` to the end of the consecutive segments from it with the
   * same answer; for a byte no segment holds, to the start of the next segment (or far above).
   */
  lostAt(seq: number): boolean {
    const mask = this.capacity - 1;
    const k = this.find(seq);
    if (k < 0 || !seqLt(seq, this.rec[((this.head + k) & mask) * RECORD + END])) {
      this.runEnd = k + 1 < this.count ? this.rec[((this.head + k + 1) & mask) * RECORD + START] : seqAdd(seq, 0x40000000);
      return false;
    }
    const lost = this.markedLost((this.head + k) & mask);
    let end = this.rec[((this.head + k) & mask) * RECORD + END];
    for (let j = k + 1; j < this.count; j++) {
      const i = (this.head + j) & mask;
      if (this.markedLost(i) !== lost || this.rec[i * RECORD + START] !== end) break;
      end = this.rec[i * RECORD + END];
    }
    this.runEnd = end;
    return lost;
  }

  /**
   * Whether the segment holding byte `seq` was retransmitted and that copy is neither delivered
   * nor marked lost: a copy still in flight, whose duplicate ACKs (caused by data sent before it)
   * say nothing about it.
   */
  resentInFlight(seq: number): boolean {
    const k = this.find(seq);
    if (k < 0) return false;
    const i = ((this.head + k) & (this.capacity - 1)) * RECORD;
    if (!seqLt(seq, this.rec[i + END])) return false;
    return (this.rec[i + FLAGS] & (F_RETRANSMITTED | F_DELIVERED | F_LOST)) === F_RETRANSMITTED;
  }

  /**
   * UnSACKed bytes at or above `una` of the segments marked lost (not in the network: pipe leaves
   * them out). `edge`: no segment from there on is marked (RACK.lostEdge): the scan stops there.
   */
  lostUnsacked(sb: SackScoreboard, una: number, edge: number): number {
    const mask = this.capacity - 1;
    let n = 0;
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) & mask;
      if (!seqLt(this.rec[i * RECORD + START], edge)) break;
      if (!this.markedLost(i)) continue;
      n += sb.unsackedIn(seqMax(this.rec[i * RECORD + START], una), this.rec[i * RECORD + END]);
    }
    return n;
  }

  /**
   * The index (from the head) of the last record starting at or before `seq`, or -1. Records are
   * in sequence order from the head: a binary search.
   */
  private find(seq: number): number {
    const mask = this.capacity - 1;
    let lo = 0;
    let hi = this.count - 1;
    let k = -1;
    const base = this.count > 0 ? this.rec[this.head * RECORD + START] : 0;
    const at = seqDiff(seq, base);
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (seqDiff(this.rec[((this.head + mid) & mask) * RECORD + START], base) <= at) {
        k = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return k;
  }

  /** Cuts the record holding `seq` in two there (both keep its time, order and flags); else nothing. */
  private splitAt(seq: number): void {
    const k = this.find(seq);
    if (k < 0) return;
    let i = ((this.head + k) & (this.capacity - 1)) * RECORD;
    if (!(seqLt(this.rec[i + START], seq) && seqLt(seq, this.rec[i + END]))) return;
    if (this.count === this.capacity) {
      this.grow();
      i = k * RECORD; // the ring starts at 0 after growing
    }
    const mask = this.capacity - 1;
    const rec = this.rec;
    // The records after k move up one place, the upper part of k goes in the gap.
    for (let j = this.count; j > k + 1; j--) {
      const to = ((this.head + j) & mask) * RECORD;
      const from = ((this.head + j - 1) & mask) * RECORD;
      for (let f = 0; f < RECORD; f++) rec[to + f] = rec[from + f];
    }
    const n = ((this.head + k + 1) & mask) * RECORD;
    for (let f = 0; f < RECORD; f++) rec[n + f] = rec[i + f];
    rec[n + START] = seq >>> 0;
    rec[i + END] = seq >>> 0;
    this.count++;
  }

  private markedLost(i: number): boolean {
    return (this.rec[i * RECORD + FLAGS] & (F_LOST | F_DELIVERED)) === F_LOST;
  }

  /** Record `i` delivered up to `end` (its end, or a cumulative ACK inside it). */
  private delivered(i: number, end: number, now: number): void {
    const t = this.rec[i * RECORD + TIME];
    // Never negative: a stamp is never later than a clock reading taken after it, but an ACK
    // handled before its segment's batch was stamped measures from the build time.
    const rtt = now > t ? now - t : 0;
    // RFC 8985 6.2 step 2: an ACK sooner than min_RTT after a retransmission was for the original.
    if ((this.rec[i * RECORD + FLAGS] & F_RETRANSMITTED) !== 0 && rtt < this.minRtt) return;
    if (rtt < this.minRtt) this.minRtt = rtt;
    if (sentAfter(this.rec[i * RECORD + ORDER], end, this.xmitOrder, this.endSeq)) {
      this.xmitTs = t;
      this.xmitOrder = this.rec[i * RECORD + ORDER];
      this.endSeq = end;
      this.rtt = rtt;
    }
    // Step 3: a segment delivered below one delivered earlier was reordered, unless it was
    // retransmitted (a repaired hole is always delivered below the data SACKed above it).
    if (!seqLt(end, this.fack)) this.fack = end;
    else if ((this.rec[i * RECORD + FLAGS] & F_RETRANSMITTED) === 0) this.reorderingSeen = true;
  }

  private grow(): void {
    const n = this.capacity === 0 ? INITIAL_RECORDS : this.capacity * 2;
    const mask = this.capacity - 1;
    const rec = records(n);
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) & mask;
      rec.set(this.rec.subarray(i * RECORD, i * RECORD + RECORD), k * RECORD);
    }
    this.rec = rec;
    this.capacity = n;
    this.head = 0;
  }
}

/**
 * RFC 8985's RACK_sent_after: transmission (order a, ending at endA) went out after (b, endB).
 * Records of one transmission (a merged batch cut in parts) share its order: the one ending
 * higher was sent later.
 */
function sentAfter(a: number, endA: number, b: number, endB: number): boolean {
  return a > b || (a === b && seqGt(endA, endB));
}

/**
 * Room for `n` records, from the packet slab while small (allocBytes): a connection makes them
 * at its first send, i.e. nearly every connection, and a typed array with a backing store of
 * its own costs more to make and to collect than the rest of a short connection.
 */
function records(n: number): Float64Array {
  const bytes = allocBytes(n * RECORD * 8);
  return new Float64Array(bufferOf(bytes), byteOffsetOf(bytes), n * RECORD);
}
