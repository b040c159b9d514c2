import assert from 'node:assert/strict';
import type { TcpConfig } from '../../src/tcp/config.js';
import { TcpFlags } from '../../src/wire/tcp.js';
import { tcpInfo } from '../../src/tcp/info.js';
import {
  ACK, bytes, Harness, LOCAL_ISS, MSS, PSH, RCV_BUF, RECV, recv, recvNothing, REMOTE_ISS, send, SEND, SYN, take, tick,
} from './harness.js';

const { ECE, CWR } = TcpFlags;
const L = LOCAL_ISS + 1;
const R = REMOTE_ISS + 1;

/** Passive open where the peer's SYN is `synFlags`; returns the harness in ESTABLISHED and our SYN-ACK's flags. */
function passive(synFlags: number, config: Partial<TcpConfig> = {}): { h: Harness; synAckFlags: number } {
  const h = new Harness({ config });
  h.conn.listen();
  send(h, { ...SEND, flags: synFlags, seq: REMOTE_ISS, ack: 0, mss: MSS });
  const synAck = take(h);
  h.now += 100;
  send(h, { ...SEND });
  assert.equal(h.state, 'ESTABLISHED');
  return { h, synAckFlags: synAck.flags };
}

/** Active open with tcp.ecn 'on'; the peer answers with `synAckFlags`. */
function active(synAckFlags: number): Harness {
  const h = new Harness({ config: { ecn: 'on' } });
  h.conn.connect(h.now);
  assert.equal(take(h).flags, SYN | ECE | CWR, 'an ECN-setup SYN');
  h.now += 100;
  send(h, { ...SEND, flags: synAckFlags, seq: REMOTE_ISS, ack: L, mss: MSS });
  recv(h, { ...RECV });
  return h;
}

describe('tcp/ecn: negotiation (RFC 3168 6.1.1)', () => {
  it('passive (the default) answers an ECN-setup SYN with ECE, and then sends new data ECT(0)', () => {
    const { h, synAckFlags } = passive(SYN | ECE | CWR);
    assert.equal(synAckFlags, SYN | ACK | ECE);
    assert.equal(h.conn.ecnActive, true);
    h.conn.write(bytes(100), h.now);
    const seg = take(h);
    assert.equal(seg.payload.length, 100);
    assert.ok(h.ect.has(seg), 'data is ECN-capable');
  });

  it('passive does not offer ECN to a SYN that did not ask; off ignores one that did', () => {
    for (const [synFlags, ecn] of [[SYN, 'passive'], [SYN | ECE | CWR, 'off'], [SYN | ECE, 'passive']] as const) {
      const { h, synAckFlags } = passive(synFlags, { ecn });
      assert.equal(synAckFlags, SYN | ACK, `${ecn} SYN flags ${synFlags}`);
      assert.equal(h.conn.ecnActive, false);
      h.conn.write(bytes(100), h.now);
      assert.ok(!h.ect.has(take(h)), 'not ECN-capable');
    }
  });

  it('on asks in the SYN and uses ECN when the SYN-ACK has ECE without CWR', () => {
    assert.equal(active(SYN | ACK | ECE).conn.ecnActive, true);
    assert.equal(tcpInfo(active(SYN | ACK | ECE).conn).options.ecn, true, 'info() shows it negotiated');
    assert.equal(tcpInfo(active(SYN | ACK).conn).options.ecn, false);
    assert.equal(active(SYN | ACK | ECE | CWR).conn.ecnActive, false, 'both bits: a reflector, not an ECN peer');
    assert.equal(active(SYN | ACK).conn.ecnActive, false);
  });

  it('a retransmitted SYN does not ask again (a path dropping ECN SYNs still connects)', () => {
    const h = new Harness({ config: { ecn: 'on' } });
    h.conn.connect(h.now);
    assert.equal(take(h).flags, SYN | ECE | CWR);
    tick(h, 1000);
    assert.equal(take(h).flags, SYN);
    send(h, { ...SEND, flags: SYN | ACK | ECE, seq: REMOTE_ISS, ack: L, mss: MSS });
    assert.equal(h.conn.ecnActive, false);
  });
});

describe('tcp/ecn: receiver (RFC 3168 6.1.3)', () => {
  it('CE makes every ACK carry ECE, at once, until the peer sends CWR', () => {
    const { h } = passive(SYN | ECE | CWR);
    recvNothing(h);
    h.conn.handleSegment({ ...SEND, payload: bytes(100) }, h.now, true);
    recv(h, { ...RECV, ack: R + 100, flags: ACK | ECE, window: RCV_BUF - 100 }, 'an immediate ACK with ECE');
    assert.equal(h.conn.counters.ecnCeReceived, 1);
    send(h, { ...SEND, seq: R + 100, payload: bytes(MSS) });
    send(h, { ...SEND, seq: R + 100 + MSS, payload: bytes(MSS) });
    recv(h, { ...RECV, ack: R + 100 + 2 * MSS, flags: ACK | ECE, window: RCV_BUF - 100 - 2 * MSS }, 'still echoing');
    send(h, { ...SEND, flags: ACK | CWR, seq: R + 100 + 2 * MSS, payload: bytes(MSS) });
    send(h, { ...SEND, seq: R + 100 + 3 * MSS, payload: bytes(MSS) });
    recv(h, { ...RECV, ack: R + 100 + 4 * MSS, window: RCV_BUF - 100 - 4 * MSS }, 'CWR ended the echo');
  });

  it('CE on a connection without ECN is counted but not echoed', () => {
    const { h } = passive(SYN);
    h.conn.handleSegment({ ...SEND, payload: bytes(100) }, h.now, true);
    tick(h, 100);
    recv(h, { ...RECV, ack: R + 100, window: RCV_BUF - 100 }, 'the delayed ACK, no ECE');
    assert.equal(h.conn.counters.ecnCeReceived, 1);
  });
});

describe('tcp/ecn: sender (RFC 3168 6.1.2)', () => {
  it('ECE halves the window once per round trip; the next new data carries CWR; retransmissions are not ECT', () => {
    const { h } = passive(SYN | ECE | CWR);
    h.conn.write(bytes(8000), h.now);
    for (let i = 0; i < 8; i++) assert.ok(h.ect.has(take(h)));
    const cwnd = h.conn.cwnd;
    send(h, { ...SEND, flags: ACK | ECE, ack: L + 1000 });
    assert.equal(h.conn.counters.ecnReductions, 1);
    assert.equal(h.conn.ssthresh, 4000, 'half of the 8000 bytes outstanding when the ECE came');
    assert.equal(h.conn.cwnd, 4000);
    assert.ok(h.conn.cwnd < cwnd);
    send(h, { ...SEND, flags: ACK | ECE, ack: L + 2000 });
    send(h, { ...SEND, flags: ACK | ECE, ack: L + 8000 });
    assert.equal(h.conn.counters.ecnReductions, 1, 'ECEs for data sent before the reduction: same round trip');
    h.conn.write(bytes(2000, 8000), h.now);
    const first = take(h);
    assert.equal(first.flags, ACK | CWR, 'the first new data after the reduction');
    const second = take(h);
    assert.equal(second.flags, ACK | PSH);
    send(h, { ...SEND, flags: ACK | ECE, ack: L + 9000 });
    assert.equal(h.conn.counters.ecnReductions, 2, 'a new round trip, a new reduction');
    // A retransmission (RTO) is never ECN-capable.
    tick(h, 5000);
    const rtx = take(h);
    assert.equal(rtx.seq, L + 9000);
    assert.ok(!h.ect.has(rtx));
  });

  it('ECE on a connection without ECN changes nothing', () => {
    const { h } = passive(SYN);
    h.conn.write(bytes(4000), h.now);
    for (let i = 0; i < 4; i++) take(h);
    const cwnd = h.conn.cwnd;
    send(h, { ...SEND, flags: ACK | ECE, ack: L + 1000 });
    assert.equal(h.conn.counters.ecnReductions, 0);
    assert.ok(h.conn.cwnd >= cwnd);
  });
});
