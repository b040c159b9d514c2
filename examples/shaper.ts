/**
 * A traffic shaper at link egress: the client stack's frames leave through `shape()`, a token
 * bucket that holds them to 2 Mbit/s (a slow line), and TCP adapts to it. Two stacks on the
 * memory wire, no root. Run it with:
 *
 *   node --import tsx examples/shaper.ts
 *
 *   client 198.18.0.1 [TCP | IPv4 | Ethernet | shape 2 Mbit/s] ==memory wire== 198.18.0.2 server
 *
 * `hooks.link.down` inserts the operator between the client's Ethernet layer and its link;
 * `hooks.link.up` would shape what comes in.
 */
import { firstValueFrom, lastValueFrom, reduce } from 'rxjs';
import { createMemoryWire, createStack, shape } from '../streams/index.js';

const BITS_PER_SECOND = 2_000_000;
const TOTAL = 256 * 1024;

const [serverLink, clientLink] = createMemoryWire();
const server = createStack({ interfaces: [{ name: 'eth0', link: serverLink, ipv4: ['198.18.0.2/24'] }] });
let dropped = 0;
const client = createStack(
  { interfaces: [{ name: 'eth0', link: clientLink, ipv4: ['198.18.0.1/24'] }] },
  { hooks: { link: { down: shape({ bytesPerSecond: BITS_PER_SECOND / 8, queueBytes: 64 * 1024, onDrop: () => dropped++ }) } } },
);

// The server counts what arrives on each connection and reports it when the client is done.
const received = new Promise<number>((resolve) => {
  const sub = server.tcp.listen({ port: 9 }).subscribe((conn) => {
    lastValueFrom(conn.data$.pipe(reduce((n, chunk) => n + chunk.length, 0))).then((n) => {
      sub.unsubscribe();
      resolve(n);
    }, () => resolve(-1));
  });
});

let status = 0;
try {
  const conn = await firstValueFrom(client.tcp.connect({ address: '198.18.0.2', port: 9 }));
  const started = performance.now();
  conn.write(new Uint8Array(TOTAL).fill(0x61));
  conn.end();
  const bytes = await received;
  const seconds = (performance.now() - started) / 1000;
  console.log(`server: received ${bytes} bytes`);
  console.log(`client: ${(bytes * 8 / seconds / 1e6).toFixed(2)} Mbit/s through a ${BITS_PER_SECOND / 1e6} Mbit/s shaper (${seconds.toFixed(2)} s, ${dropped} frames dropped by its queue)`);
  if (bytes !== TOTAL) status = 1;
} catch (err) {
  console.error(`failed: ${(err as Error).message}`);
  status = 1;
} finally {
  client.close();
  server.close();
}
process.exitCode = status;
