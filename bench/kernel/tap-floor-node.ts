/**
 * The floor for request/response over a TAP device in Node: what tap-floor.c does (turn ARP
 * requests, ICMP echo requests and UDP datagrams to the echo port around in place and write
 * them back), in JavaScript on the project's own TAP addon (native/rx-tap.c): the same libuv
 * poll, receive slabs, batch callback and write() the stack uses, and nothing of the stack.
 * The difference between it and tap-floor.c is what Node and the addon cost per transaction;
 * the difference between it and `rx-netstack serve` is what the stack costs.
 *
 *   ip netns exec NS node --import tsx bench/kernel/tap-floor-node.ts TAP IPV4 MAC UDP_PORT [BATCH_LIMIT]
 *
 * BATCH_LIMIT (the addon's batchLimit, default 256): most frames read per wake-up; with 1 the
 * addon reads one frame per wake-up and skips the read that ends each batch with EAGAIN.
 *
 * Prints "ready" once attached; runs until SIGTERM/SIGINT, then prints one JSON line with the
 * frames it answered. One allocation per frame: its view, as TapDevice makes it.
 */
import { loadTapAddon } from '../../streams/links/tap-native.js';

const [tapName, ipText, macText, portText, batchText] = process.argv.slice(2);
if (portText === undefined) {
  process.stderr.write('usage: tap-floor-node.ts TAP IPV4 MAC UDP_PORT\n');
  process.exit(2);
}
const ip = Uint8Array.from(ipText.split('.').map(Number));
const mac = Uint8Array.from(macText.split(':').map((h) => parseInt(h, 16)));
const port = Number(portText);
const ip32 = ((ip[0] << 24) | (ip[1] << 16) | (ip[2] << 8) | ip[3]) >>> 0;
let answered = 0;
let ignored = 0;

function isOurIp(f: Uint8Array, at: number): boolean {
  return ((f[at] << 24) | (f[at + 1] << 16) | (f[at + 2] << 8) | f[at + 3]) >>> 0 === ip32;
}

function swapBytes(f: Uint8Array, a: number, b: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const t = f[a + i];
    f[a + i] = f[b + i];
    f[b + i] = t;
  }
}

/** As tap-floor.c's turn_around: true when `f` now holds the reply. */
function turnAround(f: Uint8Array): boolean {
  if (f.length < 42) return false;
  const type = (f[12] << 8) | f[13];
  if (type === 0x0806) {
    // ARP from 14: op +6, sha +8, spa +14, tha +18, tpa +24.
    if (f[20] !== 0 || f[21] !== 1 || !isOurIp(f, 38)) return false;
    f.copyWithin(0, 6, 12);
    f.set(mac, 6);
    f[21] = 2;
    f.copyWithin(32, 22, 32);
    f.set(mac, 22);
    f.set(ip, 28);
    return true;
  }
  if (type !== 0x0800 || f[14] !== 0x45 || !isOurIp(f, 30)) return false;
  const proto = f[23];
  if (proto === 1) {
    if (f[34] !== 8) return false;
    f[34] = 0;
    let sum = ((f[36] << 8) | f[37]) + 0x0800; // the type went from 8 to 0 (RFC 1624)
    sum = (sum & 0xffff) + (sum >>> 16);
    f[36] = sum >>> 8;
    f[37] = sum & 0xff;
  } else if (proto === 17) {
    if (((f[36] << 8) | f[37]) !== port) return false;
    swapBytes(f, 34, 36, 2);
  } else {
    return false;
  }
  swapBytes(f, 26, 30, 4);
  swapBytes(f, 0, 6, 6);
  f.set(mac, 6);
  return true;
}

const addon = loadTapAddon();
const tap = new addon.TapHandle(tapName, undefined, batchText === undefined ? {} : { batchLimit: Number(batchText) });
const lengths = tap.lengths;
const batch = tap.batch;
const sendFrame = tap.sendFrame;

function answer(frame: Uint8Array): void {
  if (!turnAround(frame)) {
    ignored++;
    return;
  }
  if (sendFrame(frame) >= 0) answered++;
}

tap.start(
  (slab) => {
    let off = batch[0];
    const count = batch[1];
    for (let i = 0; i < count; i++) {
      const len = lengths[i];
      answer(new Uint8Array(slab, off, len));
      off += len;
    }
  },
  (error) => {
    process.stderr.write(`tap-floor-node: ${error.message}\n`);
    process.exit(1);
  },
);
// TAP_FLOOR_TICK_MS (wake-rungs.ts's node-tick rung): an empty timer every that many ms, a
// wake-up of its own that may pay for what a wake-up after DAMON's pass costs before a frame does.
const tickMs = Number(process.env.TAP_FLOOR_TICK_MS ?? 0);
if (tickMs > 0) setInterval(() => {}, tickMs);
process.stdout.write('ready\n');
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    tap.close();
    process.stdout.write(`${JSON.stringify({ answered, ignored })}\n`);
    process.exit(0);
  });
}
