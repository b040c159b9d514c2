import assert from 'node:assert/strict';
import {
  ACK, bytes, established, FIN, LOCAL_ISS, MSS, RCV_BUF, RECV, recv, recvNothing, REMOTE_ISS, send, SEND, tick,
} from './harness.js';

const R = REMOTE_ISS + 1; // the peer's first data sequence number

describe('tcp/connection: receiving', () => {
  it('delivers in-order data zero-copy and signals readable', () => {
    const h = established();
    const frame = new Uint8Array(2000);
    const payload = frame.subarray(40, 40 + MSS);
    payload.set(bytes(MSS));
    send(h, { ...SEND, payload });
    assert.deepEqual(h.takeEvents(), ['readable']);
    assert.equal(h.conn.readableLength, MSS);
    const chunk = h.conn.read();
    assert.equal(chunk, payload, 'the payload view itself, not a copy');
  });

  it('readerCopies: a small payload read from the readable event is the frame\'s own view; one left unread is copied when handleSegment returns', () => {
    const h = established();
    h.conn.readerCopies = true;
    const core = h.conn;
    const chunks: Uint8Array[] = [];
    let reading = true;
    core.host = { send: () => undefined, onReadable: () => {
      if (!reading) return;
      for (let c = core.read(); c !== undefined; c = core.read()) chunks.push(c);
    } };
    const first = bytes(1);
    send(h, { ...SEND, payload: first });
    assert.equal(chunks[0], first, 'handed over as it came, no copy');
    reading = false;
    const second = bytes(3, 1);
    send(h, { ...SEND, seq: R + 1, payload: second });
    second.fill(0xee); // the frame is not held past the call
    const kept = core.read() as Uint8Array;
    assert.notEqual(kept, second);
    assert.deepEqual([...kept], [...bytes(3, 1)]);
    // Without the flag (the default), a small payload is copied even when read at once.
    core.readerCopies = false;
    reading = true;
    const third = bytes(2, 4);
    send(h, { ...SEND, seq: R + 4, payload: third });
    assert.notEqual(chunks[1], third);
    assert.deepEqual([...chunks[1]], [...bytes(2, 4)]);
  });

  it('delays the ACK of a single segment by delayedAckTimeout', () => {
    const h = established();
    send(h, { ...SEND, payload: bytes(100) });
    recvNothing(h);
    assert.equal(h.conn.nextDeadline(), h.now + 40);
    tick(h, 39);
    recvNothing(h);
    tick(h, 1);
    recv(h, { ...RECV, ack: R + 100, window: RCV_BUF - 100 });
    assert.equal(h.conn.counters.delayedAcks, 1);
  });

  it('ACKs at once every second full-sized segment', () => {
    const h = established();
    send(h, { ...SEND, payload: bytes(MSS) });
    recvNothing(h);
    send(h, { ...SEND, seq: R + MSS, payload: bytes(MSS, MSS) });
    recv(h, { ...RECV, ack: R + 2 * MSS, window: RCV_BUF - 2 * MSS });
    assert.equal(h.conn.nextDeadline(), undefined, 'the delayed-ACK timer was cancelled');
  });

  it('ACKs at once when more than one full segment waits: a full segment and a short tail (as Linux)', () => {
    const h = established();
    send(h, { ...SEND, payload: bytes(MSS) });
    recvNothing(h, 'one full segment: the ACK waits');
    send(h, { ...SEND, seq: R + MSS, payload: bytes(10, MSS) });
    recv(h, { ...RECV, ack: R + MSS + 10, window: RCV_BUF - MSS - 10 }, 'the tail is not held for the delay');
    // Short segments alone still wait until more than a full segment's worth is owed.
    send(h, { ...SEND, seq: R + MSS + 10, payload: bytes(100, MSS + 10) });
    recvNothing(h);
  });

  it('ACKs at once when more than one full segment of bytes waits: a short head, then a full segment (as Linux)', () => {
    // A Nagle sender's reply: 200 bytes alone, then a full segment, the rest held for our ACK.
    const h = established();
    send(h, { ...SEND, payload: bytes(MSS) });
    recvNothing(h);
    tick(h, 40);
    recv(h, { ...RECV, ack: R + MSS, window: RCV_BUF - MSS });
    send(h, { ...SEND, seq: R + MSS, payload: bytes(200, MSS) });
    recvNothing(h, 'one short segment: the delayed ACK');
    send(h, { ...SEND, seq: R + MSS + 200, payload: bytes(MSS, MSS + 200) });
    recv(h, { ...RECV, ack: R + 2 * MSS + 200, window: RCV_BUF - 2 * MSS - 200 }, 'not 40 ms later');
  });

  it('acks every segment when delayedAckTimeout is 0', () => {
    const h = established({ config: { delayedAckTimeout: 0 } });
    send(h, { ...SEND, payload: bytes(10) });
    recv(h, { ...RECV, ack: R + 10, window: RCV_BUF - 10 });
  });

  it('out-of-order data: an immediate duplicate ACK, then reassembly and an immediate ACK on the fill', () => {
    const h = established();
    send(h, { ...SEND, seq: R + 1000, payload: bytes(1000, 1000) });
    recv(h, { ...RECV, ack: R }, 'duplicate ACK for the gap');
    send(h, { ...SEND, seq: R + 3000, payload: bytes(500, 3000) });
    recv(h, { ...RECV, ack: R });
    assert.equal(h.conn.readableLength, 0);
    assert.equal(h.conn.counters.outOfOrderSegments, 2);
    send(h, { ...SEND, seq: R, payload: bytes(1000) });
    // Gap [0,1000) filled: in-order up to 2000; the hole at 2000 remains. Our window edge has
    // not moved: 2000 of it are now used by unread data.
    recv(h, { ...RECV, ack: R + 2000, window: RCV_BUF - 2000 });
    send(h, { ...SEND, seq: R + 2000, payload: bytes(1000, 2000) });
    recv(h, { ...RECV, ack: R + 3500, window: RCV_BUF - 3500 });
    assert.deepEqual(h.readAll(), [...bytes(3500)]);
  });

  it('re-ACKs a duplicate segment and delivers nothing twice', () => {
    const h = established();
    send(h, { ...SEND, payload: bytes(100) });
    send(h, { ...SEND, payload: bytes(100) });
    recv(h, { ...RECV, ack: R + 100, window: RCV_BUF - 100 });
    assert.equal(h.conn.counters.duplicateSegments, 1);
    assert.deepEqual(h.readAll(), [...bytes(100)]);
  });

  it('trims the old part of a partly duplicate segment', () => {
    const h = established();
    send(h, { ...SEND, payload: bytes(100) });
    send(h, { ...SEND, seq: R + 50, payload: bytes(100, 50) });
    recv(h, { ...RECV, ack: R + 150, window: RCV_BUF - 150 });
    assert.deepEqual(h.readAll(), [...bytes(150)]);
  });

  it('trims data beyond the window and ACKs at once', () => {
    const h = established();
    send(h, { ...SEND, seq: R, payload: bytes(RCV_BUF + 500) });
    recv(h, { ...RECV, ack: R + RCV_BUF, window: 0 });
    assert.equal(h.conn.counters.trimmedBytes, 500);
    assert.equal(h.conn.readableLength, RCV_BUF);
  });

  it('drops a segment entirely beyond the window and answers with an ACK', () => {
    const h = established();
    send(h, { ...SEND, seq: R + RCV_BUF + 1, payload: bytes(10) });
    recv(h, { ...RECV });
    assert.equal(h.conn.counters.droppedNotAcceptable, 1);
  });

  describe('flow control', () => {
    /** Fills our whole receive buffer: the window closes. */
    function full(): ReturnType<typeof established> {
      const h = established();
      for (let off = 0; off < RCV_BUF; off += MSS) send(h, { ...SEND, seq: R + off, payload: bytes(MSS, off) });
      // ACKs every second segment; the last one announces the zero window.
      for (let off = 2 * MSS; off <= RCV_BUF; off += 2 * MSS) recv(h, { ...RECV, ack: R + off, window: RCV_BUF - off });
      recvNothing(h);
      return h;
    }

    it('advertises a zero window when the reader does not read', () => {
      const h = full();
      assert.equal(h.conn.rcvWnd, 0);
    });

    it('answers a zero-window probe with an ACK and drops its byte', () => {
      const h = full();
      send(h, { ...SEND, seq: R + RCV_BUF, payload: bytes(1, RCV_BUF) });
      recv(h, { ...RECV, ack: R + RCV_BUF, window: 0 });
      assert.equal(h.conn.counters.zeroWindowProbesReceived, 1);
      assert.equal(h.conn.readableLength, RCV_BUF);
    });

    it('answers out-of-window pure ACKs at most once per 500 ms (no ACK war between two zero windows)', () => {
      const h = full();
      // The peer's pure ACK one beyond RCV.NXT (it sent a probe byte we did not take, and now
      // sends from SND.MAX): unacceptable into a zero window.
      const beyond = { ...SEND, seq: R + RCV_BUF + 1 };
      send(h, beyond);
      recv(h, { ...RECV, ack: R + RCV_BUF, window: 0 }, 'the first one is answered');
      send(h, beyond);
      send(h, beyond);
      recvNothing(h, 'the next ones within 500 ms are not');
      assert.equal(h.conn.counters.droppedNotAcceptable, 3);
      tick(h, 500);
      send(h, beyond);
      recv(h, { ...RECV, ack: R + RCV_BUF, window: 0 }, 'answered again after 500 ms');
    });

    it('receiver SWS avoidance: no window update until at least one MSS is free', () => {
      const h = full();
      h.conn.read(MSS - 1);
      recvNothing(h, 'freeing less than an MSS does not open the window');
      h.conn.read(1);
      recv(h, { ...RECV, ack: R + RCV_BUF, window: MSS }, 'window update');
      assert.equal(h.conn.counters.windowUpdates, 1);
    });

    it('a reader freeing space after a full buffer reopens the window (window update)', () => {
      const h = full();
      h.readAll(); // eight 1000-byte reads
      // An update goes out whenever the window at least doubles: log2 steps, not one per read.
      for (const window of [1000, 2000, 4000, 8000]) recv(h, { ...RECV, ack: R + RCV_BUF, window });
      recvNothing(h);
      send(h, { ...SEND, seq: R + RCV_BUF, payload: bytes(MSS, RCV_BUF) });
      assert.equal(h.conn.readableLength, MSS);
    });

    it('the window edge never moves left', () => {
      const h = established();
      send(h, { ...SEND, payload: bytes(300) });
      tick(h, 40);
      recv(h, { ...RECV, ack: R + 300, window: RCV_BUF - 300 });
      h.conn.read(100);
      recvNothing(h);
      send(h, { ...SEND, seq: R + 300, payload: bytes(300, 300) });
      tick(h, 40);
      // Free is 8000-500 = 7500, but the edge was at R+8000: offered window is 8000-600 = 7400.
      recv(h, { ...RECV, ack: R + 600, window: RCV_BUF - 600 });
    });
  });

  describe('FIN', () => {
    it('an out-of-order FIN waits for the data before it', () => {
      const h = established();
      send(h, { ...SEND, seq: R + 100, flags: ACK | FIN, payload: bytes(100, 100) });
      recv(h, { ...RECV, ack: R });
      assert.equal(h.state, 'ESTABLISHED');
      send(h, { ...SEND, seq: R, payload: bytes(100) });
      recv(h, { ...RECV, ack: R + 201, window: RCV_BUF - 201 });
      assert.equal(h.state, 'CLOSE-WAIT');
      assert.deepEqual(h.takeEvents(), ['readable', 'peer-fin']);
      assert.deepEqual(h.readAll(), [...bytes(200)]);
      assert.ok(h.conn.readEnded);
    });

    it('a FIN beyond the window is not accepted', () => {
      const h = established();
      send(h, { ...SEND, seq: R, flags: ACK | FIN, payload: bytes(RCV_BUF) });
      recv(h, { ...RECV, ack: R + RCV_BUF, window: 0 });
      assert.equal(h.state, 'ESTABLISHED');
    });

    it('data after the FIN is ignored', () => {
      const h = established();
      send(h, { ...SEND, flags: ACK | FIN });
      recv(h, { ...RECV, ack: R + 1, window: RCV_BUF - 1 });
      send(h, { ...SEND, seq: R + 1, payload: bytes(10) });
      assert.equal(h.conn.readableLength, 0);
      assert.equal(h.conn.counters.droppedAfterFin, 1);
    });
  });

  it('bounds the out-of-order queue: the larger of the count and the buffer in full segments', () => {
    // RCV_BUF holds RCV_BUF / MSS full segments: that bound is larger than the count (2) here.
    const held = RCV_BUF / MSS;
    const h = established({ config: { maxOutOfOrderSegments: 2 } });
    for (let k = 1; k <= held + 1; k++) send(h, { ...SEND, seq: R + 100 * k, payload: bytes(10) });
    assert.equal(h.conn.counters.outOfOrderSegments, held);
    assert.equal(h.conn.counters.outOfOrderDropped, 1);
  });
});

void LOCAL_ISS;
void ACK;
