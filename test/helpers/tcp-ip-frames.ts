/**
 * One TCP segment as a whole frame (or a bare IP packet, as a TUN link carries it), over IPv4 or
 * IPv6, built with the stack's own codecs so lengths and checksums are right. For the link-level
 * batch tests (receive coalescing, ACK coalescing) that need many frames differing in one field.
 * Every call returns a fresh copy the caller owns.
 */
import { PacketBuffer } from '../../src/packet-buffer.js';
import { emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { emitIpv4, IpProtocol } from '../../src/wire/ipv4.js';
import { emitIpv6Header, fillIpv6UpperChecksum } from '../../src/wire/ipv6.js';
import { emitTcp, type TcpRepr } from '../../src/wire/tcp.js';

/** The Ethernet addresses of a frame, or `null` for a bare IP packet. */
export type LinkAddresses = { readonly src: Uint8Array; readonly dst: Uint8Array } | null;

/** The IPv4 header fields these tests vary; the rest: no fragment offset, TTL 64 by default. */
export interface TcpIpv4Header {
  readonly src: number;
  readonly dst: number;
  readonly ident: number;
  readonly dontFragment: boolean;
  readonly moreFragments?: boolean;
}

/** The IPv6 header fields these tests vary (see Ipv6Repr; no extension headers). */
export interface TcpIpv6Header {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly hopLimit: number;
  readonly dscp?: number;
  readonly ecn?: number;
  readonly flowLabel?: number;
}

/** `seg` (its payload included) in IPv4, in Ethernet unless `link` is null. */
export function tcpIpv4Frame(seg: TcpRepr, ip: TcpIpv4Header, link: LinkAddresses): Uint8Array {
  const pb = PacketBuffer.withPayload(seg.payload);
  emitTcp(seg, pb, ip.src, ip.dst);
  emitIpv4({
    src: ip.src, dst: ip.dst, protocol: IpProtocol.TCP, ttl: 64, ident: ip.ident,
    dontFragment: ip.dontFragment, moreFragments: ip.moreFragments ?? false, fragmentOffset: 0,
  }, pb);
  if (link !== null) emitEthernet({ dst: link.dst, src: link.src, ethertype: EtherType.IPV4 }, pb);
  return pb.bytes().slice();
}

/** `seg` (its payload included) in IPv6, checksummed over IPv6's pseudo-header, in Ethernet unless `link` is null. */
export function tcpIpv6Frame(seg: TcpRepr, ip: TcpIpv6Header, link: LinkAddresses): Uint8Array {
  const pb = PacketBuffer.withPayload(seg.payload);
  emitTcp(seg, pb, 0, 0);
  // emitTcp sums an IPv4 pseudo-header; redo the checksum (at offset 16) over the IPv6 one.
  fillIpv6UpperChecksum(pb.buf, pb.head, pb.length, 16, ip.src, ip.dst, IpProtocol.TCP);
  emitIpv6Header({
    src: ip.src, dst: ip.dst, nextHeader: IpProtocol.TCP, hopLimit: ip.hopLimit,
    dscp: ip.dscp, ecn: ip.ecn, flowLabel: ip.flowLabel,
  }, pb);
  if (link !== null) emitEthernet({ dst: link.dst, src: link.src, ethertype: EtherType.IPV6 }, pb);
  return pb.bytes().slice();
}
