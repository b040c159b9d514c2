/**
 * A map from IPv6 address to a value, looked up straight from the bytes of a packet: no key
 * string, no copy, no allocation per lookup. The hot-path table for everything keyed by an IPv6
 * address (our own addresses, the neighbour cache, the address interner that gives the endpoint
 * table its numeric keys; see docs/ipv6.md for why this beat string keys and nested maps).
 *
 * Layout: a Map<number, Slot> keyed by a hash of the address's four 32-bit words, seeded with a
 * per-table secret so that a peer choosing source addresses cannot easily aim them all at one
 * bucket; each bucket is a short chain whose entries keep their words, so a hit costs four
 * integer compares. Stored addresses are private copies.
 */

import { IPV6_ADDR_LEN, ipv6HashWords, type Ipv6Addr } from './address.js';

interface Slot<V> {
  readonly addr: Ipv6Addr;
  /** The address as four int32 words (signed: what `|` yields), compared instead of 16 bytes. */
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  value: V;
  next: Slot<V> | undefined;
}

function word(b: Uint8Array, i: number): number {
  return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3];
}

function randomSeed(): number {
  const w = new Uint32Array(1);
  globalThis.crypto.getRandomValues(w);
  return w[0];
}

export class Ipv6AddressMap<V> {
  readonly #buckets = new Map<number, Slot<V>>();
  readonly #seed: number;
  #size = 0;

  /** `seed`: the hash secret (default: 32 random bits). Pass one only for reproducible tests. */
  constructor(seed: number = randomSeed()) {
    this.#seed = seed;
  }

  get size(): number {
    return this.#size;
  }

  /** The value stored for the address at `bytes[offset..offset+16)`, or undefined. */
  get(bytes: Uint8Array, offset = 0): V | undefined {
    const s = this.#find(bytes, offset);
    return s === undefined ? undefined : s.value;
  }

  has(bytes: Uint8Array, offset = 0): boolean {
    return this.#find(bytes, offset) !== undefined;
  }

  #find(b: Uint8Array, o: number): Slot<V> | undefined {
    const w0 = word(b, o);
    const w1 = word(b, o + 4);
    const w2 = word(b, o + 8);
    const w3 = word(b, o + 12);
    for (let s = this.#buckets.get(ipv6HashWords(this.#seed, w0, w1, w2, w3)); s !== undefined; s = s.next) {
      if (s.w3 === w3 && s.w2 === w2 && s.w1 === w1 && s.w0 === w0) return s;
    }
    return undefined;
  }

  /** Stores `value` for `addr` (copied), replacing any value it had. */
  set(addr: Ipv6Addr, value: V): this {
    const found = this.#find(addr, 0);
    if (found !== undefined) {
      found.value = value;
      return this;
    }
    const w0 = word(addr, 0);
    const w1 = word(addr, 4);
    const w2 = word(addr, 8);
    const w3 = word(addr, 12);
    const h = ipv6HashWords(this.#seed, w0, w1, w2, w3);
    const head = this.#buckets.get(h);
    this.#buckets.set(h, { addr: addr.slice(0, IPV6_ADDR_LEN), w0, w1, w2, w3, value, next: head });
    this.#size++;
    return this;
  }

  /** Removes `addr`; true when it was there. */
  delete(addr: Ipv6Addr): boolean {
    const target = this.#find(addr, 0);
    if (target === undefined) return false;
    const h = ipv6HashWords(this.#seed, target.w0, target.w1, target.w2, target.w3);
    let prev: Slot<V> | undefined;
    for (let s = this.#buckets.get(h); s !== undefined; prev = s, s = s.next) {
      if (s !== target) continue;
      if (prev !== undefined) prev.next = s.next;
      else if (s.next !== undefined) this.#buckets.set(h, s.next);
      else this.#buckets.delete(h);
      this.#size--;
      return true;
    }
    return false;
  }

  clear(): void {
    this.#buckets.clear();
    this.#size = 0;
  }

  /** Every (address, value) pair; the addresses are the map's own copies: do not write into them. */
  *entries(): IterableIterator<[Ipv6Addr, V]> {
    for (const head of this.#buckets.values()) {
      for (let s: Slot<V> | undefined = head; s !== undefined; s = s.next) yield [s.addr, s.value];
    }
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }
}
