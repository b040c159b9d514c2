/**
 * CPU per ping through the layers alone, both ways: an ICMP echo request as ping(8) sends it
 * by default (56 bytes of data) comes in (Ethernet -> IPv4 -> ICMP), and the echo reply goes
 * back down to a link of our own that only counts it. The same measurement as
 * bench/udp-echo-cost.ts (batches of 32 from a PacketSubject, a static ARP neighbour, no
 * device, no clock read): the stack's own JavaScript per echo. Nanoseconds of CPU (user +
 * system, process.cpuUsage) per echo, ROUNDS rounds of N after a warm-up, with their median.
 * COST_DIST is a compiled tree's dist (`npx tsc -p tsconfig.build.json`): run two trees
 * alternately, pinned, under the bench lock.
 *
 *   COST_DIST=$PWD/dist taskset -c 0 node --import tsx bench/icmp-echo-cost.ts [N=1000000] [ROUNDS=5]
 */
import { batchCost, tenths } from './lib/udp-batch-cost.js';
import { internetChecksum } from '../src/wire/checksum.js';

if (process.env.COST_DIST === undefined) throw new Error('COST_DIST: the dist directory of a compiled tree');
const root = `${process.env.COST_DIST}/`;
const { createStack } = (await import(`${root}streams/stack/create-stack.js`)) as typeof import('../streams/stack/create-stack.js');
const { PacketSubject } = (await import(`${root}streams/pipeline/packet-subject.js`)) as typeof import('../streams/pipeline/packet-subject.js');

/** 198.18.0.1 (MAC 02:00:00:00:00:01) -> 198.18.0.2 at `dstMac`: echo request, id 0x1234, seq 1, 56 bytes. */
function echoRequestFrame(dstMac: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + 56);
  f.set(dstMac, 0);
  f.set([2, 0, 0, 0, 0, 1, 0x08, 0x00], 6);
  const ip = 14;
  f.set([0x45, 0, 0, 84, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2], ip);
  const ipSum = internetChecksum(f, ip, 20);
  f[ip + 10] = ipSum >>> 8;
  f[ip + 11] = ipSum & 0xff;
  const icmp = ip + 20;
  f.set([8, 0, 0, 0, 0x12, 0x34, 0, 1], icmp);
  for (let i = 0; i < 56; i++) f[icmp + 8 + i] = i;
  const sum = internetChecksum(f, icmp, 64);
  f[icmp + 2] = sum >>> 8;
  f[icmp + 3] = sum & 0xff;
  return f;
}

const frames = new PacketSubject<Uint8Array>();
const ourMac = new Uint8Array([2, 0, 0, 0, 0, 2]);
let sent = 0;
// The replies: 98 bytes, IPv4 (the stack's gratuitous ARP is not counted). A link with a
// room in front (sendInRoom) gets the frame after its room.
const count = (frame: Uint8Array): void => {
  if (frame.length === 98 && frame[12] === 0x08 && frame[13] === 0x00) sent++;
};
const link = { name: 'bench0', mtu: 1500, mac: ourMac, frames$: frames.asObservable(), send: count, close(): void {} };
const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.2/24'] }] });
stack.arp.addStatic('198.18.0.1', '02:00:00:00:00:01');

const n = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 5);
const cost = batchCost((f) => frames.next(f), echoRequestFrame(ourMac), n, rounds);
if (sent !== cost.pushed) throw new Error(`${sent} echo replies for ${cost.pushed} requests`);
console.log(JSON.stringify({ nsPerEcho: cost.perFrame.map(tenths), median: tenths(cost.median) }));
stack.close();
