import assert from 'node:assert/strict';
import { ACK, FIN, bytes, fireNext, Harness, LOCAL_ISS, MSS, recv, RECV, recvNothing, REMOTE_ISS, send, SEND, SYN, take } from './harness.js';
import { seqAdd, seqDiff } from '../../src/tcp/seq.js';
import type { TcpRepr } from '../../src/wire/tcp.js';
import { resolveTcpConfig } from '../../src/tcp/config.js';
import { L, sackAck, sackEstablished, sackSegmentsAboveFirst, sackSending, sent, spuriousSackRecovery } from './sack-harness.js';

const RACK = { config: { lossDetection: 'rack' } } as const;

describe('tcp/connection: SACK loss recovery (RFC 6675)', () => {
  describe('negotiation', () => {
    it('the SYN-ACK carries SACK-permitted only when the SYN did', () => {
      for (const offered of [true, false]) {
        const h = new Harness({ config: { sack: true } });
        h.conn.listen();
        send(h, { ...SEND, flags: SYN, seq: REMOTE_ISS, ack: 0, mss: MSS, ...(offered ? { sackPermitted: true } : {}) });
        assert.equal(take(h).sackPermitted === true, offered);
      }
    });

    it('with sack off, the SYN does not offer it', () => {
      const h = new Harness({ config: { sack: false } });
      h.conn.connect(h.now);
      assert.equal(take(h).sackPermitted, undefined);
    });

    it('without the peer agreeing, SACK blocks are ignored and NewReno recovers', () => {
      const h = sackSending(5000, {}, { peerSack: false });
      for (let i = 0; i < 3; i++) send(h, sackAck(0, [1000, 2000 + 1000 * i]));
      assert.deepEqual(sent(h), [[0, MSS]]);
      assert.equal(h.conn.counters.sackRecoveries, 0);
      assert.equal(h.conn.cwnd, 2500 + 3 * MSS, 'NewReno inflation');
    });
  });

  for (const iss of [LOCAL_ISS, 0xffff_e000]) it(`enters recovery once SACKs show the first segment lost, then sends as PRR allows (ISS ${iss})`, () => {
    const h = sackEstablished({ iss });
    h.conn.write(bytes(16_000), h.now);
    assert.equal(sent(h).length, 10, 'initial window');
    // Segments 0 and 2 are lost; the others arrive and are SACKed.
    send(h, sackAck(0, [1000, 2000]));
    assert.deepEqual(sent(h), [[10_000, MSS]], 'Limited Transmit');
    send(h, sackAck(0, [3000, 4000], [1000, 2000]));
    assert.deepEqual(sent(h), [[11_000, MSS]], 'Limited Transmit');
    send(h, sackAck(0, [3000, 5000], [1000, 2000]));
    assert.deepEqual(sent(h), [[0, MSS]], '3000 bytes SACKed above it: segment 0 is lost');
    assert.equal(h.conn.counters.sackRecoveries, 1);
    assert.equal(h.conn.ssthresh, 6000, 'flight 12000 / 2');
    assert.equal(h.conn.cwnd, 6000, 'cwnd = ssthresh, no inflation');
    // PRR (RFC 6937), pipe above ssthresh: ceil(delivered x 6000 / 12000) - sent, the fast
    // retransmit counting as sent.
    send(h, sackAck(0, [3000, 6000], [1000, 2000]));
    assert.deepEqual(sent(h), [], 'delivered 2000: budget 0');
    send(h, sackAck(0, [3000, 7000], [1000, 2000]));
    assert.deepEqual(sent(h), [], 'delivered 3000: budget 500');
    send(h, sackAck(0, [3000, 8000], [1000, 2000]));
    assert.deepEqual(sent(h), [[2000, MSS]], 'delivered 4000: one segment; segment 2 is lost now');
    // pipe 5000 <= ssthresh: PRR-SSRB, min(ssthresh - pipe, max(delivered - out, 1000) + MSS).
    send(h, sackAck(0, [3000, 9000], [1000, 2000]));
    assert.deepEqual(sent(h), [[12_000, MSS]], 'no lost hole left: new data');
    assert.equal(h.conn.counters.fastRetransmits, 1);
    assert.equal(h.conn.counters.partialAcks, 0, 'no NewReno partial-ACK retransmissions');
    // Both retransmissions arrive: a cumulative ACK beyond the recovery point (12000) ends it.
    send(h, sackAck(12_000));
    assert.equal(h.conn.counters.recoveries, 1);
    assert.equal(h.conn.cwnd, 6000);
    assert.equal(h.conn.counters.timeouts, 0);
  });

  it('a partial ACK resends the hole now at SND.UNA without waiting for the RTO', () => {
    const h = sackSending(5000);
    // Segments 0 and 4 (the tail) are lost.
    sackSegmentsAboveFirst(h);
    assert.deepEqual(sent(h), [[0, MSS]]);
    send(h, sackAck(4000));
    assert.deepEqual(sent(h), [[4000, MSS]]);
    assert.equal(h.conn.counters.partialAcks, 1);
    send(h, sackAck(5000));
    assert.equal(h.conn.counters.timeouts, 0);
    assert.equal(h.conn.bufferedLength, 0);
  });

  it('rescue retransmission (rule 4): once per episode, the highest unSACKed segment', () => {
    const h = sackSending(10_000);
    // Segment 0 lost, 9 (the tail) not yet SACKed.
    sackSegmentsAboveFirst(h);
    assert.deepEqual(sent(h), [[0, MSS]]);
    assert.equal(h.conn.cwnd, 5000);
    for (const top of [5000, 6000]) {
      send(h, sackAck(0, [1000, top]));
      assert.deepEqual(sent(h), [], `pipe >= cwnd at ${top}`);
    }
    send(h, sackAck(0, [1000, 7000]));
    assert.deepEqual(sent(h), [[9000, MSS]], 'no hole below the highest SACK, no new data: rescue');
    send(h, sackAck(0, [1000, 8000]));
    assert.deepEqual(sent(h), [], 'one rescue per episode');
  });

  it('after a timeout only the holes are resent, not the SACKed data', () => {
    const h = sackSending(10_000); // 'dupack': no tail loss probe first
    // Segment 0 and 5 lost; 1..4 SACKed (recovery starts), then every ACK is lost.
    send(h, sackAck(0, [1000, 5000]));
    // PRR: 4000 delivered x ssthresh 5000 / RecoverFS 10000 = 2000, one segment more than the
    // fast retransmit: nothing else is below the highest SACK, so the rescue of the tail.
    assert.deepEqual(sent(h), [[0, MSS], [9000, MSS]]);
    fireNext(h);
    assert.equal(h.conn.counters.timeouts, 1);
    assert.deepEqual(sent(h), [[0, MSS]], 'cwnd one segment: the first hole');
    send(h, sackAck(1000, [1000, 5000], [6000, 10_000]));
    assert.deepEqual(sent(h), [[5000, MSS]], 'cwnd 2 segments, but the only hole is 5000');
    send(h, sackAck(10_000));
    assert.equal(h.conn.bufferedLength, 0);
    assert.equal(h.conn.counters.retransmits, 4);
  });

  it('a repeated timeout forgets the SACKs (the peer may have reneged) and resends from SND.UNA', () => {
    const h = sackSending(3000);
    send(h, sackAck(0, [1000, 2000]));
    fireNext(h);
    assert.deepEqual(sent(h), [[0, MSS]]);
    fireNext(h);
    assert.deepEqual(sent(h), [[0, MSS]]);
    send(h, sackAck(1000));
    assert.deepEqual(sent(h), [[1000, MSS], [2000, MSS]], 'the SACKed segment 1000 is resent too');
  });

  it('counts D-SACK blocks (RFC 2883)', () => {
    const h = sackSending(2000);
    send(h, sackAck(2000, [0, 1000]));
    assert.equal(h.conn.counters.dsacksReceived, 1);
    recvNothing(h);
  });

  describe('tail loss probe (RFC 8985 7)', () => {
    it('two SRTTs after the last ACK, the last segment is sent again; a lost tail recovers without an RTO', () => {
      const h = sackSending(3000, RACK);
      h.now += 100;
      send(h, sackAck(1000));
      const ackedAt = h.now;
      assert.deepEqual(sent(h), []);
      const firedAt = fireNext(h);
      assert.equal(firedAt - ackedAt, 2 * h.conn.srtt, 'PTO = 2 * SRTT');
      assert.ok(firedAt - ackedAt < h.conn.rto, 'before the RTO');
      assert.deepEqual(sent(h), [[2000, MSS]], 'the last segment');
      assert.equal(h.conn.counters.tlpProbes, 1);
      send(h, sackAck(3000));
      assert.equal(h.conn.bufferedLength, 0);
      assert.equal(h.conn.counters.timeouts, 0);
      assert.equal(h.conn.nextDeadline(), undefined, 'nothing in flight: no timer');
    });

    it('the probe carries new data when the peer window allows, beyond cwnd', () => {
      const h = sackEstablished(RACK);
      h.conn.write(bytes(12_000), h.now);
      assert.equal(sent(h).length, 10, 'cwnd full');
      const t0 = h.now;
      fireNext(h);
      assert.equal(h.now - t0, 2 * h.conn.srtt);
      assert.deepEqual(sent(h), [[10_000, MSS]]);
      assert.equal(h.conn.counters.tlpProbes, 1);
      fireNext(h);
      assert.equal(h.conn.counters.timeouts, 1, 'one probe per flight, then the RTO');
    });

    it('one segment in flight: the PTO allows for a delayed ACK (+200 ms); never later than the RTO', () => {
      const late = sackEstablished(RACK);
      late.conn.write(bytes(500), late.now);
      sent(late);
      const t1 = late.now;
      const rto = late.conn.rto;
      fireNext(late);
      assert.equal(late.now - t1, rto, 'PTO 400 ms >= RTO 300 ms: the probe goes at the RTO time, in its place');
      assert.equal(late.conn.counters.tlpProbes, 1);
      assert.equal(late.conn.counters.timeouts, 0);
      assert.deepEqual(sent(late), [[0, 500]]);
      fireNext(late);
      assert.equal(late.now - t1, 2 * rto, 'the RTO restarted from the probe');
      assert.equal(late.conn.counters.timeouts, 1);
      const h = sackSending(500, { config: { lossDetection: 'rack', rtoMin: 1000 } });
      const t0 = h.now;
      fireNext(h);
      assert.equal(h.now - t0, 2 * h.conn.srtt + 200);
      assert.deepEqual(sent(h), [[0, 500]]);
    });

    it("no probes with lossDetection 'dupack'", () => {
      const h = sackSending(3000, { config: { lossDetection: 'dupack' } });
      fireNext(h);
      assert.equal(h.conn.counters.tlpProbes, 0);
      assert.equal(h.conn.counters.timeouts, 1);
    });

    it('a bad lossDetection is named by the configuration error', () => {
      assert.throws(
        () => resolveTcpConfig({ lossDetection: 'fast' as never, mss: 1 }),
        (e: Error & { code?: string }) => e.code === 'ERR_INVALID_CONFIG' && /lossDetection: expected one of rack, dupack/.test(e.message) && /mss/.test(e.message),
      );
    });
  });

  describe('RACK (RFC 8985 6)', () => {
    it('a segment sent before a SACKed one is lost after RACK.rtt + reo_wnd: the RACK timer', () => {
      const h = sackSending(10_000, RACK);
      h.now += 100;
      send(h, sackAck(0, [1000, 2000])); // segment 1 delivered after 100 ms; 0 not (yet)
      assert.deepEqual(sent(h), [], 'reordering window: min_RTT / 4 = 25 ms');
      const at = fireNext(h);
      assert.equal(at, 100 + 100 + 25, 'sent at 100 (after the handshake) + RACK.rtt 100 + reo_wnd 25');
      assert.deepEqual(sent(h), [[0, MSS]], 'deemed lost by time, retransmitted at once');
      assert.equal(h.conn.counters.rackLosses, 1);
      assert.equal(h.conn.counters.sackRecoveries, 1);
    });

    it('reordering within the window is not a loss', () => {
      const h = sackSending(10_000, RACK);
      h.now += 100;
      send(h, sackAck(0, [1000, 2000]));
      h.now += 10;
      send(h, sackAck(2000)); // segment 0 arrives 10 ms later: reordered, not lost
      h.now += 100;
      send(h, sackAck(10_000));
      assert.equal(h.conn.counters.retransmits, 0);
      assert.equal(h.conn.counters.rackLosses, 0);
    });

    it('DupThresh segments SACKed and no reordering seen: reo_wnd is 0, the loss is marked at once', () => {
      const h = sackSending(10_000, RACK);
      h.now += 100;
      // Segments 1..3 SACKed together: reo_wnd drops to 0 (DupThresh SACKed, no reordering seen).
      send(h, sackAck(0, [1000, 4000]));
      assert.deepEqual(sent(h), [[0, MSS]]);
      assert.equal(h.conn.counters.rackLosses, 1);
    });

    it('a lost retransmission is detected once data sent after it is delivered, and sent again', () => {
      const h = sackEstablished({ config: { lossDetection: 'rack', rtoMin: 1000 } });
      h.conn.write(bytes(14_000), h.now);
      assert.equal(sent(h).length, 10);
      h.now += 100;
      send(h, sackAck(0, [1000, 4000]));
      assert.deepEqual(sent(h), [[0, MSS]], 'segment 0 lost; retransmitted at 200');
      // The retransmission is lost too. Later segments arrive; new data goes out under PRR.
      const more: Array<[number, number]> = [];
      for (let top = 5000; top <= 10_000; top += 1000) {
        h.now += 10;
        send(h, sackAck(0, [1000, top]));
        more.push(...sent(h));
      }
      // (The retransmission counts once in pipe: from segment 7's SACK on, pipe is below
      // ssthresh 5000 and PRR keeps it there.)
      assert.deepEqual(more, [[10_000, MSS], [11_000, MSS], [12_000, MSS], [13_000, MSS]]);
      assert.equal(h.conn.counters.rackLosses, 1);
      // Segment 10000 (sent at 210, after the retransmission) is delivered: the retransmission,
      // older by more than RACK.rtt, is lost. It goes again (NextSeg rule 1; no new data is left).
      h.now += 60;
      send(h, sackAck(0, [1000, 11_000]));
      assert.deepEqual(sent(h), [[0, MSS]]);
      assert.equal(h.conn.counters.rackLosses, 2);
      assert.equal(h.conn.counters.timeouts, 0);
    });

    it('a retransmission in the same instant as the delivery that triggered it is not lost again', () => {
      const h = sackSending(10_000, RACK);
      send(h, sackAck(0, [1000, 4000])); // RTT 0: everything happens at one time
      assert.deepEqual(sent(h), [[0, MSS]]);
      send(h, sackAck(0, [1000, 5000]));
      send(h, sackAck(0, [1000, 6000]));
      assert.ok(!sent(h).some(([off]) => off === 0), 'segment 0 was resent after segment 4 was sent');
      assert.equal(h.conn.counters.rackLosses, 1);
    });

    it('the probe resends the last segment as it was sent, FIN included', () => {
      const h = sackEstablished({ config: { lossDetection: 'rack', rtoMin: 1000 } });
      h.conn.write(bytes(500), h.now); // a short segment, unacknowledged: Nagle holds the next short tail
      h.conn.write(bytes(2100), h.now); // two full segments, 100 bytes held
      h.conn.shutdown(h.now); // ... which leave with the FIN
      assert.deepEqual(sent(h), [[0, 500], [500, MSS], [1500, MSS], [2500, 100]]);
      h.now += 100;
      send(h, sackAck(1000));
      fireNext(h);
      const probe = take(h);
      assert.equal(seqDiff(probe.seq, L), 2500);
      assert.equal(probe.payload.length, 100);
      assert.ok((probe.flags & FIN) !== 0);
    });

    it('tail loss: the probe is SACKed, RACK marks the segments before it lost, recovery without an RTO', () => {
      const h = sackSending(10_000, { config: { lossDetection: 'rack', rtoMin: 1000 } });
      h.now += 100;
      send(h, sackAck(7000)); // 7, 8 and 9 lost
      assert.deepEqual(sent(h), []);
      fireNext(h);
      assert.deepEqual(sent(h), [[9000, MSS]], 'the probe');
      h.now += 100;
      send(h, sackAck(7000, [9000, 10_000]));
      assert.deepEqual(sent(h), [[7000, MSS], [8000, MSS]], 'both sent before the delivered probe: lost');
      send(h, sackAck(10_000));
      assert.equal(h.conn.counters.timeouts, 0);
      assert.equal(h.conn.counters.tlpProbes, 1);
      assert.equal(h.conn.bufferedLength, 0);
    });
  });

  describe('D-SACK undo (RFC 2883, RFC 3708)', () => {
    it('every retransmission of the episode reported duplicate: cwnd and ssthresh are restored', () => {
      const h = spuriousSackRecovery();
      send(h, sackAck(10_000, [0, 1000])); // D-SACK: the retransmission was a duplicate
      assert.equal(h.conn.counters.spuriousUndos, 1);
      assert.equal(h.conn.cwnd, 10_000, 'the cwnd before the reduction');
      assert.ok(h.conn.ssthresh > 10_000, 'ssthresh as before (still initial)');
    });

    it('a D-SACK of data never retransmitted (a network duplicate) undoes nothing', () => {
      const h = spuriousSackRecovery();
      send(h, sackAck(10_000, [5000, 6000]));
      assert.equal(h.conn.counters.dsacksReceived, 1);
      assert.equal(h.conn.counters.spuriousUndos, 0);
      assert.equal(h.conn.cwnd, 5000);
    });
  });
});

/**
 * The scoreboard and RACK's state are made when there is something to send, not at the
 * handshake (an idle connection holds neither): SACK recovery must work whichever way the first
 * data came, queued before the handshake completed or written long after it.
 */
describe('tcp/connection: SACK recovery with the scoreboard made at the first data', () => {
  const at = (n: number): number => seqAdd(LOCAL_ISS + 1, n);
  const ackSacking = (n: number, ...blocks: Array<[number, number]>): TcpRepr => ({
    ...SEND, ack: at(n), sackBlocks: blocks.map(([a, b]) => [at(a), at(b)] as const),
  });
  const dataSent = (h: Harness): Array<[number, number]> => {
    const out: Array<[number, number]> = [];
    while (h.outbox.length > 0) {
      const s = take(h);
      if (s.payload.length > 0) out.push([seqDiff(s.seq, at(0)), s.payload.length]);
    }
    return out;
  };
  /** Segments 0 and 2 of ten lost, the rest SACKed: SACK recovery resends segment 0 at the third ACK. */
  const loseFirst = (h: Harness): void => {
    assert.equal(dataSent(h).length, 10, 'initial window');
    send(h, ackSacking(0, [1000, 2000]));
    send(h, ackSacking(0, [3000, 4000], [1000, 2000]));
    dataSent(h);
    send(h, ackSacking(0, [3000, 5000], [1000, 2000]));
    assert.deepEqual(dataSent(h), [[0, MSS]], '3000 bytes SACKed above it: segment 0 is lost');
    assert.equal(h.conn.counters.sackRecoveries, 1, 'a SACK recovery, not NewReno');
    assert.equal(h.conn.counters.partialAcks, 0);
  };
  const synAck: TcpRepr = { ...SEND, flags: SYN | ACK, seq: REMOTE_ISS, ack: LOCAL_ISS + 1, mss: MSS, sackPermitted: true };

  it('data written while connecting (SYN-SENT) and sent after the SYN-ACK', () => {
    const h = new Harness({ config: { sack: true, timestamps: false, lossDetection: 'dupack' } });
    h.conn.connect(h.now);
    take(h); // the SYN
    h.conn.write(bytes(16_000), h.now);
    h.now += 100;
    send(h, synAck);
    assert.equal(h.state, 'ESTABLISHED');
    loseFirst(h);
  });

  it('data first written a minute after the handshake', () => {
    const h = new Harness({ config: { sack: true, timestamps: false, lossDetection: 'dupack' } });
    h.conn.connect(h.now);
    take(h);
    h.now += 100;
    send(h, synAck);
    recv(h, { ...RECV, seq: at(0) });
    h.now += 60_000;
    h.conn.write(bytes(16_000), h.now);
    loseFirst(h);
  });
});
