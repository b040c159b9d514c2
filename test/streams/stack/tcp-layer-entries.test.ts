/**
 * The TCP layer's live connections (its entries, a list kept on the connections): in the order
 * made, a closed one taken out wherever it is, all destroyed when the stack closes.
 */
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import { advance } from './raw-peer.js';
import { B_IP, tcpPair } from './tcp-helpers.js';

describe('stack/tcp layer: live connections', () => {
  it('lists them oldest first, drops a released one from anywhere, destroys the rest on close', () => {
    const ts = new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
    const p = tcpPair({ scheduler: ts, wire: { latencyMs: 1 } });
    p.b.tcp.listen({ port: 80 }).subscribe();
    const clients: TcpConnection[] = [];
    for (let i = 0; i < 4; i++) p.a.tcp.connect({ address: B_IP, port: 80 }).subscribe((c) => clients.push(c));
    advance(ts, 50);
    assert.equal(clients.length, 4);
    assert.deepEqual(p.a.tcpLayer.connections(), clients, 'in the order made');
    clients[1].destroy(); // RST: released at once
    clients[3].destroy();
    assert.deepEqual(p.a.tcpLayer.connections(), [clients[0], clients[2]]);
    assert.equal(clients[1].ownerEntry, undefined, 'a released connection keeps no entry');
    const fifth: TcpConnection[] = [];
    p.a.tcp.connect({ address: B_IP, port: 80 }).subscribe((c) => fifth.push(c));
    advance(ts, 50);
    assert.deepEqual(p.a.tcpLayer.connections(), [clients[0], clients[2], fifth[0]]);
    assert.equal(p.a.tcpLayer.connectionCounters().segmentsSent > 0, true);
    p.a.close();
    assert.deepEqual(p.a.tcpLayer.connections(), []);
    for (const c of [clients[0], clients[2], fifth[0]]) assert.equal(c.state, 'CLOSED');
    p.close();
  });
});
