/**
 * NewReno: slow start and congestion avoidance (RFC 5681 3.1), fast retransmit on the third
 * duplicate ACK and fast recovery with NewReno's partial-ACK handling (RFC 6582), so several
 * losses in one window recover without a timeout.
 */

import { seqGeq, seqGt } from '../seq.js';
import type { CongestionAction, CongestionControl, CongestionControlParams } from './congestion-control.js';

/** RFC 5681 3.2: fast retransmit on the third duplicate ACK. */
const DUPACK_THRESHOLD = 3;
/** RFC 3465 appropriate byte counting limit L, in segments, during slow start. */
export const ABC_LIMIT_SEGMENTS = 2;

export class NewReno implements CongestionControl {
  readonly name: string = 'newreno';
  cwnd: number;
  /** "Arbitrarily high" at first (RFC 5681 3.1). */
  ssthresh = Number.MAX_SAFE_INTEGER;
  inRecovery = false;
  /** Duplicate ACKs seen in a row. */
  dupAcks = 0;
  /**
   * RFC 6582 `recover`, kept exclusive: the SND.MAX at the time recovery (or a timeout) began;
   * an ACK at or beyond it covers everything that was outstanding then.
   */
  recover = 0;

  protected mss = 536;
  /** cwnd, ssthresh and `recover` before the last reduction, for `undoRecovery` (priorCwnd 0: nothing to undo). */
  private priorCwnd = 0;
  private priorSsthresh = 0;
  private priorRecover = 0;
  /** Bytes acknowledged in congestion avoidance since cwnd last grew. */
  protected bytesAcked = 0;

  constructor(protected readonly initialWindowSegments = 10) {
    this.cwnd = initialWindowSegments * this.mss;
  }

  init(mss: number, synLost: boolean, iss: number): void {
    this.mss = mss;
    this.cwnd = synLost ? mss : this.initialWindowSegments * mss;
    this.recover = iss;
    this.dupAcks = 0;
    this.inRecovery = false;
    this.bytesAcked = 0;
  }

  onAck(acked: number, ack: number, flightBefore: number, sndMax: number, now = 0): CongestionAction {
    this.dupAcks = 0;
    if (this.inRecovery) {
      if (seqGeq(ack, this.recover)) {
        // Full ACK (RFC 6582 3.2 step 3): leave recovery with cwnd = min(ssthresh, FlightSize + SMSS).
        this.inRecovery = false;
        const flightAfter = Math.max(flightBefore - acked, 0);
        this.cwnd = Math.min(this.ssthresh, Math.max(flightAfter, this.mss) + this.mss);
        return 'none';
      }
      // Partial ACK (step 4): retransmit the next hole, deflate by the amount acknowledged and
      // add back one SMSS if that was at least one SMSS.
      this.cwnd = Math.max(this.cwnd - acked + (acked >= this.mss ? this.mss : 0), this.mss);
      return 'retransmit';
    }
    // `recover` follows SND.UNA once passed, so it stays within 2^31 of it (compared modulo
    // 2^32): left at the ISS, after 2 GiB without a loss a third duplicate ACK looked below it
    // and started no fast retransmit. (Below it, after a timeout, it must stay: RFC 6582 4.)
    if (seqGt(ack, this.recover)) this.recover = ack;
    this.increaseWindow(acked, ack, flightBefore, sndMax, now);
    return 'none';
  }

  /** Window growth outside recovery (subclasses change the curve, not the loss recovery). */
  protected increaseWindow(acked: number, _ack: number, flightBefore: number, _sndMax: number, _now: number): void {
    if (!cwndLimited(this.cwnd, this.ssthresh, flightBefore, this.mss)) return;
    if (this.cwnd < this.ssthresh) {
      // Slow start, with byte counting limited to L = 2 SMSS per ACK (RFC 3465).
      this.cwnd += Math.min(acked, ABC_LIMIT_SEGMENTS * this.mss);
    } else {
      // Congestion avoidance: about one SMSS per RTT (RFC 5681 3.1, byte-counting variant).
      this.bytesAcked += acked;
      if (this.bytesAcked >= this.cwnd) {
        this.bytesAcked -= this.cwnd;
        this.cwnd += this.mss;
      }
    }
  }

  /** The ssthresh after a loss (third duplicate ACK or first timeout): RFC 5681 (4). */
  protected ssthreshAfterLoss(flight: number, _timeout: boolean): number {
    return Math.max(Math.floor(flight / 2), 2 * this.mss);
  }

  onDupAck(ack: number, flight: number, sndMax: number): CongestionAction {
    this.dupAcks++;
    if (this.inRecovery) {
      // Each further duplicate means a segment left the network: inflate (RFC 6582 3.2 step 3).
      this.cwnd += this.mss;
      return 'none';
    }
    if (this.dupAcks !== DUPACK_THRESHOLD) return 'none';
    // RFC 6582 3.2 step 2: only if the ACK covers more than `recover`, so duplicates caused by
    // a timeout's go-back-N retransmissions do not trigger a second reduction.
    if (!seqGeq(ack, this.recover)) return 'none';
    this.saveForUndo();
    this.ssthresh = this.ssthreshAfterLoss(flight, false);
    this.recover = sndMax;
    this.inRecovery = true;
    this.cwnd = this.ssthresh + DUPACK_THRESHOLD * this.mss;
    return 'retransmit';
  }

  enterRecovery(flight: number, sndMax: number): void {
    this.saveForUndo();
    // RFC 5681 (4) here; CUBIC's beta and W_max in its override of ssthreshAfterLoss.
    this.ssthresh = this.ssthreshAfterLoss(flight, false);
    this.cwnd = this.ssthresh;
    this.recover = sndMax;
    this.inRecovery = true;
    this.dupAcks = 0;
    this.bytesAcked = 0;
  }

  exitRecovery(): void {
    this.inRecovery = false;
    this.cwnd = this.ssthresh;
  }

  /**
   * Remembers what a reduction is about to change, for `undoRecovery`. Called before
   * `ssthreshAfterLoss` (a subclass saves its own state here, before that changes it).
   */
  protected saveForUndo(): void {
    this.priorCwnd = this.cwnd;
    this.priorSsthresh = this.ssthresh;
    this.priorRecover = this.recover;
  }

  /**
   * RFC 4015 / Linux's tcp_undo_cwnd_reduction: cwnd and ssthresh at least as before the
   * reduction, and `recover` where it was, so duplicate ACKs for a real loss below the undone
   * episode's SND.MAX are not ignored as that episode's (RFC 6582 3.2 step 2).
   */
  undoRecovery(): void {
    if (this.priorCwnd === 0) return;
    this.cwnd = Math.max(this.cwnd, this.priorCwnd);
    this.ssthresh = Math.max(this.ssthresh, this.priorSsthresh);
    this.recover = this.priorRecover;
    this.priorCwnd = 0;
    this.inRecovery = false;
    this.dupAcks = 0;
    this.bytesAcked = 0;
  }

  onTimeout(flight: number, sndMax: number, firstTimeout: boolean): void {
    if (firstTimeout) {
      this.saveForUndo();
      this.ssthresh = this.ssthreshAfterLoss(flight, true);
    }
    this.cwnd = this.mss; // loss window (RFC 5681 3.1)
    this.inRecovery = false;
    this.dupAcks = 0;
    this.bytesAcked = 0;
    this.recover = sndMax; // RFC 6582 4: ignore duplicates from the go-back-N that follows
  }

  onIdleRestart(_now: number): void {
    this.cwnd = Math.min(this.cwnd, this.initialWindowSegments * this.mss);
  }

  onEcnEcho(flight: number): void {
    // As for a loss (RFC 3168 6.1.2): RFC 5681 (4) here, CUBIC's beta and W_max in the subclass.
    // Congestion was real: no undo lifts this reduction (Linux's tcp_enter_cwr clears
    // prior_ssthresh the same way).
    this.priorCwnd = 0;
    this.ssthresh = this.ssthreshAfterLoss(flight, false);
    this.cwnd = this.ssthresh;
    this.bytesAcked = 0;
  }

  onMssChange(mss: number): void {
    this.mss = mss;
    if (this.cwnd < mss) this.cwnd = mss; // at least one segment of the new size
  }
}

/** NewReno's factory. */
export function newReno(params: CongestionControlParams): NewReno {
  return new NewReno(params.initialWindowSegments);
}

/**
 * Was the sender using its window (RFC 7661; Linux's tcp_is_cwnd_limited)? Only then may cwnd
 * grow: a sender held back by the peer's window or by its application would otherwise raise
 * cwnd without limit (megabytes beyond anything it ever sent), and the first burst after the
 * limit lifts would be sent at a rate the path never carried. In slow start the window may still
 * double from what is in flight (growth while cwnd < 2 x flight, as Linux); in congestion
 * avoidance the flight must fill cwnd but for one segment.
 */
export function cwndLimited(cwnd: number, ssthresh: number, flightBefore: number, mss: number): boolean {
  return cwnd < ssthresh ? cwnd < 2 * flightBefore : flightBefore + mss > cwnd;
}
