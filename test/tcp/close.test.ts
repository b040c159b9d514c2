import assert from 'node:assert/strict';
import {
  ACK, bytes, closeWait, established, FIN, finWait1, finWait2, lastAck, LOCAL_ISS, MSL, PSH, RCV_BUF, RECV, recv, recvNothing,
  REMOTE_ISS, RST, send, SEND, SYN, synReceived, synSent, tick, timeWait, fireNext,
} from './harness.js';

describe('tcp/connection: closing', () => {
  describe('active close', () => {
    it('ESTABLISHED -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED after 2 MSL', () => {
      const h = timeWait();
      assert.equal(h.conn.nextDeadline(), h.now + 2 * MSL);
      tick(h, 2 * MSL - 1);
      assert.equal(h.state, 'TIME-WAIT');
      tick(h, 1);
      assert.equal(h.state, 'CLOSED');
      assert.deepEqual(h.takeEvents(), ['closed']);
      assert.equal(h.conn.error, undefined);
      recvNothing(h);
    });

    it('FIN-WAIT-1 -> TIME-WAIT when the peer ACKs our FIN and sends its own in one segment', () => {
      const h = finWait1();
      send(h, { ...SEND, flags: FIN | ACK, ack: LOCAL_ISS + 2 });
      recv(h, { ...RECV, seq: LOCAL_ISS + 2, ack: REMOTE_ISS + 2, window: RCV_BUF - 1 });
      assert.equal(h.state, 'TIME-WAIT');
    });

    it('sends queued data before the FIN', () => {
      const h = established();
      h.conn.write(bytes(2500), h.now);
      recv(h, { ...RECV, payload: bytes(1000) });
      recv(h, { ...RECV, seq: LOCAL_ISS + 1001, payload: bytes(1000, 1000) });
      recv(h, { ...RECV, seq: LOCAL_ISS + 2001, flags: ACK | PSH, payload: bytes(500, 2000) }, 'no short segment unacknowledged: the tail goes (Minshall)');
      h.conn.write(bytes(300, 2500), h.now);
      recvNothing(h, 'Nagle holds 300 bytes while the short segment before them is unacknowledged');
      h.conn.shutdown(h.now);
      assert.equal(h.state, 'FIN-WAIT-1');
      recv(h, { ...RECV, seq: LOCAL_ISS + 2501, flags: FIN | ACK | PSH, payload: bytes(300, 2500) }, 'no more data can come: the FIN goes with it');
      send(h, { ...SEND, ack: LOCAL_ISS + 2801 });
      assert.equal(h.state, 'FIN-WAIT-1', 'data acknowledged, FIN not yet');
      send(h, { ...SEND, ack: LOCAL_ISS + 2802 });
      assert.equal(h.state, 'FIN-WAIT-2');
    });

    it('puts the FIN on the last data segment when shutdown comes first', () => {
      const h = established({ config: { noDelay: false } });
      h.conn.write(bytes(10), h.now);
      recv(h, { ...RECV, flags: ACK | PSH, payload: bytes(10) });
      h.conn.write(bytes(10, 10), h.now); // held by Nagle: a short segment is unacknowledged
      recvNothing(h);
      h.conn.shutdown(h.now);
      recv(h, { ...RECV, seq: LOCAL_ISS + 11, flags: FIN | ACK | PSH, payload: bytes(10, 10) });
    });

    it("Nagle in Minshall's form: a write's short tail leaves with its full segments, the next short write waits", () => {
      const h = established({ config: { noDelay: false } });
      h.conn.write(bytes(1010), h.now);
      recv(h, { ...RECV, payload: bytes(1000) });
      recv(h, { ...RECV, seq: LOCAL_ISS + 1001, flags: ACK | PSH, payload: bytes(10, 1000) }, 'full segments unacknowledged do not hold the tail');
      h.conn.write(bytes(10, 1010), h.now);
      recvNothing(h, 'the first short segment is unacknowledged');
      send(h, { ...SEND, ack: LOCAL_ISS + 1001 });
      recvNothing(h, 'still unacknowledged');
      send(h, { ...SEND, ack: LOCAL_ISS + 1011 });
      recv(h, { ...RECV, seq: LOCAL_ISS + 1011, flags: ACK | PSH, payload: bytes(10, 1010) });
    });

    it('retransmits a lost FIN', () => {
      const h = finWait1();
      // The handshake took 0 ms in virtual time, so the RTO is at its 200 ms floor.
      assert.equal(fireNext(h), 200);
      recv(h, { ...RECV, flags: FIN | ACK });
      assert.equal(h.conn.counters.timeouts, 1);
    });

    it('half-close: still receives data in FIN-WAIT-2 until the peer closes', () => {
      const h = finWait2();
      send(h, { ...SEND, ack: LOCAL_ISS + 2, payload: bytes(300) });
      tick(h, 40); // delayed ACK
      recv(h, { ...RECV, seq: LOCAL_ISS + 2, ack: REMOTE_ISS + 301, window: RCV_BUF - 300 });
      assert.deepEqual(h.readAll(), [...bytes(300)]);
      send(h, { ...SEND, seq: REMOTE_ISS + 301, ack: LOCAL_ISS + 2, flags: FIN | ACK });
      // Reading 300 bytes freed less than one MSS: the window edge stays (receiver SWS
      // avoidance), and the FIN takes one more sequence number of it.
      recv(h, { ...RECV, seq: LOCAL_ISS + 2, ack: REMOTE_ISS + 302, window: RCV_BUF - 301 });
      assert.equal(h.state, 'TIME-WAIT');
      assert.ok(h.conn.readEnded);
    });

    it('shutdown before the handshake completes sends the FIN once established', () => {
      const h = synSent();
      h.conn.shutdown(h.now);
      assert.equal(h.state, 'SYN-SENT');
      recvNothing(h);
      send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1, mss: 1000 });
      assert.equal(h.state, 'FIN-WAIT-1');
      recv(h, { ...RECV, flags: FIN | ACK });
    });

    it('write after shutdown throws EPIPE', () => {
      const h = finWait1();
      assert.throws(() => h.conn.write(bytes(1), h.now), { code: 'EPIPE' });
    });
  });

  describe('passive close', () => {
    it('ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED', () => {
      const h = established();
      send(h, { ...SEND, flags: FIN | ACK });
      recv(h, { ...RECV, ack: REMOTE_ISS + 2, window: RCV_BUF - 1 }, 'a FIN is acknowledged at once');
      assert.equal(h.state, 'CLOSE-WAIT');
      assert.deepEqual(h.takeEvents(), ['peer-fin']);
      assert.ok(h.conn.readEnded);
      h.conn.shutdown(h.now);
      recv(h, { ...RECV, flags: FIN | ACK, ack: REMOTE_ISS + 2, window: RCV_BUF - 1 });
      assert.equal(h.state, 'LAST-ACK');
      send(h, { ...SEND, seq: REMOTE_ISS + 2, ack: LOCAL_ISS + 2 });
      assert.equal(h.state, 'CLOSED');
      assert.deepEqual(h.takeEvents(), ['closed']);
    });

    it('half-close: the peer closed, we keep sending in CLOSE-WAIT', () => {
      const h = closeWait();
      assert.equal(h.conn.write(bytes(800), h.now), 800);
      recv(h, { ...RECV, ack: REMOTE_ISS + 2, window: RCV_BUF - 1, flags: ACK | PSH, payload: bytes(800) });
      send(h, { ...SEND, seq: REMOTE_ISS + 2, ack: LOCAL_ISS + 801 });
      assert.equal(h.state, 'CLOSE-WAIT');
    });

    it('retransmits the FIN in LAST-ACK and ends on its ACK', () => {
      const h = lastAck();
      fireNext(h);
      recv(h, { ...RECV, flags: FIN | ACK, ack: REMOTE_ISS + 2, window: RCV_BUF - 1 });
      send(h, { ...SEND, seq: REMOTE_ISS + 2, ack: LOCAL_ISS + 2 });
      assert.equal(h.state, 'CLOSED');
    });

    it('re-ACKs a retransmitted FIN in CLOSE-WAIT', () => {
      const h = closeWait();
      send(h, { ...SEND, flags: FIN | ACK });
      recv(h, { ...RECV, ack: REMOTE_ISS + 2, window: RCV_BUF - 1 });
      assert.equal(h.state, 'CLOSE-WAIT');
      assert.deepEqual(h.takeEvents(), [], 'no second peer-fin');
    });
  });

  describe('simultaneous close', () => {
    it('FIN-WAIT-1 -> CLOSING -> TIME-WAIT', () => {
      const h = finWait1();
      send(h, { ...SEND, flags: FIN | ACK, ack: LOCAL_ISS + 1 }); // crossed: does not ACK our FIN
      recv(h, { ...RECV, seq: LOCAL_ISS + 2, ack: REMOTE_ISS + 2, window: RCV_BUF - 1 });
      assert.equal(h.state, 'CLOSING');
      send(h, { ...SEND, seq: REMOTE_ISS + 2, ack: LOCAL_ISS + 2 });
      assert.equal(h.state, 'TIME-WAIT');
      recvNothing(h);
      tick(h, 2 * MSL);
      assert.equal(h.state, 'CLOSED');
    });
  });

  describe('TIME-WAIT', () => {
    it('re-ACKs a retransmitted FIN and restarts the 2 MSL timer', () => {
      const h = timeWait();
      tick(h, MSL);
      send(h, { ...SEND, flags: FIN | ACK, ack: LOCAL_ISS + 2 });
      recv(h, { ...RECV, seq: LOCAL_ISS + 2, ack: REMOTE_ISS + 2, window: RCV_BUF - 1 });
      assert.equal(h.conn.nextDeadline(), h.now + 2 * MSL);
    });

    it('ignores RST (RFC 1337)', () => {
      const h = timeWait();
      send(h, { ...SEND, flags: RST, seq: REMOTE_ISS + 2 });
      assert.equal(h.state, 'TIME-WAIT');
      assert.equal(h.conn.counters.rstIgnoredTimeWait, 1);
      recvNothing(h);
    });

    it('a new SYN with a higher sequence number ends TIME-WAIT for a new incarnation', () => {
      const h = timeWait();
      const consumed = send(h, { ...SEND, flags: SYN, seq: REMOTE_ISS + 100_000, ack: 0 });
      assert.equal(consumed, false, 'the wiring must hand the SYN to the listener');
      assert.equal(h.state, 'CLOSED');
      assert.deepEqual(h.takeEvents(), ['closed']);
      assert.equal(h.conn.counters.timeWaitReopens, 1);
    });

    it('an old SYN in TIME-WAIT gets a challenge ACK', () => {
      const h = timeWait();
      assert.equal(send(h, { ...SEND, flags: SYN, seq: REMOTE_ISS - 10, ack: 0 }), true);
      recv(h, { ...RECV, seq: LOCAL_ISS + 2, ack: REMOTE_ISS + 2, window: RCV_BUF - 1 });
      assert.equal(h.state, 'TIME-WAIT');
    });
  });

  describe('close and abort', () => {
    it('abort sends RST and closes without error', () => {
      const h = established();
      h.conn.abort(h.now);
      recv(h, { ...RECV, flags: RST | ACK, window: 0 });
      assert.equal(h.state, 'CLOSED');
      assert.deepEqual(h.takeEvents(), ['closed']);
      assert.equal(h.conn.nextDeadline(), undefined);
    });

    it('abort in SYN-SENT sends nothing', () => {
      const h = synSent();
      h.conn.abort(h.now);
      recvNothing(h);
      assert.equal(h.state, 'CLOSED');
    });

    it('abort of a half-open passive connection sends RST', () => {
      const h = synReceived();
      h.conn.abort(h.now);
      recv(h, { ...RECV, flags: RST | ACK, window: 0 });
    });

    it('close with unread data resets the connection (RFC 2525)', () => {
      const h = established();
      send(h, { ...SEND, payload: bytes(100) });
      h.conn.close(h.now);
      recv(h, { ...RECV, flags: RST | ACK, ack: REMOTE_ISS + 101, window: 0 });
      assert.equal(h.state, 'CLOSED');
    });

    it('data arriving after close resets the connection', () => {
      const h = established();
      h.conn.close(h.now);
      recv(h, { ...RECV, flags: FIN | ACK });
      send(h, { ...SEND, ack: LOCAL_ISS + 2, payload: bytes(10) });
      recv(h, { ...RECV, seq: LOCAL_ISS + 2, flags: RST | ACK, window: 0 });
      assert.equal(h.state, 'CLOSED');
    });

    it('close in TIME-WAIT drops unread data but keeps TIME-WAIT (no RST)', () => {
      const h = finWait2();
      send(h, { ...SEND, ack: LOCAL_ISS + 2, flags: FIN | ACK, payload: bytes(10) });
      recv(h, { ...RECV, seq: LOCAL_ISS + 2, ack: REMOTE_ISS + 12, window: RCV_BUF - 11 });
      assert.equal(h.state, 'TIME-WAIT');
      h.conn.close(h.now);
      recvNothing(h);
      assert.equal(h.state, 'TIME-WAIT');
      assert.equal(h.conn.readableLength, 0);
    });

    it('a closed connection gives up FIN-WAIT-2 after finWait2Timeout', () => {
      const h = established({ config: { finWait2Timeout: 3000 } });
      h.conn.close(h.now);
      recv(h, { ...RECV, flags: FIN | ACK });
      send(h, { ...SEND, ack: LOCAL_ISS + 2 });
      assert.equal(h.state, 'FIN-WAIT-2');
      tick(h, 3000);
      assert.equal(h.state, 'CLOSED');
    });

    it('a half-closed (shutdown) connection waits in FIN-WAIT-2 indefinitely', () => {
      const h = finWait2();
      assert.equal(h.conn.nextDeadline(), undefined);
    });

    it('segments to a CLOSED connection are counted and ignored', () => {
      const h = established();
      h.conn.abort(h.now);
      take(h);
      send(h, { ...SEND, payload: bytes(5) });
      recvNothing(h);
      assert.equal(h.conn.counters.droppedClosed, 1);
    });
  });
});

function take(h: ReturnType<typeof established>): void {
  h.outbox.shift();
}

void ACK;
