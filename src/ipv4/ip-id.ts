/**
 * IPv4 Identification values (RFC 6864, RFC 7739).
 *
 * - Atomic datagrams (DF set and not fragmented) are never reassembled, so their ID carries no
 *   meaning (RFC 6864 4.1): we send 0, which leaks nothing and uses up no counter space.
 * - Non-atomic datagrams need an ID unique per (src, dst, protocol) for as long as fragments
 *   can live. Like Linux's ip_idents, a table of 16-bit counters is indexed by a keyed hash of
 *   (src, dst, protocol): traffic to one destination advances only its own counter, counters
 *   start at random values, and the hash key is random, so an observer cannot predict or
 *   correlate IDs across destinations (RFC 7739 5.3). As Linux does since 2019, a counter left
 *   idle also skips forward by a random amount below the idle time in ms, so a peer sharing a
 *   bucket cannot count the packets we send elsewhere.
 */

import type { Ipv4Addr } from './address.js';
import { IPV4_OUTPUT_DEFAULTS } from './config.js';

export interface IpIdOptions {
  /** Counters in the table, a power of two. Default IPV4_OUTPUT_DEFAULTS.idTableSize (2048). */
  readonly tableSize?: number;
  /** Source of 32-bit random words (hash key, initial counters, skips). Default: crypto.getRandomValues. */
  readonly random?: () => number;
}

export class IpIdGenerator {
  private readonly counters: Uint16Array;
  /** ms each counter was last used; -1 when never. */
  private readonly lastUse: Float64Array;
  private readonly mask: number;
  private readonly key0: number;
  private readonly key1: number;
  private readonly random: () => number;

  constructor(options: IpIdOptions = {}) {
    const size = options.tableSize ?? IPV4_OUTPUT_DEFAULTS.idTableSize;
    if (!Number.isInteger(size) || size < 1 || (size & (size - 1)) !== 0) {
      throw new RangeError(`IpIdGenerator: tableSize ${size} is not a power of two`);
    }
    this.random = options.random ?? cryptoRandom;
    this.mask = size - 1;
    this.counters = new Uint16Array(size);
    for (let i = 0; i < size; i++) this.counters[i] = this.random() & 0xffff;
    this.lastUse = new Float64Array(size).fill(-1);
    this.key0 = this.random() >>> 0;
    this.key1 = this.random() >>> 0;
  }

  /**
   * The ID for a datagram from `src` to `dst` carrying `protocol`.
   * @param atomic DF set and the datagram goes out in one piece: the ID is 0.
   * @param now ms, for the idle skip; omit to never skip.
   */
  next(src: Ipv4Addr, dst: Ipv4Addr, protocol: number, atomic: boolean, now?: number): number {
    if (atomic) return 0;
    const i = this.bucket(src, dst, protocol);
    let step = 1;
    if (now !== undefined) {
      const last = this.lastUse[i];
      const idle = last < 0 ? 0 : Math.min(Math.floor(now - last), 0x10000);
      if (idle > 1) step += (this.random() >>> 0) % idle;
      this.lastUse[i] = now;
    }
    const id = (this.counters[i] + step) & 0xffff;
    this.counters[i] = id;
    return id;
  }

  /** The table slot (src, dst, protocol) maps to; exposed for tests. */
  bucket(src: Ipv4Addr, dst: Ipv4Addr, protocol: number): number {
    return hash3(src, dst, protocol, this.key0, this.key1) & this.mask;
  }
}

/** A keyed 32-bit mix of three words (murmur3-style rounds and finalizer). */
function hash3(a: number, b: number, c: number, k0: number, k1: number): number {
  let h = k0 ^ 0x9e3779b9;
  h = mixRound(h, a ^ k1);
  h = mixRound(h, b);
  h = mixRound(h, c);
  h ^= 12;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function mixRound(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

const randomWords = new Uint32Array(64);
let randomIndex = randomWords.length;

function cryptoRandom(): number {
  if (randomIndex === randomWords.length) {
    globalThis.crypto.getRandomValues(randomWords);
    randomIndex = 0;
  }
  return randomWords[randomIndex++];
}
