import type { Observable } from 'rxjs';
import type { NetInterface } from './net-interface.js';
import type { IcmpErrorReport } from './icmp-layer.js';
import type { Ipv4Network } from './ipv4-layer.js';
import { ReceivedIpv6, type Ipv6Datagram, type Ipv6Network, type Ipv6Port } from './ipv6-layer.js';
import { ReceivedIp } from './received-ip.js';
import { AddressBook, IPV6_ID_BASE, IP_ANY4, IP_ANY6, parseIpAddr, type IpAddr } from '../../src/ip/address-book.js';
import { IPV6_TCP_HEADERS } from '../../src/tcp/config.js';
import { netError, type NetstackError } from '../../src/errors.js';
import type { PacketBuffer } from '../../src/packet-buffer.js';
import type { Boundary } from '../pipeline/boundary.js';

/**
 * A datagram as TCP and UDP see it, either family: the very shape of `Ipv4Datagram` (the same
 * fields in the same order, so the transports' per-packet code stays monomorphic), with
 * `IpAddr` addresses. For IPv6: `src`/`dst` are AddressBook ids, `ttl` is the hop limit,
 * `header` is the whole packet from its fixed header (ICMPv6 errors quote it; the addresses
 * are at 8 and 24, the traffic class across bytes 0-1), and `broadcast` means "to a multicast
 * group".
 */
export interface IpDatagram {
  readonly iface: NetInterface;
  readonly src: IpAddr;
  readonly dst: IpAddr;
  readonly protocol: number;
  readonly ttl: number;
  readonly header: Uint8Array;
  readonly payload: Uint8Array;
  readonly broadcast: boolean;
  readonly reassembled: boolean;
  readonly checksumVerified: boolean;
}

/**
 * What a transport hands down, either family, as the `transport` hook shows it: the shape of
 * `Ipv4Send` (so IPv4's items are these) with `IpAddr` addresses. For IPv6: `ttl` is the hop
 * limit, `dscp` and `ecn` make the traffic class, `dontFragment` means nothing (IPv6 routers
 * never fragment).
 */
export interface IpSend {
  readonly pb: PacketBuffer;
  readonly dst: IpAddr;
  readonly protocol: number;
  /** Default: chosen by the route. Must be ours (or, while a forwarder runs, the flow's original destination). */
  readonly src?: IpAddr | undefined;
  readonly ttl?: number | undefined;
  readonly dontFragment?: boolean | undefined;
  readonly dscp?: number | undefined;
  readonly ecn?: number | undefined;
  readonly iface?: NetInterface | undefined;
  readonly onError?: ((err: NetstackError) => void) | undefined;
}

/** The interface and our source address towards a destination, either family. */
export interface IpRoute {
  readonly iface: NetInterface;
  readonly src: IpAddr;
  /** Largest IP packet (headers included) the route's link takes as one large TCP segment and cuts (TSO); absent or 0: none. */
  readonly maxGsoBytes?: number;
}

/** What ICMPv6 does for a transport: port unreachable for what no socket takes, and the errors about what it sent. */
export interface Ipv6TransportIcmp {
  /** `fromDestination`: sent from the packet's destination even when it is not ours (a forwarder refusing a flow). */
  sendUnreachable(packet: Uint8Array, multicast: boolean, code: number, fromDestination?: boolean): void;
  errors$?(protocol: number): Observable<IcmpErrorReport>;
}

/** The IPv6 side of a transport layer (TCP, UDP): its protocol's boundary and the stack's address book. */
export interface Ipv6Transport {
  readonly port: Ipv6Port;
  readonly book: AddressBook;
  readonly icmp?: Ipv6TransportIcmp;
  /**
   * When operators sit at the transport boundary (`Ipv6Layer.records`): the protocol's
   * datagrams as records, whose ids (maybe rewritten) the transport takes instead of the
   * packet's address bytes, and where its records go down. Claimed instead of `port`.
   */
  readonly records?: Boundary<IpDatagram, IpSend>;
}

/**
 * The ECN field of a datagram of either family: the low two bits of IPv4's TOS byte, or of
 * IPv6's traffic class (bits 4-5 of byte 1).
 */
export function ecnOf(d: IpDatagram): number {
  // The received record reads it in the frame (no view of the header made for it).
  if (d instanceof ReceivedIp) return d.ecn;
  return d.dst >= IPV6_ID_BASE ? (d.header[1] >>> 4) & 3 : d.header[1] & 3;
}

/**
 * Routing and addresses for a transport over both families: IPv4 numbers go to IPv4, IPv6 ids
 * to IPv6 through the address book. The stack's own IPv6 addresses are interned on first use
 * and held for the stack's life (they are few, and the book then yields their id for every
 * packet to them without interning anything).
 */
export class IpNetwork {
  readonly book: AddressBook;
  readonly v4: Ipv4Network;
  readonly v6: Ipv6Network | undefined;

  constructor(v4: Ipv4Network, v6: Ipv6Network | undefined, book: AddressBook) {
    this.v4 = v4;
    this.v6 = v6;
    this.book = book;
  }

  /** True when `addr` is one of the stack's addresses. */
  isLocal(addr: IpAddr): boolean {
    if (addr < IPV6_ID_BASE) return this.v4.isLocal(addr);
    const bytes = this.book.bytesOf(addr);
    return bytes !== undefined && this.v6 !== undefined && this.v6.isLocal(bytes);
  }

  /** The interface and source towards `dst` (EAFNOSUPPORT for IPv6 on a stack without it). */
  routeFor(dst: IpAddr, iface?: NetInterface): IpRoute | NetstackError {
    if (dst < IPV6_ID_BASE) return this.v4.routeFor(dst, iface);
    const v6 = this.v6;
    const bytes = this.book.bytesOf(dst);
    if (v6 === undefined || bytes === undefined) return netError('EAFNOSUPPORT', 'IPv6 is not enabled on this stack');
    const r = v6.routeFor(bytes, iface);
    if (!('iface' in r)) return r;
    return { iface: r.iface, src: this.ownId(r.src), maxGsoBytes: r.maxGsoBytes };
  }

  /**
   * The largest packet towards `dst` by `iface`: the interface's MTU over IPv4; over IPv6 its
   * IPv6 MTU, or the lower path MTU a Packet Too Big taught (RFC 8201).
   */
  pathMtu(dst: IpAddr, iface: NetInterface): number {
    if (dst < IPV6_ID_BASE) return iface.mtu;
    const bytes = this.book.bytesOf(dst);
    return bytes === undefined || this.v6?.pathMtu === undefined ? iface.ipv6Mtu : this.v6.pathMtu(bytes, iface);
  }

  /** A Packet Too Big a transport validated: IPv6's path MTU cache learns it (see Ipv6Network.packetTooBig). */
  packetTooBig(dst: IpAddr, mtu: number): void {
    const bytes = dst >= IPV6_ID_BASE ? this.book.bytesOf(dst) : undefined;
    if (bytes !== undefined) this.v6?.packetTooBig?.(bytes, mtu);
  }

  /**
   * Forwarding mode for one transport protocol on both families (see
   * `Ipv4Network.acceptForeign`), until the returned function is called; undefined when the
   * IPv4 network has none.
   */
  acceptForeign(protocol: number): (() => void) | undefined {
    const v4 = this.v4.acceptForeign?.(protocol);
    if (v4 === undefined) return undefined;
    const v6 = this.v6?.acceptForeign?.(protocol);
    return () => {
      v4();
      v6?.();
    };
  }

  /** The id of one of our own addresses (interned and held for good on first use). */
  ownId(bytes: Uint8Array, offset = 0): IpAddr {
    return this.book.idOf(bytes, offset) ?? this.book.acquire(bytes, offset);
  }

  /**
   * The MTU a listener's MSS is clamped to, and the headers to take off it: the interface of
   * its address, or the smallest of all (wildcards; a dual-stack one counts IPv6's 60 bytes).
   */
  listenMtu(addr: IpAddr, dualStack = false): { mtu: number; headers: number } {
    const v6 = addr >= IPV6_ID_BASE;
    const bytes = v6 && addr !== IP_ANY6 ? this.book.bytesOf(addr) : undefined;
    let mtu = Number.POSITIVE_INFINITY;
    for (const iface of v6 ? this.v6?.interfaces ?? [] : this.v4.interfaces) {
      const mine = addr === IP_ANY4 || addr === IP_ANY6 || (v6 ? bytes !== undefined && iface.ipv6AddressAt(bytes) !== undefined : iface.addresses.some((a) => a.address === addr));
      if (mine) mtu = Math.min(mtu, iface.mtu);
    }
    if (dualStack) for (const iface of this.v4.interfaces) mtu = Math.min(mtu, iface.mtu);
    return { mtu: Number.isFinite(mtu) ? mtu : 1500, headers: v6 ? IPV6_TCP_HEADERS : 40 };
  }

  /**
   * A user's address text as an `IpAddr`, holding one reference on an IPv6 id (give it back
   * with `book.release`): undefined when it is not an address; an error when it is IPv6 and
   * the stack has no IPv6, or its `%zone` names no interface.
   */
  parse(text: unknown): { addr: IpAddr; iface: NetInterface | undefined } | NetstackError | undefined {
    if (typeof text !== 'string') return undefined;
    const p = parseIpAddr(text);
    if (p === undefined) return undefined;
    if (p.family === 4) return { addr: p.v4, iface: undefined };
    if (this.v6 === undefined) return netError('EAFNOSUPPORT', `${text}: IPv6 is not enabled on this stack`);
    let iface: NetInterface | undefined;
    if (p.zone !== undefined) {
      iface = this.v6.interfaces.find((i) => i.name === p.zone || String(i.index + 1) === p.zone);
      if (iface === undefined) return netError('EINVAL', `${text}: no interface "${p.zone}"`);
    }
    return { addr: this.book.acquire(p.v6), iface };
  }
}

/** A scratch-free view of an IPv6 datagram as an IpDatagram, given its ids. */
export function ipDatagramOf(d: Ipv6Datagram, src: IpAddr, dst: IpAddr): IpDatagram {
  return {
    iface: d.iface, src, dst, protocol: d.protocol, ttl: d.hopLimit, header: d.packet, payload: d.payload,
    // Verified by the transport before (or vouched for by the link: Ipv6Datagram.checksumVerified).
    broadcast: d.multicast, reassembled: d.reassembled, checksumVerified: true,
  };
}

/**
 * Hands an IPv6 datagram to `deliver` as an IpDatagram (with `arg`: what the caller parsed,
 * passed on so that no closure is made per packet). The destination is one of ours (IPv6
 * checked) or a group (then `IP_ANY6`: only wildcard endpoints can match). The source's id is
 * found without interning when an endpoint holds it (an established flow: one lookup); a
 * stranger's address is interned only while `deliver` runs, so that whatever it creates (a
 * connection, a connected socket) can take its own reference, and is released after: the book
 * never grows with what peers send.
 */
export function deliverIpv6<T>(book: AddressBook, d: Ipv6Datagram, arg: T, deliver: (ip: IpDatagram, arg: T) => void): void {
  // IPv6's received record is read in place (its addresses in the frame, no view made) and
  // becomes the transports' received record, as IPv4's datagrams come (ReceivedIp).
  const inPlace = d instanceof ReceivedIpv6 && !d.reassembled;
  const p = inPlace ? d.frame : d.packet;
  const at = inPlace ? d.headerAt : 0;
  // Another host's address (a forwarder's flow) is a stranger too: held only while handled.
  const knownDst = p[at + 24] === 0xff ? IP_ANY6 : book.idOf(p, at + 24);
  const dst = knownDst ?? book.acquire(p, at + 24);
  const known = book.idOf(p, at + 8);
  const src = known ?? book.acquire(p, at + 8);
  try {
    deliver(
      inPlace
        ? new ReceivedIp(d.iface, src, dst, d.protocol, d.hopLimit, d.multicast, true, p, at, d.payloadAt, d.payloadEnd)
        : ipDatagramOf(d, src, dst),
      arg,
    );
  } finally {
    if (known === undefined) book.release(src);
    if (knownDst === undefined && d.foreign) book.release(dst);
  }
}
