/**
 * State transitions reported to the host (onStateChange): every one, once, in order, including
 * those a handler causes from inside the report (a nested call into the core).
 */
import assert from 'node:assert/strict';
import { ACK, established, FIN, RECV, REMOTE_ISS, recv, send, SEND, synReceived, take } from './harness.js';

const R = REMOTE_ISS + 1;

describe('tcp/connection: state transitions reported to the host', () => {
  it('a handler that closes from inside the report: the nested transitions follow the earlier ones, in order, each once', () => {
    const h = established();
    const seen: string[] = [];
    const host = h.conn.host;
    h.conn.host = {
      ...host,
      onStateChange: (_c, from, to) => {
        seen.push(`${from}>${to}`);
        // Answer the peer's FIN with ours from inside the report (as an echo service does).
        if (to === 'CLOSE-WAIT') h.conn.shutdown(h.now);
      },
    };
    send(h, { ...SEND, seq: R, flags: FIN | ACK });
    assert.deepEqual(seen, ['ESTABLISHED>CLOSE-WAIT', 'CLOSE-WAIT>LAST-ACK']);
    assert.equal(take(h).flags, ACK, 'the FIN\'s ACK (no deferring host here)');
    assert.equal(take(h).flags, FIN | ACK);
    send(h, { ...SEND, seq: R + 1, ack: h.conn.sndNxt });
    assert.deepEqual(seen, ['ESTABLISHED>CLOSE-WAIT', 'CLOSE-WAIT>LAST-ACK', 'LAST-ACK>CLOSED']);
    // Several transitions in one call (a passive open whose handshake ACK carries a FIN): all
    // reported, in order, then the indices start over for the next call.
    const p = synReceived();
    const order: string[] = [];
    p.conn.host = { ...p.conn.host, onStateChange: (_c, from, to) => void order.push(`${from}>${to}`) };
    send(p, { ...SEND, flags: ACK | FIN, seq: R, ack: p.conn.iss + 1 });
    assert.deepEqual(order, ['SYN-RECEIVED>ESTABLISHED', 'ESTABLISHED>CLOSE-WAIT']);
    recv(p, { ...RECV, ack: R + 1, window: RECV.window - 1 });
    p.conn.shutdown(p.now);
    assert.deepEqual(order, ['SYN-RECEIVED>ESTABLISHED', 'ESTABLISHED>CLOSE-WAIT', 'CLOSE-WAIT>LAST-ACK'], 'a later call reports only its own');
  });

  it('a transition made while reporting the first of two: after the second (the first is held apart from the later ones)', () => {
    const p = synReceived();
    const order: string[] = [];
    p.conn.host = {
      ...p.conn.host,
      onStateChange: (_c, from, to) => {
        order.push(`${from}>${to}`);
        // Reported ESTABLISHED while CLOSE-WAIT waits: the FIN queued now comes after it.
        if (to === 'ESTABLISHED') p.conn.shutdown(p.now);
      },
    };
    send(p, { ...SEND, flags: ACK | FIN, seq: R, ack: p.conn.iss + 1 });
    assert.deepEqual(order, ['SYN-RECEIVED>ESTABLISHED', 'ESTABLISHED>CLOSE-WAIT', 'CLOSE-WAIT>LAST-ACK']);
    assert.equal(p.conn.state, 'LAST-ACK');
    send(p, { ...SEND, seq: R + 1, ack: p.conn.sndNxt });
    assert.deepEqual(order.slice(3), ['LAST-ACK>CLOSED'], 'the next call reports only its own');
  });
});
