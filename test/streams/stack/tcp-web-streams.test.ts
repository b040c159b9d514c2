/**
 * A TcpConnection as WHATWG streams (`readable`, `writable`) and as an async iterable, over two
 * stacks on the memory wire (real time: promises and web streams need the event loop).
 */
import assert from 'node:assert/strict';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { tcpPair, pattern, concat, codeOf, B_IP, type TcpPair } from './tcp-helpers.js';
import { waitFor } from '../../helpers/wait-for.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import type { TcpConfig } from '../../../src/tcp/config.js';

const BUF = 32_768;

/** A connected pair: `client` on a, `server` on b:7. */
async function connected(tcp: Partial<TcpConfig> = {}): Promise<{ p: TcpPair; client: TcpConnection; server: TcpConnection }> {
  const p = tcpPair({ tcpA: tcp, tcpB: tcp });
  const accepted = firstValueFrom(p.b.tcp.listen({ port: 7 }));
  const client = await firstValueFrom(p.a.tcp.connect({ address: B_IP, port: 7 }));
  return { p, client, server: await accepted };
}

/** Resolves when `conn`'s receive buffer holds at least `n` unread bytes. */
const unreadAtLeast = (conn: TcpConnection, n: number) =>
  waitFor(`${n} unread bytes`, () => (conn.core.readableLength >= n ? true : undefined));

describe('stack: TcpConnection as web streams and async iterable', () => {
  let p: TcpPair | undefined;
  afterEach(() => p?.close());

  describe('readable', () => {
    it('delivers every byte in order and closes after the peer FIN', async () => {
      const c = await connected();
      p = c.p;
      const data = pattern(300_000, 2);
      c.server.write(data);
      c.server.end();
      const chunks: Uint8Array[] = [];
      const reader = c.client.readable.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        chunks.push(value);
      }
      assert.deepEqual(concat(chunks), data);
      assert.equal(c.client.readable, c.client.readable, 'the same stream on every access');
    });

    it('is pull-based: while nobody reads, the bytes stay in the receive buffer and the window closes', async () => {
      const c = await connected({ receiveBufferSize: BUF, sendBufferSize: BUF, receiveBufferMax: BUF, sendBufferMax: BUF });
      p = c.p;
      const data = pattern(200_000, 3);
      c.server.write(data);
      const readable = c.client.readable; // claimed, not read
      await unreadAtLeast(c.client, BUF);
      // The sender learning of the closed window takes a round trip: time for the stream to have
      // pulled on its own, had it been going to.
      await waitFor('the server to see the window closed', () => (c.server.core.sndWnd === 0 ? true : undefined));
      assert.equal(c.client.core.readableLength, BUF, 'the stream took nothing on its own');
      assert.equal(c.client.core.rcvWnd, 0, 'the advertised window is closed');
      assert.ok(c.server.bufferedLength > 100_000, `the sender still holds ${c.server.bufferedLength}`);
      c.server.end();
      const chunks: Uint8Array[] = [];
      for await (const chunk of readable) chunks.push(chunk);
      assert.deepEqual(concat(chunks), data);
    });

    it('errors with ECONNRESET when the peer resets', async () => {
      const c = await connected();
      p = c.p;
      const reader = c.client.readable.getReader();
      const read = reader.read();
      c.server.destroy();
      await assert.rejects(read, (err: unknown) => codeOf(err) === 'ECONNRESET');
    });

    it('has the one reader slot: EBUSY while data$ reads; cancel() releases it and loses no byte', async () => {
      const c = await connected();
      p = c.p;
      const sub = c.client.data$.subscribe();
      assert.throws(() => c.client.readable, (err: unknown) => codeOf(err) === 'EBUSY');
      sub.unsubscribe();
      c.server.write(pattern(5000, 4));
      await unreadAtLeast(c.client, 5000);
      const reader = c.client.readable.getReader();
      const first = await reader.read();
      assert.ok(first.value !== undefined && first.value.length > 0);
      await reader.cancel();
      // data$ (a new reader) continues with the first byte the stream did not deliver.
      c.server.end();
      const rest = await lastValueFrom(c.client.data$.pipe(toArray()));
      assert.deepEqual(concat([first.value!, ...rest]), pattern(5000, 4));
      assert.equal(c.client.state, 'CLOSE-WAIT', 'cancel() did not close the connection');
    });
  });

  describe('writable', () => {
    it('write() resolves once the send buffer took the chunk; close() sends FIN', async () => {
      const c = await connected({ receiveBufferSize: BUF, sendBufferSize: BUF, receiveBufferMax: BUF, sendBufferMax: BUF });
      p = c.p;
      const writer = c.client.writable.getWriter();
      await writer.write(pattern(1000, 5));
      // 200 KB cannot fit while the server does not read: its write stays pending.
      let resolved = false;
      const big = writer.write(pattern(200_000, 6)).then(() => (resolved = true));
      await unreadAtLeast(c.server, BUF);
      await waitFor('the client to see the window closed', () => (c.client.core.sndWnd === 0 ? true : undefined));
      assert.equal(resolved, false, 'pending while the send buffer is full');
      const got = lastValueFrom(c.server.data$.pipe(toArray()));
      await big;
      await writer.close();
      assert.deepEqual(concat(await got), concat([pattern(1000, 5), pattern(200_000, 6)]), 'everything, then FIN');
      assert.equal(c.server.state, 'CLOSE-WAIT', 'the server got our FIN');
    });

    it('abort() resets the connection; writing to a closed connection rejects with EPIPE', async () => {
      const c = await connected();
      p = c.p;
      const failed = lastValueFrom(c.server.data$, { defaultValue: undefined }).catch((err: unknown) => codeOf(err));
      await c.client.writable.abort(new Error('stop'));
      assert.equal(await failed, 'ECONNRESET');
      const other = await connected();
      const writer = other.client.writable.getWriter();
      other.client.end();
      await assert.rejects(writer.write(pattern(10)), (err: unknown) => codeOf(err) === 'EPIPE');
      other.p.close();
    });
  });

  describe('pipeTo', () => {
    it('a.readable.pipeTo(b.writable) relays every byte and ends b after a\'s FIN', async () => {
      const c = await connected();
      p = c.p;
      // On b's stack: bytes from the client come back to it through the server's own writable.
      const data = pattern(200_000, 9);
      const relayed = c.server.readable.pipeTo(c.server.writable);
      c.client.write(data);
      c.client.end();
      const back = await lastValueFrom(c.client.data$.pipe(toArray()));
      await relayed;
      assert.deepEqual(concat(back), data);
    });
  });

  describe('for await (const chunk of conn)', () => {
    it('iterates every byte and ends after the peer FIN', async () => {
      const c = await connected();
      p = c.p;
      const data = pattern(250_000, 7);
      c.server.write(data);
      c.server.end();
      const chunks: Uint8Array[] = [];
      for await (const chunk of c.client) chunks.push(chunk);
      assert.deepEqual(concat(chunks), data);
    });

    it('pulls one chunk per iteration: a slow loop body closes the window; break keeps the connection and the rest', async () => {
      const c = await connected({ receiveBufferSize: BUF, sendBufferSize: BUF, receiveBufferMax: BUF, sendBufferMax: BUF });
      p = c.p;
      const data = pattern(150_000, 8);
      c.server.write(data);
      const got: Uint8Array[] = [];
      for await (const chunk of c.client) {
        got.push(chunk);
        // The first iteration waits: the peer fills our buffer and the window closes.
        await unreadAtLeast(c.client, BUF);
        assert.equal(c.client.core.rcvWnd, 0);
        if (got.length === 3) break;
      }
      assert.notEqual(c.client.state, 'CLOSED');
      c.server.end();
      const rest = await lastValueFrom(c.client.data$.pipe(toArray()));
      assert.deepEqual(concat([...got, ...rest]), data, 'nothing lost or repeated across readers');
    });

    it('throws ECONNRESET when the peer resets; EBUSY when another reader holds the slot', async () => {
      const c = await connected();
      p = c.p;
      // The loop is waiting for its first chunk when the reset comes.
      const iterating = (async () => {
        for await (const _ of c.client);
      })();
      c.server.destroy();
      await assert.rejects(iterating, (err: unknown) => codeOf(err) === 'ECONNRESET');
      const other = await connected();
      other.client.data$.subscribe();
      await assert.rejects(other.client[Symbol.asyncIterator]().next(), (err: unknown) => codeOf(err) === 'EBUSY');
      other.p.close();
    });
  });
});
