/**
 * A listening port: turns SYNs into connections, bounds the half-open (SYN-RECEIVED) queue and
 * the queue of established connections nobody has taken yet, and answers with SYN cookies when
 * the half-open queue is full (RFC 4987), so a SYN flood costs service but never memory.
 *
 * The wiring's demux looks up the exact 4-tuple first; only segments for no connection reach
 * `handleSegment`. A 'created' verdict hands back a new connection to register under its 4-tuple
 * (its SYN-ACK already went out through the host); 'reply' is a stateless segment (RST or cookie
 * SYN-ACK) to send back to the segment's source.
 */

import type { Ipv4Addr } from '../ipv4/address.js';
import { TcpFlags, type TcpRepr } from '../wire/tcp.js';
import { DEFAULT_PEER_MSS, DEFAULT_TCP_CONFIG, receiveBufferLimit, windowScaleFor, type TcpConfig } from './config.js';
import type { ChallengeAckLimiter } from './challenge-ack-limit.js';
import type { CongestionControlFactory } from './congestion/congestion-control.js';
import { TcpConnectionCore, type TcpConnectionOptions, type TcpHost, type TcpMemoryPressure } from './connection.js';
import { ChildQueue } from './child-queue.js';
import type { IsnGenerator } from './isn.js';
import type { AddressBytes } from './tuple-bytes.js';
import { rstForSegment } from './rst.js';
import { seqAdd, seqGt } from './seq.js';
import { cookieOptionsFromEcr, cookieTimestamp, SynCookies } from './syn-cookie.js';
import { isEcnSetupSyn } from './ecn.js';
import { timestampAt, timestampOffset } from './timestamps.js';

const { SYN, RST, ACK, ECE } = TcpFlags;
const EMPTY = new Uint8Array(0);

export interface TcpListenerOptions {
  /** The address listened on (0 = any address of the stack). */
  readonly localAddr: Ipv4Addr;
  readonly localPort: number;
  /** Established connections waiting for `accept`, at most. Default 128. */
  readonly backlog?: number;
  /** Half-open (SYN-RECEIVED) connections, at most. Default 256. */
  readonly maxHalfOpen?: number;
  /** Answer with SYN cookies when the half-open queue is full (else drop the SYN). Default true. */
  readonly synCookies?: boolean;
  /** Resolved configuration for the connections. Default DEFAULT_TCP_CONFIG. */
  readonly config?: TcpConfig;
  /** Host given to every connection the listener creates. */
  readonly host: TcpHost;
  /** ISN source (RFC 6528). */
  readonly isn: IsnGenerator;
  /** 16 random bytes keying the SYN cookies. */
  readonly cookieSecret: Uint8Array;
  /** The bytes of IPv6 address ids (the stack's AddressBook), for cookies over IPv6. */
  readonly addressBytes?: AddressBytes;
  readonly congestion?: CongestionControlFactory;
  /** The stack's challenge-ACK budget, shared with every connection (RFC 5961 7). */
  readonly challengeAcks?: ChallengeAckLimiter;
  /** The stack's buffer memory, given to every connection (auto-tuning stops under pressure). */
  readonly memory?: TcpMemoryPressure;
  /** A connection entered the accept queue. */
  readonly onAcceptable?: (listener: TcpListener) => void;
  /**
   * Counted here as well as in `counters` (a stack's TCP layer passes its own counters, which
   * sum its listeners' without a pass over them after every segment and every closed child).
   */
  readonly totals?: TcpListenerTotals;
}

/** The listener counters a stack sums over its listeners (TcpListenerOptions.totals). */
export type TcpListenerTotals = Pick<TcpListenerCounters, 'synReceived' | 'synCookiesSent' | 'synCookiesAccepted' | 'synCookiesRejected' | 'halfOpenFailed' | 'acceptQueueOverflows'>;

export type TcpListenerVerdict =
  | { readonly kind: 'created'; readonly conn: TcpConnectionCore }
  | { readonly kind: 'reply'; readonly seg: TcpRepr }
  | { readonly kind: 'dropped'; readonly reason: TcpListenerDropReason };

/** How long after the last cookie sent an ACK may still complete a cookie handshake (Linux: TCP_SYNCOOKIE_VALID, 2 min). */
export const SYN_COOKIE_RECENT_MS = 120_000;

export type TcpListenerDropReason = 'rst' | 'notSyn' | 'acceptQueueFull' | 'halfOpenFull' | 'cookieUnusable';

export interface TcpListenerCounters {
  synReceived: number;
  /** SYNs dropped: half-open queue full and cookies off. */
  synDropped: number;
  /** SYNs dropped because the accept queue was full. */
  listenOverflows: number;
  synCookiesSent: number;
  synCookiesAccepted: number;
  /** ACKs whose cookie was forged or expired (answered with RST). */
  synCookiesRejected: number;
  /** Connections reset because they completed while the accept queue was full. */
  acceptQueueOverflows: number;
  /** Half-open connections that died (RST or SYN-ACK retries exhausted). */
  halfOpenFailed: number;
  rstSent: number;
  /** RSTs and segments with neither SYN nor ACK, ignored. */
  ignored: number;
}

// The children call childEstablished/childClosed (TcpChildObserver, checked where a child is
// made): not part of the published class, hence no `implements` here.
export class TcpListener {
  readonly localAddr: Ipv4Addr;
  readonly localPort: number;
  readonly backlog: number;
  readonly maxHalfOpen: number;
  readonly counters: TcpListenerCounters = {
    synReceived: 0,
    synDropped: 0,
    listenOverflows: 0,
    synCookiesSent: 0,
    synCookiesAccepted: 0,
    synCookiesRejected: 0,
    acceptQueueOverflows: 0,
    halfOpenFailed: 0,
    rstSent: 0,
    ignored: 0,
  };

  private readonly options: TcpListenerOptions;
  /** options.totals, or a sink of its own. */
  private readonly totals: TcpListenerTotals;
  private readonly config: TcpConfig;
  private readonly cookies: SynCookies | undefined;
  /** When this listener last answered with a cookie (its half-open queue overflowed). */
  private lastCookieSentAt = Number.NEGATIVE_INFINITY;
  private readonly halfOpen = new ChildQueue<TcpConnectionCore>();
  private readonly acceptQueue = new ChildQueue<TcpConnectionCore>();
  private closed = false;
  private lastNow = 0;
  /** See childOptions. */
  private readonly child: { -readonly [K in keyof TcpConnectionOptions]: TcpConnectionOptions[K] };

  constructor(options: TcpListenerOptions) {
    this.options = options;
    this.localAddr = options.localAddr;
    this.localPort = options.localPort;
    this.backlog = options.backlog ?? 128;
    this.maxHalfOpen = options.maxHalfOpen ?? 256;
    this.config = options.config ?? DEFAULT_TCP_CONFIG;
    this.totals = options.totals ?? { synReceived: 0, synCookiesSent: 0, synCookiesAccepted: 0, synCookiesRejected: 0, halfOpenFailed: 0, acceptQueueOverflows: 0 };
    this.cookies = options.synCookies === false ? undefined : new SynCookies(options.cookieSecret, options.addressBytes);
    this.child = {
      localAddr: 0,
      localPort: this.localPort,
      remoteAddr: 0,
      remotePort: 0,
      iss: 0,
      host: options.host,
      config: this.config,
      // Undefined when not set (the core takes that as absent): one shape for every child.
      congestion: options.congestion,
      challengeAcks: options.challengeAcks,
      memory: options.memory,
    };
  }

  /** Half-open connections (SYN-RECEIVED). */
  get halfOpenCount(): number {
    return this.halfOpen.size;
  }

  /** Established connections waiting for `accept`. */
  get acceptQueueLength(): number {
    return this.acceptQueue.size;
  }

  /**
   * A segment addressed to this port from a 4-tuple that has no connection. `localAddr` is the
   * segment's destination address (the connection's local address).
   */
  handleSegment(seg: TcpRepr, remoteAddr: Ipv4Addr, localAddr: Ipv4Addr, now: number): TcpListenerVerdict {
    this.lastNow = now;
    const flags = seg.flags;
    if ((flags & RST) !== 0) {
      this.counters.ignored++;
      return { kind: 'dropped', reason: 'rst' };
    }
    if (this.closed) return this.reset(seg);
    if ((flags & SYN) !== 0 && (flags & ACK) === 0) return this.onSyn(seg, remoteAddr, localAddr, now);
    if ((flags & ACK) !== 0) {
      // SYN-ACK, or an ACK that may complete a cookie handshake.
      if ((flags & SYN) === 0 && this.cookies !== undefined) {
        const verdict = this.onCookieAck(seg, remoteAddr, localAddr, now);
        if (verdict !== undefined) return verdict;
      }
      return this.reset(seg);
    }
    this.counters.ignored++;
    return { kind: 'dropped', reason: 'notSyn' };
  }

  /** Takes the oldest established connection, if any. The connection stops reporting to the listener. */
  accept(): TcpConnectionCore | undefined {
    const conn = this.acceptQueue.shift();
    if (conn !== undefined) conn.parent = undefined;
    return conn;
  }

  /** Stops listening: half-open and unaccepted connections are reset; later SYNs get RST. */
  close(now: number): void {
    this.closed = true;
    this.lastNow = now;
    const doomed = [...this.halfOpen.drain(), ...this.acceptQueue.drain()];
    for (const conn of doomed) {
      conn.parent = undefined;
      conn.abort(now);
    }
  }

  /** @internal Called by a child connection when its handshake completes. */
  childEstablished(conn: TcpConnectionCore): void {
    this.halfOpen.remove(conn);
    if (this.acceptQueue.size >= this.backlog) {
      this.counters.acceptQueueOverflows++;
      this.totals.acceptQueueOverflows++;
      conn.parent = undefined;
      conn.abort(this.lastNow);
      return;
    }
    this.acceptQueue.push(conn);
    this.options.onAcceptable?.(this);
  }

  /** @internal Called by a child connection when it reaches CLOSED before being accepted. */
  childClosed(conn: TcpConnectionCore): void {
    if (this.halfOpen.remove(conn)) {
      this.counters.halfOpenFailed++;
      this.totals.halfOpenFailed++;
    }
    this.acceptQueue.remove(conn);
  }

  private onSyn(seg: TcpRepr, remoteAddr: Ipv4Addr, localAddr: Ipv4Addr, now: number): TcpListenerVerdict {
    this.counters.synReceived++;
    this.totals.synReceived++;
    if (this.acceptQueue.size >= this.backlog) {
      this.counters.listenOverflows++;
      return { kind: 'dropped', reason: 'acceptQueueFull' };
    }
    if (this.halfOpen.size >= this.maxHalfOpen) {
      if (this.cookies === undefined) {
        this.counters.synDropped++;
        return { kind: 'dropped', reason: 'halfOpenFull' };
      }
      const iss = this.cookies.encode(localAddr, this.localPort, remoteAddr, seg.srcPort, seg.seq, seg.mss ?? DEFAULT_PEER_MSS, now);
      this.counters.synCookiesSent++;
      this.totals.synCookiesSent++;
      this.lastCookieSentAt = now;
      const reply: TcpRepr = {
        srcPort: this.localPort,
        dstPort: seg.srcPort,
        seq: iss,
        ack: seqAdd(seg.seq, 1),
        flags: SYN | ACK,
        window: this.cookieWindow(),
        urgent: 0,
        mss: this.config.mss,
        payload: EMPTY,
      };
      // The other options need the timestamp to come back (syn-cookie.ts): only with TSopt.
      if (this.config.timestamps && seg.timestamp !== undefined) {
        const windowScale = this.config.windowScaling ? seg.windowScale : undefined;
        const sackPermitted = this.config.sack && seg.sackPermitted === true;
        // ECN as for a SYN kept in the queue (answered unless 'off'), its bit in the cookie's
        // TSval as Linux's cookie_ecn_ok reads it (no timestamp, no ECN).
        const ecn = this.config.ecn !== 'off' && isEcnSetupSyn(seg.flags);
        const tsNow = timestampAt(timestampOffset(iss), now);
        reply.timestamp = { tsVal: cookieTimestamp(tsNow, { windowScale, sackPermitted, ecn }), tsEcr: seg.timestamp.tsVal };
        if (windowScale !== undefined) reply.windowScale = windowScaleFor(receiveBufferLimit(this.config));
        if (sackPermitted) reply.sackPermitted = true;
        if (ecn) reply.flags = SYN | ACK | ECE;
      }
      return { kind: 'reply', seg: reply };
    }
    const conn = this.createChild(remoteAddr, localAddr, seg.srcPort, this.options.isn.isn(localAddr, this.localPort, remoteAddr, seg.srcPort, now));
    conn.listen();
    this.halfOpen.push(conn);
    conn.handleSegment(seg, now);
    return { kind: 'created', conn };
  }

  /** An ACK for no connection: a completed cookie handshake, or undefined if not a valid cookie. */
  private onCookieAck(seg: TcpRepr, remoteAddr: Ipv4Addr, localAddr: Ipv4Addr, now: number): TcpListenerVerdict | undefined {
    // Cookies are honoured only while the listener has recently overflowed (as Linux's
    // tcp_synq_no_recent_overflow): a listener that never sent one, or not for two minutes,
    // treats such an ACK as any stray ACK (RST), so a captured cookie cannot reopen a
    // connection at will outside a SYN flood.
    if (now - this.lastCookieSentAt > SYN_COOKIE_RECENT_MS) return undefined;
    const cookies = this.cookies as SynCookies;
    const irs = seqAdd(seg.seq, -1);
    const iss = seqAdd(seg.ack, -1);
    const mss = cookies.decode(localAddr, this.localPort, remoteAddr, seg.srcPort, irs, iss, now);
    const synOptions = mss === undefined ? undefined : this.cookieSynOptions(seg, iss, now);
    if (mss === undefined || synOptions === undefined) {
      this.counters.synCookiesRejected++;
      this.totals.synCookiesRejected++;
      return undefined;
    }
    if (this.acceptQueue.size >= this.backlog) {
      this.counters.listenOverflows++;
      return { kind: 'dropped', reason: 'acceptQueueFull' };
    }
    this.counters.synCookiesAccepted++;
    this.totals.synCookiesAccepted++;
    const options = this.childOptions(remoteAddr, localAddr, seg.srcPort, iss);
    const conn = TcpConnectionCore.fromSynCookie(options, { irs, mss, window: this.cookieWindow(), ...synOptions });
    conn.parent = this;
    conn.handleSegment(seg, now);
    if (conn.state === 'SYN-RECEIVED') {
      conn.parent = undefined;
      conn.abort(now);
      return { kind: 'dropped', reason: 'cookieUnusable' };
    }
    return { kind: 'created', conn };
  }

  /**
   * The SYN options a cookie ACK brings back in its TSecr (as Linux's cookie_timestamp_decode),
   * or undefined when they cannot be ours: an echo from the future, or an option we would not
   * have offered. Without TSopt the connection runs without window scaling and SACK.
   */
  private cookieSynOptions(seg: TcpRepr, iss: number, now: number): { peerWindowScale?: number; sackPermitted?: boolean; ecn?: boolean; tsVal?: number; tsEcr?: number } | undefined {
    if (seg.timestamp === undefined) return {};
    if (!this.config.timestamps) return undefined;
    const tsEcr = seg.timestamp.tsEcr;
    if (seqGt(tsEcr, timestampAt(timestampOffset(iss), now))) return undefined;
    const o = cookieOptionsFromEcr(tsEcr);
    if ((o.sackPermitted && !this.config.sack) || (o.windowScale !== undefined && !this.config.windowScaling) || (o.ecn && this.config.ecn === 'off')) return undefined;
    return {
      ...(o.windowScale !== undefined ? { peerWindowScale: o.windowScale } : {}),
      sackPermitted: o.sackPermitted,
      ecn: o.ecn,
      tsVal: seg.timestamp.tsVal,
      tsEcr,
    };
  }

  private createChild(remoteAddr: Ipv4Addr, localAddr: Ipv4Addr, remotePort: number, iss: number): TcpConnectionCore {
    const conn = new TcpConnectionCore(this.childOptions(remoteAddr, localAddr, remotePort, iss));
    conn.parent = this;
    return conn;
  }

  /**
   * The options of the child about to be made: one record per listener, rewritten per child (the
   * core's constructor copies what it needs and keeps none of it), not an object per SYN.
   */
  private childOptions(remoteAddr: Ipv4Addr, localAddr: Ipv4Addr, remotePort: number, iss: number): TcpConnectionOptions {
    const o = this.child;
    o.localAddr = localAddr;
    o.remoteAddr = remoteAddr;
    o.remotePort = remotePort;
    o.iss = iss;
    return o;
  }

  private cookieWindow(): number {
    return Math.min(this.config.receiveBufferSize, 0xffff);
  }

  private reset(seg: TcpRepr): TcpListenerVerdict {
    const rst = rstForSegment(seg);
    if (rst === undefined) {
      this.counters.ignored++;
      return { kind: 'dropped', reason: 'rst' };
    }
    this.counters.rstSent++;
    return { kind: 'reply', seg: rst };
  }
}
