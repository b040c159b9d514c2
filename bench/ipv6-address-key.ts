/**
 * Per-lookup cost of the ways to key a table by an IPv6 address read from a packet (the choice
 * docs/ipv6.md records). Each lookup starts from 16 bytes inside a received buffer, as the IPv6
 * layer has them, and finds the value stored for that address among N:
 *
 * - ipv4 number: the IPv4 baseline, a Map<number> keyed by the uint32 read from the bytes;
 * - latin1 string: a 16-character string built from the bytes, Map<string>;
 * - canonical text: formatIpv6, Map<string> (what a naive port would do);
 * - nested words: four Map<number> levels, one per 32-bit word;
 * - hash + compare: Ipv6AddressMap (seeded hash of the four words, exact byte compare).
 *
 * Run: node --import tsx bench/ipv6-address-key.ts [N] [lookups]
 */
import { formatIpv6, ipv6Word } from '../src/ipv6/address.js';
import { Ipv6AddressMap } from '../src/ipv6/address-map.js';
import { createRandom } from '../src/random.js';
import { median, nowNs } from './lib/stats.js';

const N = Number(process.argv[2] ?? 1000);
const LOOKUPS = Number(process.argv[3] ?? 1_000_000);
const RUNS = 5;

const rng = createRandom(7);
// Addresses share a /64 prefix, as neighbours and peers on one link do.
const addrs: Uint8Array[] = [];
for (let i = 0; i < N; i++) {
  const a = new Uint8Array(16);
  a.set([0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0, 0]);
  for (let j = 8; j < 16; j++) a[j] = rng.below(256);
  addrs.push(a);
}
// The "packets": each address at offset 8 (an IPv6 source field) of its own 40-byte header.
const packets = addrs.map((a) => {
  const p = new Uint8Array(40);
  p.set(a, 8);
  return p;
});
const order = Array.from({ length: LOOKUPS }, () => rng.below(N));

function latin1(b: Uint8Array, o: number): string {
  return String.fromCharCode(b[o], b[o + 1], b[o + 2], b[o + 3], b[o + 4], b[o + 5], b[o + 6], b[o + 7],
    b[o + 8], b[o + 9], b[o + 10], b[o + 11], b[o + 12], b[o + 13], b[o + 14], b[o + 15]);
}

const v4 = new Map<number, number>();
const byLatin1 = new Map<string, number>();
const byText = new Map<string, number>();
const nested = new Map<number, Map<number, Map<number, Map<number, number>>>>();
const hashed = new Ipv6AddressMap<number>(12345);
addrs.forEach((a, i) => {
  v4.set(ipv6Word(a, 0, 3), i);
  byLatin1.set(latin1(a, 0), i);
  byText.set(formatIpv6(a), i);
  let m1 = nested.get(ipv6Word(a, 0, 0));
  if (!m1) nested.set(ipv6Word(a, 0, 0), (m1 = new Map()));
  let m2 = m1.get(ipv6Word(a, 0, 1));
  if (!m2) m1.set(ipv6Word(a, 0, 1), (m2 = new Map()));
  let m3 = m2.get(ipv6Word(a, 0, 2));
  if (!m3) m2.set(ipv6Word(a, 0, 2), (m3 = new Map()));
  m3.set(ipv6Word(a, 0, 3), i);
  hashed.set(a, i);
});

// One loop per case, written out: a shared loop calling each lookup through one call site would
// turn megamorphic after the second case and penalise the later ones.
const timed: Record<string, () => number> = {
  'ipv4 number (baseline)': () => {
    let c = 0;
    for (let i = 0; i < LOOKUPS; i++) c += v4.get(ipv6Word(packets[order[i]], 8, 3)) ?? 0;
    return c;
  },
  'latin1 string': () => {
    let c = 0;
    for (let i = 0; i < LOOKUPS; i++) c += byLatin1.get(latin1(packets[order[i]], 8)) ?? 0;
    return c;
  },
  'canonical text': () => {
    let c = 0;
    for (let i = 0; i < LOOKUPS; i++) c += byText.get(formatIpv6(packets[order[i]], 8)) ?? 0;
    return c;
  },
  'nested words': () => {
    let c = 0;
    for (let i = 0; i < LOOKUPS; i++) {
      const p = packets[order[i]];
      c += nested.get(ipv6Word(p, 8, 0))?.get(ipv6Word(p, 8, 1))?.get(ipv6Word(p, 8, 2))?.get(ipv6Word(p, 8, 3)) ?? 0;
    }
    return c;
  },
  'hash + compare': () => {
    let c = 0;
    for (let i = 0; i < LOOKUPS; i++) c += hashed.get(packets[order[i]], 8) ?? 0;
    return c;
  },
};

for (const [name, loop] of Object.entries(timed)) {
  const runs: number[] = [];
  let check = 0;
  for (let r = 0; r < RUNS; r++) {
    const t0 = nowNs();
    check += loop();
    runs.push((nowNs() - t0) / LOOKUPS);
  }
  console.log(`${name.padEnd(24)} ${median(runs).toFixed(1).padStart(6)} ns/lookup  (N=${N}, check ${check % 997})`);
}
