/**
 * CUBIC (RFC 9438): in congestion avoidance the window follows a cubic function of the time
 * since the last congestion event, W_cubic(t) = C (t - K)^3 + W_max, so it returns quickly to
 * the window where the loss happened, probes carefully around it, then accelerates. Loss
 * detection and recovery are NewReno's (RFC 6582), with the multiplicative decrease beta 0.7.
 * The initial slow start leaves early on an RTT rise (HyStart++, RFC 9406).
 *
 * Windows are bytes here; the equations work in segments (W / MSS) and seconds, as the RFC's.
 */

import type { CongestionControlParams, CongestionCounters } from './congestion-control.js';
import { HyStartPlusPlus } from './hystart.js';
import { NewReno, cwndLimited } from './newreno.js';

/** RFC 9438 4.1 constants. */
export const CUBIC_C = 0.4;
export const CUBIC_BETA = 0.7;
/** RFC 9438 4.3: the Reno-friendly additive increase that matches Reno's average rate. */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/** The curve's variables: Cubic's own, and a copy saved for an undo (Cubic.saveForUndo). */
interface CurveState {
  wMax: number;
  cwndPrior: number;
  epochStart: number;
  k: number;
  origin: number;
  wEst: number;
}

/** Copies the curve's variables (a reduction's save, an undo's restore: not per ACK). */
function copyCurve(to: CurveState, from: CurveState): void {
  to.wMax = from.wMax;
  to.cwndPrior = from.cwndPrior;
  to.epochStart = from.epochStart;
  to.k = from.k;
  to.origin = from.origin;
  to.wEst = from.wEst;
}

/** The saved copy, made at the first reduction. */
class CubicCurve implements CurveState {
  wMax = 0;
  cwndPrior = 0;
  epochStart = -1;
  k = 0;
  origin = 0;
  wEst = 0;
  afterTimeout = false;
}

export class Cubic extends NewReno implements CurveState {
  override readonly name: string = 'cubic';
  /** Window (bytes) just before the last reduction, lowered by fast convergence. */
  wMax = 0;
  /** cwnd (bytes) just before the last reduction: W_est's alpha becomes 1 once it is reached. */
  cwndPrior = 0;
  /** Start of the current congestion-avoidance epoch (ms), -1 when none. */
  epochStart = -1;
  /** Seconds from the epoch start to the curve's plateau at `origin`. */
  k = 0;
  /** Plateau of the curve in this epoch (bytes): W_max, or cwnd at the epoch start. */
  origin = 0;
  /** The Reno-friendly estimate W_est (bytes). */
  wEst = 0;
  /** Smoothed RTT (ms) from the core, 0 until known. */
  srtt = 0;
  readonly hystart: HyStartPlusPlus;
  /** Growth owed to cwnd (bytes), carried between ACKs. */
  private credit = 0;
  private lastAckAt = 0;
  /** RFC 9438 4.8: the first epoch after a timeout starts at K = 0 from the current cwnd. */
  private afterTimeout = false;
  /**
   * The curve's state before the last reduction (RFC 9438 4.9), for `undoRecovery`: made at the
   * first reduction (most connections never have one, and its numbers were boxed fields built
   * with every connection).
   */
  private prior: CubicCurve | undefined = undefined;
  private undoSaved = false;
  /** The reduction `undoRecovery` would undo was a timeout's (HyStart++ then restarts, as Linux's). */
  private priorWasTimeout = false;

  constructor(
    initialWindowSegments = 10,
    hystart: HyStartPlusPlus = new HyStartPlusPlus(),
    private readonly counters?: CongestionCounters,
  ) {
    super(initialWindowSegments);
    this.hystart = hystart;
  }

  override init(mss: number, synLost: boolean, iss: number): void {
    super.init(mss, synLost, iss);
    this.epochStart = -1;
    this.credit = 0;
  }

  onRttSample(rtt: number, srtt: number): void {
    this.srtt = srtt;
    if (this.cwnd < this.ssthresh) this.hystart.onRttSample(rtt);
  }

  /** W_cubic(t) in bytes, t in seconds since the epoch start (RFC 9438 figure 1). */
  wCubic(t: number): number {
    const d = t - this.k;
    return CUBIC_C * d * d * d * this.mss + this.origin;
  }

  protected override increaseWindow(acked: number, ack: number, flightBefore: number, sndMax: number, now: number): void {
    const prevAckAt = this.lastAckAt;
    this.lastAckAt = now;
    if (this.cwnd < this.ssthresh) {
      if (cwndLimited(this.cwnd, this.ssthresh, flightBefore, this.mss)) this.slowStart(acked, ack, sndMax);
      return;
    }
    if (flightBefore + this.mss <= this.cwnd) {
      // Application-limited (RFC 9438 4.9 / RFC 7661): no growth, and the curve's clock stops
      // so an idle or slow writer does not find a window far beyond what it has probed.
      if (this.epochStart >= 0) this.epochStart += now - prevAckAt;
      return;
    }
    if (this.epochStart < 0) this.startEpoch(now);
    const mss = this.mss;
    const cwnd = this.cwnd;
    // W_est grows by alpha segments per window of ACKed data (RFC 9438 4.3).
    this.wEst += ((this.wEst >= this.cwndPrior ? 1 : CUBIC_ALPHA) * acked * mss) / cwnd;
    const t = (now - this.epochStart) / 1000;
    if (this.wCubic(t) < this.wEst) {
      // Reno-friendly region: at least as fast as Reno would be.
      if (this.wEst > cwnd) this.cwnd = Math.floor(this.wEst);
      return;
    }
    // Concave / convex region (RFC 9438 4.4, 4.5): aim at W_cubic one RTT ahead, bounded to
    // [cwnd, 1.5 cwnd], closing (target - cwnd) / cwnd per segment ACKed.
    const target = Math.min(Math.max(this.wCubic(t + this.srtt / 1000), cwnd), 1.5 * cwnd);
    this.credit += ((target - cwnd) * acked) / cwnd;
    if (this.credit >= 1) {
      const grow = Math.floor(this.credit);
      this.cwnd = cwnd + grow;
      this.credit -= grow;
    }
  }

  private slowStart(acked: number, ack: number, sndMax: number): void {
    // Every byte the ACK covers counts, up to ssthresh (Linux's tcp_slow_start; RFC 9406 4.2's
    // L = infinity), not at most RFC 3465's L = 2 segments: a peer that receives our TSO bursts
    // whole (Linux behind a TAP device, any receiver with GRO) ACKs each burst once, so with
    // L = 2 cwnd grew by 2 segments per round trip instead of doubling (a 256 KiB reply after an
    // idle restart: 10 round trips, Linux's sender 5). The burst an ACK releases is then twice
    // what it covers, as Linux's unpaced sender's. NewReno keeps L = 2 (RFC 5681 as written).
    const inc = Math.min(acked, this.ssthresh - this.cwnd);
    if (this.hystart.phase === 'done') {
      this.cwnd += inc;
      return;
    }
    const before = this.hystart.phase;
    if (this.hystart.onAck(ack, sndMax)) {
      this.ssthresh = this.cwnd; // CSS rounds done: congestion avoidance from here
      if (this.counters !== undefined) this.counters.hystartExits++;
      return;
    }
    if (before === 'slow-start' && this.hystart.phase === 'css' && this.counters !== undefined) this.counters.hystartCssEntries++;
    this.cwnd += this.hystart.increment(inc);
  }

  private startEpoch(now: number): void {
    this.epochStart = now;
    this.credit = 0;
    this.wEst = this.cwnd;
    if (this.afterTimeout || this.cwnd >= this.wMax) {
      this.k = 0;
      this.origin = this.cwnd;
    } else {
      this.k = Math.cbrt((this.wMax - this.cwnd) / this.mss / CUBIC_C);
      this.origin = this.wMax;
    }
    this.afterTimeout = false;
  }

  protected override ssthreshAfterLoss(_flight: number, timeout: boolean): number {
    const cwnd = this.cwnd;
    // Fast convergence (RFC 9438 4.7): a flow whose window shrank since the last loss releases
    // bandwidth to newer flows by remembering a lower W_max.
    this.wMax = cwnd < this.wMax ? (cwnd * (1 + CUBIC_BETA)) / 2 : cwnd;
    this.cwndPrior = cwnd;
    this.epochStart = -1;
    this.credit = 0;
    if (timeout) this.afterTimeout = true;
    this.hystart.stop();
    return Math.max(Math.floor(cwnd * CUBIC_BETA), 2 * this.mss);
  }

  protected override saveForUndo(): void {
    super.saveForUndo();
    const p = this.prior ?? (this.prior = new CubicCurve());
    copyCurve(p, this);
    p.afterTimeout = this.afterTimeout;
    this.priorWasTimeout = false;
    this.hystart.save();
    this.undoSaved = true;
  }

  /**
   * A spurious reduction (RFC 9438 4.9): besides cwnd, ssthresh and `recover` (NewReno's undo),
   * the curve goes back to where it was: W_max (which fast convergence lowered), the prior cwnd,
   * the epoch with its K and plateau, and W_est, so growth resumes on the curve the flow was on
   * rather than from a new epoch at the reduced window's plateau. (Linux's cubic restores only
   * cwnd on undo, tcp_reno_undo_cwnd.)
   *
   * HyStart++, stopped by the reduction, comes back as Linux's HyStart is after an undo: the undo
   * may resume slow start (ssthresh back to "arbitrarily high" when the loss came in the initial
   * slow start), and a HyStart++ left stopped would let that slow start run to the next loss, one
   * left in CSS would exit it for nothing. After a fast recovery (or a tail loss probe's
   * reduction) the state saved before it returns (Linux's cubic leaves HyStart untouched through
   * recovery); after a timeout HyStart++ starts over (Linux's cubic resets HyStart when the
   * timeout enters the Loss state, and the undo keeps that).
   */
  override undoRecovery(): void {
    super.undoRecovery();
    const p = this.prior;
    if (!this.undoSaved || p === undefined) return;
    this.undoSaved = false;
    copyCurve(this, p);
    this.afterTimeout = p.afterTimeout;
    this.credit = 0;
    if (this.priorWasTimeout) this.hystart.restart();
    else this.hystart.restoreSaved();
  }

  override onEcnEcho(flight: number): void {
    super.onEcnEcho(flight);
    this.undoSaved = false; // a real congestion signal: no undo of the curve either
  }

  /**
   * The idle period does not count on the curve's clock (RFC 9438 5.8: t excludes the time the
   * flow was application-limited): without this, the first ACKs after an idle restart found
   * W_cubic(t) far past W_max and grew cwnd by half a window per RTT.
   */
  override onIdleRestart(now: number): void {
    super.onIdleRestart(now);
    if (this.epochStart >= 0 && now > this.lastAckAt) this.epochStart += now - this.lastAckAt;
    this.lastAckAt = now;
  }

  override onTimeout(flight: number, sndMax: number, firstTimeout: boolean): void {
    super.onTimeout(flight, sndMax, firstTimeout);
    if (firstTimeout) this.priorWasTimeout = true; // the reduction an undo would undo (saveForUndo ran)
    this.epochStart = -1;
    this.afterTimeout = true;
    this.hystart.stop();
  }
}

/** CUBIC's factory. */
export function cubic(params: CongestionControlParams): Cubic {
  return new Cubic(params.initialWindowSegments, new HyStartPlusPlus(), params.counters);
}
