/**
 * CPU per inbound frame through the layers alone: one-byte UDP datagrams to a bound socket,
 * Ethernet -> IPv4 -> UDP -> `datagrams$`, on a link of our own that hands them over in batches
 * of 32 from a PacketSubject (as the TAP link does after a wake-up). No reply, no clock, no
 * device: what is left is the layers' input work and how each hands the packet to the next
 * (the inbound hops of docs/pipelines.md "What the composition costs"). Nanoseconds of CPU
 * (user + system, process.cpuUsage) per frame, ROUNDS rounds of N frames after a warm-up,
 * printed with their median. COST_DIST is a compiled tree's dist (`npx tsc -p
 * tsconfig.build.json`): run two trees alternately, pinned, under the bench lock.
 *
 *   COST_DIST=$PWD/dist taskset -c 0 node --import tsx bench/inbound-cost.ts [N=1000000] [ROUNDS=5]
 */
import { batchCost, tenths, udpRequestFrame } from './lib/udp-batch-cost.js';

if (process.env.COST_DIST === undefined) throw new Error('COST_DIST: the dist directory of a compiled tree');
const root = `${process.env.COST_DIST}/`;
const { createStack } = (await import(`${root}streams/stack/create-stack.js`)) as typeof import('../streams/stack/create-stack.js');
const { PacketSubject } = (await import(`${root}streams/pipeline/packet-subject.js`)) as typeof import('../streams/pipeline/packet-subject.js');

const frames = new PacketSubject<Uint8Array>();
const ourMac = new Uint8Array([2, 0, 0, 0, 0, 2]);
const link = { name: 'bench0', mtu: 1500, mac: ourMac, frames$: frames.asObservable(), send(): void {}, close(): void {} };
const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.2/24'] }] });
let received = 0;
stack.udp.bind({ port: 7 }).datagrams$.subscribe(() => received++);

const n = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 5);
const cost = batchCost((f) => frames.next(f), udpRequestFrame(ourMac), n, rounds);
if (received !== cost.pushed) throw new Error(`received ${received} datagrams, sent ${cost.pushed}`);
console.log(JSON.stringify({ nsPerFrame: cost.perFrame.map(tenths), median: tenths(cost.median) }));
stack.close();
