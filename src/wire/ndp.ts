/**
 * Neighbour Discovery messages (RFC 4861 4): router solicitation and advertisement, neighbour
 * solicitation and advertisement, redirect, and their options (source/target link-layer
 * address, prefix information, redirected header, MTU). They are ICMPv6 messages (types
 * 133..137): `parseIcmpv6` verifies the checksum and returns them as kind 'other', and
 * `parseNdp` reads one, applying the validity checks of RFC 4861 6.1.1, 6.1.2, 7.1.1, 7.1.2 and
 * 8.1 that the message itself can answer (the wiring adds the rest: "is the target one of our
 * addresses", "is the source our current router"):
 *
 * - the IP hop limit is 255 ('badHopLimit': the packet crossed a router, so it is forged);
 * - the ICMP code is 0 ('badCode'); the message is long enough ('truncated');
 * - every option has a non-zero length and lies inside the message ('badOptionLength');
 * - NS and NA targets, redirect targets' destinations are not multicast ('multicastTarget');
 * - an NS from the unspecified address (DAD) goes to a solicited-node group and carries no
 *   source link-layer address option ('badDadProbe');
 * - an NA to a multicast destination has S clear ('solicitedToMulticast');
 * - RA and redirect come from a link-local source ('badSource'); an RS from the unspecified
 *   address has no source link-layer address option ('badDadProbe').
 *
 * Options a host does not know are skipped (RFC 4861 4.6). Link-layer addresses are taken to
 * be 6-byte Ethernet MACs (an option of length 1); on other links they would differ.
 */

import {
  IPV6_ADDR_LEN, isIpv6LinkLocal, isIpv6Multicast, isIpv6Unspecified, isSolicitedNode, type Ipv6Addr,
} from '../ipv6/address.js';
import type { MacAddr } from '../mac.js';
import type { PacketBuffer } from '../packet-buffer.js';
import { fillIcmpv6Checksum, Icmpv6Type, type Icmpv6Addresses } from './icmpv6.js';
import { malformed, ok, type ParseResult } from './parse-result.js';

/** The IP hop limit every NDP message is sent with and must arrive with. */
export const NDP_HOP_LIMIT = 255;

/** Option types (RFC 4861 4.6, RFC 8106 for RDNSS, which is skipped). */
export const NdpOptionType = {
  SOURCE_LINK_ADDR: 1,
  TARGET_LINK_ADDR: 2,
  PREFIX_INFO: 3,
  REDIRECTED_HEADER: 4,
  MTU: 5,
} as const;

/** Bits of the RA flags byte. */
const RA_MANAGED = 0x80;
const RA_OTHER = 0x40;
/** Bits of the NA flags byte. */
const NA_ROUTER = 0x80;
const NA_SOLICITED = 0x40;
const NA_OVERRIDE = 0x20;
/** Bits of the prefix information flags byte. */
const PI_ON_LINK = 0x80;
const PI_AUTONOMOUS = 0x40;

/** Lengths of each message's fixed part, ICMPv6 header included. */
const FIXED_LEN = {
  [Icmpv6Type.ROUTER_SOLICIT]: 8,
  [Icmpv6Type.ROUTER_ADVERT]: 16,
  [Icmpv6Type.NEIGHBOR_SOLICIT]: 24,
  [Icmpv6Type.NEIGHBOR_ADVERT]: 24,
  [Icmpv6Type.REDIRECT]: 40,
} as const;

/** A prefix information option (RFC 4861 4.6.2). Lifetimes in seconds; 0xffffffff is infinity. */
export interface NdpPrefixInfo {
  readonly prefixLength: number;
  /** L: the prefix is on-link. */
  readonly onLink: boolean;
  /** A: usable for SLAAC (RFC 4862). */
  readonly autonomous: boolean;
  readonly validLifetime: number;
  readonly preferredLifetime: number;
  /** On parse a view. */
  readonly prefix: Ipv6Addr;
}

export interface NdpRouterSolicit {
  readonly kind: 'router-solicit';
  readonly sourceLinkAddr?: MacAddr;
}

export interface NdpRouterAdvert {
  readonly kind: 'router-advert';
  /** Hop limit to use, 0 for unspecified. */
  readonly curHopLimit: number;
  /** M: addresses are available via DHCPv6. */
  readonly managed: boolean;
  /** O: other configuration is available via DHCPv6. */
  readonly other: boolean;
  /** Seconds this router is a default router; 0: not a default router. */
  readonly routerLifetime: number;
  /** ms, 0 for unspecified. */
  readonly reachableTime: number;
  /** ms between NS retransmissions, 0 for unspecified. */
  readonly retransTimer: number;
  readonly sourceLinkAddr?: MacAddr;
  readonly mtu?: number;
  readonly prefixes: readonly NdpPrefixInfo[];
}

export interface NdpNeighborSolicit {
  readonly kind: 'neighbor-solicit';
  readonly target: Ipv6Addr;
  readonly sourceLinkAddr?: MacAddr;
}

export interface NdpNeighborAdvert {
  readonly kind: 'neighbor-advert';
  /** R: the sender is a router. */
  readonly router: boolean;
  /** S: an answer to a solicitation. */
  readonly solicited: boolean;
  /** O: override a cached link-layer address. */
  readonly override: boolean;
  readonly target: Ipv6Addr;
  readonly targetLinkAddr?: MacAddr;
}

export interface NdpRedirect {
  readonly kind: 'redirect';
  /** The better first hop (or the destination itself when it is on-link). */
  readonly target: Ipv6Addr;
  readonly destination: Ipv6Addr;
  readonly targetLinkAddr?: MacAddr;
  /** The redirected packet, as much as was quoted. A view on parse. */
  readonly redirectedHeader?: Uint8Array;
}

export type NdpRepr = NdpRouterSolicit | NdpRouterAdvert | NdpNeighborSolicit | NdpNeighborAdvert | NdpRedirect;

export type NdpMalformedReason =
  | 'notNdp'
  | 'badHopLimit'
  | 'badCode'
  | 'truncated'
  | 'badOptionLength'
  | 'multicastTarget'
  | 'badDadProbe'
  | 'solicitedToMulticast'
  | 'badSource';

/** The IP header facts NDP validation needs. */
export interface NdpContext extends Icmpv6Addresses {
  readonly hopLimit: number;
}

function be32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

function writeBe32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = (v >>> 16) & 0xff;
  b[i + 2] = (v >>> 8) & 0xff;
  b[i + 3] = v & 0xff;
}

interface Options {
  sourceLinkAddr?: MacAddr;
  targetLinkAddr?: MacAddr;
  mtu?: number;
  redirectedHeader?: Uint8Array;
  prefixes: NdpPrefixInfo[];
}

/** Reads the options at `m[at..]`; undefined when one has length 0 or runs past the end. */
function readOptions(m: Uint8Array, at: number): Options | undefined {
  const out: Options = { prefixes: [] };
  while (at < m.length) {
    if (at + 2 > m.length) return undefined;
    const type = m[at];
    const len = m[at + 1] << 3;
    if (len === 0 || at + len > m.length) return undefined;
    switch (type) {
      case NdpOptionType.SOURCE_LINK_ADDR:
      case NdpOptionType.TARGET_LINK_ADDR:
        if (len === 8) {
          const mac = m.subarray(at + 2, at + 8);
          if (type === NdpOptionType.SOURCE_LINK_ADDR) out.sourceLinkAddr = mac;
          else out.targetLinkAddr = mac;
        }
        break;
      case NdpOptionType.MTU:
        if (len === 8) out.mtu = be32(m, at + 4);
        break;
      case NdpOptionType.PREFIX_INFO:
        if (len === 32) {
          const flags = m[at + 3];
          out.prefixes.push({
            prefixLength: m[at + 2],
            onLink: (flags & PI_ON_LINK) !== 0,
            autonomous: (flags & PI_AUTONOMOUS) !== 0,
            validLifetime: be32(m, at + 4),
            preferredLifetime: be32(m, at + 8),
            prefix: m.subarray(at + 16, at + 32),
          });
        }
        break;
      case NdpOptionType.REDIRECTED_HEADER:
        out.redirectedHeader = m.subarray(at + 8, at + len);
        break;
      default:
        break; // RFC 4861 4.6: options we do not know are skipped
    }
    at += len;
  }
  return out;
}

/**
 * Parses and validates an NDP message: `message` is the whole ICMPv6 message (checksum already
 * verified by `parseIcmpv6`), `ctx` the IPv6 header's addresses and hop limit. Never throws;
 * addresses and options are views into `message`.
 */
export function parseNdp(message: Uint8Array, ctx: NdpContext): ParseResult<NdpRepr, NdpMalformedReason> {
  if (message.length < 4) return malformed('truncated');
  const type = message[0];
  if (type < Icmpv6Type.ROUTER_SOLICIT || type > Icmpv6Type.REDIRECT) return malformed('notNdp');
  if (ctx.hopLimit !== NDP_HOP_LIMIT) return malformed('badHopLimit');
  if (message[1] !== 0) return malformed('badCode');
  const fixed = FIXED_LEN[type as keyof typeof FIXED_LEN];
  if (message.length < fixed) return malformed('truncated');
  const o = readOptions(message, fixed);
  if (o === undefined) return malformed('badOptionLength');
  const srcUnspecified = isIpv6Unspecified(ctx.src);

  switch (type) {
    case Icmpv6Type.ROUTER_SOLICIT:
      if (srcUnspecified && o.sourceLinkAddr !== undefined) return malformed('badDadProbe');
      return ok(o.sourceLinkAddr === undefined ? { kind: 'router-solicit' } : { kind: 'router-solicit', sourceLinkAddr: o.sourceLinkAddr });
    case Icmpv6Type.ROUTER_ADVERT: {
      if (!isIpv6LinkLocal(ctx.src)) return malformed('badSource');
      const flags = message[5];
      const ra: NdpRouterAdvert = {
        kind: 'router-advert',
        curHopLimit: message[4],
        managed: (flags & RA_MANAGED) !== 0,
        other: (flags & RA_OTHER) !== 0,
        routerLifetime: (message[6] << 8) | message[7],
        reachableTime: be32(message, 8),
        retransTimer: be32(message, 12),
        prefixes: o.prefixes,
        ...(o.sourceLinkAddr !== undefined ? { sourceLinkAddr: o.sourceLinkAddr } : {}),
        ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
      };
      return ok(ra);
    }
    case Icmpv6Type.NEIGHBOR_SOLICIT: {
      const target = message.subarray(8, 24);
      if (isIpv6Multicast(target)) return malformed('multicastTarget');
      if (srcUnspecified && (!isSolicitedNode(ctx.dst) || o.sourceLinkAddr !== undefined)) return malformed('badDadProbe');
      return ok(o.sourceLinkAddr === undefined
        ? { kind: 'neighbor-solicit', target }
        : { kind: 'neighbor-solicit', target, sourceLinkAddr: o.sourceLinkAddr });
    }
    case Icmpv6Type.NEIGHBOR_ADVERT: {
      const target = message.subarray(8, 24);
      if (isIpv6Multicast(target)) return malformed('multicastTarget');
      const flags = message[4];
      const solicited = (flags & NA_SOLICITED) !== 0;
      if (solicited && isIpv6Multicast(ctx.dst)) return malformed('solicitedToMulticast');
      const na: NdpNeighborAdvert = {
        kind: 'neighbor-advert',
        router: (flags & NA_ROUTER) !== 0,
        solicited,
        override: (flags & NA_OVERRIDE) !== 0,
        target,
        ...(o.targetLinkAddr !== undefined ? { targetLinkAddr: o.targetLinkAddr } : {}),
      };
      return ok(na);
    }
    default: {
      if (!isIpv6LinkLocal(ctx.src)) return malformed('badSource');
      const destination = message.subarray(24, 40);
      if (isIpv6Multicast(destination)) return malformed('multicastTarget');
      const target = message.subarray(8, 24);
      // RFC 4861 8.1: the target is a link-local router, or the destination itself.
      if (!isIpv6LinkLocal(target) && !sameBytes(target, destination)) return malformed('badSource');
      const rd: NdpRedirect = {
        kind: 'redirect',
        target,
        destination,
        ...(o.targetLinkAddr !== undefined ? { targetLinkAddr: o.targetLinkAddr } : {}),
        ...(o.redirectedHeader !== undefined ? { redirectedHeader: o.redirectedHeader } : {}),
      };
      return ok(rd);
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < IPV6_ADDR_LEN; i++) if (a[i] !== b[i]) return false;
  return true;
}

function typeOf(repr: NdpRepr): keyof typeof FIXED_LEN {
  switch (repr.kind) {
    case 'router-solicit': return Icmpv6Type.ROUTER_SOLICIT;
    case 'router-advert': return Icmpv6Type.ROUTER_ADVERT;
    case 'neighbor-solicit': return Icmpv6Type.NEIGHBOR_SOLICIT;
    case 'neighbor-advert': return Icmpv6Type.NEIGHBOR_ADVERT;
    case 'redirect': return Icmpv6Type.REDIRECT;
  }
}

/** Bytes of a redirected header option carrying `n` bytes (padded to 8, 8 bytes of header). */
function redirectedLen(n: number): number {
  return 8 + ((n + 7) & ~7);
}

/** The length of the message `emitNdp` writes for `repr` (size the PacketBuffer's headroom with it). */
export function ndpMessageLen(repr: NdpRepr): number {
  let len: number = FIXED_LEN[typeOf(repr)];
  switch (repr.kind) {
    case 'router-solicit':
      if (repr.sourceLinkAddr) len += 8;
      break;
    case 'router-advert':
      if (repr.sourceLinkAddr) len += 8;
      if (repr.mtu !== undefined) len += 8;
      len += 32 * repr.prefixes.length;
      break;
    case 'neighbor-solicit':
      if (repr.sourceLinkAddr) len += 8;
      break;
    case 'neighbor-advert':
      if (repr.targetLinkAddr) len += 8;
      break;
    case 'redirect':
      if (repr.targetLinkAddr) len += 8;
      if (repr.redirectedHeader) len += redirectedLen(repr.redirectedHeader.length);
      break;
  }
  return len;
}

function writeLinkAddr(b: Uint8Array, at: number, type: number, mac: MacAddr): number {
  b[at] = type;
  b[at + 1] = 1;
  b.set(mac.subarray(0, 6), at + 2);
  return at + 8;
}

/**
 * Prepends the whole NDP message for `repr` (fixed part, then options: link-layer address,
 * MTU, prefixes, redirected header) in front of what `pb` holds (normally nothing) and fills the
 * ICMPv6 checksum for `addrs`. The IPv6 header must go out with hop limit NDP_HOP_LIMIT.
 * Reserved bytes are written as zeros. Throws RangeError when the headroom is too small (size
 * it with `ndpMessageLen`) or a redirected header over the option's 2,040 bytes.
 */
export function emitNdp(repr: NdpRepr, pb: PacketBuffer, addrs: Icmpv6Addresses): void {
  if (repr.kind === 'redirect' && repr.redirectedHeader && redirectedLen(repr.redirectedHeader.length) > 255 * 8) {
    throw new RangeError(`NDP redirected header too long: ${repr.redirectedHeader.length} bytes`);
  }
  const len = ndpMessageLen(repr);
  const at = pb.prepend(len);
  const b = pb.buf;
  b.fill(0, at, at + len);
  const type = typeOf(repr);
  b[at] = type;
  let o = at + FIXED_LEN[type];
  switch (repr.kind) {
    case 'router-solicit':
      if (repr.sourceLinkAddr) o = writeLinkAddr(b, o, NdpOptionType.SOURCE_LINK_ADDR, repr.sourceLinkAddr);
      break;
    case 'router-advert':
      b[at + 4] = repr.curHopLimit;
      b[at + 5] = (repr.managed ? RA_MANAGED : 0) | (repr.other ? RA_OTHER : 0);
      b[at + 6] = (repr.routerLifetime >>> 8) & 0xff;
      b[at + 7] = repr.routerLifetime & 0xff;
      writeBe32(b, at + 8, repr.reachableTime);
      writeBe32(b, at + 12, repr.retransTimer);
      if (repr.sourceLinkAddr) o = writeLinkAddr(b, o, NdpOptionType.SOURCE_LINK_ADDR, repr.sourceLinkAddr);
      if (repr.mtu !== undefined) {
        b[o] = NdpOptionType.MTU;
        b[o + 1] = 1;
        writeBe32(b, o + 4, repr.mtu);
        o += 8;
      }
      for (const p of repr.prefixes) {
        b[o] = NdpOptionType.PREFIX_INFO;
        b[o + 1] = 4;
        b[o + 2] = p.prefixLength;
        b[o + 3] = (p.onLink ? PI_ON_LINK : 0) | (p.autonomous ? PI_AUTONOMOUS : 0);
        writeBe32(b, o + 4, p.validLifetime);
        writeBe32(b, o + 8, p.preferredLifetime);
        b.set(p.prefix.subarray(0, IPV6_ADDR_LEN), o + 16);
        o += 32;
      }
      break;
    case 'neighbor-solicit':
      b.set(repr.target.subarray(0, IPV6_ADDR_LEN), at + 8);
      if (repr.sourceLinkAddr) o = writeLinkAddr(b, o, NdpOptionType.SOURCE_LINK_ADDR, repr.sourceLinkAddr);
      break;
    case 'neighbor-advert':
      b[at + 4] = (repr.router ? NA_ROUTER : 0) | (repr.solicited ? NA_SOLICITED : 0) | (repr.override ? NA_OVERRIDE : 0);
      b.set(repr.target.subarray(0, IPV6_ADDR_LEN), at + 8);
      if (repr.targetLinkAddr) o = writeLinkAddr(b, o, NdpOptionType.TARGET_LINK_ADDR, repr.targetLinkAddr);
      break;
    case 'redirect':
      b.set(repr.target.subarray(0, IPV6_ADDR_LEN), at + 8);
      b.set(repr.destination.subarray(0, IPV6_ADDR_LEN), at + 24);
      if (repr.targetLinkAddr) o = writeLinkAddr(b, o, NdpOptionType.TARGET_LINK_ADDR, repr.targetLinkAddr);
      if (repr.redirectedHeader) {
        const n = redirectedLen(repr.redirectedHeader.length);
        b[o] = NdpOptionType.REDIRECTED_HEADER;
        b[o + 1] = n >>> 3;
        b.set(repr.redirectedHeader, o + 8);
        o += n;
      }
      break;
  }
  fillIcmpv6Checksum(b, at, pb.end - at, addrs.src, addrs.dst);
}
