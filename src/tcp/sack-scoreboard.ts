/**
 * The sender's SACK scoreboard (RFC 6675): which bytes of SND.UNA..SND.MAX the peer holds out of
 * order, and from it which holes count as lost, the data in the network ("pipe") and the next
 * segment loss recovery should send ("NextSeg").
 *
 * SACKed ranges are kept as a sorted list of disjoint [start, end) sequence pairs in one
 * preallocated array (no allocation per ACK). Memory is bounded: past `maxRanges` the highest
 * range is forgotten, which is safe (that data may be resent, never skipped).
 *
 * Loss (IsLost, RFC 6675 4): an unSACKed byte is lost when at least `dupThresh` discontiguous
 * SACKed ranges, or more than (dupThresh - 1) * SMSS SACKed bytes, lie above it. Both counts only
 * grow towards SND.UNA, so the lost bytes are exactly the holes below one edge (`lostEdge`).
 * After a retransmission timeout every hole in the data sent before it is lost (`markAllLost`).
 */

import { seqAdd, seqDiff, seqGt, seqLt, seqMax, seqMin } from './seq.js';

/** RFC 6675 DupThresh. */
export const DUP_THRESH = 3;
/** Default bound on SACKed ranges remembered. */
export const DEFAULT_MAX_SACK_RANGES = 64;

/** What `nextSeg` chose (RFC 6675 4 NextSeg rules). */
export const NextSegKind = {
  /** Nothing may be sent. */
  NONE: 0,
  /** Rule 1: a lost hole, at `segSeq`/`segLen`. */
  LOST: 1,
  /** Rule 2: new data (the caller sends it from SND.NXT). */
  NEW: 2,
  /** Rule 3: a hole not yet deemed lost, at `segSeq`/`segLen`. */
  HOLE: 3,
  /** Rule 4: the rescue retransmission, at `segSeq`/`segLen`. */
  RESCUE: 4,
} as const;
export type NextSegKind = (typeof NextSegKind)[keyof typeof NextSegKind];

/** What one ACK's SACK blocks told the scoreboard. */
export interface SackUpdate {
  /** Bytes SACKed for the first time. */
  newlySacked: number;
  /** The first block was a D-SACK (RFC 2883): a duplicate the peer received. */
  dsack: boolean;
  /** The D-SACK block's edges, when `dsack`. */
  dsackStart: number;
  dsackEnd: number;
}

/**
 * Loss marks kept per segment outside the scoreboard (RACK's, rack.ts): which unSACKed data is
 * lost, segment by segment, each by its own transmit time (RFC 8985 6.2), rather than every
 * hole below one edge.
 */
export interface SegmentLossMarks {
  /** Whether the segment holding `seq` is lost (and not resent since); sets `runEnd`. */
  lostAt(seq: number): boolean;
  /** After `lostAt`: where the run of segments with that answer ends. */
  readonly runEnd: number;
  /** UnSACKed bytes at or above `sndUna` of the lost segments, none of which starts at or above `edge`. */
  lostUnsacked(sb: SackScoreboard, sndUna: number, edge: number): number;
}

/** The edges of a scoreboard that never held a range (shared, never written). */
const NO_EDGES: number[] = [];

export class SackScoreboard {
  readonly maxRanges: number;
  /**
   * [start0, end0, start1, end1, ...], ascending from SND.UNA, disjoint and not adjacent.
   * Empty until the first SACKed range (most connections never see one); then maxRanges * 2.
   */
  private edges: number[] = NO_EDGES;
  private count = 0;
  /**
   * Every hole below `allLostEnd` (SND.MAX at the timeout) counts as lost: set after an RTO,
   * cleared when its episode ends. Data sent after the timeout is not lost by it: counted lost,
   * it would leave the pipe at once (new data sent without limit) and NextSeg would resend it
   * as a lost hole right after sending it.
   */
  allLost = false;
  allLostEnd = 0;
  /**
   * Loss is decided outside (RACK, RFC 8985): unSACKed data below `externalEdge` is lost, and
   * RFC 6675's DupThresh rule is not used.
   */
  externalLoss = false;
  externalEdge = 0;
  /**
   * With `externalLoss`, the per-segment marks (RACK's): outside a timeout's episode they decide
   * what NextSeg resends and what pipe leaves out; `externalEdge` (the end of the highest lost
   * segment) only bounds the search. Without them every unSACKed byte below the edge counted
   * lost, and a retransmission still in flight below a later lost segment was resent again.
   */
  marks: SegmentLossMarks | undefined = undefined;

  /** RFC 6675 HighRxt, kept exclusive: the end of the highest byte retransmitted in this episode. */
  rxtNext = 0;
  /** RFC 6675 RescueRxt, exclusive; `rescueDone` false means undefined. */
  rescueRxt = 0;
  rescueDone = false;

  /** Result of `nextSeg` for the kinds that name a retransmission. */
  segSeq = 0;
  segLen = 0;

  /** Result of the last `update` (reused, not allocated per ACK). */
  readonly lastUpdate: SackUpdate = { newlySacked: 0, dsack: false, dsackStart: 0, dsackEnd: 0 };

  constructor(maxRanges = DEFAULT_MAX_SACK_RANGES) {
    this.maxRanges = maxRanges;
  }

  /** Number of SACKed ranges held. */
  get ranges(): number {
    return this.count;
  }

  /** True when nothing is SACKed. */
  get empty(): boolean {
    return this.count === 0;
  }

  /** Start and end of range `i` (tests, debugging). */
  range(i: number): [number, number] {
    return [this.edges[2 * i], this.edges[2 * i + 1]];
  }

  /** Highest SACKed byte, exclusive (RFC 6675's "highest octet covered by any SACK" + 1); `sndUna` when none. */
  highSacked(sndUna: number): number {
    return this.count === 0 ? sndUna : this.edges[2 * this.count - 1];
  }

  /** Forgets everything (connection start, or the peer reneged). */
  clear(): void {
    this.count = 0;
    this.allLost = false;
    this.rescueDone = false;
  }

  /**
   * Takes the SACK blocks of one ACK whose cumulative ACK is `sndUna` (already advanced).
   * Blocks outside (SND.UNA, SND.MAX] are ignored, except that the first block is checked for a
   * D-SACK (RFC 2883 4: below the cumulative ACK, or inside the second block).
   */
  update(blocks: ReadonlyArray<readonly [number, number]>, sndUna: number, sndMax: number): SackUpdate {
    const u = this.lastUpdate;
    u.newlySacked = 0;
    u.dsack = false;
    for (let i = 0; i < blocks.length; i++) {
      const s = blocks[i][0];
      const e = blocks[i][1];
      if (!seqLt(s, e)) continue;
      if (i === 0) {
        const inSecond = blocks.length > 1 && !seqLt(s, blocks[1][0]) && !seqGt(e, blocks[1][1]);
        if (!seqGt(e, sndUna) || inSecond) {
          u.dsack = true;
          u.dsackStart = s;
          u.dsackEnd = e;
          continue;
        }
      }
      if (seqGt(e, sndMax)) continue; // SACKs data we never sent: bogus
      const start = seqMax(s, sndUna);
      if (!seqLt(start, e)) continue;
      u.newlySacked += this.add(start, e);
    }
    return u;
  }

  /** Drops what the cumulative ACK now covers. */
  advance(sndUna: number): void {
    let drop = 0;
    while (drop < this.count && !seqGt(this.edges[2 * drop + 1], sndUna)) drop++;
    if (drop > 0) {
      this.edges.copyWithin(0, 2 * drop, 2 * this.count);
      this.count -= drop;
    }
    if (this.count > 0 && seqLt(this.edges[0], sndUna)) this.edges[0] = sndUna;
    if (seqLt(this.externalEdge, sndUna)) this.externalEdge = sndUna;
  }

  /** Every hole below `sndMax` (now) is lost from now on (RFC 6675 5.1, after an RTO). */
  markAllLost(sndMax: number): void {
    this.allLost = true;
    this.allLostEnd = sndMax;
  }

  /** True if byte `seq` is SACKed. */
  isSacked(seq: number): boolean {
    for (let i = 0; i < this.count; i++) {
      if (seqLt(seq, this.edges[2 * i])) return false;
      if (seqLt(seq, this.edges[2 * i + 1])) return true;
    }
    return false;
  }

  /**
   * Unsacked bytes below this edge are lost (RFC 6675 IsLost). `sndUna` when none is;
   * at least the SND.MAX of the timeout after `markAllLost`.
   */
  lostEdge(sndUna: number, sndMax: number, mss: number): number {
    if (this.allLost) {
      const edge = this.externalLoss && seqGt(this.externalEdge, this.allLostEnd) ? this.externalEdge : this.allLostEnd;
      return seqMin(seqMax(edge, sndUna), sndMax);
    }
    if (this.externalLoss) return seqGt(this.externalEdge, sndUna) ? seqMin(this.externalEdge, sndMax) : sndUna;
    const limit = (DUP_THRESH - 1) * mss;
    let bytes = 0;
    for (let i = this.count - 1; i >= 0; i--) {
      bytes += seqDiff(this.edges[2 * i + 1], this.edges[2 * i]);
      if (this.count - i >= DUP_THRESH || bytes > limit) return this.edges[2 * i];
    }
    return sndUna;
  }

  /** RFC 6675 IsLost(seq). */
  isLost(seq: number, sndUna: number, sndMax: number, mss: number): boolean {
    return !this.isSacked(seq) && seqLt(seq, this.lostEdge(sndUna, sndMax, mss));
  }

  /** Unsacked bytes in [from, to). */
  unsackedIn(from: number, to: number): number {
    if (!seqLt(from, to)) return 0;
    let n = seqDiff(to, from);
    for (let i = 0; i < this.count; i++) {
      const s = seqMax(this.edges[2 * i], from);
      const e = seqMin(this.edges[2 * i + 1], to);
      if (seqLt(s, e)) n -= seqDiff(e, s);
    }
    return n;
  }

  /**
   * RFC 6675 SetPipe, in bytes: unsacked bytes not deemed lost, plus unsacked bytes
   * retransmitted in this episode (below `rxtNext`). With external (RACK) loss detection a
   * retransmitted hole counts once, for its retransmission: RACK forgets that the original was
   * lost once it is resent (its record follows the latest transmission), and counting the
   * original as in flight too would make pipe one segment per hole too high, which in a small
   * window leaves PRR no room for the new segment whose SACK would reveal a lost retransmission
   * (as Linux's packets_in_flight: a lost segment stays lost while its retransmission is out).
   */
  pipe(sndUna: number, sndMax: number, mss: number): number {
    if (this.externalLoss && this.marks !== undefined && !this.allLost) {
      // Linux's packets_in_flight: unSACKed segments not marked lost (a resent one counts once).
      return this.unsackedIn(sndUna, sndMax) - this.marks.lostUnsacked(this, sndUna, this.externalEdge);
    }
    let edge = seqMax(this.lostEdge(sndUna, sndMax, mss), sndUna);
    if (this.externalLoss && seqGt(this.rxtNext, edge)) edge = seqMin(this.rxtNext, sndMax);
    let p = this.unsackedIn(edge, sndMax);
    if (seqGt(this.rxtNext, sndUna)) p += this.unsackedIn(sndUna, seqMin(this.rxtNext, sndMax));
    return p;
  }

  /** Starts a loss-recovery episode (or the retransmissions after an RTO) at `sndUna`. */
  startEpisode(sndUna: number): void {
    this.rxtNext = sndUna;
    this.rescueDone = false;
  }

  /**
   * RFC 6675 NextSeg. `newData` says whether new data may be sent (rule 2: data queued and the
   * peer's window has room). Sets `segSeq`/`segLen` for LOST, HOLE and RESCUE. Call
   * `onRetransmit` when the segment is actually sent.
   */
  nextSeg(sndUna: number, sndMax: number, mss: number, newData: boolean, recoveryPoint: number): NextSegKind {
    if (this.externalLoss && this.marks !== undefined && !this.allLost) {
      // Per-segment marks (RACK): the first unSACKed segment marked lost, then new data; nothing
      // else (a hole not marked is in flight). Below the highest SACK; above it only while nothing
      // above SND.UNA is SACKed (the partial-ACK case, decided by time). Linux resends marked
      // segments above the highest SACK too; here that measured more timeouts with reordering
      // (lossy bench, 10 % loss, 1 % reordering, RTT 1/10/50 ms, seeds 1-6: 251 RTOs, 228 this way).
      const edge = seqMin(this.externalEdge, sndMax);
      const below = seqMin(edge, this.highSacked(sndUna));
      if (this.firstMarkedHole(this.marks, sndUna, seqGt(below, sndUna) ? below : edge, mss)) return NextSegKind.LOST;
      return newData ? NextSegKind.NEW : NextSegKind.NONE;
    }
    const from = seqMax(this.rxtNext, sndUna);
    const high = this.highSacked(sndUna);
    const lost = this.lostEdge(sndUna, sndMax, mss);
    // Rule 1: the first unSACKed byte at or above HighRxt, below the highest SACK, and lost.
    // (After an RTO every hole sent before it is lost, SACKed or not above it.) With RACK, the
    // segment at SND.UNA also when RACK marked it lost above the highest SACK (an acknowledged
    // retransmission was sent after it): the partial-ACK rule, decided by time. Further up,
    // RACK's single lost edge would take segments in flight for lost (measured: many D-SACKs).
    let lostLimit = this.allLost ? lost : seqMin(high, lost);
    if (this.externalLoss && from === sndUna && !seqGt(lostLimit, from)) lostLimit = lost;
    if (this.firstHole(from, lostLimit, mss)) return NextSegKind.LOST;
    if (newData) return NextSegKind.NEW;
    // With RACK (as Linux) only data found lost is resent: a hole not yet lost is within the
    // reordering window, and a quiet tail gets the recovery probe.
    if (this.externalLoss) return NextSegKind.NONE;
    // Rule 3: the first unSACKed byte at or above HighRxt below the highest SACK.
    if (this.firstHole(from, high, mss)) return NextSegKind.HOLE;
    // Rule 4: one rescue retransmission per episode, of the highest unSACKed data sent before
    // the episode began (data sent during it is not yet overdue).
    const top = seqMin(sndMax, recoveryPoint);
    if (!this.rescueDone && seqGt(top, sndUna) && seqGt(top, high) && seqGt(top, this.rxtNext)) {
      const len = Math.min(mss, seqDiff(top, seqMax(seqMax(high, sndUna), this.rxtNext)));
      this.segSeq = seqAdd(top, -len);
      this.segLen = len;
      this.rescueRxt = recoveryPoint;
      return NextSegKind.RESCUE;
    }
    return NextSegKind.NONE;
  }

  /** A segment chosen by `nextSeg` went out. */
  onRetransmit(kind: NextSegKind, seq: number, len: number): void {
    if (kind === NextSegKind.RESCUE) {
      this.rescueDone = true; // HighRxt is not moved by the rescue (RFC 6675 4 rule 4)
      return;
    }
    const end = seqAdd(seq, len);
    if (seqGt(end, this.rxtNext)) this.rxtNext = end;
  }

  /** Finds the first unSACKed byte in [from, to) of a segment `marks` says is lost; sets segSeq/segLen (at most `mss`, within the hole and the lost run). */
  private firstMarkedHole(marks: SegmentLossMarks, from: number, to: number, mss: number): boolean {
    let s = from;
    let i = 0;
    while (seqLt(s, to)) {
      while (i < this.count && !seqGt(this.edges[2 * i + 1], s)) i++;
      if (i < this.count && !seqLt(s, this.edges[2 * i])) {
        s = this.edges[2 * i + 1]; // inside a SACKed range: skip it
        continue;
      }
      const holeEnd = i < this.count ? seqMin(this.edges[2 * i], to) : to;
      while (seqLt(s, holeEnd)) {
        const lost = marks.lostAt(s);
        const runEnd = seqMin(marks.runEnd, holeEnd);
        if (lost) {
          this.segSeq = s;
          this.segLen = Math.min(mss, seqDiff(runEnd, s));
          return true;
        }
        s = seqGt(runEnd, s) ? runEnd : holeEnd;
      }
    }
    return false;
  }

  /** Finds the first unsacked byte in [from, to) and sets segSeq/segLen (at most `mss`, not into SACKed data). */
  private firstHole(from: number, to: number, mss: number): boolean {
    let s = from;
    for (let i = 0; i < this.count && seqLt(s, to); i++) {
      const rs = this.edges[2 * i];
      const re = this.edges[2 * i + 1];
      if (!seqGt(re, s)) continue;
      if (seqLt(s, rs)) {
        this.segSeq = s;
        this.segLen = Math.min(mss, seqDiff(seqMin(rs, to), s));
        return true;
      }
      s = re; // s is inside range i: skip it
    }
    if (!seqLt(s, to)) return false;
    this.segSeq = s;
    this.segLen = Math.min(mss, seqDiff(to, s));
    return true;
  }

  /** Merges [s, e) into the list; returns the bytes newly covered. */
  private add(s: number, e: number): number {
    if (this.edges === NO_EDGES) this.edges = new Array<number>(this.maxRanges * 2).fill(0);
    const edges = this.edges;
    // First range whose end reaches s (ranges before it end below s, not touching).
    let i = 0;
    while (i < this.count && seqLt(edges[2 * i + 1], s)) i++;
    // Ranges i..j-1 overlap or touch [s, e).
    let j = i;
    let covered = 0;
    let ns = s;
    let ne = e;
    while (j < this.count && !seqGt(edges[2 * j], e)) {
      const rs = edges[2 * j];
      const re = edges[2 * j + 1];
      const os = seqMax(rs, s);
      const oe = seqMin(re, e);
      if (seqLt(os, oe)) covered += seqDiff(oe, os);
      ns = seqMin(ns, rs);
      ne = seqMax(ne, re);
      j++;
    }
    const added = seqDiff(e, s) - covered;
    const merged = j - i;
    if (merged === 0) {
      if (this.count === this.maxRanges) {
        // Full: forget the highest range (or this one, if it would be the highest).
        if (i === this.count) return 0;
        this.count--;
      }
      edges.copyWithin(2 * i + 2, 2 * i, 2 * this.count);
      this.count++;
    } else if (merged > 1) {
      edges.copyWithin(2 * i + 2, 2 * j, 2 * this.count);
      this.count -= merged - 1;
    }
    edges[2 * i] = ns;
    edges[2 * i + 1] = ne;
    return added;
  }
}
