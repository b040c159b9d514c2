/**
 * A TCP_INFO-like snapshot of one connection (Linux's `struct tcp_info`, the figures a user
 * reads with `ss -ti`): state, timers, windows, segment sizes, what was negotiated, and the
 * totals. Plain numbers and strings, frozen, safe to log or serialise.
 */
import type { TcpConnectionCore } from './connection.js';
import type { TcpState } from './state.js';

export interface TcpInfo {
  readonly state: TcpState;
  /** Smoothed RTT and its variation (RFC 6298), ms; 0 before the first sample. */
  readonly rttMs: number;
  readonly rttvarMs: number;
  /**
   * The smallest RTT the sender measured, ms (0 before the first sample; Linux's tcpi_min_rtt):
   * RACK's from its send times, else the timed segments', else the smallest sample (the
   * handshake's). Send times are when a segment left (the end of the task that built it), so a
   * long task does not count.
   */
  readonly minRttMs: number;
  /** The current retransmission timeout, ms (with backoff). */
  readonly rtoMs: number;
  /** Congestion window and slow-start threshold, bytes. */
  readonly cwnd: number;
  readonly ssthresh: number;
  /** The congestion-control algorithm ('cubic', 'newreno' or a factory's own). */
  readonly congestionControl: string;
  /** Largest segment we send (options taken into account) and the one we announced. */
  readonly sendMss: number;
  readonly receiveMss: number;
  /**
   * Path MTU, bytes (an IP packet with its header): the route's MTU (its interface's, or what
   * IPv6's path MTU cache learnt from Packet Too Big), lowered by the ICMP or ICMPv6 messages
   * this connection believed; 0 when not known (a core without a stack). Linux's tcpi_pmtu.
   */
  readonly pmtu: number;
  /** The peer's last advertised window and the window we last advertised, bytes. */
  readonly sendWindow: number;
  readonly receiveWindow: number;
  /** Bytes written and not yet acknowledged (sent or not), and bytes received and not yet read. */
  readonly unacked: number;
  readonly unread: number;
  /**
   * The receive and send buffers' current sizes, bytes (the configured sizes, raised by
   * auto-tuning), the receiver's own RTT estimate that paces receive tuning (ms, 0 while none;
   * Linux's rcv_rtt) and the per-RTT delivery the receive buffer was last sized for (Linux's
   * rcv_space; 0 while not tuning).
   */
  readonly receiveBuffer: number;
  readonly sendBuffer: number;
  readonly receiveRttMs: number;
  readonly receiveSpace: number;
  /** What the handshake settled. */
  readonly options: {
    readonly windowScale: boolean;
    /** The shift we apply to the peer's window and the one the peer applies to ours. */
    readonly sendWindowScale: number;
    readonly receiveWindowScale: number;
    readonly timestamps: boolean;
    readonly sack: boolean;
    /** ECN (RFC 3168) negotiated in the handshake (Linux's TCPI_OPT_ECN). */
    readonly ecn: boolean;
  };
  /** Retransmitted segments and retransmission timeouts so far. */
  readonly retransmits: number;
  readonly timeouts: number;
  /** Bytes acknowledged by the peer (delivered), sent (first transmissions and again) and received. */
  readonly bytesAcked: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly segmentsSent: number;
  readonly segmentsReceived: number;
}

/** The snapshot of `core` now; `routeMtu`: the MTU of its route, as the stack knows it. */
export function tcpInfo(core: TcpConnectionCore, routeMtu = Number.POSITIVE_INFINITY): TcpInfo {
  const pmtu = Math.min(core.pmtu, routeMtu);
  const c = core.counters;
  return Object.freeze({
    state: core.state,
    rttMs: core.srtt,
    rttvarMs: core.rttvar,
    minRttMs: Number.isFinite(core.minRtt) ? core.minRtt : 0,
    rtoMs: core.rto,
    cwnd: core.cwnd,
    ssthresh: core.ssthresh,
    congestionControl: core.congestionControl,
    sendMss: core.sndMss,
    receiveMss: core.receiveMss,
    pmtu: Number.isFinite(pmtu) ? pmtu : 0,
    sendWindow: core.sndWnd,
    receiveWindow: core.rcvWnd,
    unacked: core.bufferedLength,
    unread: core.readableLength,
    receiveBuffer: core.receiveBufferSize,
    sendBuffer: core.sendBufferSize,
    receiveRttMs: core.receiveRtt,
    receiveSpace: core.receiveSpace,
    options: Object.freeze({
      windowScale: core.sndWndScale > 0 || core.rcvWndScale > 0,
      sendWindowScale: core.sndWndScale,
      receiveWindowScale: core.rcvWndScale,
      timestamps: core.timestampsNegotiated,
      sack: core.sackNegotiated,
      ecn: core.ecnActive,
    }),
    retransmits: c.retransmits,
    timeouts: c.timeouts,
    bytesAcked: c.bytesAcked,
    bytesSent: c.bytesSent,
    bytesReceived: c.bytesReceived,
    segmentsSent: c.segmentsSent,
    segmentsReceived: c.segmentsReceived,
  });
}
