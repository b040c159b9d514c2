/**
 * Ethernet II frames (IEEE 802.3 with an EtherType), with one optional IEEE 802.1Q tag.
 * The frame check sequence is not present: TAP devices and packet sockets strip it.
 */

import type { MacAddr } from '../mac.js';
import type { PacketBuffer } from '../packet-buffer.js';
import { malformed, ok, type ParseResult } from './parse-result.js';

/**
 * Byte offsets of the Ethernet header fields from the start of the frame, for code that reads
 * raw frames without a view (`frame[EthernetOffset.TYPE]`). Multi-byte fields are big-endian.
 */
export const EthernetOffset = Object.freeze({
  /** Destination MAC, 6 bytes. */
  DST: 0,
  /** Source MAC, 6 bytes. */
  SRC: 6,
  /** EtherType, 2 bytes (0x8100 when an 802.1Q tag follows). */
  TYPE: 12,
  /** The payload of an untagged frame. */
  PAYLOAD: 14,
  /** With an 802.1Q tag: TPID 0x8100 at TYPE, then the tag control information (2 bytes)... */
  VLAN_TCI: 14,
  /** ...then the EtherType of what the frame really carries (2 bytes)... */
  VLAN_TYPE: 16,
  /** ...then the payload. */
  VLAN_PAYLOAD: 18,
} as const);
const F = EthernetOffset;

export const ETHERNET_HEADER_LEN = 14;
export const VLAN_TAG_LEN = 4;

/** EtherType values we know. Others are carried as plain numbers, not errors. */
export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPV6: 0x86dd,
} as const;
export type EtherType = (typeof EtherType)[keyof typeof EtherType];

export type EthernetMalformedReason = 'truncated' | 'truncatedVlan';

/** An 802.1Q tag. */
export interface VlanTag {
  /** VLAN identifier, 12 bits. */
  readonly id: number;
  /** Priority code point, 3 bits. */
  readonly pcp: number;
  /** Drop eligible indicator. */
  readonly dei: boolean;
}

/** What an Ethernet header means. */
export interface EthernetRepr {
  /** Destination MAC. After `parseEthernet`, a view into the frame: copy (`slice()`) to keep it. */
  readonly dst: MacAddr;
  /** Source MAC. After `parseEthernet`, a view into the frame: copy (`slice()`) to keep it. */
  readonly src: MacAddr;
  /** The EtherType of the payload (the inner one when a VLAN tag is present). */
  readonly ethertype: number;
  /** The 802.1Q tag, when the frame carries one. */
  readonly vlan?: VlanTag;
}

/** A parsed frame: the header's meaning and the payload as a view (no copy). */
export type ParsedEthernet = EthernetRepr & { readonly payload: Uint8Array };

/**
 * A view over an Ethernet frame. Rebind with `reset()` to reuse one instance per stream.
 * Getters other than `check()` assume `check()` returned undefined.
 */
export class EthernetFrame {
  bytes: Uint8Array;

  constructor(bytes: Uint8Array = new Uint8Array(0)) {
    this.bytes = bytes;
  }

  /** Rebinds the view to other bytes without allocating. */
  reset(bytes: Uint8Array): this {
    this.bytes = bytes;
    return this;
  }

  /** Undefined when every getter is safe, otherwise why the frame is malformed. */
  check(): EthernetMalformedReason | undefined {
    const b = this.bytes;
    if (b.length < ETHERNET_HEADER_LEN) return 'truncated';
    if (this.rawEthertype === EtherType.VLAN && b.length < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) return 'truncatedVlan';
    return undefined;
  }

  /** Destination MAC as a view (no copy). */
  get dst(): Uint8Array {
    return this.bytes.subarray(F.DST, F.DST + 6);
  }

  set dst(mac: Uint8Array) {
    this.bytes.set(mac.subarray(0, 6), F.DST);
  }

  /** Source MAC as a view (no copy). */
  get src(): Uint8Array {
    return this.bytes.subarray(F.SRC, F.SRC + 6);
  }

  set src(mac: Uint8Array) {
    this.bytes.set(mac.subarray(0, 6), F.SRC);
  }

  /** The EtherType field at offset 12 (0x8100 when tagged). */
  get rawEthertype(): number {
    return (this.bytes[F.TYPE] << 8) | this.bytes[F.TYPE + 1];
  }

  set rawEthertype(value: number) {
    this.bytes[F.TYPE] = value >>> 8;
    this.bytes[F.TYPE + 1] = value & 0xff;
  }

  get hasVlan(): boolean {
    return this.rawEthertype === EtherType.VLAN;
  }

  /** The 16-bit tag control information (only meaningful when `hasVlan`). */
  get vlanTci(): number {
    return (this.bytes[F.VLAN_TCI] << 8) | this.bytes[F.VLAN_TCI + 1];
  }

  /** The EtherType of the payload: the inner one when tagged. */
  get ethertype(): number {
    if (!this.hasVlan) return this.rawEthertype;
    return (this.bytes[F.VLAN_TYPE] << 8) | this.bytes[F.VLAN_TYPE + 1];
  }

  /** Header length: 14, or 18 with a VLAN tag. */
  get headerLen(): number {
    return this.hasVlan ? F.VLAN_PAYLOAD : F.PAYLOAD;
  }

  /** The payload (after any VLAN tag) as a view, including any trailing padding. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLen);
  }
}

/** Header length `emitEthernet` will prepend for `repr`. */
export function ethernetHeaderLen(repr: EthernetRepr): number {
  return repr.vlan ? ETHERNET_HEADER_LEN + VLAN_TAG_LEN : ETHERNET_HEADER_LEN;
}

/** Parses a frame. Never throws; MACs and payload are views into `bytes`. */
export function parseEthernet(bytes: Uint8Array): ParseResult<ParsedEthernet, EthernetMalformedReason> {
  const frame = new EthernetFrame(bytes);
  const reason = frame.check();
  if (reason !== undefined) return malformed(reason);
  let vlan: VlanTag | undefined;
  if (frame.hasVlan) {
    const tci = frame.vlanTci;
    vlan = { id: tci & 0x0fff, pcp: tci >>> 13, dei: (tci & 0x1000) !== 0 };
  }
  return ok({ dst: frame.dst, src: frame.src, ethertype: frame.ethertype, vlan, payload: frame.payload });
}

/**
 * Prepends the Ethernet header (and the 802.1Q tag when `repr.vlan` is set) in front of what
 * `pb` already holds. Does not pad to the 60-byte minimum: that is the link's concern.
 */
export function emitEthernet(repr: EthernetRepr, pb: PacketBuffer): void {
  const at = pb.prepend(ethernetHeaderLen(repr));
  const b = pb.buf;
  b.set(repr.dst.subarray(0, 6), at + F.DST);
  b.set(repr.src.subarray(0, 6), at + F.SRC);
  let typeAt = at + F.TYPE;
  if (repr.vlan) {
    b[typeAt] = EtherType.VLAN >>> 8;
    b[typeAt + 1] = EtherType.VLAN & 0xff;
    const tci = ((repr.vlan.pcp & 7) << 13) | (repr.vlan.dei ? 0x1000 : 0) | (repr.vlan.id & 0x0fff);
    b[at + F.VLAN_TCI] = tci >>> 8;
    b[at + F.VLAN_TCI + 1] = tci & 0xff;
    typeAt = at + F.VLAN_TYPE;
  }
  b[typeAt] = repr.ethertype >>> 8;
  b[typeAt + 1] = repr.ethertype & 0xff;
}
