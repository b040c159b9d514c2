/**
 * A TCP echo server (RFC 862) on a TAP device: the stack is a host of its own on the link, with
 * its own MAC and address; the kernel (or anything else on the link) connects to it.
 *
 *   node --import tsx examples/echo-server.ts --tap NAME [--netns NS] [--ip 198.18.0.2/24] [--port 7]
 *
 * It needs root (CAP_NET_ADMIN) for the TAP device. To try it in a network namespace of its own,
 * with nothing changed outside it:
 *
 *   sudo ip netns add demo
 *   sudo ip -n demo tuntap add dev rxtap0 mode tap
 *   sudo ip -n demo addr add 198.18.0.1/24 dev rxtap0
 *   sudo ip -n demo link set rxtap0 up
 *   sudo node --import tsx examples/echo-server.ts --tap rxtap0 --netns demo
 *   # another terminal: the kernel side connects
 *   sudo ip netns exec demo python3 -c "import socket; s = socket.create_connection(('198.18.0.2', 7)); \
 *       s.sendall(b'hello'); s.shutdown(socket.SHUT_WR); print(s.recv(100))"
 *   sudo ip netns del demo                       # when done (Ctrl-C the server first)
 *
 * It prints `ready` once listening, a line per connection opened and closed, and stops cleanly on
 * Ctrl-C (SIGINT) or SIGTERM.
 */
import { parseArgs } from 'node:util';
import { EMPTY, catchError, ignoreElements, merge, mergeMap, tap } from 'rxjs';
import { createStack, relayTo, tapLink } from '../streams/index.js';

const { values } = parseArgs({
  options: {
    tap: { type: 'string' },
    netns: { type: 'string' },
    ip: { type: 'string', default: '198.18.0.2/24' },
    port: { type: 'string', default: '7' },
  },
});
if (values.tap === undefined) {
  console.error('usage: echo-server.ts --tap NAME [--netns NS] [--ip CIDR] [--port N]');
  process.exit(2);
}
// A TAP device needs root (CAP_NET_ADMIN): say so in one line rather than with a stack trace.
if (process.getuid?.() !== 0) {
  console.error('echo-server.ts needs root for its TAP device: run it with sudo or as root (examples/memory-pair.ts needs none)');
  process.exit(1);
}

// Opens the TAP device (inside the namespace when --netns is given; this process stays where
// it is). The stack gets its own MAC: the device's MAC belongs to the kernel side.
const link = tapLink({ name: values.tap, ...(values.netns === undefined ? {} : { netns: values.netns }) });
const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: [values.ip] }] });
const port = Number(values.port);

const server = stack.tcp
  .listen({ port })
  .pipe(
    // One inner Observable per connection, all running at once.
    mergeMap((conn) => {
      const peer = `${conn.remoteAddress}:${conn.remotePort}`;
      console.log(`+ ${peer}`);
      const closed$ = conn.closed$.pipe(
        tap((err) => console.log(`- ${peer}: ${conn.counters.bytesReceived} bytes echoed${err ? ` (${err.code})` : ''}`)),
        ignoreElements(),
      );
      // relayTo writes back what it reads and reads no more while a write waits for room in
      // the send buffer (so a client that never reads cannot make us buffer without bound), and
      // answers the client's FIN with ours. A reset ends this connection only: catch it here.
      return merge(conn.data$.pipe(relayTo(conn)), closed$).pipe(catchError(() => EMPTY));
    }),
  )
  .subscribe({ error: (err: Error) => console.error(`listen failed: ${err.message}`) });

const [address] = values.ip.split('/');
console.log(`echo server at ${address}:${port} on TAP ${link.name}${values.netns === undefined ? '' : ` in netns ${values.netns}`}`);
console.log('ready');

const stop = (): void => {
  server.unsubscribe();
  stack.close(); // resets the connections still open and closes the link (the TAP device)
  console.log('stopped');
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
