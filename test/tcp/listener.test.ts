import assert from 'node:assert/strict';
import { resolveTcpConfig } from '../../src/tcp/config.js';
import type { TcpConnectionCore, TcpHost } from '../../src/tcp/connection.js';
import { IsnGenerator } from '../../src/tcp/isn.js';
import { TcpListener, type TcpListenerOptions } from '../../src/tcp/listener.js';
import { MSS_TABLE, SynCookies } from '../../src/tcp/syn-cookie.js';
import type { TcpRepr } from '../../src/wire/tcp.js';
import { ACK, bytes, FIN, LOCAL_ADDR, LOCAL_PORT, REMOTE_ADDR, REMOTE_PORT, RST, SEND, SYN, TEST_CONFIG } from './harness.js';

const SECRET = Uint8Array.from({ length: 16 }, (_, i) => i * 3);
const COOKIE_SECRET = Uint8Array.from({ length: 16 }, (_, i) => 200 - i);
const CONFIG = resolveTcpConfig(TEST_CONFIG);

class Fixture {
  readonly sent: { conn: TcpConnectionCore; seg: TcpRepr }[] = [];
  readonly closed: TcpConnectionCore[] = [];
  acceptable = 0;
  readonly listener: TcpListener;
  readonly isn = new IsnGenerator(SECRET);

  constructor(options: Partial<TcpListenerOptions> = {}) {
    const host: TcpHost = {
      send: (conn, seg) => this.sent.push({ conn, seg: { ...seg, payload: seg.payload.slice() } }),
      onClosed: conn => this.closed.push(conn),
    };
    this.listener = new TcpListener({
      localAddr: 0,
      localPort: LOCAL_PORT,
      config: CONFIG,
      host,
      isn: this.isn,
      cookieSecret: COOKIE_SECRET,
      onAcceptable: () => this.acceptable++,
      ...options,
    });
  }

  /** A SYN from remote port `port`. */
  syn(port: number, now = 0, seq = 1000): ReturnType<TcpListener['handleSegment']> {
    return this.listener.handleSegment({ ...SEND, srcPort: port, flags: SYN, seq, ack: 0, mss: 1460 }, REMOTE_ADDR, LOCAL_ADDR, now);
  }
}

function created(v: ReturnType<TcpListener['handleSegment']>): TcpConnectionCore {
  assert.equal(v.kind, 'created');
  return (v as { conn: TcpConnectionCore }).conn;
}

describe('tcp/listener', () => {
  it('a SYN creates a half-open connection that answers SYN-ACK; its ACK puts it in the accept queue', () => {
    const f = new Fixture();
    const conn = created(f.syn(REMOTE_PORT, 5));
    assert.equal(conn.state, 'SYN-RECEIVED');
    assert.equal(conn.localAddr, LOCAL_ADDR);
    assert.equal(conn.remotePort, REMOTE_PORT);
    assert.equal(conn.iss, f.isn.isn(LOCAL_ADDR, LOCAL_PORT, REMOTE_ADDR, REMOTE_PORT, 5), 'RFC 6528 ISN');
    assert.equal(f.sent.length, 1);
    assert.equal(f.sent[0].seg.flags, SYN | ACK);
    assert.equal(f.listener.halfOpenCount, 1);
    // The wiring now routes the tuple's segments to the connection itself.
    conn.handleSegment({ ...SEND, seq: 1001, ack: conn.iss + 1 }, 10);
    assert.equal(conn.state, 'ESTABLISHED');
    assert.equal(f.listener.halfOpenCount, 0);
    assert.equal(f.listener.acceptQueueLength, 1);
    assert.equal(f.acceptable, 1);
    assert.equal(f.listener.accept(), conn);
    assert.equal(f.listener.accept(), undefined);
    assert.equal(conn.parent, undefined);
  });

  it('drops SYNs when the half-open queue is full and cookies are off', () => {
    const f = new Fixture({ maxHalfOpen: 2, synCookies: false });
    created(f.syn(1));
    created(f.syn(2));
    assert.deepEqual(f.syn(3), { kind: 'dropped', reason: 'halfOpenFull' });
    assert.equal(f.listener.counters.synDropped, 1);
    assert.equal(f.listener.halfOpenCount, 2);
  });

  it('drops SYNs while the accept queue is full', () => {
    const f = new Fixture({ backlog: 1 });
    const conn = created(f.syn(1));
    conn.handleSegment({ ...SEND, srcPort: 1, seq: 1001, ack: conn.iss + 1 }, 0);
    assert.deepEqual(f.syn(2), { kind: 'dropped', reason: 'acceptQueueFull' });
    assert.equal(f.listener.counters.listenOverflows, 1);
  });

  it('resets a connection that completes while the accept queue is full', () => {
    const f = new Fixture({ backlog: 1 });
    const a = created(f.syn(1));
    const b = created(f.syn(2));
    a.handleSegment({ ...SEND, srcPort: 1, seq: 1001, ack: a.iss + 1 }, 0);
    b.handleSegment({ ...SEND, srcPort: 2, seq: 1001, ack: b.iss + 1 }, 0);
    assert.equal(b.state, 'CLOSED');
    assert.equal(f.sent.at(-1)?.seg.flags, RST | ACK);
    assert.equal(f.listener.counters.acceptQueueOverflows, 1);
    assert.equal(f.listener.acceptQueueLength, 1);
  });

  it('forgets half-open connections that are reset or time out', () => {
    const f = new Fixture({ config: resolveTcpConfig({ ...TEST_CONFIG, synAckRetries: 1 }) });
    const a = created(f.syn(1));
    const b = created(f.syn(2));
    a.handleSegment({ ...SEND, srcPort: 1, flags: RST, seq: 1001, ack: 0 }, 0);
    assert.equal(f.listener.halfOpenCount, 1);
    b.handleTimer(b.nextDeadline() as number);
    b.handleTimer(b.nextDeadline() as number);
    assert.equal(b.state, 'CLOSED');
    assert.equal(f.listener.halfOpenCount, 0);
    assert.equal(f.listener.counters.halfOpenFailed, 2);
    assert.deepEqual(f.closed, [a, b], 'the wiring hears of both to release their tuples');
  });

  it('answers an ACK for no connection with RST when it is no valid cookie, and ignores RST', () => {
    const f = new Fixture();
    const v = f.listener.handleSegment({ ...SEND, seq: 77, ack: 12345 }, REMOTE_ADDR, LOCAL_ADDR, 0);
    assert.equal(v.kind, 'reply');
    assert.equal((v as { seg: TcpRepr }).seg.flags, RST);
    assert.equal((v as { seg: TcpRepr }).seg.seq, 12345);
    // No cookie was ever sent: the ACK is not even checked as one (see 'are honoured only within...').
    assert.equal(f.listener.counters.synCookiesRejected, 0);
    assert.deepEqual(f.listener.handleSegment({ ...SEND, flags: RST }, REMOTE_ADDR, LOCAL_ADDR, 0), { kind: 'dropped', reason: 'rst' });
  });

  describe('SYN cookies', () => {
    it('answer statelessly when the half-open queue is full; the ACK creates an established connection', () => {
      const f = new Fixture({ maxHalfOpen: 1 });
      created(f.syn(1));
      const v = f.syn(2, 1000, 5000);
      assert.equal(v.kind, 'reply');
      const synAck = (v as { seg: TcpRepr }).seg;
      assert.equal(synAck.flags, SYN | ACK);
      assert.equal(synAck.ack, 5001);
      assert.equal(synAck.dstPort, 2);
      assert.equal(synAck.mss, CONFIG.mss);
      assert.equal(f.listener.halfOpenCount, 1, 'no state kept for the cookie');
      // The client's ACK, with data and FIN.
      const ack = { ...SEND, srcPort: 2, flags: ACK | FIN, seq: 5001, ack: synAck.seq + 1, payload: bytes(100) };
      const conn = created(f.listener.handleSegment(ack, REMOTE_ADDR, LOCAL_ADDR, 3000));
      assert.equal(conn.state, 'CLOSE-WAIT');
      assert.equal(conn.sndMss, Math.min(1460, CONFIG.mss));
      assert.deepEqual([...(conn.read() as Uint8Array)], [...bytes(100)]);
      assert.equal(f.listener.acceptQueueLength, 1);
      assert.equal(f.listener.counters.synCookiesAccepted, 1);
      const last = f.sent.at(-1)?.seg;
      assert.equal(last?.ack, 5102, 'the connection acknowledged data and FIN');
    });

    it('refuse a forged or expired cookie', () => {
      const f = new Fixture({ maxHalfOpen: 0 });
      const synAck = (f.syn(2, 0, 5000) as { seg: TcpRepr }).seg;
      const ack = { ...SEND, srcPort: 2, seq: 5001, ack: (synAck.seq + 2) >>> 0 };
      assert.equal(f.listener.handleSegment(ack, REMOTE_ADDR, LOCAL_ADDR, 0).kind, 'reply', 'forged: RST');
      const late = { ...ack, ack: synAck.seq + 1 };
      f.syn(9, 4 * 64_000 - 1000, 9000); // still overflowing then: cookies are checked
      assert.equal(f.listener.handleSegment(late, REMOTE_ADDR, LOCAL_ADDR, 4 * 64_000).kind, 'reply', 'expired: RST');
      assert.equal(f.listener.counters.synCookiesRejected, 2);
      assert.equal(created(f.listener.handleSegment(late, REMOTE_ADDR, LOCAL_ADDR, 64_000)).state, 'ESTABLISHED', 'one period old is fine');
    });

    it('are honoured only within two minutes of the listener\'s last cookie (no recent overflow: RST)', () => {
      const f = new Fixture({ maxHalfOpen: 0 });
      const synAck = (f.syn(2, 0, 5000) as { seg: TcpRepr }).seg;
      const ack = { ...SEND, srcPort: 2, seq: 5001, ack: synAck.seq + 1 };
      // A listener with the same secret that never overflowed: the valid cookie is a stray ACK.
      const calm = new Fixture({ maxHalfOpen: 10 });
      const v = calm.listener.handleSegment(ack, REMOTE_ADDR, LOCAL_ADDR, 1000);
      assert.equal(v.kind, 'reply');
      assert.equal((v as { seg: TcpRepr }).seg.flags & RST, RST);
      assert.equal(calm.listener.counters.synCookiesAccepted, 0);
      // The listener that sent it: within two minutes, accepted; the same ACK replayed after two
      // more minutes of calm (the cookie itself still young enough) is not.
      assert.equal(created(f.listener.handleSegment(ack, REMOTE_ADDR, LOCAL_ADDR, 60_000)).state, 'ESTABLISHED');
      const replay = new Fixture({ maxHalfOpen: 0 });
      const synAck2 = (replay.syn(3, 0, 7000) as { seg: TcpRepr }).seg;
      const ack2 = { ...SEND, srcPort: 3, seq: 7001, ack: synAck2.seq + 1 };
      assert.equal(replay.listener.handleSegment(ack2, REMOTE_ADDR, LOCAL_ADDR, 120_001).kind, 'reply');
      assert.equal(replay.listener.counters.synCookiesAccepted, 0);
    });

    it('encode the largest table MSS not above the peer MSS, and bind the 4-tuple and ISN', () => {
      const c = new SynCookies(COOKIE_SECRET);
      for (const [peer, expected] of [[1460, 1460], [1459, 1440], [9000, 8960], [100, 536]] as const) {
        const cookie = c.encode(1, 2, 3, 4, 999, peer, 0);
        assert.equal(c.decode(1, 2, 3, 4, 999, cookie, 0), expected);
      }
      const cookie = c.encode(1, 2, 3, 4, 999, 1460, 0);
      assert.equal(c.decode(1, 2, 3, 5, 999, cookie, 0), undefined);
      assert.equal(c.decode(1, 2, 3, 4, 998, cookie, 0), undefined);
      assert.ok(MSS_TABLE.length === 8);
    });
  });

  it('counts the six summed counters into `totals` as well, as they happen (a layer\'s counters: no sync pass)', () => {
    const totals = { synReceived: 0, synCookiesSent: 0, synCookiesAccepted: 0, synCookiesRejected: 0, halfOpenFailed: 0, acceptQueueOverflows: 0, unrelated: 7 };
    const f = new Fixture({ maxHalfOpen: 1, backlog: 1, totals });
    const a = created(f.syn(1));
    const synAck = (f.syn(2, 0, 5000) as { seg: TcpRepr }).seg; // a cookie: the half-open queue is full
    assert.equal(f.listener.handleSegment({ ...SEND, srcPort: 2, seq: 5001, ack: (synAck.seq + 2) >>> 0 }, REMOTE_ADDR, LOCAL_ADDR, 0).kind, 'reply', 'forged cookie');
    created(f.listener.handleSegment({ ...SEND, srcPort: 2, seq: 5001, ack: synAck.seq + 1 }, REMOTE_ADDR, LOCAL_ADDR, 0));
    a.handleSegment({ ...SEND, srcPort: 1, flags: RST, seq: 1001, ack: 0 }, 0);
    const expected = { synReceived: 2, synCookiesSent: 1, synCookiesAccepted: 1, synCookiesRejected: 1, halfOpenFailed: 1, acceptQueueOverflows: 0 };
    const c = f.listener.counters;
    assert.deepEqual({ synReceived: c.synReceived, synCookiesSent: c.synCookiesSent, synCookiesAccepted: c.synCookiesAccepted, synCookiesRejected: c.synCookiesRejected, halfOpenFailed: c.halfOpenFailed, acceptQueueOverflows: c.acceptQueueOverflows }, expected);
    assert.deepEqual(totals, { ...expected, unrelated: 7 });
  });

  it('close resets pending connections and answers later SYNs with RST', () => {
    const f = new Fixture();
    const a = created(f.syn(1));
    const b = created(f.syn(2));
    b.handleSegment({ ...SEND, srcPort: 2, seq: 1001, ack: b.iss + 1 }, 0);
    f.sent.length = 0;
    f.listener.close(0);
    assert.equal(a.state, 'CLOSED');
    assert.equal(b.state, 'CLOSED');
    assert.deepEqual(f.sent.map(s => s.seg.flags), [RST | ACK, RST | ACK]);
    const v = f.syn(3);
    assert.equal(v.kind, 'reply');
    assert.equal((v as { seg: TcpRepr }).seg.flags, RST | ACK);
    assert.equal(f.listener.acceptQueueLength, 0);
  });
});
