/**
 * A NAT-like address rewrite between IPv4 and TCP, on two stacks over the memory wire (no
 * root). The server stack's TCP never sees the client's real address 198.18.0.1: operators
 * inserted at the boundary between IPv4 and the transports map it to 10.1.0.1 on the way up
 * and back on the way down, for TCP datagrams, fixing the TCP checksum incrementally
 * (RFC 1624), as a NAT or a VPN that maps remote addresses into a local range does. Run it with:
 *
 *   node --import tsx examples/nat.ts
 *
 *   client 198.18.0.1 ==memory wire== 198.18.0.2 [IPv4 | rewrite 198.18.0.1 <-> 10.1.0.1 | TCP]
 *
 * `hooks.transport` inserts the two `map` operators with `between()` where createStack joins
 * IPv4 and its transports; a stack assembled by hand can put them on protocol 6's boundary
 * alone: `new TcpLayer(between(ipv4.protocol(6), { up, down }), ...)` (docs/pipelines.md).
 */
import { firstValueFrom, map, mergeMap } from 'rxjs';
import {
  adjustChecksum, createMemoryWire, createStack, echoConnection, ipv4Addr, IpProtocol, type Ipv4Datagram, type Ipv4Send,
} from '../streams/index.js';

const REAL = ipv4Addr('198.18.0.1');
const MAPPED = ipv4Addr('10.1.0.1');
/** The TCP checksum field: offset 16 of the TCP header. */
const TCP_CHECKSUM = 16;

/** Inbound: the client's address becomes MAPPED; the checksum follows the pseudo-header. */
function mapSource(d: Ipv4Datagram): Ipv4Datagram {
  if (d.protocol !== IpProtocol.TCP || d.src !== REAL) return d;
  const payload = d.payload.slice(); // the frame's bytes stay as they came
  const old = (payload[TCP_CHECKSUM] << 8) | payload[TCP_CHECKSUM + 1];
  const sum = adjustChecksum(old, REAL, MAPPED);
  payload[TCP_CHECKSUM] = sum >>> 8;
  payload[TCP_CHECKSUM + 1] = sum & 0xff;
  return { ...d, src: MAPPED, payload };
}

/** Outbound: segments to MAPPED go to the real client again. */
function unmapDestination(s: Ipv4Send): Ipv4Send {
  if (s.protocol !== IpProtocol.TCP || s.dst !== MAPPED) return s;
  // Under an inserted operator the TCP layer writes whole checksums (never partial ones).
  const b = s.pb.buf;
  const at = s.pb.head + TCP_CHECKSUM;
  const sum = adjustChecksum((b[at] << 8) | b[at + 1], MAPPED, REAL);
  b[at] = sum >>> 8;
  b[at + 1] = sum & 0xff;
  return { ...s, dst: REAL };
}

const [serverLink, clientLink] = createMemoryWire();
const server = createStack(
  { interfaces: [{ name: 'eth0', link: serverLink, ipv4: ['198.18.0.2/24'] }] },
  { hooks: { transport: { up: map(mapSource), down: map(unmapDestination) } } },
);
const client = createStack({ interfaces: [{ name: 'eth0', link: clientLink, ipv4: ['198.18.0.1/24'] }] });

// The server's TCP: an echo service that says whom it believes it talks to.
const listening = server.tcp
  .listen({ port: 7 })
  .pipe(
    mergeMap((conn) => {
      console.log(`server: connection from ${conn.remoteAddress}`);
      return echoConnection(conn);
    }),
  )
  .subscribe();

let status = 0;
try {
  const conn = await firstValueFrom(client.tcp.connect({ address: '198.18.0.2', port: 7 }));
  console.log(`client: connected from ${conn.localAddress} to ${conn.remoteAddress}:${conn.remotePort}`);
  const echoed = firstValueFrom(conn.data$);
  conn.write(new TextEncoder().encode('hello through the NAT'));
  console.log(`client: echo "${new TextDecoder().decode(await echoed)}"`);
  console.log(`server: checksum errors ${server.stats().tcp.drops['badChecksum']}`);
  conn.destroy();
} catch (err) {
  console.error(`failed: ${(err as Error).message}`);
  status = 1;
} finally {
  listening.unsubscribe();
  client.close();
  server.close();
}
process.exitCode = status;
