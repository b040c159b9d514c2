/**
 * Spurious retransmission timeouts on a connection without SACK, pure: basic F-RTO (RFC 5682
 * section 2) and Eifel detection with timestamps (RFC 3522). The SACK path has its own F-RTO
 * (frto.ts) and Eifel check; without SACK there is no scoreboard to ask, only the cumulative ACK,
 * duplicate ACKs and the timestamp echo.
 *
 * A timeout is spurious when nothing was lost: the ACKs were late (a delay spike) or lost. The
 * go-back-N that follows a timeout then resends a whole flight the receiver holds, and the window
 * collapses for nothing.
 *
 * - Eifel (RFC 3522): the timeout's retransmission carries a TSval; when the first ACK that
 *   advances SND.UNA echoes an older one, it answers the original transmission, which was only
 *   late: spurious.
 * - F-RTO (RFC 5682 2): only the segment at SND.UNA is resent. When the first ACK after the
 *   timeout advances SND.UNA (covering that retransmission, below the timeout's SND.MAX), up to
 *   two new segments go out instead of more retransmissions (step 2b). If the next ACK advances
 *   SND.UNA again, data sent before the timeout and never resent got through: spurious (step 3b).
 *   A duplicate ACK at either step, an ACK covering everything sent before the timeout (nothing
 *   to tell), or no new data to send: the conventional go-back-N goes on.
 */

import { seqGeq, seqLt } from './seq.js';

/** Nothing decided yet (or nothing running). */
export const SRTO_CONTINUE = 0;
/** F-RTO step 2b: send up to two new segments, not retransmissions. */
export const SRTO_SEND_NEW = 1;
/** F-RTO step 3b: the timeout was spurious. */
export const SRTO_SPURIOUS_FRTO = 2;
/** Eifel: the first ACK echoed the original transmission; the timeout was spurious. */
export const SRTO_SPURIOUS_EIFEL = 3;
/** The loss was real (or cannot be told): go-back-N goes on; at F-RTO step 3, resume it from SND.UNA. */
export const SRTO_REAL = 4;
export type SpuriousRtoOutcome =
  | typeof SRTO_CONTINUE
  | typeof SRTO_SEND_NEW
  | typeof SRTO_SPURIOUS_FRTO
  | typeof SRTO_SPURIOUS_EIFEL
  | typeof SRTO_REAL;

/** F-RTO off. */
const STEP_OFF = 0;
/** Step 2: waiting for the first ACK after the timeout. */
const STEP_FIRST_ACK = 1;
/** Step 3: new data went out; waiting for the second ACK. */
const STEP_SECOND_ACK = 2;

export class SpuriousRtoDetector {
  private step = STEP_OFF;
  /** RFC 5682 `recover`: SND.MAX at the timeout, exclusive. */
  recover = 0;
  /** RTO recovery runs (go-back-N below `recover`): a timeout in it is not tested again (RFC 5682 2 step 1). */
  private rtoRecovery = false;
  /** End of the timeout's retransmission: the first ACK must cover it (RFC 5682 2 step 2a). */
  private rtxEnd = 0;
  /** RFC 3522 RetransmitTS, or undefined when Eifel does not run. */
  private retransmitTs: number | undefined;

  /** Either test is waiting for an ACK. */
  get active(): boolean {
    return this.step !== STEP_OFF || this.retransmitTs !== undefined;
  }

  /** F-RTO has sent new data and waits for the ACK that decides (step 3). */
  get newDataSent(): boolean {
    return this.step === STEP_SECOND_ACK;
  }

  /**
   * Whether SND.UNA is still below the SND.MAX of an earlier timeout (RTO recovery runs): the
   * caller asks before `onTimeout`.
   */
  inRtoRecovery(sndUna: number): boolean {
    return this.rtoRecovery && seqLt(sndUna, this.recover);
  }

  /**
   * A retransmission timeout resent [sndUna, rtxEnd) of a flight ending at `sndMax`. `frto`:
   * F-RTO may run (configured, a first timeout, outside fast recovery and RTO recovery).
   * `tsVal`: the retransmission's TSval for Eifel (undefined without timestamps, or when the
   * segment was resent before: the echo would be ambiguous).
   */
  onTimeout(frto: boolean, sndMax: number, rtxEnd: number, tsVal: number | undefined): void {
    this.recover = sndMax;
    this.rtoRecovery = true;
    this.rtxEnd = rtxEnd;
    this.step = frto ? STEP_FIRST_ACK : STEP_OFF;
    this.retransmitTs = tsVal;
  }

  /** Both tests stop (the connection's state made them moot). */
  end(): void {
    this.step = STEP_OFF;
    this.retransmitTs = undefined;
  }

  /**
   * One acceptable ACK after the timeout, SND.UNA already advanced to `una`. `advanced`: it
   * moved SND.UNA; `duplicate`: it neither moved SND.UNA nor carried data; `tsEcr`: its echo,
   * when it has a timestamp; `canSendNew`: unsent data and room in the peer's window beyond
   * SND.MAX.
   */
  onAck(una: number, advanced: boolean, duplicate: boolean, tsEcr: number | undefined, canSendNew: boolean): SpuriousRtoOutcome {
    if (advanced && !seqLt(una, this.recover)) this.rtoRecovery = false;
    if (this.retransmitTs !== undefined && advanced) {
      // RFC 3522 step 5: the first acceptable ACK decides, one way or the other.
      const sent = this.retransmitTs;
      this.retransmitTs = undefined;
      if (tsEcr !== undefined && ((tsEcr - sent) | 0) < 0) {
        this.step = STEP_OFF;
        this.rtoRecovery = false;
        return SRTO_SPURIOUS_EIFEL;
      }
    }
    if (this.step === STEP_FIRST_ACK) {
      if (!advanced && !duplicate) return SRTO_CONTINUE; // a window update or data: not an ACK F-RTO counts
      this.step = STEP_OFF;
      // Step 2a: a duplicate, everything before the timeout acknowledged (nothing to tell), or
      // the retransmission not covered; and 2b without new data to send.
      if (duplicate || seqGeq(una, this.recover) || seqLt(una, this.rtxEnd) || !canSendNew) return SRTO_REAL;
      this.step = STEP_SECOND_ACK;
      return SRTO_SEND_NEW;
    }
    if (this.step === STEP_SECOND_ACK) {
      if (!advanced && !duplicate) return SRTO_CONTINUE;
      this.step = STEP_OFF;
      if (duplicate) return SRTO_REAL; // step 3a: only the new data arrived
      this.rtoRecovery = false;
      return SRTO_SPURIOUS_FRTO; // step 3b
    }
    return SRTO_CONTINUE;
  }
}
