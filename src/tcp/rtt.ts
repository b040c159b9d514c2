/**
 * Round-trip time estimation and the retransmission timeout (RFC 6298).
 *
 * One segment at a time is timed (RFC 6298 3: "at least one RTT measurement per RTT"). Karn's
 * algorithm (RFC 6298 3, 5): a retransmission cancels the measurement, because its ACK cannot
 * tell which copy it answers, and the backed-off RTO is kept until a fresh sample arrives.
 */

import { seqGeq } from './seq.js';

/** Clock granularity G of RFC 6298 2, ms (`now` is in ms). */
const CLOCK_GRANULARITY = 1;
/** RFC 6298 5.7: after a SYN timed out, data starts with an RTO of at least 3 s. */
const RTO_AFTER_SYN_TIMEOUT = 3000;

export interface RttConfig {
  readonly rtoInitial: number;
  readonly rtoMin: number;
  readonly rtoMax: number;
}

/** What takes every RTT sample (a congestion control that wants them). */
export interface RttSampleSink {
  onRttSample(rtt: number, srtt: number): void;
}

export class RttEstimator {
  /**
   * Given each sample and the SRTT after it (the congestion control's RTT feed): the algorithm
   * itself, called as a method (a bound function per connection would be one more object to make).
   */
  sampleSink: RttSampleSink | undefined = undefined;
  /** Called with each sample and the SRTT after it, after `sampleSink` (for users of the estimator alone). */
  onSample: ((rtt: number, srtt: number) => void) | undefined = undefined;
  /** Smoothed RTT, ms (0 until the first sample). */
  srtt = 0;
  /** RTT variation, ms. */
  rttvar = 0;
  /** Samples taken. */
  samples = 0;
  /** The smallest sample so far, ms (Infinity until the first): the path's delay without queues. */
  minRtt = Number.POSITIVE_INFINITY;
  /**
   * The smallest RTT of a timed segment (ms, Infinity until the first), taken at the clock's full
   * resolution also while timestamp echoes feed SRTT: a TSecr measures whole milliseconds only,
   * so on a sub-millisecond path its samples are 0 or 1 and say nothing about the path's delay.
   * What sizes buffers by the path's delivery (buffer-tuning.ts DeliveryMeter) uses this one.
   */
  minTimedRtt = Number.POSITIVE_INFINITY;
  /** Times the RTO has been doubled since the last sample. */
  backoffCount = 0;

  private baseRto: number;
  private timing = false;
  private timedEnd = 0;
  private timedAt = 0;
  /** The timed segment's time is its batch's build time until `stampSent` gives the time it left. */
  private timedUnstamped = false;

  constructor(private readonly config: RttConfig) {
    this.baseRto = clamp(config.rtoInitial, config.rtoMin, config.rtoMax);
  }

  /** The current retransmission timeout, with backoff applied, within [rtoMin, rtoMax]. */
  get rto(): number {
    // Without backoff (nearly always) no power: `2 ** n` with a variable n is a call into the C
    // library's pow, made for every segment sent and every write to an idle connection.
    const n = this.backoffCount;
    return Math.min(n === 0 ? this.baseRto : this.baseRto * 2 ** n, this.config.rtoMax);
  }

  /** True while a segment is being timed. */
  get isTiming(): boolean {
    return this.timing;
  }

  /** Starts timing the segment ending at `seqEnd` unless one is already being timed. */
  startTiming(seqEnd: number, now: number): void {
    if (this.timing) return;
    this.timing = true;
    this.timedEnd = seqEnd;
    this.timedAt = now;
    this.timedUnstamped = true;
  }

  /**
   * The batch the timed segment was built in left at `now` (see TcpConnectionCore.stampSent):
   * its send time becomes that, if it was started since the last stamp and is still timed.
   */
  stampSent(now: number): void {
    if (this.timedUnstamped && this.timing && now > this.timedAt) this.timedAt = now;
    this.timedUnstamped = false;
  }

  /**
   * An ACK arrived: takes a sample if it covers the timed segment. Returns true when it did
   * (and the backoff was cleared).
   */
  onAck(ack: number, now: number): boolean {
    if (!this.timing || !seqGeq(ack, this.timedEnd)) return false;
    this.timing = false;
    const r = Math.max(0, now - this.timedAt);
    if (r < this.minTimedRtt) this.minTimedRtt = r;
    this.sample(r);
    return true;
  }

  /**
   * An ACK whose RTT sample comes from elsewhere (a timestamp echo): when it covers the timed
   * segment, that measurement ends and only updates `minTimedRtt` (SRTT takes the other sample).
   */
  onAckTimedOnly(ack: number, now: number): void {
    if (!this.timing || !seqGeq(ack, this.timedEnd)) return;
    this.timing = false;
    const r = Math.max(0, now - this.timedAt);
    if (r < this.minTimedRtt) this.minTimedRtt = r;
  }

  /** Karn: a retransmission makes the running measurement ambiguous. */
  cancelTiming(): void {
    this.timing = false;
  }

  /**
   * Feeds one RTT measurement (RFC 6298 2.2, 2.3) and clears the backoff. `caRtt`, when the ACK
   * measured a later-sent segment too (a SACK of several, sack-rtt.ts), is the least-queued
   * sample: the minimum and the congestion control take it, SRTT the conservative `r` (as
   * Linux's tcp_ack_update_rtt with sack_rtt_us and ca_rtt_us).
   */
  sample(r: number, caRtt = r): void {
    if (this.samples === 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.samples++;
    if (caRtt < this.minRtt) this.minRtt = caRtt;
    this.backoffCount = 0;
    this.baseRto = clamp(this.srtt + Math.max(CLOCK_GRANULARITY, 4 * this.rttvar), this.config.rtoMin, this.config.rtoMax);
    if (this.sampleSink !== undefined) this.sampleSink.onRttSample(caRtt, this.srtt);
    if (this.onSample !== undefined) this.onSample(caRtt, this.srtt);
  }

  /** The timer expired (RFC 6298 5.5): double the RTO, up to rtoMax. */
  backoff(): void {
    if (this.baseRto * 2 ** this.backoffCount < this.config.rtoMax) this.backoffCount++;
    this.timing = false;
  }

  /**
   * The handshake completed: data transmission starts with the backoff cleared, and, if the SYN
   * had timed out and no sample exists, with an RTO of at least 3 s (RFC 6298 5.7).
   */
  onHandshakeComplete(synTimedOut: boolean): void {
    this.backoffCount = 0;
    if (synTimedOut && this.samples === 0) {
      this.baseRto = clamp(Math.max(this.baseRto, RTO_AFTER_SYN_TIMEOUT), this.config.rtoMin, this.config.rtoMax);
    }
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
