/**
 * ACKs deferred to the end of the host's batch (TcpHost.deferAck, sendDeferredAck): in-order
 * data owes one ACK per batch, built when the host says the batch is over; everything that
 * must be ACKed at once still is.
 */
import assert from 'node:assert/strict';
import { ACK, bytes, established, FIN, type Harness, LOCAL_ISS, MSS, RCV_BUF, recv, RECV, recvNothing, REMOTE_ISS, RST, send, SEND, SYN, synSent, take } from './harness.js';

const R = REMOTE_ISS + 1;

/** Gives the harness's core a host that defers its ACKs while `batch.open`; counts the asks. */
function deferring(h: Harness): { open: boolean; asked: number } {
  const batch = { open: true, asked: 0 };
  const host = h.conn.host;
  h.conn.host = {
    ...host,
    deferAck: () => {
      batch.asked++;
      return batch.open;
    },
  };
  return batch;
}

function data(h: Harness, at: number, len = MSS): void {
  send(h, { ...SEND, seq: R + at, payload: bytes(len, at) });
}

describe('tcp/connection: ACKs deferred to the end of a batch', () => {
  it('a batch of full segments gets one ACK, built when the batch ends, after the reader read', () => {
    const h = established();
    const batch = deferring(h);
    for (let i = 0; i < 3; i++) data(h, i * MSS);
    recvNothing(h, 'no ACK per two segments inside the batch');
    assert.equal(batch.asked, 1, 'the host is asked once per batch');
    assert.equal(h.readAll().length, 3 * MSS);
    recvNothing(h, 'reading freed less than a window update needs');
    h.conn.sendDeferredAck(h.now);
    recv(h, { ...RECV, ack: R + 3 * MSS, window: RCV_BUF }, 'one ACK for the batch, with the window after the reads');
    h.conn.sendDeferredAck(h.now);
    recvNothing(h, 'nothing more is owed');
    // The next batch asks again.
    data(h, 3 * MSS);
    data(h, 4 * MSS);
    assert.equal(batch.asked, 2);
  });

  it('a window update owed by the reader\'s reads waits for the end of the batch, and carries the deferred ACK', () => {
    const h = established();
    deferring(h);
    for (let i = 0; i < 5; i++) data(h, i * MSS);
    recvNothing(h);
    assert.equal(h.readAll().length, 5 * MSS);
    recvNothing(h, 'inside the batch the window update is not built yet');
    assert.equal(h.conn.counters.windowUpdates, 0);
    h.conn.sendDeferredAck(h.now);
    const update = take(h);
    assert.equal(update.ack, R + 5 * MSS);
    assert.equal(update.window, RCV_BUF, 'the window the reads opened');
    assert.equal(h.conn.counters.windowUpdates, 1);
    h.conn.sendDeferredAck(h.now);
    recvNothing(h, 'the window update acknowledged everything');
  });

  it('a reply written after the read carries the window it opened: no window update is built', () => {
    const h = established();
    deferring(h);
    for (let i = 0; i < 5; i++) data(h, i * MSS);
    assert.equal(h.readAll().length, 5 * MSS);
    h.conn.write(bytes(10), h.now);
    const reply = take(h);
    assert.equal(reply.payload.length, 10);
    assert.equal(reply.ack, R + 5 * MSS);
    assert.equal(reply.window, RCV_BUF);
    h.conn.sendDeferredAck(h.now);
    recvNothing(h, 'the reply said it all');
    assert.equal(h.conn.counters.windowUpdates, 0);
  });

  it('the ACK of a FIN in ESTABLISHED waits for the end of the batch; our FIN sent before then carries it', () => {
    const h = established();
    deferring(h);
    send(h, { ...SEND, seq: R, flags: FIN | ACK });
    assert.equal(h.state, 'CLOSE-WAIT');
    recvNothing(h, 'no pure ACK built inside the batch');
    h.conn.shutdown(h.now); // the application answers the FIN with its own
    recv(h, { ...RECV, flags: FIN | ACK, ack: R + 1, window: RCV_BUF - 1 });
    h.conn.sendDeferredAck(h.now);
    recvNothing(h, 'the FIN acknowledged the peer\'s');
  });

  it('a FIN the application does not answer in the batch is ACKed at its end; declined, at once', () => {
    const h = established();
    deferring(h);
    send(h, { ...SEND, seq: R, flags: FIN | ACK });
    recvNothing(h);
    h.conn.sendDeferredAck(h.now);
    recv(h, { ...RECV, ack: R + 1, window: RCV_BUF - 1 });
    const declined = established();
    deferring(declined).open = false;
    send(declined, { ...SEND, seq: R, flags: FIN | ACK });
    recv(declined, { ...RECV, ack: R + 1, window: RCV_BUF - 1 }, 'outside a batch: at once, as before');
    // Active close (FIN-WAIT-2): no FIN of ours follows, the ACK is built at once.
    const active = established();
    active.conn.shutdown(active.now);
    take(active);
    send(active, { ...SEND, seq: R, ack: LOCAL_ISS + 2 });
    assert.equal(active.state, 'FIN-WAIT-2');
    deferring(active);
    send(active, { ...SEND, seq: R, ack: LOCAL_ISS + 2, flags: FIN | ACK });
    assert.equal(active.state, 'TIME-WAIT');
    recv(active, { ...RECV, seq: LOCAL_ISS + 2, ack: R + 1, window: RCV_BUF - 1 });
  });

  it('an ACK is still built at once whenever 128 KiB wait for one', () => {
    // A 512 KiB window: window scaling on both sides (the peer's SYN-ACK offers it too).
    const h = synSent({ config: { windowScaling: true, receiveBufferSize: 512 << 10, receiveBufferMax: 512 << 10 } });
    send(h, { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1, mss: MSS, windowScale: 0 });
    take(h);
    assert.equal(h.state, 'ESTABLISHED');
    const batch = deferring(h);
    const acks: number[] = [];
    for (let i = 0; i < 300; i++) {
      data(h, i * MSS);
      while (h.outbox.length > 0) acks.push(take(h).ack - R);
    }
    assert.equal(batch.asked, 1);
    assert.deepEqual(acks, [132, 264].map((n) => n * MSS), 'one ACK each time 128 KiB (132 segments of 1000) waited');
    h.conn.sendDeferredAck(h.now);
    assert.equal(take(h).ack - R, 300 * MSS, 'the rest at the end of the batch');
  });

  it('a host that declines gets the ACK at once, every second full segment, as before', () => {
    const h = established();
    const batch = deferring(h);
    batch.open = false;
    data(h, 0);
    recvNothing(h);
    data(h, MSS);
    recv(h, { ...RECV, ack: R + 2 * MSS, window: RCV_BUF - 2 * MSS });
    data(h, 2 * MSS);
    data(h, 3 * MSS);
    recv(h, { ...RECV, ack: R + 4 * MSS, window: RCV_BUF - 4 * MSS });
    assert.equal(batch.asked, 2);
  });

  it('out-of-order data is still answered at once, and an ACK sent since leaves nothing owed', () => {
    const h = established();
    deferring(h);
    data(h, 0);
    data(h, MSS);
    recvNothing(h);
    data(h, 3 * MSS);
    const dup = take(h);
    assert.equal(dup.ack, R + 2 * MSS, 'an immediate duplicate ACK for the gap');
    h.conn.sendDeferredAck(h.now);
    recvNothing(h, 'the duplicate ACK carried everything the deferred one would have');
  });

  it('is not asked with delayedAckTimeout 0 (every segment ACKed at once)', () => {
    const h = established({ config: { delayedAckTimeout: 0 } });
    const batch = deferring(h);
    data(h, 0, 10);
    recv(h, { ...RECV, ack: R + 10, window: RCV_BUF - 10 });
    assert.equal(batch.asked, 0);
  });

  it('sends nothing for a connection reset before its batch ended', () => {
    const h = established();
    deferring(h);
    data(h, 0);
    data(h, MSS);
    send(h, { ...SEND, seq: R + 2 * MSS, flags: RST | ACK, payload: new Uint8Array(0) });
    assert.equal(h.state, 'CLOSED');
    h.outbox.length = 0;
    h.conn.sendDeferredAck(h.now);
    recvNothing(h);
  });
});
