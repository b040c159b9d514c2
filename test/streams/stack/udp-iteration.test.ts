/** `for await (const d of socket)` on UDP sockets, over two stacks on the memory wire. */
import assert from 'node:assert/strict';
import { firstValueFrom, take, toArray } from 'rxjs';
import { memoryPair } from './memory-pair.js';
import { stat } from './raw-peer.js';
import { waitFor } from '../../helpers/wait-for.js';
import type { UdpSocket } from '../../../streams/stack/udp-socket.js';

const B = '198.18.0.2';
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (d: { payload: Uint8Array }): string => new TextDecoder().decode(d.payload);
/** Resolves once `s` has received `n` datagrams (delivered, queued or dropped). */
const received = (s: UdpSocket, n: number) => waitFor(`${n} datagrams`, () => (s.stats().rxDatagrams >= n ? true : undefined));

describe('stack: UDP sockets as async iterables', () => {
  let p: ReturnType<typeof memoryPair> | undefined;
  afterEach(() => p?.close());

  it('yields the datagrams in order, those queued before the loop first, and ends on close()', async () => {
    p = memoryPair();
    const s = p.b.udp.bind({ port: 7000 });
    const client = p.a.udp.bind();
    client.send(enc('early'), { address: B, port: 7000 });
    await received(s, 1);
    const got: string[] = [];
    for await (const d of s) {
      got.push(`${text(d)} from ${d.address}:${d.port}`);
      if (got.length === 1) for (const m of ['a', 'b', 'c']) client.send(enc(m), { address: B, port: 7000 });
      if (got.length === 4) s.close();
    }
    const port = client.address().port;
    assert.deepEqual(got, ['early', 'a', 'b', 'c'].map((m) => `${m} from 198.18.0.1:${port}`));
  });

  it('is bounded by the receive queue while the loop body runs: the rest is dropped and counted', async () => {
    p = memoryPair();
    const s = p.b.udp.bind({ port: 7000, receiveQueue: { maxDatagrams: 4 } });
    const client = p.a.udp.bind();
    client.send(enc('start'), { address: B, port: 7000 });
    const got: string[] = [];
    for await (const d of s) {
      got.push(text(d));
      if (got.length === 1) {
        // A slow body: ten datagrams arrive while nobody pulls.
        for (let i = 0; i < 10; i++) client.send(enc(String(i)), { address: B, port: 7000 });
        await received(s, 11);
        assert.equal(s.stats().queued, 4);
        assert.equal(s.stats().queueFull, 6);
        assert.equal(stat(p.b, 'udp', 'drops', 'queueFull'), 6);
      }
      if (got.length === 5) break;
    }
    assert.deepEqual(got, ['start', '0', '1', '2', '3'], 'the first four of the ten were kept');
  }).timeout(10_000);

  it('break does not close the socket; datagrams$ subscribers still get every datagram meanwhile', async () => {
    p = memoryPair();
    const s = p.b.udp.bind({ port: 7000 });
    const client = p.a.udp.bind();
    const live = firstValueFrom(s.datagrams$.pipe(take(2), toArray()));
    const iterator = s[Symbol.asyncIterator]();
    const first = iterator.next();
    client.send(enc('x'), { address: B, port: 7000 });
    client.send(enc('y'), { address: B, port: 7000 });
    assert.equal(text((await first).value!), 'x');
    assert.deepEqual((await live).map(text), ['x', 'y'], 'the subscriber got both');
    assert.equal(text((await iterator.next()).value!), 'y', 'and the iterator its own copy');
    await iterator.return!();
    assert.equal(s.closed, false);
    assert.deepEqual(await iterator.next(), { value: undefined, done: true });
    // With no iterator left, datagrams go to the subscribers only (nothing queued behind them).
    const next = firstValueFrom(s.datagrams$);
    client.send(enc('z'), { address: B, port: 7000 });
    assert.equal(text(await next), 'z');
    assert.equal(s.stats().queued, 0);
  });

  it('a next() waiting when the socket closes ends the loop', async () => {
    p = memoryPair();
    const s = p.b.udp.bind({ port: 7000 });
    const pending = s[Symbol.asyncIterator]().next();
    s.close();
    assert.deepEqual(await pending, { value: undefined, done: true });
  });
});
