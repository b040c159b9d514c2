import assert from 'node:assert/strict';
import { PAWS_IDLE_LIMIT_MS, TcpTimestamps, timestampOffset } from '../../src/tcp/timestamps.js';
import type { TcpRepr } from '../../src/wire/tcp.js';
import {
  ACK, bytes, Harness, type HarnessOptions, LOCAL_ISS, MSS, RCV_BUF, RECV, recv, recvNothing, REMOTE_ISS, RST, send, SEND, SYN, take, tick,
} from './harness.js';

const R = REMOTE_ISS + 1;
const L = LOCAL_ISS + 1;
/** Our TSval clock starts here (the default offset for LOCAL_ISS). */
const OFF = timestampOffset(LOCAL_ISS);
const ts = (tsVal: number, tsEcr: number) => ({ tsVal: tsVal >>> 0, tsEcr: tsEcr >>> 0 });
/** The peer's TSval clock. */
const PEER_TS = 7_000;

/** Active open with timestamps on both sides; the peer's SYN-ACK carries TSval PEER_TS. */
function tsEstablished(options: HarnessOptions = {}): Harness {
  const h = new Harness({ ...options, config: { timestamps: true, ...options.config } });
  h.conn.connect(h.now);
  const syn = take(h);
  assert.deepEqual(syn.timestamp, ts(OFF, 0));
  h.now += 10;
  send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: L, mss: MSS, timestamp: ts(PEER_TS, OFF) });
  const ack = take(h);
  assert.deepEqual(ack.timestamp, ts(OFF + 10, PEER_TS), 'the ACK echoes the SYN-ACK TSval');
  assert.equal(h.conn.timestampsNegotiated, true);
  assert.equal(h.conn.srtt, 10, 'the handshake RTT came from the TSecr');
  h.events.length = 0;
  return h;
}

describe('tcp/timestamps (RFC 7323)', () => {
  describe('TcpTimestamps', () => {
    it('TSval is the 1 ms clock plus the offset, modulo 2^32', () => {
      const t = new TcpTimestamps(0xffff_fff0);
      assert.equal(t.tsVal(0), 0xffff_fff0);
      assert.equal(t.tsVal(0x20 + 0.7), 0x10);
    });

    it('the offset differs per ISS and is not the ISS', () => {
      assert.notEqual(timestampOffset(1), timestampOffset(2));
      assert.notEqual(timestampOffset(1), 1);
    });

    it('RTT from TSecr across the wrap; zero and future echoes are not samples', () => {
      const t = new TcpTimestamps(0xffff_ff00);
      assert.equal(t.rttSample(t.tsVal(1000), 1030), 30);
      assert.equal(t.rttSample(0xffff_fff0, 0x200), 0x110, 'echo from before the wrap, now after it');
      assert.equal(t.rttSample(0, 5000), undefined);
      assert.equal(t.rttSample(t.tsVal(2000), 1000), undefined);
    });
  });

  describe('negotiation', () => {
    it('active open: TSopt in our SYN; used when the SYN-ACK has it', () => {
      tsEstablished();
    });

    it('active open: a SYN-ACK without TSopt turns timestamps off for the connection', () => {
      const h = new Harness({ config: { timestamps: true } });
      h.conn.connect(h.now);
      assert.ok(take(h).timestamp !== undefined);
      send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: L, mss: MSS });
      assert.equal(take(h).timestamp, undefined);
      assert.equal(h.conn.timestampsNegotiated, false);
      h.conn.write(bytes(10), h.now);
      assert.equal(take(h).timestamp, undefined);
    });

    it('active open with timestamps off: no TSopt in the SYN, and a SYN-ACK with TSopt does not turn it on', () => {
      const h = new Harness({ config: { timestamps: false } });
      h.conn.connect(h.now);
      assert.equal(take(h).timestamp, undefined);
      send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: L, mss: MSS, timestamp: ts(5, 0) });
      assert.equal(take(h).timestamp, undefined);
      assert.equal(h.conn.timestampsNegotiated, false);
    });

    for (const [config, peer, expected] of [[true, true, true], [true, false, false], [false, true, false], [false, false, false]] as const) {
      it(`passive open: config ${config}, peer offers ${peer} -> SYN-ACK with TSopt ${expected}`, () => {
        const h = new Harness({ config: { timestamps: config } });
        h.conn.listen();
        h.now = 3;
        send(h, { ...SEND, flags: SYN, seq: REMOTE_ISS, ack: 0, mss: MSS, ...(peer ? { timestamp: ts(PEER_TS, 0) } : {}) });
        const synAck = take(h);
        assert.deepEqual(synAck.timestamp, expected ? ts(OFF + 3, PEER_TS) : undefined);
        h.now = 8;
        send(h, { ...SEND, ...(peer ? { timestamp: ts(PEER_TS + 5, OFF + 3) } : {}) });
        assert.equal(h.state, 'ESTABLISHED');
        assert.equal(h.conn.timestampsNegotiated, expected);
        if (expected) assert.equal(h.conn.srtt, 5, 'RTT from the TSecr of the handshake ACK');
      });
    }
  });

  it('data segments carry MSS - 12 bytes beside the timestamps option (RFC 6691)', () => {
    const h = tsEstablished();
    assert.equal(h.conn.sndMss, MSS - 12);
    h.conn.write(bytes(3 * MSS), h.now);
    assert.equal(take(h).payload.length, MSS - 12);
  });

  it('reading one full segment (MSS - 12) reopens a closed window (receiver SWS threshold)', () => {
    const h = tsEstablished();
    const seg = MSS - 12;
    let at = 0;
    while (at < RCV_BUF) {
      const n = Math.min(seg, RCV_BUF - at);
      send(h, { ...SEND, seq: R + at, payload: bytes(n, at), timestamp: ts(PEER_TS, OFF) });
      at += n;
    }
    tick(h, 40);
    assert.equal(h.conn.rcvWnd, 0);
    h.outbox.length = 0;
    assert.equal(h.conn.read()?.length, seg);
    const update = take(h);
    assert.equal(update.window, seg, 'a window update for one segment');
    assert.equal(h.conn.counters.windowUpdates, 1);
  });

  describe('TS.Recent and TSecr', () => {
    it('every segment carries TSopt; a delayed ACK echoes the earliest unacknowledged segment (Last.ACK.sent)', () => {
      const h = tsEstablished();
      send(h, { ...SEND, payload: bytes(MSS), timestamp: ts(PEER_TS + 1, OFF) });
      recvNothing(h);
      send(h, { ...SEND, seq: R + MSS, payload: bytes(MSS, MSS), timestamp: ts(PEER_TS + 2, OFF) });
      const ack = recv(h, { ...RECV, ack: R + 2 * MSS, window: RCV_BUF - 2 * MSS });
      assert.deepEqual(ack.timestamp, ts(OFF + 10, PEER_TS + 1), 'echoes the first of the two (RFC 7323 4.3)');
      // Now Last.ACK.sent = R + 2 MSS: the next in-order segment updates TS.Recent.
      h.now += 5;
      send(h, { ...SEND, seq: R + 2 * MSS, payload: bytes(10, 2 * MSS), timestamp: ts(PEER_TS + 9, OFF) });
      tick(h, 40);
      assert.deepEqual(take(h).timestamp, ts(OFF + 55, PEER_TS + 9));
    });

    it('an out-of-order segment does not update TS.Recent', () => {
      const h = tsEstablished();
      send(h, { ...SEND, seq: R + 500, payload: bytes(100, 500), timestamp: ts(PEER_TS + 50, OFF) });
      assert.deepEqual(take(h).timestamp, ts(OFF + 10, PEER_TS), 'duplicate ACK still echoes the old TS.Recent');
    });

    it('RTT samples from TSecr on every new ACK, even for a retransmission (no Karn ambiguity)', () => {
      const h = tsEstablished();
      h.conn.write(bytes(100), h.now);
      const first = take(h);
      assert.deepEqual(first.timestamp, ts(OFF + 10, PEER_TS));
      tick(h, h.conn.rto); // the RTO fires: retransmission
      const again = take(h);
      assert.equal(again.seq, first.seq);
      const resentTs = (again.timestamp as { tsVal: number }).tsVal;
      h.now += 30;
      send(h, { ...SEND, ack: L + 100, timestamp: ts(PEER_TS + 1, resentTs) });
      assert.equal(h.conn.srtt, 10 * 0.875 + 30 * 0.125, 'the 30 ms sample of the retransmission was taken');
    });
  });

  describe('PAWS (RFC 7323 5)', () => {
    it('drops a segment whose TSval is older than TS.Recent and ACKs it', () => {
      const h = tsEstablished();
      send(h, { ...SEND, payload: bytes(100), timestamp: ts(PEER_TS - 1, OFF) });
      const ack = take(h);
      assert.equal(ack.ack, R, 'nothing was accepted');
      assert.deepEqual(ack.timestamp, ts(OFF + 10, PEER_TS));
      assert.equal(h.conn.readableLength, 0);
      assert.equal(h.conn.counters.pawsDropped, 1);
      // The same bytes with a current TSval are accepted.
      send(h, { ...SEND, payload: bytes(100), timestamp: ts(PEER_TS, OFF) });
      assert.equal(h.conn.readableLength, 100);
    });

    it('compares TSvals modulo 2^32', () => {
      const h = new Harness({ config: { timestamps: true } });
      h.conn.connect(h.now);
      take(h);
      send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: L, mss: MSS, timestamp: ts(0xffff_fff0, OFF) });
      take(h);
      send(h, { ...SEND, payload: bytes(10), timestamp: ts(0x10, OFF) });
      assert.equal(h.conn.readableLength, 10, 'a TSval just past the wrap is newer');
      assert.equal(h.conn.counters.pawsDropped, 0);
    });

    it('a RST with an old TSval is not dropped by PAWS (as Linux)', () => {
      const h = tsEstablished();
      send(h, { ...SEND, flags: RST, timestamp: ts(PEER_TS - 100, 0) });
      assert.equal(h.state, 'CLOSED');
      assert.equal(h.closedWith?.code, 'ECONNRESET');
      assert.equal(h.conn.counters.pawsDropped, 0);
    });

    it('pure ACKs dropped by PAWS are answered at most once per 500 ms', () => {
      const h = tsEstablished();
      send(h, { ...SEND, timestamp: ts(PEER_TS - 1, OFF) });
      assert.ok(take(h));
      send(h, { ...SEND, timestamp: ts(PEER_TS - 1, OFF) });
      recvNothing(h);
      assert.equal(h.conn.counters.pawsDropped, 2);
    });

    it('24-day rule: after TS.Recent has been idle 24 days, an older TSval is accepted and becomes TS.Recent', () => {
      const h = tsEstablished();
      h.now += PAWS_IDLE_LIMIT_MS + 1;
      send(h, { ...SEND, payload: bytes(100), timestamp: ts(PEER_TS - 1000, OFF) });
      assert.equal(h.conn.readableLength, 100);
      assert.equal(h.conn.counters.pawsDropped, 0);
      tick(h, 40);
      assert.deepEqual(take(h).timestamp?.tsEcr, PEER_TS - 1000);
      // ...and PAWS is back on against the new TS.Recent.
      send(h, { ...SEND, seq: R + 100, payload: bytes(10, 100), timestamp: ts(PEER_TS - 1001, OFF) });
      assert.equal(h.conn.counters.pawsDropped, 1);
    });

    it('before 24 days the same segment is dropped', () => {
      const h = tsEstablished();
      h.now += PAWS_IDLE_LIMIT_MS - 1;
      send(h, { ...SEND, payload: bytes(100), timestamp: ts(PEER_TS - 1000, OFF) });
      assert.equal(h.conn.readableLength, 0);
      assert.equal(h.conn.counters.pawsDropped, 1);
    });
  });

  it('no TSopt on RST', () => {
    const h = tsEstablished();
    h.conn.abort(h.now);
    const rst: TcpRepr = take(h);
    assert.equal(rst.flags & RST, RST);
    assert.equal(rst.timestamp, undefined);
    assert.equal(ACK & rst.flags, ACK);
  });
});
