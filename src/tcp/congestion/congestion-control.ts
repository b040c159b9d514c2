/**
 * The small interface between the TCP core and a congestion-control algorithm (one file per
 * algorithm, as in gVisor's tcp package). The core owns sequence numbers, timers and
 * retransmission; the algorithm owns cwnd/ssthresh and decides when a loss-recovery
 * retransmission is due. All sizes are bytes, all sequence numbers uint32, all times ms.
 */

/** What the core must do after telling the algorithm about an ACK. */
export type CongestionAction = 'none' | 'retransmit';

export interface CongestionControl {
  /** Algorithm name, for logs and counters. */
  readonly name: string;
  /** Congestion window: bytes the core may have in flight. */
  readonly cwnd: number;
  /** Slow-start threshold. */
  readonly ssthresh: number;
  /** True while in fast recovery. */
  readonly inRecovery: boolean;

  /**
   * The connection is established and the send MSS known. `synLost` when the SYN or SYN-ACK had
   * to be retransmitted (RFC 5681 3.1: the initial window is then one segment). `iss` seeds the
   * recovery point.
   */
  init(mss: number, synLost: boolean, iss: number): void;

  /**
   * The cumulative ACK advanced: `acked` sequence numbers newly acknowledged, `ack` the new
   * SND.UNA, `flightBefore` the bytes outstanding before this ACK, `sndMax` the highest sequence
   * number sent (exclusive), `now` the time of the ACK. Returns 'retransmit' when the segment at
   * `ack` must be resent now (a NewReno partial ACK).
   */
  onAck(acked: number, ack: number, flightBefore: number, sndMax: number, now: number): CongestionAction;

  /**
   * A duplicate ACK per RFC 5681 2 (outstanding data, no payload, no SYN/FIN, same ACK, same
   * window). Returns 'retransmit' when the segment at `ack` must be fast-retransmitted now.
   */
  onDupAck(ack: number, flight: number, sndMax: number): CongestionAction;

  /**
   * The retransmission timer expired. `firstTimeout` is false when the segment had already been
   * retransmitted by a timeout (ssthresh is then held, RFC 5681 3.1).
   */
  onTimeout(flight: number, sndMax: number, firstTimeout: boolean): void;

  /**
   * SACK-based loss recovery (RFC 6675 5) begins: `flight` bytes were outstanding. Set ssthresh
   * (the algorithm's multiplicative decrease), cwnd = ssthresh and `inRecovery`. Until
   * `exitRecovery` the core calls neither `onAck` nor `onDupAck`: it paces recovery itself
   * from the scoreboard's pipe.
   */
  enterRecovery(flight: number, sndMax: number): void;

  /** SACK-based loss recovery ended (the cumulative ACK reached the recovery point): cwnd = ssthresh. */
  exitRecovery(): void;

  /**
   * Optional: the last reduction (`enterRecovery`, the fast retransmit of `onDupAck`, or the first
   * `onTimeout` of an episode) was spurious: D-SACKs reported every retransmission duplicate
   * (RFC 3708), or Eifel (RFC 3522) or F-RTO (RFC 5682) showed the timeout was. Undo it as RFC
   * 4015 and Linux's tcp_undo_cwnd_reduction do: cwnd and ssthresh back to at least what they
   * were before it, recovery left, and the recovery point (RFC 6582 `recover`) back to where it
   * was, so that a real loss of data sent before the reduction starts fast recovery at once
   * instead of being taken for the reduction's own duplicates; plus the algorithm's own state
   * (CUBIC's W_max and epoch). The core calls it from every undo path, with or without SACK.
   * Default (an algorithm without it): the reduction stands; the core still ends the episode
   * and resends nothing more.
   */
  undoRecovery?(): void;

  /** Sending resumes at `now` (ms) after an idle period longer than the RTO (RFC 5681 4.1). */
  onIdleRestart(now: number): void;

  /**
   * Optional: an RTT measurement was taken (`rtt` the sample, `srtt` the smoothed RTT after it,
   * both ms). Called before the `onAck` of the ACK that produced it.
   */
  onRttSample?(rtt: number, srtt: number): void;

  /**
   * The send MSS changed (path MTU): later increments use the new size. Not a congestion signal:
   * cwnd (bytes) is kept. Optional for algorithms that do not care.
   */
  onMssChange?(mss: number): void;
  /**
   * The peer echoed a CE mark (ECE, RFC 3168 6.1.2) with `flight` bytes outstanding: reduce the
   * window as for a loss, without retransmitting. The core calls it at most once per round trip
   * and not during fast recovery. Optional: without it ECE changes nothing.
   */
  onEcnEcho?(flight: number): void;
}

/** Counters of the connection an algorithm may bump (they appear in `conn.counters`). */
export interface CongestionCounters {
  hystartCssEntries: number;
  hystartExits: number;
}

/** What a congestion-control factory gets for one connection. */
export interface CongestionControlParams {
  /** Initial congestion window in segments (the `initialCwndSegments` option, RFC 6928). */
  readonly initialWindowSegments: number;
  /** The connection's counters for algorithm events; absent outside a connection. */
  readonly counters?: CongestionCounters;
}

/** Builds the algorithm for one connection. */
export type CongestionControlFactory = (params: CongestionControlParams) => CongestionControl;

/** Names of the built-in algorithms. */
export type CongestionControlName = 'newreno' | 'cubic';

/** The `congestionControl` option: a built-in algorithm's name or a factory of one's own. */
export type CongestionControlChoice = CongestionControlName | CongestionControlFactory;

/** True for a valid `congestionControl` value. */
export function isCongestionControlChoice(value: unknown): value is CongestionControlChoice {
  return value === 'newreno' || value === 'cubic' || typeof value === 'function';
}
