/**
 * TLP loss detection (RFC 8985 7.4), pure: did a tail loss probe that resent data repair a real
 * loss?
 *
 * A probe that resends the last segment hides the loss it repairs: the receiver gets the segment
 * from the probe and acknowledges it, and no SACK hole, duplicate ACK or RACK marking ever tells
 * the sender that data was lost, so congestion control would not react. The episode the probe
 * starts ends with the first ACK that settles it:
 * - a D-SACK for the probe's range (at any time), or a pure duplicate ACK of TLP.end_seq (a peer
 *   without D-SACK): the original and the probe both arrived; nothing was lost, no response;
 * - an ACK beyond TLP.end_seq (SND.NXT when the probe went out) without that: the probe
 *   repaired a loss; the caller reduces the window as fast recovery would have.
 * An ACK of exactly TLP.end_seq that advances is the probe's or the original's: it waits for the
 * next. A probe of new data needs none of this: its SACK shows holes to RACK.
 */

import { seqGeq, seqGt, seqLeq, seqLt } from './seq.js';

/** `TlpEpisode.onAck` results. */
export const TLP_PENDING = 0;
/** The probe was needless (D-SACK or duplicate ACK): no congestion response. */
export const TLP_SPURIOUS = 1;
/** The probe repaired a loss: the caller applies the congestion response. */
export const TLP_REPAIRED = 2;
export type TlpOutcome = typeof TLP_PENDING | typeof TLP_SPURIOUS | typeof TLP_REPAIRED;

export class TlpEpisode {
  /** An episode is open (TLP.end_seq is set). */
  active = false;
  /** TLP.end_seq: SND.NXT when the probe went out. */
  endSeq = 0;
  /** The resent range is [probeStart, endSeq): a D-SACK within it reports the probe duplicate. */
  probeStart = 0;
  /** FlightSize when the probe went out: the loss it repaired was found then (RFC 5681 (4)'s FlightSize). */
  flight = 0;
  /** A D-SACK reported the probe duplicate (it may come before the ACK that settles the episode). */
  private dsacked = false;

  /**
   * A probe resent [start, end) (end = SND.NXT) with `flight` bytes outstanding. While an episode
   * is open a later probe does not start another: which of the two repaired what could not be
   * told apart.
   */
  onProbe(start: number, end: number, flight: number): void {
    if (this.active) return;
    this.active = true;
    this.flight = flight;
    this.probeStart = start;
    this.endSeq = end;
    this.dsacked = false;
  }

  /** The episode ends without a verdict (fast recovery or a timeout made the response). */
  end(): void {
    this.active = false;
  }

  /**
   * One acceptable ACK (RFC 8985 7.4.2). `dsack`: its first SACK block was a D-SACK for
   * [dsackStart, dsackEnd); `duplicate`: it carried no data and neither advanced SND.UNA nor
   * SACKed anything new.
   */
  onAck(ack: number, dsack: boolean, dsackStart: number, dsackEnd: number, duplicate: boolean): TlpOutcome {
    if (!this.active) return TLP_PENDING;
    if (dsack && seqGeq(dsackStart, this.probeStart) && seqLeq(dsackEnd, this.endSeq) && seqGt(dsackEnd, dsackStart)) this.dsacked = true;
    if (seqLt(ack, this.endSeq)) return TLP_PENDING;
    if (this.dsacked || (duplicate && ack === this.endSeq)) {
      this.active = false;
      return TLP_SPURIOUS;
    }
    if (seqGt(ack, this.endSeq)) {
      this.active = false;
      return TLP_REPAIRED;
    }
    return TLP_PENDING;
  }
}
