/**
 * Stack-wide TCP limits between two stacks on the memory wire, in virtual time: connections per
 * stack and per listener, the TIME-WAIT cap, buffer memory (soft and hard marks) and the cap on
 * writes that wait for the send buffer. Each limit is checked through its counter in stats()
 * and through what the user sees (an error code, a transfer that still completes byte-exact).
 */
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { tcpPair, pattern, concat, codeOf, B_IP, type TcpPair } from './tcp-helpers.js';
import { advance, stat } from './raw-peer.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';

const KiB = 1024;

function scheduler(): TestScheduler {
  return new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
}

/** Connects a to b:port; the connection once established (or the error). */
function connect(p: TcpPair, port: number): { conn?: TcpConnection; error?: unknown } {
  const out: { conn?: TcpConnection; error?: unknown } = {};
  p.a.tcp.connect({ address: B_IP, port }).subscribe({ next: (c) => (out.conn = c), error: (e) => (out.error = e) });
  return out;
}

describe('stack: TCP limits', () => {
  let p: TcpPair | undefined;
  afterEach(() => {
    p?.close();
    p = undefined;
  });

  it('maxConnections: connect() beyond it fails with EMFILE; a SYN beyond it is dropped and counted', () => {
    const ts = scheduler();
    p = tcpPair({ scheduler: ts, tcpA: { maxConnections: 3 }, tcpB: { maxConnections: 2 } });
    const accepted: TcpConnection[] = [];
    p.b.tcp.listen({ port: 7 }).subscribe((c) => accepted.push(c));
    const tries = [connect(p, 7), connect(p, 7), connect(p, 7)];
    advance(ts, 100);
    assert.equal(accepted.length, 2, 'b holds two connections');
    assert.equal(stat(p.b, 'tcp', 'connections'), 2);
    assert.ok(stat(p.b, 'tcp', 'drops', 'connectionLimit') >= 1, 'the third SYN was dropped');
    assert.equal(tries[2].conn, undefined, 'the third connect waits (its SYN will be resent)');
    // a holds three (two established, one in SYN-SENT): a fourth connect() is refused at once.
    const fourth = connect(p, 7);
    assert.equal(codeOf(fourth.error), 'EMFILE');
    assert.equal(stat(p.a, 'tcp', 'connectRefused'), 1);
    // Once b lets one go, the resent SYN (1 s RTO) gets through.
    accepted[0].destroy();
    advance(ts, 1500);
    assert.ok(tries[2].conn !== undefined, 'the third connection is established after a slot freed');
    assert.equal(stat(p.b, 'tcp', 'connections'), 2);
  });

  it('maxConnections per listener: SYNs beyond it are dropped (listenerLimit), another listener is not affected', () => {
    const ts = scheduler();
    p = tcpPair({ scheduler: ts, tcpB: { maxConnectionsPerListener: 1 } });
    const on7: TcpConnection[] = [];
    const on8: TcpConnection[] = [];
    p.b.tcp.listen({ port: 7 }).subscribe((c) => on7.push(c));
    p.b.tcp.listen({ port: 8, maxConnections: 2 }).subscribe((c) => on8.push(c));
    connect(p, 7);
    const second = connect(p, 7);
    connect(p, 8);
    connect(p, 8);
    advance(ts, 100);
    assert.equal(on7.length, 1);
    assert.equal(on8.length, 2, 'the listen() option overrides the stack default');
    assert.ok(stat(p.b, 'tcp', 'drops', 'listenerLimit') >= 1);
    assert.equal(second.conn, undefined);
    // The first connection ends (a closes, b answers): its slot frees and the resent SYN is served.
    on7[0].data$.subscribe({ complete: () => on7[0].end() });
    const first = p.a.tcpLayer.connections().find((c) => c.remotePort === 7 && c.state === 'ESTABLISHED');
    first?.end();
    advance(ts, 1500);
    assert.equal(on7.length, 2, 'the second connection was accepted once the first finished');
    assert.ok(second.conn !== undefined);
  });

  it('buffer memory is accounted per connection whichever connection accounted last, and a released one stops counting', () => {
    const ts = scheduler();
    p = tcpPair({ scheduler: ts });
    const accepted: TcpConnection[] = [];
    p.b.tcp.listen({ port: 7 }).subscribe((c) => accepted.push(c));
    const one = connect(p, 7);
    const two = connect(p, 7);
    advance(ts, 100);
    assert.equal(accepted.length, 2);
    // Unread data waits in b's receive buffers: 100 + 30 bytes on one, 70 on two, interleaved.
    one.conn!.write(pattern(100));
    advance(ts, 500);
    two.conn!.write(pattern(70));
    advance(ts, 500);
    one.conn!.write(pattern(30));
    advance(ts, 500);
    assert.equal(stat(p.b, 'tcp', 'memoryBytes'), 200);
    const first = accepted.find((c) => c.remotePort === one.conn!.localPort)!;
    first.destroy();
    advance(ts, 500);
    assert.equal(stat(p.b, 'tcp', 'memoryBytes'), 70, 'the destroyed connection holds nothing');
    two.conn!.write(pattern(5));
    advance(ts, 500);
    assert.equal(stat(p.b, 'tcp', 'memoryBytes'), 75);
  });

  it('maxTimeWait: the oldest TIME-WAIT entry is recycled when the table is full', () => {
    const ts = scheduler();
    p = tcpPair({ scheduler: ts, tcpA: { maxTimeWait: 2 } });
    p.b.tcp.listen({ port: 7 }).subscribe((c) => c.data$.subscribe({ complete: () => c.end() }));
    const conns = [connect(p, 7), connect(p, 7), connect(p, 7)];
    advance(ts, 10);
    const [c1, c2, c3] = conns.map((c) => c.conn as TcpConnection);
    c1.end();
    advance(ts, 10);
    c2.end();
    advance(ts, 10);
    assert.deepEqual([c1.state, c2.state], ['TIME-WAIT', 'TIME-WAIT']);
    assert.equal(stat(p.a, 'tcp', 'timeWaitConnections'), 2);
    c3.end();
    advance(ts, 10);
    assert.equal(c1.state, 'CLOSED', 'the oldest TIME-WAIT was recycled');
    assert.deepEqual([c2.state, c3.state], ['TIME-WAIT', 'TIME-WAIT']);
    assert.equal(stat(p.a, 'tcp', 'timeWaitConnections'), 2);
    assert.equal(stat(p.a, 'tcp', 'timeWaitRecycled'), 1);
    assert.equal(stat(p.a, 'tcp', 'connections'), 0, 'TIME-WAIT does not count against maxConnections');
    assert.equal(p.a.tcpLayer.connections().length, 2);
    // 2*MSL later the table is empty.
    advance(ts, 61_000);
    assert.equal(stat(p.a, 'tcp', 'timeWaitConnections'), 0);
  });

  it('maxTimeWait 0: a connection that would enter TIME-WAIT closes at once', () => {
    const ts = scheduler();
    p = tcpPair({ scheduler: ts, tcpA: { maxTimeWait: 0 } });
    p.b.tcp.listen({ port: 7 }).subscribe((c) => c.data$.subscribe({ complete: () => c.end() }));
    const c = connect(p, 7);
    advance(ts, 10);
    c.conn?.end();
    advance(ts, 10);
    assert.equal(c.conn?.state, 'CLOSED');
    assert.equal(stat(p.a, 'tcp', 'timeWaitRecycled'), 1);
    assert.equal(p.a.tcpLayer.connections().length, 0);
  });

  it('memorySoftLimit: above it auto-tuning grows no buffer (counted); the transfer completes byte-exact', () => {
    const run = (soft: number | undefined) => {
      const ts = new TestScheduler(() => undefined);
      const tcp = { receiveBufferSize: 64 * KiB, sendBufferSize: 64 * KiB, ...(soft === undefined ? {} : { memorySoftLimit: soft }) };
      const pair = tcpPair({ scheduler: ts, wire: { latencyMs: 10, bandwidthBitsPerSecond: 1e9, queueLimit: 4096 }, tcpA: tcp, tcpB: tcp });
      try {
        const data = pattern(4 * 1024 * KiB, 3);
        const got: Uint8Array[] = [];
        let receiver: TcpConnection | undefined;
        pair.b.tcp.listen({ port: 9 }).subscribe((c) => {
          receiver = c;
          c.data$.subscribe((chunk) => got.push(chunk.slice()));
        });
        let sender: TcpConnection | undefined;
        pair.a.tcp.connect({ address: B_IP, port: 9 }).subscribe((c) => {
          sender = c;
          let offset = 0;
          const pump = (): void => {
            while (offset < data.length) {
              const piece = data.subarray(offset, offset + 64 * KiB);
              offset += piece.length;
              if (!c.write(piece)) return;
            }
          };
          c.drain$.subscribe(pump);
          pump();
        });
        for (let t = 0; t < 60_000 && got.reduce((n, c) => n + c.length, 0) < data.length; t += 100) advance(ts, 100);
        assert.deepEqual(concat(got), data);
        return { rcv: receiver!.counters, snd: sender!.counters };
      } finally {
        pair.close();
      }
    };
    const free = run(undefined);
    assert.ok(free.rcv.receiveBufferGrown > 0 && free.snd.sendBufferGrown > 0, 'without pressure both buffers grow');
    const pressed = run(0);
    assert.equal(pressed.rcv.receiveBufferGrown, 0);
    assert.equal(pressed.snd.sendBufferGrown, 0);
    assert.ok(pressed.rcv.bufferGrowthRefused > 0 && pressed.snd.bufferGrowthRefused > 0);
  });

  it('memoryHardLimit: new data is refused above it (counted), nothing acknowledged is lost, held writes go on later', () => {
    const ts = scheduler();
    const HARD = 64 * KiB;
    p = tcpPair({ scheduler: ts, tcpB: { memorySoftLimit: HARD, memoryHardLimit: HARD } });
    const accepted: TcpConnection[] = [];
    p.b.tcp.listen({ port: 9 }).subscribe((c) => accepted.push(c));
    const c = connect(p, 9);
    advance(ts, 10);
    const data = pattern(512 * KiB, 5);
    let offset = 0;
    const pump = (): void => {
      while (offset < data.length) {
        const piece = data.subarray(offset, offset + 16 * KiB);
        offset += piece.length;
        if (!c.conn!.write(piece)) return;
      }
    };
    c.conn!.drain$.subscribe(pump);
    pump();
    // b does not read yet: its receive buffer (256 KiB) would take more, the hard mark does not.
    advance(ts, 2000);
    const held = stat(p.b, 'tcp', 'memoryBytes');
    assert.ok(held >= HARD, `b holds at least the hard mark (${held})`);
    assert.ok(held < HARD + 2 * 1460, `b holds no more than one segment beyond the hard mark (${held})`);
    assert.ok(stat(p.b, 'tcp', 'drops', 'memoryLimit') > 0);
    // A write on b above the hard mark waits (held), and goes out once memory is free.
    const server = accepted[0];
    assert.equal(server.write(pattern(1000, 9)), false, 'write() is held above the hard mark');
    assert.equal(stat(p.b, 'tcp', 'writesHeld'), 1);
    const back: Uint8Array[] = [];
    c.conn!.data$.subscribe((chunk) => back.push(chunk.slice()));
    const got: Uint8Array[] = [];
    server.data$.subscribe((chunk) => got.push(chunk.slice()));
    for (let t = 0; t < 60_000 && got.reduce((n, x) => n + x.length, 0) < data.length; t += 100) advance(ts, 100);
    assert.deepEqual(concat(got), data, 'every byte arrived, in order');
    assert.deepEqual(concat(back), pattern(1000, 9), 'the held write went out');
    assert.ok(stat(p.b, 'tcp', 'memoryPeakBytes') < HARD + 2 * 1460);
  });

  it('maxPendingWrite: a write past it throws ENOBUFS and queues nothing; the connection stays usable', () => {
    const ts = scheduler();
    p = tcpPair({ scheduler: ts, tcpA: { sendBufferSize: 16 * KiB, sendBufferMax: 16 * KiB, maxPendingWrite: 32 * KiB } });
    const got: Uint8Array[] = [];
    p.b.tcp.listen({ port: 9 }).subscribe((s) => s.data$.subscribe((chunk) => got.push(chunk.slice())));
    const c = connect(p, 9);
    advance(ts, 10);
    const conn = c.conn!;
    const written: Uint8Array[] = [];
    // Ignores write() === false, as a careless user does: 16 KiB fit the buffer, 32 KiB may wait.
    let refused: unknown;
    for (let i = 0; i < 10; i++) {
      const piece = pattern(8 * KiB, 20 + i);
      try {
        conn.write(piece);
        written.push(piece);
      } catch (err) {
        refused = err;
        break;
      }
    }
    assert.equal(codeOf(refused), 'ENOBUFS');
    assert.equal(written.length, 6, '16 KiB in the send buffer plus 32 KiB waiting');
    assert.equal(stat(p.a, 'tcp', 'writesRefused'), 1);
    // The refused write queued nothing; after the rest drains, writing works again.
    advance(ts, 100);
    const after = pattern(4 * KiB, 99);
    assert.equal(conn.write(after), true);
    written.push(after);
    advance(ts, 100);
    assert.deepEqual(concat(got), concat(written));
  });
});
