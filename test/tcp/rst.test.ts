import assert from 'node:assert/strict';
import { rstForSegment } from '../../src/tcp/rst.js';
import {
  ACK, bytes, closeWait, established, FIN, finWait1, finWait2, lastAck, LOCAL_ISS, RCV_BUF, RECV, recv, recvNothing, REMOTE_ISS,
  RST, send, SEND, SYN,
} from './harness.js';

describe('tcp/connection: RST and SYN validation (RFC 5961)', () => {
  it('an RST exactly at RCV.NXT resets an established connection: ECONNRESET', () => {
    const h = established();
    send(h, { ...SEND, flags: RST, seq: REMOTE_ISS + 1 });
    recvNothing(h);
    assert.equal(h.state, 'CLOSED');
    assert.deepEqual(h.takeEvents(), ['closed:ECONNRESET']);
    assert.equal(h.conn.nextDeadline(), undefined);
  });

  it('an RST inside the window but not at RCV.NXT gets a challenge ACK', () => {
    const h = established();
    send(h, { ...SEND, flags: RST, seq: REMOTE_ISS + 100 });
    recv(h, { ...RECV });
    assert.equal(h.state, 'ESTABLISHED');
    assert.equal(h.conn.counters.challengeAcks, 1);
  });

  it('an RST outside the window is dropped silently', () => {
    const h = established();
    send(h, { ...SEND, flags: RST, seq: REMOTE_ISS + 1 + RCV_BUF + 10 });
    send(h, { ...SEND, flags: RST, seq: REMOTE_ISS - 5 });
    recvNothing(h);
    assert.equal(h.state, 'ESTABLISHED');
    assert.equal(h.conn.counters.rstOutOfWindow, 2);
  });

  it('resets in FIN-WAIT-1, FIN-WAIT-2 and CLOSE-WAIT with ECONNRESET', () => {
    for (const [h, seq] of [[finWait1(), REMOTE_ISS + 1], [finWait2(), REMOTE_ISS + 1], [closeWait(), REMOTE_ISS + 2]] as const) {
      send(h, { ...SEND, flags: RST, seq });
      assert.equal(h.state, 'CLOSED');
      assert.equal(h.conn.error?.code, 'ECONNRESET');
    }
  });

  it('an RST in LAST-ACK closes without error', () => {
    const h = lastAck();
    send(h, { ...SEND, flags: RST, seq: REMOTE_ISS + 2 });
    assert.equal(h.state, 'CLOSED');
    assert.equal(h.conn.error, undefined);
  });

  it('keeps received data readable after a reset', () => {
    const h = established();
    send(h, { ...SEND, payload: bytes(50) });
    send(h, { ...SEND, flags: RST, seq: REMOTE_ISS + 51 });
    assert.equal(h.state, 'CLOSED');
    assert.deepEqual(h.readAll(), [...bytes(50)]);
  });

  it('a SYN in a synchronized state gets a challenge ACK and changes nothing', () => {
    const h = established();
    send(h, { ...SEND, flags: SYN, seq: REMOTE_ISS + 500, ack: 0 });
    recv(h, { ...RECV });
    assert.equal(h.state, 'ESTABLISHED');
    assert.equal(h.conn.counters.challengeAcks, 1);
  });

  it('an ACK for data never sent is answered with an ACK and dropped', () => {
    const h = established();
    send(h, { ...SEND, ack: LOCAL_ISS + 5000, payload: bytes(10) });
    recv(h, { ...RECV });
    assert.equal(h.readAll().length, 0, 'the data was dropped with the segment');
    assert.equal(h.conn.counters.droppedAckUnsent, 1);
  });

  it('a segment without ACK is dropped', () => {
    const h = established();
    send(h, { ...SEND, flags: 0, payload: bytes(10) });
    recvNothing(h);
    assert.equal(h.conn.readableLength, 0);
    assert.equal(h.conn.counters.droppedNoAck, 1);
  });
});

describe('tcp/rst: rstForSegment (RFC 9293 3.10.7.1)', () => {
  it('never answers an RST', () => {
    assert.equal(rstForSegment({ ...SEND, flags: RST | ACK }), undefined);
  });

  it('takes its sequence number from the ACK of the offending segment', () => {
    assert.deepEqual(rstForSegment({ ...SEND, seq: 7, ack: 12345, payload: bytes(10) }), {
      srcPort: SEND.dstPort, dstPort: SEND.srcPort, seq: 12345, ack: 0, flags: RST, window: 0, urgent: 0, payload: new Uint8Array(0),
    });
  });

  it('without ACK: seq 0, acknowledging everything the segment occupied (SYN and FIN count)', () => {
    const syn = rstForSegment({ ...SEND, flags: SYN, seq: 0xffff_ffff, ack: 0 });
    assert.equal(syn?.flags, RST | ACK);
    assert.equal(syn?.seq, 0);
    assert.equal(syn?.ack, 0, 'wraps modulo 2^32');
    const data = rstForSegment({ ...SEND, flags: FIN, seq: 100, ack: 0, payload: bytes(10) });
    assert.equal(data?.ack, 111);
  });
});
