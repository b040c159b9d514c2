import assert from 'node:assert/strict';
import { ACK, LOCAL_ISS, MSS, PSH, RECV, SEND, bytes, established, recv, send, tick } from '../harness.js';
import { NewReno } from '../../../src/tcp/congestion/newreno.js';
import type { CongestionControlParams } from '../../../src/tcp/congestion/congestion-control.js';

const L = LOCAL_ISS + 1;
const ackOf = (n: number) => ({ ...SEND, ack: L + n });

/** NewReno that records what the core tells it beyond the base interface. */
class Recording extends NewReno {
  override readonly name = 'recording';
  readonly samples: [number, number][] = [];
  readonly ackTimes: number[] = [];
  onRttSample(rtt: number, srtt: number): void {
    this.samples.push([rtt, srtt]);
  }
  override onAck(acked: number, ack: number, flightBefore: number, sndMax: number, now: number) {
    this.ackTimes.push(now);
    return super.onAck(acked, ack, flightBefore, sndMax, now);
  }
}

describe('tcp/connection: what the congestion control is told', () => {
  it('a factory from the config builds the algorithm with its params; RTT samples and ACK times reach it', () => {
    let made: Recording | undefined;
    let params: CongestionControlParams | undefined;
    const h = established({
      rtt: 100,
      config: {
        initialCwndSegments: 3,
        congestionControl: (p) => {
          params = p;
          return (made = new Recording(p.initialWindowSegments));
        },
      },
    });
    assert.ok(made !== undefined && params !== undefined);
    assert.equal(h.conn.congestionControl, 'recording');
    assert.equal(params.initialWindowSegments, 3);
    assert.equal(params.counters, h.conn.counters);
    assert.equal(h.conn.cwnd, 3 * MSS);
    assert.deepEqual(made.samples, [[100, 100]], 'the handshake sample');
    h.conn.write(bytes(MSS), h.now);
    recv(h, { ...RECV, seq: L, flags: ACK | PSH, payload: bytes(MSS) });
    tick(h, 60);
    send(h, ackOf(MSS));
    // RFC 6298 2.3: SRTT = 7/8 * 100 + 1/8 * 60.
    assert.deepEqual(made.samples[1], [60, 95]);
    assert.deepEqual(made.ackTimes, [h.now]);
  });
});
