/**
 * Real libraries over two stacks on the memory wire, each given stack.net where it would use
 * node:net: node:http (server and keep-alive client), undici's fetch, and ws.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import * as undici from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { netPair, listening, A_IP, B_IP, type NetPair } from './net-pair.js';
import type { NetServer, TcpSocket } from '../../streams/index.js';

/** A node:http server fed by a stack.net server on `p.b` (http.Server parses; the stack accepts). */
async function httpServerOn(p: NetPair, handler: http.RequestListener): Promise<{ http: http.Server; net: NetServer; port: number }> {
  const httpServer = http.createServer({ keepAlive: true }, handler);
  const netServer = p.b.net.createServer((socket) => httpServer.emit('connection', socket));
  const port = await listening(netServer.listen(0, B_IP));
  return { http: httpServer, net: netServer, port };
}

function get(options: http.RequestOptions): Promise<{ status: number; body: string; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(options, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString(), socket: req.socket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('stack.net with real libraries (memory wire)', () => {
  let p: NetPair;
  beforeEach(() => (p = netPair()));
  afterEach(() => p.close());

  it('node:http: a keep-alive http.Agent whose createConnection is stack.net.createConnection reuses one socket for several requests', async () => {
    const seen: string[] = [];
    const server = await httpServerOn(p, (req, res) => {
      seen.push(`${req.method} ${req.url} from ${req.socket.remoteAddress}`);
      res.end(`hello ${req.url}`);
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let created = 0;
    agent.createConnection = ((options: Parameters<typeof p.a.net.createConnection>[0]) => {
      created++;
      return p.a.net.createConnection(options) as unknown as Duplex;
    }) as unknown as typeof agent.createConnection;
    const results = [];
    for (const path of ['/one', '/two', '/three']) results.push(await get({ host: B_IP, port: server.port, path, agent }));
    assert.deepEqual(results.map((r) => [r.status, r.body]), [[200, 'hello /one'], [200, 'hello /two'], [200, 'hello /three']]);
    assert.equal(created, 1, 'one connection for all requests');
    assert.equal(results[0].socket, results[1].socket);
    assert.equal(results[1].socket, results[2].socket);
    assert.ok(results[0].socket instanceof p.a.net.Socket);
    assert.deepEqual(seen, [`GET /one from ${A_IP}`, `GET /two from ${A_IP}`, `GET /three from ${A_IP}`]);
    agent.destroy();
    server.net.close();
    server.http.closeAllConnections();
  });

  it('undici: fetch() through an Agent whose connect() opens the socket with stack.net', async () => {
    const server = await httpServerOn(p, (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ method: req.method, url: req.url, body, from: req.socket.remoteAddress }));
      });
    });
    let connects = 0;
    // One connection per origin: the second fetch waits for the first's socket, and reuses it.
    const dispatcher = new undici.Agent({
      connections: 1,
      connect: (opts, callback) => {
        connects++;
        const socket = p.a.net.connect({ host: opts.hostname, port: Number(opts.port) });
        socket.once('connect', () => callback(null, socket as unknown as import('node:net').Socket));
        socket.once('error', (err) => callback(err, null));
      },
    });
    const url = `http://${B_IP}:${server.port}`;
    const first = await undici.fetch(`${url}/a?x=1`, { dispatcher });
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { method: 'GET', url: '/a?x=1', body: '', from: A_IP });
    const second = await undici.fetch(`${url}/b`, { dispatcher, method: 'POST', body: 'payload' });
    assert.deepEqual(await second.json(), { method: 'POST', url: '/b', body: 'payload', from: A_IP });
    assert.equal(connects, 1, 'undici kept the connection alive and reused it');
    await dispatcher.close();
    server.net.close();
    server.http.closeAllConnections();
  });

  it('undici: a refused connection rejects fetch with the ECONNREFUSED cause', async () => {
    const dispatcher = new undici.Agent({
      connect: (opts, callback) => {
        const socket = p.a.net.connect({ host: opts.hostname, port: Number(opts.port) });
        socket.once('connect', () => callback(null, socket as unknown as import('node:net').Socket));
        socket.once('error', (err) => callback(err, null));
      },
    });
    await assert.rejects(undici.fetch(`http://${B_IP}:9999/`, { dispatcher }), (err: Error & { cause?: { code?: string } }) => {
      assert.equal(err.cause?.code, 'ECONNREFUSED');
      return true;
    });
    await dispatcher.close();
  });

  it('ws: a WebSocketServer on a node:http server on stack b, a ws client connecting through stack a; messages both ways', async () => {
    const server = await httpServerOn(p, (_req, res) => res.end('not a websocket'));
    const wss = new WebSocketServer({ server: server.http });
    wss.on('connection', (ws, req) => {
      ws.send(`welcome ${req.socket.remoteAddress}`);
      ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `echo ${data.toString()}`, { binary: isBinary }));
    });
    const client = new WebSocket(`ws://${B_IP}:${server.port}/chat`, {
      createConnection: ((options: { host?: string; port?: number | string }) => p.a.net.createConnection({ host: options.host, port: Number(options.port) })) as never,
    });
    const messages: string[] = [];
    const received = new Promise<void>((resolve, reject) => {
      client.on('message', (data, isBinary) => {
        messages.push(isBinary ? `binary ${(data as Buffer).toString('hex')}` : data.toString());
        if (messages.length === 3) resolve();
      });
      client.on('error', reject);
    });
    await once(client, 'open');
    client.send('hi');
    client.send(Buffer.from([1, 2, 3]));
    await received;
    assert.deepEqual(messages, [`welcome ${A_IP}`, 'echo hi', 'binary 010203']);
    assert.ok((client as unknown as { _socket: TcpSocket })._socket instanceof p.a.net.Socket);
    client.close();
    await once(client, 'close');
    wss.close();
    server.net.close();
  });
});
