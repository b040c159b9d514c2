import assert from 'node:assert/strict';
import { once } from 'node:events';
import { netPair, listening, A_IP, B_IP, type NetPair } from './net-pair.js';
import type { NetSystemError, TcpSocket } from '../../streams/index.js';

describe('stack.net: Server', () => {
  let p: NetPair;
  beforeEach(() => (p = netPair()));
  afterEach(() => p.close());

  it('listen(port, host, cb): address() at once, then "listening" and the callback; listening is true', async () => {
    const server = p.b.net.createServer();
    let called = 0;
    server.listen(8080, B_IP, () => called++);
    assert.equal(server.listening, true);
    assert.deepEqual(server.address(), { address: B_IP, family: 'IPv4', port: 8080 });
    await once(server, 'listening');
    assert.equal(called, 1);
    server.close();
    assert.equal(server.listening, false);
    assert.equal(server.address(), null);
  });

  it('listen() overloads: (options), (port, backlog, cb), (), (cb); port 0 and no port pick an ephemeral port on 0.0.0.0', async () => {
    const servers = [
      p.b.net.createServer().listen({ port: 7001, host: '0.0.0.0', backlog: 10 }),
      p.b.net.createServer().listen(7002, 5, () => {}),
      p.b.net.createServer().listen('7003'),
      p.b.net.createServer().listen(),
      p.b.net.createServer().listen(() => {}),
      p.b.net.createServer().listen(0, '::'),
    ];
    const ports = await Promise.all(servers.map(listening));
    assert.deepEqual(ports.slice(0, 3), [7001, 7002, 7003]);
    for (const [i, s] of servers.entries()) {
      const a = s.address();
      assert.equal(a?.address, '0.0.0.0');
      if (i >= 3) assert.ok(a!.port >= 49152 && a!.port <= 65535, `ephemeral port ${a!.port}`);
    }
    assert.equal(new Set(ports).size, ports.length);
    // Each one accepts.
    const sock = p.a.net.connect(ports[3], B_IP);
    await once(sock, 'connect');
    sock.destroy();
    for (const s of servers) s.close();
  });

  it('EADDRINUSE as node:net: an "error" event with code, errno, syscall "listen", address and port', async () => {
    const first = p.b.net.createServer().listen(80);
    await listening(first);
    const second = p.b.net.createServer();
    let listened = false;
    second.on('listening', () => (listened = true));
    second.listen(80, B_IP);
    const [err] = (await once(second, 'error')) as [NetSystemError];
    assert.equal(err.code, 'EADDRINUSE');
    assert.equal(err.syscall, 'listen');
    assert.equal(err.errno, -98);
    assert.equal(err.address, B_IP);
    assert.equal(err.port, 80);
    assert.equal(listened, false);
    assert.equal(second.listening, false);
    first.close();
  });

  it('listen errors: not an address of the stack (EADDRNOTAVAIL), localhost and 127.0.0.1 (no loopback interface), a name (ENOTFOUND)', async () => {
    const cases: Array<[string, string]> = [['198.18.0.77', 'EADDRNOTAVAIL'], ['localhost', 'EADDRNOTAVAIL'], ['127.0.0.1', 'EADDRNOTAVAIL'], ['example.test', 'ENOTFOUND']];
    for (const [host, code] of cases) {
      const s = p.b.net.createServer().listen(81, host);
      const [err] = (await once(s, 'error')) as [NetSystemError];
      assert.equal(err.code, code, host);
      assert.equal(s.listening, false);
    }
  });

  it('misuse throws at once: bad port (ERR_SOCKET_BAD_PORT), a path (ERR_INVALID_ARG_VALUE), listening twice (ERR_SERVER_ALREADY_LISTEN)', async () => {
    const s = p.b.net.createServer();
    assert.throws(() => s.listen(70000), { code: 'ERR_SOCKET_BAD_PORT' });
    assert.throws(() => s.listen(-1), { code: 'ERR_SOCKET_BAD_PORT' });
    assert.throws(() => s.listen({ path: '/tmp/x.sock' }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => s.listen('/tmp/x.sock'), { code: 'ERR_INVALID_ARG_VALUE' });
    s.listen(82);
    assert.throws(() => s.listen(83), { code: 'ERR_SERVER_ALREADY_LISTEN' });
    s.close();
  });

  it('"connection" gets a stack Socket (instanceof net.Socket, server set, conn.toSocket() is the same object)', async () => {
    const server = p.b.net.createServer().listen(84);
    const accepted = once(server, 'connection') as Promise<[TcpSocket]>;
    const client = p.a.net.connect(84, B_IP);
    const [socket] = await accepted;
    assert.ok(socket instanceof p.b.net.Socket);
    assert.equal(socket instanceof p.a.net.Socket, false);
    assert.equal(socket.server, server);
    assert.equal(socket.connection?.toSocket(), socket);
    assert.equal(socket.remoteAddress, A_IP);
    assert.equal(socket.localPort, 84);
    client.destroy();
    server.close();
  });

  it('close(): stops accepting at once; "close" and the callback wait until every connection is gone; getConnections counts them', async () => {
    const server = p.b.net.createServer();
    const sockets: TcpSocket[] = [];
    server.on('connection', (s: TcpSocket) => {
      sockets.push(s);
      s.resume(); // a socket nobody reads never sees the peer's end (as in node:net)
    });
    const port = await listening(server.listen(0));
    const c1 = p.a.net.connect(port, B_IP);
    const c2 = p.a.net.connect(port, B_IP);
    await Promise.all([once(c1, 'connect'), once(c2, 'connect')]);
    while (sockets.length < 2) await once(server, 'connection');
    const count = await new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    assert.equal(count, 2);

    let closed = false;
    const closedCb = new Promise<Error | undefined>((resolve) => server.close((err) => resolve(err)));
    server.on('close', () => (closed = true));
    assert.equal(server.listening, false);
    // A new connection is refused now.
    const refused = p.a.net.connect(port, B_IP);
    const [err] = (await once(refused, 'error')) as [NetSystemError];
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(closed, false, '"close" must wait for the open connections');

    c1.end();
    await once(sockets[0], 'close');
    assert.equal(closed, false);
    c2.end();
    assert.equal(await closedCb, undefined);
    assert.equal(closed, true);
  });

  it('close() of a server not listening: "close" still comes, the callback gets ERR_SERVER_NOT_RUNNING', async () => {
    const server = p.b.net.createServer();
    const err = await new Promise<Error | undefined>((resolve) => server.close(resolve));
    assert.equal((err as NetSystemError).code, 'ERR_SERVER_NOT_RUNNING');
  });

  it('maxConnections: connections beyond it are closed at once and reported with "drop"', async () => {
    const server = p.b.net.createServer();
    server.maxConnections = 1;
    const port = await listening(server.listen(0));
    const c1 = p.a.net.connect(port, B_IP);
    await once(server, 'connection');
    const dropped = once(server, 'drop');
    const c2 = p.a.net.connect(port, B_IP);
    c2.resume();
    const [drop] = (await dropped) as [{ remoteAddress: string; remotePort: number; localPort: number }];
    assert.equal(drop.remoteAddress, A_IP);
    assert.equal(drop.localPort, port);
    await once(c2, 'end'); // the server closed it
    let count = -1;
    await new Promise<void>((resolve) => server.getConnections((_e, n) => { count = n; resolve(); }));
    assert.equal(count, 1);
    c1.destroy();
    c2.destroy();
    server.close();
  });

  it('server options: allowHalfOpen, pauseOnConnect, noDelay reach the accepted sockets', async () => {
    const server = p.b.net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    const port = await listening(server.listen(0));
    const accepted = once(server, 'connection') as Promise<[TcpSocket]>;
    const client = p.a.net.connect(port, B_IP);
    const [socket] = await accepted;
    assert.equal(socket.allowHalfOpen, true);
    assert.equal(socket.isPaused(), true);
    assert.equal((socket.connection?.core as unknown as { noDelay: boolean }).noDelay, true);
    client.destroy();
    server.close();
  });

  it('an AbortSignal in the listen options closes the server', async () => {
    const ac = new AbortController();
    const server = p.b.net.createServer().listen({ port: 85, signal: ac.signal });
    await listening(server);
    ac.abort();
    await once(server, 'close');
    assert.equal(server.listening, false);
  });

  it('closing the stack closes its servers', async () => {
    const server = p.b.net.createServer().listen(86);
    await listening(server);
    p.b.close();
    await once(server, 'close');
    assert.equal(server.listening, false);
  });
});
