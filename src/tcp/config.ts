/**
 * Tunables of one TCP connection, with the defaults a Linux user would expect. Resolve a partial
 * configuration once (per stack or per listener) with `resolveTcpConfig` and share the frozen
 * result between connections: the core never copies or validates it per segment.
 */

import { NetstackError } from '../errors.js';
import { isCongestionControlChoice, type CongestionControlChoice } from './congestion/congestion-control.js';

/** ECN (RFC 3168) use: never; answer a peer that asks (Linux's default, tcp_ecn=2); also ask on connect (tcp_ecn=1). */
export type TcpEcnMode = 'off' | 'passive' | 'on';
export const TCP_ECN_MODES: readonly TcpEcnMode[] = Object.freeze(['off', 'passive', 'on']);

export interface TcpConfig {
  /**
   * Largest segment payload this host accepts and sends: the MSS option we advertise, and the cap
   * on what we send (the effective send MSS is min(this, the peer's MSS option or 536)).
   * The wiring clamps it to the interface MTU with `clampMssToMtu`. Default 1460 (Ethernet).
   */
  readonly mss: number;
  /**
   * Bytes written by the user and not yet acknowledged, at most, at the start: the send buffer
   * grows from here with the congestion window up to `sendBufferMax`. Default 256 KiB.
   */
  readonly sendBufferSize: number;
  /**
   * Bytes received and not yet read, at most, at the start: the largest window we advertise
   * until receive auto-tuning raises it (up to `receiveBufferMax`). Default 256 KiB.
   */
  readonly receiveBufferSize: number;
  /**
   * Cap of receive-buffer auto-tuning (dynamic right-sizing, as Linux's tcp_rcv_space_adjust):
   * once per receiver-measured RTT, when the reader consumed more than in the last growth, the
   * buffer (and so the window) rises to about twice what was read in that RTT. Auto-tuning is
   * off when this is not above `receiveBufferSize`. The window scale we offer is chosen for the
   * larger of the two (it is fixed at SYN time). Default 6 MiB (Linux's tcp_rmem maximum).
   */
  readonly receiveBufferMax: number;
  /**
   * Cap of send-buffer auto-tuning (as Linux's tcp_sndbuf_expand): while the writer is held back
   * by a full buffer, each ACK may raise the buffer to twice the congestion window. Off when
   * this is not above `sendBufferSize`. Default 4 MiB (Linux's tcp_wmem maximum).
   */
  readonly sendBufferMax: number;
  /** Offer the window scale option (RFC 7323) so windows above 64 KiB work. Default true. */
  readonly windowScaling: boolean;
  /**
   * Offer the timestamps option (RFC 7323) in our SYN and SYN-ACK; used when both sides sent it,
   * for RTT measurement on every ACK and PAWS. Default true (as Linux).
   */
  readonly timestamps: boolean;
  /**
   * Offer SACK-permitted (RFC 2018) in our SYN and SYN-ACK; when both sides sent it, our ACKs
   * carry SACK blocks (and D-SACK, RFC 2883) while data is held out of order, and loss recovery
   * uses the SACK scoreboard (RFC 6675): a timeout resends only the holes. Default true.
   */
  readonly sack: boolean;
  /**
   * Out-of-order segments held for reassembly, at most: this many, or as many full-sized
   * segments as the receive buffer holds, whichever is more (their bytes are bounded by the
   * window either way). Default 256. A fixed count below the window's worth made a large window
   * drop most of what followed a loss, and the sender resend it all.
   */
  readonly maxOutOfOrderSegments: number;
  /** Initial retransmission timeout (RFC 6298 2.1), ms. Default 1000. */
  readonly rtoInitial: number;
  /** Lower bound of the RTO, ms. RFC 6298 says 1 s; Linux (and we) use 200 ms. */
  readonly rtoMin: number;
  /** Upper bound of the RTO and of backoff, ms. Default 60000. */
  readonly rtoMax: number;
  /** Longest an ACK is delayed (RFC 1122 4.2.3.2 allows up to 500 ms), ms; 0 acks every segment at once. Default 40. */
  readonly delayedAckTimeout: number;
  /** Maximum segment lifetime, ms; TIME-WAIT lasts 2 * msl. Default 30000 (TIME-WAIT 60 s, as Linux). */
  readonly msl: number;
  /** Retransmissions of an unanswered SYN before `ETIMEDOUT`. Default 6 (as Linux): with the default RTOs it gives up after 1+2+4+8+16+32+60 = 123 s. */
  readonly synRetries: number;
  /** Retransmissions of an unanswered SYN-ACK before the half-open connection is dropped. Default 5. */
  readonly synAckRetries: number;
  /** Consecutive retransmission timeouts of data or FIN before `ETIMEDOUT`. Default 15 (Linux tcp_retries2). */
  readonly dataRetries: number;
  /** RFC 5482 user timeout, ms: sent data unacknowledged this long ends in `ETIMEDOUT`; 0 = off. Default 0. */
  readonly userTimeout: number;
  /** Send keepalive probes on an idle connection. Default false. */
  readonly keepalive: boolean;
  /** Idle time before the first keepalive probe, ms. Default 7200000 (2 h). */
  readonly keepaliveIdle: number;
  /** Time between unanswered keepalive probes, ms. Default 75000. */
  readonly keepaliveInterval: number;
  /** Unanswered keepalive probes before `ETIMEDOUT`. Default 9. */
  readonly keepaliveProbes: number;
  /** Disable Nagle's algorithm (send small segments at once). Default false. */
  readonly noDelay: boolean;
  /** Initial congestion window in segments (RFC 6928). Default 10. */
  readonly initialCwndSegments: number;
  /** How long a connection closed by the user (`close`) may wait in FIN-WAIT-2, ms. Default 60000. */
  readonly finWait2Timeout: number;
  /**
   * Congestion control: 'cubic' (RFC 9438 with HyStart++, as Linux), 'newreno' (RFC 5681/6582)
   * or a factory `(params) => CongestionControl` of one's own. Default 'cubic'.
   */
  readonly congestionControl: CongestionControlChoice;
  /**
   * Challenge ACKs (RFC 5961: answers to in-window RSTs, SYNs and out-of-window ACKs) the whole
   * stack sends per second, on average (RFC 5961 7; each second's budget is randomised between
   * half and 1.5 times this). Default 1000, Linux's tcp_challenge_ack_limit before 6.0 (since
   * then Linux leaves it unlimited by default).
   */
  readonly challengeAckLimit: number;
  /**
   * Explicit Congestion Notification (RFC 3168): 'passive' (default, as Linux) answers an
   * ECN-setup SYN; 'on' also asks for it on connect; 'off' never uses it. On an ECN connection
   * data goes out ECT(0), a CE mark is echoed with ECE until the peer's CWR, and an ECE makes
   * the sender reduce its window once per round trip.
   */
  readonly ecn: TcpEcnMode;
  /**
   * Black-hole detection (RFC 4821): after 3 consecutive retransmission timeouts with a
   * full-sized segment in flight, fall back to a smaller MSS (1024, then halving, never below
   * 512) and later probe larger sizes again. Default false, as Linux (tcp_mtu_probing=0): heavy
   * random loss would otherwise shrink the segments of a healthy path for ten minutes.
   */
  readonly mtuProbing: boolean;
  /** Time after a fallback (or a failed probe) before a larger MSS is tried, ms. Default 600000 (Linux's tcp_probe_interval). */
  readonly mtuProbeInterval: number;
  /**
   * How losses are detected with SACK: 'rack' (RFC 8985 RACK-TLP: tail loss probes) or 'dupack'
   * (RFC 6675 only: three duplicate ACKs or DupThresh SACKed segments). Default 'rack'.
   */
  readonly lossDetection: TcpLossDetection;
  /**
   * F-RTO (RFC 5682; SACK-enhanced with SACK, basic without): after a first timeout, send new data instead of more
   * retransmissions once the resent segment is acknowledged, and undo the timeout if data sent
   * before it arrives without a retransmission (it was spurious: ACKs late or lost). Default true.
   */
  readonly frto: boolean;
  /**
   * ACK at once the first in-order segments of a connection, and those after a pause in the
   * peer's data longer than the RTO (quick-ACK mode, as Linux's tcp_event_data_recv), unless the
   * connection is interactive (it answered data within the delayed-ACK time: its answers carry
   * the ACKs). A sender restarting from a small window, or a Nagle sender holding the rest of a
   * reply for the ACK of its head, is not left waiting for the delayed-ACK timer. Default true.
   */
  readonly quickAckStart: boolean;
}

/** Values of `TcpConfig.lossDetection`. */
export type TcpLossDetection = 'rack' | 'dupack';
export const TCP_LOSS_DETECTIONS: readonly TcpLossDetection[] = ['rack', 'dupack'];

export const DEFAULT_TCP_CONFIG: TcpConfig = Object.freeze({
  mss: 1460,
  sendBufferSize: 256 * 1024,
  receiveBufferSize: 256 * 1024,
  receiveBufferMax: 6 * 1024 * 1024,
  sendBufferMax: 4 * 1024 * 1024,
  windowScaling: true,
  timestamps: true,
  sack: true,
  maxOutOfOrderSegments: 256,
  rtoInitial: 1000,
  rtoMin: 200,
  rtoMax: 60_000,
  delayedAckTimeout: 40,
  msl: 30_000,
  synRetries: 6,
  synAckRetries: 5,
  dataRetries: 15,
  userTimeout: 0,
  keepalive: false,
  keepaliveIdle: 7_200_000,
  keepaliveInterval: 75_000,
  keepaliveProbes: 9,
  noDelay: false,
  initialCwndSegments: 10,
  finWait2Timeout: 60_000,
  congestionControl: 'cubic',
  challengeAckLimit: 1000,
  ecn: 'passive',
  mtuProbing: false,
  mtuProbeInterval: 600_000,
  lossDetection: 'rack',
  frto: true,
  quickAckStart: true,
});

/** Smallest MSS we accept from a peer or a configuration (Linux tcp_min_snd_mss is 48). */
export const MIN_MSS = 64;
/** MSS assumed when the peer sends no MSS option (RFC 9293 3.7.1, IPv4). */
export const DEFAULT_PEER_MSS = 536;
/** IPv4 header + TCP header without options. */
const IPV4_TCP_HEADERS = 40;
/** IPv6 header + TCP header without options: MSS = MTU - 60 over IPv6. */
export const IPV6_TCP_HEADERS = 60;
/** Largest receive buffer window scaling can express: 65535 << 14 (RFC 7323 2.3). */
const MAX_SCALED_WINDOW = 65535 * 2 ** 14;

/** Integer ranges of the numeric options: [min, max]. */
const RANGES: { readonly [K in keyof TcpConfig]?: readonly [number, number] } = {
  mss: [MIN_MSS, 65495],
  sendBufferSize: [1, 2 ** 30],
  receiveBufferSize: [1, MAX_SCALED_WINDOW],
  receiveBufferMax: [1, MAX_SCALED_WINDOW],
  sendBufferMax: [1, 2 ** 30],
  maxOutOfOrderSegments: [0, 1 << 20],
  rtoInitial: [1, 3_600_000],
  rtoMin: [1, 3_600_000],
  rtoMax: [1, 3_600_000],
  delayedAckTimeout: [0, 500],
  msl: [0, 3_600_000],
  synRetries: [0, 255],
  synAckRetries: [0, 255],
  dataRetries: [0, 255],
  userTimeout: [0, 2 ** 31],
  keepaliveIdle: [1, 2 ** 31],
  keepaliveInterval: [1, 2 ** 31],
  keepaliveProbes: [1, 255],
  initialCwndSegments: [1, 1000],
  finWait2Timeout: [0, 2 ** 31],
  challengeAckLimit: [1, 2 ** 31],
  mtuProbeInterval: [1, 2 ** 31],
};

/**
 * Fills in defaults and validates. Throws NetstackError `ERR_INVALID_CONFIG` naming every bad
 * option (unknown keys included), so a bad configuration fails at once rather than per segment.
 */
export function resolveTcpConfig(partial?: Readonly<Partial<TcpConfig>>): TcpConfig {
  if (partial === undefined) return DEFAULT_TCP_CONFIG;
  const merged: Record<string, unknown> = { ...DEFAULT_TCP_CONFIG };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_TCP_CONFIG)) {
      problems.push(`${key}: unknown option`);
      continue;
    }
    merged[key] = value;
  }
  for (const key of Object.keys(DEFAULT_TCP_CONFIG) as (keyof TcpConfig)[]) {
    const value = merged[key];
    const range = RANGES[key];
    if (key === 'congestionControl') {
      if (!isCongestionControlChoice(value)) problems.push(`${key}: expected 'cubic', 'newreno' or a factory function, got ${String(value)}`);
    } else if (key === 'ecn') {
      if (!TCP_ECN_MODES.includes(value as TcpEcnMode)) problems.push(`ecn: expected one of 'off', 'passive', 'on', got ${String(value)}`);
    } else if (key === 'lossDetection') {
      if (!TCP_LOSS_DETECTIONS.includes(value as TcpLossDetection)) problems.push(`${key}: expected one of ${TCP_LOSS_DETECTIONS.join(', ')}, got ${String(value)}`);
    } else if (range === undefined) {
      if (typeof value !== 'boolean') problems.push(`${key}: expected a boolean`);
    } else if (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1]) {
      problems.push(`${key}: expected an integer in [${range[0]}, ${range[1]}], got ${String(value)}`);
    }
  }
  if (problems.length === 0 && (merged.rtoMin as number) > (merged.rtoMax as number)) {
    problems.push('rtoMin: must not exceed rtoMax');
  }
  if (problems.length > 0) {
    throw new NetstackError('ERR_INVALID_CONFIG', `invalid TCP configuration: ${problems.join('; ')}`);
  }
  return Object.freeze(merged as unknown as TcpConfig);
}

/**
 * The MSS for an interface MTU: min(config.mss, mtu - headers), never below MIN_MSS. `headers`
 * is the IP and TCP headers without options: 40 over IPv4 (the default), `IPV6_TCP_HEADERS`
 * (60) over IPv6 (RFC 8200's 40-byte header, RFC 9293 3.7.1).
 */
export function clampMssToMtu(config: TcpConfig, mtu: number, headers: number = IPV4_TCP_HEADERS): TcpConfig {
  const mss = Math.max(MIN_MSS, Math.min(config.mss, mtu - headers));
  return mss === config.mss ? config : Object.freeze({ ...config, mss });
}

/**
 * The largest the receive buffer of a connection with `config` can become: the auto-tuning cap,
 * or the fixed size when auto-tuning is off. The window scale we offer is chosen for it.
 */
export function receiveBufferLimit(config: TcpConfig): number {
  return config.receiveBufferMax > config.receiveBufferSize ? config.receiveBufferMax : config.receiveBufferSize;
}

/** Whether receive-buffer auto-tuning is on for `config` (the cap is above the initial size). */
export function receiveAutoTuning(config: TcpConfig): boolean {
  return config.receiveBufferMax > config.receiveBufferSize;
}

/** Buffer sizes a user fixes for one connection or listener (`listen` / `connect` options). */
export interface FixedBufferSizes {
  readonly receiveBufferSize?: number;
  readonly sendBufferSize?: number;
}

/** Pushes a problem for each size in `sizes` that is not a valid buffer size, naming the field. */
export function fixedBufferProblems(sizes: FixedBufferSizes, problems: string[]): void {
  for (const key of ['receiveBufferSize', 'sendBufferSize'] as const) {
    const value: unknown = sizes[key];
    const range = RANGES[key] as readonly [number, number];
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1])) {
      problems.push(`${key}: expected an integer in [${range[0]}, ${range[1]}], got ${String(value)}`);
    }
  }
}

/**
 * `config` with the buffer sizes a user chose for one connection or listener (validated with
 * `fixedBufferProblems`): each one given is fixed, its auto-tuning off, as setting SO_RCVBUF /
 * SO_SNDBUF does on Linux.
 */
export function withFixedBuffers(config: TcpConfig, sizes: FixedBufferSizes): TcpConfig {
  const { receiveBufferSize: rcv, sendBufferSize: snd } = sizes;
  if (rcv === undefined && snd === undefined) return config;
  return Object.freeze({
    ...config,
    ...(rcv !== undefined ? { receiveBufferSize: rcv, receiveBufferMax: rcv } : {}),
    ...(snd !== undefined ? { sendBufferSize: snd, sendBufferMax: snd } : {}),
  });
}

/**
 * The window scale shift we offer for a receive buffer: the smallest shift that lets the
 * 16-bit window field express the whole buffer (RFC 7323 2.2; at most 14).
 */
export function windowScaleFor(receiveBufferSize: number): number {
  let shift = 0;
  while (shift < 14 && receiveBufferSize >> shift > 65535) shift++;
  return shift;
}
