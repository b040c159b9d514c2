import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Readable, Transform, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { asyncScheduler, firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { tcpPair, tcpInputTap, tcpOutputTap, pattern, concat, codeOf, enc, dec, B_IP, type SeenSegment, type TcpPair } from './tcp-helpers.js';
import { advance, stat } from './raw-peer.js';
import { TcpFlags } from '../../../src/wire/tcp.js';
import { windowScaleFor } from '../../../src/tcp/config.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import type { TcpSocket } from '../../../streams/stack/tcp-socket.js';
import type { Stack } from '../../../streams/stack/create-stack.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const sha = (b: Uint8Array | Buffer): string => createHash('sha256').update(b).digest('hex');

/** Waits for a server-side connection on b:port and a client connection from a, real time. */
async function socketPair(p: TcpPair, port: number): Promise<{ client: TcpConnection; server: TcpConnection }> {
  const server = firstValueFrom(p.b.tcp.listen({ port }));
  const client = await firstValueFrom(p.a.tcp.connect({ address: B_IP, port }));
  return { client, server: await server };
}

/** A source of `data` in 16 KiB pieces. */
function source(data: Uint8Array): Readable {
  return Readable.from(
    (function* () {
      for (let o = 0; o < data.length; o += 16 * KiB) yield Buffer.from(data.subarray(o, o + 16 * KiB));
    })(),
  );
}

/** Collects everything written to it; stalls `pauseMs` after every `every` bytes (a slow consumer). */
function slowSink(every: number, pauseMs: number): Writable & { bytes(): Buffer } {
  const parts: Buffer[] = [];
  let sincePause = 0;
  const sink = new Writable({
    highWaterMark: 4 * KiB,
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      sincePause += chunk.length;
      if (sincePause >= every) {
        sincePause = 0;
        setTimeout(cb, pauseMs);
      } else cb();
    },
  });
  return Object.assign(sink, { bytes: () => Buffer.concat(parts) });
}

/** A pass-through that stalls like slowSink (for an echo pipeline with a slow middle). */
function slowPass(every: number, pauseMs: number): Transform {
  let sincePause = 0;
  return new Transform({
    highWaterMark: 4 * KiB,
    transform(chunk: Buffer, _enc, cb) {
      sincePause += chunk.length;
      if (sincePause >= every) {
        sincePause = 0;
        setTimeout(() => cb(null, chunk), pauseMs);
      } else cb(null, chunk);
    },
  });
}

/** node:http server on b:port through toSocket(). */
function httpOn(stack: Stack, port: number, handler: http.RequestListener) {
  const server = http.createServer({ keepAlive: true }, handler);
  const sub = stack.tcp.listen({ port }).subscribe((c) => server.emit('connection', c.toSocket()));
  return { server, close: () => { sub.unsubscribe(); server.close(); } };
}

/** A node:http Agent whose connections are made by the stack (callback form of createConnection). */
class StackAgent extends http.Agent {
  opened = 0;
  constructor(private readonly stack: Stack, options: http.AgentOptions) {
    super(options);
  }
  override createConnection(options: { host?: string; port?: number | string }, callback: (err: Error | null, socket?: Duplex) => void): undefined {
    this.opened++;
    this.stack.tcp.connect({ address: options.host ?? B_IP, port: Number(options.port) }).subscribe({
      next: (c) => callback(null, c.toSocket()),
      error: (err: Error) => callback(err),
    });
    return undefined;
  }
}

function get(options: http.RequestOptions): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(options, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString(), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('stack: toSocket(), the node:stream adapter', () => {
  it('pipeline() both ways with a slow consumer: the window closes, write() returns false, drain follows, nothing is lost', async function () {
    this.timeout(30_000);
    const toA: SeenSegment[] = [];
    const p = tcpPair({ tcpA: { receiveBufferSize: 64 * KiB, receiveBufferMax: 64 * KiB }, tcpB: { receiveBufferSize: 64 * KiB, sendBufferSize: 64 * KiB, receiveBufferMax: 64 * KiB, sendBufferMax: 64 * KiB }, hooksA: { transport: { up: tcpInputTap(asyncScheduler, toA) } } });
    try {
      const { client, server } = await socketPair(p, 9000);
      const data = pattern(2 * MiB, 42);
      const serverSocket = server.toSocket();
      const clientSocket = client.toSocket();
      let falseWrites = 0;
      const write = clientSocket.write.bind(clientSocket) as (chunk: Buffer, cb?: (err?: Error | null) => void) => boolean;
      clientSocket.write = ((chunk: Buffer, cb?: (err?: Error | null) => void) => {
        const ok = write(chunk, cb);
        if (!ok) falseWrites++;
        return ok;
      }) as typeof clientSocket.write;
      let drains = 0;
      clientSocket.on('drain', () => drains++);
      // b echoes through a stalling middle; a sends and reads back with a stalling sink.
      const echo = pipeline(serverSocket, slowPass(256 * KiB, 40), serverSocket);
      const sink = slowSink(512 * KiB, 40);
      const back = pipeline(clientSocket, sink);
      await pipeline(source(data), clientSocket, { end: true });
      await Promise.all([echo, back]);
      assert.equal(sha(sink.bytes()), sha(data), 'echoed byte-exact');
      assert.ok(falseWrites > 0, 'write() returned false');
      assert.ok(drains > 0, "'drain' followed");
      // Window scale 1 for a fixed 64 KiB buffer. Receiver SWS avoidance never offers a sliver, so the
      // window that is left when the sender stops may be below one MSS rather than 0.
      const smallest = Math.min(...toA.filter((s) => (s.flags & TcpFlags.SYN) === 0).map((s) => s.window << windowScaleFor(64 * KiB)));
      assert.ok(smallest < 1460, `b's window closed while its reader stalled (smallest offered: ${smallest} bytes)`);
      assert.equal(clientSocket.bytesWritten, data.length);
      assert.equal(serverSocket.bytesRead, data.length);
    } finally {
      p.close();
    }
  });

  it("serves node:http with keep-alive: two requests on one connection, then 'Connection: close' ends it", async () => {
    const p = tcpPair();
    let connections = 0;
    const srv = httpOn(p.b, 80, (req, res) => res.end(`hello ${req.url}`));
    srv.server.on('connection', () => connections++);
    try {
      const conn = await firstValueFrom(p.a.tcp.connect({ address: B_IP, port: 80 }));
      const responses: string[] = [];
      let buffered = '';
      const done = new Promise<void>((resolve, reject) =>
        conn.data$.subscribe({
          next: (chunk) => {
            buffered += dec(chunk);
            // A response is complete once its header and Content-Length bytes of body are in.
            const headerEnd = buffered.indexOf('\r\n\r\n');
            const length = /\r\ncontent-length: (\d+)\r\n/i.exec(buffered.slice(0, headerEnd + 2));
            if (headerEnd >= 0 && length && buffered.length >= headerEnd + 4 + Number(length[1])) {
              const end = headerEnd + 4 + Number(length[1]);
              responses.push(buffered.slice(0, end));
              buffered = buffered.slice(end);
              if (responses.length === 1) conn.write(enc('GET /two HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n'));
            }
          },
          complete: resolve,
          error: reject,
        }),
      );
      conn.write(enc('GET /one HTTP/1.1\r\nHost: b\r\n\r\n'));
      await done;
      assert.equal(responses.length, 2);
      assert.match(responses[0], /^HTTP\/1\.1 200 OK/);
      assert.match(responses[0], /Connection: keep-alive/i);
      assert.match(responses[0], /hello \/one$/);
      assert.match(responses[1], /Connection: close/i);
      assert.match(responses[1], /hello \/two$/);
      assert.equal(connections, 1, 'both requests on one connection');
      // The server closed after the second response: our data$ completed on its FIN.
      conn.end();
    } finally {
      srv.close();
      p.close();
    }
  });

  it('is a node:http client transport: http.request({ createConnection }) and a keep-alive Agent reusing one connection', async () => {
    const p = tcpPair();
    const srv = httpOn(p.b, 80, (req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length));
      req.on('end', () => res.end(`${req.method} ${req.url} ${n}`));
    });
    try {
      // createConnection with a callback: the stack connects asynchronously.
      const one = await get({
        host: B_IP, port: 80, path: '/plain',
        createConnection: (_opts: unknown, cb: (err: Error | null, s?: Duplex) => void) => {
          p.a.tcp.connect({ address: B_IP, port: 80 }).subscribe({ next: (c) => cb(null, c.toSocket()), error: (e: Error) => cb(e) });
          return undefined;
        },
      } as http.RequestOptions);
      assert.equal(one.status, 200);
      assert.equal(one.body, 'GET /plain 0');

      const agent = new StackAgent(p.a, { keepAlive: true, maxSockets: 1 });
      const a = await get({ host: B_IP, port: 80, path: '/a', agent });
      const b = await get({ host: B_IP, port: 80, path: '/b', agent });
      assert.equal(a.body, 'GET /a 0');
      assert.equal(b.body, 'GET /b 0');
      assert.equal(agent.opened, 1, 'the second request reused the connection');
      agent.destroy();
    } finally {
      srv.close();
      p.close();
    }
  });

  it('destroy(err) on one side reaches the other as ECONNRESET; a plain destroy() closes gracefully', async () => {
    const p = tcpPair();
    try {
      let pair = await socketPair(p, 7);
      let clientSocket: TcpSocket = pair.client.toSocket();
      let serverSocket: TcpSocket = pair.server.toSocket();
      const serverError = once(serverSocket, 'error');
      // Not once(): it rejects when 'error' comes first, which is the point here.
      const serverClose = new Promise<boolean>((resolve) => serverSocket.on('close', resolve));
      clientSocket.destroy(new Error('bye'));
      clientSocket.on('error', () => undefined);
      const [err] = (await serverError) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'ECONNRESET');
      assert.equal(await serverClose, true, "'close' with hadError");
      assert.equal(pair.server.state, 'CLOSED');

      // destroy() without an error: FIN, and the peer sees a clean end.
      pair = await socketPair(p, 7);
      clientSocket = pair.client.toSocket();
      serverSocket = pair.server.toSocket();
      const ended = once(serverSocket, 'end');
      serverSocket.resume();
      clientSocket.destroy();
      await ended;
      assert.equal(pair.server.state, 'CLOSE-WAIT', 'a FIN, not a RST');

      // resetAndDestroy(): RST even with nothing unread.
      pair = await socketPair(p, 7);
      clientSocket = pair.client.toSocket();
      serverSocket = pair.server.toSocket();
      const reset = once(serverSocket, 'error');
      clientSocket.resetAndDestroy();
      assert.equal(codeOf((await reset)[0]), 'ECONNRESET');
      assert.ok(stat(p.b, 'tcpConnections', 'rstReceived') >= 2);
    } finally {
      p.close();
    }
  });

  it('half-close: end() sends FIN while the socket goes on reading until the peer ends', async () => {
    const p = tcpPair();
    try {
      const { client, server } = await socketPair(p, 7);
      const clientSocket = client.toSocket();
      const serverSocket = server.toSocket();
      // The server answers only after the client's FIN, with everything it got, reversed.
      const got: Buffer[] = [];
      serverSocket.on('data', (d: Buffer) => got.push(d));
      serverSocket.on('end', () => {
        serverSocket.end(Buffer.from(Buffer.concat(got).reverse()));
      });
      const received: Buffer[] = [];
      clientSocket.on('data', (d: Buffer) => received.push(d));
      const finished = new Promise<boolean>((resolve) => clientSocket.on('finish', () => resolve(clientSocket.readable)));
      const ended = new Promise<void>((resolve) => clientSocket.on('end', resolve));
      const closed = new Promise<void>((resolve) => clientSocket.on('close', resolve));
      clientSocket.end(Buffer.from(pattern(100_000, 8)));
      assert.equal(await finished, true, 'still readable after end()');
      await ended;
      assert.deepEqual(new Uint8Array(Buffer.concat(received)), pattern(100_000, 8).reverse());
      await closed;
      assert.equal(client.state, 'TIME-WAIT');
    } finally {
      p.close();
    }
  });

  it('net.Socket surface: addresses, bytesRead/bytesWritten, readyState, address()', async () => {
    const p = tcpPair();
    try {
      const { client, server } = await socketPair(p, 7);
      const s = client.toSocket();
      assert.equal(client.toSocket(), s, 'one socket per connection');
      assert.equal(s.remoteAddress, B_IP);
      assert.equal(s.remotePort, 7);
      assert.equal(s.remoteFamily, 'IPv4');
      assert.equal(s.localAddress, '198.18.0.1');
      assert.deepEqual(s.address(), { address: '198.18.0.1', family: 'IPv4', port: client.localPort });
      assert.equal(s.readyState, 'open');
      const rx = lastValueFrom(server.data$.pipe(toArray()));
      s.end('hello');
      assert.equal(dec(concat(await rx)), 'hello');
      assert.equal(s.bytesWritten, 5);
      assert.equal(s.readyState, 'readOnly');
    } finally {
      p.close();
    }
  });
});

describe('stack: toSocket() in virtual time', () => {
  /** A connected socket pair on a TestScheduler (streams still tick on the real event loop). */
  function virtualPair(sent: SeenSegment[]) {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    // b's delayed ACK is what releases Nagle: quickAckStart off, or b would ACK its first data at once.
    const p = tcpPair({ scheduler: ts, tcpB: { quickAckStart: false }, hooksA: { network: { down: tcpOutputTap(ts, sent) } } });
    let server: TcpConnection | undefined;
    let client: TcpConnection | undefined;
    p.b.tcp.listen({ port: 7 }).subscribe((c) => (server = c));
    p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => (client = c));
    advance(ts, 1);
    assert.ok(client && server);
    return { ts, p, client, server };
  }
  const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('setNoDelay(true) turns Nagle off: two small writes leave together instead of 40 ms apart', async () => {
    const run = async (noDelay: boolean): Promise<number[]> => {
      const sent: SeenSegment[] = [];
      const { ts, p, client } = virtualPair(sent);
      const s = client.toSocket();
      if (noDelay) assert.equal(s.setNoDelay(true), s);
      const start = ts.now();
      s.write('first');
      s.write('second');
      await tick();
      advance(ts, 100);
      await tick();
      p.close();
      return sent.filter((x) => x.len > 0).map((x) => x.at - start);
    };
    assert.deepEqual(await run(false), [0, 40]);
    assert.deepEqual(await run(true), [0, 0]);
  });

  it("setTimeout(ms) emits 'timeout' after ms of inactivity on the stack's clock, re-armed by traffic", async () => {
    const { ts, p, client, server } = virtualPair([]);
    const s = client.toSocket();
    const timeouts: number[] = [];
    s.on('timeout', () => timeouts.push(ts.now()));
    s.setTimeout(1000);
    assert.equal(s.timeout, 1000);
    advance(ts, 600);
    server.write(enc('ping'));
    advance(ts, 1);
    s.resume();
    await tick();
    // Last activity at 601 (the bytes arriving): quiet until 1601, then one 'timeout'.
    advance(ts, 990);
    assert.deepEqual(timeouts, []);
    advance(ts, 20);
    assert.deepEqual(timeouts, [1601]);
    s.setTimeout(0);
    advance(ts, 5000);
    assert.equal(timeouts.length, 1);
    p.close();
  });
});
