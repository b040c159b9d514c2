import assert from 'node:assert/strict';
import { ChallengeAckLimiter } from '../../src/tcp/challenge-ack-limit.js';
import { resolveTcpConfig } from '../../src/tcp/config.js';
import { ACK, established, LOCAL_ISS, RECV, recv, recvNothing, REMOTE_ISS, RST, send, SEND, SYN, tick } from './harness.js';

describe('tcp/challenge-ack-limit: RFC 5961 7', () => {
  it('a second\'s budget lies between half and 1.5 times the limit, drawn afresh each second', () => {
    const low = new ChallengeAckLimiter(10, () => 0);
    let n = 0;
    while (low.take(500)) n++;
    assert.equal(n, 5, 'random 0: half the limit');
    const high = new ChallengeAckLimiter(10, () => 0.999);
    n = 0;
    while (high.take(500)) n++;
    assert.equal(n, 14, 'random near 1: half + limit - 1');
    assert.equal(high.take(1999), true, 'a new second, a new budget');
  });

  it('connections of one stack share the budget: beyond it challenge ACKs are suppressed and counted', () => {
    const limiter = new ChallengeAckLimiter(2, () => 0); // one per second
    const a = established({ challengeAcks: limiter });
    const b = established({ challengeAcks: limiter });
    send(a, { ...SEND, flags: RST, seq: REMOTE_ISS + 100 });
    recv(a, { ...RECV });
    send(b, { ...SEND, flags: SYN, seq: REMOTE_ISS + 500, ack: 0 });
    recvNothing(b, 'the budget was spent by the other connection');
    send(a, { ...SEND, flags: RST, seq: REMOTE_ISS + 100 });
    recvNothing(a);
    assert.equal(a.conn.counters.challengeAcks, 1);
    assert.equal(a.conn.counters.challengeAcksSuppressed, 1);
    assert.equal(b.conn.counters.challengeAcks, 0);
    assert.equal(b.conn.counters.challengeAcksSuppressed, 1);
    assert.equal(a.state, 'ESTABLISHED');
    assert.equal(b.state, 'ESTABLISHED');
    // The next second brings a new budget.
    tick(b, 1000);
    send(b, { ...SEND, flags: SYN, seq: REMOTE_ISS + 500, ack: 0 });
    recv(b, { ...RECV });
  });

  it('the ACK answering an ACK outside the send window (RFC 5961 5.2) draws from the same budget', () => {
    const limiter = new ChallengeAckLimiter(2, () => 0);
    const h = established({ challengeAcks: limiter });
    send(h, { ...SEND, flags: ACK, ack: LOCAL_ISS + 5000 });
    recv(h, { ...RECV });
    send(h, { ...SEND, flags: ACK, ack: LOCAL_ISS + 5000 });
    recvNothing(h);
    assert.equal(h.conn.counters.challengeAcksSuppressed, 1);
  });

  it('without a limiter (a bare core) every challenge ACK goes out', () => {
    const h = established();
    for (let i = 0; i < 5; i++) {
      send(h, { ...SEND, flags: RST, seq: REMOTE_ISS + 100 });
      recv(h, { ...RECV });
    }
    assert.equal(h.conn.counters.challengeAcksSuppressed, 0);
  });

  it('tcp.challengeAckLimit defaults to 1000 and must be a positive integer', () => {
    assert.equal(resolveTcpConfig({}).challengeAckLimit, 1000);
    assert.throws(() => resolveTcpConfig({ challengeAckLimit: 0 }), /challengeAckLimit/);
  });
});
