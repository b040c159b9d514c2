import assert from 'node:assert/strict';
import { IPV6_MIN_PATH_MTU, MIN_PATH_MTU, MTU_PLATEAUS, PathMtu, plateauBelow } from '../../src/tcp/pmtu.js';
import { ACK, bytes, established, LOCAL_ISS, MSS, PSH, RECV, recv, recvNothing, send, SEND, synSent, take, tick } from './harness.js';

const L = LOCAL_ISS + 1; // our first data sequence number
/** Our data segment carrying stream bytes [from, from+len). */
const data = (from: number, len: number, last = false) => ({
  ...RECV, seq: L + from, flags: last ? ACK | PSH : ACK, payload: bytes(len, from),
});

/** Established with 3000 bytes sent in three full segments, none acknowledged. */
function inFlight() {
  const h = established({ rtt: 100 });
  h.conn.write(bytes(3000), h.now);
  recv(h, data(0, MSS));
  recv(h, data(1000, MSS));
  recv(h, data(2000, MSS, true));
  return h;
}

describe('tcp/pmtu: plateau table and path MTU arithmetic (RFC 1191)', () => {
  it('has RFC 1191 table 7-1 and picks the plateau below a size', () => {
    assert.deepEqual(MTU_PLATEAUS, [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68]);
    assert.equal(plateauBelow(1500), 1492);
    assert.equal(plateauBelow(1492), 1006);
    assert.equal(plateauBelow(1040), 1006);
    assert.equal(plateauBelow(68), 68);
  });

  it('only ever lowers, and stops at the 552-byte floor with DF off', () => {
    const p = new PathMtu();
    assert.equal(p.onFragNeeded(1400, 1500), 'lowered');
    assert.equal(p.mtu, 1400);
    assert.equal(p.onFragNeeded(1450, 1440), 'notLower');
    assert.equal(p.onFragNeeded(1400, 1440), 'notLower');
    assert.equal(p.onFragNeeded(0, 1400), 'lowered', 'no next-hop MTU: the plateau below the packet');
    assert.equal(p.mtu, 1006);
    assert.equal(p.dontFragment, true);
    assert.equal(p.onFragNeeded(300, 1006), 'lowered');
    assert.equal(p.mtu, MIN_PATH_MTU);
    assert.equal(p.dontFragment, false);
    assert.equal(p.mss(1460), 512);
    assert.equal(p.mss(400), 400, 'never above what the peer negotiated');
  });

  it('over IPv6 (RFC 8201): 60 bytes of headers, below 1280 taken as 1280, DF never cleared, no plateaus', () => {
    const p = new PathMtu(true);
    assert.equal(p.headers, 60);
    assert.equal(p.onFragNeeded(1400, 1500), 'lowered');
    assert.equal(p.mss(1440), 1340);
    assert.equal(p.onFragNeeded(1400, 1400), 'notLower');
    assert.equal(p.onFragNeeded(0, 1400), 'lowered', 'an MTU of 0 is below 1280: 1280, not a plateau');
    assert.equal(p.mtu, IPV6_MIN_PATH_MTU);
    assert.equal(p.onFragNeeded(600, 1280), 'notLower');
    assert.equal(p.mtu, 1280);
    assert.equal(p.dontFragment, true);
    assert.equal(p.mss(1440), 1220);
  });
});

describe('tcp/connection: ICMP fragmentation needed (RFC 1191, RFC 5927)', () => {
  it('lowers the MSS and resends what was in flight at once, in segments of the new size', () => {
    const h = inFlight();
    const cwnd = h.conn.cwnd;
    assert.equal(h.conn.handleFragNeeded(L + 1000, 800, h.now), true);
    assert.equal(h.conn.sndMss, 760);
    assert.equal(h.conn.pmtu, 800);
    recv(h, data(0, 760));
    recv(h, data(760, 760));
    recv(h, data(1520, 760));
    recv(h, data(2280, 720, true));
    recvNothing(h);
    assert.equal(h.conn.counters.pmtuChanges, 1);
    assert.equal(h.conn.cwnd, cwnd, 'not a congestion signal');
    assert.equal(h.conn.dontFragment, true);
    // New data goes out in the new size too.
    send(h, { ...SEND, ack: L + 3000 });
    h.conn.write(bytes(1520, 3000), h.now);
    recv(h, data(3000, 760));
    recv(h, data(3760, 760, true));
  });

  it('ignores (and counts) a message whose quoted sequence number is not in flight', () => {
    const h = inFlight();
    send(h, { ...SEND, ack: L + 1000 });
    for (const seq of [L, L + 3000, L + 100_000, LOCAL_ISS - 5]) {
      assert.equal(h.conn.handleFragNeeded(seq, 800, h.now), false, `seq ${seq}`);
    }
    recvNothing(h);
    assert.equal(h.conn.sndMss, MSS);
    assert.equal(h.conn.counters.icmpIgnored, 4);
    assert.equal(h.conn.counters.pmtuChanges, 0);
  });

  it('ignores a next-hop MTU that is not lower than the segments', () => {
    const h = inFlight();
    assert.equal(h.conn.handleFragNeeded(L, 1500, h.now), true);
    assert.equal(h.conn.handleFragNeeded(L, MSS + 40, h.now), true);
    recvNothing(h);
    assert.equal(h.conn.sndMss, MSS);
    assert.equal(h.conn.counters.pmtuChanges, 0);
  });

  it('uses the plateau below the segment size when the router names no MTU (RFC 1191 5)', () => {
    const h = inFlight();
    h.conn.handleFragNeeded(L, 0, h.now);
    assert.equal(h.conn.pmtu, 1006);
    assert.equal(h.conn.sndMss, 966);
    recv(h, data(0, 966));
  });

  it('never goes below the floor: MSS 512, and DF is dropped instead', () => {
    const h = inFlight();
    h.conn.handleFragNeeded(L, 296, h.now);
    assert.equal(h.conn.sndMss, 512);
    assert.equal(h.conn.dontFragment, false);
    recv(h, data(0, 512));
  });

  it('at the floor already, a smaller MTU turns DF off and resends at once', () => {
    const h = inFlight();
    assert.equal(h.conn.handleFragNeeded(L, 552, h.now), true);
    assert.equal(h.conn.dontFragment, true);
    h.outbox.length = 0;
    assert.equal(h.conn.handleFragNeeded(L, 296, h.now), true);
    assert.equal(h.conn.dontFragment, false);
    assert.equal(h.conn.sndMss, 512);
    assert.equal(take(h).seq, L, 'resent without waiting for the RTO');
  });

  it('does nothing before the handshake completes', () => {
    const h = synSent();
    assert.equal(h.conn.handleFragNeeded(LOCAL_ISS, 576, h.now), false);
    assert.equal(h.conn.counters.icmpIgnored, 1);
    recvNothing(h);
  });
});

describe('tcp/connection: ICMP soft errors (RFC 1122 4.2.3.9)', () => {
  it('an ICMP error does not end the connection, but a later timeout reports it instead of ETIMEDOUT', () => {
    const h = established({ rtt: 100, config: { dataRetries: 2 } });
    h.conn.write(bytes(100), h.now);
    take(h);
    assert.equal(h.conn.handleIcmpSoftError(L, 'EHOSTUNREACH', 'ICMP destination unreachable (code 1) from 198.18.0.9'), true);
    assert.equal(h.state, 'ESTABLISHED');
    assert.equal(h.conn.counters.icmpSoftErrors, 1);
    tick(h, 60_000);
    assert.equal(h.state, 'CLOSED');
    assert.equal(h.conn.error?.code, 'EHOSTUNREACH');
    assert.match(h.conn.error?.message ?? '', /retransmission limit reached after ICMP destination unreachable \(code 1\)/);
  });

  it('progress forgets the soft error: a later timeout is ETIMEDOUT again', () => {
    const h = established({ rtt: 100, config: { dataRetries: 2 } });
    h.conn.write(bytes(100), h.now);
    take(h);
    h.conn.handleIcmpSoftError(L, 'EHOSTUNREACH', 'ICMP destination unreachable (code 1)');
    send(h, { ...SEND, ack: L + 100 });
    h.conn.write(bytes(100, 100), h.now);
    take(h);
    tick(h, 60_000);
    assert.equal(h.conn.error?.code, 'ETIMEDOUT');
  });

  it('an error quoting a sequence number not in flight is ignored: the timeout stays ETIMEDOUT', () => {
    const h = established({ rtt: 100, config: { dataRetries: 2 } });
    h.conn.write(bytes(100), h.now);
    take(h);
    assert.equal(h.conn.handleIcmpSoftError(L + 5000, 'EHOSTUNREACH', 'x'), false);
    tick(h, 60_000);
    assert.equal(h.conn.error?.code, 'ETIMEDOUT');
    assert.equal(h.conn.counters.icmpIgnored, 1);
  });
});
