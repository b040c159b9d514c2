/**
 * Reading the IPv6 frames the TAP link's TCP byte logic works on (ack-coalescer.ts, gro.ts),
 * beside ipv4-tcp-frame.ts: an untagged Ethernet header (or none, on a TUN link), the fixed
 * IPv6 header whose Next Header is TCP (no extension headers: the stack never puts any in
 * front of its own TCP, and a peer's segment with some is left to the stack), then TCP.
 *
 * The offsets are composed once into numbers of the reader's closure, and per-frame code reads
 * only those (ipv4-tcp-frame.ts says why). No view object is made per frame.
 */
import { ETHERNET_HEADER_LEN, EthernetOffset, EtherType } from '../../src/wire/ethernet.js';
import { IPV6_HEADER_LEN, IPV6_VERSION, Ipv6Offset } from '../../src/wire/ipv6.js';
import { IpProtocol } from '../../src/wire/ipv4.js';
import { TCP_MIN_HEADER_LEN, TcpOffset } from '../../src/wire/tcp.js';

/** The helpers for one layout: the IPv6 header at `ipAt` (14 after Ethernet, 0 on a TUN link). */
export interface Ipv6TcpFrameReader {
  /** Where the IPv6 header starts. */
  readonly ipAt: number;
  /** Where the TCP header starts (`ipAt + 40`). */
  readonly tcpAt: number;
  /**
   * True for an IPv6 frame (EtherType 0x86DD after Ethernet; version 6 either way) whose fixed
   * header names TCP, long enough for both headers without TCP options.
   */
  isPlainIpv6Tcp(f: Uint8Array): boolean;
  /** The IPv6 packet's length: its 40-byte header and its Payload Length. */
  ipTotalLength(f: Uint8Array): number;
  /** The TCP header length in bytes: the data offset (high nibble) counts 32-bit words. */
  tcpHeaderLength(f: Uint8Array): number;
  /** The TCP control bits (TcpFlags). */
  tcpFlags(f: Uint8Array): number;
}

/** The reader for frames of one link layer: 'ethernet' (TAP) or 'ip' (TUN). */
export function ipv6TcpReader(layer: 'ethernet' | 'ip'): Ipv6TcpFrameReader {
  const ethernet = layer === 'ethernet';
  const ipAt = ethernet ? ETHERNET_HEADER_LEN : 0;
  const tcpAt = ipAt + IPV6_HEADER_LEN;
  const minLen = tcpAt + TCP_MIN_HEADER_LEN;
  const typeAt = EthernetOffset.TYPE;
  const typeHi = EtherType.IPV6 >>> 8;
  const typeLo = EtherType.IPV6 & 0xff;
  const versionAt = ipAt + Ipv6Offset.VER_TC_FLOW;
  const nextHeaderAt = ipAt + Ipv6Offset.NEXT_HEADER;
  const payloadLengthAt = ipAt + Ipv6Offset.PAYLOAD_LENGTH;
  const dataOffsetAt = tcpAt + TcpOffset.DATA_OFFSET;
  const flagsAt = tcpAt + TcpOffset.FLAGS;
  const tcp = IpProtocol.TCP;
  const version = IPV6_VERSION;
  const headerLen = IPV6_HEADER_LEN;
  return {
    ipAt,
    tcpAt,
    isPlainIpv6Tcp: ethernet
      ? (f) => f.length >= minLen && f[typeAt] === typeHi && f[typeAt + 1] === typeLo && (f[versionAt] >>> 4) === version && f[nextHeaderAt] === tcp
      : (f) => f.length >= minLen && (f[versionAt] >>> 4) === version && f[nextHeaderAt] === tcp,
    ipTotalLength: (f) => headerLen + ((f[payloadLengthAt] << 8) | f[payloadLengthAt + 1]),
    tcpHeaderLength: (f) => (f[dataOffsetAt] >>> 4) << 2,
    tcpFlags: (f) => f[flagsAt],
  };
}

/** The Ethernet layout, made once. */
export const ETHERNET_IPV6_READER: Ipv6TcpFrameReader = ipv6TcpReader('ethernet');
