/**
 * The sans-IO TCP core: everything TCP does, with no I/O, no timers and no RxJS. Segments are
 * `TcpRepr` records (src/wire/tcp.ts parses and emits their bytes); time is a number of
 * milliseconds the caller passes in.
 *
 * ## Driving one connection
 *
 * ```ts
 * const host: TcpHost = {
 *   send(conn, seg, ect) { encodeIntoPacketNow(conn.localAddr, conn.remoteAddr, seg, { df: conn.dontFragment, ecn: ect ? 2 : 0 }); }, // copy seg.payload here
 *   onEstablished(conn) {}, onReadable(conn) { for (let c = conn.read(); c; c = conn.read()) deliver(c); },
 *   onWritable(conn) {}, onPeerFin(conn) {}, onClosed(conn, err) { demux.delete(conn); },
 *   onStateChange(conn, from, to) {},                          // optional, observe only
 *   onSendTimed(conn) { batch.push(conn); },                  // optional: then, once the batch
 * };                                                           // left, conn.stampSent(now)
 * const conn = new TcpConnectionCore({ localAddr, localPort, remoteAddr, remotePort,
 *   iss: isn.isn(localAddr, localPort, remoteAddr, remotePort, now), host, config });
 * conn.connect(now);                                 // or conn.listen() then handleSegment(syn)
 * rearm(conn.nextDeadline());                        // after EVERY call into the core
 * // inbound segment for this 4-tuple (ce: the IPv4 ECN field was CE):
 * if (!conn.handleSegment(seg, now, ce)) listener.handleSegment(...)   // false: TIME-WAIT reopened by a SYN
 * // ICMP error quoting one of its segments (sequence number from the quote):
 * conn.handleFragNeeded(quotedSeq, nextHopMtu, now);  or  conn.handleIcmpSoftError(quotedSeq, 'EHOSTUNREACH', text);
 * // timer fired:
 * conn.handleTimer(now);
 * // user: conn.write(bytes, now) -> accepted count; conn.read(max); conn.shutdown(now) (half-close);
 * //       conn.close(now) (no more reading); conn.abort(now) (RST); conn.setNoDelay(b, now);
 * //       conn.setKeepAlive(b, idleMs, now)
 * ```
 *
 * - One timer per connection: `nextDeadline()` is the earliest of retransmission, persist,
 *   delayed ACK, keepalive, TIME-WAIT / FIN-WAIT-2 and user timeout; `undefined` means none.
 * - Events come at the end of the call that caused them, when the connection is consistent;
 *   handlers may call back in (read, write...). `onClosed` fires exactly once, when the state
 *   becomes CLOSED: without error for a graceful end or a user abort, else with a NetstackError
 *   coded ECONNREFUSED (RST answering our SYN), ECONNRESET (RST later) or ETIMEDOUT (SYN retries,
 *   data retries, user timeout, keepalive or zero-window probes exhausted).
 * - Outgoing payloads are views into the send buffer (zero copy): encode before `send` returns.
 *   Incoming payload views are kept without copying (large ones) until read.
 * - Segments for no connection: answer with `rstForSegment(seg)` (or hand SYNs to a listener).
 *
 * ## Listening
 *
 * `TcpListener` bounds half-open and accept queues and answers with SYN cookies when the
 * half-open queue is full. Its `handleSegment(seg, remoteAddr, localAddr, now)` returns
 * 'created' (register the connection under its 4-tuple), 'reply' (send the stateless segment) or
 * 'dropped'; established connections wait in its accept queue (`accept()`, `onAcceptable`).
 */

export { TcpStates, isSynchronized, type TcpState } from './state.js';
export { seqAdd, seqDiff, seqGeq, seqGt, seqInRange, seqLeq, seqLt, seqMax, seqMin } from './seq.js';
export {
  DEFAULT_TCP_CONFIG, MIN_MSS, DEFAULT_PEER_MSS, TCP_ECN_MODES, TCP_LOSS_DETECTIONS, clampMssToMtu, resolveTcpConfig, windowScaleFor,
  receiveBufferLimit, receiveAutoTuning, fixedBufferProblems, withFixedBuffers,
  type FixedBufferSizes, type TcpConfig, type TcpEcnMode, type TcpLossDetection,
} from './config.js';
export { ReceiveBufferTuner, sendBufferTarget } from './buffer-tuning.js';
export {
  TcpConnectionCore,
  type SynCookieParams,
  type TcpChildObserver,
  type TcpConnectionOptions,
  type TcpHost,
} from './connection.js';
export { TcpListener, type TcpListenerCounters, type TcpListenerDropReason, type TcpListenerOptions, type TcpListenerVerdict } from './listener.js';
export { addTcpCounters, createTcpCounters, type TcpCounters } from './counters.js';
export { rstForSegment } from './rst.js';
export { ChallengeAckLimiter } from './challenge-ack-limit.js';
export { DEFAULT_TCP_LIMITS, TcpMemoryAccount, TimeWaitTable, resolveTcpLimits, type TcpLimitsConfig } from './limits.js';
export { MIN_PATH_MTU, MTU_PLATEAUS, PathMtu, plateauBelow } from './pmtu.js';
export { BlackHoleDetector } from './plpmtud.js';
export { EcnState, IpEcn, isEcnSetupSyn, isEcnSetupSynAck } from './ecn.js';
export { IsnGenerator } from './isn.js';
export { SynCookies, MSS_TABLE, cookieOptionsFromEcr, cookieTimestamp, type CookieSynOptions } from './syn-cookie.js';
export { TcpTimestamps, timestampAt, timestampOffset, PAWS_IDLE_LIMIT_MS } from './timestamps.js';
export { SackReporter, MAX_SACK_BLOCKS, MAX_SACK_BLOCKS_WITH_TIMESTAMPS, type SackBlock } from './sack-blocks.js';
export { SipHash24 } from './siphash.js';
export { RttEstimator, type RttConfig } from './rtt.js';
export { tcpInfo, type TcpInfo } from './info.js';
export { SendBuffer } from './send-buffer.js';
export { ReceiveBuffer } from './receive-buffer.js';
export type {
  CongestionAction,
  CongestionControl,
  CongestionControlChoice,
  CongestionControlFactory,
  CongestionControlName,
  CongestionControlParams,
  CongestionCounters,
} from './congestion/congestion-control.js';
export { NewReno, newReno } from './congestion/newreno.js';
export { Cubic, cubic, CUBIC_ALPHA, CUBIC_BETA, CUBIC_C } from './congestion/cubic.js';
export { HyStartPlusPlus, type HyStartPhase } from './congestion/hystart.js';
export { SackScoreboard, NextSegKind, DUP_THRESH, type SackUpdate } from './sack-scoreboard.js';
export { Rack, probeTimeout } from './rack.js';
export { Prr } from './prr.js';
