import type { Ipv4Addr } from '../../src/ipv4/address.js';
import type { MacAddr } from '../../src/mac.js';
import type { Ipv4Route } from './ipv4-layer.js';

/**
 * What one flow's packets find on their way down, kept with the flow (a TCP connection) so that
 * every packet after the first skips the look-ups, as Linux's per-socket `sk_dst_cache`: IPv4's
 * route (interface, next hop, source), whether the destination is ours, and the neighbour entry
 * of the next hop. Nothing here is trusted blindly: each part is used only while the generation
 * it was found with is current (the route table's version and the addresses' generation for the
 * route; the neighbour cache's table generation for the entry, whose state and MAC are read
 * afresh at each use), and is refilled by the general path otherwise. A flow whose packets take
 * another way (segment operators, a network of one's own) never fills it.
 *
 * Filled and read only by the layers below the flow (IPv4, ARP); the flow only carries it in
 * its send records and reads `linkHeaderLength` to size the headroom of its next packet.
 */
export class Ipv4RouteCache {
  /** The IPv4 layer that filled the route part (undefined: empty). */
  owner: object | undefined = undefined;
  dst: Ipv4Addr = -1;
  route: Ipv4Route | undefined = undefined;
  /** `dst` is one of our addresses (the datagram loops back). */
  local = false;
  routesVersion = -1;
  addressGeneration = -1;
  /**
   * Bytes of link header in front of the IPv4 header on the route's interface (14 for Ethernet,
   * 0 on a link of bare IP packets); -1 until a route is cached. A hint for the headroom only:
   * a packet made with too little room is moved by `PacketBuffer.prepend`.
   */
  linkHeaderLength = -1;
  /** The neighbour cache that filled the neighbour part (undefined: empty). */
  neighbours: object | undefined = undefined;
  neighbourGeneration = -1;
  nextHop: Ipv4Addr = -1;
  /** The next hop's entry: its `state` and `mac` are the cache's own, read at each use. */
  neighbour: NeighborRef | undefined = undefined;
}

/** What the route cache reads of a neighbour entry (NeighborCache's entries are these). */
export interface NeighborRef {
  readonly state: string;
  readonly mac: MacAddr | undefined;
}

/**
 * The generation of every stack's IPv4 addresses: bumped when an address is added to any
 * interface or IPv4 is attached to one. One counter for the process (a change anywhere
 * invalidates every cached route, which is rare and costs one look-up per flow), read with one
 * load per packet instead of counting each interface's addresses.
 */
export const ipv4Addresses = { generation: 0 };
