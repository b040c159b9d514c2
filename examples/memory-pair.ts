/**
 * Two stacks on an in-memory Ethernet wire, one serving HTTP with node:http and the other
 * fetching from it with node:http: the whole TCP/IP path (ARP, IPv4, TCP handshake, data,
 * close) runs in this process. Needs no root and no TAP device. Run it with:
 *
 *   node --import tsx examples/memory-pair.ts
 *
 *   client 198.18.0.1  ==memory wire==  198.18.0.2 server (http on port 80)
 *
 * The glue is `conn.toSocket()`: a node:stream Duplex that behaves like a `net.Socket`, so a
 * node:http server takes it with `emit('connection', socket)` and a node:http client takes it
 * from `createConnection`.
 */
import { createServer, request, type IncomingMessage } from 'node:http';
import { firstValueFrom } from 'rxjs';
import { createMemoryWire, createStack } from '../streams/index.js';

const [serverLink, clientLink] = createMemoryWire();
const server = createStack({ interfaces: [{ name: 'eth0', link: serverLink, ipv4: ['198.18.0.2/24'] }] });
const client = createStack({ interfaces: [{ name: 'eth0', link: clientLink, ipv4: ['198.18.0.1/24'] }] });

// The server: an ordinary node:http server that never listens on a kernel port; the stack's
// listener hands it each accepted connection as a socket.
const http = createServer((req, res) => {
  console.log(`server: ${req.method} ${req.url} from ${req.socket.remoteAddress}:${req.socket.remotePort}`);
  res.setHeader('Content-Type', 'text/plain');
  res.end(`hello ${req.socket.remoteAddress}, this is rx-netstack at ${req.socket.localAddress}\n`);
});
const listening = server.tcp.listen({ port: 80 }).subscribe((conn) => http.emit('connection', conn.toSocket()));

/** GET `path` over a fresh connection from the client stack. */
async function get(path: string): Promise<{ res: IncomingMessage; body: string }> {
  // Emits once the handshake is done (errors with ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH).
  const conn = await firstValueFrom(client.tcp.connect({ address: '198.18.0.2', port: 80 }));
  console.log(`client: connected ${conn.localAddress}:${conn.localPort} -> ${conn.remoteAddress}:${conn.remotePort}`);
  return new Promise((resolve, reject) => {
    const req = request({ host: '198.18.0.2', port: 80, path, createConnection: () => conn.toSocket() }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ res, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

let status = 0;
try {
  const { res, body } = await get('/');
  console.log(`client: HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}`);
  console.log(`client: content-type: ${res.headers['content-type']}`);
  process.stdout.write(`client: body: ${body}`);
} catch (err) {
  console.error(`request failed: ${(err as Error).message}`);
  status = 1;
} finally {
  listening.unsubscribe();
  http.close();
  client.close();
  server.close();
}
process.exitCode = status;
