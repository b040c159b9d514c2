/**
 * CPU per UDP request/response through the layers alone, both ways: a one-byte UDP datagram
 * comes in (Ethernet -> IPv4 -> UDP -> the echo service of `rx-netstack serve`), and its echo
 * goes back down (UDP -> IPv4 -> ARP's resolver -> Ethernet) to a link of our own that only
 * counts it. Frames arrive in batches of 32 from a PacketSubject (as the TAP link hands them
 * over after a wake-up); the peer is a static ARP neighbour. No device, no clock read (the
 * loop is one task): what is left is the stack's own JavaScript per transaction, the figure
 * inbound-cost.ts gives for the way in alone. Nanoseconds of CPU (user + system,
 * process.cpuUsage) per transaction, ROUNDS rounds of N after a warm-up, with their median.
 * COST_DIST is a compiled tree's dist (`npx tsc -p tsconfig.build.json`): run two trees
 * alternately, pinned, under the bench lock.
 *
 *   COST_DIST=$PWD/dist taskset -c 0 node --import tsx bench/udp-echo-cost.ts [N=1000000] [ROUNDS=5]
 */
import { batchCost, tenths, udpRequestFrame } from './lib/udp-batch-cost.js';

if (process.env.COST_DIST === undefined) throw new Error('COST_DIST: the dist directory of a compiled tree');
const root = `${process.env.COST_DIST}/`;
const { createStack } = (await import(`${root}streams/stack/create-stack.js`)) as typeof import('../streams/stack/create-stack.js');
const { PacketSubject } = (await import(`${root}streams/pipeline/packet-subject.js`)) as typeof import('../streams/pipeline/packet-subject.js');
const { udpEchoService } = (await import(`${root}streams/services/udp-echo.js`)) as typeof import('../streams/services/udp-echo.js');

const frames = new PacketSubject<Uint8Array>();
const ourMac = new Uint8Array([2, 0, 0, 0, 0, 2]);
let sent = 0;
// The echoes: 14 + 20 + 8 + 1 bytes, IPv4 (the stack's gratuitous ARP is not counted).
const count = (frame: Uint8Array): void => {
  if (frame.length === 43 && frame[12] === 0x08 && frame[13] === 0x00) sent++;
};
const link = { name: 'bench0', mtu: 1500, mac: ourMac, frames$: frames.asObservable(), send: count, close(): void {} };
const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.2/24'] }] });
stack.arp.addStatic('198.18.0.1', '02:00:00:00:00:01');
const service = udpEchoService(stack, 7, { address: '0.0.0.0' });

const n = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 5);
const cost = batchCost((f) => frames.next(f), udpRequestFrame(ourMac), n, rounds);
if (sent !== cost.pushed) throw new Error(`${sent} echoes for ${cost.pushed} requests`);
console.log(JSON.stringify({ nsPerTransaction: cost.perFrame.map(tenths), median: tenths(cost.median) }));
service.unsubscribe();
stack.close();
