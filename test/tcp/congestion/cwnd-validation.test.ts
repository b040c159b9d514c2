import assert from 'node:assert/strict';
import { NewReno } from '../../../src/tcp/congestion/newreno.js';
import { Cubic } from '../../../src/tcp/congestion/cubic.js';
import { HyStartPlusPlus } from '../../../src/tcp/congestion/hystart.js';
import { resolveTcpConfig } from '../../../src/tcp/config.js';
import { TcpConnectionCore, type TcpHost } from '../../../src/tcp/connection.js';
import type { TcpRepr } from '../../../src/wire/tcp.js';

const MSS = 1000;

/**
 * cwnd grows only while the sender uses it (RFC 7661; Linux's tcp_is_cwnd_limited): a sender
 * held back by the peer's window or by its writer must not raise cwnd without bound.
 */
describe('congestion control: cwnd grows only when cwnd limits the sender', () => {
  for (const [name, make] of [['NewReno', () => new NewReno(10)], ['CUBIC', () => new Cubic(10, new HyStartPlusPlus())]] as const) {
    it(`${name}, slow start: grows while the flight is at least half of cwnd, not below`, () => {
      const cc = make();
      cc.init(MSS, false, 0);
      const start = cc.cwnd;
      // A quarter of the window in flight: the writer or the peer's window is the limit.
      for (let i = 1; i <= 20; i++) cc.onAck(MSS, 1 + i * MSS, start / 4, 1 + 40 * MSS, i);
      assert.equal(cc.cwnd, start, 'no growth when the window was not used');
      // The whole window in flight: slow start as usual.
      cc.onAck(MSS, 1 + 21 * MSS, cc.cwnd, 1 + 40 * MSS, 21);
      assert.ok(cc.cwnd > start, `grew to ${cc.cwnd}`);
    });
  }

  it('NewReno, congestion avoidance: a flight a segment short of cwnd does not count toward growth', () => {
    const cc = new NewReno(10);
    cc.init(MSS, false, 0);
    cc.ssthresh = cc.cwnd; // congestion avoidance from the start
    const start = cc.cwnd;
    for (let i = 1; i <= 100; i++) cc.onAck(MSS, 1 + i * MSS, start - MSS, 1 + 200 * MSS, i);
    assert.equal(cc.cwnd, start);
    for (let i = 101; i <= 100 + start / MSS; i++) cc.onAck(MSS, 1 + i * MSS, start, 1 + 300 * MSS, i);
    assert.equal(cc.cwnd, start + MSS, 'one segment after a window of ACKs while cwnd-limited');
  });

  for (const cc of ['newreno', 'cubic'] as const) {
    it(`${cc}: a bulk sender behind a 64 KiB receive window keeps cwnd near twice that window (two cores, 10 ms RTT)`, () => {
      const queue: { at: number; to: TcpConnectionCore; seg: TcpRepr }[] = [];
      let now = 0;
      const payload = new Uint8Array(64 * 1024);
      let sent = 0;
      const total = 16 * 1024 * 1024;
      const pump = (): void => {
        while (sent < total && a.writableLength > 0) sent += a.write(payload, now);
      };
      const to = (peer: () => TcpConnectionCore) => (_c: TcpConnectionCore, seg: TcpRepr): void => {
        queue.push({ at: now + 5, to: peer(), seg: { ...seg, payload: seg.payload.slice() } });
      };
      const aHost: TcpHost = { send: to(() => b), onEstablished: pump, onWritable: pump };
      const bHost: TcpHost = { send: to(() => a), onReadable: () => { while (b.read(Infinity, now) !== undefined); } };
      const base = { congestionControl: cc, delayedAckTimeout: 40 };
      const a = new TcpConnectionCore({ localAddr: 1, localPort: 1000, remoteAddr: 2, remotePort: 2000, iss: 1, host: aHost, config: resolveTcpConfig({ ...base, sendBufferSize: 4 << 20, sendBufferMax: 4 << 20 }) });
      const b = new TcpConnectionCore({ localAddr: 2, localPort: 2000, remoteAddr: 1, remotePort: 1000, iss: 9, host: bHost, config: resolveTcpConfig({ ...base, receiveBufferSize: 65536, receiveBufferMax: 65536 }) });
      b.listen();
      a.connect(now);
      while (now < 20_000 && sent < total) {
        let next = queue.length > 0 ? queue[0].at : Infinity;
        for (const d of [a.nextDeadline(), b.nextDeadline()]) if (d !== undefined && d < next) next = d;
        if (next === Infinity) break;
        now = next;
        while (queue.length > 0 && queue[0].at <= now) {
          const item = queue.shift()!;
          item.to.handleSegment(item.seg, now);
        }
        if ((a.nextDeadline() ?? Infinity) <= now) a.handleTimer(now);
        if ((b.nextDeadline() ?? Infinity) <= now) b.handleTimer(now);
      }
      assert.ok(sent >= 8 * 1024 * 1024, `the transfer ran (${sent} bytes written)`);
      assert.ok(a.cwnd <= 2 * 65536 + 4 * 1460, `cwnd ${a.cwnd} after ${sent} bytes behind a 64 KiB window`);
    });
  }
});
