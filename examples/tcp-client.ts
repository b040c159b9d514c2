/**
 * The stack as a TCP client: it connects out over a TAP device to a server on the kernel side,
 * sends a message, half-closes (FIN: "that is all"), prints everything the server answers until
 * it closes too, and exits.
 *
 *   node --import tsx examples/tcp-client.ts --tap NAME [--netns NS] [--ip 198.18.0.2/24] \
 *       --to 198.18.0.1:5000 [--message TEXT]
 *
 * It needs root for the TAP device. In a namespace of its own (nothing changed outside it),
 * with a kernel-side server that answers in upper case:
 *
 *   sudo ip netns add demo
 *   sudo ip -n demo tuntap add dev rxtap0 mode tap
 *   sudo ip -n demo addr add 198.18.0.1/24 dev rxtap0
 *   sudo ip -n demo link set rxtap0 up
 *   sudo ip netns exec demo python3 -c "import socket; l = socket.create_server(('198.18.0.1', 5000)); \
 *       c = l.accept()[0]; d = b''.join(iter(lambda: c.recv(4096), b'')); c.sendall(d.upper())" &
 *   sudo node --import tsx examples/tcp-client.ts --tap rxtap0 --netns demo --to 198.18.0.1:5000
 *   sudo ip netns del demo
 *
 * Exit status 0 after a clean close; 1 when the connection fails (ECONNREFUSED when nothing
 * listens, ETIMEDOUT, EHOSTUNREACH when nobody answers ARP, ECONNRESET).
 */
import { parseArgs } from 'node:util';
import { firstValueFrom } from 'rxjs';
import { createStack, tapLink } from '../streams/index.js';

const { values } = parseArgs({
  options: {
    tap: { type: 'string' },
    netns: { type: 'string' },
    ip: { type: 'string', default: '198.18.0.2/24' },
    to: { type: 'string' },
    message: { type: 'string', default: 'hello from rx-netstack\n' },
  },
});
const target = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(values.to ?? '');
if (values.tap === undefined || target === null) {
  console.error('usage: tcp-client.ts --tap NAME [--netns NS] [--ip CIDR] --to ADDRESS:PORT [--message TEXT]');
  process.exit(2);
}
// A TAP device needs root (CAP_NET_ADMIN): say so in one line rather than with a stack trace.
if (process.getuid?.() !== 0) {
  console.error('tcp-client.ts needs root for its TAP device: run it with sudo or as root (examples/memory-pair.ts needs none)');
  process.exit(1);
}
const [, address, port] = target;

const link = tapLink({ name: values.tap, ...(values.netns === undefined ? {} : { netns: values.netns }) });
const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: [values.ip] }] });

let status = 0;
try {
  // Subscribing opens the connection (ARP first, then SYN); it emits once established.
  const conn = await firstValueFrom(stack.tcp.connect({ address, port: Number(port) }));
  console.log(`connected ${conn.localAddress}:${conn.localPort} -> ${conn.remoteAddress}:${conn.remotePort}`);

  conn.write(new TextEncoder().encode(values.message));
  conn.end(); // FIN after the message; we still read until the server's FIN

  // Bytes the server sends wait in the receive buffer until read: iterate them, decoded as they
  // come; the loop ends with the server's FIN (and throws ECONNRESET if it resets). A server
  // that never answers is cut off after 10 s.
  let timedOut = false;
  const giveUp = setTimeout(() => {
    timedOut = true;
    conn.destroy();
  }, 10_000);
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of conn) text += decoder.decode(chunk, { stream: true });
  clearTimeout(giveUp);
  if (timedOut) throw new Error('no complete reply within 10 s');
  text += decoder.decode();
  console.log(`reply (${Buffer.byteLength(text)} bytes): ${JSON.stringify(text)}`);
  console.log(`closed (${conn.counters.bytesSent} bytes sent, ${conn.counters.bytesReceived} received)`);
} catch (err) {
  console.error(`connection failed: ${(err as Error).message}`);
  status = 1;
} finally {
  stack.close(); // closes the TAP link too
}
process.exitCode = status;
