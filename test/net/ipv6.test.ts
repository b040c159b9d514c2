import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createMemoryWire, createStack, type NetServer, type Stack } from '../../streams/index.js';
import type { TcpSocket } from '../../streams/stack/tcp-socket.js';
import type { NetSystemError } from '../../streams/net/net-errors.js';
import { listening } from './net-pair.js';

/** Addresses usable at once: no duplicate address detection, no router advertisements (not what these tests are about). */
const NO_DAD = { dadTransmits: 0, acceptRa: false } as const;

const A4 = '198.18.0.1';
const B4 = '198.18.0.2';
const A6 = 'fd00:198:18::1';
const B6 = 'fd00:198:18::2';

/** Two dual-stack stacks on the memory wire. */
function dualPair(): { a: Stack; b: Stack; close(): void } {
  const [wa, wb] = createMemoryWire();
  const a = createStack({ interfaces: [{ name: 'eth0', link: wa, ipv4: [`${A4}/24`], ipv6: [`${A6}/64`] }], ipv6: NO_DAD });
  const b = createStack({ interfaces: [{ name: 'eth0', link: wb, ipv4: [`${B4}/24`], ipv6: [`${B6}/64`] }], ipv6: NO_DAD });
  return { a, b, close: () => { a.close(); b.close(); } };
}

/** A server on b that reports each accepted socket's view and echoes. */
async function echoServer(p: { b: Stack }, ...listenArgs: unknown[]): Promise<{ server: NetServer; port: number; seen: TcpSocket[] }> {
  const seen: TcpSocket[] = [];
  const server = p.b.net.createServer((s) => {
    seen.push(s);
    s.pipe(s);
  });
  (server.listen as (...a: unknown[]) => NetServer)(...listenArgs);
  return { server, port: await listening(server), seen };
}

async function talk(socket: TcpSocket, text: string): Promise<string> {
  await once(socket, 'connect');
  socket.end(text);
  let got = '';
  for await (const chunk of socket) got += String(chunk);
  return got;
}

describe('stack.net over IPv6 (memory wire)', () => {
  it('a server with no host listens on :: for both families; IPv4 peers appear IPv4-mapped, as node:net reports them', async () => {
    const p = dualPair();
    const { server, port, seen } = await echoServer(p, 0);
    try {
      assert.deepEqual(server.address(), { address: '::', family: 'IPv6', port });
      const s6 = p.a.net.connect(port, B6);
      assert.equal(await talk(s6, 'six'), 'six');
      assert.equal(s6.remoteAddress, B6);
      assert.equal(s6.remoteFamily, 'IPv6');
      assert.equal(s6.localAddress, A6);
      assert.deepEqual(s6.address(), { address: A6, family: 'IPv6', port: s6.localPort });
      assert.equal(seen[0].remoteAddress, A6);
      assert.equal(seen[0].remoteFamily, 'IPv6');
      const s4 = p.a.net.connect({ port, host: B4 });
      assert.equal(await talk(s4, 'four'), 'four');
      assert.equal(s4.remoteAddress, B4, 'the client itself is plain IPv4');
      assert.equal(s4.remoteFamily, 'IPv4');
      assert.equal(seen[1].remoteAddress, `::ffff:${A4}`);
      assert.equal(seen[1].remoteFamily, 'IPv6');
      assert.equal(seen[1].localAddress, `::ffff:${B4}`);
      assert.deepEqual(seen[1].address(), { address: `::ffff:${B4}`, family: 'IPv6', port });
    } finally {
      server.close();
      p.close();
    }
  });

  it('ipv6Only keeps IPv4 out (ECONNREFUSED); 0.0.0.0 and an IPv6 literal listen in their family only', async () => {
    const p = dualPair();
    const only6 = await echoServer(p, { port: 0, host: '::', ipv6Only: true });
    const v4 = await echoServer(p, 0, '0.0.0.0');
    const lit = await echoServer(p, 0, B6);
    try {
      const refused = p.a.net.connect(only6.port, B4);
      assert.equal(((await once(refused, 'error')) as [NetSystemError])[0].code, 'ECONNREFUSED');
      assert.equal(await talk(p.a.net.connect(only6.port, B6), 'x'), 'x');
      assert.equal(only6.seen[0].remoteAddress, A6, 'no mapping on a v6-only server');
      assert.deepEqual(v4.server.address(), { address: '0.0.0.0', family: 'IPv4', port: v4.port });
      assert.deepEqual(lit.server.address(), { address: B6, family: 'IPv6', port: lit.port });
      const v6to4 = p.a.net.connect(v4.port, B6);
      assert.equal(((await once(v6to4, 'error')) as [NetSystemError])[0].code, 'ECONNREFUSED');
      assert.equal(await talk(p.a.net.connect(lit.port, B6), 'lit'), 'lit');
    } finally {
      for (const s of [only6, v4, lit]) s.server.close();
      p.close();
    }
  });

  it('port 0 picks a port nothing holds in either family, so servers on 0.0.0.0 and on :: (ipv6Only) never share one by chance', async () => {
    // Two ports to pick from: a picker that only checks the family would give both servers the
    // same port half the time (and the ECONNREFUSED checks above would then connect instead).
    const [wa] = createMemoryWire();
    const s = createStack({ interfaces: [{ name: 'eth0', link: wa, ipv4: [`${B4}/24`], ipv6: [`${B6}/64`] }], ipv6: NO_DAD, tcp: { ephemeralPortRange: [50000, 50001] } });
    try {
      for (let round = 0; round < 16; round++) {
        const only6 = s.net.createServer().listen({ port: 0, host: '::', ipv6Only: true });
        const v4 = s.net.createServer().listen(0, '0.0.0.0');
        const ports = [await listening(only6), await listening(v4)];
        assert.notEqual(ports[0], ports[1], `round ${round}: both on ${ports[0]}`);
        only6.close();
        v4.close();
      }
      // With every port held in the other family, a port free in this one is still found.
      const held = [s.net.createServer().listen({ port: 0, host: '::', ipv6Only: true }), s.net.createServer().listen({ port: 0, host: '::', ipv6Only: true })];
      assert.deepEqual((await Promise.all(held.map(listening))).sort(), [50000, 50001]);
      assert.ok([50000, 50001].includes(await listening(s.net.createServer().listen(0, '0.0.0.0'))));
    } finally {
      s.close();
    }
  });

  it('hosts: ::1 is ENETUNREACH (no loopback); a lookup answers IPv6 for family 6, with a lookup event saying family 6', async () => {
    const p = dualPair();
    const { server, port } = await echoServer(p);
    try {
      const loop = p.a.net.connect(port, '::1');
      assert.equal(((await once(loop, 'error')) as [NetSystemError])[0].code, 'ENETUNREACH');
      const asked: number[] = [];
      const named = p.a.net.connect({
        port, host: 'b.test', family: 6,
        lookup: (_host, options, cb) => {
          asked.push(options.family as number);
          cb(null, [{ address: B4, family: 4 }, { address: B6, family: 6 }]);
        },
      });
      const lookedUp = once(named, 'lookup');
      assert.equal(await talk(named, 'named'), 'named');
      const [err, address, family] = await lookedUp;
      assert.deepEqual([err, address, family], [null, B6, 6]);
      assert.deepEqual(asked, [6]);
      assert.equal(named.remoteFamily, 'IPv6');
    } finally {
      server.close();
      p.close();
    }
  });

  it('node:http through stack.net over IPv6: a server on :: answers clients over IPv6 and over IPv4', async () => {
    const p = dualPair();
    const httpServer = http.createServer((req, res) => {
      res.end(`hello ${req.socket.remoteAddress} ${req.socket.remoteFamily} ${req.url}`);
    });
    const netServer = p.b.net.createServer((socket) => httpServer.emit('connection', socket));
    netServer.listen(8080);
    await listening(netServer);
    const get = (host: string, path: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const req = http.request({ host, port: 8080, path, createConnection: () => p.a.net.connect(8080, host) as unknown as import('node:net').Socket }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      assert.equal(await get(B6, '/six'), `hello ${A6} IPv6 /six`);
      assert.equal(await get(B4, '/four'), `hello ::ffff:${A4} IPv6 /four`);
      assert.equal((netServer.address() as AddressInfo).family, 'IPv6');
    } finally {
      netServer.close();
      httpServer.close();
      p.close();
    }
  });
});
