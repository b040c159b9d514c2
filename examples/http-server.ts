/**
 * A node:http server running on the stack, on a TAP device: the kernel (curl, a browser in the
 * namespace...) talks HTTP to the stack's own address. node:http never opens a kernel socket
 * here; each TCP connection the stack accepts is handed to it as a socket (`conn.toSocket()`,
 * a Duplex that behaves like `net.Socket`, with backpressure both ways).
 *
 *   node --import tsx examples/http-server.ts --tap NAME [--netns NS] [--ip 198.18.0.2/24] [--port 80]
 *
 *   GET /        a greeting naming the client's address and port as the stack sees them
 *   GET /stats   the stack's counters as JSON (TCP segments, connections, drops by reason...)
 *
 * It needs root for the TAP device. In a namespace of its own (nothing changed outside it):
 *
 *   sudo ip netns add demo
 *   sudo ip -n demo tuntap add dev rxtap0 mode tap
 *   sudo ip -n demo addr add 198.18.0.1/24 dev rxtap0
 *   sudo ip -n demo link set rxtap0 up
 *   sudo node --import tsx examples/http-server.ts --tap rxtap0 --netns demo
 *   sudo ip netns exec demo curl http://198.18.0.2/ http://198.18.0.2/stats    # another terminal
 *   sudo ip netns del demo                                                     # when done
 *
 * No root? examples/memory-pair.ts runs the same server and a client on an in-memory wire.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createStack, tapLink } from '../streams/index.js';

const { values } = parseArgs({
  options: {
    tap: { type: 'string' },
    netns: { type: 'string' },
    ip: { type: 'string', default: '198.18.0.2/24' },
    port: { type: 'string', default: '80' },
  },
});
if (values.tap === undefined) {
  console.error('usage: http-server.ts --tap NAME [--netns NS] [--ip CIDR] [--port N]');
  process.exit(2);
}
// A TAP device needs root (CAP_NET_ADMIN): say so in one line rather than with a stack trace.
if (process.getuid?.() !== 0) {
  console.error('http-server.ts needs root for its TAP device: run it with sudo or as root (examples/memory-pair.ts needs none)');
  process.exit(1);
}

const link = tapLink({ name: values.tap, ...(values.netns === undefined ? {} : { netns: values.netns }) });
const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: [values.ip] }] });
const port = Number(values.port);

// An ordinary node:http server: routing, keep-alive, chunked bodies all work as usual.
const http = createServer((req, res) => {
  console.log(`${req.socket.remoteAddress}:${req.socket.remotePort} ${req.method} ${req.url}`);
  if (req.url === '/stats') {
    res.setHeader('Content-Type', 'application/json');
    res.end(`${JSON.stringify(stack.stats(), null, 2)}\n`);
  } else if (req.url === '/') {
    res.setHeader('Content-Type', 'text/plain');
    res.end(`hello ${req.socket.remoteAddress}:${req.socket.remotePort}, this is rx-netstack\n`);
  } else {
    res.statusCode = 404;
    res.end('not found\n');
  }
});

// The stack accepts; node:http serves. Unsubscribing stops listening.
const listening = stack.tcp.listen({ port }).subscribe({
  next: (conn) => http.emit('connection', conn.toSocket()),
  error: (err: Error) => console.error(`listen failed: ${err.message}`),
});

const [address] = values.ip.split('/');
console.log(`http server at http://${address}:${port}/ on TAP ${link.name}${values.netns === undefined ? '' : ` in netns ${values.netns}`}`);
console.log('ready');

const stop = (): void => {
  listening.unsubscribe();
  http.close();
  stack.close(); // resets connections still open and closes the TAP link
  console.log('stopped');
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
