/**
 * F-RTO (RFC 5682) when the only new data is a lone FIN: the application closed after the
 * timeout, so at step 2b nothing but the FIN is left to send. Decided as Linux's
 * tcp_process_loss does: the FIN is new data (Linux queues it as a segment of its own, so its
 * write queue is not empty) when the peer's window is open beyond SND.MAX; F-RTO then sends it
 * in place of retransmissions, and the next ACK decides. A window closed at SND.MAX: the
 * conventional recovery. Byte vectors on the core in virtual time, with and without SACK.
 */
import assert from 'node:assert/strict';
import { ACK, bytes, FIN, fireNext, MSS, send, take, type Harness } from './harness.js';
import { L, sackAck, sackEstablished, sent } from './sack-harness.js';
import { seqAdd } from '../../src/tcp/seq.js';
import type { TcpRepr } from '../../src/wire/tcp.js';

/** Ten segments out at 100, nothing more queued; the RTO resends segment 0; then the application closes. */
function closedAfterTimeout(peerSack: boolean): Harness {
  const h = sackEstablished({ config: { rtoMin: 1000 } }, { peerSack });
  h.conn.write(bytes(10 * MSS), h.now);
  assert.equal(sent(h).length, 10);
  fireNext(h);
  assert.equal(h.conn.counters.timeouts, 1);
  assert.deepEqual(sent(h), [[0, MSS]]);
  h.conn.shutdown(h.now);
  assert.equal(h.outbox.length, 0, 'the FIN waits behind the recovery (loss window full)');
  h.now += 100;
  return h;
}

/** Every segment the core emitted. */
function drain(h: Harness): TcpRepr[] {
  const out: TcpRepr[] = [];
  while (h.outbox.length > 0) out.push(take(h));
  return out;
}

for (const peerSack of [false, true]) {
  describe(`tcp F-RTO with a lone FIN (${peerSack ? 'SACK: RFC 5682 3.1' : 'without SACK: RFC 5682 2'})`, () => {
    it('the FIN is the new data of step 2b; the next ACK of never-resent data proves the timeout spurious', () => {
      const h = closedAfterTimeout(peerSack);
      send(h, sackAck(1000)); // the original segment 0's ACK, late
      const out = drain(h);
      assert.equal(out.length, 1, 'one segment: the FIN, no retransmission of segment 1');
      assert.equal(out[0].seq, seqAdd(L, 10 * MSS));
      assert.equal(out[0].flags, FIN | ACK);
      assert.equal(out[0].payload.length, 0);
      send(h, sackAck(2000)); // segment 1: sent before the timeout, never resent
      assert.equal(h.conn.counters.frtoSpuriousRtos, 1);
      assert.equal(h.conn.cwnd, 10 * MSS, 'cwnd as before the timeout');
      send(h, { ...sackAck(10 * MSS + 1) }); // everything and the FIN
      assert.deepEqual(drain(h).filter((s) => s.payload.length > 0), []);
      assert.equal(h.conn.counters.retransmits, 1, 'only the timeout\'s segment was resent');
      assert.equal(h.state, 'FIN-WAIT-2');
    });

    it('the flight was lost: a duplicate ACK after the FIN goes back to the conventional recovery', () => {
      const h = closedAfterTimeout(peerSack);
      send(h, sackAck(1000));
      assert.equal(drain(h)[0].flags, FIN | ACK);
      send(h, peerSack ? sackAck(1000, [10 * MSS, 10 * MSS]) : sackAck(1000)); // only the FIN arrived
      assert.equal(h.conn.counters.frtoSpuriousRtos, 0);
      assert.ok(h.conn.cwnd < 10 * MSS, 'the timeout response stands');
      assert.ok(sent(h).some(([off]) => off === 1000), 'segment 1 resent');
    });

    it('the peer\'s window closed at SND.MAX: nothing new may go, the conventional recovery resends', () => {
      const h = closedAfterTimeout(peerSack);
      send(h, { ...sackAck(1000), window: 9 * MSS }); // SND.UNA + window = SND.MAX
      const out = drain(h);
      assert.ok(out.every((s) => (s.flags & FIN) === 0), 'no FIN into the closed window');
      assert.equal(out.filter((s) => s.payload.length > 0)[0]?.seq, seqAdd(L, 1000), 'segment 1 resent');
      send(h, sackAck(2000));
      assert.equal(h.conn.counters.frtoSpuriousRtos, 0, 'F-RTO gave up at step 2');
    });
  });
}
