/**
 * Test vocabulary for the sans-IO TCP core, after smoltcp's socket tests. The test plays the
 * remote peer:
 *
 * - `SEND` is the template of a segment the test sends to the core (remote -> local),
 *   `RECV` of a segment the test expects to receive from it (local -> remote); override per case
 *   with spread: `send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1 })`.
 * - `send(h, seg)` delivers a segment, `recv(h, seg)` asserts the next segment the core emitted,
 *   `recvNothing(h)` asserts it emitted nothing, `tick(h, ms)` moves the manual clock and fires
 *   the core's timer whenever its deadline passes.
 * - Fixture builders walk the real handshake/close to each state: `synSent()`, `established()`...
 */

import assert from 'node:assert/strict';
import type { NetstackError } from '../../src/errors.js';
import { receiveBufferLimit, resolveTcpConfig, windowScaleFor, type TcpConfig } from '../../src/tcp/config.js';
import type { ChallengeAckLimiter } from '../../src/tcp/challenge-ack-limit.js';
import { TcpConnectionCore, type TcpHost } from '../../src/tcp/connection.js';
import { seqAdd } from '../../src/tcp/seq.js';
import type { TcpState } from '../../src/tcp/state.js';
import { TcpFlags, type TcpRepr } from '../../src/wire/tcp.js';

export const { FIN, SYN, RST, PSH, ACK } = TcpFlags;

export const LOCAL_ADDR = 0xc6120002; // 198.18.0.2
export const REMOTE_ADDR = 0xc6120001; // 198.18.0.1
export const LOCAL_PORT = 80;
export const REMOTE_PORT = 49500;
export const LOCAL_ISS = 10_000;
export const REMOTE_ISS = 50_000;
export const MSS = 1000;
/** Our receive buffer, hence our initial window (no window scaling in the default test config). */
export const RCV_BUF = 8000;
export const SND_BUF = 16_000;
export const MSL = 5000;

/** Small round numbers so expected segments read easily. */
export const TEST_CONFIG: Partial<TcpConfig> = {
  mss: MSS,
  receiveBufferSize: RCV_BUF,
  sendBufferSize: SND_BUF,
  // Fixed buffers: the windows in the byte vectors stay put (buffer-tuning.test.ts turns it on).
  receiveBufferMax: RCV_BUF,
  sendBufferMax: SND_BUF,
  windowScaling: false,
  // Byte vectors of the handshake stay option-exact; the timestamp and SACK tests turn them on.
  timestamps: false,
  sack: false,
  msl: MSL,
  // The core's tests check RFC 5681/6582 numbers; CUBIC has tests of its own (cubic.test.ts).
  congestionControl: 'newreno',
  // The receiving tests check the steady state's delayed ACKs from the first segment on;
  // quick-ack.test.ts turns the start's quick ACKs on.
  quickAckStart: false,
};

export const EMPTY = new Uint8Array(0);

/** A segment the test (the peer) sends to the core. */
export const SEND: TcpRepr = {
  srcPort: REMOTE_PORT,
  dstPort: LOCAL_PORT,
  seq: REMOTE_ISS + 1,
  ack: LOCAL_ISS + 1,
  flags: ACK,
  window: 20_000,
  urgent: 0,
  payload: EMPTY,
};

/** A segment the test expects from the core. */
export const RECV: TcpRepr = {
  srcPort: LOCAL_PORT,
  dstPort: REMOTE_PORT,
  seq: LOCAL_ISS + 1,
  ack: REMOTE_ISS + 1,
  flags: ACK,
  window: RCV_BUF,
  urgent: 0,
  payload: EMPTY,
};

/** `n` bytes of a recognisable pattern starting at stream offset `from`. */
export function bytes(n: number, from = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (from + i) * 7 & 0xff;
  return out;
}

export interface HarnessOptions {
  config?: Partial<TcpConfig>;
  /** Round-trip time of the handshake in fixtures (gives the RTO estimator its first sample). */
  rtt?: number;
  iss?: number;
  remoteIss?: number;
  /** A challenge-ACK budget (shared between harnesses to model one stack). */
  challengeAcks?: ChallengeAckLimiter;
}

export class Harness {
  now = 0;
  /** Segments the core emitted and the test has not yet taken with `recv`. */
  readonly outbox: TcpRepr[] = [];
  /** The emitted segments the core sent ECN-capable (ECT(0)). */
  readonly ect = new WeakSet<TcpRepr>();
  /** Events in order: 'established', 'readable', 'writable', 'peer-fin', 'closed[:CODE]', and state changes 'A => B'. */
  readonly events: string[] = [];
  readonly conn: TcpConnectionCore;
  closedWith: NetstackError | undefined;

  constructor(options: HarnessOptions = {}) {
    const host: TcpHost = {
      // The payload is a view into the send buffer: copy it, as the wiring must.
      send: (_c, seg, ect) => {
        const copy = { ...seg, payload: seg.payload.slice() };
        if (ect) this.ect.add(copy);
        this.outbox.push(copy);
      },
      onStateChange: (_c, from, to) => this.events.push(`${from} => ${to}`),
      onEstablished: () => this.events.push('established'),
      onReadable: () => this.events.push('readable'),
      onWritable: () => this.events.push('writable'),
      onPeerFin: () => this.events.push('peer-fin'),
      onClosed: (_c, error) => {
        this.closedWith = error;
        this.events.push(error === undefined ? 'closed' : `closed:${error.code}`);
      },
    };
    this.conn = new TcpConnectionCore({
      localAddr: LOCAL_ADDR,
      localPort: LOCAL_PORT,
      remoteAddr: REMOTE_ADDR,
      remotePort: REMOTE_PORT,
      iss: options.iss ?? LOCAL_ISS,
      host,
      config: resolveTcpConfig({ ...TEST_CONFIG, ...options.config }),
      ...(options.challengeAcks !== undefined ? { challengeAcks: options.challengeAcks } : {}),
    });
  }

  get state(): TcpState {
    return this.conn.state;
  }

  /** Events other than state changes, and forgets them. */
  takeEvents(): string[] {
    const out = this.events.filter(e => !e.includes(' => '));
    this.events.length = 0;
    return out;
  }

  /** All readable bytes, concatenated. */
  readAll(): number[] {
    const out: number[] = [];
    for (let c = this.conn.read(); c !== undefined; c = this.conn.read()) out.push(...c);
    return out;
  }
}

/** Delivers `seg` to the core at the harness's current time. Returns handleSegment's result. */
export function send(h: Harness, seg: TcpRepr): boolean {
  return h.conn.handleSegment(seg, h.now);
}

/** Asserts the next segment the core emitted equals `expected`, field by field. */
export function recv(h: Harness, expected: TcpRepr, message?: string): TcpRepr {
  const actual = h.outbox.shift();
  assert.ok(actual !== undefined, `expected ${describe(expected)} but the core sent nothing${message ? ` (${message})` : ''}`);
  assert.deepEqual(normalize(actual), normalize(expected), message);
  return actual;
}

/** Asserts the core emitted nothing (more). */
export function recvNothing(h: Harness, message?: string): void {
  assert.equal(h.outbox.length, 0, `expected nothing, got ${h.outbox.map(describe).join(' | ')}${message ? ` (${message})` : ''}`);
}

/** Takes the next emitted segment without checking it. */
export function take(h: Harness): TcpRepr {
  const seg = h.outbox.shift();
  assert.ok(seg !== undefined, 'the core sent nothing');
  return seg;
}

/** Moves the clock by `ms`, running the core's timer at each deadline on the way. */
export function tick(h: Harness, ms: number): void {
  const target = h.now + ms;
  for (;;) {
    const d = h.conn.nextDeadline();
    if (d === undefined || d > target) break;
    h.now = Math.max(h.now, d);
    h.conn.handleTimer(h.now);
  }
  h.now = target;
}

/** Advances to the core's next deadline and fires it; returns the time it fired at. */
export function fireNext(h: Harness): number {
  const d = h.conn.nextDeadline();
  assert.ok(d !== undefined, 'no timer armed');
  h.now = Math.max(h.now, d);
  h.conn.handleTimer(h.now);
  return h.now;
}

/** Length, first bytes and an FNV-1a hash: exact enough to compare, short enough to read. */
function payloadDigest(p: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < p.length; i++) hash = Math.imul(hash ^ p[i], 0x01000193);
  return `len=${p.length} ${Buffer.from(p.subarray(0, 8)).toString('hex')}${p.length > 8 ? '...' : ''} fnv=${(hash >>> 0).toString(16)}`;
}

function flagNames(flags: number): string {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(TcpFlags)) if ((flags & bit) !== 0) names.push(name);
  return names.join(',');
}

export function describe(seg: TcpRepr): string {
  return `[${flagNames(seg.flags)}] seq=${seg.seq} ack=${seg.ack} win=${seg.window} len=${seg.payload.length}` +
    (seg.mss !== undefined ? ` mss=${seg.mss}` : '') +
    (seg.windowScale !== undefined ? ` ws=${seg.windowScale}` : '');
}

/** A comparable form: flags as names, payload as a byte array, undefined options dropped. */
function normalize(seg: TcpRepr): Record<string, unknown> {
  const out: Record<string, unknown> = {
    srcPort: seg.srcPort,
    dstPort: seg.dstPort,
    seq: seg.seq,
    ack: seg.ack,
    flags: flagNames(seg.flags),
    window: seg.window,
    urgent: seg.urgent,
    payload: payloadDigest(seg.payload),
  };
  if (seg.mss !== undefined) out.mss = seg.mss;
  if (seg.windowScale !== undefined) out.windowScale = seg.windowScale;
  if (seg.sackPermitted !== undefined) out.sackPermitted = seg.sackPermitted;
  return out;
}

// ------------------------------------------------------------------------------------------------
// Fixtures: each walks the real protocol to its state and checks it got there.

/** Active open, SYN sent. */
export function synSent(options?: HarnessOptions): Harness {
  const h = new Harness(options);
  const iss = options?.iss ?? LOCAL_ISS;
  h.conn.connect(h.now);
  const config = h.conn.config;
  recv(h, {
    ...RECV,
    flags: SYN,
    seq: iss,
    ack: 0,
    window: Math.min(config.receiveBufferSize, 65535),
    mss: MSS,
    ...(config.windowScaling ? { windowScale: windowScaleFor(receiveBufferLimit(config)) } : {}),
  });
  assert.equal(h.state, 'SYN-SENT');
  return h;
}

/** Passive open, SYN received and SYN-ACK sent. */
export function synReceived(options?: HarnessOptions): Harness {
  const h = new Harness(options);
  const iss = options?.iss ?? LOCAL_ISS;
  const riss = options?.remoteIss ?? REMOTE_ISS;
  h.conn.listen();
  send(h, { ...SEND, flags: SYN, seq: riss, ack: 0, mss: MSS });
  recv(h, { ...RECV, flags: SYN | ACK, seq: iss, ack: seqAdd(riss, 1), mss: MSS });
  assert.equal(h.state, 'SYN-RECEIVED');
  return h;
}

/** Active open completed: the peer's SYN-ACK arrived and we acknowledged it. */
export function established(options?: HarnessOptions): Harness {
  const h = synSent(options);
  const iss = options?.iss ?? LOCAL_ISS;
  const riss = options?.remoteIss ?? REMOTE_ISS;
  h.now += options?.rtt ?? 0;
  send(h, { ...SEND, flags: SYN | ACK, seq: riss, ack: seqAdd(iss, 1), mss: MSS });
  recv(h, { ...RECV, seq: seqAdd(iss, 1), ack: seqAdd(riss, 1) });
  assert.equal(h.state, 'ESTABLISHED');
  h.events.length = 0;
  return h;
}

/** We shut down: FIN sent, not yet acknowledged. */
export function finWait1(options?: HarnessOptions): Harness {
  const h = established(options);
  h.conn.shutdown(h.now);
  recv(h, { ...RECV, flags: FIN | ACK });
  assert.equal(h.state, 'FIN-WAIT-1');
  return h;
}

/** Our FIN acknowledged; the peer may still send. */
export function finWait2(options?: HarnessOptions): Harness {
  const h = finWait1(options);
  send(h, { ...SEND, ack: LOCAL_ISS + 2 });
  recvNothing(h);
  assert.equal(h.state, 'FIN-WAIT-2');
  return h;
}

/** Both FINs exchanged, ours first. */
export function timeWait(options?: HarnessOptions): Harness {
  const h = finWait2(options);
  send(h, { ...SEND, flags: FIN | ACK, ack: LOCAL_ISS + 2 });
  // The FIN took one sequence number of our window: the right edge does not move for it.
  recv(h, { ...RECV, seq: LOCAL_ISS + 2, ack: REMOTE_ISS + 2, window: RCV_BUF - 1 });
  assert.equal(h.state, 'TIME-WAIT');
  h.events.length = 0;
  return h;
}

/** The peer shut down first. */
export function closeWait(options?: HarnessOptions): Harness {
  const h = established(options);
  send(h, { ...SEND, flags: FIN | ACK });
  recv(h, { ...RECV, ack: REMOTE_ISS + 2, window: RCV_BUF - 1 });
  assert.equal(h.state, 'CLOSE-WAIT');
  h.events.length = 0;
  return h;
}

/** The peer shut down, then we did. */
export function lastAck(options?: HarnessOptions): Harness {
  const h = closeWait(options);
  h.conn.shutdown(h.now);
  recv(h, { ...RECV, flags: FIN | ACK, ack: REMOTE_ISS + 2, window: RCV_BUF - 1 });
  assert.equal(h.state, 'LAST-ACK');
  return h;
}
