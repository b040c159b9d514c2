/**
 * Per-parser fuzzing: every wire parser gets `inputs` inputs, half of them real headers from
 * the seed corpus (that layer's bytes) with bit flips, byte edits and cuts, half random bytes of
 * random length. A parser must never throw, must answer `{ ok: true, value }` or
 * `{ ok: false, reason }` with a non-empty reason, and every payload it returns must be a view
 * inside the input (parsers do not copy and never read past the end).
 */
import { createRandom, type Random } from '../src/random.js';
import { parseEthernet } from '../src/wire/ethernet.js';
import { parseArp } from '../src/wire/arp.js';
import { parseIpv4 } from '../src/wire/ipv4.js';
import { parseIcmp, parseIcmpQuote } from '../src/wire/icmp.js';
import { parseUdp } from '../src/wire/udp.js';
import { parseTcp } from '../src/wire/tcp.js';
import type { ParseResult } from '../src/wire/parse-result.js';
import { seedCorpus } from './corpus.js';
import { ETH } from './raw.js';

type Parser = (bytes: Uint8Array, src: number, dst: number) => ParseResult<unknown>;

interface ParserCase {
  readonly name: string;
  readonly parse: Parser;
  /** Real inputs of this layer, cut from the corpus. */
  readonly seeds: Uint8Array[];
}

export interface ParserFuzzResult {
  readonly inputs: number;
  readonly elapsedMs: number;
  readonly failures: string[];
  readonly perParser: Readonly<Record<string, number>>;
}

function layerSeeds(): Record<string, Uint8Array[]> {
  const out: Record<string, Uint8Array[]> = { ethernet: [], arp: [], ipv4: [], icmp: [], quote: [], udp: [], tcp: [] };
  for (const { bytes } of seedCorpus()) {
    out.ethernet.push(bytes);
    const type = (bytes[12] << 8) | bytes[13];
    if (type === 0x0806) out.arp.push(bytes.subarray(ETH));
    if (type !== 0x0800) continue;
    const ip = bytes.subarray(ETH);
    out.ipv4.push(ip);
    const ihl = (ip[0] & 15) * 4;
    const total = (ip[2] << 8) | ip[3];
    const fragment = ((ip[6] << 8) | ip[7]) & 0x3fff;
    const payload = ip.subarray(ihl, total);
    if (fragment !== 0) continue;
    if (ip[9] === 1) {
      out.icmp.push(payload);
      if (payload[0] === 3) out.quote.push(payload.subarray(8));
    } else if (ip[9] === 17) out.udp.push(payload);
    else if (ip[9] === 6) out.tcp.push(payload);
  }
  // Every layer has at least one seed (a quote of a TCP header if the corpus had no error).
  if (out.quote.length === 0) out.quote.push(out.ipv4[0].subarray(0, 28));
  return out;
}

function cases(): ParserCase[] {
  const s = layerSeeds();
  return [
    { name: 'ethernet', parse: (b) => parseEthernet(b), seeds: s.ethernet },
    { name: 'arp', parse: (b) => parseArp(b), seeds: s.arp },
    { name: 'ipv4', parse: (b) => parseIpv4(b), seeds: s.ipv4 },
    { name: 'icmp', parse: (b) => parseIcmp(b), seeds: s.icmp },
    { name: 'icmp-quote', parse: (b) => parseIcmpQuote(b), seeds: s.quote },
    { name: 'udp', parse: (b, src, dst) => parseUdp(b, src, dst), seeds: s.udp },
    { name: 'tcp', parse: (b, src, dst) => parseTcp(b, src, dst), seeds: s.tcp },
  ];
}

/** One input into `buf`: a mutated seed or random bytes; returns the view to parse. */
function input(rng: Random, seeds: readonly Uint8Array[], buf: Uint8Array): Uint8Array {
  let len: number;
  if (rng.next() < 0.5) {
    const seed = seeds[rng.below(seeds.length)];
    len = Math.min(seed.length, buf.length);
    buf.set(seed.subarray(0, len));
    const edits = 1 + rng.below(6);
    for (let e = 0; e < edits && len > 0; e++) {
      const at = rng.below(Math.min(len, 64));
      const r = rng.below(4);
      if (r === 0) buf[at] ^= 1 << rng.below(8);
      else if (r === 1) buf[at] = rng.below(256);
      else if (r === 2) buf[at] = rng.next() < 0.5 ? 0 : 0xff;
      else len = rng.below(len + 1);
    }
  } else {
    len = rng.next() < 0.8 ? rng.below(80) : rng.below(buf.length);
    for (let i = 0; i < len; i++) buf[i] = rng.below(256);
  }
  // A fresh view each time at a random offset: parsers must respect byteOffset.
  const offset = rng.below(4);
  buf.copyWithin(offset, 0, len);
  return buf.subarray(offset, offset + len);
}

/** True when every Uint8Array inside `value` (one level of records deep) lies inside `input`. */
function viewsInside(value: unknown, input: Uint8Array, depth = 0): boolean {
  if (value instanceof Uint8Array) {
    if (value.buffer !== input.buffer) return true; // a copy (MAC addresses may be copied): fine
    return value.byteOffset >= input.byteOffset && value.byteOffset + value.length <= input.byteOffset + input.length;
  }
  if (value === null || typeof value !== 'object' || depth > 2) return true;
  for (const v of Object.values(value)) if (!viewsInside(v, input, depth + 1)) return false;
  return true;
}

export function fuzzParsers(o: { readonly inputs: number; readonly seed: number; readonly log?: (line: string) => void }): ParserFuzzResult {
  const rng = createRandom(o.seed);
  const failures: string[] = [];
  const perParser: Record<string, number> = {};
  const buf = new Uint8Array(2100);
  const started = performance.now();
  let total = 0;
  for (const c of cases()) {
    const t0 = performance.now();
    let done = 0;
    for (; done < o.inputs && failures.length < 50; done++) {
      const bytes = input(rng, c.seeds, buf);
      const src = rng.next() < 0.5 ? 0xc6120003 : rng.uint32();
      const dst = rng.next() < 0.5 ? 0xc6120001 : rng.uint32();
      let r: ParseResult<unknown>;
      try {
        r = c.parse(bytes, src, dst);
      } catch (err) {
        failures.push(`${c.name}: threw ${String(err)} on ${hex(bytes)}`);
        continue;
      }
      if (r.ok) {
        if (r.value === undefined || r.value === null) failures.push(`${c.name}: ok without a value on ${hex(bytes)}`);
        else if (!viewsInside(r.value, bytes)) failures.push(`${c.name}: a view outside the input on ${hex(bytes)}`);
      } else if (typeof r.reason !== 'string' || r.reason.length === 0) {
        failures.push(`${c.name}: malformed without a reason on ${hex(bytes)}`);
      }
    }
    total += done;
    perParser[c.name] = done;
    const s = (performance.now() - t0) / 1000;
    o.log?.(`  ${c.name}: ${done} inputs, ${Math.round(done / s)}/s`);
  }
  return { inputs: total, elapsedMs: performance.now() - started, failures, perParser };
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.subarray(0, 80)).toString('hex') + (b.length > 80 ? '...' : '');
}
