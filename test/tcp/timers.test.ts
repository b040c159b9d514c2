import assert from 'node:assert/strict';
import {
  ACK, bytes, established, fireNext, LOCAL_ISS, MSS, RCV_BUF, RECV, recv, recvNothing, REMOTE_ISS, send, SEND, synReceived, synSent, tick,
} from './harness.js';

describe('tcp/connection: one timer, many deadlines', () => {
  it('nextDeadline is the earliest of the armed timers', () => {
    const h = established({ rtt: 100 });
    h.conn.write(bytes(100), h.now);
    recv(h, { ...RECV, flags: ACK | 0x08, payload: bytes(100) });
    send(h, { ...SEND, payload: bytes(10) }); // delayed ACK 40 ms, before the RTO (300 ms)
    assert.equal(h.conn.nextDeadline(), h.now + 40);
    tick(h, 40);
    recv(h, { ...RECV, seq: LOCAL_ISS + 101, ack: REMOTE_ISS + 11, window: RCV_BUF - 10 });
    assert.equal(h.conn.nextDeadline(), h.now - 40 + 300, 'the RTO remains');
  });

  it('handleTimer before any deadline does nothing', () => {
    const h = synSent();
    h.conn.handleTimer(10);
    recvNothing(h);
    assert.equal(h.state, 'SYN-SENT');
  });

  describe('keepalive', () => {
    const config = { keepalive: true, keepaliveIdle: 10_000, keepaliveInterval: 1000, keepaliveProbes: 3 };

    it('probes an idle connection with an old sequence number; an answer resets the idle timer', () => {
      const h = established({ config });
      assert.equal(h.conn.nextDeadline(), h.now + 10_000);
      tick(h, 10_000);
      recv(h, { ...RECV, seq: LOCAL_ISS }); // SND.UNA - 1
      send(h, { ...SEND }); // the peer answers with an ACK
      assert.equal(h.conn.nextDeadline(), h.now + 10_000);
      assert.equal(h.conn.counters.keepaliveProbes, 1);
    });

    it('gives up with ETIMEDOUT after keepaliveProbes unanswered probes', () => {
      const h = established({ config });
      tick(h, 10_000);
      for (let i = 0; i < 3; i++) {
        recv(h, { ...RECV, seq: LOCAL_ISS });
        if (i < 2) tick(h, 1000);
      }
      tick(h, 1000);
      assert.equal(h.state, 'CLOSED');
      assert.equal(h.conn.error?.code, 'ETIMEDOUT');
    });

    it('answers a keepalive probe from the peer (SEG.SEQ = RCV.NXT - 1, no data) with an ACK', () => {
      const h = established();
      send(h, { ...SEND, seq: REMOTE_ISS }); // the peer's probe: one below RCV.NXT
      recv(h, { ...RECV }); // RFC 9293 3.10.7.4: an unacceptable segment is answered with an ACK
      assert.equal(h.conn.counters.keepaliveProbesAnswered, 1);
      assert.equal(h.state, 'ESTABLISHED');
    });

    it('is off by default, and setKeepAlive turns it on per connection', () => {
      const h = established();
      assert.equal(h.conn.nextDeadline(), undefined);
      h.conn.setKeepAlive(true, 5000, h.now);
      assert.equal(h.conn.nextDeadline(), h.now + 5000);
      tick(h, 5000);
      recv(h, { ...RECV, seq: LOCAL_ISS });
      h.conn.setKeepAlive(false, undefined, h.now);
      assert.equal(h.conn.nextDeadline(), undefined);
    });
  });

  it('the delayed ACK of a passive open carries data ACK and window', () => {
    const h = synReceived();
    send(h, { ...SEND, payload: bytes(MSS) });
    assert.equal(h.state, 'ESTABLISHED');
    recvNothing(h);
    assert.equal(fireNext(h), 40);
    recv(h, { ...RECV, ack: REMOTE_ISS + 1 + MSS, window: RCV_BUF - MSS });
  });
});
