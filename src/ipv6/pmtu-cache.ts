/**
 * Path MTU per destination for IPv6 (RFC 8201): routers never fragment IPv6, they answer a
 * packet too big for their next link with Packet Too Big, and the source keeps the lowest MTU
 * it heard of for that destination. Pure: time is passed in; the IPv6 layer owns one.
 *
 * - Never below the IPv6 minimum link MTU, 1280 (RFC 8200 5): a Packet Too Big naming less is
 *   taken as 1280 (RFC 8201 4; no atomic fragments, RFC 8021).
 * - Never raised by a message (RFC 8201 4): only lowered.
 * - Aged back: an entry lives `lifetimeMs` (10 minutes, RFC 8201 5.3's recommendation) after
 *   its last lowering, then the destination is back at the link MTU (a larger path is found
 *   again by sending large packets, which costs one more Packet Too Big if it is still small).
 * - Bounded: at `maxEntries`, the entry lowered longest ago makes room (a peer that can forge
 *   Packet Too Big for many destinations costs us entries, never memory).
 */

import { Ipv6AddressMap } from './address-map.js';
import { IPV6_LIMITS } from './config.js';
import type { Ipv6Addr } from './address.js';

export interface Ipv6PmtuCacheConfig {
  /** How long a lowered MTU is believed, ms (RFC 8201 5.3: at least 5 minutes; 10 recommended). */
  readonly lifetimeMs: number;
  /** Destinations remembered at once. */
  readonly maxEntries: number;
}

export const IPV6_PMTU_DEFAULTS: Readonly<Ipv6PmtuCacheConfig> = Object.freeze({ lifetimeMs: 600_000, maxEntries: 1024 });

interface PmtuEntry {
  readonly addr: Ipv6Addr;
  mtu: number;
  expiresAt: number;
}

/** What a Packet Too Big did to the cache. */
export type PmtuUpdate = 'lowered' | 'notLower';

export class Ipv6PmtuCache {
  readonly #config: Readonly<Ipv6PmtuCacheConfig>;
  readonly #map = new Ipv6AddressMap<PmtuEntry>();
  /** The entries by time of their last lowering, oldest first (a Set keeps insertion order). */
  readonly #byAge = new Set<PmtuEntry>();

  constructor(config: Readonly<Partial<Ipv6PmtuCacheConfig>> = {}) {
    this.#config = { ...IPV6_PMTU_DEFAULTS, ...config };
  }

  get size(): number {
    return this.#map.size;
  }

  /**
   * The path MTU to `dst` (at `bytes[offset..+16)`) if one was learnt and has not aged out,
   * else undefined (use the link's). Costs nothing while the cache is empty.
   */
  get(bytes: Uint8Array, offset: number, now: number): number | undefined {
    if (this.#map.size === 0) return undefined;
    const e = this.#map.get(bytes, offset);
    if (e === undefined) return undefined;
    if (e.expiresAt <= now) {
      this.#drop(e);
      return undefined;
    }
    return e.mtu;
  }

  /**
   * A validated Packet Too Big for `dst` naming `mtu`, while the packets to it were limited to
   * `currentMtu` (the link's, or what the cache said). Lowers (and restarts the entry's age) or
   * changes nothing.
   */
  packetTooBig(dst: Ipv6Addr, mtu: number, currentMtu: number, now: number): PmtuUpdate {
    const taken = Math.max(IPV6_LIMITS.MIN_MTU, mtu);
    const known = this.get(dst, 0, now);
    const limit = known === undefined ? currentMtu : Math.min(known, currentMtu);
    if (taken >= limit) return 'notLower';
    let e = this.#map.get(dst, 0);
    if (e === undefined) {
      if (this.#map.size >= this.#config.maxEntries) {
        const oldest = this.#byAge.values().next().value;
        if (oldest !== undefined) this.#drop(oldest);
      }
      e = { addr: dst.slice(), mtu: taken, expiresAt: now + this.#config.lifetimeMs };
      this.#map.set(e.addr, e);
    } else {
      e.mtu = taken;
      e.expiresAt = now + this.#config.lifetimeMs;
      this.#byAge.delete(e);
    }
    this.#byAge.add(e);
    return 'lowered';
  }

  /** Removes the entries whose age is over; returns how many. */
  expire(now: number): number {
    let n = 0;
    for (const e of this.#byAge) {
      if (e.expiresAt > now) break;
      this.#drop(e);
      n++;
    }
    return n;
  }

  /** When the oldest entry ages out (Infinity when empty). */
  nextDeadline(): number {
    const oldest = this.#byAge.values().next().value;
    return oldest === undefined ? Number.POSITIVE_INFINITY : oldest.expiresAt;
  }

  /** Every entry (for `stack.inet6`-style listings and tests). */
  entries(): { address: Ipv6Addr; mtu: number; expiresAt: number }[] {
    return [...this.#byAge].map((e) => ({ address: e.addr.slice(), mtu: e.mtu, expiresAt: e.expiresAt }));
  }

  clear(): void {
    this.#map.clear();
    this.#byAge.clear();
  }

  #drop(e: PmtuEntry): void {
    this.#map.delete(e.addr);
    this.#byAge.delete(e);
  }
}
