/**
 * The stack-wide limit of UDP receive queues: datagrams that wait for a reader in any socket
 * count against `udp.maxQueuedBytes` / `udp.maxQueuedDatagrams` together; beyond them they are
 * dropped and counted (`drops.stackQueueFull`), and reading frees the room again.
 */
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import type { ReceivedDatagram } from '../../../streams/stack/udp-endpoint.js';
import { advance, stat } from './raw-peer.js';

function pair(ts: TestScheduler, udp: { maxQueuedBytes?: number; maxQueuedDatagrams?: number }): { a: Stack; b: Stack } {
  const [la, lb] = createMemoryWire({ scheduler: ts });
  const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }] }, { scheduler: ts });
  const b = createStack({ interfaces: [{ name: 'eth0', link: lb, ipv4: ['198.18.0.2/24'] }], udp }, { scheduler: ts });
  return { a, b };
}

const bytes = (n: number, seed: number): Uint8Array => new Uint8Array(n).fill(seed);

describe('stack: UDP queue memory per stack', () => {
  it('queues of all sockets together stay within maxQueuedBytes; the excess is dropped and counted', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const { a, b } = pair(ts, { maxQueuedBytes: 1000 });
    try {
      const s1 = b.udp.bind({ port: 1001 });
      const s2 = b.udp.bind({ port: 1002 });
      const out = a.udp.bind();
      for (let i = 0; i < 5; i++) {
        out.send(bytes(300, i), { address: '198.18.0.2', port: 1001 });
        out.send(bytes(300, 10 + i), { address: '198.18.0.2', port: 1002 });
      }
      advance(ts, 10);
      // Each socket's own limit (212,992 bytes) is far away: only the stack's is reached.
      assert.equal(stat(b, 'udp', 'queuedBytes'), 900);
      assert.equal(stat(b, 'udp', 'queuedDatagrams'), 3);
      assert.equal(stat(b, 'udp', 'drops', 'stackQueueFull'), 7);
      assert.equal(s1.stats().queued + s2.stats().queued, 3);
      // Reading frees the room: the gauges follow, and new datagrams queue again.
      const got: ReceivedDatagram[] = [];
      s1.datagrams$.subscribe((d) => got.push(d));
      s2.datagrams$.subscribe((d) => got.push(d));
      assert.equal(got.length, 3);
      assert.equal(stat(b, 'udp', 'queuedBytes'), 0);
      s1.close();
      s2.close();
      const s3 = b.udp.bind({ port: 1003 });
      out.send(bytes(300, 99), { address: '198.18.0.2', port: 1003 });
      advance(ts, 10);
      assert.equal(s3.stats().queued, 1);
      s3.close();
      assert.equal(stat(b, 'udp', 'queuedDatagrams'), 0, 'closing a socket gives its queue back');
    } finally {
      a.close();
      b.close();
    }
  });

  it('maxQueuedDatagrams bounds a flood of empty datagrams', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const { a, b } = pair(ts, { maxQueuedDatagrams: 10 });
    try {
      b.udp.bind({ port: 1001 });
      const out = a.udp.bind();
      for (let i = 0; i < 50; i++) out.send(new Uint8Array(0), { address: '198.18.0.2', port: 1001 });
      advance(ts, 10);
      assert.equal(stat(b, 'udp', 'queuedDatagrams'), 10);
      assert.equal(stat(b, 'udp', 'drops', 'stackQueueFull'), 40);
    } finally {
      a.close();
      b.close();
    }
  });
});
