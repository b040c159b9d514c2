/**
 * F-RTO (RFC 5682 3.1, the SACK-enhanced algorithm, as Linux runs it by default), pure: was a
 * retransmission timeout spurious?
 *
 * A timeout is spurious when nothing was lost: the ACKs were late (a delay spike) or lost (a
 * burst of lost ACKs). Go-back-N then resends a whole flight the receiver holds, every ACK of it
 * a duplicate, and the window collapses for nothing. F-RTO resends only the segment at SND.UNA;
 * when its ACK advances the window, it sends new data instead of more retransmissions; and
 * when an ACK then (S)ACKs data that was sent before the timeout and never retransmitted, that
 * data got through without a retransmission: the timeout was spurious, and the caller undoes
 * its reduction. An ACK that shows only the new data arriving (a SACK above the holes, or a
 * duplicate ACK) means the flight was lost: the caller goes on with the conventional recovery.
 *
 * The test for "spurious" is Linux's (any ACK from the timeout on that (S)ACKs never-retransmitted
 * data sent before it, not only the ACK after the new data; RFC 5682 waits for that one). A
 * segment resent before the timeout (a tail loss probe) counts as never retransmitted here.
 */

import { seqGeq, seqGt, seqMax } from './seq.js';
import type { SackScoreboard } from './sack-scoreboard.js';

/** No detection running. */
export const FRTO_OFF = 0;
/** Step 2: waiting for the first ACK that advances SND.UNA after the timeout. */
export const FRTO_WAIT = 1;
/** Step 3: new data went out in place of retransmissions; the next ACK decides. */
export const FRTO_NEW_SENT = 2;
export type FrtoStep = typeof FRTO_OFF | typeof FRTO_WAIT | typeof FRTO_NEW_SENT;

/** `Frto.onAck` results. */
export const FRTO_CONTINUE = 0;
/** The timeout was spurious: undo its reduction, resend nothing more. */
export const FRTO_SPURIOUS = 1;
/** Step 2b: send new data (not retransmissions) now. */
export const FRTO_SEND_NEW = 2;
/** The loss was real (or F-RTO cannot tell): the conventional recovery goes on. */
export const FRTO_REAL = 3;
export type FrtoOutcome = typeof FRTO_CONTINUE | typeof FRTO_SPURIOUS | typeof FRTO_SEND_NEW | typeof FRTO_REAL;

export class Frto {
  step: FrtoStep = FRTO_OFF;
  /** RFC 5682 RecoveryPoint: SND.MAX at the timeout; the data below it was sent before it. */
  highSeq = 0;
  /** End of the range the timeout resent (from SND.UNA): above it, below highSeq, nothing was. */
  rtxEnd = 0;
  /** Original bytes not yet (S)ACKed, taken before an ACK is processed (`before`). */
  private pendingBefore = 0;

  /** Step 1: the timeout resent [SND.UNA, rtxEnd) of a flight ending at highSeq. */
  start(highSeq: number, rtxEnd: number): void {
    this.step = FRTO_WAIT;
    this.highSeq = highSeq;
    this.rtxEnd = rtxEnd;
    this.pendingBefore = 0;
  }

  end(): void {
    this.step = FRTO_OFF;
  }

  /**
   * Bytes sent before the timeout and never resent (from rtxEnd to highSeq) that the peer has
   * neither ACKed (above `una`) nor SACKed.
   */
  pending(sb: SackScoreboard, una: number): number {
    const from = seqMax(una, this.rtxEnd);
    return seqGt(this.highSeq, from) ? sb.unsackedIn(from, this.highSeq) : 0;
  }

  /** Call before an ACK's SACK blocks and cumulative ACK are taken. */
  before(sb: SackScoreboard, una: number): void {
    this.pendingBefore = this.pending(sb, una);
  }

  /**
   * After the ACK was taken: `una` is SND.UNA now, `advanced` whether it moved, `sacked` whether
   * the ACK SACKed anything new, `duplicate` whether it neither advanced nor carried data,
   * `canSendNew` whether new data could go out (data queued, the peer's window open).
   */
  onAck(sb: SackScoreboard, una: number, advanced: boolean, sacked: boolean, duplicate: boolean, canSendNew: boolean): FrtoOutcome {
    if (this.step === FRTO_OFF) return FRTO_CONTINUE;
    if (this.pending(sb, una) < this.pendingBefore) {
      // Step 3b: data sent before the timeout arrived without being resent.
      this.step = FRTO_OFF;
      return FRTO_SPURIOUS;
    }
    if (this.step === FRTO_NEW_SENT) {
      if (!sacked && !duplicate) return FRTO_CONTINUE;
      // Step 3a: only the new data (or nothing) got through: the flight was lost.
      this.step = FRTO_OFF;
      return FRTO_REAL;
    }
    if (!advanced) return FRTO_CONTINUE; // step 2: duplicates only update the scoreboard
    if (seqGeq(una, this.highSeq) || !canSendNew) {
      // Step 2a (everything before the timeout acknowledged: nothing to tell), or 2b without new
      // data to send: the conventional recovery.
      this.step = FRTO_OFF;
      return FRTO_REAL;
    }
    this.step = FRTO_NEW_SENT; // step 2b
    return FRTO_SEND_NEW;
  }
}
