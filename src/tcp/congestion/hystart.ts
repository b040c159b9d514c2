/**
 * HyStart++ (RFC 9406): leaves slow start when the RTT starts rising, before the queue it builds
 * overflows, through a "conservative slow start" (CSS) phase that grows at a quarter of the rate
 * and returns to slow start if the rise turns out to be noise. Rounds are delimited by sequence
 * numbers: a round ends when the cumulative ACK reaches SND.MAX as it was when the round began.
 * Only the initial slow start uses it (RFC 9406 4.3 leaves later ones to plain slow start).
 */

import { seqGeq } from '../seq.js';

/** RFC 9406 4.3 recommended constants (RTTs in ms). */
export const HYSTART_MIN_RTT_THRESH = 4;
export const HYSTART_MAX_RTT_THRESH = 16;
export const HYSTART_MIN_RTT_DIVISOR = 8;
export const HYSTART_N_RTT_SAMPLE = 8;
export const HYSTART_CSS_GROWTH_DIVISOR = 4;
export const HYSTART_CSS_ROUNDS = 5;

export type HyStartPhase = 'slow-start' | 'css' | 'done';

/**
 * HyStart++'s state: rounds, their RTT minima and the phase. Its own class so that a reduction
 * that may be undone can keep a copy (HyStartPlusPlus.save) and a restart can copy a fresh one.
 */
export class HyStartState {
  phase: HyStartPhase = 'slow-start';
  /** Minimum RTT of the round in progress and of the previous one (Infinity: none yet). */
  currentRoundMinRtt = Infinity;
  lastRoundMinRtt = Infinity;
  /** RTT samples in the round in progress. */
  rttSampleCount = 0;
  /** The round's minimum RTT when CSS began. */
  cssBaselineMinRtt = Infinity;
  /** Rounds completed in CSS. */
  cssRounds = 0;
  /** The round ends when the cumulative ACK reaches this. */
  protected windowEnd = 0;
  protected roundStarted = false;

  /** Becomes a copy of `s`. */
  copyFrom(s: HyStartState): void {
    this.phase = s.phase;
    this.currentRoundMinRtt = s.currentRoundMinRtt;
    this.lastRoundMinRtt = s.lastRoundMinRtt;
    this.rttSampleCount = s.rttSampleCount;
    this.cssBaselineMinRtt = s.cssBaselineMinRtt;
    this.cssRounds = s.cssRounds;
    this.windowEnd = s.windowEnd;
    this.roundStarted = s.roundStarted;
  }
}

/** The state of a HyStart++ that has seen nothing (never written). */
const FRESH = new HyStartState();

export class HyStartPlusPlus extends HyStartState {
  /** The state before a reduction that may be undone (save / restoreSaved); made at the first save. */
  private saved: HyStartState | undefined;
  private savedValid = false;

  constructor(private readonly minSamples = HYSTART_N_RTT_SAMPLE) {
    super();
  }

  /** An RTT sample (ms). */
  onRttSample(rtt: number): void {
    if (this.phase === 'done') return;
    if (rtt < this.currentRoundMinRtt) this.currentRoundMinRtt = rtt;
    this.rttSampleCount++;
  }

  /**
   * A new ACK in slow start, before cwnd grows: closes the round when `ack` reaches its end,
   * then checks the RTT rule. Returns true when slow start must end now (CSS_ROUNDS rounds of
   * CSS completed): the caller sets ssthresh = cwnd.
   */
  onAck(ack: number, sndMax: number): boolean {
    if (this.phase === 'done') return false;
    if (!this.roundStarted || seqGeq(ack, this.windowEnd)) {
      this.roundStarted = true;
      this.windowEnd = sndMax;
      this.lastRoundMinRtt = this.currentRoundMinRtt;
      this.currentRoundMinRtt = Infinity;
      this.rttSampleCount = 0;
      if (this.phase === 'css' && ++this.cssRounds >= HYSTART_CSS_ROUNDS) {
        this.phase = 'done';
        return true;
      }
      return false;
    }
    if (this.rttSampleCount < this.minSamples || this.currentRoundMinRtt === Infinity) return false;
    if (this.phase === 'slow-start') {
      if (this.lastRoundMinRtt === Infinity) return false;
      const thresh = Math.max(HYSTART_MIN_RTT_THRESH, Math.min(this.lastRoundMinRtt / HYSTART_MIN_RTT_DIVISOR, HYSTART_MAX_RTT_THRESH));
      if (this.currentRoundMinRtt >= this.lastRoundMinRtt + thresh) {
        this.cssBaselineMinRtt = this.currentRoundMinRtt;
        this.phase = 'css';
        this.cssRounds = 0;
      }
    } else if (this.currentRoundMinRtt < this.cssBaselineMinRtt) {
      // The rise was spurious: back to slow start.
      this.cssBaselineMinRtt = Infinity;
      this.phase = 'slow-start';
    }
    return false;
  }

  /** Slow-start growth for this ACK, scaled down in CSS. */
  increment(bytes: number): number {
    return this.phase === 'css' ? Math.floor(bytes / HYSTART_CSS_GROWTH_DIVISOR) : bytes;
  }

  /** A loss, or slow start ended another way: HyStart++ is over for this connection. */
  stop(): void {
    this.phase = 'done';
  }

  /**
   * A reduction that may be undone is about to stop HyStart++: keeps its state (phase, round
   * minima, CSS baseline and rounds, the round's end) for `restoreSaved`.
   */
  save(): void {
    (this.saved ?? (this.saved = new HyStartState())).copyFrom(this);
    this.savedValid = true;
  }

  /**
   * The reduction was spurious and is undone (Linux's cubic never touches HyStart's state on a
   * fast recovery, so an undone one leaves it as it was): back to the state `save` kept, so the
   * slow start the undo resumes goes on with the phase it had (a flow still in slow start is
   * not left without its exit, one in CSS keeps its slower growth and its round count). The
   * round in progress then was interrupted: it ends at the first ACK past its end, as usual.
   * Nothing when nothing was saved (or it was restored already).
   */
  restoreSaved(): void {
    if (this.saved === undefined || !this.savedValid) return;
    this.savedValid = false;
    this.copyFrom(this.saved);
  }

  /**
   * HyStart++ starts over: slow start with no round history, the next ACK opening a round (as
   * Linux's cubic re-arms its HyStart when a timeout enters the Loss state: bictcp_reset clears
   * `found`, bictcp_hystart_reset starts a round). What a save kept is dropped.
   */
  restart(): void {
    this.copyFrom(FRESH);
    this.savedValid = false;
  }
}
