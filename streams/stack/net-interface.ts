import type { Link } from '../links/link.js';
import { decodeStackConfig, type DecodedInterface, type InterfaceConfigInput } from '../../src/config/stack-config.js';
import { randomMac } from '../../src/mac.js';
import { type Ipv4Addr, prefixMask, IPV4_BROADCAST } from '../../src/ipv4/address.js';

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

  constructor(
    /** Position in the stack's interface list; routes name interfaces by it. */
    readonly index: number,
    readonly name: string,
    readonly link: Link,
    /** The MAC the stack answers to and sends from on this link. */
    readonly mac: Uint8Array,
    /** Largest IPv4 packet this interface sends (the link MTU unless configured lower). */
    readonly mtu: number,
  ) {}

  addAddress(address: Ipv4Addr, prefixLength: number): InterfaceAddress {
    const mask = prefixMask(prefixLength);
    const network = (address & mask) >>> 0;
    // /31 and /32 have no broadcast address of their own (RFC 3021).
    const broadcast = prefixLength >= 31 ? IPV4_BROADCAST : (network | ~mask) >>> 0;
    const entry: InterfaceAddress = { address, prefixLength, network, broadcast };
    this.addresses.push(entry);
    return entry;
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
