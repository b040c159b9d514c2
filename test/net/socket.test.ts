import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { netPair, listening, readAll, A_IP, B_IP, type NetPair } from './net-pair.js';
import type { NetSystemError, TcpSocket } from '../../streams/index.js';
import type { LookupFunction } from '../../streams/index.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('stack.net: Socket and connect', () => {
  let p: NetPair;
  beforeEach(() => (p = netPair()));
  afterEach(() => p.close());

  /** An echo server on b; resolves with its port. */
  async function echoServer(options: { allowHalfOpen?: boolean } = {}): Promise<number> {
    const server = p.b.net.createServer(options, (s) => {
      s.on('error', () => {}); // some tests reset their connections
      s.pipe(s);
    });
    return listening(server.listen(0));
  }

  it('connect(port, host, cb): connecting/pending/readyState move as node:net, then "connect" and "ready"; the 4-tuple and address()', async () => {
    const port = await echoServer();
    const events: string[] = [];
    const socket = p.a.net.connect(port, B_IP, () => events.push('cb'));
    socket.on('connect', () => events.push('connect'));
    socket.on('ready', () => events.push('ready'));
    assert.equal(socket.connecting, true);
    assert.equal(socket.pending, true);
    assert.equal(socket.readyState, 'opening');
    assert.equal(socket.remoteAddress, undefined);
    assert.deepEqual(socket.address(), {});
    await once(socket, 'ready');
    assert.deepEqual(events, ['cb', 'connect', 'ready']);
    assert.equal(socket.connecting, false);
    assert.equal(socket.pending, false);
    assert.equal(socket.readyState, 'open');
    assert.equal(socket.remoteAddress, B_IP);
    assert.equal(socket.remotePort, port);
    assert.equal(socket.remoteFamily, 'IPv4');
    assert.equal(socket.localAddress, A_IP);
    assert.deepEqual(socket.address(), { address: A_IP, family: 'IPv4', port: socket.localPort });
    socket.end('ping');
    assert.equal((await readAll(socket)).toString(), 'ping');
    assert.equal(socket.bytesWritten, 4);
    assert.equal(socket.bytesRead, 4);
  });

  it('new net.Socket() then socket.connect(options): writes and end() made before "connect" are sent in order once connected', async () => {
    const port = await echoServer();
    const socket = new p.a.net.Socket();
    assert.equal(socket.connecting, false);
    assert.equal(socket.pending, true);
    socket.connect({ port, host: B_IP });
    assert.equal(socket.write('one,'), true);
    socket.write('two,');
    socket.end('three');
    assert.equal(socket.connecting, true);
    const closed = once(socket, 'close');
    assert.equal((await readAll(socket)).toString(), 'one,two,three');
    assert.deepEqual(await closed, [false]);
  });

  it('createConnection is connect, and takes a numeric string port', async () => {
    const port = await echoServer();
    const socket = p.a.net.createConnection(String(port), B_IP);
    await once(socket, 'connect');
    assert.equal(socket.remotePort, port);
    socket.destroy();
  });

  it('ECONNREFUSED as node:net: "error" with code, errno, syscall "connect", address and port, then "close" with hadError', async () => {
    const socket = p.a.net.connect({ port: 9, host: B_IP });
    const closed = new Promise((resolve) => socket.on('close', (...args) => resolve(args)));
    const [err] = (await once(socket, 'error')) as [NetSystemError];
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.errno, -111);
    assert.equal(err.syscall, 'connect');
    assert.equal(err.address, B_IP);
    assert.equal(err.port, 9);
    assert.deepEqual(await closed, [true]);
    assert.equal(socket.destroyed, true);
  });

  it('EHOSTUNREACH as node:net: an on-link address nobody answers ARP for', async () => {
    const q = netPair({ arpA: { maxRequests: 1, retransmitIntervalMs: 50 } });
    try {
      const socket = q.a.net.connect(80, '198.18.0.3');
      const [err] = (await once(socket, 'error')) as [NetSystemError];
      assert.equal(err.code, 'EHOSTUNREACH');
      assert.equal(err.errno, -113);
      assert.equal(err.syscall, 'connect');
      assert.equal(err.address, '198.18.0.3');
      assert.equal(err.port, 80);
    } finally {
      q.close();
    }
  });

  it('ETIMEDOUT as node:net: SYNs to a host that never answers', async () => {
    const q = netPair({ tcpA: { synRetries: 1, rtoInitial: 50, rtoMin: 50 } });
    try {
      // A neighbour that exists for ARP but never answers: b's Ethernet layer drops its frames.
      q.a.arp.addStatic('198.18.0.3', '02:00:00:00:00:99');
      const socket = q.a.net.connect(80, '198.18.0.3');
      const [err] = (await once(socket, 'error')) as [NetSystemError];
      assert.equal(err.code, 'ETIMEDOUT');
      assert.equal(err.errno, -110);
      assert.equal(err.syscall, 'connect');
      assert.equal(err.address, '198.18.0.3');
      assert.equal(err.port, 80);
    } finally {
      q.close();
    }
  });

  it('a peer reset gives ECONNRESET (errno set) to the other side; resetAndDestroy() sends it', async () => {
    const server = p.b.net.createServer((s) => {
      s.once('data', () => s.resetAndDestroy());
    });
    const port = await listening(server.listen(0));
    const socket = p.a.net.connect(port, B_IP);
    socket.write('x');
    socket.resume();
    const [err] = (await once(socket, 'error')) as [NetSystemError];
    assert.equal(err.code, 'ECONNRESET');
    assert.equal(err.errno, -104);
  });

  it('misuse throws at once: bad port, a unix path, connecting twice; a toSocket() socket cannot connect', async () => {
    assert.throws(() => p.a.net.connect(0, B_IP), { code: 'ERR_SOCKET_BAD_PORT' });
    assert.throws(() => p.a.net.connect({ port: 65536, host: B_IP }), { code: 'ERR_SOCKET_BAD_PORT' });
    assert.throws(() => p.a.net.connect({ path: '/tmp/x.sock' } as never), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => p.a.net.connect('/tmp/x.sock'), { code: 'ERR_INVALID_ARG_VALUE' });
    const port = await echoServer();
    const s = p.a.net.connect(port, B_IP);
    assert.throws(() => s.connect(port, B_IP), { code: 'EISCONN' });
    await once(s, 'connect');
    assert.throws(() => s.connect(port, B_IP), { code: 'EISCONN' });
    s.destroy();
    const conn = await new Promise<import('../../streams/index.js').TcpConnection>((resolve, reject) => p.a.tcp.connect({ address: B_IP, port }).subscribe({ next: resolve, error: reject }));
    assert.throws(() => conn.toSocket().connect(port, B_IP), { code: 'ERR_INVALID_ARG_VALUE' });
    conn.destroy();
  });

  it('host names: "localhost" (and the default host) is the stack itself; other names need `lookup`, else ENOTFOUND; 127.0.0.1 is ENETUNREACH', async () => {
    const server = p.a.net.createServer((s) => s.end(`hi ${s.remoteAddress}`));
    const port = await listening(server.listen(0));
    // localhost: the stack's own address, delivered without the wire.
    const local = p.a.net.connect(port, 'localhost');
    const [lookupErr, address, family, host] = await once(local, 'lookup');
    assert.deepEqual([lookupErr, address, family, host], [null, A_IP, 4, 'localhost']);
    assert.equal((await readAll(local)).toString(), `hi ${A_IP}`);
    const byDefault = p.a.net.connect(port);
    assert.equal((await readAll(byDefault)).toString(), `hi ${A_IP}`);

    // A name without `lookup`.
    const named = p.b.net.connect(port, 'server.example');
    const [err] = (await once(named, 'error')) as [NetSystemError];
    assert.equal(err.code, 'ENOTFOUND');
    assert.equal(err.syscall, 'getaddrinfo');
    assert.equal(err.hostname, 'server.example');
    assert.equal(err.errno, -3008);

    // With a `lookup` (shaped like dns.lookup).
    const asked: string[] = [];
    const lookup: LookupFunction = (hostname, _options, cb) => {
      asked.push(hostname);
      cb(null, A_IP, 4);
    };
    const resolved = p.b.net.connect({ port, host: 'server.example', lookup });
    const [, lookedUp] = await once(resolved, 'lookup');
    assert.equal(lookedUp, A_IP);
    assert.equal((await readAll(resolved)).toString(), `hi ${B_IP}`);
    assert.deepEqual(asked, ['server.example']);

    // A lookup answering with an array (all: true style) and a lookup failing.
    const arrays: LookupFunction = (_h, _o, cb) => cb(null, [{ address: '::1', family: 6 }, { address: A_IP, family: 4 }]);
    assert.equal((await readAll(p.b.net.connect({ port, host: 'x.example', lookup: arrays }))).toString(), `hi ${B_IP}`);
    const failing: LookupFunction = (h, _o, cb) => cb(Object.assign(new Error(`nope ${h}`), { code: 'ENOTFOUND' }), '');
    const [failed] = (await once(p.b.net.connect({ port, host: 'y.example', lookup: failing }), 'error')) as [NetSystemError];
    assert.equal(failed.code, 'ENOTFOUND');

    const loop = p.b.net.connect(port, '127.0.0.1');
    const [loopErr] = (await once(loop, 'error')) as [NetSystemError];
    assert.equal(loopErr.code, 'ENETUNREACH');
    const v6 = p.b.net.connect(port, '::1');
    assert.equal(((await once(v6, 'error')) as [NetSystemError])[0].code, 'EAFNOSUPPORT');
    server.close();
  });

  it('setTimeout(ms, cb): "timeout" after ms idle (the socket stays open); activity postpones it; 0 turns it off', async () => {
    const port = await echoServer();
    const socket = p.a.net.connect(port, B_IP);
    await once(socket, 'connect');
    let fired = 0;
    socket.setTimeout(100, () => fired++);
    assert.equal(socket.timeout, 100);
    // When it fires is checked in virtual time (test/streams/stack/tcp-socket.test.ts): here, that
    // it does on a real-time stack, once, leaving the socket open.
    await once(socket, 'timeout');
    assert.equal(fired, 1);
    assert.equal(socket.destroyed, false);
    socket.setTimeout(0);
    assert.equal(socket.timeout, undefined);
    socket.destroy();
  });

  it('the `timeout` connect option covers connecting: a SYN nobody answers gets "timeout"', async () => {
    // 198.18.0.3 is on-link but absent: ARP gets no answer while the timer runs.
    const socket = p.a.net.connect({ port: 80, host: '198.18.0.3', timeout: 50 });
    await once(socket, 'timeout');
    assert.equal(socket.connecting, true);
    socket.destroy();
    assert.deepEqual(await once(socket, 'close'), [false]);
  });

  it('allowHalfOpen false (the default): the peer\'s end ends our side too once written data is out', async () => {
    const server = p.b.net.createServer();
    const port = await listening(server.listen(0));
    const accepted = once(server, 'connection') as Promise<[TcpSocket]>;
    const client = p.a.net.connect(port, B_IP);
    const [s] = await accepted;
    const closed = once(s, 'close');
    s.resume();
    client.end('bye');
    // The server socket ends itself: the client sees the end without the server calling end().
    client.resume();
    await once(client, 'end');
    await closed;
    assert.equal(s.writableEnded, true);
    server.close();
  });

  it('allowHalfOpen true: after the peer\'s end we can still write, and end when we choose', async () => {
    const server = p.b.net.createServer({ allowHalfOpen: true }, (s) => {
      const parts: Buffer[] = [];
      s.on('data', (d: Buffer) => parts.push(d));
      s.on('end', () => {
        assert.equal(s.writable, true);
        s.write('got ');
        setImmediate(() => s.end(Buffer.concat(parts)));
      });
    });
    const port = await listening(server.listen(0));
    const client = p.a.net.connect({ port, host: B_IP, allowHalfOpen: true });
    client.end('question');
    assert.equal((await readAll(client)).toString(), 'got question');
    server.close();
  });

  it('pipeline() through an echo server with a slow consumer: backpressure both ways, every byte back', async function () {
    this.timeout(30_000);
    const port = await echoServer();
    const socket = p.a.net.connect(port, B_IP);
    const data = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 10)) & 0xff;
    let falseWrites = 0;
    const write = socket.write.bind(socket) as (c: Buffer, cb?: (e?: Error | null) => void) => boolean;
    socket.write = ((c: Buffer, cb?: (e?: Error | null) => void) => {
      const ok = write(c, cb);
      if (!ok) falseWrites++;
      return ok;
    }) as typeof socket.write;
    const received: Buffer[] = [];
    let n = 0;
    const slow = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _e, cb) {
        received.push(chunk);
        if (++n % 8 === 0) setTimeout(cb, 2);
        else cb();
      },
    });
    const source = Readable.from((function* () {
      for (let o = 0; o < data.length; o += 64 * 1024) yield data.subarray(o, o + 64 * 1024);
    })());
    await Promise.all([pipeline(source, socket), pipeline(socket, slow)]);
    assert.equal(sha(Buffer.concat(received)), sha(data));
    assert.ok(falseWrites > 0, 'write() must have returned false at least once');
  });

  it('destroySoon() ends, then destroys once written data is out', async () => {
    const server = p.b.net.createServer();
    const port = await listening(server.listen(0));
    const accepted = once(server, 'connection') as Promise<[TcpSocket]>;
    const client = p.a.net.connect(port, B_IP);
    const [s] = await accepted;
    client.write('last words');
    const closed = once(client, 'close');
    client.destroySoon();
    assert.equal((await readAll(s)).toString(), 'last words');
    await closed;
    assert.equal(client.destroyed, true);
    server.close();
  });

  it('setNoDelay and setKeepAlive reach the connection; the keepAlive connect option too', async () => {
    const port = await echoServer();
    const socket = p.a.net.connect({ port, host: B_IP, keepAlive: true, keepAliveInitialDelay: 5000, noDelay: true });
    await once(socket, 'connect');
    const core = socket.connection!.core as unknown as { noDelay: boolean };
    assert.equal(core.noDelay, true);
    socket.setNoDelay(false);
    assert.equal(core.noDelay, false);
    assert.ok(socket.connection!.core.nextDeadline() !== undefined, 'a keepalive deadline is armed');
    socket.destroy();
  });
});
