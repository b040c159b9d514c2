/**
 * The receiver half of SACK: which blocks our ACKs carry (RFC 2018 4, RFC 2883).
 *
 * - While data is held out of order, every ACK carries SACK blocks. The first is the run of
 *   held bytes containing the most recently received segment; the others follow in order of
 *   recency of the segments that created them, each run reported once (RFC 2018 4).
 * - A duplicate segment (all or part below RCV.NXT, or entirely held already) is reported once,
 *   on the next ACK, as a D-SACK block in first place (RFC 2883 4), followed by the usual blocks.
 *
 * Recency is remembered as the sequence numbers of the last few out-of-order arrivals; the runs
 * are looked up in the receive buffer when an ACK is built, so merging and gap filling never
 * need bookkeeping here. Nothing is allocated for an ACK while nothing is held out of order and
 * no duplicate is pending.
 */

import type { ReceiveBuffer } from './receive-buffer.js';
import { seqAdd, seqDiff } from './seq.js';

/** SACK blocks that fit beside the timestamps option (RFC 2018 3: 40 - 12 option bytes). */
export const MAX_SACK_BLOCKS_WITH_TIMESTAMPS = 3;
/** SACK blocks that fit without the timestamps option. */
export const MAX_SACK_BLOCKS = 4;

export type SackBlock = readonly [number, number];

/** `recent` of a reporter that has seen no out-of-order arrival (shared, never written). */
const NO_ARRIVALS: number[] = [];
/**
 * Where the receive buffer puts the run it finds: one for every reporter (it is read at once,
 * never kept), not an object per connection.
 */
const run = { start: 0, end: 0 };

export class SackReporter {
  /** Sequence numbers of recent out-of-order arrivals, most recent first (own array from the first). */
  private recent: number[] = NO_ARRIVALS;
  private dsackPending = false;
  private dsackLeft = 0;
  private dsackRight = 0;

  /** Whether the next ACK has something to report besides the held runs. */
  get hasDsack(): boolean {
    return this.dsackPending;
  }

  /**
   * A segment starting at `seq` was stored out of order (`buf` already holds it). Earlier
   * arrivals in the same run are forgotten: the new one now stands for that run.
   */
  onOutOfOrder(seq: number, rcvNxt: number, buf: ReceiveBuffer): void {
    if (this.recent === NO_ARRIVALS) this.recent = [];
    const r = this.recent;
    const base = buf.inOrderEnd;
    let kept = 0;
    if (buf.outOfOrderRunAt(base + seqDiff(seq, rcvNxt), run)) {
      for (let i = 0; i < r.length; i++) {
        const pos = base + seqDiff(r[i], rcvNxt);
        if (pos < run.start || pos >= run.end) r[kept++] = r[i];
      }
      r.length = kept;
    }
    r.unshift(seq);
    if (r.length > MAX_SACK_BLOCKS) r.length = MAX_SACK_BLOCKS;
  }

  /** Bytes [left, right) arrived a second time: report them once with a D-SACK block. */
  onDuplicate(left: number, right: number): void {
    this.dsackPending = true;
    this.dsackLeft = left >>> 0;
    this.dsackRight = right >>> 0;
  }

  /** Forgets everything (the receive buffer was cleared). */
  clear(): void {
    if (this.recent.length !== 0) this.recent.length = 0;
    this.dsackPending = false;
  }

  /**
   * The blocks for the ACK being sent now (at most `max`), or undefined when there are none.
   * Consumes the pending D-SACK. `rcvNxt` is the ACK field; `buf` holds the out-of-order runs.
   */
  take(rcvNxt: number, buf: ReceiveBuffer, max: number): SackBlock[] | undefined {
    const r = this.recent;
    if (!this.dsackPending && (r.length === 0 || buf.outOfOrderCount === 0)) {
      // Asked for every ACK sent, mostly with nothing recorded: `length = 0` is a call into
      // V8's runtime even on an empty array, the test is not.
      if (r.length !== 0) r.length = 0;
      return undefined;
    }
    const blocks: SackBlock[] = [];
    if (this.dsackPending) {
      this.dsackPending = false;
      blocks.push([this.dsackLeft, this.dsackRight]);
    }
    const first = blocks.length; // runs start after the D-SACK block
    const base = buf.inOrderEnd;
    let kept = 0;
    for (let i = 0; i < r.length; i++) {
      const offset = seqDiff(r[i], rcvNxt);
      // Delivered in order since (offset <= 0), or no longer held: forget it.
      if (offset <= 0 || !buf.outOfOrderRunAt(base + offset, run)) continue;
      r[kept++] = r[i];
      const left = seqAdd(rcvNxt, run.start - base);
      let seen = false;
      for (let k = first; k < blocks.length; k++) if (blocks[k][0] === left) seen = true;
      if (!seen && blocks.length < max) blocks.push([left, seqAdd(rcvNxt, run.end - base)]);
    }
    if (r.length !== kept) r.length = kept; // (never writes the shared empty array)
    return blocks.length > 0 ? blocks : undefined;
  }
}
