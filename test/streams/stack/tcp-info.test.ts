import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { tcpPair, B_IP } from './tcp-helpers.js';
import { advance } from './raw-peer.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';

const newScheduler = (): TestScheduler => new TestScheduler((a, b) => assert.deepStrictEqual(a, b));

describe('stack: TcpConnection.info() (TCP_INFO)', () => {
  it('reports state, RTT, windows, segment sizes, negotiated options and totals as they change', () => {
    const ts = newScheduler();
    const p = tcpPair({ scheduler: ts, wire: { latencyMs: 5 } });
    let server: TcpConnection | undefined;
    let client: TcpConnection | undefined;
    p.b.tcp.listen({ port: 9 }).subscribe((c) => {
      server = c;
      c.data$.subscribe();
    });
    p.a.tcp.connect({ address: B_IP, port: 9 }).subscribe((c) => (client = c));
    advance(ts, 50);
    const before = client!.info();
    assert.equal(before.state, 'ESTABLISHED');
    assert.equal(before.options.timestamps, true);
    assert.equal(before.options.sack, true);
    assert.equal(before.options.ecn, false, "ECN 'passive' by default: the client does not ask");
    assert.equal(before.sendMss, 1448, 'MSS 1460 less the 12 bytes of the timestamp option');
    assert.equal(before.congestionControl, 'cubic');
    assert.equal(before.pmtu, 1500, 'the interface MTU while nothing lowered it');
    assert.equal(before.bytesAcked, 0);
    assert.ok(Object.isFrozen(before) && Object.isFrozen(before.options));

    client!.write(new Uint8Array(100_000));
    advance(ts, 500);
    const after = client!.info();
    assert.equal(after.bytesAcked, 100_000);
    assert.equal(after.unacked, 0);
    assert.ok(after.rttMs >= 10 && after.rttMs < 20, `RTT ${after.rttMs} ms on a 10 ms path`);
    assert.ok(after.minRttMs >= 10 && after.minRttMs < 11, `min RTT ${after.minRttMs} ms on a 10 ms path`);
    assert.ok(before.minRttMs >= 10, `min RTT ${before.minRttMs} ms from the handshake (ARP included)`);
    assert.ok(after.segmentsSent > before.segmentsSent);
    assert.equal(server!.info().bytesReceived, 100_000);
    assert.equal(before.bytesAcked, 0, 'a snapshot does not change afterwards');
    p.close();
  });
});
