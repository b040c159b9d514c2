/**
 * How to test a service built on rx-netstack with rx-netstack/testing: the same service three
 * ways, no root and no TAP device needed. `npm test` runs this file.
 *
 * 1. real time: two stacks on a memory wire, a client on one and the service on the other;
 * 2. virtual time: the same on a TestScheduler with 10 ms of wire latency, checked with marbles;
 * 3. on the wire: a raw peer speaks TCP to the service frame by frame.
 */
import assert from 'node:assert/strict';
import { firstValueFrom, map, mergeMap, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { TcpConnection } from '../../streams/index.js';
import { advance, createStackAndPeer, createStackPair, isTcp, nextFrame, waitFor } from '../../streams/testing/index.js';
import { shoutService } from './shout-service.js';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('examples/testing: testing the shout service', () => {
  it('real time: a client on another stack gets its words back in capitals', async () => {
    const { a: client, b: server, close } = createStackPair();
    const service = shoutService(server, 7000);
    try {
      const conn = await firstValueFrom(client.tcp.connect({ address: '198.18.0.2', port: 7000 }));
      const reply = waitFor(conn.data$, () => true, { timeoutMs: 2000, what: 'a reply' });
      conn.write(bytes('hello'));
      assert.equal(text(await reply), 'HELLO');
    } finally {
      service.unsubscribe();
      close();
    }
  });

  it('virtual time: with 10 ms each way, the reply comes one round trip after the handshake', () => {
    const scheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
    scheduler.run(({ expectObservable }) => {
      const { a: client, b: server, close } = createStackPair({ scheduler, wire: { latencyMs: 10 } });
      const service = shoutService(server, 7000);
      // b's own ARP announcement, sent when it starts, reaches a at 10 ms and resolves a's query;
      // the handshake takes one round trip (30 ms), the request and its reply another (50 ms).
      const reply$ = client.tcp.connect({ address: '198.18.0.2', port: 7000 }).pipe(
        mergeMap((conn: TcpConnection) => {
          conn.write(bytes('hi'));
          return conn.data$;
        }),
        map(text),
        take(1),
      );
      expectObservable(reply$).toBe('50ms (r|)', { r: 'HI' });
      scheduler.schedule(() => {
        service.unsubscribe();
        close();
      }, 1000);
    });
  });

  it('on the wire: the reply to a data segment is one PSH|ACK segment that carries the capitals', async () => {
    const scheduler = new TestScheduler(assert.deepStrictEqual);
    const { stack, peer, close } = createStackAndPeer({ scheduler });
    const service = shoutService(stack, 7000);
    try {
      peer.sendTcp({ srcPort: 50000, dstPort: 7000, seq: 100, flags: 'SYN', mss: 1460 });
      advance(scheduler, 0);
      const synAck = await nextFrame(peer, isTcp({ flags: 'SYN|ACK', dstPort: 50000 }));
      const ack = synAck.tcp.seq + 1;
      peer.sendTcp({ srcPort: 50000, dstPort: 7000, seq: 101, ack, flags: 'ACK' });
      peer.sendTcp({ srcPort: 50000, dstPort: 7000, seq: 101, ack, flags: 'PSH|ACK', payload: 'quiet please' });
      advance(scheduler, 0);
      const reply = await nextFrame(peer, isTcp({ srcPort: 7000, payload: 'QUIET PLEASE' }));
      assert.equal(reply.tcp.flagNames, 'PSH|ACK');
      assert.equal(reply.tcp.seq, ack, 'the first byte the service sends');
      assert.equal(reply.tcp.ack, 101 + 'quiet please'.length, 'it acknowledges the request with the reply');
    } finally {
      service.unsubscribe();
      close();
    }
  });
});
