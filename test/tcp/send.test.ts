import assert from 'node:assert/strict';
import {
  ACK, bytes, FIN, established, fireNext, LOCAL_ISS, MSS, PSH, RECV, recv, recvNothing, REMOTE_ISS, send, SEND, SND_BUF, take, tick,
} from './harness.js';

const L = LOCAL_ISS + 1; // our first data sequence number
/** The peer's ACK of our bytes up to `n` (stream offset), with window `window`. */
const ackOf = (n: number, window = SEND.window) => ({ ...SEND, ack: L + n, window });
/** Our data segment carrying stream bytes [from, from+len). */
const data = (from: number, len: number, last = false) => ({
  ...RECV, seq: L + from, flags: last ? ACK | PSH : ACK, payload: bytes(len, from),
});

describe('tcp/connection: sending', () => {
  describe('Nagle and sender SWS avoidance', () => {
    it('sends a small write at once when idle, holds the next until the ACK', () => {
      const h = established();
      h.conn.write(bytes(100), h.now);
      recv(h, data(0, 100, true));
      h.conn.write(bytes(100, 100), h.now);
      recvNothing(h, 'Nagle: small segment while data is unacknowledged');
      send(h, ackOf(100));
      recv(h, data(100, 100, true));
    });

    it('noDelay sends small segments at once', () => {
      const h = established({ config: { noDelay: true } });
      h.conn.write(bytes(100), h.now);
      h.conn.write(bytes(100, 100), h.now);
      recv(h, data(0, 100, true));
      recv(h, data(100, 100, true));
    });

    it('full-sized segments are never held', () => {
      const h = established();
      h.conn.write(bytes(100), h.now);
      recv(h, data(0, 100, true));
      h.conn.write(bytes(2000, 100), h.now);
      recv(h, data(100, MSS));
      recv(h, data(1100, MSS, true));
      recvNothing(h);
    });

    it('a small usable window is not used until it is half the largest window seen (SWS), then persist forces it', () => {
      const h = established({ rtt: 100 });
      send(h, ackOf(0, 1500));
      h.conn.write(bytes(5000), h.now);
      recv(h, data(0, MSS));
      recvNothing(h, 'only 500 usable: less than half of 1500');
      send(h, ackOf(1000, 1500)); // window slides: 1500 usable
      recv(h, data(1000, MSS));
      recvNothing(h);
      send(h, ackOf(2000, 500)); // the peer's buffer fills: 500 usable, window shrank
      recvNothing(h);
      // Nothing in flight, data waiting: the persist timer overrides SWS avoidance.
      fireNext(h);
      recv(h, data(2000, 500));
    });
  });

  describe('windows', () => {
    it('sends no more than the initial congestion window (10 segments)', () => {
      const h = established();
      h.conn.write(bytes(SND_BUF), h.now);
      for (let i = 0; i < 10; i++) recv(h, data(i * MSS, MSS));
      recvNothing(h);
      assert.equal(h.conn.cwnd, 10 * MSS);
    });

    it('slow start grows cwnd by up to 2 MSS per ACK', () => {
      const h = established();
      h.conn.write(bytes(SND_BUF), h.now);
      for (let i = 0; i < 10; i++) take(h);
      send(h, ackOf(2 * MSS));
      assert.equal(h.conn.cwnd, 12 * MSS);
      // 8 in flight, cwnd 12: four more segments.
      for (let i = 10; i < 14; i++) recv(h, data(i * MSS, MSS));
      recvNothing(h);
    });

    it('sends no more than the peer window', () => {
      const h = established();
      send(h, ackOf(0, 2500));
      h.conn.write(bytes(5000), h.now);
      recv(h, data(0, MSS));
      recv(h, data(1000, MSS));
      recvNothing(h);
    });

    it('zero window: persist probes of one byte with exponential backoff, then sending resumes', () => {
      const h = established({ rtt: 100 }); // RTO 300 ms
      send(h, ackOf(0, 0));
      h.conn.write(bytes(3000), h.now);
      recvNothing(h);
      const start = h.now;
      const times: number[] = [];
      for (let i = 0; i < 4; i++) {
        times.push(fireNext(h) - start);
        recv(h, data(0, 1)); // one byte beyond the closed window
        send(h, ackOf(0, 0)); // still closed
      }
      assert.deepEqual(times, [300, 900, 2100, 4500]);
      assert.equal(h.conn.counters.zeroWindowProbes, 4);
      assert.equal(h.state, 'ESTABLISHED', 'answered probes keep the connection alive');
      send(h, ackOf(0, 10_000)); // window update
      recv(h, data(0, MSS));
      recv(h, data(1000, MSS));
      recv(h, data(2000, MSS, true));
    });

    it('a lone FIN waits for the window like data (as Linux): the persist timer sends it as the probe', () => {
      const h = established({ rtt: 100 }); // RTO 300 ms
      h.conn.write(bytes(100), h.now);
      recv(h, data(0, 100, true));
      send(h, ackOf(100, 0)); // all taken, window closed
      h.conn.close(h.now);
      recvNothing(h, 'no FIN into a closed window');
      assert.equal(h.state, 'FIN-WAIT-1');
      const closedAt = h.now;
      const waited = fireNext(h) - closedAt;
      assert.ok(waited >= 300 && waited < 1000, `the persist timer, about one RTO (${waited} ms)`);
      recv(h, { ...RECV, seq: L + 100, flags: ACK | FIN, payload: bytes(0) }, 'the FIN as the probe');
      assert.equal(h.conn.counters.zeroWindowProbes, 1);
      send(h, ackOf(101, 0));
      assert.equal(h.state, 'FIN-WAIT-2');
    });

    it('a lone FIN held by a closed window goes out with the window update', () => {
      const h = established({ rtt: 100 });
      send(h, ackOf(0, 0));
      h.conn.close(h.now);
      recvNothing(h);
      send(h, ackOf(0, 5000));
      recv(h, { ...RECV, seq: L, flags: ACK | FIN, payload: bytes(0) });
      send(h, ackOf(1, 5000));
      assert.equal(h.state, 'FIN-WAIT-2');
    });

    it('a probe byte the peer accepts is acknowledged like data', () => {
      const h = established({ rtt: 100 });
      send(h, ackOf(0, 0));
      h.conn.write(bytes(100), h.now);
      fireNext(h);
      recv(h, data(0, 1));
      send(h, ackOf(1, 5000));
      recv(h, data(1, 99, true));
      send(h, ackOf(100, 5000));
      assert.equal(h.conn.bufferedLength, 0);
    });

    it('a shrinking window stops new data; the retransmission timer recovers', () => {
      const h = established({ rtt: 100 });
      h.conn.write(bytes(3000), h.now);
      recv(h, data(0, MSS));
      recv(h, data(1000, MSS));
      recv(h, data(2000, MSS, true));
      // The peer takes the first segment and shrinks its window to 500 (edge moves left).
      send(h, ackOf(1000, 500));
      recvNothing(h);
      fireNext(h);
      recv(h, data(1000, 500), 'go-back-N retransmission limited to the window');
    });
  });

  describe('retransmission timeout (RFC 6298)', () => {
    it('retransmits with exponential backoff and fails with ETIMEDOUT after dataRetries', () => {
      const h = established({ rtt: 100, config: { dataRetries: 3 } });
      assert.equal(h.conn.rto, 300);
      h.conn.write(bytes(500), h.now);
      recv(h, data(0, 500, true));
      const start = h.now;
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        times.push(fireNext(h) - start);
        recv(h, data(0, 500, true));
      }
      assert.deepEqual(times, [300, 900, 2100]);
      assert.equal(fireNext(h) - start, 4500);
      assert.equal(h.state, 'CLOSED');
      assert.equal(h.conn.error?.code, 'ETIMEDOUT');
      assert.equal(h.conn.counters.timeouts, 3);
      assert.equal(h.conn.counters.retransmits, 3);
    });

    it("Karn: no RTT sample from a retransmitted segment, and the backed-off RTO stays", () => {
      const h = established({ rtt: 100 });
      h.conn.write(bytes(500), h.now);
      take(h);
      fireNext(h);
      take(h);
      tick(h, 50);
      send(h, ackOf(500));
      assert.equal(h.conn.srtt, 100, 'no new sample');
      assert.equal(h.conn.rto, 600, 'backoff kept until a fresh sample');
      h.conn.write(bytes(100, 500), h.now);
      take(h);
      tick(h, 100);
      send(h, ackOf(600));
      // A fresh sample clears the backoff: SRTT 100, RTTVAR 3/4*50 = 37.5, RTO 100 + 4*37.5.
      assert.equal(h.conn.rto, 250);
    });

    it('after a timeout, cwnd is one segment and grows again (go-back-N)', () => {
      const h = established({ rtt: 100 });
      h.conn.write(bytes(4000), h.now);
      for (let i = 0; i < 4; i++) take(h);
      fireNext(h);
      recv(h, data(0, MSS));
      recvNothing(h);
      assert.equal(h.conn.cwnd, MSS);
      assert.equal(h.conn.ssthresh, 2 * MSS, 'max(flight/2, 2 MSS)');
      send(h, ackOf(1000));
      recv(h, data(1000, MSS));
      recv(h, data(2000, MSS));
    });

    it('user timeout: unacknowledged data for userTimeout ms ends in ETIMEDOUT', () => {
      const h = established({ rtt: 100, config: { userTimeout: 1000 } });
      h.conn.write(bytes(100), h.now);
      const start = h.now;
      tick(h, 999);
      assert.equal(h.state, 'ESTABLISHED');
      tick(h, 1);
      assert.equal(h.state, 'CLOSED');
      assert.equal(h.conn.error?.code, 'ETIMEDOUT');
      assert.equal(h.now - start, 1000);
    });
  });

  describe('fast retransmit and NewReno (RFC 5681, RFC 6582)', () => {
    /** Five segments in flight, the first acknowledged: 1000..5000 outstanding. */
    function inFlight(): ReturnType<typeof established> {
      const h = established({ rtt: 100 });
      h.conn.write(bytes(6000), h.now);
      for (let i = 0; i < 6; i++) take(h);
      send(h, ackOf(1000));
      recvNothing(h, 'slow start: cwnd 12000, buffer exhausted');
      return h;
    }

    it('the third duplicate ACK retransmits the first unacknowledged segment', () => {
      const h = inFlight();
      send(h, ackOf(1000));
      send(h, ackOf(1000));
      recvNothing(h);
      send(h, ackOf(1000));
      recv(h, data(1000, MSS));
      assert.equal(h.conn.counters.dupAcksReceived, 3);
      assert.equal(h.conn.counters.fastRetransmits, 1);
      assert.equal(h.conn.ssthresh, 2500, 'flight 5000 / 2');
      assert.equal(h.conn.cwnd, 2500 + 3 * MSS);
    });

    it('an ACK that carries data, or changes the window, is not a duplicate', () => {
      const h = inFlight();
      send(h, { ...ackOf(1000), payload: bytes(10) });
      send(h, ackOf(1000, 19_000));
      send(h, ackOf(1000, 19_000));
      assert.equal(h.conn.counters.dupAcksReceived, 1);
    });

    it('a partial ACK retransmits the next hole at once; a full ACK ends recovery', () => {
      const h = inFlight();
      for (let i = 0; i < 3; i++) send(h, ackOf(1000));
      recv(h, data(1000, MSS));
      // Segments 1000 and 3000 were lost: the retransmission fills the first hole.
      send(h, ackOf(3000));
      recv(h, data(3000, MSS), 'partial ACK: the next hole goes out without waiting');
      assert.equal(h.conn.counters.partialAcks, 1);
      send(h, ackOf(6000));
      assert.equal(h.conn.counters.recoveries, 1);
      // RFC 6582 3.2 step 3 (1): min(ssthresh 2500, max(FlightSize 0, SMSS) + SMSS).
      assert.equal(h.conn.cwnd, 2000);
      assert.equal(h.conn.bufferedLength, 0);
    });

    it('Limited Transmit (RFC 3042): each of the first two duplicates releases one new segment', () => {
      const h = established({ rtt: 100 });
      h.conn.write(bytes(SND_BUF), h.now);
      for (let i = 0; i < 10; i++) take(h); // cwnd (10 segments) is full
      send(h, ackOf(0));
      recv(h, data(10_000, MSS));
      send(h, ackOf(0));
      recv(h, data(11_000, MSS));
      send(h, ackOf(0));
      recv(h, data(0, MSS), 'the third duplicate: fast retransmit');
      recvNothing(h);
    });

    it('no second fast retransmit for duplicates caused by a timeout (RFC 6582 recover)', () => {
      const h = inFlight();
      fireNext(h); // RTO: go back to 1000
      recv(h, data(1000, MSS));
      for (let i = 0; i < 3; i++) send(h, ackOf(1000));
      recvNothing(h);
      assert.equal(h.conn.counters.fastRetransmits, 0);
    });
  });

  describe('send buffer', () => {
    it('write accepts what fits and signals writable once ACKs free space', () => {
      const h = established();
      assert.equal(h.conn.write(bytes(SND_BUF + 500), h.now), SND_BUF);
      assert.equal(h.conn.writableLength, 0);
      for (let i = 0; i < 10; i++) take(h);
      send(h, ackOf(2000));
      assert.deepEqual(h.takeEvents(), ['writable']);
      assert.equal(h.conn.writableLength, 2000);
    });

    it('outgoing payloads are views into the send buffer, not copies', () => {
      const h = established();
      const payloads: Uint8Array[] = [];
      h.conn.host = { send: (_c, seg) => payloads.push(seg.payload) };
      h.conn.write(bytes(3000), h.now);
      assert.equal(payloads.length, 3);
      assert.equal(payloads[0].buffer, payloads[1].buffer, 'same underlying storage');
    });

    it('request/response: the ACK that empties the buffer keeps its storage for a reply written from the same segment\'s events, and a pure ACK lets it go', () => {
      const h = established();
      const payloads: Uint8Array[] = [];
      const core = h.conn;
      core.host = {
        send: (_c, seg) => {
          if (seg.payload.length > 0) payloads.push(seg.payload);
        },
        // An echo: the request is read and answered inside handleSegment.
        onReadable: () => {
          for (let chunk = core.read(); chunk !== undefined; chunk = core.read()) core.write(chunk, h.now);
        },
      };
      core.write(bytes(1), h.now);
      // The peer ACKs our byte and sends one of its own (a transaction's request).
      send(h, { ...SEND, ack: L + 1, payload: bytes(1, 7) });
      assert.equal(payloads.length, 2, 'the reply went out');
      assert.equal(payloads[1].buffer, payloads[0].buffer, 'the same storage');
      assert.equal(payloads[1].byteOffset, payloads[0].byteOffset, 'the same block, from its start');
      assert.deepEqual([...payloads[1]], [...bytes(1, 7)]);
      // A pure ACK empties it with nothing written back: the storage goes (an idle connection
      // holds none), and the next write takes a new block.
      send(h, { ...SEND, seq: REMOTE_ISS + 2, ack: L + 2 });
      core.write(bytes(1, 9), h.now);
      assert.equal(payloads.length, 3);
      assert.ok(payloads[2].buffer !== payloads[0].buffer || payloads[2].byteOffset !== payloads[0].byteOffset, 'a new block');
    });
  });
});

void REMOTE_ISS;
