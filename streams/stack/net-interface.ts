import type { Link } from '../links/link.js';
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
