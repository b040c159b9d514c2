import assert from 'node:assert/strict';
import {
  ACK, established, Harness, LOCAL_ISS, MSS, RCV_BUF, RECV, recv, recvNothing, REMOTE_ISS, RST, send, SEND, SYN, synReceived,
  synSent, tick, bytes, PSH, fireNext,
} from './harness.js';

describe('tcp/connection: opening', () => {
  describe('active open', () => {
    it('sends SYN with our MSS, then ACKs the SYN-ACK and is established', () => {
      const h = synSent();
      send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1, mss: 1200 });
      recv(h, { ...RECV });
      assert.equal(h.state, 'ESTABLISHED');
      assert.deepEqual(h.takeEvents(), ['established']);
      assert.equal(h.conn.sndMss, MSS, 'min(peer 1200, ours 1000)');
      assert.equal(h.conn.nextDeadline(), undefined, 'no timer once nothing is outstanding');
    });

    it('honours a smaller peer MSS, and assumes 536 without the option', () => {
      const a = synSent();
      send(a, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1, mss: 700 });
      assert.equal(a.conn.sndMss, 700);
      const b = synSent();
      send(b, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1 });
      assert.equal(b.conn.sndMss, 536);
    });

    it('retransmits an unanswered SYN at 1, 3, 7, 15, 31, 63 s, then fails with ETIMEDOUT at 123 s (backoff capped at rtoMax 60 s)', () => {
      const h = synSent();
      const times: number[] = [];
      for (let i = 0; i < 6; i++) {
        times.push(fireNext(h));
        recv(h, { ...RECV, flags: SYN, seq: LOCAL_ISS, ack: 0, mss: MSS });
      }
      assert.deepEqual(times, [1000, 3000, 7000, 15000, 31000, 63000]);
      assert.equal(fireNext(h), 123_000);
      recvNothing(h);
      assert.equal(h.state, 'CLOSED');
      assert.equal(h.conn.error?.code, 'ETIMEDOUT');
      assert.deepEqual(h.takeEvents(), ['closed:ETIMEDOUT']);
      assert.equal(h.conn.counters.synRetransmits, 6);
      assert.equal(h.conn.nextDeadline(), undefined);
    });

    it('after a lost SYN: initial window of one segment and an RTO of 3 s (RFC 5681 3.1, RFC 6298 5.7)', () => {
      const h = synSent();
      fireNext(h);
      recv(h, { ...RECV, flags: SYN, seq: LOCAL_ISS, ack: 0, mss: MSS });
      send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1, mss: MSS });
      recv(h, { ...RECV });
      assert.equal(h.conn.cwnd, MSS);
      assert.equal(h.conn.rto, 3000);
      h.conn.write(bytes(3000), h.now);
      recv(h, { ...RECV, flags: ACK, payload: bytes(1000) });
      recvNothing(h, 'cwnd is one segment');
    });

    it('an RST acknowledging our SYN means ECONNREFUSED', () => {
      const h = synSent();
      send(h, { ...SEND, flags: RST | ACK, seq: 0, ack: LOCAL_ISS + 1 });
      recvNothing(h);
      assert.equal(h.state, 'CLOSED');
      assert.deepEqual(h.takeEvents(), ['closed:ECONNREFUSED']);
      assert.equal(h.conn.error?.code, 'ECONNREFUSED');
    });

    it('ignores an RST without ACK, and an RST with a wrong ACK, in SYN-SENT', () => {
      const h = synSent();
      send(h, { ...SEND, flags: RST, seq: REMOTE_ISS });
      send(h, { ...SEND, flags: RST | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 5 });
      recvNothing(h);
      assert.equal(h.state, 'SYN-SENT');
    });

    it('answers a SYN-ACK with a bad ACK with RST and stays in SYN-SENT', () => {
      const h = synSent();
      send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 77 });
      recv(h, { ...RECV, flags: RST, seq: LOCAL_ISS + 77, ack: 0, window: 0 });
      assert.equal(h.state, 'SYN-SENT');
      assert.equal(h.conn.counters.droppedBadAck, 1);
    });

    it('sends data written before the handshake once it completes', () => {
      const h = synSent();
      assert.equal(h.conn.write(bytes(500), h.now), 500);
      recvNothing(h);
      send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1, mss: MSS });
      recv(h, { ...RECV, flags: ACK | PSH, payload: bytes(500) });
      recvNothing(h, 'the data segment carried the ACK of the SYN-ACK');
    });

    it('re-ACKs a retransmitted SYN-ACK once established (our ACK was lost)', () => {
      const h = established();
      send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1, mss: MSS });
      recv(h, { ...RECV });
      assert.equal(h.state, 'ESTABLISHED');
      assert.equal(h.conn.counters.duplicateSyns, 1);
    });

    it('accepts data riding on the SYN-ACK', () => {
      const h = synSent();
      send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1, mss: MSS, payload: bytes(10) });
      recv(h, { ...RECV, ack: REMOTE_ISS + 11, window: RCV_BUF - 10 });
      assert.deepEqual(h.readAll(), [...bytes(10)]);
    });
  });

  describe('passive open', () => {
    it('LISTEN -> SYN-RECEIVED -> ESTABLISHED', () => {
      const h = synReceived();
      send(h, { ...SEND });
      recvNothing(h);
      assert.equal(h.state, 'ESTABLISHED');
      assert.deepEqual(h.takeEvents(), ['established']);
    });

    it('LISTEN answers an ACK with RST and ignores RST', () => {
      const h = new Harness();
      h.conn.listen();
      send(h, { ...SEND, flags: RST, seq: 1 });
      recvNothing(h);
      send(h, { ...SEND, flags: ACK, seq: 7, ack: 1234 });
      recv(h, { ...RECV, flags: RST, seq: 1234, ack: 0, window: 0 });
      assert.equal(h.state, 'LISTEN');
    });

    it('answers a retransmitted SYN with the same SYN-ACK', () => {
      const h = synReceived();
      send(h, { ...SEND, flags: SYN, seq: REMOTE_ISS, ack: 0, mss: MSS });
      recv(h, { ...RECV, flags: SYN | ACK, seq: LOCAL_ISS, mss: MSS });
      assert.equal(h.state, 'SYN-RECEIVED');
    });

    it('retransmits the SYN-ACK with backoff and gives up after synAckRetries', () => {
      const h = synReceived({ config: { synAckRetries: 2 } });
      assert.equal(fireNext(h), 1000);
      recv(h, { ...RECV, flags: SYN | ACK, seq: LOCAL_ISS, mss: MSS });
      assert.equal(fireNext(h), 3000);
      recv(h, { ...RECV, flags: SYN | ACK, seq: LOCAL_ISS, mss: MSS });
      assert.equal(fireNext(h), 7000);
      recvNothing(h);
      assert.equal(h.state, 'CLOSED');
      assert.equal(h.conn.error?.code, 'ETIMEDOUT');
    });

    it('answers an unacceptable ACK in SYN-RECEIVED with RST', () => {
      const h = synReceived();
      send(h, { ...SEND, ack: LOCAL_ISS + 500 });
      recv(h, { ...RECV, flags: RST, seq: LOCAL_ISS + 500, ack: 0, window: 0 });
      assert.equal(h.state, 'SYN-RECEIVED');
    });

    it('an RST in SYN-RECEIVED ends the half-open connection', () => {
      const h = synReceived();
      send(h, { ...SEND, flags: RST, seq: REMOTE_ISS + 1, ack: 0 });
      assert.equal(h.state, 'CLOSED');
      assert.equal(h.conn.error?.code, 'ECONNRESET');
    });

    it('takes data and FIN on the ACK that completes the handshake', () => {
      const h = synReceived();
      send(h, { ...SEND, flags: ACK | 0x01, payload: bytes(100) });
      recv(h, { ...RECV, ack: REMOTE_ISS + 102, window: RCV_BUF - 101 }); // the FIN used a sequence number of the window
      assert.equal(h.state, 'CLOSE-WAIT');
      assert.deepEqual(h.readAll(), [...bytes(100)]);
    });
  });

  describe('simultaneous open (RFC 9293 figure 8)', () => {
    it('SYN-SENT -> SYN-RECEIVED on a bare SYN, then ESTABLISHED on the SYN-ACK', () => {
      const h = synSent();
      send(h, { ...SEND, flags: SYN, seq: REMOTE_ISS, ack: 0, mss: MSS });
      recv(h, { ...RECV, flags: SYN | ACK, seq: LOCAL_ISS, mss: MSS });
      assert.equal(h.state, 'SYN-RECEIVED');
      send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1, mss: MSS });
      assert.equal(h.state, 'ESTABLISHED');
      recv(h, { ...RECV });
      assert.deepEqual(h.takeEvents(), ['established']);
    });

    it('an RST in the simultaneous SYN-RECEIVED means ECONNREFUSED', () => {
      const h = synSent();
      send(h, { ...SEND, flags: SYN, seq: REMOTE_ISS, ack: 0, mss: MSS });
      recv(h, { ...RECV, flags: SYN | ACK, seq: LOCAL_ISS, mss: MSS });
      send(h, { ...SEND, flags: RST, seq: REMOTE_ISS + 1 });
      assert.equal(h.conn.error?.code, 'ECONNREFUSED');
    });
  });

  describe('window scaling (RFC 7323)', () => {
    const big = { config: { windowScaling: true, receiveBufferSize: 256 * 1024 } };

    it('is used in both directions when both SYNs carry the option', () => {
      const h = synSent(big);
      send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1, mss: MSS, window: 65535, windowScale: 7 });
      // Our window: 256 KiB >> 3 = 32768; the SYN-ACK's window is never scaled.
      recv(h, { ...RECV, window: 32768 });
      assert.equal(h.conn.rcvWndScale, 3);
      assert.equal(h.conn.sndWndScale, 7);
      assert.equal(h.conn.sndWnd, 65535);
      send(h, { ...SEND, window: 1000 });
      assert.equal(h.conn.sndWnd, 128_000);
    });

    it('is off when the peer does not offer it', () => {
      const h = synSent(big);
      send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1, mss: MSS, window: 65535 });
      recv(h, { ...RECV, window: 65535 });
      assert.equal(h.conn.rcvWndScale, 0);
      assert.equal(h.conn.sndWndScale, 0);
    });

    it('passive side answers with the option only when offered', () => {
      const h = new Harness(big);
      h.conn.listen();
      send(h, { ...SEND, flags: SYN, seq: REMOTE_ISS, ack: 0, mss: MSS, windowScale: 2 });
      recv(h, { ...RECV, flags: SYN | ACK, seq: LOCAL_ISS, window: 65535, mss: MSS, windowScale: 3 });
      const plain = new Harness(big);
      plain.conn.listen();
      send(plain, { ...SEND, flags: SYN, seq: REMOTE_ISS, ack: 0, mss: MSS });
      recv(plain, { ...RECV, flags: SYN | ACK, seq: LOCAL_ISS, window: 65535, mss: MSS });
    });
  });

  it('connect twice is an error', () => {
    const h = synSent();
    assert.throws(() => h.conn.connect(0), { code: 'EINVAL' });
  });

  it('the harness tick fires nothing before the deadline', () => {
    const h = synSent();
    tick(h, 999);
    recvNothing(h);
    tick(h, 1);
    recv(h, { ...RECV, flags: SYN, seq: LOCAL_ISS, ack: 0, mss: MSS });
  });
});
