/**
 * The IPv6 extension header chain (RFC 8200 4), walked from the fixed header to the upper-layer
 * header: hop-by-hop options, routing, fragment and destination options, with limits on the
 * number of headers, the bytes of the chain and the options per header, so that a packet cannot
 * make us walk for long (RFC 8504 5.3, RFC 8883).
 *
 * The walk answers either "the upper layer is protocol P at offset O" (plus what it met on the
 * way: a fragment header, a router alert) or "drop, because R", with the ICMPv6 Parameter Problem
 * the RFCs require for that reason (code and pointer), which the wiring sends unless the rate
 * limiter or the "never answer an error/multicast" rules say otherwise.
 *
 * Rules, each with its reason:
 * - Hop-by-hop options only immediately after the fixed header (RFC 8200 4.1); elsewhere it is
 *   an unrecognised next header: 'hopByHopNotFirst', code 1, pointer at the Next Header field.
 * - Options (hop-by-hop, destination): Pad1 and PadN skipped; an unknown option is handled by
 *   the two high-order bits of its type (RFC 8200 4.2): 00 skip, 01 discard ('unknownOption'),
 *   10 discard and send code 2 pointing at the option type, 11 the same unless the destination
 *   is multicast. More than 7 bytes of consecutive padding (Linux's limit: padding is only ever
 *   needed for alignment, longer runs are covert channels) is 'excessPadding'; more than
 *   `maxOptions` non-padding options in one header is 'tooManyOptions' (RFC 8883 code 9).
 * - Routing (RFC 8200 4.4): with Segments Left 0 it is ignored. Otherwise a host, which forwards
 *   nothing, treats every type as unrecognised (type 0 is deprecated anyway, RFC 5095):
 *   'unknownRoutingType', code 0, pointer at the Routing Type field.
 * - Fragment (RFC 8200 4.5): an atomic fragment (offset 0, M clear) is processed in isolation
 *   and the walk goes on (RFC 6946). Any other fragment ends the walk with kind 'fragment' so the
 *   wiring hands it to reassembly; the first fragment (offset 0) must hold the whole chain up to
 *   the upper-layer header (RFC 7112: 'incompleteChain', code 3, pointer 0), which the walk
 *   checks by going on past the fragment header inside this fragment, up to the fixed part of a
 *   TCP, UDP or ICMPv6 header (only the shape: the options and routing headers of the
 *   fragmentable part are processed on the reassembled packet). A second fragment header there
 *   is 'nestedFragment'. A fragment header whose
 *   data is not a multiple of 8 bytes while M is set is 'badFragmentLength' (code 0, pointer at
 *   the Payload Length field, RFC 8200 4.5); one whose data would end past 65,535 bytes is
 *   'fragmentTooLong' (code 0, pointer at the Fragment Offset field).
 * - A chain running past the packet is 'truncated' (no ICMP: there is nothing sensible to point
 *   at); more than `maxHeaders` headers is 'tooManyHeaders' (RFC 8883 code 8); a chain longer
 *   than `maxChainBytes` is 'chainTooLong' (RFC 8883 code 7).
 * - Anything else (TCP, UDP, ICMPv6, ESP, No Next Header, unknown numbers) is the upper layer:
 *   the wiring delivers it or answers code 1 pointing at `nextHeaderAt` (RFC 8200 4), except
 *   for No Next Header (59), which is silently consumed (RFC 8200 4.7).
 *
 * Pointers are byte offsets from the start of the IPv6 header, as ICMPv6 Parameter Problem wants.
 * Allocation: one result object per walk. The wiring skips the walk entirely when the fixed
 * header's Next Header is already TCP, UDP or ICMPv6 (the common case).
 */

import { IPV6_HEADER_LEN, Ipv6NextHeader, Ipv6Offset } from './ipv6.js';

/** ICMPv6 Parameter Problem codes (RFC 4443 3.4, RFC 7112, RFC 8883). */
export const Icmpv6ParamProblemCode = {
  ERRONEOUS_HEADER_FIELD: 0,
  UNRECOGNIZED_NEXT_HEADER: 1,
  UNRECOGNIZED_OPTION: 2,
  INCOMPLETE_HEADER_CHAIN: 3,
  EXTENSION_HEADER_TOO_BIG: 6,
  EXTENSION_HEADER_CHAIN_TOO_LONG: 7,
  TOO_MANY_EXTENSION_HEADERS: 8,
  TOO_MANY_OPTIONS: 9,
  OPTION_TOO_BIG: 10,
} as const;
export type Icmpv6ParamProblemCode = (typeof Icmpv6ParamProblemCode)[keyof typeof Icmpv6ParamProblemCode];

/** Option types a host knows (IANA "Destination Options and Hop-by-Hop Options"). */
export const Ipv6OptionType = {
  PAD1: 0x00,
  PADN: 0x01,
  /** RFC 2711: MLD messages carry it (value 0: MLD). */
  ROUTER_ALERT: 0x05,
} as const;

/** What to do with an option we do not know: the two high-order bits of its type (RFC 8200 4.2). */
export const Ipv6OptionAction = {
  SKIP: 0,
  DISCARD: 1,
  DISCARD_ICMP: 2,
  DISCARD_ICMP_UNLESS_MULTICAST: 3,
} as const;

/** The action bits of an option type. */
export function ipv6OptionAction(type: number): number {
  return type >>> 6;
}

export type Ipv6ExtDropReason =
  | 'truncated'
  | 'hopByHopNotFirst'
  | 'unknownOption'
  | 'excessPadding'
  | 'tooManyOptions'
  | 'unknownRoutingType'
  | 'badFragmentLength'
  | 'fragmentTooLong'
  | 'incompleteChain'
  | 'nestedFragment'
  | 'tooManyHeaders'
  | 'chainTooLong';

/** The Parameter Problem to send back for a drop. */
export interface Ipv6ParamProblem {
  readonly code: number;
  /** Offset of the offending byte from the start of the IPv6 header. */
  readonly pointer: number;
}

/** A fragment header met on the walk (offsets from the start of the IPv6 header). */
export interface Ipv6FragmentInfo {
  /** Where the fragment header starts: the unfragmentable part is everything before it. */
  readonly headerAt: number;
  /** Offset of the Next Header field that named the fragment header (rewritten on reassembly). */
  readonly nextHeaderAt: number;
  /** The Next Header field of the fragment header: the first header of the fragmentable part. */
  readonly nextHeader: number;
  /** Byte offset of this fragment's data in the original fragmentable part. */
  readonly offset: number;
  readonly more: boolean;
  readonly ident: number;
  /** Where this fragment's data starts (right after the fragment header). */
  readonly dataAt: number;
}

export type Ipv6ChainResult =
  | {
      readonly kind: 'upper';
      /** The upper-layer protocol number (6, 17, 58, 59 or anything unknown). */
      readonly protocol: number;
      /** Offset of the upper-layer header from the start of the IPv6 header. */
      readonly offset: number;
      /** Offset of the Next Header field that named `protocol` (for code 1 pointers). */
      readonly nextHeaderAt: number;
      /** A hop-by-hop Router Alert option was present (RFC 2711), with its value. */
      readonly routerAlert: number | undefined;
      /** An atomic fragment header was passed (RFC 6946): reassembly is not involved. */
      readonly atomicFragment: boolean;
      readonly headers: number;
    }
  | {
      readonly kind: 'fragment';
      readonly fragment: Ipv6FragmentInfo;
      readonly routerAlert: number | undefined;
      readonly headers: number;
    }
  | {
      readonly kind: 'drop';
      readonly reason: Ipv6ExtDropReason;
      /** The ICMPv6 Parameter Problem to answer with, when the RFCs ask for one. */
      readonly icmp: Ipv6ParamProblem | undefined;
    };

export interface Ipv6ChainLimits {
  /** Extension headers walked before 'tooManyHeaders'. Default 8. */
  readonly maxHeaders: number;
  /** Bytes of extension headers before 'chainTooLong'. Default 1024. */
  readonly maxChainBytes: number;
  /** Non-padding options per options header before 'tooManyOptions'. Default 8 (Linux max_hbh_opts_number). */
  readonly maxOptions: number;
}

export const IPV6_CHAIN_DEFAULTS: Readonly<Ipv6ChainLimits> = Object.freeze({
  maxHeaders: 8,
  maxChainBytes: 1024,
  maxOptions: 8,
});

/** Longest run of padding bytes accepted in an options header. */
const MAX_PADDING = 7;
const FRAGMENT_HEADER_LEN = 8;

function drop(reason: Ipv6ExtDropReason, code?: number, pointer?: number): Ipv6ChainResult {
  return { kind: 'drop', reason, icmp: code === undefined ? undefined : { code, pointer: pointer as number } };
}

const TRUNCATED = Object.freeze(drop('truncated'));

/** The result of walking one options header: undefined to go on, or why to drop. */
export type Ipv6OptionsVerdict = { readonly reason: Ipv6ExtDropReason; readonly icmp: Ipv6ParamProblem | undefined } | undefined;

/**
 * Walks the options TLVs of a hop-by-hop or destination options header at `packet[at..end)`
 * (the options start 2 bytes in). `onRouterAlert` receives a router alert's value. Never throws.
 */
export function walkIpv6Options(
  packet: Uint8Array, at: number, end: number, dstMulticast: boolean, maxOptions: number,
  onRouterAlert?: (value: number) => void,
): Ipv6OptionsVerdict {
  let i = at + 2;
  let padding = 0;
  let options = 0;
  while (i < end) {
    const type = packet[i];
    if (type === Ipv6OptionType.PAD1) {
      if (++padding > MAX_PADDING) return { reason: 'excessPadding', icmp: undefined };
      i++;
      continue;
    }
    if (i + 2 > end) return { reason: 'truncated', icmp: undefined };
    const len = packet[i + 1];
    if (i + 2 + len > end) return { reason: 'truncated', icmp: undefined };
    if (type === Ipv6OptionType.PADN) {
      padding += len + 2;
      if (padding > MAX_PADDING) return { reason: 'excessPadding', icmp: undefined };
      i += 2 + len;
      continue;
    }
    padding = 0;
    if (++options > maxOptions) {
      return { reason: 'tooManyOptions', icmp: { code: Icmpv6ParamProblemCode.TOO_MANY_OPTIONS, pointer: i } };
    }
    if (type === Ipv6OptionType.ROUTER_ALERT && len === 2) {
      onRouterAlert?.((packet[i + 2] << 8) | packet[i + 3]);
    } else {
      switch (ipv6OptionAction(type)) {
        case Ipv6OptionAction.SKIP:
          break;
        case Ipv6OptionAction.DISCARD:
          return { reason: 'unknownOption', icmp: undefined };
        case Ipv6OptionAction.DISCARD_ICMP:
          return { reason: 'unknownOption', icmp: { code: Icmpv6ParamProblemCode.UNRECOGNIZED_OPTION, pointer: i } };
        default:
          return {
            reason: 'unknownOption',
            icmp: dstMulticast ? undefined : { code: Icmpv6ParamProblemCode.UNRECOGNIZED_OPTION, pointer: i },
          };
      }
    }
    i += 2 + len;
  }
  return undefined;
}

/**
 * Walks the chain of `packet` (an IPv6 packet from its fixed header, cut at its payload length;
 * the fixed header already validated) to the upper-layer header. Never throws.
 */
export function walkIpv6Chain(packet: Uint8Array, limits: Readonly<Ipv6ChainLimits> = IPV6_CHAIN_DEFAULTS): Ipv6ChainResult {
  const end = packet.length;
  const dstMulticast = packet[Ipv6Offset.DST] === 0xff;
  let next = packet[Ipv6Offset.NEXT_HEADER];
  let nextAt: number = Ipv6Offset.NEXT_HEADER;
  let at = IPV6_HEADER_LEN;
  let headers = 0;
  let routerAlert: number | undefined;
  let atomic = false;
  let fragment: Ipv6FragmentInfo | undefined;
  const onRouterAlert = (v: number): void => {
    routerAlert = v;
  };

  for (;;) {
    switch (next) {
      case Ipv6NextHeader.HOP_BY_HOP:
      case Ipv6NextHeader.ROUTING:
      case Ipv6NextHeader.FRAGMENT:
      case Ipv6NextHeader.DESTINATION_OPTIONS:
        break;
      default:
        if (fragment !== undefined) {
          if (end - at < upperHeaderMin(next)) return incomplete(fragment);
          return { kind: 'fragment', fragment, routerAlert, headers };
        }
        return { kind: 'upper', protocol: next, offset: at, nextHeaderAt: nextAt, routerAlert, atomicFragment: atomic, headers };
    }
    if (++headers > limits.maxHeaders) {
      return drop('tooManyHeaders', Icmpv6ParamProblemCode.TOO_MANY_EXTENSION_HEADERS, at);
    }
    if (at + 2 > end) return incomplete(fragment);
    const len = next === Ipv6NextHeader.FRAGMENT ? FRAGMENT_HEADER_LEN : (packet[at + 1] + 1) << 3;
    if (at + len > end) return incomplete(fragment);
    if (at + len - IPV6_HEADER_LEN > limits.maxChainBytes) {
      return drop('chainTooLong', Icmpv6ParamProblemCode.EXTENSION_HEADER_CHAIN_TOO_LONG, at);
    }

    switch (next) {
      case Ipv6NextHeader.HOP_BY_HOP:
      case Ipv6NextHeader.DESTINATION_OPTIONS: {
        if (next === Ipv6NextHeader.HOP_BY_HOP && at !== IPV6_HEADER_LEN) {
          return drop('hopByHopNotFirst', Icmpv6ParamProblemCode.UNRECOGNIZED_NEXT_HEADER, nextAt);
        }
        // Inside a first fragment only the chain's shape is checked (RFC 7112); options of the
        // fragmentable part are processed once, on the reassembled packet.
        if (fragment !== undefined) break;
        const v = walkIpv6Options(packet, at, at + len, dstMulticast, limits.maxOptions,
          next === Ipv6NextHeader.HOP_BY_HOP ? onRouterAlert : undefined);
        if (v !== undefined) return v.reason === 'truncated' ? TRUNCATED : { kind: 'drop', reason: v.reason, icmp: v.icmp };
        break;
      }
      case Ipv6NextHeader.ROUTING: {
        if (fragment !== undefined) break; // processed after reassembly
        const segmentsLeft = packet[at + 3];
        if (segmentsLeft !== 0) return drop('unknownRoutingType', Icmpv6ParamProblemCode.ERRONEOUS_HEADER_FIELD, at + 2);
        break;
      }
      case Ipv6NextHeader.FRAGMENT: {
        // A second fragment header inside a first fragment's chain: nothing legitimate does that.
        if (fragment !== undefined) return drop('nestedFragment');
        const offMore = (packet[at + 2] << 8) | packet[at + 3];
        const offset = offMore & 0xfff8;
        const more = (offMore & 1) !== 0;
        const dataAt = at + FRAGMENT_HEADER_LEN;
        const dataLen = end - dataAt;
        if (offset === 0 && !more) {
          atomic = true; // RFC 6946: an atomic fragment is processed in isolation
          break;
        }
        if (more && (dataLen & 7) !== 0) {
          return drop('badFragmentLength', Icmpv6ParamProblemCode.ERRONEOUS_HEADER_FIELD, Ipv6Offset.PAYLOAD_LENGTH);
        }
        if (offset + dataLen > 0xffff) {
          return drop('fragmentTooLong', Icmpv6ParamProblemCode.ERRONEOUS_HEADER_FIELD, at + 2);
        }
        fragment = {
          headerAt: at,
          nextHeaderAt: nextAt,
          nextHeader: packet[at],
          offset,
          more,
          ident: ((packet[at + 4] << 24) | (packet[at + 5] << 16) | (packet[at + 6] << 8) | packet[at + 7]) >>> 0,
          dataAt,
        };
        // Later fragments hold no headers; the first one must hold the rest of the chain (RFC 7112).
        if (offset !== 0) return { kind: 'fragment', fragment, routerAlert, headers };
        break;
      }
    }
    nextAt = at;
    next = packet[at];
    at += len;
  }
}

/**
 * Bytes of the upper-layer header a first fragment must hold for the chain to be complete
 * (RFC 7112): the fixed part of TCP and UDP headers, ICMPv6's type, code and checksum.
 */
function upperHeaderMin(protocol: number): number {
  switch (protocol) {
    case 6: return 20;
    case 17: return 8;
    case Ipv6NextHeader.ICMPV6: return 4;
    default: return 0;
  }
}

/** The chain ran past the bytes: inside a first fragment that is RFC 7112's incomplete chain. */
function incomplete(fragment: Ipv6FragmentInfo | undefined): Ipv6ChainResult {
  return fragment === undefined ? TRUNCATED : drop('incompleteChain', Icmpv6ParamProblemCode.INCOMPLETE_HEADER_CHAIN, 0);
}
