import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { filter } from 'rxjs';
import { tcpPair, pattern, concat, B_IP } from './tcp-helpers.js';
import { advance } from './raw-peer.js';
import type { TcpSegmentIn } from '../../../streams/stack/tcp-layer.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';

const newScheduler = (): TestScheduler => new TestScheduler((a, b) => assert.deepStrictEqual(a, b));

describe('stack: TCP receiver holds a window of out-of-order data', () => {
  it('after one loss in a window of ~2,000 segments, every later segment is held (none dropped), one resend repairs it', () => {
    const ts = newScheduler();
    const big = { receiveBufferSize: 4 * 1024 * 1024, sendBufferSize: 4 * 1024 * 1024 };
    let dropped = 0;
    let dataSegments = 0;
    // b's TCP loses the 300th data segment from a, once.
    const loseOne = filter((s: TcpSegmentIn) => {
      if (s.segment.payload.length === 0) return true;
      dataSegments++;
      if (dataSegments === 300 && dropped === 0) {
        dropped++;
        return false;
      }
      return true;
    });
    const p = tcpPair({ scheduler: ts, wire: { latencyMs: 5 }, tcpA: big, tcpB: big, hooksB: { tcp: { up: loseOne } } });
    const got: Uint8Array[] = [];
    let server: TcpConnection | undefined;
    p.b.tcp.listen({ port: 9 }).subscribe((c) => {
      server = c;
      c.data$.subscribe((d) => got.push(d.slice()));
    });
    let client: TcpConnection | undefined;
    p.a.tcp.connect({ address: B_IP, port: 9 }).subscribe((c) => (client = c));
    advance(ts, 50);
    const data = pattern(4 * 1024 * 1024);
    client!.write(data);
    advance(ts, 5_000);
    assert.equal(dropped, 1);
    assert.deepEqual(concat(got), data, 'byte-exact');
    assert.equal(server!.counters.outOfOrderDropped, 0, 'the receiver kept everything after the hole');
    assert.ok(server!.counters.outOfOrderSegments > 256, `${server!.counters.outOfOrderSegments} segments were held out of order (more than the old fixed 256)`);
    assert.ok(client!.counters.retransmits <= 3, `${client!.counters.retransmits} retransmissions for one loss`);
    assert.equal(client!.counters.timeouts, 0);
    p.close();
  });
});
