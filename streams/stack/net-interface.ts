import type { Link } from '../links/link.js';
import { decodeStackConfig, type DecodedInterface, type InterfaceConfigInput } from '../../src/config/stack-config.js';
import { randomMac } from '../../src/mac.js';
import { type Ipv4Addr, prefixMask, IPV4_BROADCAST } from '../../src/ipv4/address.js';
import {
  type Ipv6Addr, Ipv6Addresses, ipv6CommonPrefixLength, ipv6EqualsAt, ipv6InPrefix, ipv6Network, isIpv6LinkLocal, solicitedNodeAddress,
} from '../../src/ipv6/address.js';
import type { Ipv6AddressOrigin, Ipv6AddressState } from '../../src/ipv6/slaac.js';

/** One IPv6 address of an interface. */
export interface InterfaceIpv6Address {
  /** 16 bytes, owned by the interface: never written. */
  readonly address: Ipv6Addr;
  readonly prefixLength: number;
  /** The prefix with the host bits cleared (on-link check). */
  readonly network: Ipv6Addr;
  /** Its solicited-node group (RFC 4291 2.7.1): NS for it are sent there. */
  readonly solicitedNode: Ipv6Addr;
  readonly linkLocal: boolean;
  /**
   * Whether the prefix is on-link: true for static addresses; false for SLAAC ones, whose
   * prefix is on-link only when an RA says so (RFC 5942).
   */
  readonly onLink: boolean;
  readonly origin: Ipv6AddressOrigin;
  /**
   * RFC 4862's states, kept by the autoconfiguration: a tentative address is neither a source
   * nor a destination (DAD only); a deprecated one is a destination but not a source for new
   * communication. Addresses added without autoconfiguration are preferred.
   */
  state: Ipv6AddressState;
}

/** True for states in which an address is assigned (RFC 4862 2): it receives and may send. */
export function isAssigned(a: InterfaceIpv6Address): boolean {
  return a.state === 'preferred' || a.state === 'deprecated';
}

/** One IPv4 address of an interface, with what is derived from its prefix precomputed. */
export interface InterfaceAddress {
  readonly address: Ipv4Addr;
  readonly prefixLength: number;
  readonly network: Ipv4Addr;
  /** The subnet's directed broadcast address. */
  readonly broadcast: Ipv4Addr;
}

/**
 * A network interface of the stack: a link, the MAC the stack uses on it, its MTU and its IPv4
 * addresses. Address checks scan a small array: an interface has a handful of addresses, and
 * a loop over two numbers beats a Map lookup at that size.
 */
export class NetInterface {
  readonly addresses: InterfaceAddress[] = [];
  /** IPv6 addresses (with the link-local one once IPv6 is on); empty on an IPv4-only stack. */
  readonly ipv6Addresses: InterfaceIpv6Address[] = [];
  /**
   * Bumped when an IPv6 address is added or removed (not on a state change: readers check
   * `isAssigned` themselves): IPv6's route cache compares it.
   */
  ipv6Generation = 0;

  constructor(
    /** Position in the stack's interface list; routes name interfaces by it. */
    readonly index: number,
    readonly name: string,
    readonly link: Link,
    /** The MAC the stack answers to and sends from on this link. */
    readonly mac: Uint8Array,
    /** Largest IPv4 packet this interface sends (the link MTU unless configured lower). */
    readonly mtu: number,
  ) {
    this.ipv6Mtu = mtu;
  }

  /** Largest IPv6 packet this interface sends: `mtu`, or lower when a router advertised so (RFC 4861 6.3.4). */
  ipv6Mtu: number;

  addAddress(address: Ipv4Addr, prefixLength: number): InterfaceAddress {
    const mask = prefixMask(prefixLength);
    const network = (address & mask) >>> 0;
    // /31 and /32 have no broadcast address of their own (RFC 3021).
    const broadcast = prefixLength >= 31 ? IPV4_BROADCAST : (network | ~mask) >>> 0;
    const entry: InterfaceAddress = { address, prefixLength, network, broadcast };
    this.addresses.push(entry);
    return entry;
  }

  /**
   * Adds an IPv6 address (the caller checked it is a unicast address): preferred unless `state`
   * says otherwise; `origin` 'static' by default (its prefix on-link).
   */
  addIpv6Address(address: Ipv6Addr, prefixLength: number, origin: Ipv6AddressOrigin = 'static', state: Ipv6AddressState = 'preferred'): InterfaceIpv6Address {
    const linkLocal = isIpv6LinkLocal(address);
    const entry: InterfaceIpv6Address = {
      address: address.slice(),
      prefixLength,
      network: ipv6Network(address, prefixLength),
      solicitedNode: solicitedNodeAddress(address),
      linkLocal,
      onLink: origin === 'static' && !linkLocal,
      origin: linkLocal && origin === 'static' ? 'link-local' : origin,
      state,
    };
    this.ipv6Addresses.push(entry);
    this.ipv6Generation++;
    return entry;
  }

  /** Removes an IPv6 address; the entry removed, or undefined when it was not there. */
  removeIpv6Address(address: Ipv6Addr): InterfaceIpv6Address | undefined {
    const i = this.ipv6Addresses.findIndex((a) => ipv6EqualsAt(a.address, 0, address, 0));
    if (i < 0) return undefined;
    this.ipv6Generation++;
    return this.ipv6Addresses.splice(i, 1)[0];
  }

  /** The IPv6 address whose 16 bytes are at `bytes[offset..]`, if it is one of ours (in any state: check `state`). */
  ipv6AddressAt(bytes: Uint8Array, offset = 0): InterfaceIpv6Address | undefined {
    const list = this.ipv6Addresses;
    for (let i = 0; i < list.length; i++) if (ipv6EqualsAt(list[i].address, 0, bytes, offset)) return list[i];
    return undefined;
  }

  /**
   * True when the multicast address at `bytes[offset..]` is a group this interface is in:
   * all-nodes (ff02::1) and the solicited-node group of each of its addresses.
   */
  isIpv6GroupMember(bytes: Uint8Array, offset = 0): boolean {
    if (ipv6EqualsAt(Ipv6Addresses.ALL_NODES, 0, bytes, offset)) return true;
    const list = this.ipv6Addresses;
    for (let i = 0; i < list.length; i++) if (ipv6EqualsAt(list[i].solicitedNode, 0, bytes, offset)) return true;
    return false;
  }

  /** True when `dst` is on this link: link-local, or inside one of the interface's prefixes. */
  isIpv6OnLink(dst: Ipv6Addr): boolean {
    if (isIpv6LinkLocal(dst)) return this.ipv6Addresses.length > 0;
    // Static prefixes only: RA-learnt on-link prefixes are routes in Ipv6Layer.
    const list = this.ipv6Addresses;
    for (let i = 0; i < list.length; i++) if (list[i].onLink && ipv6InPrefix(dst, 0, list[i].network, list[i].prefixLength)) return true;
    return false;
  }

  /**
   * The source address towards `dst` (RFC 6724 5) among the assigned addresses (never a
   * tentative one, RFC 4862 5.4): the same scope first (rule 2: a link-local destination gets
   * the link-local source, a global one a non-link-local source), then a preferred address over
   * a deprecated one (rule 3), then the longest common prefix (rule 8). Undefined with no
   * assigned IPv6 address.
   */
  ipv6SourceFor(dst: Ipv6Addr): Ipv6Addr | undefined {
    const list = this.ipv6Addresses;
    const wantLinkLocal = isIpv6LinkLocal(dst) || (dst[0] === 0xff && (dst[1] & 0x0f) <= 2);
    let best: InterfaceIpv6Address | undefined;
    let bestScore = -1;
    for (let i = 0; i < list.length; i++) {
      const a = list[i];
      if (!isAssigned(a)) continue;
      const score = (a.linkLocal === wantLinkLocal ? 512 : 0) + (a.state === 'preferred' ? 256 : 0) + ipv6CommonPrefixLength(a.address, dst);
      if (score > bestScore) {
        best = a;
        bestScore = score;
      }
    }
    return best?.address;
  }

  /** True when `addr` is one of this interface's addresses. */
  hasAddress(addr: Ipv4Addr): boolean {
    const list = this.addresses;
    for (let i = 0; i < list.length; i++) if (list[i].address === addr) return true;
    return false;
  }

  /** True when `addr` is the directed broadcast of one of this interface's subnets. */
  isDirectedBroadcast(addr: Ipv4Addr): boolean {
    const list = this.addresses;
    for (let i = 0; i < list.length; i++) if (list[i].broadcast === addr && list[i].prefixLength < 31) return true;
    return false;
  }

  /** True when `addr` lies in one of this interface's subnets. */
  isOnLink(addr: Ipv4Addr): boolean {
    const list = this.addresses;
    for (let i = 0; i < list.length; i++) {
      if (((addr & prefixMask(list[i].prefixLength)) >>> 0) === list[i].network) return true;
    }
    return false;
  }

  /**
   * The source address to use towards `dst`: the address whose subnet holds `dst`, else the
   * first address (RFC 1122 3.3.4.3 leaves the choice to the host). Undefined with no address.
   */
  sourceFor(dst: Ipv4Addr): Ipv4Addr | undefined {
    const list = this.addresses;
    for (let i = 0; i < list.length; i++) {
      const a = list[i];
      if (((dst & prefixMask(a.prefixLength)) >>> 0) === a.network) return a.address;
    }
    return list.length > 0 ? list[0].address : undefined;
  }
}

/**
 * The interface an `interfaces[]` entry of the stack configuration describes: the MAC as
 * configured, else what the link prescribes, else a random locally administered one; the MTU
 * no larger than the link's; its IPv4 addresses. `index` is its position in the stack (routes
 * name interfaces by it).
 */
export function interfaceFromConfig(index: number, c: DecodedInterface<Link>): NetInterface {
  const mac = c.mac ?? c.link.mac?.slice() ?? randomMac();
  const iface = new NetInterface(index, c.name, c.link, mac, Math.min(c.mtu, c.link.mtu ?? c.mtu));
  for (const a of c.ipv4) iface.addAddress(a.address, a.prefixLength);
  for (const a of c.ipv6) iface.addIpv6Address(a.address, a.prefixLength);
  return iface;
}

/** What `netInterface()` takes: one entry of the stack configuration's `interfaces`. */
export type NetInterfaceOptions = InterfaceConfigInput<Link>;

/**
 * An interface for a stack you assemble yourself (see docs/pipelines.md): validated like an
 * entry of `createStack`'s `interfaces` (a bad one throws ERR_INVALID_CONFIG naming every bad
 * field).
 *
 * @example
 * const eth0 = netInterface({ name: 'eth0', link, ipv4: ['198.18.0.2/24'] });
 */
export function netInterface(options: NetInterfaceOptions, index = 0): NetInterface {
  return interfaceFromConfig(index, decodeStackConfig<Link>({ interfaces: [options] }).interfaces[0]);
}
