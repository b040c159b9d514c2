/**
 * Custom packet pipelines (the netfilter idea): a firewall at IPv4 input and a logging tap at
 * link ingress, on in-memory Ethernet wires (no root, no TAP device needed).
 *
 *   alice   198.18.0.1  ==wire==  eth0 198.18.0.2 [server] eth1 198.18.1.2  ==wire==  198.18.1.66  mallory
 *
 * The server gets two hooks, plain RxJS operators:
 * - `link: { up: logFrames() }` sees every frame as it comes off any link, before anything else,
 *   and prints one line per frame (a `tap`: it passes everything on);
 * - `transport: { up: dropFrom(['198.18.1.66']) }` sees every datagram addressed to the server, after
 *   validation and reassembly, before ICMP/UDP/TCP, and drops those from a blocked source
 *   (a `filter`). ARP is below IPv4, so mallory can still resolve the server's MAC.
 *
 * Both clients ping the server: alice gets her replies, mallory times out. Run it with:
 *
 *   node --import tsx examples/firewall.ts
 */
import { filter, lastValueFrom, tap, toArray, type MonoTypeOperatorFunction } from 'rxjs';
import { createMemoryWire, createStack, type Ipv4Datagram, type Stack } from '../streams/index.js';
import { formatIpv4, parseIpv4, formatMac, wire } from '../src/index.js';

/** Drops datagrams whose source is in `blocked`, calling `onDrop` for each. */
function dropFrom(blocked: readonly string[], onDrop: (d: Ipv4Datagram) => void): MonoTypeOperatorFunction<Ipv4Datagram> {
  // Addresses are numbers in the stack: one Set lookup per datagram, no string building.
  const sources = new Set(blocked.map((a) => parseIpv4(a)));
  return filter((d) => {
    if (!sources.has(d.src)) return true;
    onDrop(d);
    return false;
  });
}

/** Prints each frame (a tap: frames pass unchanged). */
function logFrames(print: (line: string) => void): MonoTypeOperatorFunction<Uint8Array> {
  return tap((frame) => print(describeFrame(frame)));
}

/** One line about a frame, tcpdump style, using the stack's own wire parsers. */
function describeFrame(frame: Uint8Array): string {
  const eth = wire.parseEthernet(frame);
  if (!eth.ok) return `runt frame (${frame.length} bytes)`;
  const { src, dst, ethertype, payload } = eth.value;
  const head = `${formatMac(src)} > ${formatMac(dst)}`;
  if (ethertype === wire.EtherType.ARP) {
    const arp = wire.parseArp(payload);
    if (!arp.ok) return `${head} ARP malformed (${arp.reason})`;
    const a = arp.value;
    return a.op === wire.ArpOp.REQUEST
      ? `${head} ARP who-has ${formatIpv4(a.targetIp)} tell ${formatIpv4(a.senderIp)}`
      : `${head} ARP ${formatIpv4(a.senderIp)} is-at ${formatMac(a.senderMac)}`;
  }
  if (ethertype === wire.EtherType.IPV4) {
    const ip = wire.parseIpv4(payload);
    if (!ip.ok) return `${head} IPv4 malformed (${ip.reason})`;
    const v = ip.value;
    const proto = v.protocol === wire.IpProtocol.ICMP ? `ICMP type ${v.payload[0]}` : `protocol ${v.protocol}`;
    return `${head} IPv4 ${formatIpv4(v.src)} > ${formatIpv4(v.dst)} ${proto}, ${v.payload.length} bytes`;
  }
  return `${head} ethertype 0x${ethertype.toString(16).padStart(4, '0')}`;
}

const [aliceLink, serverLink0] = createMemoryWire({ macs: ['02:00:00:00:00:01', '02:00:00:00:00:02'] });
const [malloryLink, serverLink1] = createMemoryWire({ macs: ['02:00:00:00:01:66', '02:00:00:00:01:02'] });

let dropped = 0;
const server = createStack(
  {
    interfaces: [
      { name: 'eth0', link: serverLink0, ipv4: ['198.18.0.2/24'] },
      { name: 'eth1', link: serverLink1, ipv4: ['198.18.1.2/24'] },
    ],
  },
  {
    hooks: {
      link: { up: logFrames((line) => console.log(`[server ingress] ${line}`)) },
      transport: { up: dropFrom(['198.18.1.66'], (d) => {
        dropped++;
        console.log(`[firewall] dropped a datagram from ${formatIpv4(d.src)} to ${formatIpv4(d.dst)} (protocol ${d.protocol})`);
      }) },
    },
  },
);
const alice = createStack({ interfaces: [{ name: 'eth0', link: aliceLink, ipv4: ['198.18.0.1/24'] }] });
const mallory = createStack({ interfaces: [{ name: 'eth0', link: malloryLink, ipv4: ['198.18.1.66/24'] }] });

/** Pings `address` from `from` and prints the outcome. */
async function ping(name: string, from: Stack, address: string): Promise<void> {
  try {
    const replies = await lastValueFrom(from.icmp.ping(address, { count: 3, interval: 100, timeout: 500 }).pipe(toArray()));
    for (const r of replies) console.log(`${name}: reply from ${r.from} seq=${r.seq} ttl=${r.ttl} time=${r.rttMs.toFixed(1)} ms`);
  } catch (err) {
    console.log(`${name}: ${(err as Error).message}`);
  }
}

let status = 0;
try {
  await Promise.all([ping('alice', alice, '198.18.0.2'), ping('mallory', mallory, '198.18.1.2')]);
  const icmp = server.stats().icmp as { rxEchoRequests: number; txEchoReplies: number };
  console.log(`firewall dropped ${dropped} datagrams; server answered ${icmp.txEchoReplies} of ${icmp.rxEchoRequests} echo requests it saw`);
  if (dropped === 0 || icmp.txEchoReplies !== 3) status = 1;
} finally {
  alice.close();
  mallory.close();
  server.close();
}
process.exitCode = status;
