/**
 * IPv6 reassembly (RFC 8200 4.5) on the generic reassembler of src/ipv4/reassembly.ts, which
 * already follows RFC 5722 (any overlap drops the whole datagram; exact duplicates are ignored),
 * bounds bytes and datagrams, and reports expiry with the first fragment for ICMP.
 *
 * What is IPv6's own:
 * - identity: source, destination and Identification; not the Next Header, which may differ
 *   between fragments (only the first fragment's counts);
 * - size: the reassembled Payload Length (the unfragmentable extension headers plus the data)
 *   must fit 65,535 bytes: the reassembler's "header length" is the unfragmentable extension
 *   headers' length, and a 'tooBig' drop answers Parameter Problem code 0 at the Fragment Offset
 *   field of the fragment that overflowed;
 * - the result is a whole IPv6 packet again: the first fragment's unfragmentable part, whose last
 *   Next Header field now names the first fragmentable header (the fragment header is gone),
 *   its Payload Length recomputed, then the data. The wiring walks it again with walkIpv6Chain;
 * - timeout 60 s (IPV6_REASSEMBLY_DEFAULTS); an expired datagram whose first fragment arrived
 *   earns ICMPv6 Time Exceeded code 1 quoting that fragment.
 *
 * Atomic fragments (RFC 6946) and the checks on single fragments (length a multiple of 8, RFC
 * 7112's complete first chain) are done by walkIpv6Chain before a fragment gets here.
 */

import { Reassembler, type ReassemblyCounters, type ReassemblyDropReason } from '../ipv4/reassembly.js';
import type { ReassemblyConfig } from '../ipv4/config.js';
import type { Ipv6FragmentInfo, Ipv6ParamProblem } from '../wire/ipv6-ext.js';
import { Icmpv6ParamProblemCode } from '../wire/ipv6-ext.js';
import { IPV6_ADDR_LEN, type Ipv6Addr } from './address.js';
import { IPV6_LIMITS, IPV6_REASSEMBLY_DEFAULTS } from './config.js';

/** What the reassembler keeps of a fragment until completion. */
interface Held {
  /** The fragment's whole packet (a view): the first fragment's unfragmentable part is read from it. */
  readonly packet: Uint8Array;
  readonly info: Ipv6FragmentInfo;
}

export type Ipv6ReassemblyResult =
  | { readonly kind: 'pending' }
  | {
      readonly kind: 'dropped';
      readonly reason: ReassemblyDropReason;
      /** The Parameter Problem RFC 8200 4.5 asks for ('tooBig'), else undefined. */
      readonly icmp: Ipv6ParamProblem | undefined;
    }
  | {
      readonly kind: 'complete';
      /** The reassembled IPv6 packet, fixed header first: walk it again. One new allocation. */
      readonly packet: Uint8Array;
    };

export interface Ipv6ExpiredDatagram {
  readonly src: Ipv6Addr;
  readonly dst: Ipv6Addr;
  readonly ident: number;
  /** The first fragment's whole packet, when it had arrived (quote it in Time Exceeded code 1). */
  readonly firstPacket: Uint8Array | undefined;
}

const PENDING = Object.freeze({ kind: 'pending' as const });

/** Fragment identity: both addresses as 32 latin1 characters, then the identification. */
function keyOf(f: { readonly src: Ipv6Addr; readonly dst: Ipv6Addr; readonly id: number }): string {
  let k = '';
  for (let i = 0; i < IPV6_ADDR_LEN; i++) k += String.fromCharCode(f.src[i]);
  for (let i = 0; i < IPV6_ADDR_LEN; i++) k += String.fromCharCode(f.dst[i]);
  return k + f.id;
}

export class Ipv6Reassembler {
  readonly #r: Reassembler<Held, Ipv6Addr>;

  constructor(config: Readonly<Partial<ReassemblyConfig>> = {}) {
    this.#r = new Reassembler<Held, Ipv6Addr>({ ...IPV6_REASSEMBLY_DEFAULTS, ...config }, {
      keyOf,
      maxDatagram: IPV6_LIMITS.MAX_PAYLOAD,
    });
  }

  get config(): Readonly<ReassemblyConfig> {
    return this.#r.config;
  }

  /** Counters by outcome and drop reason (the generic reassembler's). */
  get counters(): Readonly<ReassemblyCounters> {
    return this.#r.counters;
  }

  get size(): number {
    return this.#r.size;
  }

  get bytesHeld(): number {
    return this.#r.bytesHeld;
  }

  /**
   * Adds the fragment `info` (from walkIpv6Chain) of `packet` (the IPv6 packet from its fixed
   * header, cut at its payload length) received at `now` ms. Addresses are read from the packet
   * and copied; the packet itself is held as a view until the datagram completes or is dropped.
   */
  add(packet: Uint8Array, info: Ipv6FragmentInfo, now: number): Ipv6ReassemblyResult {
    const r = this.#r.add({
      src: packet.slice(8, 24),
      dst: packet.slice(24, 40),
      protocol: info.nextHeader,
      id: info.ident,
      offset: info.offset,
      more: info.more,
      headerLength: info.headerAt - IPV6_LIMITS.FIXED_HEADER,
      payload: packet.subarray(info.dataAt),
      header: { packet, info },
    }, now);
    switch (r.kind) {
      case 'pending':
        return PENDING;
      case 'dropped':
        return {
          kind: 'dropped',
          reason: r.reason,
          icmp: r.reason === 'tooBig'
            ? { code: Icmpv6ParamProblemCode.ERRONEOUS_HEADER_FIELD, pointer: info.headerAt + 2 }
            : undefined,
        };
      case 'complete':
        return { kind: 'complete', packet: rebuild(r.header, r.payload) };
    }
  }

  /** Drops the partial datagrams due at `now` (oldest first). */
  expire(now: number): Ipv6ExpiredDatagram[] {
    return this.#r.expire(now).map((d) => ({
      src: d.src,
      dst: d.dst,
      ident: d.id,
      firstPacket: d.first?.header.packet,
    }));
  }

  nextDeadline(): number | undefined {
    return this.#r.nextDeadline();
  }

  clear(): void {
    this.#r.clear();
  }
}

/** The first fragment's unfragmentable part, relinked past the fragment header, then the data. */
function rebuild(first: Held, data: Uint8Array): Uint8Array {
  const { packet, info } = first;
  const unfrag = info.headerAt;
  const out = new Uint8Array(unfrag + data.length);
  out.set(packet.subarray(0, unfrag), 0);
  out.set(data, unfrag);
  out[info.nextHeaderAt] = info.nextHeader;
  const payloadLength = out.length - IPV6_LIMITS.FIXED_HEADER;
  out[4] = payloadLength >>> 8;
  out[5] = payloadLength & 0xff;
  return out;
}
