/**
 * One TCP connection as a pure state machine (RFC 9293), in the sans-IO style of smoltcp:
 * segments, user calls and timer expirations go in, with the time `now` (ms) passed by the
 * caller; segments and events come out through a host object. No I/O, no timers, no clocks.
 *
 * Driving it (the wiring does this; see also src/tcp/index.ts):
 *
 * ```ts
 * const conn = new TcpConnectionCore({ localAddr, localPort, remoteAddr, remotePort, iss, host, config });
 * conn.connect(now);                 // active open: sends SYN
 * conn.handleSegment(seg, now);      // every segment of this 4-tuple
 * conn.write(bytes, now);            // returns bytes accepted (less when the send buffer is full)
 * conn.read(max);                    // in-order bytes; reading reopens the window
 * conn.shutdown(now);                // FIN after queued data (half-close)
 * conn.abort(now);                   // RST
 * // after EVERY call above: re-arm the connection's single timer
 * const at = conn.nextDeadline();    // undefined = no timer
 * // when it fires:
 * conn.handleTimer(now);
 * ```
 *
 * Outgoing segments go to `host.send(conn, seg)`. The record is fresh, but its payload is a view
 * into the send buffer that stays valid only until those bytes are acknowledged: encode (copy)
 * it into the packet buffer before `send` returns. Events (`onReadable`, `onClosed`, ...) are
 * delivered at the end of the call that caused them, when the connection is consistent, so a
 * handler may call back into the connection.
 *
 * Layout of the processing follows RFC 9293 3.10.7 ("SEGMENT ARRIVES"), with RFC 5961 for RST,
 * SYN and ACK validation, RFC 1337 in TIME-WAIT, RFC 6298 timers, RFC 5681/6582 congestion
 * control (behind src/tcp/congestion), RFC 7323 window scaling and RFC 1122 delayed ACKs and
 * silly-window avoidance, RFC 7323 timestamps and PAWS (timestamps.ts), RFC 2018/2883 SACK blocks
 * on our ACKs (sack-blocks.ts), SACK-based loss recovery as a sender: RFC 6675
 * (sack-scoreboard.ts), RACK-TLP (RFC 8985, rack.ts), PRR (RFC 6937, prr.ts) and D-SACK undo
 * (RFC 2883/3708). Not implemented: urgent data (URG is ignored and the data delivered inline),
 * data on SYN (not acknowledged; the peer resends it).
 */

import { netError, type NetstackError, type NetstackErrorCode } from '../errors.js';
import { formatIpv4, type Ipv4Addr } from '../ipv4/address.js';
import { IPV6_ID_BASE, isIpv6 } from '../ip/address-book.js';
import { enabledCheck, log } from '../log.js';
import { TcpFlags, type TcpRepr } from '../wire/tcp.js';
import { DEFAULT_PEER_MSS, DEFAULT_TCP_CONFIG, MIN_MSS, receiveAutoTuning, receiveBufferLimit, windowScaleFor, type TcpConfig } from './config.js';
import { DeliveryMeter, ReceiveBufferTuner, sendBufferTargetFor } from './buffer-tuning.js';
import type { CongestionControl, CongestionControlFactory } from './congestion/congestion-control.js';
import { congestionControlFactory } from './congestion/select.js';
import type { ChallengeAckLimiter } from './challenge-ack-limit.js';
import { createTcpCounters, type TcpCounters } from './counters.js';
import { EcnState, isEcnSetupSyn, isEcnSetupSynAck } from './ecn.js';
import { BlackHoleDetector, FLOOR_MSS_IPV6 } from './plpmtud.js';
import { PathMtu } from './pmtu.js';
import { ReceiveBuffer } from './receive-buffer.js';
import { RttEstimator, type RttSampleSink } from './rtt.js';
import { MAX_SACK_BLOCKS, MAX_SACK_BLOCKS_WITH_TIMESTAMPS, SackReporter } from './sack-blocks.js';
import { RTT_FALLBACK_ECR, RTT_FALLBACK_NONE, RTT_FALLBACK_TAKEN, RTT_FALLBACK_TIMED, rttSince, type SackSendTimes } from './sack-rtt.js';
import { DUP_THRESH, NextSegKind, SackScoreboard } from './sack-scoreboard.js';
import { Prr } from './prr.js';
import { Frto, FRTO_NEW_SENT, FRTO_OFF, FRTO_SPURIOUS } from './frto.js';
import { probeTimeout, Rack, recoveryProbeTimeout } from './rack.js';
import { TLP_REPAIRED, TLP_SPURIOUS, TlpEpisode } from './tlp.js';
import { SpuriousRtoDetector, SRTO_REAL, SRTO_SEND_NEW, SRTO_SPURIOUS_EIFEL, SRTO_SPURIOUS_FRTO } from './spurious-rto.js';
import { quickAckBudget } from './quick-ack.js';
import { SendBuffer } from './send-buffer.js';
import { seqAdd, seqDiff, seqGeq, seqGt, seqInRange, seqLeq, seqLt } from './seq.js';
import { acceptsText, canUserSend, type TcpState } from './state.js';
import { TcpTimestamps, timestampOffset } from './timestamps.js';
import { tsoSegmentBytes, tsoShouldDefer } from './tso-size.js';
import type { ChildQueue } from './child-queue.js';

/** `log.tcp.enabled` for setState, 5-6 times per connection (log.ts `enabledCheck` says why). */
const tcpLogOn = enabledCheck(log.tcp);

/** RFC 6675 loss episodes (SACK only): none, fast recovery, holes resent after a timeout. */
const EPISODE_NONE = 0;
const EPISODE_RECOVERY = 1;
const EPISODE_RTO = 2;
type LossEpisode = typeof EPISODE_NONE | typeof EPISODE_RECOVERY | typeof EPISODE_RTO;

const { FIN, SYN, RST, PSH, ACK, ECE, CWR } = TcpFlags;
const EMPTY = new Uint8Array(0);
/** `transitions` before the first (shared, never written: see setState). */
const NO_TRANSITIONS: TcpState[] = [];
const NEVER = Number.POSITIVE_INFINITY;
/**
 * Most in-order bytes a deferred ACK (TcpHost.deferAck) waits for: beyond, an ACK is built at once
 * (and the next one deferred again). 128 KiB: one ACK built per two 64 KiB segments instead of
 * one per segment, with the ACKs written as before (the TAP link's coalescer keeps one per MiB of
 * a batch). Deferring every ACK to the end of the batch (1 MiB here) halved the ACKs written and
 * made bulk to the stack unstable: some runs 10 % slower (docs/history/topics.md "Session 7: bulk
 * to the stack"; the
 * slow runs were more likely the receive slab's, found in session 12, where 1 MiB measured the
 * same as 128 KiB).
 */
const ACK_DEFER_MAX = 128 << 10;
/** Why a pure ACK waits for the end of the host's batch (TcpConnectionCore.ackOwed). */
const OWED_FIN_ACK = 1;
const OWED_WINDOW_UPDATE = 2;
/**
 * At most one ACK per this many ms in answer to out-of-window pure ACKs (Linux's
 * tcp_invalid_ratelimit, 500 ms). Without it two ends that both probe a zero window answer each
 * other's unacceptable ACK with one of their own, forever.
 */
const OUT_OF_WINDOW_ACK_INTERVAL = 500;
/** The timestamps option with its padding, in every segment once negotiated. */
const TIMESTAMP_OPTION_BYTES = 12;
/** Most header bytes in front of a large segment's payload: IPv4 and TCP, options included. */
const GSO_HEADERS_MAX = 20 + 60;

// Pending events, delivered together at the end of each public call.
const EV_ESTABLISHED = 1;
const EV_READABLE = 2;
const EV_WRITABLE = 4;
const EV_PEER_FIN = 8;
const EV_CLOSED = 16;
const EV_STATE = 32;

/** What the core needs from its surroundings: a way out for segments, and event handlers. */
export interface TcpHost {
  /**
   * Transmit `seg` to the connection's remote address. The payload is a view into the send
   * buffer: copy it (encode the segment) before returning. Deliver asynchronously: a `send`
   * that synchronously feeds a segment back into a core (loopback) re-enters it mid-call.
   * `ect`: send it ECN-capable, ECT(0) in the IP header (new data on an ECN connection).
   */
  send(conn: TcpConnectionCore, seg: TcpRepr, ect: boolean): void;
  /**
   * Every state change, in order, delivered with the other events at the end of the call that
   * caused it (before onEstablished/onReadable/.../onClosed of the same call).
   */
  onStateChange?(conn: TcpConnectionCore, from: TcpState, to: TcpState): void;
  /** The handshake completed (both active and passive opens). */
  onEstablished?(conn: TcpConnectionCore): void;
  /** New in-order bytes can be read. */
  onReadable?(conn: TcpConnectionCore): void;
  /** Send-buffer space was freed after a `write` had accepted less than it was given. */
  onWritable?(conn: TcpConnectionCore): void;
  /** The peer's FIN arrived in order: after the readable bytes, the stream ends. */
  onPeerFin?(conn: TcpConnectionCore): void;
  /**
   * The connection recorded a send time (a data or FIN segment, or a timed SYN) for the first
   * time since its last `stampSent`: call `conn.stampSent(now)` once the segments built so far
   * have been handed to the link, so that RTT samples and RACK's loss deadlines count from when
   * they left rather than from the clock reading the batch was built at. Called at most once per
   * batch; only note the connection here (do not call back into it). Without it (or without a
   * stamp) send times are the time passed to the call that built the segment.
   */
  onSendTimed?(conn: TcpConnectionCore): void;
  /**
   * In-order data owes the peer an ACK (RFC 1122's every-second-full-segment rule) while the
   * host is handing the connection a batch of segments it read together: return true to have
   * the ACK built once, when the host calls `conn.sendDeferredAck(now)` at the end of that batch
   * (which it then must do), instead of now; an ACK is still built at once whenever 128 KiB
   * are waiting for one. Everything an ACK says is cumulative, and the batch's replies leave
   * together at its end anyway, so the ACKs left out said nothing the later ones do not. Once
   * it said yes, not asked again until `sendDeferredAck`; only note the connection here (do
   * not call back into it). Never asked for out-of-order data, a FIN, a gap filling, quick
   * ACKs, or with `delayedAckTimeout` 0: those ACK at once. Without it every ACK is built when
   * owed.
   */
  deferAck?(conn: TcpConnectionCore): boolean;
  /**
   * The connection reached CLOSED: gracefully (no error; after TIME-WAIT, LAST-ACK, or `abort`)
   * or with ECONNREFUSED, ECONNRESET or ETIMEDOUT. Release the 4-tuple now.
   */
  onClosed?(conn: TcpConnectionCore, error: NetstackError | undefined): void;
}

/** How a listener follows the children it created (see TcpListener). */
export interface TcpChildObserver {
  childEstablished(conn: TcpConnectionCore): void;
  childClosed(conn: TcpConnectionCore): void;
}

export interface TcpConnectionOptions {
  readonly localAddr: Ipv4Addr;
  readonly localPort: number;
  readonly remoteAddr: Ipv4Addr;
  readonly remotePort: number;
  /** Initial send sequence number (from IsnGenerator). */
  readonly iss: number;
  readonly host: TcpHost;
  /** A resolved configuration (resolveTcpConfig); default DEFAULT_TCP_CONFIG. */
  readonly config?: TcpConfig;
  /** Congestion control; default the configuration's `congestionControl`. */
  readonly congestion?: CongestionControlFactory;
  /** Offset of our timestamp clock (RFC 7323); default timestampOffset(iss). */
  readonly tsOffset?: number;
  /** The stack's shared challenge-ACK budget (RFC 5961 7); default none (no limit). */
  readonly challengeAcks?: ChallengeAckLimiter;
  /** The stack's buffer memory (limits.ts): under pressure, auto-tuning grows no buffer. */
  readonly memory?: TcpMemoryPressure;
}

/** What the core asks of the stack's memory account (src/tcp/limits.ts). */
export interface TcpMemoryPressure {
  readonly pressure: boolean;
}

/** What a SYN cookie remembered of the SYN (see TcpListener). */
export interface SynCookieParams {
  readonly irs: number;
  /** The MSS encoded in the cookie. */
  readonly mss: number;
  /** The raw window we put in the stateless SYN-ACK. */
  readonly window: number;
  /** The peer's window scale from the cookie's timestamp; undefined = no window scaling. */
  readonly peerWindowScale?: number;
  /** The SYN offered SACK-permitted (and our SYN-ACK answered it). */
  readonly sackPermitted?: boolean;
  /** The SYN was ECN-setup and our SYN-ACK answered with ECE (RFC 3168 6.1.1). */
  readonly ecn?: boolean;
  /** TSval of the completing ACK when timestamps are in use (they were in SYN and SYN-ACK). */
  readonly tsVal?: number;
  /** Its TSecr: the cookie SYN-ACK's TSval, not a clock reading (no RTT sample from it). */
  readonly tsEcr?: number;
}

/** States where an ICMP error about our segments may act: the handshake is done (data can be in flight). */
function isSynchronizedForIcmp(s: TcpState): boolean {
  return s !== 'CLOSED' && s !== 'LISTEN' && s !== 'SYN-SENT' && s !== 'SYN-RECEIVED' && s !== 'TIME-WAIT';
}

export class TcpConnectionCore {
  readonly localAddr: Ipv4Addr;
  readonly localPort: number;
  readonly remoteAddr: Ipv4Addr;
  readonly remotePort: number;
  readonly config: TcpConfig;
  /** Nagle off; see setNoDelay. */
  private noDelay: boolean;
  private keepaliveOn: boolean;
  private keepaliveIdle: number;
  /** Where segments and events go; the wiring may swap it (e.g. when a connection is accepted). */
  host: TcpHost;
  /** The listener that created this connection, if any. */
  parent: TcpChildObserver | undefined;
  /** @internal The listener's queue (half-open or accept) holding this connection, and its neighbours there (child-queue.ts). */
  queue: ChildQueue<TcpConnectionCore> | undefined = undefined;
  /** @internal */
  queuePrev: TcpConnectionCore | undefined = undefined;
  /** @internal */
  queueNext: TcpConnectionCore | undefined = undefined;
  readonly counters: TcpCounters = createTcpCounters();

  // Send sequence space (RFC 9293 3.3.1). Public for inspection; only the core writes them.
  readonly iss: number;
  sndUna: number;
  sndNxt: number;
  /** Highest sequence number sent (exclusive): SND.NXT can go back to SND.UNA after a timeout. */
  sndMax: number;
  /** Send window in bytes (already scaled). */
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** Largest window the peer has offered (RFC 9293 3.8.6.2.1, RFC 5961 5.2). */
  maxSndWnd = 0;
  /** End of the last short new-data segment sent (Minshall's Nagle: see transmitData). */
  private sndSml: number;
  sndWndScale = 0;
  /**
   * Effective send MSS: min(peer's MSS option or 536, config.mss), less the 12 bytes of the
   * timestamps option when it is in use (RFC 6691: the MSS counts data and options together).
   */
  sndMss: number;
  /**
   * Largest IPv4 packet (headers included) the path takes whole and cuts into segments of one
   * MSS itself (TCP segmentation offload on the link; the wiring sets it from the route): new
   * data then leaves in segments of several MSS, sized by tso-size.ts. 0 (the default): every
   * segment is at most one MSS.
   */
  gsoMaxBytes = 0;
  /**
   * The reader (the host's `onReadable`) takes each chunk's bytes before the call that made it
   * readable returns, and keeps no view of it (a relay copying it into another send buffer): a
   * small in-order payload into an empty receive buffer is then handed over as the view of the
   * frame it came in, without the copy into the buffer's block (copied at the end of the call
   * if it was not read). The wiring sets it per reader.
   */
  readerCopies = false;

  // Receive sequence space.
  irs = 0;
  rcvNxt = 0;
  rcvWndScale = 0;
  /** RCV.NXT + the window last advertised: never moved left (RFC 9293 3.8.6). */
  private rcvAdvRight = 0;
  private maxRcvWnd = 0;
  /** Largest segment seen from the peer (for "every second full-sized segment"). */
  private rcvMss = DEFAULT_PEER_MSS;

  private _state: TcpState = 'CLOSED';
  private _error: NetstackError | undefined;

  private readonly sendBuf: SendBuffer;
  private readonly recvBuf: ReceiveBuffer;
  private readonly rtt: RttEstimator;
  private readonly cc: CongestionControl;
  private readonly challengeAckLimiter: ChallengeAckLimiter | undefined;
  private readonly memory: TcpMemoryPressure | undefined;
  /** IPv4's (RFC 1191) or IPv6's (RFC 8201), by the family of the remote address. */
  private readonly pathMtu: PathMtu;
  private readonly ecn = new EcnState();
  /** RFC 4821 black-hole detection and probing (undefined with `mtuProbing` off). */
  private readonly blackHole: BlackHoleDetector | undefined;
  /** The MSS negotiated with the peer, remembered when the path first lowered sndMss. */
  private mssCeiling = 0;
  /** The last ICMP error about an established connection (RFC 1122 4.2.3.9 soft error). */
  private softErrorCode: NetstackErrorCode | undefined;
  private softErrorText = '';

  /** Window scale we put in our SYN / SYN-ACK; undefined = no option. */
  private wsOption: number | undefined;
  /**
   * Both sides sent SACK-permitted (RFC 2018): our ACKs carry SACK blocks, and our loss recovery
   * uses the peer's (the scoreboard, see enableSackRecovery).
   */
  private sackOk = false;
  /** Both sides sent the timestamps option (RFC 7323): every segment carries it. */
  private tsOk = false;
  /** TSval clock, TS.Recent, Last.ACK.sent, PAWS (used only when tsOk). */
  private readonly ts: TcpTimestamps;
  /** Which SACK / D-SACK blocks our next ACK reports (used only when sackOk). */
  private readonly sackReport = new SackReporter();
  /** The timestamps option of the last segment sent (see timestampOption). */
  private lastTimestampOption: { readonly tsVal: number; readonly tsEcr: number } | undefined;
  /** The clock reading `lastTimestampOption`'s TSval was computed for (NaN: none yet). */
  private lastTimestampClock = Number.NaN;
  private synWindowSent = 0;
  private synAcked = false;
  private synRetransmitted = false;
  private passiveOpen = false;
  /** The user called shutdown/close: a FIN follows the queued data at `finSeq`. */
  private finQueued = false;
  private finSeq = 0;
  private finSent = false;
  private finAcked = false;
  private finReceived = false;
  /** The peer's FIN arrived out of order at `peerFinSeq`. */
  private peerFinPending = false;
  private peerFinSeq = 0;
  /** `close` was called: no more reads; data arriving now resets the connection. */
  private orphaned = false;

  // Timers: absolute times in ms, NEVER when off. nextDeadline() is their minimum.
  private rtxAt = NEVER;
  private persistAt = NEVER;
  private delackAt = NEVER;
  private keepaliveAt = NEVER;
  /** TIME-WAIT expiry, or the FIN-WAIT-2 limit of a closed connection. */
  private closeAt = NEVER;
  /** The latest `now` any call passed in: the TSval clock for segments sent from `read`. */
  private clock = 0;
  /** When we last answered an out-of-window pure ACK (rate limit). */
  private outOfWindowAckAt = -NEVER;

  /** Consecutive timeouts (SYN or data) without progress. */
  private retries = 0;
  private persistBackoff = 0;
  private probesUnanswered = 0;
  private keepaliveSent = 0;
  /** When the oldest outstanding data was last known to progress (user timeout). */
  private progressAt = 0;
  private lastSendAt = NEVER;
  /** Send times recorded since the last stampSent (host.onSendTimed was told). */
  private sendTimesUnstamped = false;

  private ackNow = false;
  /** An ACK owed for in-order data waits for the host's sendDeferredAck (TcpHost.deferAck). */
  private ackDeferred = false;
  /**
   * A pure ACK the batch's end owes even without unacknowledged data (OWED_FIN_ACK,
   * OWED_WINDOW_UPDATE), unless a segment sent before then carries it (emit clears this): the
   * ACK of a FIN that the application answers with its own FIN, or the window a read opened and
   * a reply then advertises. Without a deferring host both leave at once, as before.
   */
  private ackOwed = 0;
  /** In-order bytes received since we last sent an ACK. */
  private unackedBytes = 0;
  /** Quick-ACK mode (quick-ack.ts): in-order segments still to be ACKed without delay. */
  private quickAcks = 0;
  /** The quick ACKs were given for a start or an idle gap: they may wait for the batch's end. */
  private quickAcksDeferrable = false;
  /** When in-order data last arrived (NEVER: none yet). */
  private lastDataAt = NEVER;
  /**
   * Interactive (Linux's pingpong mode): we answered data within the delayed-ACK time, so our
   * ACKs ride on the answers and a start or an idle gap gives no quick ACKs (quick-ack.ts).
   */
  private interactive = false;
  /** Duplicate ACKs in a row, for Limited Transmit (RFC 3042). */
  private dupAcks = 0;
  /** The raw window field of the peer's last acceptable segment (duplicate-ACK test). */
  private lastPeerWindow = -1;

  private events = 0;
  /**
   * The state transition not yet reported, when only one is (nearly always: each is reported
   * at the end of the call that made it): `pendingTo` undefined when there is none. No array is
   * made for it (one per connection was ~180 bytes, most of them for its first growth).
   */
  private pendingFrom: TcpState = 'CLOSED';
  private pendingTo: TcpState | undefined = undefined;
  /**
   * Transitions made while another was pending: [from, to, from, to, ...], those from
   * `transitionsRead` to `transitionsEnd` not yet reported, all later than `pendingTo`'s. Made
   * at the first such (NO_TRANSITIONS, shared and never written, before), never truncated: both
   * indices go back to 0 once all are reported (`length = 0` was a call into V8's runtime).
   */
  private transitions: TcpState[] = NO_TRANSITIONS;
  private transitionsRead = 0;
  private transitionsEnd = 0;
  private wantWritable = false;
  /** connect/listen/fromSynCookie was used: a core opens once. */
  private opened = false;

  /**
   * The SACK scoreboard, created when SACK is negotiated and there is something to send (see
   * enableSackRecovery): until then nothing is in flight for it to track.
   */
  private sack: SackScoreboard | undefined;
  /** RFC 6675 loss episode: none, fast recovery, or resending holes after a timeout. */
  private lossEpisode: LossEpisode = EPISODE_NONE;
  /** RFC 6675 RecoveryPoint, exclusive: the episode ends when SND.UNA reaches it. */
  private recoveryPoint = 0;
  /** Tail loss probe timer (RFC 8985 7), and whether a probe awaits its ACK. */
  private tlpAt = NEVER;
  private tlpOutstanding = false;
  /** TLP loss detection (RFC 8985 7.4): made by the first probe that resends data. */
  private tlp: TlpEpisode | undefined;
  /** RACK (RFC 8985), with SACK and lossDetection 'rack': transmit times and loss marking. */
  private rack: Rack | undefined;
  /** RACK reordering timer: when the next segment in flight would be deemed lost. */
  private rackAt = NEVER;
  /** Proportional Rate Reduction (RFC 6937): the sending budget during fast recovery. */
  private prr: Prr | undefined;
  /**
   * D-SACK undo (RFC 2883, RFC 3708): the last episode's start (SND.UNA), the end of what it
   * retransmitted, and the bytes it retransmitted not yet reported duplicate (bytes, so a D-SACK
   * covering only part of a retransmission leaves the rest unexplained); undefined once undone or
   * when a new episode replaces it.
   */
  private undoMarker: number | undefined;
  private undoHigh = 0;
  private undoRetrans = 0;
  /** Eifel (RFC 3522): the TSval of the first retransmission after a timeout, until its first ACK. */
  private eifelTsVal: number | undefined;
  /** F-RTO (RFC 5682, with SACK): after a first timeout, whether it was spurious. */
  private frto: Frto | undefined;
  /**
   * The highest sequence number (exclusive) ever retransmitted, while `rtxPending` (until
   * SND.UNA passes it): an ACK from below it may answer a retransmission, and its RTT is then
   * not taken from a send time (Karn).
   */
  private rtxHigh = 0;
  private rtxPending = false;
  /**
   * RTT at SACK time (sack-rtt.ts): set while an ACK that newly SACKed data is processed with
   * RACK running, whose send times give a sample once RACK has seen the ACK (rttOnSack). When
   * the cumulative ACK gave no sample of its own, its fallback (the TSecr echo, `rttFallbackEcr`
   * ms, or the timed segment, at `rttFallbackAck`) waits until then: Linux prefers the SACK's.
   */
  private sackRttDue = false;
  private rttFallback: number = RTT_FALLBACK_NONE;
  private rttFallbackAck = 0;
  private rttFallbackEcr = 0;
  /** Without SACK: basic F-RTO (RFC 5682 2) and Eifel (RFC 3522) after a timeout (spurious-rto.ts). */
  private srto: SpuriousRtoDetector | undefined;
  /** Receive-buffer auto-tuning (buffer-tuning.ts), from the first in-order data when on. */
  private rcvTuner: ReceiveBufferTuner | undefined;
  /** The path's delivery per minimum RTT, measured while send-buffer tuning is on. */
  private delivery: DeliveryMeter | undefined;

  constructor(options: TcpConnectionOptions) {
    this.localAddr = options.localAddr;
    this.localPort = options.localPort;
    this.remoteAddr = options.remoteAddr;
    this.remotePort = options.remotePort;
    this.host = options.host;
    this.config = options.config ?? DEFAULT_TCP_CONFIG;
    this.noDelay = this.config.noDelay;
    this.keepaliveOn = this.config.keepalive;
    this.keepaliveIdle = this.config.keepaliveIdle;
    this.iss = options.iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.sndSml = this.iss;
    this.sndMss = Math.min(DEFAULT_PEER_MSS, this.config.mss);
    this.sendBuf = new SendBuffer(this.config.sendBufferSize);
    const windowSegments = Math.ceil(this.config.receiveBufferSize / this.config.mss);
    this.recvBuf = new ReceiveBuffer(this.config.receiveBufferSize, Math.max(this.config.maxOutOfOrderSegments, windowSegments));
    this.rtt = new RttEstimator(this.config);
    this.cc = (options.congestion ?? congestionControlFactory(this.config.congestionControl))({ initialWindowSegments: this.config.initialCwndSegments, counters: this.counters });
    // Every RTT sample, whatever measured it, reaches an algorithm that wants them.
    if (this.cc.onRttSample !== undefined) this.rtt.sampleSink = this.cc as RttSampleSink;
    this.ts = new TcpTimestamps(options.tsOffset ?? timestampOffset(this.iss));
    this.challengeAckLimiter = options.challengeAcks;
    this.memory = options.memory;
    this.pathMtu = new PathMtu(this.remoteAddr >= IPV6_ID_BASE);
    this.blackHole = this.config.mtuProbing ? new BlackHoleDetector(this.config.mtuProbeInterval, this.pathMtu.headers === 40 ? undefined : FLOOR_MSS_IPV6) : undefined;
  }

  /**
   * A connection completing a SYN-cookie handshake (the listener validated the cookie in the
   * ACK): it starts in SYN-RECEIVED as if its SYN-ACK had been sent; pass the ACK to
   * `handleSegment` next. The SYN's options come back from the cookie: the MSS, and when
   * timestamps were in use window scaling and SACK-permitted (see syn-cookie.ts).
   */
  static fromSynCookie(options: TcpConnectionOptions, params: SynCookieParams): TcpConnectionCore {
    const conn = new TcpConnectionCore(options);
    conn.irs = params.irs >>> 0;
    conn.rcvNxt = seqAdd(conn.irs, 1);
    conn.sndMss = Math.max(MIN_MSS, Math.min(params.mss, conn.config.mss));
    conn.sndNxt = seqAdd(conn.iss, 1);
    conn.sndMax = conn.sndNxt;
    conn.sndWl1 = conn.irs;
    conn.sndWl2 = conn.iss;
    conn.synWindowSent = params.window;
    conn.rcvAdvRight = seqAdd(conn.rcvNxt, params.window);
    conn.maxRcvWnd = params.window;
    conn.passiveOpen = true;
    conn.opened = true;
    if (params.peerWindowScale !== undefined && conn.config.windowScaling) {
      conn.sndWndScale = Math.min(params.peerWindowScale, 14);
      conn.rcvWndScale = windowScaleFor(receiveBufferLimit(conn.config));
      conn.wsOption = conn.rcvWndScale;
    }
    conn.sackOk = params.sackPermitted === true && conn.config.sack;
    if (conn.sackOk) conn.enableSackRecovery();
    conn.ecn.active = params.ecn === true && conn.config.ecn !== 'off';
    if (params.tsVal !== undefined && conn.config.timestamps) {
      // TS.Recent is the ACK's own TSval (it is acceptable and at Last.ACK.sent = RCV.NXT).
      conn.tsOk = true;
      conn.sndMss = Math.max(MIN_MSS, conn.sndMss - TIMESTAMP_OPTION_BYTES);
      conn.ts.start(params.tsVal, 0);
      conn.ts.lastAckSent = conn.rcvNxt;
      conn.ts.unusableEcr = params.tsEcr;
    }
    conn.setState('SYN-RECEIVED');
    return conn;
  }

  // ---------------------------------------------------------------------------------------------
  // Inspection

  get state(): TcpState {
    return this._state;
  }

  /** Why the connection closed, if it closed on an error. */
  get error(): NetstackError | undefined {
    return this._error;
  }

  /** In-order bytes ready for `read`. */
  get readableLength(): number {
    return this.recvBuf.readable;
  }

  /** Bytes `write` would accept now. */
  get writableLength(): number {
    return canUserSend(this._state) && !this.finQueued ? this.sendBuf.free : 0;
  }

  /** Bytes written and not yet acknowledged (sent or not). */
  get bufferedLength(): number {
    return this.sendBuf.length;
  }

  /** Bytes received out of order, held until the gap before them fills (memory accounting). */
  get outOfOrderBytes(): number {
    return this.recvBuf.outOfOrderBytes;
  }

  /** The peer's FIN has arrived (in order). */
  get peerFinished(): boolean {
    return this.finReceived;
  }

  /** Everything the peer sent has been read and its FIN seen: end of stream. */
  get readEnded(): boolean {
    return this.finReceived && this.recvBuf.readable === 0;
  }

  /** Current retransmission timeout, ms. */
  get rto(): number {
    return this.rtt.rto;
  }

  /** Smoothed RTT, ms (0 before the first sample). */
  get srtt(): number {
    return this.rtt.srtt;
  }

  /** RTT variation (RFC 6298 RTTVAR), ms; 0 before the first sample. */
  get rttvar(): number {
    return this.rtt.rttvar;
  }

  /** The MSS we announced: the largest segment we expect to receive. */
  get receiveMss(): number {
    return this.rcvMss;
  }

  get cwnd(): number {
    return this.cc.cwnd;
  }

  get ssthresh(): number {
    return this.cc.ssthresh;
  }

  /** Name of the congestion-control algorithm ('cubic', 'newreno' or a factory's own). */
  get congestionControl(): string {
    return this.cc.name;
  }

  /** Both sides sent the timestamps option (RFC 7323). */
  get timestampsNegotiated(): boolean {
    return this.tsOk;
  }

  /** Both sides sent SACK-permitted (RFC 2018). */
  get sackNegotiated(): boolean {
    return this.sackOk;
  }

  /** Path MTU estimate (IP packet bytes) from ICMP or ICMPv6; Infinity while nothing lowered it. */
  get pmtu(): number {
    return this.pathMtu.mtu;
  }

  /** ECN (RFC 3168) was negotiated in the handshake. */
  get ecnActive(): boolean {
    return this.ecn.active;
  }

  /** Whether segments go out with DF: false once ICMP asked for less than the 552-byte floor. */
  get dontFragment(): boolean {
    return this.pathMtu.dontFragment;
  }

  /** The window we last advertised, in bytes. */
  get rcvWnd(): number {
    return Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));
  }

  /** The receive buffer's current size, bytes: `receiveBufferSize`, raised by auto-tuning. */
  get receiveBufferSize(): number {
    return this.recvBuf.capacity;
  }

  /** The send buffer's current size, bytes: `sendBufferSize`, raised by auto-tuning. */
  get sendBufferSize(): number {
    return this.sendBuf.capacity;
  }

  /** The receiver's own RTT estimate for auto-tuning (Linux's rcv_rtt), ms; 0 while none. */
  get receiveRtt(): number {
    return this.rcvTuner === undefined ? 0 : this.rcvTuner.rttMs;
  }

  /** Bytes read in one RTT that the receive buffer was last sized for (Linux's rcv_space); 0 while not tuning. */
  get receiveSpace(): number {
    return this.rcvTuner === undefined ? 0 : this.rcvTuner.space;
  }

  /** For logs. The core has no address book: an IPv6 address shows as its id (`[v6 #id]`). */
  toString(): string {
    return `${addrText(this.localAddr)}:${this.localPort}-${addrText(this.remoteAddr)}:${this.remotePort}`;
  }

  // ---------------------------------------------------------------------------------------------
  // User calls

  /** Active open (RFC 9293 3.10.1): CLOSED -> SYN-SENT, sends SYN. */
  connect(now: number): void {
    this.requireClosed('connect');
    if (now > this.clock) this.clock = now;
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    this.wsOption = this.config.windowScaling ? windowScaleFor(receiveBufferLimit(this.config)) : undefined;
    this.setState('SYN-SENT');
    this.sendSyn();
    this.rtt.startTiming(this.sndNxt, now);
    this.noteSendTimed();
    this.rtxAt = now + this.rtt.rto;
    this.flushEvents();
  }

  /** Passive open of this one connection (RFC 9293 3.10.1): CLOSED -> LISTEN; a SYN then opens it. */
  listen(): void {
    this.requireClosed('listen');
    this.setState('LISTEN');
    this.flushEvents();
  }

  /**
   * Queues bytes to send. Returns how many were accepted: fewer than given when the send buffer
   * is full (then `onWritable` fires when space frees up). Data written before the handshake
   * completes goes out once it does.
   * @throws NetstackError EPIPE after shutdown/close or once the connection is closed.
   */
  write(data: Uint8Array, now: number): number {
    if (!canUserSend(this._state) || this.finQueued) {
      throw netError('EPIPE', `write after end on ${this.toString()} (${this._state})`, 'write');
    }
    if (now > this.clock) this.clock = now;
    const n = this.sendBuf.write(data, now);
    if (n > 0 && this.sackOk && this.sack === undefined) this.allocateSackRecovery();
    if (n < data.length || this.sendBuf.free === 0) this.wantWritable = true;
    if (n > 0 && (this._state === 'ESTABLISHED' || this._state === 'CLOSE-WAIT')) this.output(now);
    this.flushEvents();
    return n;
  }

  /**
   * Takes up to `maxBytes` in-order received bytes (at most one contiguous chunk, usually the
   * payload view of one segment: no copy). Undefined when nothing is readable. Reading frees
   * receive window; when it opens significantly a window update is sent at once
   * (RFC 1122 4.2.3.3, receiver silly-window avoidance). `now` (default: the latest time any
   * call passed in) times the reader's rate for receive-buffer auto-tuning.
   */
  read(maxBytes?: number, now?: number): Uint8Array | undefined {
    const chunk = this.recvBuf.read(maxBytes);
    if (chunk === undefined) return undefined;
    if (now !== undefined && now > this.clock) this.clock = now;
    if (this.rcvTuner !== undefined) this.tuneReceiveBuffer(this.clock);
    if (acceptsText(this._state) && !this.orphaned) {
      const current = Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));
      const free = this.recvBuf.free;
      if (free - current >= this.swsThreshold() && free >= 2 * current) {
        // Inside a batch the update waits for its end: a reply written from this read (an echo,
        // a request answered) carries the new window, and the pure ACK is never built.
        if (this.deferOwedAck(OWED_WINDOW_UPDATE)) return this.readDone(chunk);
        this.counters.windowUpdates++;
        this.sendAck();
      }
    }
    return this.readDone(chunk);
  }

  private readDone(chunk: Uint8Array): Uint8Array {
    this.flushEvents();
    return chunk;
  }

  /**
   * Has the host take a pure ACK (`why`: OWED_FIN_ACK or OWED_WINDOW_UPDATE) to the end of its
   * batch (TcpHost.deferAck); false when it will not (then send it now).
   */
  private deferOwedAck(why: number): boolean {
    if (!this.ackDeferred) {
      const host = this.host;
      if (host.deferAck === undefined || !host.deferAck(this)) return false;
      this.ackDeferred = true;
    }
    this.ackOwed |= why;
    return true;
  }

  /**
   * The end of the host's batch (TcpHost.deferAck): the ACK deferred during it leaves now, with
   * the window as it is after the reader's reads, unless a segment sent since (data, a window
   * update, another ACK) already carried it or the connection has closed. Nothing when no ACK
   * was deferred.
   */
  sendDeferredAck(now: number): void {
    if (!this.ackDeferred) return;
    this.ackDeferred = false;
    if (now > this.clock) this.clock = now;
    const owed = this.ackOwed;
    this.ackOwed = 0;
    if (owed !== 0 ? !this.isClosed() : this.unackedBytes > 0 && acceptsText(this._state) && !this.orphaned) {
      if ((owed & OWED_WINDOW_UPDATE) !== 0) this.counters.windowUpdates++;
      this.sendAck();
    }
    this.flushEvents();
  }

  /**
   * Half-close (RFC 9293 3.10.4 CLOSE): a FIN follows the data already queued; reading goes on
   * until the peer's FIN. Before the handshake completes the FIN waits for it. Idempotent.
   */
  shutdown(now: number): void {
    if (now > this.clock) this.clock = now;
    switch (this._state) {
      case 'LISTEN':
        this.closeWith(undefined);
        break;
      case 'SYN-SENT':
      case 'SYN-RECEIVED':
        this.queueFin();
        break;
      case 'ESTABLISHED':
        this.queueFin();
        this.setState('FIN-WAIT-1');
        this.output(now);
        break;
      case 'CLOSE-WAIT':
        this.queueFin();
        this.setState('LAST-ACK');
        this.output(now);
        break;
      default:
        break; // already closing or closed
    }
    this.flushEvents();
  }

  /**
   * Full close: like `shutdown`, but the user will read no more. Unread data makes it an abort
   * (RST, as RFC 2525 2.17 and Linux do), data arriving later resets the connection, and
   * FIN-WAIT-2 is bounded by `finWait2Timeout`.
   */
  close(now: number): void {
    if (now > this.clock) this.clock = now;
    switch (this._state) {
      case 'CLOSED':
        return;
      case 'LISTEN':
      case 'SYN-SENT':
        this.abort(now);
        return;
      case 'CLOSING':
      case 'LAST-ACK':
      case 'TIME-WAIT':
        // Both FINs are out: nothing left to tell the peer. Unread data is simply dropped.
        this.recvBuf.clear();
        this.orphaned = true;
        return;
      default:
        break;
    }
    if (this.recvBuf.readable > 0) {
      this.abort(now);
      return;
    }
    this.orphaned = true;
    if (this._state === 'FIN-WAIT-2') this.closeAt = now + this.config.finWait2Timeout;
    this.shutdown(now);
  }

  /** Nagle's algorithm off (true) or on (false) for this connection; starts as `config.noDelay`. */
  setNoDelay(noDelay: boolean, now: number): void {
    this.noDelay = noDelay;
    if (now > this.clock) this.clock = now;
    // Bytes Nagle was holding back may go now.
    if (noDelay && (this._state === 'ESTABLISHED' || this._state === 'CLOSE-WAIT')) this.output(now);
    this.flushEvents();
  }

  /**
   * Keepalive on or off for this connection (starts as `config.keepalive`), optionally with a new
   * idle time before the first probe (like net.Socket#setKeepAlive).
   */
  setKeepAlive(enable: boolean, idleMs: number | undefined, now: number): void {
    this.keepaliveOn = enable;
    if (idleMs !== undefined && idleMs > 0) this.keepaliveIdle = idleMs;
    this.keepaliveSent = 0;
    const active = this._state === 'ESTABLISHED' || this._state === 'CLOSE-WAIT';
    this.keepaliveAt = enable && active ? now + this.keepaliveIdle : NEVER;
  }

  /** Abort (RFC 9293 3.10.5): RST to the peer if it knows us, then CLOSED with no error. */
  abort(now: number): void {
    if (now > this.clock) this.clock = now;
    const s = this._state;
    if (s === 'CLOSED') return;
    if (s === 'SYN-RECEIVED' || s === 'ESTABLISHED' || s === 'FIN-WAIT-1' || s === 'FIN-WAIT-2' || s === 'CLOSE-WAIT') {
      this.emit(this.sndMax, RST | ACK, EMPTY);
    }
    this.recvBuf.clear();
    this.closeWith(undefined);
    this.flushEvents();
  }

  // ---------------------------------------------------------------------------------------------
  // Time

  /** The earliest time `handleTimer` must run, or undefined when no timer is armed. */
  nextDeadline(): number | undefined {
    let d = this.rtxAt;
    if (this.persistAt < d) d = this.persistAt;
    if (this.delackAt < d) d = this.delackAt;
    if (this.keepaliveAt < d) d = this.keepaliveAt;
    if (this.closeAt < d) d = this.closeAt;
    if (this.tlpAt < d) d = this.tlpAt;
    if (this.rackAt < d) d = this.rackAt;
    const user = this.userTimeoutAt();
    if (user < d) d = user;
    if (this.blackHole !== undefined && this.blackHole.probeAt < d) d = this.blackHole.probeAt;
    return d === NEVER ? undefined : d;
  }

  /** Runs every timer due at `now` (calling it early is harmless). */
  handleTimer(now: number): void {
    if (this._state === 'CLOSED') return;
    if (now > this.clock) this.clock = now;
    if (this.closeAt <= now) {
      this.closeAt = NEVER;
      this.closeWith(undefined);
    } else if (this.userTimeoutAt() <= now) {
      this.fail('ETIMEDOUT', 'user timeout: data unacknowledged');
    } else {
      if (this.tlpAt <= now && this.rtxAt <= now) {
        // A probe armed for the RTO's time (armProbe) goes first and restarts the RTO.
        this.tlpAt = NEVER;
        this.onProbeTimeout(now);
      }
      if (this.rtxAt <= now) {
        this.rtxAt = NEVER;
        this.onRetransmitTimeout(now);
      }
      if (this.tlpAt <= now && !this.isClosed()) {
        this.tlpAt = NEVER;
        this.onProbeTimeout(now);
      }
      if (this.rackAt <= now && !this.isClosed()) {
        this.rackAt = NEVER;
        this.onRackTimer(now);
      }
      if (this.persistAt <= now && !this.isClosed()) {
        this.persistAt = NEVER;
        this.onPersistTimeout(now);
      }
      if (this.delackAt <= now && !this.isClosed()) {
        this.delackAt = NEVER;
        this.counters.delayedAcks++;
        this.ackNow = true;
        this.interactive = false; // the answer did not come in time to carry the ACK
      }
      if (this.keepaliveAt <= now && !this.isClosed()) this.onKeepaliveTimeout(now);
      if (this.blackHole !== undefined && this.blackHole.probeAt <= now && !this.isClosed()) this.onMtuProbeTimer();
      if (!this.isClosed()) this.output(now);
    }
    this.flushEvents();
  }

  /**
   * The segments built since the last call left at `now`: the wiring hands them to the link at
   * the end of the task that built them (TcpHost.onSendTimed asked for this call), so their send
   * times, until now the clock reading that task started with, become the time they left, as
   * Linux stamps a segment when it is handed to the driver. What is restamped: RACK's records
   * of those transmissions (the RTT samples taken from them, RACK's min RTT and loss deadlines,
   * the minimum RTT that bounds the send buffer) and the segment RFC 6298 times. Not restamped:
   * RACK's reordering timer, armed from the build time a little early (it fires, finds the
   * restamped records not yet due and waits again), and TSval (taken at build time, as it is on
   * the wire).
   * A time never moves back, and a record already acknowledged keeps its own. Does nothing when
   * nothing was recorded since the last call.
   */
  stampSent(now: number): void {
    if (!this.sendTimesUnstamped) return;
    this.sendTimesUnstamped = false;
    // The tail loss probe, armed at about 2 SRTT from the build time: a task that runs longer
    // than that after its writes (a reply built, then 40 ms of other work) would have the probe
    // fire as its frames leave, and resend the last of them at once (a spurious retransmission,
    // and an RTT sample from the echoed TSval, which is the build time). It waits from the
    // stamp instead.
    const late = now - this.lastSendAt;
    if (late > 0) {
      if (this.tlpAt !== NEVER && this.tlpAt >= this.lastSendAt) this.tlpAt += late;
      // The retransmission timer likewise, when it was (re)armed by this task (no earlier than
      // the last send, with the RTO it has now): it would fire as the frames leave after a task
      // longer than the RTO, and resend the first of them before its ACK could come (a
      // spurious timeout, cwnd down to one segment until the undo). An RTO armed by an earlier
      // task covers data that left then, and keeps its time.
      if (this.rtxAt !== NEVER && this.rtxAt >= this.lastSendAt + this.rtt.rto) this.rtxAt += late;
    }
    if (this.rack !== undefined) this.rack.stampSent(now);
    this.rtt.stampSent(now);
  }

  /**
   * The path's minimum RTT as the sender measured it, ms (Infinity before a sample): RACK's
   * from its per-segment send times when it runs, else the timed segments' (clock resolution),
   * else the smallest RTT sample. What the send buffer's delivery bound multiplies by.
   */
  get minRtt(): number {
    const rack = this.rack;
    if (rack !== undefined && rack.minRtt > 0 && rack.minRtt < Number.POSITIVE_INFINITY) return rack.minRtt;
    const timed = this.rtt.minTimedRtt;
    return timed > 0 && timed < Number.POSITIVE_INFINITY ? timed : this.rtt.minRtt;
  }

  // ---------------------------------------------------------------------------------------------
  // ICMP errors (the wiring parses them; RFC 5927)

  /**
   * An ICMP "fragmentation needed" quoting our segment with sequence number `seq`. Believed only
   * when `seq` lies in SND.UNA..SND.MAX (RFC 5927 4.1: a blind attacker rarely guesses it), and
   * only on a synchronized connection; then the MSS drops to the new path MTU and the data in
   * flight, now too big, is sent again at once in smaller segments. Returns whether it was taken.
   */
  handleFragNeeded(seq: number, nextHopMtu: number, now: number): boolean {
    if (!this.icmpQuoteValid(seq)) return false;
    const dfBefore = this.pathMtu.dontFragment;
    const lowered = this.pathMtu.onFragNeeded(nextHopMtu, this.sndMss + this.pathMtu.headers) === 'lowered';
    if (lowered) this.setPathMss(this.pathSegmentSize(this.mssCeiling || this.sndMss));
    if (lowered || dfBefore !== this.pathMtu.dontFragment) {
      // RFC 1191 6.5 / Linux tcp_simple_retransmit: not a congestion signal (cwnd unchanged),
      // but what is in flight was dropped: resend it now (smaller, or without DF), not after an RTO.
      if (seqGt(this.sndMax, this.sndUna)) {
        this.sndNxt = this.sndUna;
        this.transmitData(now, false);
      }
    }
    this.flushEvents();
    return true;
  }

  /**
   * Any other ICMP error about a segment of this connection (unreachable, time exceeded,
   * parameter problem). A synchronized connection does not die of it (RFC 5927 4.2, RFC 1122
   * 4.2.3.9: soft errors): it is remembered, and if the connection later times out it fails with
   * this error instead of ETIMEDOUT, as Linux reports sk_err_soft. Returns whether it was taken.
   */
  handleIcmpSoftError(seq: number, code: NetstackErrorCode, description: string): boolean {
    if (!this.icmpQuoteValid(seq)) return false;
    this.counters.icmpSoftErrors++;
    this.softErrorCode = code;
    this.softErrorText = description;
    return true;
  }

  /** RFC 5927 4.1 (and Linux): an ICMP error counts only if it quotes a sequence number in flight. */
  private icmpQuoteValid(seq: number): boolean {
    if (!isSynchronizedForIcmp(this._state) || !seqGeq(seq, this.sndUna) || !seqLt(seq, this.sndMax)) {
      this.counters.icmpIgnored++;
      return false;
    }
    return true;
  }

  /** Time to try a larger MSS (RFC 4821 probing): up to the negotiated MSS and ICMP's path MTU. */
  private onMtuProbeTimer(): void {
    const bh = this.blackHole as BlackHoleDetector;
    if (!(this._state === 'ESTABLISHED' || this._state === 'CLOSE-WAIT')) {
      bh.probeAt = NEVER;
      return;
    }
    const mss = bh.startProbe(this.pathSegmentSize(this.mssCeiling || this.sndMss));
    if (mss === undefined || mss <= this.sndMss) return;
    this.counters.pmtuProbes++;
    this.setPathMss(mss);
  }

  /**
   * The largest payload a segment may carry on the path: the path MTU less the IPv4 and TCP
   * headers and the options every segment carries (the timestamp option's 12 bytes), at most
   * `ceiling` (the MSS negotiated, options already taken off).
   */
  private pathSegmentSize(ceiling: number): number {
    return Math.min(ceiling, this.pathMtu.mss(Number.POSITIVE_INFINITY) - (this.tsOk ? TIMESTAMP_OPTION_BYTES : 0));
  }

  /** A new send MSS from the path (ICMP or PLPMTUD). */
  private setPathMss(mss: number): void {
    if (this.mssCeiling === 0) this.mssCeiling = this.sndMss;
    if (mss === this.sndMss) return;
    this.counters.pmtuChanges++;
    if (tcpLogOn()) log.tcp('%s path MSS %d => %d', this.toString(), this.sndMss, mss);
    this.sndMss = mss;
    this.cc.onMssChange?.(mss);
  }

  // ---------------------------------------------------------------------------------------------
  // Segment arrival (RFC 9293 3.10.7)

  /**
   * Processes one segment of this 4-tuple. Returns false in one case only: the connection was in
   * TIME-WAIT and `seg` is a new SYN that may start a new incarnation (RFC 9293 3.10.7.4, RFC
   * 6191): the connection is now CLOSED and the wiring should hand `seg` to the listener.
   */
  handleSegment(seg: TcpRepr, now: number, ce = false): boolean {
    this.counters.segmentsReceived++;
    if (now > this.clock) this.clock = now;
    // `ce`: the datagram was marked Congestion Experienced (RFC 3168 6.1.3): echo it.
    if (ce && this._state !== 'CLOSED') {
      this.counters.ecnCeReceived++;
      if (this.ecn.onCongestionExperienced()) this.ackNow = true;
    }
    let consumed = true;
    const inOrderBefore = this.recvBuf.inOrderEnd;
    switch (this._state) {
      case 'CLOSED':
        this.counters.droppedClosed++; // the wiring answers with rstForSegment
        return true;
      case 'LISTEN':
        this.onListen(seg, now);
        break;
      case 'SYN-SENT':
        this.onSynSent(seg, now);
        break;
      default:
        consumed = this.onSynchronized(seg, now);
    }
    if (this.recvBuf.inOrderEnd !== inOrderBefore && receiveAutoTuning(this.config)) this.measureReceiveRtt(seg, now);
    if (!this.isClosed()) this.output(now);
    this.flushEvents();
    // The send buffer emptied by this ACK and not written again from its events: let it go.
    this.sendBuf.releaseIfEmpty(now);
    // A small payload lent to the reader and not read from the events: copied now.
    this.recvBuf.settle();
    return consumed;
  }

  /** LISTEN (3.10.7.2): RST ignored, ACK answered with RST, SYN opens. */
  private onListen(seg: TcpRepr, now: number): void {
    const flags = seg.flags;
    if ((flags & RST) !== 0) return;
    if ((flags & ACK) !== 0) {
      this.counters.droppedBadAck++;
      this.emit(seg.ack, RST, EMPTY);
      return;
    }
    if ((flags & SYN) === 0) {
      this.counters.droppedNoAck++;
      return;
    }
    // Data or FIN on the SYN is not acknowledged; the peer sends it again (no TFO).
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.negotiate(seg, true, now);
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    this.sndWnd = seg.window; // never scaled in a SYN (RFC 7323 2.2)
    this.maxSndWnd = seg.window;
    this.sndWl1 = seg.seq;
    this.sndWl2 = this.iss;
    this.lastPeerWindow = seg.window;
    this.passiveOpen = true;
    this.ecn.active = this.config.ecn !== 'off' && isEcnSetupSyn(flags);
    this.setState('SYN-RECEIVED');
    this.sendSyn();
    this.rtt.startTiming(this.sndNxt, now);
    this.noteSendTimed();
    this.rtxAt = now + this.rtt.rto;
  }

  /** SYN-SENT (3.10.7.3). */
  private onSynSent(seg: TcpRepr, now: number): void {
    const flags = seg.flags;
    const hasAck = (flags & ACK) !== 0;
    // First, the ACK: it must acknowledge our SYN and nothing else.
    if (hasAck && (seqLeq(seg.ack, this.iss) || seqGt(seg.ack, this.sndMax))) {
      this.counters.droppedBadAck++;
      if ((flags & RST) === 0) this.emit(seg.ack, RST, EMPTY);
      return;
    }
    // Second, RST: only with an acceptable ACK (RFC 9293 3.10.7.3, RFC 5961 3.2).
    if ((flags & RST) !== 0) {
      this.counters.rstReceived++;
      if (hasAck) this.fail('ECONNREFUSED', 'connection refused');
      else this.counters.rstOutOfWindow++;
      return;
    }
    if ((flags & SYN) === 0) {
      this.counters.droppedNoAck++;
      return;
    }
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.rcvAdvRight = seqAdd(this.rcvNxt, this.synWindowSent);
    this.maxRcvWnd = this.synWindowSent;
    this.negotiate(seg, false, now);
    this.sndWnd = seg.window;
    this.maxSndWnd = seg.window;
    this.sndWl1 = seg.seq;
    this.sndWl2 = hasAck ? seg.ack : this.iss;
    this.lastPeerWindow = seg.window;
    if (!hasAck) {
      // Simultaneous open (RFC 9293 figure 8): answer with SYN-ACK, keep the SYN timer.
      this.setState('SYN-RECEIVED');
      this.sendSyn();
      return;
    }
    this.sndUna = seg.ack;
    this.synAcked = true;
    this.ecn.active = this.config.ecn === 'on' && !this.synRetransmitted && isEcnSetupSynAck(flags);
    this.rttOnAck(seg, this.iss, seg.ack, now);
    this.rtxAt = NEVER;
    this.establish(now);
    this.ackNow = true;
    // Data or FIN riding on the SYN-ACK: process as text (3.10.7.3 "continue at step 6").
    let data = seg.payload;
    let fin = (flags & FIN) !== 0;
    if (data.length > 0 || fin) {
      const room = this.receiveWindow();
      if (data.length > room) {
        this.counters.trimmedBytes += data.length - room;
        data = data.subarray(0, room);
        fin = false;
      }
      this.processText(this.rcvNxt, data, fin, now);
    }
  }

  /** SYN-RECEIVED and every synchronized state (3.10.7.4). */
  private onSynchronized(seg: TcpRepr, now: number): boolean {
    let flags = seg.flags;
    let seq = seg.seq;
    let data = seg.payload;

    // Header prediction (Van Jacobson's fast path, as in BSD tcp_input): in ESTABLISHED, a
    // segment with only ACK (and PSH) set, exactly at RCV.NXT, fitting the window, with nothing
    // held out of order and an ACK within [SND.UNA, SND.MAX], needs no RST/SYN checks and no
    // trimming: straight to ACK processing and in-order delivery.
    if (
      this._state === 'ESTABLISHED' &&
      (flags & ~PSH) === ACK &&
      seq === this.rcvNxt &&
      this.recvBuf.outOfOrderCount === 0 &&
      data.length <= this.receiveWindow() &&
      seqGeq(seg.ack, this.sndUna) &&
      seqLeq(seg.ack, this.sndMax) &&
      (!this.tsOk || (seg.timestamp !== undefined && seqGeq(seg.timestamp.tsVal, this.ts.tsRecent)))
    ) {
      if (this.tsOk) this.ts.onAcceptable((seg.timestamp as { tsVal: number }).tsVal, seq, now);
      this.processAck(seg, data.length > 0, now);
      this.keepaliveSent = 0;
      if (this.keepaliveAt !== NEVER) this.keepaliveAt = now + this.keepaliveIdle;
      if (data.length > 0) this.processText(seq, data, false, now);
      return true;
    }

    // PAWS (RFC 7323 5.3 R1): a segment whose TSval is older than TS.Recent is an old
    // duplicate: drop it and ACK (rate limited when it carries nothing, like any unacceptable
    // segment). A RST is exempt, as in Linux: RFC 5961 already guards it.
    if (this.tsOk && seg.timestamp !== undefined && (flags & RST) === 0 && this.ts.isOld(seg.timestamp.tsVal, now)) {
      this.counters.pawsDropped++;
      if (data.length > 0 || (flags & (SYN | FIN)) !== 0 || now - this.outOfWindowAckAt >= OUT_OF_WINDOW_ACK_INTERVAL) {
        if (data.length === 0) this.outOfWindowAckAt = now;
        this.ackNow = true;
      }
      return true;
    }

    // First, RST (RFC 5961 3.2: exact match resets, in-window gets a challenge ACK).
    if ((flags & RST) !== 0) {
      this.onRst(seq, now);
      return true;
    }

    // SYN: a copy of the peer's SYN (retransmitted SYN, or SYN-ACK whose ACK we sent was lost)
    // is trimmed like duplicate data and answered (BSD does the same); any other SYN in a
    // synchronized state gets a challenge ACK (RFC 5961 4), except a new SYN in TIME-WAIT.
    if ((flags & SYN) !== 0) {
      if (seq === this.irs) {
        flags &= ~SYN;
        seq = seqAdd(seq, 1);
        this.ackNow = true;
        this.counters.duplicateSyns++;
      } else if (this._state === 'TIME-WAIT' && (flags & ACK) === 0 && seqGt(seq, this.rcvNxt)) {
        this.counters.timeWaitReopens++;
        this.closeWith(undefined);
        return false;
      } else {
        if (this.allowChallengeAck(now)) this.counters.challengeAcks++;
        return true;
      }
    }
    let fin = (flags & FIN) !== 0;

    // Sequence-number acceptability (3.10.7.4 first), as trimming to the window.
    const wnd = this.receiveWindow();
    const before = seqDiff(this.rcvNxt, seq);
    if (before > 0) {
      const segLen = data.length + (fin ? 1 : 0);
      if (before >= segLen) {
        // Entirely old. Its ACK and window still count, unless it is older than any window
        // we ever offered; if it carried anything, the peer missed our ACK: send it again.
        if (seqLt(seqAdd(seq, segLen), seqAdd(this.rcvNxt, -this.maxRcvWnd - 1))) {
          this.counters.droppedNotAcceptable++;
          this.ackNow = true;
          return true;
        }
        if (segLen > 0) {
          this.counters.duplicateSegments++;
          this.ackNow = true;
          this.enterQuickAck(false); // the peer missed our ACK
          if (this.sackOk && data.length > 0) this.sackReport.onDuplicate(seq, seqAdd(seq, data.length));
          if (fin && this._state === 'TIME-WAIT') this.closeAt = now + 2 * this.config.msl;
        } else {
          // A zero-length segment below RCV.NXT is unacceptable (3.10.7.4) and must be answered
          // with an ACK: this is how a keepalive probe (SEG.SEQ = RCV.NXT - 1) gets its answer.
          this.counters.keepaliveProbesAnswered++;
          this.ackNow = true;
        }
        data = EMPTY;
        fin = false;
      } else {
        if (this.sackOk && before <= data.length) this.sackReport.onDuplicate(seq, this.rcvNxt);
        data = data.subarray(before);
        this.ackNow = true;
      }
      seq = this.rcvNxt;
    }
    const room = seqDiff(seqAdd(this.rcvNxt, wnd), seq);
    if (data.length > 0 || fin) {
      if (room <= 0) {
        if (wnd === 0 && seq === this.rcvNxt) {
          // A zero-window probe: not acceptable, but its ACK is (3.10.7.4 "special allowance").
          this.counters.zeroWindowProbesReceived++;
          data = EMPTY;
          fin = false;
          this.ackNow = true;
        } else {
          this.counters.droppedNotAcceptable++;
          this.ackNow = true;
          return true;
        }
      } else if (data.length + (fin ? 1 : 0) > room) {
        if (data.length > room) {
          this.counters.trimmedBytes += data.length - room;
          data = data.subarray(0, room);
        }
        fin = false;
        this.ackNow = true;
      }
    } else if (room < 0) {
      this.counters.droppedNotAcceptable++;
      if (now - this.outOfWindowAckAt >= OUT_OF_WINDOW_ACK_INTERVAL) {
        this.outOfWindowAckAt = now;
        this.ackNow = true;
      }
      return true;
    }

    // The segment is acceptable: its TSval may become TS.Recent (RFC 7323 4.3, 5.3 R3).
    if (this.tsOk && seg.timestamp !== undefined) this.ts.onAcceptable(seg.timestamp.tsVal, seg.seq, now);

    // Fifth, the ACK field.
    if ((flags & ACK) === 0) {
      this.counters.droppedNoAck++;
      return true;
    }
    if (this._state === 'SYN-RECEIVED') {
      if (seqGt(seg.ack, this.sndUna) && seqLeq(seg.ack, this.sndMax)) {
        this.establish(now);
      } else {
        this.counters.droppedBadAck++;
        this.emit(seg.ack, RST, EMPTY);
        return true;
      }
    }
    if (!this.processAck(seg, data.length > 0 || fin, now)) return true;

    // Any acceptable segment proves the peer alive.
    this.keepaliveSent = 0;
    if (this.keepaliveAt !== NEVER) this.keepaliveAt = now + this.keepaliveIdle;

    // Seventh and eighth, text and FIN.
    if (data.length > 0 || fin) this.processText(seq, data, fin, now);
    return true;
  }

  /** RST in SYN-RECEIVED or a synchronized state. */
  private onRst(seq: number, now: number): void {
    this.counters.rstReceived++;
    if (this._state === 'TIME-WAIT') {
      this.counters.rstIgnoredTimeWait++; // RFC 1337: TIME-WAIT assassination hazard
      return;
    }
    if (seq === this.rcvNxt) {
      switch (this._state) {
        case 'SYN-RECEIVED':
          // A passive open "returns to LISTEN": for a listener's child that means it is gone.
          this.fail(this.passiveOpen ? 'ECONNRESET' : 'ECONNREFUSED', 'connection reset during handshake');
          return;
        case 'CLOSING':
        case 'LAST-ACK':
          this.closeWith(undefined);
          return;
        default:
          this.fail('ECONNRESET', 'connection reset by peer');
          return;
      }
    }
    if (seqInRange(seq, this.rcvNxt, seqAdd(this.rcvNxt, Math.max(this.receiveWindow(), 1)))) {
      if (this.allowChallengeAck(now)) this.counters.challengeAcks++;
    } else {
      this.counters.rstOutOfWindow++;
    }
  }

  /**
   * ACK processing for ESTABLISHED and later (3.10.7.4 fifth). Returns false when the segment
   * must be dropped (or the connection closed).
   */
  private processAck(seg: TcpRepr, hasText: boolean, now: number): boolean {
    const ack = seg.ack;
    if (seqGt(ack, this.sndMax)) {
      this.counters.droppedAckUnsent++;
      this.allowChallengeAck(now);
      return false;
    }
    if (seqLt(ack, seqAdd(this.sndUna, -this.maxSndWnd))) {
      this.counters.droppedOldAck++;
      this.allowChallengeAck(now);
      return false;
    }
    this.probesUnanswered = 0;
    if ((seg.flags & (ECE | CWR)) !== 0) this.onEcnFlags(seg.flags, ack);
    if (this.isCommonAck(seg, ack)) {
      // Header prediction (the idea of Linux's tcp_ack fast path): the ACK only moves SND.UNA
      // forward. RACK takes the records it delivers; loss detection, the scoreboard, recovery,
      // the undo checks and the probe episode have nothing to do (see isCommonAck).
      this.onNewAck(ack, now, seg);
      this.updateSendWindow(seg, ack);
      if (this.rack !== undefined) this.rack.onAck(this.sndUna, this.sack, false, false, this.sndNxt, now);
      return this.afterAck(now);
    }
    const window = seg.window;
    // PRR's DeliveredData (RFC 6937): change in SND.UNA plus change in SACKed bytes.
    const unaBefore = this.sndUna;
    const sackedBefore = this.sack !== undefined ? this.sackedBytes() : 0;
    if (this.frto !== undefined && this.frto.step !== FRTO_OFF) this.frto.before(this.sack as SackScoreboard, this.sndUna);
    const sacked = this.sack !== undefined && seg.sackBlocks !== undefined && this.onSackBlocks(seg.sackBlocks, ack);
    this.sackRttDue = sacked && this.rack !== undefined;
    const advanced = seqGt(ack, this.sndUna);
    if (advanced) {
      this.onNewAck(ack, now, seg);
    } else if (
      ack === this.sndUna &&
      !hasText &&
      (seg.flags & (SYN | FIN)) === 0 &&
      seqGt(this.sndNxt, this.sndUna) &&
      window === this.lastPeerWindow &&
      this.sndWnd > 0
    ) {
      // A duplicate ACK (RFC 5681 2).
      this.counters.dupAcksReceived++;
      this.dupAcks++;
      if (this.sack === undefined && this.cc.onDupAck(ack, seqDiff(this.sndMax, this.sndUna), this.sndMax) === 'retransmit') {
        this.counters.fastRetransmits++;
        this.retransmitFirst(now);
      }
    }
    this.updateSendWindow(seg, ack);
    if (this.eifelTsVal !== undefined && advanced) this.eifelOnAck(seg);
    if (this.frto !== undefined && this.frto.step !== FRTO_OFF) this.frtoOnAck(advanced, sacked, !advanced && !hasText);
    if (this.srto !== undefined && this.srto.active) this.spuriousRtoOnAck(seg, advanced, !advanced && !hasText, now);
    if (this.sack !== undefined) {
      this.sackRecoveryOnAck(sacked, advanced, seg.sackBlocks !== undefined && this.sack.lastUpdate.dsack, now);
      if (this.lossEpisode === EPISODE_RECOVERY) {
        const delivered = seqDiff(this.sndUna, unaBefore) + this.sackedBytes() - sackedBefore;
        const sb = this.sack;
        (this.prr as Prr).onAck(Math.max(delivered, 0), sb.pipe(this.sndUna, this.sndMax, this.sndMss), this.cc.ssthresh, this.sndMss);
      }
      if (this.tlp !== undefined && this.tlp.active) this.tlpOnAck(ack, seg.sackBlocks !== undefined && this.sack.lastUpdate.dsack, !advanced && !sacked && !hasText);
    }
    return this.afterAck(now);
  }

  /**
   * An acceptable ACK that only advances SND.UNA, with nothing for the loss machinery: no SACK
   * blocks, nothing SACKed before, no loss episode, no RACK timer and nothing RACK marked lost
   * above it, no F-RTO / Eifel / spurious-RTO check or TLP episode running. For such an ACK the
   * full path (processAck) does exactly what the fast path does (the recovery entry checks fail:
   * the new ACK zeroes the duplicate count, and no loss is marked); the full path's tests just
   * cost time on every ACK of a transfer.
   */
  private isCommonAck(seg: TcpRepr, ack: number): boolean {
    return (
      seg.sackBlocks === undefined &&
      seqGt(ack, this.sndUna) &&
      this.lossEpisode === EPISODE_NONE &&
      this.rackAt === NEVER &&
      (this.sack === undefined || this.sack.empty) &&
      (this.rack === undefined || !seqGt(this.rack.lostEdge, ack)) &&
      this.eifelTsVal === undefined &&
      (this.frto === undefined || this.frto.step === FRTO_OFF) &&
      (this.srto === undefined || !this.srto.active) &&
      (this.tlp === undefined || !this.tlp.active)
    );
  }

  /** Window update (3.10.7.4): only from a segment newer than the last one that set it. */
  private updateSendWindow(seg: TcpRepr, ack: number): void {
    const window = seg.window;
    if (seqLeq(this.sndUna, ack) && (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLeq(this.sndWl2, ack)))) {
      const wasZero = this.sndWnd === 0;
      this.sndWnd = window << this.sndWndScale; // at most 65535 << 14 < 2^30
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
      if (this.sndWnd > this.maxSndWnd) this.maxSndWnd = this.sndWnd;
      if (this.sndWnd > 0) {
        this.persistBackoff = 0;
        if (wasZero) this.persistAt = NEVER;
      }
    }
    this.lastPeerWindow = window;
  }

  /** Our FIN acknowledged: the state moves on. Returns false when the connection closed. */
  private afterAck(now: number): boolean {
    if (this.finAcked) {
      switch (this._state) {
        case 'FIN-WAIT-1':
          this.setState('FIN-WAIT-2');
          if (this.orphaned) this.closeAt = now + this.config.finWait2Timeout;
          break;
        case 'CLOSING':
          this.enterTimeWait(now);
          break;
        case 'LAST-ACK':
          this.closeWith(undefined);
          return false;
        default:
          break;
      }
    }
    return true;
  }

  /**
   * Owes the peer a challenge ACK (RFC 5961 3.2, 4.2, 5.2) if the stack's budget allows
   * (RFC 5961 7); returns whether it does.
   */
  private allowChallengeAck(now: number): boolean {
    if (this.challengeAckLimiter !== undefined && !this.challengeAckLimiter.take(now)) {
      this.counters.challengeAcksSuppressed++;
      return false;
    }
    this.ackNow = true;
    return true;
  }

  /** ECE (the peer saw CE: reduce once per round trip, RFC 3168 6.1.2) and CWR (stop echoing). */
  private onEcnFlags(flags: number, ack: number): void {
    if (!this.ecn.onPeerFlags(flags, ack) || this.cc.inRecovery || this.cc.onEcnEcho === undefined) return;
    this.cc.onEcnEcho(seqDiff(this.sndMax, this.sndUna));
    this.ecn.reduced(this.sndMax);
    this.counters.ecnReductions++;
  }

  /** SND.UNA advances to `ack`. */
  private onNewAck(ack: number, now: number, seg: TcpRepr): void {
    const acked = seqDiff(ack, this.sndUna);
    let dataAcked = acked;
    if (!this.synAcked) {
      this.synAcked = true;
      dataAcked--;
    }
    if (this.finSent && !this.finAcked && seqGt(ack, this.finSeq)) {
      this.finAcked = true;
      dataAcked--;
    }
    if (dataAcked > 0) {
      // Emptied storage is held to the end of handleSegment: a reply written from its events
      // (the request this ACK came with) takes it again without a new block.
      this.sendBuf.consume(dataAcked, now, true);
      this.counters.bytesAcked += dataAcked;
    }
    const flightBefore = seqDiff(this.sndMax, this.sndUna);
    this.dupAcks = 0;
    this.tlpAt = NEVER; // rescheduled from this ACK (RFC 8985 7.2)
    this.tlpOutstanding = false;
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    this.rttOnAck(seg, seqAdd(ack, -acked), ack, now);
    this.retries = 0;
    this.progressAt = now;
    this.softErrorCode = undefined; // data got through: the ICMP error is history (as Linux)
    const bh = this.blackHole;
    if (bh !== undefined && (bh.timeouts !== 0 || bh.probeMss !== 0)) bh.onAck(ack, now);
    if (this.sack !== undefined) {
      this.sack.advance(ack);
      // Between episodes the recovery point follows SND.UNA: left at the ISS, after 2 GiB without
      // a loss SND.UNA compared below it (modulo 2^32) and no fast recovery could start.
      if (this.lossEpisode === EPISODE_NONE) this.recoveryPoint = ack;
    }
    const wasRecovering = this.cc.inRecovery && this.lossEpisode !== EPISODE_RECOVERY;
    let action: 'none' | 'retransmit' = 'none';
    // In SACK recovery the scoreboard paces sending and cwnd holds at ssthresh (RFC 6675).
    if ((dataAcked > 0 || wasRecovering) && this.lossEpisode !== EPISODE_RECOVERY) action = this.cc.onAck(Math.max(dataAcked, 0), ack, flightBefore, this.sndMax, now);
    if (wasRecovering) {
      if (action === 'retransmit') this.counters.partialAcks++;
      else if (!this.cc.inRecovery) this.counters.recoveries++;
    }
    // RFC 6298 5.2, 5.3: stop the timer when all is acknowledged, else restart it.
    this.rtxAt = seqGt(this.sndNxt, this.sndUna) ? now + this.rtt.rto : NEVER;
    if (action === 'retransmit') this.retransmitFirst(now);
    if (this.config.sendBufferMax > this.config.sendBufferSize) {
      // The path's delivery per minimum RTT bounds how far the send buffer grows (buffer-tuning.ts).
      const meter = this.delivery ?? (this.delivery = new DeliveryMeter());
      // RACK's minimum RTT when it runs, else the timed segments' (rtt.ts minTimedRtt): both
      // are taken from send times on this clock and resolve microseconds, where an RTT from the
      // timestamp echo only resolves milliseconds (0 on a fast path: no BDP, and the buffer grew
      // to 2 x cwnd, megabytes that cost more per byte than they bought: `sack: false` was 14 %
      // dearer per GB for that).
      const rack = this.rack;
      const timed = this.rtt.minTimedRtt;
      const minRtt = rack !== undefined && rack.minRtt > 0 ? rack.minRtt : timed > 0 && timed < Number.POSITIVE_INFINITY ? timed : this.rtt.minRtt;
      meter.onAck(this.counters.bytesAcked, now, minRtt > 0 ? minRtt : Number.POSITIVE_INFINITY);
    }
    if (this.wantWritable && this.config.sendBufferMax > this.sendBuf.capacity) this.expandSendBuffer();
    if (this.wantWritable && this.sendBuf.free > 0 && canUserSend(this._state) && !this.finQueued) {
      this.wantWritable = false;
      this.events |= EV_WRITABLE;
    }
  }

  /** Text and FIN (3.10.7.4 seventh and eighth), `data` already trimmed to the window. */
  private processText(seq: number, data: Uint8Array, fin: boolean, now: number): void {
    let stored = true;
    if (data.length > 0) {
      if (!acceptsText(this._state)) {
        this.counters.droppedAfterFin++;
        return;
      }
      if (this.orphaned) {
        // The user closed: nobody will read this. Reset, as Linux does (TCPAbortOnData).
        this.emit(this.sndMax, RST | ACK, EMPTY);
        this.recvBuf.clear();
        this.closeWith(undefined);
        return;
      }
      stored = this.receiveText(seq, data, now);
    }
    if (!fin || this.finReceived) return;
    const finSeq = seqAdd(seq, data.length);
    if (finSeq === this.rcvNxt) this.receiveFin(now);
    else if (stored && seqGt(finSeq, this.rcvNxt) && acceptsText(this._state)) {
      this.peerFinPending = true;
      this.peerFinSeq = finSeq;
      this.ackNow = true;
    }
  }

  /** Stores in-window data; returns false when an out-of-order piece had to be dropped. */
  private receiveText(seq: number, data: Uint8Array, now: number): boolean {
    const offset = seqDiff(seq, this.rcvNxt);
    if (offset > 0) {
      this.ackNow = true; // RFC 5681 4.2: an immediate duplicate ACK for out-of-order data
      const duplicate = this.sackOk && this.recvBuf.holdsOutOfOrder(offset, data.length);
      if (this.recvBuf.insertOutOfOrder(offset, data)) {
        this.counters.outOfOrderSegments++;
        if (duplicate) this.sackReport.onDuplicate(seq, seqAdd(seq, data.length));
        // The run holding the segment goes first (after a D-SACK block, RFC 2883 4).
        if (this.sackOk) this.sackReport.onOutOfOrder(seq, this.rcvNxt, this.recvBuf);
        return true;
      }
      this.counters.outOfOrderDropped++;
      return false;
    }
    const fillsGap = this.recvBuf.outOfOrderCount > 0;
    // The first data, or data after a gap longer than the RTO: the sender may be starting (or
    // restarting) from a small window, so its first segments are ACKed at once, unless we are
    // interactive (our answer will carry the ACK), as Linux's tcp_event_data_recv. Without this
    // a reply whose head a Nagle sender sent alone (the rest held for its ACK) waited for our
    // delayed-ACK timer.
    if ((now - this.lastDataAt > this.rtt.rto || this.lastDataAt === NEVER) && this.config.quickAckStart) {
      if (!this.interactive && this.quickAcks === 0) {
        this.quickAcks = quickAckBudget(this.recvBuf.free, this.rcvMss);
        this.quickAcksDeferrable = true;
      }
    }
    this.lastDataAt = now;
    const advanced = this.recvBuf.append(data, this.readerCopies);
    this.rcvNxt = seqAdd(this.rcvNxt, advanced);
    this.counters.bytesReceived += advanced;
    this.events |= EV_READABLE;
    if (data.length > this.rcvMss) this.rcvMss = Math.min(data.length, this.config.mss);
    if (fillsGap) {
      this.ackNow = true; // RFC 5681 4.2: ACK at once when a gap (partly) fills
      if (this.recvBuf.outOfOrderCount === 0) this.enterQuickAck(false);
    } else if (this.quickAcks > 0 && !this.interactive) {
      this.quickAcks--;
      this.counters.quickAcks++;
      if (this.quickAcksDeferrable && this.config.delayedAckTimeout !== 0) this.deferOrAck(data.length);
      else this.ackNow = true;
    } else {
      // RFC 1122 4.2.3.2: ACK at least every second full-sized segment, else within the delay;
      // as Linux (__tcp_ack_snd_check), once more than one full segment's bytes wait: a short
      // segment and a full one (a Nagle sender's head, then a full segment with the tail held
      // for our ACK), or a full one and a write's short tail, are ACKed at once, not at the
      // delayed-ACK timer (held for it, a tail's ACK also came after the sender's tail loss
      // probe: 2 SRTT, no delayed-ACK allowance with two segments in flight).
      if (this.config.delayedAckTimeout === 0) this.ackNow = true;
      else if (this.unackedBytes + data.length > this.rcvMss) this.deferOrAck(data.length);
      else {
        this.unackedBytes += data.length;
        if (this.delackAt === NEVER) this.delackAt = now + this.config.delayedAckTimeout;
      }
    }
    if (this.peerFinPending && this.rcvNxt === this.peerFinSeq) this.receiveFin(now);
    return true;
  }

  /**
   * An ACK owed now for `n` more in-order bytes: inside a batch the host may take it to the
   * batch's end, until ACK_DEFER_MAX bytes wait for it; else it leaves with this call.
   */
  private deferOrAck(n: number): void {
    this.unackedBytes += n;
    if (this.unackedBytes >= ACK_DEFER_MAX) this.ackNow = true;
    else if (!this.ackDeferred) {
      const host = this.host;
      if (host.deferAck !== undefined && host.deferAck(this)) this.ackDeferred = true;
      else this.ackNow = true;
    }
  }

  /** Quick-ACK mode for recovery (a gap filled, a duplicate): ACK at once, interactive or not. */
  private enterQuickAck(deferrable: boolean): void {
    this.quickAcks = quickAckBudget(this.recvBuf.free, this.rcvMss);
    this.quickAcksDeferrable = deferrable;
    this.interactive = false;
  }

  /** The peer's FIN, in order (3.10.7.4 eighth). */
  private receiveFin(now: number): void {
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.finReceived = true;
    this.peerFinPending = false;
    // Never delay the ACK of a FIN, but in a passive close inside a batch it waits for the
    // batch's end (the same write): a server that closes when it sees the FIN (an echo, a
    // request/response protocol) sends its FIN first, which carries the ACK (one segment built,
    // not two; on the wire the link's ACK coalescer dropped the pure ACK anyway).
    if (!(this._state === 'ESTABLISHED' && this.deferOwedAck(OWED_FIN_ACK))) this.ackNow = true;
    this.events |= EV_PEER_FIN;
    switch (this._state) {
      case 'SYN-RECEIVED':
      case 'ESTABLISHED':
        this.setState('CLOSE-WAIT');
        break;
      case 'FIN-WAIT-1':
        this.setState('CLOSING'); // simultaneous close: our FIN is not acknowledged yet
        break;
      case 'FIN-WAIT-2':
        this.enterTimeWait(now);
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Output

  /** Sends what the state, windows and algorithms allow, then an ACK if one is owed. */
  private output(now: number): void {
    const s = this._state;
    if (s === 'CLOSED' || s === 'LISTEN' || s === 'SYN-SENT') return;
    if (s === 'SYN-RECEIVED') {
      if (this.ackNow) this.sendSyn();
      return;
    }
    if (s === 'ESTABLISHED' || s === 'CLOSE-WAIT' || s === 'FIN-WAIT-1' || s === 'CLOSING' || s === 'LAST-ACK') {
      this.transmitData(now, false);
      if (this.tlpAt === NEVER && this.sack !== undefined) this.armProbe(now);
      // Nothing in flight, data waiting, window too small to send it: the persist timer
      // guarantees we ask again (RFC 9293 3.8.6.1, also RFC 1122's SWS override timeout).
      if (this.rtxAt === NEVER && this.persistAt === NEVER && this.sndNxt === this.sndUna && (this.unsentBytes() > 0 || this.loneFinWaiting())) {
        this.persistAt = now + this.persistInterval();
      }
    }
    if (this.ackNow) this.sendAck();
  }

  /** Data and FIN from SND.NXT, as far as windows, Nagle and SWS avoidance allow. */
  private transmitData(now: number, force: boolean): void {
    const mss = this.sndMss;
    if (this.lossEpisode !== EPISODE_NONE) {
      this.sackTransmit(now);
      return;
    }
    if (this.sndUna === this.sndMax && now - this.lastSendAt > this.rtt.rto && this.unsentBytes() > 0) {
      this.cc.onIdleRestart(now); // RFC 5681 4.1: restart from the initial window after idling
    }
    // TSO: new data in segments of several MSS that the link cuts (tso-size.ts says how many);
    // retransmissions, PLPMTUD probes and fragmentable paths stay at one MSS. Sized only once
    // more than one MSS waits: a smaller segment is the same whatever the size (a request's
    // reply, the call with nothing to send after each segment received).
    let large = mss;
    let sized = this.gsoMaxBytes === 0;
    for (;;) {
      const unsent = this.unsentBytes();
      const wantFin = this.finQueued && !this.finAcked && seqLeq(this.sndNxt, this.finSeq);
      if (unsent === 0 && !wantFin) return;
      if (!sized && unsent > mss) {
        large = this.largeSegmentBytes(mss);
        sized = true;
      }
      const inFlight = seqDiff(this.sndNxt, this.sndUna);
      // Limited Transmit (RFC 3042): on the first two duplicate ACKs, one new segment each
      // beyond cwnd, so a small window still produces the three duplicates fast retransmit needs.
      const extra = this.dupAcks > 0 && this.dupAcks < 3 && this.sndNxt === this.sndMax && !this.cc.inRecovery ? this.dupAcks * mss : 0;
      const usable = Math.min(seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt), this.cc.cwnd + extra - inFlight);
      const retransmission = seqLt(this.sndNxt, this.sndMax);
      let len = Math.min(unsent, retransmission ? mss : large, Math.max(usable, 0));
      // A large segment is whole MSS pieces, unless it carries the last byte queued (as Linux's
      // tcp_mss_split_point): the link's cut leaves no short segment in mid-stream.
      if (len > mss && len < unsent) len -= len % mss;
      // A short window for a large segment: wait for the ACK in flight (tso-size.ts).
      const fin = wantFin && len === unsent;
      if (large > mss && unsent > mss && !fin && !retransmission && !force && tsoShouldDefer(len, large, this.cc.cwnd, inFlight, mss)) return;
      if (len === 0 && !fin) return;
      // A lone new FIN needs room for its sequence number in the peer's window (not in cwnd), as
      // Linux's tcp_snd_wnd_test: into a closed window it would be dropped (Linux counts
      // TCPZeroWindowDrop); the persist timer asks for the window instead (onPersistTimeout).
      if (len === 0 && !retransmission && seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt) < 1) return;
      if (len > 0 && len < mss && !retransmission && !force && !fin) {
        // Sender SWS avoidance and Nagle (RFC 9293 3.8.6.2.1, RFC 1122 4.2.3.4): a short
        // segment goes out only if it carries everything queued and no other short segment is
        // unacknowledged (or Nagle is off), or if it is at least half the largest window the
        // peer offered. Nagle in Minshall's form, as Linux's: holding the tail of a write behind
        // its full-sized segments gains nothing (they leave anyway) and makes a reply one
        // byte over a segment wait for the peer's delayed ACK, a transfer's last bytes for the
        // ACK of all the rest (or, that segment lost, for a tail loss probe).
        const smallOut = seqGt(this.sndSml, this.sndUna) && seqLeq(this.sndSml, this.sndNxt);
        const allQueued = len === unsent;
        if (!(allQueued && (!smallOut || this.noDelay)) && len * 2 < this.maxSndWnd) return;
      }
      // A large segment stops where the send buffer's ring wraps (one shorter segment a lap), so
      // its payload is a view the link gathers, never a copy (send-buffer.ts `contiguous`).
      if (len > mss && !fin && this.synAcked) len = this.sendBuf.contiguous(seqDiff(this.sndNxt, this.sndUna), len);
      this.sendSegment(this.sndNxt, len, fin, now);
      if (fin || force) return;
    }
  }

  /** Payload of a new-data segment when the link segments (see gsoMaxBytes), at least `mss`. */
  private largeSegmentBytes(mss: number): number {
    if (!this.pathMtu.dontFragment || (this.blackHole !== undefined && this.blackHole.probeMss !== 0)) return mss;
    const cc = this.cc;
    return tsoSegmentBytes(mss, this.gsoMaxBytes - GSO_HEADERS_MAX, cc.cwnd, seqDiff(this.sndNxt, this.sndUna), this.rtt.srtt, this.rtt.minRtt, cc.cwnd < cc.ssthresh);
  }

  /** Bytes queued beyond SND.NXT. */
  private unsentBytes(): number {
    const start = this.synAcked ? this.sndUna : seqAdd(this.iss, 1);
    const n = seqDiff(seqAdd(start, this.sendBuf.length), this.sndNxt);
    return n > 0 ? n : 0;
  }

  /** One data/FIN segment at `seq` (new or retransmitted). */
  private sendSegment(seq: number, len: number, fin: boolean, now: number): void {
    const start = this.synAcked ? this.sndUna : seqAdd(this.iss, 1);
    const offset = seqDiff(seq, start);
    const payload = len > 0 ? this.sendBuf.peek(offset, len) : EMPTY;
    let flags = ACK;
    if (fin) flags |= FIN;
    if (len > 0 && offset + len === this.sendBuf.length) flags |= PSH;
    const end = seqAdd(seq, len + (fin ? 1 : 0));
    // RFC 3168 6.1.5: only new data is ECN-capable (not retransmissions, probes or pure ACKs);
    // the first new data after a reduction tells the receiver with CWR.
    const ect = this.ecn.active && len > 0 && !seqLt(seq, this.sndMax);
    if (ect && this.ecn.cwrPending) {
      flags |= CWR;
      this.ecn.cwrPending = false;
    }
    if (seqLt(seq, this.sndMax)) {
      this.counters.retransmits++;
      this.counters.retransmittedBytes += Math.min(len, seqDiff(this.sndMax, seq));
      this.rtt.cancelTiming(); // Karn
      // ... and for the send-time samples (rttOnAck): the highest end ever resent.
      const rtxEnd = seqLt(end, this.sndMax) ? end : this.sndMax;
      if (!this.rtxPending || seqGt(rtxEnd, this.rtxHigh)) this.rtxHigh = rtxEnd;
      this.rtxPending = true;
    }
    // State first, then the segment: the connection is consistent whatever `send` does.
    // RACK's record ends with the data (a SACK block never covers the FIN).
    if (this.rack !== undefined && seqGt(end, seq)) this.rack.onSend(seq, len > 0 ? seqAdd(seq, len) : end, now, this.sndMax);
    this.lastSendAt = now;
    if (seqGt(end, this.sndMax)) {
      this.counters.bytesSent += Math.min(len, seqDiff(end, this.sndMax));
      if (this.sndUna === this.sndMax) this.progressAt = now;
      if (!seqLt(seq, this.sndMax)) this.rtt.startTiming(end, now);
      this.sndMax = end;
      if (len % this.sndMss !== 0) this.sndSml = end; // a short segment, or a large one's short last piece
      // An answer within the delayed-ACK time of the data it answers (Linux's pingpong).
      if (len > 0 && this.lastDataAt !== NEVER && now - this.lastDataAt < this.config.delayedAckTimeout) this.interactive = true;
      this.tlpAt = NEVER; // rescheduled after new data (RFC 8985 7.2)
    }
    if (seqGt(end, this.sndNxt)) this.sndNxt = end;
    this.noteSendTimed();
    if (this.blackHole !== undefined && this.blackHole.probeMss !== 0) this.blackHole.onSend(len, end);
    if (fin) this.finSent = true;
    if (this.rtxAt === NEVER) this.rtxAt = now + this.rtt.rto;
    this.persistAt = NEVER;
    if (len > this.sndMss) {
      // A large segment (TSO): the wire carries ceil(len / MSS) segments (emit counts one).
      this.counters.largeSegmentsSent++;
      this.counters.segmentsSent += Math.ceil(len / this.sndMss) - 1;
    }
    this.emit(seq, flags, payload, ect);
  }

  /**
   * Tells the host once per batch that send times await their stamp (TcpHost.onSendTimed). A
   * host without the call (or a placeholder before the wiring's own) is not owed a stamp.
   */
  private noteSendTimed(): void {
    if (this.sendTimesUnstamped) return;
    const host = this.host;
    if (host.onSendTimed === undefined) return;
    this.sendTimesUnstamped = true;
    host.onSendTimed(this);
  }

  /** Resends the first unacknowledged segment (fast retransmit, NewReno partial ACK). */
  private retransmitFirst(now: number): void {
    const outstanding = seqDiff(this.sndMax, this.sndUna);
    const len = Math.min(this.sndMss, this.sendBuf.length, outstanding);
    const fin = this.finSent && !this.finAcked && seqAdd(this.sndUna, len) === this.finSeq && outstanding > len;
    if (len === 0 && !fin) return;
    this.sendSegment(this.sndUna, len, fin, now);
    this.rtxAt = now + this.rtt.rto;
  }

  /** A pure ACK (a SYN-ACK while in SYN-RECEIVED). Its window is the current one. */
  private sendAck(): void {
    if (this._state === 'SYN-RECEIVED') this.sendSyn();
    else this.emit(this.sndMax, ACK, EMPTY);
  }

  /** Our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED). */
  private sendSyn(): void {
    // ECN setup (RFC 3168 6.1.1): ECE|CWR on our SYN when asked to, but not on retransmissions
    // (a path that drops ECN-setup SYNs still lets us connect); ECE on an ECN SYN-ACK.
    if (this._state === 'SYN-SENT') {
      this.emit(this.iss, this.config.ecn === 'on' && !this.synRetransmitted ? SYN | ECE | CWR : SYN, EMPTY);
    } else {
      this.emit(this.iss, this.ecn.active ? SYN | ACK | ECE : SYN | ACK, EMPTY);
    }
  }

  /** Builds and hands one segment to the host. */
  private emit(seq: number, flags: number, payload: Uint8Array, ect = false): void {
    // The receiver's echo of CE (RFC 3168 6.1.3): on every segment but SYNs and RSTs.
    if (this.ecn.echo && (flags & (SYN | RST)) === 0) flags |= ECE;
    // Every TcpRepr key in parseTcp's order, the absent options undefined: every segment (ours
    // and parsed ones) has one hidden class, and setting an option adds no property (adding
    // `timestamp` to every segment was a map transition and a property array each time).
    const seg: TcpRepr = {
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq,
      ack: (flags & ACK) !== 0 ? this.rcvNxt : 0,
      flags,
      window: (flags & RST) !== 0 ? 0 : (flags & SYN) !== 0 ? this.synWindow() : this.windowField(),
      urgent: 0,
      mss: undefined,
      windowScale: undefined,
      sackPermitted: undefined,
      sackBlocks: undefined,
      timestamp: undefined,
      payload,
    };
    if ((flags & SYN) !== 0) {
      seg.mss = this.config.mss;
      if (this.wsOption !== undefined) seg.windowScale = this.wsOption;
      // Offered in our SYN as configured; in a SYN-ACK only when the peer's SYN offered them.
      const active = (flags & ACK) === 0;
      if (active ? this.config.sack : this.sackOk) seg.sackPermitted = true;
      if (active ? this.config.timestamps : this.tsOk) seg.timestamp = { tsVal: this.ts.tsVal(this.clock), tsEcr: active ? 0 : this.ts.tsRecent };
    } else if (this.tsOk && (flags & RST) === 0) {
      seg.timestamp = this.timestampOption(this.ts.tsRecent);
    }
    if ((flags & ACK) !== 0) {
      if (this.sackOk && (flags & (SYN | RST)) === 0 && (this.recvBuf.outOfOrderCount > 0 || this.sackReport.hasDsack)) {
        const dsack = this.sackReport.hasDsack;
        // On a data segment only the blocks that fit within the MSS beside the payload (2 + 8 n
        // bytes, padded): a full-sized segment carries none, the pure ACKs around it do.
        const room = payload.length === 0 ? 40 : this.sndMss - payload.length;
        const fit = room >= 12 ? (room - 4) >>> 3 : 0;
        const limit = this.tsOk ? MAX_SACK_BLOCKS_WITH_TIMESTAMPS : MAX_SACK_BLOCKS;
        const blocks = fit === 0 ? undefined : this.sackReport.take(this.rcvNxt, this.recvBuf, fit < limit ? fit : limit);
        if (blocks !== undefined) {
          seg.sackBlocks = blocks;
          this.counters.sackAcksSent++;
          if (dsack) this.counters.dsacksSent++;
        }
      }
      this.ts.lastAckSent = this.rcvNxt;
      this.ackNow = false;
      this.ackOwed = 0;
      this.delackAt = NEVER;
      this.unackedBytes = 0;
    }
    this.counters.segmentsSent++;
    if ((flags & RST) !== 0) this.counters.rstSent++;
    this.host.send(this, seg, ect);
  }

  /**
   * The timestamps option of a segment: the previous segment's record again when the values are
   * the same (a burst sent within one millisecond, with TS.Recent unchanged), as records are
   * read-only (TcpRepr). Saves an object and its two numbers on most segments of a transfer.
   */
  private timestampOption(tsEcr: number): { readonly tsVal: number; readonly tsEcr: number } {
    const last = this.lastTimestampOption;
    const clock = this.clock;
    // TSval is computed once per clock reading: every segment of a batch (one task, one reading
    // of the stack's clock) carries the same one, as Linux stamps a TSO burst once.
    if (last !== undefined && clock === this.lastTimestampClock && last.tsEcr === tsEcr) return last;
    this.lastTimestampClock = clock;
    const tsVal = this.ts.tsVal(clock);
    if (last !== undefined && last.tsVal === tsVal && last.tsEcr === tsEcr) return last;
    return (this.lastTimestampOption = { tsVal, tsEcr });
  }

  /** The window in a SYN or SYN-ACK: never scaled (RFC 7323 2.2). */
  private synWindow(): number {
    const w = Math.min(this.recvBuf.free, 0xffff);
    this.synWindowSent = w;
    if (this._state === 'SYN-RECEIVED') {
      this.rcvAdvRight = seqAdd(this.rcvNxt, w);
      if (w > this.maxRcvWnd) this.maxRcvWnd = w;
    }
    return w;
  }

  /**
   * The raw window field to advertise. Receiver SWS avoidance (RFC 9293 3.8.6.2.2): the right
   * edge moves only in steps of at least min(buffer/2, MSS), and never moves left.
   */
  private windowField(): number {
    const free = this.recvBuf.free;
    const current = Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));
    const wnd = free - current >= this.swsThreshold() ? free : current;
    // Windows stay below 2^30 (RFC 7323 2.3), so shifts are exact.
    const shift = this.rcvWndScale;
    let raw = wnd >>> shift;
    if (raw << shift < current) {
      // Not a whole number of granules: rounding up keeps the edge, but when the buffer has no
      // room for the extra bytes it would move the edge right by up to 2^shift - 1 bytes on
      // every ACK (with scale 7, 3 % beyond a full 6 MiB buffer). Then round down: the peer sees
      // the edge less than one granule left of the last (the retraction RFC 7323 2.4 describes),
      // and we still accept data up to the old edge (rcvAdvRight does not move left).
      const up = (current + (1 << shift) - 1) >>> shift;
      if (up << shift <= free) raw = up;
    }
    if (raw > 0xffff) raw = 0xffff;
    const bytes = raw << shift;
    const right = seqAdd(this.rcvNxt, bytes);
    if (seqGt(right, this.rcvAdvRight)) this.rcvAdvRight = right;
    if (bytes > this.maxRcvWnd) this.maxRcvWnd = bytes;
    return raw;
  }

  /** One full segment the peer can send us (our MSS less its timestamps option), or half the buffer. */
  private swsThreshold(): number {
    return Math.min(this.recvBuf.capacity >>> 1, this.tsOk ? this.config.mss - TIMESTAMP_OPTION_BYTES : this.config.mss);
  }

  /** The window incoming data is checked against: what we advertised, or more if the reader freed it. */
  private receiveWindow(): number {
    const advertised = Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));
    const free = this.recvBuf.free;
    return free > advertised ? free : advertised;
  }

  // ---------------------------------------------------------------------------------------------
  // Buffer auto-tuning (buffer-tuning.ts)

  /** In-order data arrived (auto-tuning on): the receiver's own RTT measurement. */
  private measureReceiveRtt(seg: TcpRepr, now: number): void {
    let tuner = this.rcvTuner;
    if (tuner === undefined) tuner = this.rcvTuner = new ReceiveBufferTuner(this.config.mss, this.recvBuf.capacity);
    tuner.onData(this.recvBuf.consumed, now);
    if (this.tsOk) {
      // Only full-sized segments: a short one may have waited for the user or for Nagle.
      const ts = seg.timestamp;
      if (ts !== undefined && seg.payload.length >= this.rcvMss) {
        const sample = this.ts.rttSample(ts.tsEcr, now);
        if (sample !== undefined) tuner.onTimestampSample(ts.tsEcr, sample);
      }
    } else {
      tuner.onWindowData(this.recvBuf.inOrderEnd, this.rcvWnd, now);
    }
  }

  /** The user read: once per receiver RTT, grow the buffer with the reader's rate (never shrink). */
  private tuneReceiveBuffer(now: number): void {
    const target = (this.rcvTuner as ReceiveBufferTuner).onRead(this.recvBuf.consumed, now);
    if (target <= this.recvBuf.capacity) return;
    if (this.memory?.pressure === true) {
      this.counters.bufferGrowthRefused++; // the stack's buffers are above their soft mark
      return;
    }
    // The window field can say no more than 65535 << the scale we offered in the SYN.
    const cap = Math.min(this.config.receiveBufferMax, 0xffff << this.rcvWndScale);
    const size = target < cap ? target : cap;
    if (size <= this.recvBuf.capacity) return;
    this.recvBuf.grow(size, Math.ceil(size / this.config.mss));
    this.counters.receiveBufferGrown++;
  }

  /** The writer is held back by a full send buffer: grow it with cwnd (up to sendBufferMax). */
  private expandSendBuffer(): void {
    // Only when the buffer is what limits sending: its unsent bytes do not fill what cwnd and
    // the peer's window allow now. Behind a closed window or a full cwnd, more buffer is only memory.
    const flight = seqDiff(this.sndMax, this.sndUna);
    const allowed = (this.cc.cwnd < this.sndWnd ? this.cc.cwnd : this.sndWnd) - flight;
    if (this.sendBuf.length - flight >= allowed) return;
    const capacity = this.sendBuf.capacity;
    const meter = this.delivery;
    const target = sendBufferTargetFor(this.cc.cwnd, this.sndMss, this.config.initialCwndSegments, meter === undefined ? 0 : meter.bdp);
    if (target <= capacity) return;
    if (this.memory?.pressure === true) {
      this.counters.bufferGrowthRefused++; // the stack's buffers are above their soft mark
      return;
    }
    // Steps of at least a quarter: cwnd grows on every ACK, the buffer need not follow each one.
    const step = capacity + (capacity >>> 2);
    const wanted = target > step ? target : step;
    const size = wanted < this.config.sendBufferMax ? wanted : this.config.sendBufferMax;
    if (size <= capacity) return;
    this.sendBuf.growCapacity(size);
    this.counters.sendBufferGrown++;
  }

  // ---------------------------------------------------------------------------------------------
  // SACK loss recovery (RFC 6675; the scoreboard is sack-scoreboard.ts)

  /**
   * SACK was negotiated (wherever `sackOk` becomes true): the scoreboard, and RACK when loss
   * detection is 'rack', take over loss recovery. They are made once there is data or a FIN to
   * send (here, or at the first `write` / FIN, see allocateSackRecovery): loss recovery needs
   * them only for what is in flight, and an idle connection that never sent then holds neither.
   */
  private enableSackRecovery(): void {
    if (this.sendBuf.length > 0 || this.finQueued) this.allocateSackRecovery();
    this.recoveryPoint = this.iss; // no episode yet: any SND.UNA past the SYN may start one
  }

  /**
   * Makes the scoreboard (and RACK) with SACK negotiated, before the first byte or FIN after the
   * SYN is sent: nothing has been in flight yet, so both start empty with their edges at SND.UNA
   * (where the ACKs so far would have moved them).
   */
  private allocateSackRecovery(): void {
    if (this.sack === undefined) this.sack = new SackScoreboard();
    if (this.config.lossDetection === 'rack' && this.rack === undefined) {
      this.rack = new Rack();
      this.rack.clear(this.sndUna);
      this.sack.externalLoss = true;
      this.sack.externalEdge = this.sndUna;
      this.sack.marks = this.rack; // RACK's per-segment loss marks (rack.ts lostAt)
    }
  }

  /** Takes one ACK's SACK blocks; true when they SACKed new data. */
  private onSackBlocks(blocks: ReadonlyArray<readonly [number, number]>, ack: number): boolean {
    const sb = this.sack as SackScoreboard;
    const una = seqGt(ack, this.sndUna) ? ack : this.sndUna;
    const u = sb.update(blocks, una, this.sndMax);
    if (u.dsack) {
      this.counters.dsacksReceived++;
      this.onDsack(u.dsackStart, u.dsackEnd);
    }
    return u.newlySacked > 0;
  }

  /** After an ACK: ends an episode that reached its recovery point, or starts fast recovery. */
  private sackRecoveryOnAck(sacked: boolean, advanced: boolean, dsack: boolean, now: number): void {
    const sb = this.sack as SackScoreboard;
    const rack = this.rack;
    if (this.lossEpisode === EPISODE_RECOVERY && (sacked || advanced)) {
      this.tlpAt = NEVER; // the ACK clock runs: the recovery probe waits again from now
      this.tlpOutstanding = false;
    }
    if (rack !== undefined) {
      rack.onAck(this.sndUna, sb, sacked, dsack, this.sndNxt, now);
      if (this.sackRttDue) this.rttOnSack(rack.sackSent, now);
      // Detection costs a pass over the flight: only when SACKs or an episode say a loss may be.
      if (!sb.empty || this.lossEpisode !== EPISODE_NONE || this.rackAt !== NEVER) this.rackDetectLoss(now);
    }
    if (this.lossEpisode !== EPISODE_NONE && seqGeq(this.sndUna, this.recoveryPoint)) {
      if (this.lossEpisode === EPISODE_RECOVERY) {
        this.cc.exitRecovery();
        this.counters.recoveries++;
        if (rack !== undefined) rack.onRecoveryEnd();
      }
      this.lossEpisode = EPISODE_NONE;
      sb.allLost = false;
    }
    if (this.lossEpisode === EPISODE_RECOVERY && advanced && rack === undefined && seqGeq(this.sndUna, sb.rxtNext)) {
      // A partial ACK (RFC 6582 3.2 step 4, kept with SACK without RACK, as Linux does): the
      // segment now at SND.UNA was sent before the retransmission just acknowledged, so it is
      // lost too. Without this a peer sending few SACK blocks would leave the next hole to the
      // RTO. RACK decides that by time (and sees when the ACK was the late original's: after a
      // spurious retransmission the rule resent a segment in flight on every ACK).
      this.counters.partialAcks++;
      const len = this.holeAt(this.sndUna);
      if (len > 0) this.sackSend(NextSegKind.LOST, this.sndUna, len, now);
      return;
    }
    this.maybeEnterRecovery(sacked, now);
  }

  /**
   * Starts fast recovery on DupThresh duplicates, or when the loss detection marks data lost:
   * RACK's timing (RFC 8985), or RFC 6675 IsLost(SND.UNA) from this ACK's SACKs; never for
   * data sent before the previous episode's recovery point (RFC 6675 5, RFC 6582 4).
   */
  private maybeEnterRecovery(sacked: boolean, now: number, reoTimeout = false): void {
    const sb = this.sack as SackScoreboard;
    if (this.lossEpisode !== EPISODE_NONE || !seqGt(this.sndMax, this.sndUna)) return;
    const lost = this.rack !== undefined
      ? seqGt(this.rack.lostEdge, this.sndUna)
      : sacked && sb.isLost(this.sndUna, this.sndUna, this.sndMax, this.sndMss);
    // Three duplicate ACKs while the segment at SND.UNA is a retransmission still in flight (the
    // last episode's, behind a queue) prove nothing about it: they come from data sent before
    // it. Only RACK's timing can find that copy lost (RFC 8985 6.2).
    const dupAckLoss = this.dupAcks >= DUP_THRESH && !(this.rack !== undefined && this.rack.resentInFlight(this.sndUna));
    if (!(dupAckLoss || lost)) return;
    if (seqLt(this.sndUna, this.recoveryPoint)) return;
    this.lossEpisode = EPISODE_RECOVERY;
    this.recoveryPoint = this.sndMax;
    this.counters.sackRecoveries++;
    this.counters.fastRetransmits++;
    this.cc.enterRecovery(seqDiff(this.sndMax, this.sndUna), this.sndMax);
    this.tlpAt = NEVER; // a tail loss probe armed before is void; the recovery probe waits from now
    this.tlpOutstanding = false;
    this.startUndo();
    sb.startEpisode(this.sndUna);
    if (this.prr === undefined) this.prr = new Prr();
    this.prr.start(seqDiff(this.sndMax, this.sndUna));
    // Entered on RACK's reordering timer, no ACK delivered anything: count it as one segment
    // delivered (as Linux), so the hole and one new segment go out. Otherwise, with the rest of
    // the flight SACKed, no ACK would come to grow PRR's budget, and a lost retransmission with
    // nothing sent after it could only be found by the RTO.
    if (reoTimeout) this.prr.onAck(this.sndMss, sb.pipe(this.sndUna, this.sndMax, this.sndMss), this.cc.ssthresh, this.sndMss);
    // The first hole goes out whatever the pipe (RFC 6675 5 step 4.2); output() sends the rest.
    // When RACK found the loss, that hole is the first segment it marked lost: the one at
    // SND.UNA may be a retransmission still in flight (the last episode's, behind a queue), and
    // resending it again is spurious twice over: its ACK, taken for the newest copy's, gives
    // RACK a short RTT that makes everything sent before it look lost (a cascade of hundreds of
    // D-SACKed retransmissions on a path whose queue drains; see the lossy-path test).
    if (lost) {
      if (sb.nextSeg(this.sndUna, this.sndMax, this.sndMss, false, this.recoveryPoint) === NextSegKind.LOST) {
        this.sackSend(NextSegKind.LOST, sb.segSeq, sb.segLen, now);
      }
      return;
    }
    const len = this.holeAt(this.sndUna);
    if (len > 0) this.sackSend(NextSegKind.LOST, this.sndUna, len, now);
  }

  /** Retransmission timeout with SACK: resend only what the peer has not SACKed (RFC 6675 5.1). */
  private sackOnTimeout(now: number): void {
    const sb = this.sack as SackScoreboard;
    // F-RTO (RFC 5682 3.1 step 1): on a first timeout outside any loss episode (as Linux: not in
    // fast recovery), with the SACKs kept (forgotten ones would come back as "new").
    let frto = this.config.frto && this.lossEpisode === EPISODE_NONE && this.retries === 1;
    // A peer that drops data it SACKed (RFC 2018 8) would stall us: forget its SACKs when it
    // holds SND.UNA unacknowledged or a timeout repeats.
    if (this.retries > 1 || sb.isSacked(this.sndUna)) {
      sb.clear();
      frto = false;
    }
    this.sndNxt = this.sndMax;
    if (this.lossEpisode !== EPISODE_RTO) {
      this.startUndo(); // a repeated timeout keeps counting
      // Eifel detection (RFC 3522): the retransmission below carries this TSval; an ACK of it
      // echoing an older one was for the original, which was only late.
      if (this.tsOk) this.eifelTsVal = this.ts.tsVal(now);
    } else {
      this.eifelTsVal = undefined; // a second timeout: the retransmission's TSval is ambiguous now
    }
    this.lossEpisode = EPISODE_RTO;
    this.recoveryPoint = this.sndMax;
    sb.markAllLost(this.sndMax);
    sb.startEpisode(this.sndUna);
    this.rtxAt = NEVER;
    if (this.frto !== undefined) this.frto.end();
    this.sackTransmit(now);
    if (frto && seqGt(sb.rxtNext, this.sndUna)) {
      if (this.frto === undefined) this.frto = new Frto();
      this.frto.start(this.recoveryPoint, sb.rxtNext);
    }
    if (this.rtxAt === NEVER && seqGt(this.sndMax, this.sndUna)) this.rtxAt = now + this.rtt.rto;
  }

  /**
   * RFC 6675 5 step (C): while the budget allows a segment, send what NextSeg chooses. The
   * budget is PRR's in fast recovery (RFC 6937), cwnd - pipe after a timeout.
   */
  private sackTransmit(now: number): void {
    const sb = this.sack as SackScoreboard;
    const mss = this.sndMss;
    const prr = this.lossEpisode === EPISODE_RECOVERY ? this.prr : undefined;
    for (let guard = 0; guard < 1024; guard++) {
      if (prr !== undefined) {
        if (prr.budget < mss) return;
      } else if (this.cc.cwnd - sb.pipe(this.sndUna, this.sndMax, mss) < mss) {
        return;
      }
      const wantFin = this.finQueued && !this.finSent;
      const room = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
      const unsent = this.unsentBytes();
      const newData = (unsent > 0 && room > 0) || (wantFin && unsent === 0);
      // F-RTO step 2b: new data, not retransmissions, until the next ACK tells.
      const kind = this.frto !== undefined && this.frto.step === FRTO_NEW_SENT
        ? (newData ? NextSegKind.NEW : NextSegKind.NONE)
        : sb.nextSeg(this.sndUna, this.sndMax, mss, newData, this.recoveryPoint);
      if (kind === NextSegKind.NONE) return;
      if (kind === NextSegKind.NEW) {
        const len = Math.min(unsent, mss, Math.max(room, 0));
        this.sendSegment(this.sndNxt, len, wantFin && len === unsent, now);
        if (prr !== undefined) prr.onSend(len);
        continue;
      }
      this.sackSend(kind, sb.segSeq, sb.segLen, now);
    }
  }

  /** Resends [seq, seq + len) chosen by the scoreboard, with our FIN if the range covers it. */
  private sackSend(kind: NextSegKind, seq: number, len: number, now: number): void {
    (this.sack as SackScoreboard).onRetransmit(kind, seq, len);
    this.counters.sackRetransmits++;
    if (this.undoMarker !== undefined) {
      this.undoRetrans += len;
      const end = seqAdd(seq, len);
      if (seqGt(end, this.undoHigh)) this.undoHigh = end;
    }
    if (this.lossEpisode === EPISODE_RECOVERY && this.prr !== undefined) this.prr.onSend(len);
    this.resend(seq, len, now);
  }

  /** Resends sequence space [seq, seq + len), with our FIN if the range covers it. */
  private resend(seq: number, len: number, now: number): void {
    let fin = false;
    if (this.finSent && seqGeq(seqAdd(seq, len), seqAdd(this.finSeq, 1)) && seqLeq(seq, this.finSeq)) {
      fin = true;
      len = seqDiff(this.finSeq, seq);
    }
    this.sendSegment(seq, len, fin, now);
  }

  /** Schedules a tail loss probe (RFC 8985 7.2) when one may go out before the RTO. */
  private armProbe(now: number): void {
    if (this.tlpOutstanding || this.lossEpisode === EPISODE_RTO || this.config.lossDetection !== 'rack') return;
    if (this.rtxAt === NEVER || !seqGt(this.sndMax, this.sndUna)) return;
    const at = now + (this.lossEpisode === EPISODE_RECOVERY ? recoveryProbeTimeout(this.rtt.srtt) : probeTimeout(this.rtt.srtt, seqDiff(this.sndMax, this.sndUna), this.sndMss));
    // When the RTO would fire first, the probe goes out at its time instead (as Linux: PTO =
    // min(PTO, time to the RTO)): with one segment in flight 2 * SRTT + WCDelAckT is often past the
    // RTO, and the probe answers for it without collapsing the window.
    this.tlpAt = at < this.rtxAt ? at : this.rtxAt;
  }

  /**
   * The probe timer fired (RFC 8985 7.3): send one new segment if the windows allow, else the
   * last segment again; its ACK shows the peer's holes. The RTO restarts from now.
   */
  private onProbeTimeout(now: number): void {
    if (this.lossEpisode === EPISODE_RECOVERY && this.rack !== undefined) {
      this.onRecoveryProbeTimeout(now);
      return;
    }
    if (this.lossEpisode !== EPISODE_NONE || !seqGt(this.sndMax, this.sndUna) || this.tlpOutstanding) return;
    this.counters.tlpProbes++;
    this.tlpOutstanding = true;
    const unsent = this.unsentBytes();
    const room = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
    if (unsent > 0 && room > 0 && this.sndNxt === this.sndMax) {
      const len = Math.min(unsent, this.sndMss, room);
      this.sendSegment(this.sndNxt, len, this.finQueued && !this.finSent && len === unsent, now);
    } else {
      // The last segment as it was sent (RACK's record), else the last MSS of the flight.
      let len = Math.min(this.sndMss + (this.finSent ? 1 : 0), seqDiff(this.sndMax, this.sndUna));
      const last = this.rack !== undefined ? this.rack.lastStart() : undefined;
      if (last !== undefined && seqGeq(last, this.sndUna)) len = seqDiff(this.sndMax, last);
      this.resend(seqAdd(this.sndMax, -len), len, now);
      // It may repair a loss nothing else would show (RFC 8985 7.4): its episode tells.
      if (this.tlp === undefined) this.tlp = new TlpEpisode();
      this.tlp.onProbe(seqAdd(this.sndMax, -len), this.sndMax, seqDiff(this.sndMax, this.sndUna));
    }
    this.rtxAt = now + this.rtt.rto;
  }

  /**
   * An ACK during a TLP episode (RFC 8985 7.4.2): a probe that repaired a loss gets the
   * congestion response fast recovery would have made (as Linux: cwnd = ssthresh after one
   * reduction, no recovery episode); a needless one none. Fast recovery or a timeout since the
   * probe made the response already.
   */
  private tlpOnAck(ack: number, dsack: boolean, duplicate: boolean): void {
    const tlp = this.tlp as TlpEpisode;
    if (this.lossEpisode !== EPISODE_NONE) {
      tlp.end();
      return;
    }
    const u = (this.sack as SackScoreboard).lastUpdate;
    const outcome = tlp.onAck(ack, dsack, u.dsackStart, u.dsackEnd, duplicate);
    if (outcome === TLP_SPURIOUS) {
      this.counters.tlpSpuriousProbes++;
    } else if (outcome === TLP_REPAIRED) {
      this.counters.tlpLossesRepaired++;
      this.cc.enterRecovery(tlp.flight, this.sndMax);
      this.cc.exitRecovery();
    }
  }

  /**
   * Fast recovery went quiet: no ACK for two round trips, so everything in flight (typically
   * the retransmissions and the few segments PRR let out) was lost, or its ACKs were. RACK cannot
   * see a lost retransmission when nothing sent after it is delivered, and this would wait for the
   * RTO (at least 200 ms, then a restart from one segment). Instead the hole at SND.UNA goes
   * again, once per quiet spell (as a tail loss probe, which RFC 8985 sends only outside
   * recovery); its ACK restarts the recovery's ACK clock, and the RTO still runs behind it.
   */
  private onRecoveryProbeTimeout(now: number): void {
    if (!seqGt(this.sndMax, this.sndUna) || this.tlpOutstanding) return;
    this.tlpOutstanding = true;
    this.counters.recoveryProbes++;
    const len = this.holeAt(this.sndUna);
    if (len > 0) this.sackSend(NextSegKind.LOST, this.sndUna, len, now);
    if (this.rtxAt <= now) this.rtxAt = now + this.rtt.rto; // sent in the RTO's place (armProbe)
  }

  /** Runs RACK's loss detection (RFC 8985 6.2 step 5), hands the result to the scoreboard, arms its timer. */
  private rackDetectLoss(now: number): void {
    const rack = this.rack as Rack;
    const sb = this.sack as SackScoreboard;
    const flight = seqDiff(this.sndMax, this.sndUna);
    const sackedBytes = flight - sb.unsackedIn(this.sndUna, this.sndMax);
    const reo = rack.reoWnd(this.lossEpisode !== EPISODE_NONE, sackedBytes, this.sndMss, this.rtt.srtt);
    const before = sb.externalEdge;
    const timeout = rack.detectLoss(now, reo, this.sndUna);
    sb.externalEdge = rack.lostEdge;
    if (seqGt(rack.lostEdge, before) && seqGt(rack.lostEdge, this.sndUna)) this.counters.rackLosses++;
    // A lost retransmission is sent again: NextSeg resumes from it (RFC 8985 6.2 step 5).
    const again = rack.lostRetransmission;
    if (again !== undefined && seqLt(again, sb.rxtNext)) sb.rxtNext = again;
    this.rackAt = timeout > 0 ? now + timeout : NEVER;
  }

  /**
   * RACK's timer (RFC 8985 6.3): segments are now overdue without an ACK. In fast recovery what
   * was just marked lost left the pipe, and PRR gets the chance to send for it (an event with no
   * data delivered: PRR-SSRB allows one segment when pipe is below ssthresh), as Linux's cwnd
   * (pipe + sndcnt) does; otherwise a lost retransmission with nothing else in flight would wait
   * for an ACK that never comes, then for the RTO.
   */
  private onRackTimer(now: number): void {
    this.rackDetectLoss(now);
    if (this.lossEpisode === EPISODE_RECOVERY && this.prr !== undefined) {
      this.prr.onAck(0, (this.sack as SackScoreboard).pipe(this.sndUna, this.sndMax, this.sndMss), this.cc.ssthresh, this.sndMss);
    }
    this.maybeEnterRecovery(false, now, true);
  }

  /**
   * The first ACK of new data after a timeout (RFC 3522 Eifel detection): a TSecr older than the
   * retransmission's TSval acknowledges the original, so the timeout was spurious (a delayed ACK
   * clock, not a loss). Response (RFC 4015, as Linux): cwnd and ssthresh restored, the episode
   * ends, so the data after SND.UNA is not resent; the RTO is taken from this ACK's RTT sample.
   */
  private eifelOnAck(seg: TcpRepr): void {
    const sent = this.eifelTsVal as number;
    this.eifelTsVal = undefined;
    const ts = seg.timestamp;
    if (ts === undefined || this.lossEpisode !== EPISODE_RTO || this.undoMarker === undefined) return;
    if (((ts.tsEcr - sent) | 0) >= 0) return; // echoes the retransmission (or later): a real loss
    this.counters.spuriousRtoUndos++;
    this.undoEpisode();
  }

  /**
   * An ACK while F-RTO runs (RFC 5682 3.1 steps 2 and 3): data sent before the timeout and never
   * resent arrived, so the timeout was spurious (the ACKs were late or lost): its reduction is
   * undone and the episode ends; holes that are really lost are left to RACK / fast recovery.
   * Otherwise the first ACK that advances lets new data out in place of retransmissions (the
   * scoreboard's `sackTransmit` sends only new data in that step), and the ACK after it, showing
   * only that data, confirms the loss: the conventional recovery goes on.
   */
  private frtoOnAck(advanced: boolean, sacked: boolean, duplicate: boolean): void {
    const f = this.frto as Frto;
    if (this.lossEpisode !== EPISODE_RTO) {
      f.end(); // undone already (D-SACK, Eifel), or the episode ended
      return;
    }
    // New data for step 2b as Linux's tcp_process_loss has it: anything queued (a lone FIN too,
    // a segment of its own in Linux's queue) with the peer's window open beyond SND.MAX.
    const room = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
    const canSendNew = room > 0 && (this.unsentBytes() > 0 || (this.finQueued && !this.finSent));
    if (f.onAck(this.sack as SackScoreboard, this.sndUna, advanced, sacked, duplicate, canSendNew) !== FRTO_SPURIOUS) return;
    this.counters.frtoSpuriousRtos++;
    this.eifelTsVal = undefined;
    this.undoEpisode();
  }

  /** A loss episode (fast recovery or timeout) begins: its retransmissions may yet prove spurious. */
  private startUndo(): void {
    this.undoMarker = this.sndUna;
    this.undoHigh = this.sndUna;
    this.undoRetrans = 0;
  }

  /**
   * A D-SACK for [start, end): if it reports one of the episode's retransmissions, one fewer is
   * unexplained; when none is left, every retransmission was needless (the originals arrived)
   * and the reduction is undone (RFC 3708 style, as Linux's D-SACK undo).
   */
  private onDsack(start: number, end: number): void {
    const marker = this.undoMarker;
    if (marker === undefined || this.undoRetrans === 0) return;
    // Only the part within what the episode retransmitted counts (RFC 2883 allows any range).
    const covered = seqDiff(seqLt(end, this.undoHigh) ? end : this.undoHigh, seqGt(start, marker) ? start : marker);
    if (covered <= 0) return;
    this.undoRetrans -= covered;
    if (this.undoRetrans > 0) return;
    this.counters.spuriousUndos++;
    this.undoEpisode();
  }

  /**
   * The last loss episode was spurious (D-SACK or Eifel): the congestion response is undone
   * and the episode, if still running, ends: no more retransmissions of data that arrived.
   */
  private undoEpisode(): void {
    this.undoMarker = undefined;
    this.cc.undoRecovery?.();
    // Nothing was lost: a loss of data sent before the episode's recovery point may start one.
    if (seqLt(this.sndUna, this.recoveryPoint)) this.recoveryPoint = this.sndUna;
    if (this.lossEpisode !== EPISODE_NONE) {
      // The episode ends here: nothing was lost.
      this.lossEpisode = EPISODE_NONE;
      (this.sack as SackScoreboard).allLost = false;
    }
  }

  /** Bytes SACKed above SND.UNA. */
  private sackedBytes(): number {
    const sb = this.sack as SackScoreboard;
    return sb.empty ? 0 : seqDiff(this.sndMax, this.sndUna) - sb.unsackedIn(this.sndUna, this.sndMax);
  }

  /** Length of the unSACKed run at `seq`, at most one MSS. */
  private holeAt(seq: number): number {
    const sb = this.sack as SackScoreboard;
    let len = Math.min(this.sndMss, seqDiff(this.sndMax, seq));
    for (let i = 0; i < sb.ranges; i++) {
      const start = sb.range(i)[0];
      if (seqGt(start, seq)) {
        len = Math.min(len, seqDiff(start, seq));
        break;
      }
    }
    return len;
  }

  // ---------------------------------------------------------------------------------------------
  // Timers

  private onRetransmitTimeout(now: number): void {
    const s = this._state;
    if (s === 'SYN-SENT' || s === 'SYN-RECEIVED') {
      const limit = this.passiveOpen ? this.config.synAckRetries : this.config.synRetries;
      if (this.retries >= limit) {
        this.fail('ETIMEDOUT', s === 'SYN-SENT' ? 'connect timed out' : 'handshake timed out');
        return;
      }
      this.retries++;
      this.counters.synRetransmits++;
      this.synRetransmitted = true;
      this.rtt.backoff();
      this.sendSyn();
      this.rtxAt = now + this.rtt.rto;
      return;
    }
    if (!seqGt(this.sndMax, this.sndUna)) return;
    if (this.retries >= this.config.dataRetries) {
      this.fail('ETIMEDOUT', 'retransmission limit reached');
      return;
    }
    this.retries++;
    this.counters.timeouts++;
    this.dupAcks = 0;
    if (this.blackHole !== undefined) {
      // RFC 4821 black hole: full-sized segments keep timing out (or a probe was lost).
      const probing = this.blackHole.probeMss !== 0;
      const mss = this.blackHole.onTimeout(this.sndMss, seqDiff(this.sndMax, this.sndUna) >= this.sndMss, now);
      if (mss !== undefined && mss !== this.sndMss) {
        if (probing) this.counters.pmtuProbeFailures++;
        else this.counters.pmtuBlackHoles++;
        this.setPathMss(mss);
      }
    }
    this.tlpAt = NEVER;
    const fastRecovery = this.cc.inRecovery; // (without SACK, F-RTO and Eifel only outside it)
    this.cc.onTimeout(seqDiff(this.sndMax, this.sndUna), this.sndMax, this.retries === 1);
    this.rtt.backoff();
    if (this.sack !== undefined) {
      this.sackOnTimeout(now);
      return;
    }
    // Go back N (RFC 5681 3.1 / RFC 6298 5.4): resend from the oldest unacknowledged byte,
    // as the congestion window (now one segment) grows again.
    this.sndNxt = this.sndUna;
    this.transmitData(now, false); // sends nothing into a zero window, except a lone FIN
    if (this.rtxAt === NEVER && seqGt(this.sndNxt, this.sndUna)) this.rtxAt = now + this.rtt.rto;
    this.spuriousRtoOnTimeout(fastRecovery, now);
  }

  /**
   * Without SACK, a timeout's go-back-N just resent the segment at SND.UNA: whether the timeout
   * was spurious is tested by Eifel (RFC 3522, with timestamps) and basic F-RTO (RFC 5682 2,
   * `frto`), on a first timeout outside fast recovery and RTO recovery (a segment resent before
   * makes the echo and the ACKs ambiguous).
   */
  private spuriousRtoOnTimeout(fastRecovery: boolean, now: number): void {
    const d = this.srto ?? (this.srto = new SpuriousRtoDetector());
    const first = this.retries === 1 && !fastRecovery && !d.inRtoRecovery(this.sndUna);
    const resent = seqGt(this.sndNxt, this.sndUna);
    const tsVal = first && resent && this.tsOk ? this.ts.tsVal(now) : undefined;
    d.onTimeout(first && resent && this.config.frto, this.sndMax, this.sndNxt, tsVal);
  }

  /**
   * An ACK after a timeout without SACK (spurious-rto.ts). Spurious (Eifel, or F-RTO step 3b):
   * the reduction is undone and go-back-N stops (RFC 4015: new data goes on from SND.MAX).
   * F-RTO step 2b: up to two new segments go out in place of retransmissions; step 3a (only the
   * new data arrived): go-back-N resumes from SND.UNA.
   */
  private spuriousRtoOnAck(seg: TcpRepr, advanced: boolean, duplicate: boolean, now: number): void {
    const d = this.srto as SpuriousRtoDetector;
    const newDataSent = d.newDataSent;
    const room = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndMax);
    const fresh = this.unsentBytes() - seqDiff(this.sndMax, this.sndNxt); // never sent
    // A lone FIN queued (the application closed after the timeout) is new data too, as in
    // Linux's tcp_process_loss (the FIN is a segment of its own in its queue); the peer's window
    // must be open beyond SND.MAX either way.
    const newData = fresh > 0 || (this.finQueued && !this.finSent);
    const tsEcr = this.tsOk && seg.timestamp !== undefined ? seg.timestamp.tsEcr : undefined;
    const outcome = d.onAck(this.sndUna, advanced, duplicate, tsEcr, newData && room > 0);
    if (outcome === SRTO_SPURIOUS_EIFEL || outcome === SRTO_SPURIOUS_FRTO) {
      if (outcome === SRTO_SPURIOUS_EIFEL) this.counters.spuriousRtoUndos++;
      else this.counters.frtoSpuriousRtos++;
      this.cc.undoRecovery?.();
      if (seqLt(this.sndNxt, this.sndMax)) this.sndNxt = this.sndMax;
    } else if (outcome === SRTO_SEND_NEW) {
      this.sndNxt = this.sndMax;
      for (let i = 0; i < 2; i++) {
        const unsent = this.unsentBytes();
        const len = Math.max(Math.min(unsent, this.sndMss, seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt)), 0);
        const fin = this.finQueued && !this.finSent && len === unsent;
        if (len === 0 && !fin) break;
        this.sendSegment(this.sndNxt, len, fin, now);
        if (fin) break;
      }
    } else if (outcome === SRTO_REAL && newDataSent) {
      this.sndNxt = this.sndUna;
    }
  }

  /** Our FIN queued, not yet sent, and no data before it: what waits is the FIN alone. */
  private loneFinWaiting(): boolean {
    return this.finQueued && !this.finSent && this.unsentBytes() === 0;
  }

  private onPersistTimeout(now: number): void {
    if (this.rtxAt !== NEVER) return;
    if (this.loneFinWaiting()) {
      // The FIN itself is the probe: the peer answers with its window, and from here on it is
      // resent by the retransmission timer like any segment at SND.UNA.
      this.counters.zeroWindowProbes++;
      this.sendSegment(this.sndNxt, 0, true, now); // (arms the retransmission timer)
      return;
    }
    if (this.unsentBytes() === 0) return;
    if (this.probesUnanswered > this.config.dataRetries) {
      this.fail('ETIMEDOUT', 'zero-window probes unanswered');
      return;
    }
    const usable = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
    if (usable > 0) {
      this.transmitData(now, true); // override SWS avoidance: send what fits
    } else {
      // One byte beyond the closed window (RFC 9293 3.8.6.1). SND.NXT stays: if the peer
      // takes the byte its ACK covers it (SND.MAX), else it answers with its window.
      const start = this.synAcked ? this.sndUna : seqAdd(this.iss, 1);
      const payload = this.sendBuf.peek(seqDiff(this.sndNxt, start), 1);
      this.counters.zeroWindowProbes++;
      const seq = this.sndNxt;
      const end = seqAdd(seq, 1);
      if (seqGt(end, this.sndMax)) {
        if (this.sndUna === this.sndMax) this.progressAt = now;
        this.sndMax = end;
        this.counters.bytesSent++;
      }
      this.probesUnanswered++;
      this.persistBackoff++;
      this.persistAt = now + this.persistInterval();
      this.emit(seq, ACK, payload);
      return;
    }
    this.probesUnanswered++;
    this.persistBackoff++;
    if (this.rtxAt === NEVER) this.persistAt = now + this.persistInterval();
  }

  private persistInterval(): number {
    return Math.min(this.rtt.rto * 2 ** this.persistBackoff, this.config.rtoMax);
  }

  private onKeepaliveTimeout(now: number): void {
    if (!(this._state === 'ESTABLISHED' || this._state === 'CLOSE-WAIT')) {
      this.keepaliveAt = NEVER;
      return;
    }
    if (this.sndMax !== this.sndUna || this.unsentBytes() > 0) {
      this.keepaliveAt = now + this.keepaliveIdle; // retransmission watches liveness
      return;
    }
    if (this.keepaliveSent >= this.config.keepaliveProbes) {
      this.fail('ETIMEDOUT', 'keepalive probes unanswered');
      return;
    }
    this.keepaliveSent++;
    this.counters.keepaliveProbes++;
    // An old sequence number forces the peer to answer with an ACK (RFC 1122 4.2.3.6).
    this.emit(seqAdd(this.sndUna, -1), ACK, EMPTY);
    this.keepaliveAt = now + this.config.keepaliveInterval;
  }

  private userTimeoutAt(): number {
    if (this.config.userTimeout === 0 || this.sndMax === this.sndUna || this._state === 'CLOSED') return NEVER;
    if (this._state === 'SYN-SENT' || this._state === 'SYN-RECEIVED') return NEVER;
    return this.progressAt + this.config.userTimeout;
  }

  // ---------------------------------------------------------------------------------------------
  // State changes

  private establish(now: number): void {
    this.setState('ESTABLISHED');
    this.ecn.start(this.iss);
    this.retries = 0;
    this.cc.init(this.sndMss, this.synRetransmitted, this.iss);
    this.rtt.onHandshakeComplete(this.synRetransmitted);
    if (this.keepaliveOn) this.keepaliveAt = now + this.keepaliveIdle;
    this.events |= EV_ESTABLISHED;
    if (this.finQueued) this.setState('FIN-WAIT-1');
  }

  private enterTimeWait(now: number): void {
    this.setState('TIME-WAIT');
    this.rtxAt = NEVER;
    this.persistAt = NEVER;
    this.keepaliveAt = NEVER;
    this.closeAt = now + 2 * this.config.msl;
  }

  private queueFin(): void {
    if (this.finQueued) return;
    this.finQueued = true;
    if (this.sackOk && this.sack === undefined) this.allocateSackRecovery();
    const start = this.synAcked ? this.sndUna : seqAdd(this.iss, 1);
    this.finSeq = seqAdd(start, this.sendBuf.length);
  }

  /**
   * Negotiates MSS, window scaling, timestamps and SACK from the peer's SYN (RFC 9293 3.7.1,
   * RFC 7323 1.3 and 3.2, RFC 2018 2). We offer timestamps and SACK-permitted in our SYN exactly
   * when configured, so for both ends "used when both sent it" reads the same.
   */
  private negotiate(seg: TcpRepr, passive: boolean, now: number): void {
    this.sackOk = this.config.sack && seg.sackPermitted === true;
    this.tsOk = this.config.timestamps && seg.timestamp !== undefined;
    this.sndMss = Math.max(MIN_MSS, Math.min(seg.mss ?? DEFAULT_PEER_MSS, this.config.mss));
    if (this.tsOk) {
      this.ts.start((seg.timestamp as { tsVal: number }).tsVal, now);
      this.sndMss = Math.max(MIN_MSS, this.sndMss - TIMESTAMP_OPTION_BYTES);
    }
    this.rcvMss = Math.min(DEFAULT_PEER_MSS, this.sndMss);
    if (this.sackOk) this.enableSackRecovery();
    const offered = passive ? this.config.windowScaling : this.wsOption !== undefined;
    if (offered && seg.windowScale !== undefined) {
      this.sndWndScale = Math.min(seg.windowScale, 14);
      this.rcvWndScale = windowScaleFor(receiveBufferLimit(this.config));
      if (passive) this.wsOption = this.rcvWndScale;
    } else {
      this.sndWndScale = 0;
      this.rcvWndScale = 0;
      if (passive) this.wsOption = undefined;
    }
  }

  /**
   * RTT measurement for an ACK of new data (from `unaBefore` to `ack`), as Linux's
   * tcp_clean_rtx_queue and tcp_ack_update_rtt: from the send time of the oldest segment it
   * acknowledges when nothing it may cover was retransmitted (Karn), on the stack's clock,
   * which resolves microseconds: RACK's record of that segment when RACK runs (a sample per
   * ACK, one subtraction), else the one segment timed per round trip (RFC 6298). After a
   * retransmission from the echoed TSecr when timestamps are in use: the echo says which copy
   * the ACK answers (RFC 7323 4.1), but in whole milliseconds (an srtt from it swung between 0
   * and 2 ms on a sub-millisecond link), so only then. Else Karn's timed segment.
   */
  private rttOnAck(seg: TcpRepr, unaBefore: number, ack: number, now: number): void {
    // Karn: could this ACK cover retransmitted data? (Conservative: anything resent at or above
    // the old SND.UNA, until SND.UNA passes it; or a SYN / SYN-ACK sent more than once.)
    let retransmitted = unaBefore === this.iss && this.synRetransmitted;
    if (this.rtxPending) {
      if (seqGt(this.rtxHigh, unaBefore)) retransmitted = true;
      if (!seqGt(this.rtxHigh, ack)) this.rtxPending = false;
    }
    if (!retransmitted) {
      const rack = this.rack;
      const sent = rack !== undefined ? rack.sentAt(unaBefore) : -1;
      if (sent >= 0) {
        this.rtt.cancelTiming(); // RACK measures every ACK: the timed segment would only come late
        this.rtt.sample(rttSince(sent, now));
        if (this.sackRttDue) this.rttFallback = RTT_FALLBACK_TAKEN;
        return;
      }
      // The timed segment, if this ACK covers it; else no sample: a millisecond echo mixed in
      // would undo the precision (one sample per round trip is RFC 6298's own rate).
      if (this.sackRttDue) this.deferRttFallback(RTT_FALLBACK_TIMED, ack, 0);
      else this.rtt.onAck(ack, now);
      return;
    }
    if (this.tsOk && seg.timestamp !== undefined) {
      const r = this.ts.rttSample(seg.timestamp.tsEcr, now);
      if (r !== undefined && this.sackRttDue) {
        this.deferRttFallback(RTT_FALLBACK_ECR, ack, r);
        return;
      }
      if (r !== undefined) {
        this.rtt.onAckTimedOnly(ack, now); // the fine-grained minimum for buffer sizing only
        this.rtt.sample(r);
        return;
      }
    }
    if (this.sackRttDue) this.deferRttFallback(RTT_FALLBACK_TIMED, ack, 0);
    else this.rtt.onAck(ack, now);
  }

  /** The cumulative ACK's fallback sample waits for the SACK's (see `sackRttDue`). */
  private deferRttFallback(kind: number, ack: number, ecr: number): void {
    this.rttFallback = kind;
    this.rttFallbackAck = ack;
    this.rttFallbackEcr = ecr;
  }

  /**
   * RACK has seen an ACK that newly SACKed data (as Linux's tcp_ack_update_rtt): the cumulative
   * ACK's own send-time sample, if it gave one, stands; else the SACK's, from the segments it
   * newly SACKed that were never retransmitted (`sent`, sack-rtt.ts: SRTT from the earliest sent,
   * the minimum and the congestion control from the latest); else the cumulative ACK's fallback.
   * A SACK of retransmitted data alone gives none (Karn).
   */
  private rttOnSack(sent: SackSendTimes, now: number): void {
    this.sackRttDue = false;
    const fallback = this.rttFallback;
    this.rttFallback = RTT_FALLBACK_NONE;
    if (fallback === RTT_FALLBACK_TAKEN) return;
    if (sent.any) {
      // The timed segment's measurement, if this ACK covers it, ends without a sample of its own.
      if (fallback !== RTT_FALLBACK_NONE) this.rtt.onAckTimedOnly(this.rttFallbackAck, now);
      this.counters.sackRttSamples++;
      this.rtt.sample(rttSince(sent.first, now), rttSince(sent.last, now));
      return;
    }
    if (fallback === RTT_FALLBACK_ECR) {
      // Whole milliseconds, and only because the ACK may answer a retransmission (rttOnAck).
      this.rtt.onAckTimedOnly(this.rttFallbackAck, now);
      this.rtt.sample(this.rttFallbackEcr);
    } else if (fallback === RTT_FALLBACK_TIMED) {
      this.rtt.onAck(this.rttFallbackAck, now);
    }
  }

  private fail(code: NetstackErrorCode, message: string): void {
    // A timeout after an ICMP error reports that error, as Linux does (sk_err_soft).
    if (code === 'ETIMEDOUT' && this.softErrorCode !== undefined) {
      code = this.softErrorCode;
      message = `${message} after ${this.softErrorText}`;
    }
    this._error = netError(code, `${message} (${this.toString()})`);
    this.closeWith(this._error);
  }

  /** Enters CLOSED; timers stop, unsent data is dropped, unread data stays readable. */
  private closeWith(error: NetstackError | undefined): void {
    if (error !== undefined) this._error = error;
    this.rtxAt = NEVER;
    this.persistAt = NEVER;
    this.delackAt = NEVER;
    this.keepaliveAt = NEVER;
    this.closeAt = NEVER;
    this.tlpAt = NEVER;
    this.rackAt = NEVER;
    this.ackNow = false;
    this.sendBuf.clear();
    this.setState('CLOSED');
    this.events |= EV_CLOSED;
  }

  /** A method, not a comparison, so TypeScript does not narrow `_state` across calls that change it. */
  private isClosed(): boolean {
    return this._state === 'CLOSED';
  }

  private setState(next: TcpState): void {
    const prev = this._state;
    if (prev === next) return;
    this._state = next;
    if (tcpLogOn()) log.tcp('%s %s => %s', this.toString(), prev, next);
    if (this.pendingTo === undefined && this.transitionsRead === this.transitionsEnd) {
      // Nothing else waits to be reported: this one is next (and the list stays unmade).
      this.pendingFrom = prev;
      this.pendingTo = next;
    } else {
      // Behind what waits (the pending one, or earlier ones in the list): in order after them.
      if (this.transitions === NO_TRANSITIONS) this.transitions = [];
      const end = this.transitionsEnd;
      this.transitions[end] = prev;
      this.transitions[end + 1] = next;
      this.transitionsEnd = end + 2;
    }
    this.events |= EV_STATE;
  }

  private requireClosed(call: string): void {
    this.checkFresh(call);
    this.opened = true;
  }

  private checkFresh(call: string): void {
    if (!this.isClosed() || this.opened) {
      throw netError('EINVAL', `${call} on a connection that is not fresh (${this._state})`, call);
    }
  }

  /** Delivers pending events; handlers may call back into the connection. */
  private flushEvents(): void {
    while (this.events !== 0) {
      const ev = this.events;
      this.events = 0;
      const host = this.host;
      if ((ev & EV_STATE) !== 0) {
        // Handlers may change the state again: those are appended, and reported in order by
        // this loop or by a nested call's flush (which goes on from where this one is).
        // The pending one is always the oldest (the list is used only behind it), so it goes first.
        for (;;) {
          const to = this.pendingTo;
          if (to !== undefined) {
            this.pendingTo = undefined;
            host.onStateChange?.(this, this.pendingFrom, to);
          } else if (this.transitionsRead < this.transitionsEnd) {
            const i = this.transitionsRead;
            this.transitionsRead = i + 2;
            const list = this.transitions;
            host.onStateChange?.(this, list[i], list[i + 1]);
          } else {
            break;
          }
        }
        this.transitionsRead = 0;
        this.transitionsEnd = 0;
      }
      if ((ev & EV_ESTABLISHED) !== 0) {
        this.parent?.childEstablished(this);
        host.onEstablished?.(this);
      }
      if ((ev & EV_READABLE) !== 0 && this.recvBuf.readable > 0) host.onReadable?.(this);
      if ((ev & EV_PEER_FIN) !== 0) host.onPeerFin?.(this);
      if ((ev & EV_WRITABLE) !== 0) host.onWritable?.(this);
      if ((ev & EV_CLOSED) !== 0) {
        this.parent?.childClosed(this);
        host.onClosed?.(this, this._error);
      }
    }
  }
}

function addrText(addr: number): string {
  return isIpv6(addr) ? `[v6 #${addr - IPV6_ID_BASE}]` : formatIpv4(addr);
}
