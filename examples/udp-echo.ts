/**
 * UDP echo between two stacks on an in-memory Ethernet wire (no root, no TAP device needed).
 *
 * Stack "server" (198.18.0.2) echoes every datagram on port 7; stack "client" (198.18.0.1)
 * sends a few from an ephemeral port, including one of 4,000 bytes that IPv4 fragments, and
 * prints each echo. Run it with:
 *
 *   node --import tsx examples/udp-echo.ts
 */
import { firstValueFrom, take, timeout, toArray } from 'rxjs';
import { createMemoryWire, createStack } from '../streams/index.js';
import { udpEchoService } from '../streams/services/udp-echo.js';

const [serverLink, clientLink] = createMemoryWire();
const server = createStack({ interfaces: [{ name: 'eth0', link: serverLink, ipv4: ['198.18.0.2/24'] }] });
const client = createStack({ interfaces: [{ name: 'eth0', link: clientLink, ipv4: ['198.18.0.1/24'] }] });

const echo = udpEchoService(server, 7);

const socket = client.udp.bind(); // port 0: an ephemeral port
socket.errors$.subscribe((err) => console.error(`client error: ${err.message}`));
console.log(`client bound to ${socket.address().address}:${socket.address().port}`);

const messages = ['hello', 'rx-netstack', 'x'.repeat(4000)];
// Subscribe before sending: datagrams would also wait in the receive queue, but this reads better.
const echoes = firstValueFrom(socket.datagrams$.pipe(take(messages.length), timeout(5000), toArray()));
for (const m of messages) socket.send(new TextEncoder().encode(m), { address: '198.18.0.2', port: 7 });

let status = 0;
try {
  for (const d of await echoes) {
    const text = new TextDecoder().decode(d.payload);
    const shown = text.length > 20 ? `${text.slice(0, 20)}... (${text.length} bytes)` : text;
    console.log(`echo from ${d.address}:${d.port} on ${d.interface}: ${shown}`);
  }
  const stats = socket.stats();
  console.log(`client sent ${stats.txDatagrams} datagrams, received ${stats.rxDatagrams}`);
} catch (err) {
  console.error(`no echo: ${(err as Error).message}`);
  status = 1;
} finally {
  socket.close();
  echo.unsubscribe();
  client.close();
  server.close();
}
process.exitCode = status;
