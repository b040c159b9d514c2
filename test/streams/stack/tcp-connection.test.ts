import assert from 'node:assert/strict';
import { take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { tcpPair, tcpInputTap, tcpOutputTap, pattern, concat, codeOf, B_IP, type SeenSegment, type TcpPairOptions } from './tcp-helpers.js';
import { advance, stat } from './raw-peer.js';
import { TcpFlags } from '../../../src/wire/tcp.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';

/** A reader of `data$` that records what it got and how it ended. */
interface Collected {
  chunks: Uint8Array[];
  completed: boolean;
  error: string | undefined;
  bytes(): Uint8Array;
}

function collect(conn: TcpConnection): Collected & { stop(): void } {
  const c: Collected = {
    chunks: [],
    completed: false,
    error: undefined,
    bytes: () => concat(c.chunks),
  };
  const sub = conn.data$.subscribe({
    next: (chunk) => c.chunks.push(chunk.slice()),
    complete: () => (c.completed = true),
    error: (err: unknown) => (c.error = codeOf(err)),
  });
  return Object.assign(c, { stop: () => sub.unsubscribe() });
}

/**
 * A connected pair in virtual time: `client` on a (198.18.0.1), `server` on b (198.18.0.2:7),
 * nobody reading either side yet.
 */
function connected(opts: Omit<TcpPairOptions, 'scheduler'> | ((ts: TestScheduler) => Omit<TcpPairOptions, 'scheduler'>) = {}) {
  const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
  const p = tcpPair({ scheduler: ts, ...(typeof opts === 'function' ? opts(ts) : opts) });
  let server: TcpConnection | undefined;
  let client: TcpConnection | undefined;
  p.b.tcp.listen({ port: 7 }).subscribe((c) => (server = c));
  p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => (client = c));
  advance(ts, 1);
  assert.ok(client && server, 'connected');
  return { ts, p, client, server };
}

describe('stack: a TCP connection as the user holds it', () => {
  describe('data$', () => {
    it('keeps bytes that arrive before anyone subscribes (the window shrinks), and a late reader gets them all', () => {
      const toA: SeenSegment[] = [];
      const { ts, p, client, server } = connected((ts) => ({ tcpB: { receiveBufferSize: 65_536 }, hooksA: { transport: { up: tcpInputTap(ts, toA) } } }));
      const payload = pattern(40_000, 5);
      client.write(payload);
      advance(ts, 100);
      assert.equal(server.core.readableLength, 40_000, 'all of it waits in the receive buffer');
      const lastWindow = toA.at(-1)?.window ?? -1;
      // No window scaling needed below 64 KiB: the raw field is bytes.
      assert.ok(lastWindow <= 65_536 - 40_000, `advertised ${lastWindow}`);
      const r = collect(server);
      advance(ts, 100);
      assert.deepEqual(r.bytes(), payload);
      assert.equal(server.core.readableLength, 0);
      assert.ok(stat(p.b, 'tcpConnections', 'windowUpdates') >= 1, 'reading reopened the window');
      p.close();
    });

    it('has one reader at a time: a second subscriber gets EBUSY and the first reads on', () => {
      const { ts, p, client, server } = connected();
      const first = collect(server);
      const second = collect(server);
      assert.equal(second.error, 'EBUSY');
      assert.throws(() => server.toSocket(), (e: unknown) => codeOf(e) === 'EBUSY');
      client.write(pattern(3000, 1));
      advance(ts, 100);
      assert.deepEqual(first.bytes(), pattern(3000, 1));
      assert.equal(first.error, undefined);
      p.close();
    });

    it('continues where the last reader stopped: unsubscribe, bytes pile up, resubscribe; nothing lost or repeated', () => {
      const { ts, p, client, server } = connected();
      const one = pattern(5000, 1);
      const two = pattern(7000, 2);
      // take(1): the first reader leaves after one chunk; the rest of `one` stays queued.
      const firsts: Uint8Array[] = [];
      server.data$.pipe(take(1)).subscribe((c) => firsts.push(c.slice()));
      client.write(one);
      advance(ts, 100);
      assert.equal(firsts.length, 1);
      const r1 = collect(server);
      advance(ts, 1);
      r1.stop();
      client.write(two);
      advance(ts, 100);
      assert.equal(server.core.readableLength, two.length, 'unread while nobody subscribes');
      const r2 = collect(server);
      advance(ts, 1);
      assert.deepEqual(concat([...firsts, r1.bytes(), r2.bytes()]), concat([one, two]));
      p.close();
    });

    it('completes on the peer FIN after the last byte; a reader subscribing after that gets what is left, then completes', () => {
      const { ts, p, client, server } = connected();
      client.write(pattern(2000, 9));
      client.end();
      advance(ts, 100);
      assert.equal(server.state, 'CLOSE-WAIT');
      const late = collect(server);
      assert.deepEqual(late.bytes(), pattern(2000, 9));
      assert.ok(late.completed);
      const later = collect(server);
      assert.equal(later.chunks.length, 0);
      assert.ok(later.completed, 'a reader after the end completes at once');
      p.close();
    });

    it('errors with ECONNRESET when the peer aborts; closed$ says why; state$ ends in CLOSED; later readers get the error too', () => {
      const { ts, p, client, server } = connected();
      const r = collect(server);
      const states: string[] = [];
      server.state$.subscribe({ next: (s) => states.push(s), complete: () => states.push('|') });
      const closed: string[] = [];
      server.closed$.subscribe((err) => closed.push(err === undefined ? 'clean' : codeOf(err)));
      client.write(pattern(100, 1));
      advance(ts, 10);
      client.destroy();
      advance(ts, 10);
      assert.deepEqual(r.bytes(), pattern(100, 1), 'bytes before the RST were delivered');
      assert.equal(r.error, 'ECONNRESET');
      assert.deepEqual(states, ['ESTABLISHED', 'CLOSED', '|']);
      const late: string[] = [];
      server.state$.subscribe({ next: (s) => late.push(s), complete: () => late.push('|') });
      assert.deepEqual(late, ['CLOSED', '|'], 'a late state$ subscriber');
      assert.deepEqual(closed, ['ECONNRESET']);
      assert.equal(collect(server).error, 'ECONNRESET');
      assert.equal(stat(p.b, 'tcp', 'connectionsFailed'), 1);
      assert.equal(stat(p.b, 'tcpConnections', 'rstReceived'), 1);
      p.close();
    });

    it('destroy() completes our own data$ and sends RST', () => {
      const sent: SeenSegment[] = [];
      const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
      const p = tcpPair({ scheduler: ts, hooksA: { network: { down: tcpOutputTap(ts, sent) } } });
      p.b.tcp.listen({ port: 7 }).subscribe((c) => c.data$.subscribe({ error: () => undefined }));
      let client: TcpConnection | undefined;
      p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => (client = c));
      advance(ts, 1);
      assert.ok(client);
      const r = collect(client);
      client.destroy();
      assert.ok(r.completed);
      assert.equal(client.state, 'CLOSED');
      assert.ok((sent.at(-1)?.flags ?? 0) & TcpFlags.RST, 'the last segment a sent is a RST');
      advance(ts, 1);
      assert.equal(stat(p.b, 'tcp', 'activeConnections'), 0, 'b closed on the RST');
      p.close();
    });
  });

  describe('writing', () => {
    it('write() after end() or destroy() throws EPIPE; write$ errors with EPIPE', () => {
      const { ts, p, client } = connected();
      client.end();
      assert.throws(() => client.write(new Uint8Array(1)), (e: unknown) => codeOf(e) === 'EPIPE');
      let err = '';
      client.write$(new Uint8Array(1)).subscribe({ error: (e: unknown) => (err = codeOf(e)) });
      assert.equal(err, 'EPIPE');
      advance(ts, 10);
      const second = connected();
      second.client.destroy();
      assert.throws(() => second.client.write(new Uint8Array(1)), (e: unknown) => codeOf(e) === 'EPIPE');
      p.close();
      second.p.close();
    });

    it('write() returns false when the send buffer is full, keeps the rest in order, and drain$ follows once it went in', () => {
      const { ts, p, client, server } = connected({ tcpA: { sendBufferSize: 16_384, sendBufferMax: 16_384 }, tcpB: { receiveBufferSize: 16_384, receiveBufferMax: 16_384 } });
      const payload = pattern(100_000, 4);
      // Nobody reads on b: its window closes after 16 KiB, a's send buffer fills after 16 KiB more.
      assert.equal(client.write(payload), false);
      assert.ok(client.bufferedLength === payload.length);
      let drains = 0;
      client.drain$.subscribe(() => drains++);
      advance(ts, 1000);
      assert.equal(drains, 0, 'nothing drains while the peer does not read');
      assert.equal(server.core.readableLength, 16_384);
      const r = collect(server);
      advance(ts, 5000);
      assert.equal(drains, 1);
      assert.deepEqual(r.bytes(), payload);
      p.close();
    });

    it('end() half-closes: the peer reads to the end, and we go on reading what it sends afterwards', () => {
      const { ts, p, client, server } = connected();
      const fromClient = collect(server);
      const fromServer = collect(client);
      client.write(pattern(1000, 1));
      client.end();
      advance(ts, 10);
      assert.ok(fromClient.completed);
      assert.equal(client.state, 'FIN-WAIT-2');
      server.write(pattern(50_000, 2));
      advance(ts, 100);
      assert.deepEqual(fromServer.bytes(), pattern(50_000, 2));
      assert.equal(fromServer.completed, false);
      server.end();
      advance(ts, 10);
      assert.ok(fromServer.completed);
      assert.equal(client.state, 'TIME-WAIT');
      p.close();
    });

    it('close() is close(2): FIN when everything was read; RST when bytes were left unread or arrive later', () => {
      // Everything read: a clean FIN.
      let c = connected();
      const fromClient = collect(c.server);
      const fromServer = collect(c.client);
      c.client.write(pattern(10, 1));
      c.client.close();
      advance(c.ts, 10);
      assert.ok(fromClient.completed, 'the peer saw a clean end');
      assert.equal(c.client.state, 'FIN-WAIT-2');
      // ... and bytes arriving after close() reset the connection (nobody would read them).
      c.server.write(pattern(10, 2));
      advance(c.ts, 10);
      assert.equal(c.client.state, 'CLOSED');
      assert.equal(fromServer.completed, true, 'our reader ends when the connection closes');
      assert.equal(stat(c.p.b, 'tcpConnections', 'rstReceived'), 1);
      c.p.close();

      // Bytes left unread: RST at once, and the peer hears ECONNRESET.
      c = connected();
      const peer = collect(c.server);
      c.server.write(pattern(100, 3));
      advance(c.ts, 10);
      assert.equal(c.client.core.readableLength, 100);
      c.client.close();
      advance(c.ts, 10);
      assert.equal(c.client.state, 'CLOSED');
      assert.equal(peer.error, 'ECONNRESET');
      c.p.close();
    });

    it('setKeepAlive(true, ms): probes after ms idle; when the peer has gone silent, ETIMEDOUT after the probes', () => {
      let vanished = false;
      const c = connected((ts) => ({
        tcpA: { keepaliveInterval: 1000, keepaliveProbes: 3 },
        hooksB: { transport: { up: tcpInputTap(ts, [], () => vanished) } },
      }));
      // b vanishes once connected: whatever a sends from now on is lost.
      vanished = true;
      const r = collect(c.client);
      c.client.setKeepAlive(true, 5000);
      advance(c.ts, 4990);
      assert.equal(stat(c.p.a, 'tcpConnections', 'keepaliveProbes'), 0, 'idle for less than 5 s');
      // Probes at 5, 6 and 7 s after connecting, unanswered; at 8 s the connection gives up.
      advance(c.ts, 2500);
      assert.equal(stat(c.p.a, 'tcpConnections', 'keepaliveProbes'), 3);
      assert.equal(c.client.state, 'ESTABLISHED');
      advance(c.ts, 1000);
      assert.equal(c.client.state, 'CLOSED');
      assert.equal(r.error, 'ETIMEDOUT');
      c.p.close();
    });

    it('Nagle holds a second small write until the first is acknowledged; setNoDelay(true) sends it at once', () => {
      const run = (noDelay: boolean): number[] => {
        const sent: SeenSegment[] = [];
        const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
        // b's delayed ACK releases Nagle: quickAckStart off, or b would ACK its first data at once.
        const p = tcpPair({ scheduler: ts, tcpB: { quickAckStart: false }, hooksA: { network: { down: tcpOutputTap(ts, sent) } } });
        // b does not read: reading would send a window update (its SYN-ACK offered 64 KiB of its
        // 256 KiB buffer), and that ACK would release Nagle early.
        p.b.tcp.listen({ port: 7 }).subscribe();
        let client: TcpConnection | undefined;
        p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => (client = c));
        advance(ts, 1);
        assert.ok(client);
        if (noDelay) client.setNoDelay(true);
        const start = ts.now();
        client.write(pattern(10, 1));
        client.write(pattern(10, 2));
        advance(ts, 200);
        p.close();
        return sent.filter((s) => s.len > 0).map((s) => s.at - start);
      };
      // b delays its ACK of a lone small segment by 40 ms: only then may Nagle send the second.
      assert.deepEqual(run(false), [0, 40]);
      assert.deepEqual(run(true), [0, 0]);
    });
  });
});
