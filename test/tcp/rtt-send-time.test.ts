/**
 * RTT samples from send times (as Linux's tcp_clean_rtx_queue), not from the timestamp echo,
 * whenever the ACKed data was never retransmitted: the TSval clock ticks in whole milliseconds,
 * the stack's clock resolves microseconds, so on a sub-millisecond path srtt no longer swings
 * between 0 and 2 ms. After a retransmission (Karn) the echo measures, as before. Core in
 * virtual time, fractional milliseconds; the samples are read where the congestion control
 * gets them (`onRttSample`).
 */
import assert from 'node:assert/strict';
import { bytes, fireNext, MSS, send, type HarnessOptions } from './harness.js';
import { LOCAL_ISS } from './harness.js';
import { PEER_TS, sackAck, sackEstablished, sent } from './sack-harness.js';
import { NewReno } from '../../src/tcp/congestion/newreno.js';
import { timestampOffset } from '../../src/tcp/timestamps.js';
import type { TcpRepr } from '../../src/wire/tcp.js';

/** Our TSval clock's offset (LOCAL_ISS). */
const OFF = timestampOffset(LOCAL_ISS);
/** Payload per segment with the timestamp option. */
const M = MSS - 12;

class Recording extends NewReno {
  constructor(readonly samples: number[]) {
    super(10);
  }
  onRttSample(rtt: number): void {
    this.samples.push(rtt);
  }
}

/** The peer's ACK of `n` stream bytes echoing `tsEcr` (its own TSval moving on). */
const tsAck = (n: number, tsEcr: number, ...blocks: Array<[number, number]>): TcpRepr => ({ ...sackAck(n, ...blocks), timestamp: { tsVal: PEER_TS + 1, tsEcr } });

function connection(config: HarnessOptions['config'], peerSack: boolean): { h: ReturnType<typeof sackEstablished>; samples: number[] } {
  const samples: number[] = [];
  const h = sackEstablished({ config: { rtoMin: 1000, congestionControl: () => new Recording(samples), ...config } }, { peerSack, timestamps: true });
  samples.length = 0; // the handshake's
  return { h, samples };
}

const close = (actual: number[], expected: number[]): void => {
  assert.equal(actual.length, expected.length, `samples ${actual.join(', ')}`);
  actual.forEach((x, i) => assert.ok(Math.abs(x - expected[i]) < 1e-9, `sample ${i}: ${x}, expected ${expected[i]}`));
};

describe('tcp RTT from send times (Karn-safe), the echo only after retransmissions', () => {
  it('SACK + RACK: every ACK measures from the send time of the oldest segment it covers (sub-millisecond)', () => {
    const { h, samples } = connection({ lossDetection: 'rack' }, true);
    h.now = 200.2;
    h.conn.write(bytes(4 * M), h.now);
    assert.equal(sent(h).length, 4);
    h.now = 200.5;
    send(h, tsAck(2 * M, OFF + 200)); // the echo says 0 ms: floor(200.5) - 200
    h.now = 200.55;
    send(h, tsAck(4 * M, OFF + 200));
    close(samples, [0.3, 0.35]);
    // srtt from the first sample after the handshake's, then 1/8 gain: stays sub-millisecond.
    assert.ok(h.conn.srtt > 0 && h.conn.srtt < 100.1);
  });

  it('a path of 0.25 ms: conn srtt converges to 0.25 (the echo alone gave 0 or 1 ms samples)', () => {
    const { h, samples } = connection({ lossDetection: 'rack' }, true);
    let now = 300.9;
    for (let i = 0; i < 128; i++) {
      h.now = now;
      h.conn.write(bytes(M), h.now);
      sent(h);
      h.now = now + 0.25; // crosses a millisecond boundary now and then
      send(h, tsAck((i + 1) * M, OFF + Math.floor(now)));
      now += 0.4;
    }
    assert.equal(samples.length, 128);
    assert.ok(samples.every((x) => Math.abs(x - 0.25) < 1e-9));
    assert.ok(Math.abs(h.conn.srtt - 0.25) < 0.01, `srtt ${h.conn.srtt}`);
  });

  it('without SACK: the timed segment (one per round trip) measures; ACKs in between take no millisecond echo', () => {
    const { h, samples } = connection({}, false);
    h.now = 200.2;
    h.conn.write(bytes(4 * M), h.now);
    assert.equal(sent(h).length, 4);
    h.now = 200.5;
    send(h, tsAck(M, OFF + 200)); // covers the timed (first) segment
    h.now = 201.6;
    send(h, tsAck(4 * M, OFF + 200)); // the echo would say 1 ms
    close(samples, [0.3]);
  });

  it('Karn: an ACK covering a retransmission is measured by its echo, never by a send time', () => {
    for (const [lossDetection, peerSack] of [['rack', true], ['dupack', false]] as const) {
      const { h, samples } = connection({ lossDetection, frto: false }, peerSack);
      h.now = 200.2;
      h.conn.write(bytes(2 * M), h.now);
      sent(h);
      while (h.conn.counters.timeouts === 0) fireNext(h); // (RACK: a tail loss probe first) the RTO resends segment 0
      const rtoAt = h.now;
      assert.deepEqual(sent(h).at(-1), [0, M]);
      h.now = rtoAt + 1.5;
      send(h, tsAck(2 * M, OFF + Math.floor(rtoAt))); // echoes the retransmission
      const echo = Math.floor(rtoAt + 1.5) - Math.floor(rtoAt);
      assert.deepEqual(samples, [echo], `${lossDetection}: the echo's whole milliseconds, not 1.5 (the retransmission's send time) or more (the original's)`);
    }
  });

  it('a retransmission above SND.UNA (a tail loss probe) keeps send times out until SND.UNA passes it', () => {
    const { h, samples } = connection({ lossDetection: 'rack' }, true);
    h.now = 200.2;
    h.conn.write(bytes(3 * M), h.now);
    sent(h);
    fireNext(h); // the probe resends the last segment
    assert.equal(h.conn.counters.tlpProbes, 1);
    assert.deepEqual(sent(h), [[2 * M, M]]);
    const probeAt = h.now;
    h.now = probeAt + 0.5;
    send(h, tsAck(M, OFF + 200)); // segment 0 only: may cover nothing resent, but below the probe
    send(h, tsAck(3 * M, OFF + Math.floor(probeAt)));
    assert.equal(samples.length, 2);
    assert.ok(samples.every((x) => Number.isInteger(x)), `echo samples only: ${samples.join(', ')}`);
    // Past the retransmission: send times again.
    h.now = 1000.1;
    h.conn.write(bytes(M), h.now);
    sent(h);
    h.now = 1000.3;
    send(h, tsAck(4 * M, OFF + 1000));
    close(samples.slice(2), [0.2]);
  });
});
