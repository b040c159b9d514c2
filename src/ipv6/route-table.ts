/**
 * IPv6 routes beyond an interface's own prefixes: the configured ones, on-link prefixes and
 * default routers learnt from router advertisements, and host routes from redirects. Longest
 * prefix wins; at equal length a configured route beats a learnt one (the user said so), and
 * otherwise the route added first.
 *
 * A linear scan, ordered at insertion: a host has a handful of IPv6 routes, and the scan costs
 * less than anything cleverer at that size. (A table per prefix length over `Ipv6AddressMap`s,
 * as docs/ipv6.md plans, is the next step if routers ever need it.)
 */

import { ipv6Equals, ipv6InPrefix, ipv6Network, type Ipv6Addr } from './address.js';

/** Where a route came from. */
export type Ipv6RouteOrigin = 'static' | 'ra' | 'redirect';

export interface Ipv6RouteEntry {
  /** The prefix, host bits zero (a private copy). */
  readonly destination: Ipv6Addr;
  readonly prefixLength: number;
  /** Next hop; undefined: the destination is on-link. */
  readonly gateway: Ipv6Addr | undefined;
  readonly interfaceIndex: number;
  readonly origin: Ipv6RouteOrigin;
}

export class Ipv6RouteTable {
  readonly #routes: Ipv6RouteEntry[] = [];
  /** Bumped by every change: whoever caches a lookup compares it (see Ipv6Layer's route cache). */
  #version = 0;

  /** Changes so far (adds, and removals that removed something): a cached lookup is good while this stays. */
  get version(): number {
    return this.#version;
  }

  get size(): number {
    return this.#routes.length;
  }

  /** Adds a route (replacing one with the same destination, interface and origin). */
  add(route: Ipv6RouteEntry): void {
    const destination = ipv6Network(route.destination, route.prefixLength);
    this.remove((r) => r.interfaceIndex === route.interfaceIndex && r.origin === route.origin && r.prefixLength === route.prefixLength && ipv6Equals(r.destination, destination));
    const entry: Ipv6RouteEntry = Object.freeze({ ...route, destination, gateway: route.gateway?.slice() });
    // Ordered by prefix length (longest first), configured before learnt, then by age.
    const rank = (r: Ipv6RouteEntry) => r.prefixLength * 2 + (r.origin === 'static' ? 1 : 0);
    let i = 0;
    while (i < this.#routes.length && rank(this.#routes[i]) >= rank(entry)) i++;
    this.#routes.splice(i, 0, entry);
    this.#version++;
  }

  /** Removes the routes `match` accepts; how many went. */
  remove(match: (r: Ipv6RouteEntry) => boolean): number {
    let n = 0;
    for (let i = this.#routes.length - 1; i >= 0; i--) {
      if (!match(this.#routes[i])) continue;
      this.#routes.splice(i, 1);
      n++;
    }
    if (n > 0) this.#version++;
    return n;
  }

  /** The best route to `dst`, or undefined. */
  lookup(dst: Ipv6Addr): Ipv6RouteEntry | undefined {
    const list = this.#routes;
    for (let i = 0; i < list.length; i++) if (ipv6InPrefix(dst, 0, list[i].destination, list[i].prefixLength)) return list[i];
    return undefined;
  }

  entries(): Ipv6RouteEntry[] {
    return [...this.#routes];
  }
}
