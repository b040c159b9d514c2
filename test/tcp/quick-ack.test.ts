/**
 * The receiver's quick-ACK mode (src/tcp/quick-ack.ts): after a hole fills, and after a
 * duplicate segment, the next in-order segments are ACKed at once instead of every second one.
 */
import assert from 'node:assert/strict';
import { bytes, established, type Harness, MSS, recvNothing, REMOTE_ISS, send, SEND, take } from './harness.js';
import { MAX_QUICK_ACKS, quickAckBudget } from '../../src/tcp/quick-ack.js';

const R = REMOTE_ISS + 1;

/** The peer's segment at stream offset `at`; returns the ACK number we sent at once, or undefined. */
function data(h: Harness, at: number, len = MSS): number | undefined {
  send(h, { ...SEND, seq: R + at, payload: bytes(len, at) });
  if (h.outbox.length === 0) return undefined;
  const ack = take(h).ack - R;
  assert.equal(h.outbox.length, 0);
  return ack;
}

describe('tcp/connection: quick-ACK mode of the receiver', () => {
  it('in order, a single segment waits for the delayed ACK (the mode is off)', () => {
    const h = established();
    assert.equal(data(h, 0), undefined);
    assert.equal(data(h, MSS), 2 * MSS, 'every second segment');
    assert.equal(h.conn.counters.quickAcks, 0);
  });

  it('after a hole fills, the next segments are ACKed one by one, for quickAckBudget of them', () => {
    const h = established();
    assert.equal(data(h, 0), undefined);
    assert.equal(data(h, 2 * MSS), MSS, 'out of order: a duplicate ACK at once');
    assert.equal(data(h, MSS), 3 * MSS, 'the hole fills: ACK at once');
    // 5000 bytes of window left (nothing read): a spell of 2.
    assert.equal(data(h, 3 * MSS), 4 * MSS, 'quick ACK');
    assert.equal(data(h, 4 * MSS), 5 * MSS, 'quick ACK');
    assert.equal(h.conn.counters.quickAcks, 2);
    assert.equal(data(h, 5 * MSS), undefined, 'the spell is over: delayed again');
    recvNothing(h);
  });

  it('a duplicate segment (our ACK was lost) starts the mode too', () => {
    const h = established();
    data(h, 0);
    assert.equal(data(h, MSS), 2 * MSS);
    assert.equal(data(h, MSS), 2 * MSS, 'the duplicate is answered at once');
    assert.equal(data(h, 2 * MSS), 3 * MSS, 'and the next segments ACKed at once');
    assert.equal(data(h, 3 * MSS), 4 * MSS);
    assert.equal(h.conn.counters.quickAcks, 2);
  });

  it('quickAckBudget: half the window in segments, 2..MAX_QUICK_ACKS', () => {
    assert.equal(quickAckBudget(8000, 1000), 4);
    assert.equal(quickAckBudget(1000, 1000), 2);
    assert.equal(quickAckBudget(1 << 20, 1460), MAX_QUICK_ACKS);
  });
});
