import assert from 'node:assert/strict';
import { DEFAULT_TCP_CONFIG, resolveTcpConfig, windowScaleFor, type TcpConfig } from '../../src/tcp/config.js';
import type { TcpConnectionCore, TcpHost } from '../../src/tcp/connection.js';
import { IsnGenerator } from '../../src/tcp/isn.js';
import { TcpListener } from '../../src/tcp/listener.js';
import { seqDiff } from '../../src/tcp/seq.js';
import { cookieOptionsFromEcr, cookieTimestamp } from '../../src/tcp/syn-cookie.js';
import { timestampAt, timestampOffset } from '../../src/tcp/timestamps.js';
import { TcpFlags, type TcpRepr } from '../../src/wire/tcp.js';
import { bytes, LOCAL_ADDR, LOCAL_PORT, REMOTE_ADDR, SEND, SYN } from './harness.js';

const RCV_BUF = 1 << 20; // window scale 5
const PEER_TS = 123_456;

class Fixture {
  readonly sent: TcpRepr[] = [];
  readonly listener: TcpListener;

  constructor(config: Partial<TcpConfig> = {}) {
    const host: TcpHost = { send: (_c, seg) => this.sent.push({ ...seg, payload: seg.payload.slice() }) };
    this.listener = new TcpListener({
      localAddr: 0,
      localPort: LOCAL_PORT,
      maxHalfOpen: 0, // every SYN gets a cookie
      config: resolveTcpConfig({ mss: 1460, receiveBufferSize: RCV_BUF, ...config }),
      host,
      isn: new IsnGenerator(new Uint8Array(16).fill(1)),
      cookieSecret: new Uint8Array(16).fill(2),
    });
  }

  /** Sends a SYN with `options`, returns the cookie SYN-ACK. */
  syn(options: Partial<TcpRepr>, now: number): TcpRepr {
    const v = this.listener.handleSegment({ ...SEND, flags: SYN, seq: 1000, ack: 0, mss: 1460, ...options }, REMOTE_ADDR, LOCAL_ADDR, now);
    assert.equal(v.kind, 'reply');
    return (v as { seg: TcpRepr }).seg;
  }

  /** The handshake's ACK; returns the connection or the verdict kind when none was created. */
  ack(synAck: TcpRepr, options: Partial<TcpRepr>, now: number): TcpConnectionCore | string {
    const v = this.listener.handleSegment({ ...SEND, seq: 1001, ack: (synAck.seq + 1) >>> 0, window: 100, ...options }, REMOTE_ADDR, LOCAL_ADDR, now);
    return v.kind === 'created' ? v.conn : v.kind;
  }
}

describe('tcp/syn-cookie: SYN options kept in the timestamp (as Linux)', () => {
  it('round trip: window scale, SACK-permitted and ECN in the low 6 bits, never ahead of the clock', () => {
    for (const tsNow of [0, 63, 64, 1_000_037, 0xffff_ffff, 5]) {
      for (const windowScale of [undefined, 0, 7, 14]) {
        for (const sackPermitted of [false, true]) {
          for (const ecn of [false, true]) {
            const ts = cookieTimestamp(tsNow, { windowScale, sackPermitted, ecn });
            const back = seqDiff(tsNow, ts);
            assert.ok(back >= 0 && back < 64, `TSval ${ts} is at most 63 below the clock ${tsNow}`);
            assert.deepEqual(cookieOptionsFromEcr(ts), { windowScale, sackPermitted, ecn });
          }
        }
      }
    }
  });

  it('a cookie connection keeps window scaling, SACK and timestamps', () => {
    const f = new Fixture();
    const synAck = f.syn({ windowScale: 7, sackPermitted: true, timestamp: { tsVal: PEER_TS, tsEcr: 0 } }, 1000);
    // Chosen for the auto-tuning cap, not the initial buffer: the scale cannot change later.
    assert.equal(synAck.windowScale, windowScaleFor(DEFAULT_TCP_CONFIG.receiveBufferMax));
    assert.equal(synAck.sackPermitted, true);
    const cookieTs = synAck.timestamp?.tsVal as number;
    assert.equal(synAck.timestamp?.tsEcr, PEER_TS);
    assert.deepEqual(cookieOptionsFromEcr(cookieTs), { windowScale: 7, sackPermitted: true, ecn: false });
    const conn = f.ack(synAck, { timestamp: { tsVal: PEER_TS + 20, tsEcr: cookieTs } }, 1020);
    assert.ok(typeof conn !== 'string', `connection created (${String(conn)})`);
    assert.equal(conn.state, 'ESTABLISHED');
    assert.equal(conn.sndWndScale, 7);
    assert.equal(conn.rcvWndScale, windowScaleFor(DEFAULT_TCP_CONFIG.receiveBufferMax));
    assert.equal(conn.sndWnd, 100 << 7, "the ACK's window was scaled");
    assert.equal(conn.timestampsNegotiated, true);
    assert.equal(conn.sackNegotiated, true);
    assert.equal(conn.srtt, 0, "no RTT sample from the cookie's TSval (its low bits are options, not time)");
    // Later segments: TSvals from the same clock, at or after the cookie's; TSecr the ACK's TSval.
    conn.write(bytes(10), 1030);
    const seg = f.sent.at(-1) as TcpRepr;
    assert.equal(seg.payload.length, 10);
    assert.equal(seg.timestamp?.tsVal, timestampAt(timestampOffset(conn.iss), 1030));
    assert.ok(seqDiff(seg.timestamp?.tsVal as number, cookieTs) > 0);
    assert.equal(seg.timestamp?.tsEcr, PEER_TS + 20);
    assert.equal(seg.windowScale, undefined);
  });

  it('without timestamps in the SYN, the cookie SYN-ACK has no window scale or SACK, and the connection runs without', () => {
    const f = new Fixture();
    const synAck = f.syn({ windowScale: 7, sackPermitted: true }, 1000);
    assert.equal(synAck.timestamp, undefined);
    assert.equal(synAck.windowScale, undefined);
    assert.equal(synAck.sackPermitted, undefined);
    const conn = f.ack(synAck, {}, 1020);
    assert.ok(typeof conn !== 'string');
    assert.equal(conn.sndWndScale, 0);
    assert.equal(conn.sackNegotiated, false);
    assert.equal(conn.timestampsNegotiated, false);
  });

  it('the peer without window scaling: the bits say so and our SYN-ACK offers none', () => {
    const f = new Fixture();
    const synAck = f.syn({ sackPermitted: true, timestamp: { tsVal: PEER_TS, tsEcr: 0 } }, 1000);
    assert.equal(synAck.windowScale, undefined);
    const conn = f.ack(synAck, { timestamp: { tsVal: PEER_TS + 1, tsEcr: synAck.timestamp?.tsVal as number } }, 1010);
    assert.ok(typeof conn !== 'string');
    assert.equal(conn.sndWndScale, 0);
    assert.equal(conn.rcvWndScale, 0);
    assert.equal(conn.sackNegotiated, true);
  });

  it('refuses an ACK whose TSecr is from the future or claims an option we do not offer', () => {
    const f = new Fixture({ sack: false });
    const synAck = f.syn({ sackPermitted: true, timestamp: { tsVal: PEER_TS, tsEcr: 0 } }, 1000);
    assert.equal(synAck.sackPermitted, undefined, 'SACK is off here');
    const ts = synAck.timestamp?.tsVal as number;
    assert.equal(f.ack(synAck, { timestamp: { tsVal: PEER_TS, tsEcr: (ts + 5000) >>> 0 } }, 1010), 'reply', 'future TSecr: RST');
    assert.equal(f.ack(synAck, { timestamp: { tsVal: PEER_TS, tsEcr: ((((ts & ~63) | 0x1f) >>> 0) - 64) >>> 0 } }, 1010), 'reply', 'SACK bit while SACK is off: RST');
    assert.equal(f.listener.counters.synCookiesRejected, 2);
    const conn = f.ack(synAck, { timestamp: { tsVal: PEER_TS, tsEcr: ts } }, 1010);
    assert.ok(typeof conn !== 'string');
    assert.equal(conn.sackNegotiated, false);
  });

  it('ECN survives the cookie: an ECN-setup SYN gets ECE on the cookie SYN-ACK and the connection sends ECT', () => {
    const { ECE, CWR } = TcpFlags;
    const f = new Fixture();
    const synAck = f.syn({ flags: SYN | ECE | CWR, timestamp: { tsVal: PEER_TS, tsEcr: 0 } }, 1000);
    assert.equal(synAck.flags, SYN | TcpFlags.ACK | ECE, 'RFC 3168 6.1.1: the SYN-ACK answers with ECE');
    const cookieTs = synAck.timestamp?.tsVal as number;
    assert.equal(cookieOptionsFromEcr(cookieTs).ecn, true);
    const conn = f.ack(synAck, { timestamp: { tsVal: PEER_TS + 20, tsEcr: cookieTs } }, 1020);
    assert.ok(typeof conn !== 'string', `connection created (${String(conn)})`);
    assert.equal(conn.ecnActive, true);
    // Without an ECN-setup SYN, or with ECN off, nothing is negotiated.
    const plain = new Fixture();
    const plainAck = plain.syn({ timestamp: { tsVal: PEER_TS, tsEcr: 0 } }, 1000);
    assert.equal(plainAck.flags, SYN | TcpFlags.ACK);
    const c2 = plain.ack(plainAck, { timestamp: { tsVal: PEER_TS + 20, tsEcr: plainAck.timestamp?.tsVal as number } }, 1020);
    assert.ok(typeof c2 !== 'string' && !c2.ecnActive);
    const off = new Fixture({ ecn: 'off' });
    assert.equal(off.syn({ flags: SYN | ECE | CWR, timestamp: { tsVal: PEER_TS, tsEcr: 0 } }, 1000).flags, SYN | TcpFlags.ACK);
    // An ACK claiming the ECN bit while ECN is off: not one of our cookies.
    const forged = cookieTimestamp(timestampAt(timestampOffset((synAck.seq) >>> 0), 1000), { windowScale: undefined, sackPermitted: false, ecn: true });
    assert.equal(off.ack(synAck, { timestamp: { tsVal: PEER_TS + 20, tsEcr: forged } }, 1020), 'reply');
  });
});
