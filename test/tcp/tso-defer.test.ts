/**
 * Deferring a short large segment (tso-size.ts tsoShouldDefer, Linux's tcp_tso_should_defer)
 * only while two full segments are in flight, whose ACK the peer sends at once. A write that
 * follows a short one (a response's body after its header) leaves at once; it waited for the
 * first one's ACK, which a peer delaying its ACKs sends 40 ms later. Data still waits for an
 * ACK that is coming when less than a third of cwnd is free. Virtual time, the test as the peer.
 */
import assert from 'node:assert/strict';
import { ACK, PSH, RECV, SEND, bytes, established, recv, recvNothing, send, take, LOCAL_ISS, MSS, type Harness } from './harness.js';

function tsoPeer(noDelay: boolean): Harness {
  // Room for several segments in flight: cwnd 10 MSS, the peer's window 20,000.
  const h = established({ rtt: 1, config: { noDelay, sendBufferSize: 64_000, sendBufferMax: 64_000 } });
  h.conn.gsoMaxBytes = 65_535;
  return h;
}

describe('tcp: a short large segment is held only for the ACK of two full segments or more', () => {
  for (const noDelay of [true, false]) {
    it(`a 200-byte head then a 2,800-byte body: both leave at once, before any ACK (noDelay ${noDelay})`, () => {
      const h = tsoPeer(noDelay);
      h.conn.write(bytes(200), h.now);
      recv(h, { ...RECV, flags: ACK | PSH, payload: bytes(200) });
      h.conn.write(bytes(2800, 200), h.now);
      // One large segment of the whole body (the link cuts it), at the same instant.
      const body = take(h);
      assert.equal(body.seq, LOCAL_ISS + 1 + 200);
      assert.equal(body.payload.length, 2800, 'the body was held for the head\'s ACK');
      recvNothing(h);
    });
  }

  it('a full segment in flight does not hold a 2,500-byte write (its ACK may be a delayed one)', () => {
    const h = tsoPeer(false);
    h.conn.write(bytes(MSS), h.now);
    assert.equal(take(h).payload.length, MSS);
    h.conn.write(bytes(2500, MSS), h.now);
    assert.equal(take(h).payload.length, 2500, 'held behind one segment\'s ACK');
    recvNothing(h);
  });

  it('still waits for the ACK in flight when less than a third of cwnd is free', () => {
    const h = tsoPeer(true);
    h.conn.write(bytes(8 * MSS), h.now);
    assert.equal(take(h).payload.length, 8 * MSS);
    recvNothing(h);
    // 2 MSS of the 10 MSS cwnd free: the next 5,000 bytes wait for the ACK rather than leave as
    // a 2,000-byte segment and a 3,000-byte one.
    h.conn.write(bytes(5 * MSS, 8 * MSS), h.now);
    recvNothing(h, 'held for the ACK in flight');
    h.now += 1;
    send(h, { ...SEND, ack: LOCAL_ISS + 1 + 8 * MSS });
    const seg = take(h);
    assert.equal(seg.seq, LOCAL_ISS + 1 + 8 * MSS);
    assert.equal(seg.payload.length, 5 * MSS, 'the ACK let all of it go as one segment');
  });
});
