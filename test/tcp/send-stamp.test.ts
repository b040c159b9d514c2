/**
 * Send times are when a batch leaves (TcpConnectionCore.stampSent), not the clock reading the
 * task that built it started with: the wiring stamps the segments of a task when the link
 * flushes them, and every RTT sample (RACK's records, the RFC 6298 timed segment) then measures
 * from there. Core in virtual time: a batch built at t0, stamped at t1, acknowledged at t2
 * measures t2 - t1. Samples are read where the congestion control gets them (`onRttSample`).
 */
import assert from 'node:assert/strict';
import { bytes, fireNext, MSS, send } from './harness.js';
import { sackAck, sackEstablished, sent } from './sack-harness.js';
import { NewReno } from '../../src/tcp/congestion/newreno.js';
import type { Harness } from './harness.js';

class Recording extends NewReno {
  constructor(readonly samples: number[]) {
    super(10);
  }
  onRttSample(rtt: number): void {
    this.samples.push(rtt);
  }
}

interface Stamped {
  h: Harness;
  samples: number[];
  /** How often the core asked its host for a stamp (TcpHost.onSendTimed). */
  asked: () => number;
}

function connection(lossDetection: 'rack' | 'dupack', peerSack: boolean): Stamped {
  const samples: number[] = [];
  const h = sackEstablished({ config: { rtoMin: 1000, lossDetection, congestionControl: () => new Recording(samples) } }, { peerSack });
  samples.length = 0; // the handshake's
  let asked = 0;
  const host = h.conn.host;
  h.conn.host = { ...host, send: host.send, onSendTimed: () => asked++ };
  return { h, samples, asked: () => asked };
}

const near = (actual: number[], expected: number[]): void => {
  assert.equal(actual.length, expected.length, `samples ${actual.join(', ')}`);
  actual.forEach((x, i) => assert.ok(Math.abs(x - expected[i]) < 1e-9, `sample ${i}: ${x}, expected ${expected[i]}`));
};

describe('tcp send times stamped when the batch leaves (stampSent)', () => {
  it('RACK: a batch built at 200, stamped at 200.3, ACKed at 200.5 measures 0.2 ms (0.5 unstamped)', () => {
    for (const stamp of [true, false]) {
      const { h, samples, asked } = connection('rack', true);
      h.now = 200;
      h.conn.write(bytes(4 * MSS), h.now);
      assert.equal(sent(h).length, 4);
      assert.equal(asked(), 1, 'the host is asked once for the batch, not per segment');
      if (stamp) h.conn.stampSent(200.3);
      h.now = 200.5;
      send(h, sackAck(2 * MSS));
      h.now = 200.6;
      send(h, sackAck(4 * MSS));
      near(samples, stamp ? [0.2, 0.3] : [0.5, 0.6]);
      assert.ok(Math.abs(h.conn.minRtt - (stamp ? 0.2 : 0.5)) < 1e-9, `min RTT ${h.conn.minRtt}`);
    }
  });

  it('the RFC 6298 timed segment (no SACK) measures from its stamp', () => {
    const { h, samples, asked } = connection('dupack', false);
    h.now = 200;
    h.conn.write(bytes(2 * MSS), h.now);
    sent(h);
    assert.equal(asked(), 1);
    h.conn.stampSent(200.3);
    h.now = 200.5;
    send(h, sackAck(2 * MSS));
    near(samples, [0.2]);
    assert.ok(Math.abs(h.conn.minRtt - 0.2) < 1e-9, `min RTT ${h.conn.minRtt}`);
  });

  it('a batch sent after a stamp at the same clock reading gets a record of its own and its own stamp', () => {
    const { h, samples, asked } = connection('rack', true);
    h.now = 200;
    h.conn.write(bytes(2 * MSS), h.now);
    sent(h);
    h.conn.stampSent(200.3);
    // More work in the same task after the stamp (the stamp's reading is the task's clock now):
    // not merged into the stamped record, whose segments have left.
    h.now = 200.3;
    h.conn.write(bytes(2 * MSS), h.now);
    assert.equal(sent(h).length, 2);
    assert.equal(asked(), 2, 'asked again for the second batch');
    h.conn.stampSent(200.4);
    h.now = 200.5;
    send(h, sackAck(2 * MSS));
    h.now = 200.6;
    send(h, sackAck(4 * MSS));
    near(samples, [0.2, 0.2]);
  });

  it('a record acknowledged before its stamp keeps its time; the rest of the batch takes the stamp; times never move back', () => {
    const { h, samples } = connection('rack', true);
    h.now = 200;
    h.conn.write(bytes(4 * MSS), h.now);
    sent(h);
    h.now = 200.1;
    send(h, sackAck(MSS)); // measured from the build time: the batch was not stamped yet
    h.conn.stampSent(200.3);
    h.conn.stampSent(200.35); // nothing sent since: no change
    h.now = 200.5;
    send(h, sackAck(4 * MSS));
    near(samples, [0.1, 0.2]);
    // A stamp older than the build time leaves the time as it was.
    h.now = 300;
    h.conn.write(bytes(MSS), h.now);
    sent(h);
    h.conn.stampSent(299);
    h.now = 300.25;
    send(h, sackAck(5 * MSS));
    near(samples, [0.1, 0.2, 0.25]);
  });

  /** One MSS sent and stamped at 200 and SACKed at 201: a first round trip of 1 ms. */
  function firstRoundTrip(h: Harness): void {
    h.now = 200;
    h.conn.write(bytes(MSS), h.now);
    sent(h);
    h.conn.stampSent(200);
    h.now = 201;
    send(h, sackAck(MSS));
  }

  /**
   * A first round trip at 200-201, then 2 MSS written at 300 by a task that goes on 10 ms past
   * the timer armed for them (`armed`) before they leave (stamped at `left` when `stamp`).
   */
  function pastArmedTimer(h: Harness, stamp: boolean): { armed: number; left: number } {
    firstRoundTrip(h);
    h.now = 300;
    h.conn.write(bytes(2 * MSS), h.now);
    assert.equal(sent(h).length, 2);
    const armed = h.conn.nextDeadline() as number;
    const left = armed + 10;
    if (stamp) h.conn.stampSent(left);
    h.now = left;
    h.conn.handleTimer(h.now);
    return { armed, left };
  }

  it('the tail loss probe waits from the stamp: a task that ran past it does not fire it as its frames leave', () => {
    for (const stamp of [true, false]) {
      const { h } = connection('rack', true);
      const { armed, left } = pastArmedTimer(h, stamp);
      if (stamp) {
        assert.deepEqual(sent(h), [], 'nothing resent as the frames leave');
        assert.ok(Math.abs(fireNext(h) - (armed + (left - 300))) < 1e-9, 'the probe, as far from the stamp as it was from the build');
      }
      assert.deepEqual(sent(h), [[2 * MSS, MSS]], 'the probe resends the last segment');
      assert.equal(h.conn.counters.tlpProbes, 1);
    }
  });

  it('the retransmission timer waits from the stamp: a task longer than the RTO does not fire it as its frames leave', () => {
    for (const stamp of [true, false]) {
      const { h } = connection('dupack', false);
      const { armed, left } = pastArmedTimer(h, stamp);
      assert.ok(armed >= 300 + 1000, 'the RTO (rtoMin 1000) is what was armed');
      if (stamp) {
        assert.deepEqual(sent(h), [], 'nothing resent as the frames leave');
        assert.equal(h.conn.counters.timeouts, 0);
        assert.ok(Math.abs(fireNext(h) - (armed + (left - 300))) < 1e-9, 'the RTO, as far from the stamp as it was from the build');
      }
      assert.deepEqual(sent(h), [[MSS, MSS]], 'the timeout resends the first segment');
      assert.equal(h.conn.counters.timeouts, 1);
    }
  });

  it('an RTO armed by an earlier task keeps its time when a later task sends more', () => {
    const { h } = connection('dupack', false);
    h.now = 200;
    h.conn.write(bytes(MSS), h.now);
    sent(h);
    h.conn.stampSent(200);
    const armed = h.conn.nextDeadline() as number;
    h.now = 500; // no ACK yet; a second write, its frames leaving 5 ms later
    h.conn.write(bytes(MSS), h.now);
    sent(h);
    h.conn.stampSent(505);
    assert.equal(h.conn.nextDeadline(), armed, 'the first segment is still timed from when it left');
  });

  it('RACK loss marking counts from the stamp: a segment that left just before a delivered one is not lost', () => {
    for (const stamp of [true, false]) {
      const { h } = connection('rack', true);
      // A first round trip sets RACK's min RTT and RTT to 1 ms (reo_wnd = min RTT / 4 = 0.25).
      firstRoundTrip(h);
      // Segment 1 built at 300 in a long task that ends at 302; segment 2 sent at 302.1 and SACKed
      // 1 ms later. RACK (RFC 8985 6.2): segment 1 is lost when it was sent more than reo_wnd
      // before segment 2: 0.1 ms before by its stamp, 2.1 ms by its build time.
      h.now = 300;
      h.conn.write(bytes(MSS), h.now);
      sent(h);
      if (stamp) h.conn.stampSent(302);
      h.now = 302.1;
      h.conn.write(bytes(MSS), h.now);
      sent(h);
      if (stamp) h.conn.stampSent(302.1);
      h.now = 303.1;
      send(h, sackAck(MSS, [2 * MSS, 3 * MSS]));
      const resent = sent(h);
      if (stamp) assert.deepEqual(resent, [], 'segment 1 left 0.1 ms before the SACKed one: not lost');
      else assert.deepEqual(resent, [[MSS, MSS]], 'unstamped, segment 1 counts as sent 2.1 ms earlier and is resent');
    }
  });
});
