/**
 * Helpers for the SACK and loss-recovery tests: a connection with SACK negotiated (timestamps
 * when asked), the peer's ACKs with SACK blocks written in stream offsets, and what the core sent
 * as [stream offset, length] pairs.
 */
import assert from 'node:assert/strict';
import { bytes, Harness, LOCAL_ISS, MSS, RECV, recv, REMOTE_ISS, send, SEND, SYN, ACK, take, type HarnessOptions } from './harness.js';
import type { TcpRepr } from '../../src/wire/tcp.js';
import { seqAdd, seqDiff } from '../../src/tcp/seq.js';
import { timestampOffset } from '../../src/tcp/timestamps.js';

/** Our first data sequence number, for the connection `sackEstablished` made last. */
export let L = LOCAL_ISS + 1;
/** The peer's TSval in the handshake, when timestamps are on. */
export const PEER_TS = 7_000;

/** The peer's ACK of stream bytes up to `n`, SACKing the given [from, to) stream ranges. */
export const sackAck = (n: number, ...blocks: Array<[number, number]>): TcpRepr => ({
  ...SEND, ack: seqAdd(L, n), ...(blocks.length > 0 ? { sackBlocks: blocks.map(([a, b]) => [seqAdd(L, a), seqAdd(L, b)] as const) } : {}),
});

export interface SackHandshake {
  /** The peer's SYN-ACK carries SACK-permitted. Default true. */
  readonly peerSack?: boolean;
  /** Both SYNs carry timestamps. Default false. */
  readonly timestamps?: boolean;
}

/**
 * Active open with SACK offered (RFC 6675 loss marking, `lossDetection: 'dupack'`, unless the
 * options say otherwise), RTT 100 ms.
 */
export function sackEstablished(options: HarnessOptions = {}, handshake: SackHandshake = {}): Harness {
  const { peerSack = true, timestamps = false } = handshake;
  const h = new Harness({ ...options, config: { sack: true, timestamps, lossDetection: 'dupack', ...options.config } });
  const iss = options.iss ?? LOCAL_ISS;
  L = seqAdd(iss, 1);
  h.conn.connect(h.now);
  const syn = take(h);
  assert.equal(syn.sackPermitted, true, 'our SYN offers SACK');
  h.now += 100;
  send(h, {
    ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: L, mss: MSS, ...(peerSack ? { sackPermitted: true } : {}),
    ...(timestamps ? { timestamp: { tsVal: PEER_TS, tsEcr: timestampOffset(iss) } } : {}),
  });
  if (timestamps) take(h);
  else recv(h, { ...RECV, seq: L });
  assert.equal(h.state, 'ESTABLISHED');
  h.events.length = 0;
  return h;
}

/** Takes every segment emitted, as [stream offset, length] pairs (pure ACKs left out). */
export function sent(h: Harness): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  while (h.outbox.length > 0) {
    const s = take(h);
    if (s.payload.length > 0) out.push([seqDiff(s.seq, L), s.payload.length]);
  }
  return out;
}

/** `sackEstablished`, then `n` stream bytes written and the segments that went out taken unread. */
export function sackSending(n: number, options: HarnessOptions = {}, handshake: SackHandshake = {}): Harness {
  const h = sackEstablished(options, handshake);
  h.conn.write(bytes(n), h.now);
  sent(h);
  return h;
}

/**
 * The peer SACKs segments 1, 2 and 3 (of MSS bytes) one ACK each, segment 0 still missing:
 * DupThresh segments above the hole, so loss marking retransmits segment 0.
 */
export function sackSegmentsAboveFirst(h: Harness): void {
  for (const top of [2000, 3000, 4000]) send(h, sackAck(0, [1000, top]));
}

/**
 * SACK recovery on segment 0 (only it retransmitted) with 10000 bytes in flight, then the late
 * original fills the hole: an episode a D-SACK of the retransmission shows was needless.
 */
export function spuriousSackRecovery(): Harness {
  const h = sackSending(10_000);
  sackSegmentsAboveFirst(h);
  assert.deepEqual(sent(h), [[0, MSS]]);
  assert.equal(h.conn.ssthresh, 5000);
  send(h, sackAck(10_000)); // the original segment 0 was only late
  assert.equal(h.conn.cwnd, 5000, 'recovery ended reduced');
  return h;
}

/**
 * Checks what follows a timeout that resent segment 0 with F-RTO off (`frto: false`): the ACK of
 * the original sends segments 1 and 2 again (go-back-N, cwnd two segments), and no ACK is taken
 * as a sign the timeout was spurious.
 */
export function checkGoBackNWithoutFrto(h: Harness): void {
  send(h, sackAck(1000));
  assert.deepEqual(sent(h), [[1000, MSS], [2000, MSS]]);
  send(h, sackAck(2000));
  assert.equal(h.conn.counters.frtoSpuriousRtos, 0);
  assert.ok(h.conn.cwnd < 10 * MSS);
}
