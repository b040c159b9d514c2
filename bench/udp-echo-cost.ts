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

/** 198.18.0.1:12345 -> 198.18.0.2:7, one byte, no UDP checksum (0: none). */
function datagramFrame(): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + 1);
  f.set(ourMac, 0);
  f.set([2, 0, 0, 0, 0, 1, 0x08, 0x00], 6);
  const ip = 14;
  f.set([0x45, 0, 0, 29, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2], ip);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (f[ip + i] << 8) | f[ip + i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const checksum = ~sum & 0xffff;
  f[ip + 10] = checksum >>> 8;
  f[ip + 11] = checksum & 0xff;
  f.set([0x30, 0x39, 0, 7, 0, 9, 0, 0, 0x61], ip + 20);
  return f;
}

const BATCH = 32;
const batch = Array.from({ length: BATCH }, datagramFrame);
function run(n: number): void {
  for (let i = 0; i < n; i += BATCH) for (let j = 0; j < BATCH; j++) frames.next(batch[j]);
}

const n = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 5);
run(200_000);
const perOp: number[] = [];
for (let r = 0; r < rounds; r++) {
  const u0 = process.cpuUsage();
  run(n);
  const u = process.cpuUsage(u0);
  perOp.push(((u.user + u.system) * 1000) / n);
}
const sorted = [...perOp].sort((x, y) => x - y);
if (sent !== 200_000 + rounds * n) throw new Error(`${sent} echoes for ${200_000 + rounds * n} requests`);
console.log(JSON.stringify({ nsPerTransaction: perOp.map((x) => Math.round(x * 10) / 10), median: Math.round(sorted[rounds >> 1] * 10) / 10 }));
service.unsubscribe();
stack.close();
