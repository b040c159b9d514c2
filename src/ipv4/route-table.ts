/**
 * The IPv4 route table: longest-prefix match over routes with optional gateways and metrics
 * (RFC 1122 3.3.1 for a host: on-link subnets, a default gateway, more specific routes).
 *
 * Structure: one Map per prefix length (0..32), keyed by the masked network number, plus the
 * list of prefix lengths in use, longest first. A lookup masks the destination once per length
 * in use and does one Map lookup each: at most 33 lookups whatever the number of routes, no
 * allocation for gateway routes, and add/remove are O(1) plus a sort of at most 33 numbers.
 * A sorted array of routes would cost O(routes) per lookup; a trie would save little at this
 * size and costs pointer chasing. Within one prefix the lowest metric wins, then the earliest added.
 *
 * Broadcasts are the caller's business: 255.255.255.255 goes out of the interface it is sent
 * on, and `isDirectedBroadcast` tells whether an on-link next hop is its subnet's broadcast.
 */

import { netError } from '../errors.js';
import { prefixMask, formatIpv4, type Ipv4Addr } from './address.js';

export interface Route {
  /** Network address; host bits are cleared when the route is added. */
  readonly destination: Ipv4Addr;
  /** 0..32; 0 is the default route. */
  readonly prefixLength: number;
  /** Next-hop router; absent for an on-link route (the destination itself is the next hop). */
  readonly gateway?: Ipv4Addr;
  readonly interfaceIndex: number;
  /** Lower wins among routes to the same prefix. Default 0. */
  readonly metric?: number;
}

export interface RouteMatch {
  readonly interfaceIndex: number;
  /** Where to send the frame: the gateway, or the destination itself on an on-link route. */
  readonly nextHop: Ipv4Addr;
  readonly route: Route;
}

/** The error code for "no route", which the wiring turns into a NetstackError. */
export type RouteError = 'ENETUNREACH';

interface Slot {
  readonly route: Route;
  readonly metric: number;
  /** Prebuilt match for gateway routes (next hop does not depend on the destination). */
  readonly gatewayMatch: RouteMatch | undefined;
  readonly order: number;
}

export class RouteTable {
  /** byLength[len] maps the masked network to its routes, best (lowest metric) first. */
  private readonly byLength: (Map<number, Slot[]> | undefined)[] = new Array(33).fill(undefined);
  /** Prefix lengths that have at least one route, longest first. */
  private lengths: number[] = [];
  private count = 0;
  private order = 0;
  private changes = 0;

  get size(): number {
    return this.count;
  }

  /** Changes with every route added or removed: a cache of lookups is valid while it stays. */
  get version(): number {
    return this.changes;
  }

  /**
   * Adds a route. Returns false (and changes nothing) when the same destination/prefix/gateway/
   * interface is already present. Throws ERR_INVALID_ARG_VALUE for a prefix length outside 0..32.
   */
  add(route: Route): boolean {
    const len = route.prefixLength;
    if (!Number.isInteger(len) || len < 0 || len > 32) {
      throw netError('ERR_INVALID_ARG_VALUE', `route prefix length ${len} is not in 0..32`);
    }
    const destination = (route.destination & prefixMask(len)) >>> 0;
    const normalized: Route = { ...route, destination };
    let map = this.byLength[len];
    if (map === undefined) {
      map = new Map();
      this.byLength[len] = map;
      this.lengths.push(len);
      this.lengths.sort((a, b) => b - a);
    }
    let slots = map.get(destination);
    if (slots === undefined) {
      slots = [];
      map.set(destination, slots);
    }
    if (slots.some((s) => sameRoute(s.route, normalized))) return false;
    const slot: Slot = {
      route: normalized,
      metric: route.metric ?? 0,
      gatewayMatch:
        route.gateway === undefined
          ? undefined
          : { interfaceIndex: route.interfaceIndex, nextHop: route.gateway, route: normalized },
      order: this.order++,
    };
    slots.push(slot);
    slots.sort((a, b) => a.metric - b.metric || a.order - b.order);
    this.count++;
    this.changes++;
    return true;
  }

  /** The on-link route for an interface address: `198.18.0.2/24` on eth0 adds 198.18.0.0/24 via eth0. */
  addOnLink(interfaceIndex: number, address: Ipv4Addr, prefixLength: number, metric = 0): boolean {
    return this.add({ destination: address, prefixLength, interfaceIndex, metric });
  }

  /**
   * Removes the route with this destination/prefix/gateway/interface (metric ignored; host bits
   * of the destination ignored). Returns whether one was removed.
   */
  remove(route: Route): boolean {
    const len = route.prefixLength;
    const map = this.byLength[len];
    if (map === undefined) return false;
    const destination = (route.destination & prefixMask(len)) >>> 0;
    const slots = map.get(destination);
    if (slots === undefined) return false;
    const i = slots.findIndex((s) => sameRoute(s.route, { ...route, destination }));
    if (i < 0) return false;
    slots.splice(i, 1);
    this.count--;
    this.changes++;
    if (slots.length === 0) {
      map.delete(destination);
      if (map.size === 0) {
        this.byLength[len] = undefined;
        this.lengths = this.lengths.filter((l) => l !== len);
      }
    }
    return true;
  }

  /** Removes every route through an interface (when it goes away). Returns how many. */
  removeInterface(interfaceIndex: number): number {
    let removed = 0;
    for (const route of this.routes()) {
      if (route.interfaceIndex === interfaceIndex && this.remove(route)) removed++;
    }
    return removed;
  }

  /** Longest-prefix match; undefined when nothing matches (see `routeTo` for the error code). */
  lookup(dst: Ipv4Addr): RouteMatch | undefined {
    const lengths = this.lengths;
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i];
      const slots = (this.byLength[len] as Map<number, Slot[]>).get((dst & prefixMask(len)) >>> 0);
      if (slots !== undefined) {
        const best = slots[0];
        return best.gatewayMatch ?? { interfaceIndex: best.route.interfaceIndex, nextHop: dst >>> 0, route: best.route };
      }
    }
    return undefined;
  }

  /** Like `lookup`, but says ENETUNREACH when nothing matches. */
  routeTo(dst: Ipv4Addr): RouteMatch | RouteError {
    return this.lookup(dst) ?? 'ENETUNREACH';
  }

  /** Every route, longest prefix first, then as `lookup` prefers them. A snapshot. */
  routes(): Route[] {
    const out: Route[] = [];
    for (const len of this.lengths) {
      for (const slots of (this.byLength[len] as Map<number, Slot[]>).values()) {
        for (const s of slots) out.push(s.route);
      }
    }
    return out;
  }

  /** `10.0.0.0/8 via 10.0.0.1 if 1 metric 0` per line, for logs and the CLI. */
  toString(): string {
    return this.routes()
      .map(
        (r) =>
          `${formatIpv4(r.destination)}/${r.prefixLength}` +
          (r.gateway === undefined ? '' : ` via ${formatIpv4(r.gateway)}`) +
          ` if ${r.interfaceIndex} metric ${r.metric ?? 0}`,
      )
      .join('\n');
  }
}

function sameRoute(a: Route, b: Route): boolean {
  return (
    a.destination === b.destination &&
    a.prefixLength === b.prefixLength &&
    a.gateway === b.gateway &&
    a.interfaceIndex === b.interfaceIndex
  );
}

/**
 * True when `addr` is the directed broadcast of `network/prefixLength` (all host bits set).
 * /31 (RFC 3021) and /32 subnets have no broadcast address.
 */
export function isDirectedBroadcast(addr: Ipv4Addr, network: Ipv4Addr, prefixLength: number): boolean {
  if (prefixLength >= 31) return false;
  const mask = prefixMask(prefixLength);
  return ((addr & mask) >>> 0) === ((network & mask) >>> 0) && ((addr | mask) >>> 0) === 0xffffffff;
}
