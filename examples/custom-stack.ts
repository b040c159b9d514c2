/**
 * A stack assembled by hand from the same layers `createStack` uses, with a different shape:
 * no ARP (the one neighbour's MAC is known), no ICMP, no UDP, just TCP, and a tap on the link
 * that counts frames. The other end of the memory wire is an ordinary `createStack`. No root.
 * Run it with:
 *
 *   node --import tsx examples/custom-stack.ts
 *
 *   link ── (tap) ── Ethernet ──── 0x0800 static neighbour ── IPv4 ──── 6 TCP (echo on port 7)
 *
 * Each layer takes the boundary of the layer below (`{ up$, down }`) and offers its own; see
 * docs/pipelines.md for the picture and the contract.
 */
import { asyncScheduler, firstValueFrom, tap } from 'rxjs';
import {
  between, createMemoryWire, createStack, DEFAULT_PROTOCOL_CONFIGS, echoService, EthernetLayer, EtherType, IpProtocol,
  Ipv4Layer, linkBoundary, netInterface, staticNeighbors, TcpLayer,
} from '../streams/index.js';

const [ours, theirs] = createMemoryWire();
const peer = createStack({ interfaces: [{ name: 'eth0', link: theirs, ipv4: ['198.18.0.1/24'] }] });

// --- the hand-made stack: about thirty lines ------------------------------------------------
let frames = 0;
const eth0 = netInterface({ name: 'eth0', link: ours, ipv4: ['198.18.0.2/24'] });
const ethernet = new EthernetLayer(eth0, between(linkBoundary(ours), { up: tap(() => frames++), down: tap(() => frames++) }));
const ipv4 = new Ipv4Layer({ scheduler: asyncScheduler, ...DEFAULT_PROTOCOL_CONFIGS.ipv4 });
// No ARP: every next hop is the peer, whose MAC the memory wire told us.
ipv4.attach(eth0, staticNeighbors(ethernet.protocol(EtherType.IPV4), () => theirs.mac));
const tcp = new TcpLayer(ipv4.protocol(IpProtocol.TCP), asyncScheduler, DEFAULT_PROTOCOL_CONFIGS.tcp);
tcp.start();
const serving = echoService({ tcp }, 7);
const closeOurs = () => {
  serving.unsubscribe();
  tcp.close();
  ipv4.close();
  ethernet.close();
  ours.close();
};
// ---------------------------------------------------------------------------------------------

// Our stack answers no ARP: the peer is told our MAC.
peer.arp.addStatic('198.18.0.2', [...ours.mac].map((b) => b.toString(16).padStart(2, '0')).join(':'));

let status = 0;
try {
  const conn = await firstValueFrom(peer.tcp.connect({ address: '198.18.0.2', port: 7 }));
  const echoed = firstValueFrom(conn.data$);
  conn.write(new TextEncoder().encode('echo from a hand-made stack'));
  console.log(`peer: echo "${new TextDecoder().decode(await echoed)}"`);
  conn.destroy();
  // No ICMP layer: nobody answers a ping.
  const ping = await firstValueFrom(peer.icmp.ping('198.18.0.2', { timeout: 200 })).then(() => 'answered', (e: { code?: string }) => e.code);
  console.log(`peer: ping 198.18.0.2 -> ${ping}`);
  console.log(`ours: the tap counted frames: ${frames > 0}; TCP segments in: ${tcp.counters.rxSegments > 0}; no ARP sent: ${ethernet.counters.txFrames === tcp.counters.txSegments}`);
} catch (err) {
  console.error(`failed: ${(err as Error).message}`);
  status = 1;
} finally {
  peer.close();
  closeOurs();
}
process.exitCode = status;
