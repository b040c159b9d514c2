import assert from 'node:assert/strict';
import { seqAdd } from '../../src/tcp/seq.js';
import { ACK, bytes, established, FIN, fireNext, MSS, PSH, RCV_BUF, RECV, recv, recvNothing, send, SEND } from './harness.js';

// Both initial sequence numbers a few bytes below 2^32: every exchange crosses the wrap.
const ISS = 0xffff_fff0;
const RISS = 0xffff_ffe0;
const opts = { iss: ISS, remoteIss: RISS };
const L = (n: number) => seqAdd(ISS, 1 + n);
const R = (n: number) => seqAdd(RISS, 1 + n);
const S = { ...SEND, seq: R(0), ack: L(0) };
const V = { ...RECV, seq: L(0), ack: R(0) };

describe('tcp/connection: sequence numbers across 2^32', () => {
  it('sends, retransmits and is acknowledged across the wrap', () => {
    const h = established({ ...opts, rtt: 100 });
    h.conn.write(bytes(3 * MSS), h.now);
    recv(h, { ...V, payload: bytes(MSS) });
    recv(h, { ...V, seq: L(MSS), payload: bytes(MSS, MSS) });
    recv(h, { ...V, seq: L(2 * MSS), flags: ACK | PSH, payload: bytes(MSS, 2 * MSS) });
    assert.ok(L(MSS) < ISS, 'the second segment starts after the wrap');
    send(h, { ...S, ack: L(MSS) });
    fireNext(h); // RTO: the second segment again
    recv(h, { ...V, seq: L(MSS), payload: bytes(MSS, MSS) });
    send(h, { ...S, ack: L(3 * MSS) });
    assert.equal(h.conn.bufferedLength, 0);
    assert.equal(h.conn.nextDeadline(), undefined);
  });

  it('receives in and out of order across the wrap', () => {
    const h = established(opts);
    send(h, { ...S, seq: R(40), payload: bytes(40, 40) }); // after the wrap
    recv(h, { ...V }, 'duplicate ACK for the hole');
    send(h, { ...S, payload: bytes(40) }); // before the wrap
    recv(h, { ...V, ack: R(80), window: RCV_BUF - 80 });
    assert.deepEqual(h.readAll(), [...bytes(80)]);
  });

  it('closes across the wrap', () => {
    const h = established(opts);
    send(h, { ...S, flags: ACK | FIN, payload: bytes(31) }); // the FIN sits at exactly 2^32
    assert.equal(R(31), 0);
    recv(h, { ...V, ack: R(32), window: RCV_BUF - 32 });
    assert.equal(h.state, 'CLOSE-WAIT');
    h.conn.shutdown(h.now);
    recv(h, { ...V, flags: ACK | FIN, ack: R(32), window: RCV_BUF - 32 });
    send(h, { ...S, seq: R(32), ack: L(1) });
    assert.equal(h.state, 'CLOSED');
    recvNothing(h);
  });

  it('rejects an RST that is exactly 2^31 away (not in window)', () => {
    const h = established(opts);
    send(h, { ...S, flags: 0x04, seq: seqAdd(R(0), 0x8000_0000) });
    assert.equal(h.state, 'ESTABLISHED');
  });
});
