/**
 * The sans-IO TCP core: everything TCP does, with no I/O, no timers and no RxJS. Segments are
 * `TcpRepr` records (src/wire/tcp.ts parses and emits their bytes); time is a number of
 * milliseconds the caller passes in.
 *
 * ## Driving one connection
 *
 * ```ts
 * const host: TcpHost = {
 *   send(conn, seg) { encodeIntoPacketNow(conn.localAddr, conn.remoteAddr, seg); }, // copy seg.payload here
 *   onEstablished(conn) {}, onReadable(conn) { for (let c = conn.read(); c; c = conn.read()) deliver(c); },
 *   onWritable(conn) {}, onPeerFin(conn) {}, onClosed(conn, err) { demux.delete(conn); },
 *   onStateChange(conn, from, to) {},                          // optional, observe only
 * };
 * const conn = new TcpConnectionCore({ localAddr, localPort, remoteAddr, remotePort,
 *   iss: isn.isn(localAddr, localPort, remoteAddr, remotePort, now), host, config });
 * conn.connect(now);                                 // or conn.listen() then handleSegment(syn)
 * rearm(conn.nextDeadline());                        // after EVERY call into the core
 * // inbound segment for this 4-tuple:
 * if (!conn.handleSegment(seg, now)) listener.handleSegment(...)   // false: TIME-WAIT reopened by a SYN
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
  DEFAULT_TCP_CONFIG, MIN_MSS, DEFAULT_PEER_MSS, TCP_LOSS_DETECTIONS, clampMssToMtu, resolveTcpConfig, windowScaleFor, type TcpConfig, type TcpLossDetection,
} from './config.js';
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
export { IsnGenerator } from './isn.js';
export { SynCookies, MSS_TABLE } from './syn-cookie.js';
export { SipHash24 } from './siphash.js';
export { RttEstimator, type RttConfig } from './rtt.js';
export { SendBuffer } from './send-buffer.js';
export { ReceiveBuffer } from './receive-buffer.js';
export type { CongestionAction, CongestionControl, CongestionControlFactory } from './congestion/congestion-control.js';
export { NewReno, newReno } from './congestion/newreno.js';
export { SackScoreboard, NextSegKind, DUP_THRESH, type SackUpdate } from './sack-scoreboard.js';
export { Rack, probeTimeout } from './rack.js';
export { Prr } from './prr.js';
