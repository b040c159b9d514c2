/**
 * The receiver's quick-ACK mode (src/tcp/quick-ack.ts): after a hole fills, and after a
 * duplicate segment, the next in-order segments are ACKed at once instead of every second one;
 * with `quickAckStart`, also the first segments of a connection and those after a pause longer
 * than the RTO, unless the connection is interactive.
 */
import assert from 'node:assert/strict';
import { bytes, established, type Harness, MSS, recvNothing, REMOTE_ISS, send, SEND, take, tick, LOCAL_ISS } from './harness.js';
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

  describe('at the start and after a pause (quickAckStart)', () => {
    const start = (): Harness => established({ rtt: 10, config: { quickAckStart: true } });

    it('the head of a reply, sent alone by a Nagle sender, is ACKed at once: the rest waits for no timer', () => {
      const h = start();
      assert.equal(data(h, 0, 200), 200, 'the first data: ACK at once, not at 40 ms');
      assert.equal(data(h, 200, MSS - 1), 200 + MSS - 1, 'the budget: 4 segments of an 8,000-byte window');
      assert.equal(h.conn.counters.quickAcks, 2);
      assert.equal(h.conn.counters.delayedAcks, 0);
    });

    it('after the budget, the delayed ACK again', () => {
      const h = start();
      const at = spendBudget(h);
      assert.ok(h.conn.counters.quickAcks >= 2 && h.conn.counters.quickAcks <= MAX_QUICK_ACKS);
      assert.equal(at, h.conn.counters.quickAcks * 100, 'every segment before was ACKed at once');
    });

    it('data after a pause longer than the RTO is ACKed at once; after a shorter one, delayed', () => {
      const h = start();
      let at = spendBudget(h) + 100;
      tick(h, 40);
      assert.equal(take(h).ack, R + at, 'the delayed ACK');
      tick(h, 10);
      assert.equal(data(h, at, 100), undefined, 'a short pause: the delayed ACK');
      at += 100;
      tick(h, 40);
      assert.equal(take(h).ack, R + at);
      tick(h, h.conn.rto + 1);
      assert.equal(data(h, at, 100), at + 100, 'a pause of more than the RTO: quick ACK');
    });

    it('an interactive connection (it answered within the delayed-ACK time) gets no quick ACKs', () => {
      const h = start();
      assert.equal(data(h, 0, 100), 100, 'the request: quick ACK');
      h.conn.write(bytes(50), h.now); // the answer, at once
      take(h);
      // Next requests after the RTO: the answer will carry the ACK, no quick ACK.
      send(h, { ...SEND, seq: R + 100, ack: LOCAL_ISS + 1 + 50 });
      recvNothing(h);
      tick(h, h.conn.rto + 1);
      assert.equal(data(h, 100, 100), undefined, 'interactive: the ACK waits for the answer');
      // No answer in time: the delayed ACK fires and the connection is no longer interactive.
      tick(h, 40);
      assert.equal(take(h).ack, R + 200);
      tick(h, h.conn.rto + 1);
      assert.equal(data(h, 200, 100), 300, 'not interactive any more: quick ACK after the pause');
    });

    it('off: the first segment waits for the delayed ACK', () => {
      const h = established({ rtt: 10 });
      assert.equal(data(h, 0, 200), undefined);
      assert.equal(h.conn.counters.quickAcks, 0);
    });
  });
});

/** 100-byte segments until one is not ACKed at once; returns its offset. */
function spendBudget(h: Harness): number {
  for (let at = 0; at <= 100 * (MAX_QUICK_ACKS + 1); at += 100) {
    if (data(h, at, 100) === undefined) return at;
  }
  assert.fail('the quick ACKs never ended');
}
