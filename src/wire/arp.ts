/**
 * ARP (RFC 826) for Ethernet and IPv4 only: any other hardware or protocol address space is
 * reported as malformed, since a host on an Ethernet IPv4 link has no use for it.
 */

import { readIpv4, writeIpv4, type Ipv4Addr } from '../ipv4/address.js';
import type { MacAddr } from '../mac.js';
import type { PacketBuffer } from '../packet-buffer.js';
import { malformed, ok, type ParseResult } from './parse-result.js';

/** Byte offsets of the fields (Ethernet/IPv4 sizes). */
const F = {
  HTYPE: 0,
  PTYPE: 2,
  HLEN: 4,
  PLEN: 5,
  OPER: 6,
  SHA: 8,
  SPA: 14,
  THA: 18,
  TPA: 24,
} as const;

/** An Ethernet/IPv4 ARP packet is always 28 bytes (the frame may add padding after it). */
export const ARP_PACKET_LEN = 28;

const HTYPE_ETHERNET = 1;
const PTYPE_IPV4 = 0x0800;

export const ArpOp = {
  REQUEST: 1,
  REPLY: 2,
} as const;
export type ArpOp = (typeof ArpOp)[keyof typeof ArpOp];

export type ArpMalformedReason =
  | 'truncated'
  | 'badHardwareType'
  | 'badProtocolType'
  | 'badAddressLength';

/** What an Ethernet/IPv4 ARP packet means. Unknown operations are kept as numbers. */
export interface ArpRepr {
  /** ArpOp value (any 16-bit number on parse). */
  readonly op: number;
  /** Sender MAC. After `parseArp`, a view into the packet: copy (`slice()`) to keep it. */
  readonly senderMac: MacAddr;
  readonly senderIp: Ipv4Addr;
  /** Target MAC (zero in requests). After `parseArp`, a view: copy to keep it. */
  readonly targetMac: MacAddr;
  readonly targetIp: Ipv4Addr;
}

/** A view over an ARP packet. Getters other than `check()` assume it returned undefined. */
export class ArpPacket {
  bytes: Uint8Array;

  constructor(bytes: Uint8Array = new Uint8Array(0)) {
    this.bytes = bytes;
  }

  /** Rebinds the view to other bytes without allocating. */
  reset(bytes: Uint8Array): this {
    this.bytes = bytes;
    return this;
  }

  /** Undefined for a complete Ethernet/IPv4 ARP packet, otherwise why not. */
  check(): ArpMalformedReason | undefined {
    if (this.bytes.length < ARP_PACKET_LEN) return 'truncated';
    if (this.hardwareType !== HTYPE_ETHERNET) return 'badHardwareType';
    if (this.protocolType !== PTYPE_IPV4) return 'badProtocolType';
    if (this.bytes[F.HLEN] !== 6 || this.bytes[F.PLEN] !== 4) return 'badAddressLength';
    return undefined;
  }

  get hardwareType(): number {
    return (this.bytes[F.HTYPE] << 8) | this.bytes[F.HTYPE + 1];
  }

  get protocolType(): number {
    return (this.bytes[F.PTYPE] << 8) | this.bytes[F.PTYPE + 1];
  }

  get op(): number {
    return (this.bytes[F.OPER] << 8) | this.bytes[F.OPER + 1];
  }

  set op(value: number) {
    this.bytes[F.OPER] = value >>> 8;
    this.bytes[F.OPER + 1] = value & 0xff;
  }

  get senderMac(): Uint8Array {
    return this.bytes.subarray(F.SHA, F.SHA + 6);
  }

  set senderMac(mac: Uint8Array) {
    this.bytes.set(mac.subarray(0, 6), F.SHA);
  }

  get senderIp(): Ipv4Addr {
    return readIpv4(this.bytes, F.SPA);
  }

  set senderIp(addr: Ipv4Addr) {
    writeIpv4(this.bytes, F.SPA, addr);
  }

  get targetMac(): Uint8Array {
    return this.bytes.subarray(F.THA, F.THA + 6);
  }

  set targetMac(mac: Uint8Array) {
    this.bytes.set(mac.subarray(0, 6), F.THA);
  }

  get targetIp(): Ipv4Addr {
    return readIpv4(this.bytes, F.TPA);
  }

  set targetIp(addr: Ipv4Addr) {
    writeIpv4(this.bytes, F.TPA, addr);
  }
}

/** Parses an ARP packet (the Ethernet payload; trailing padding ignored). Never throws. */
export function parseArp(bytes: Uint8Array): ParseResult<ArpRepr, ArpMalformedReason> {
  const p = new ArpPacket(bytes);
  const reason = p.check();
  if (reason !== undefined) return malformed(reason);
  return ok({ op: p.op, senderMac: p.senderMac, senderIp: p.senderIp, targetMac: p.targetMac, targetIp: p.targetIp });
}

/** Prepends the 28-byte ARP packet in front of what `pb` holds (normally nothing). */
export function emitArp(repr: ArpRepr, pb: PacketBuffer): void {
  const at = pb.prepend(ARP_PACKET_LEN);
  const b = pb.buf;
  b[at + F.HTYPE] = 0;
  b[at + F.HTYPE + 1] = HTYPE_ETHERNET;
  b[at + F.PTYPE] = PTYPE_IPV4 >>> 8;
  b[at + F.PTYPE + 1] = PTYPE_IPV4 & 0xff;
  b[at + F.HLEN] = 6;
  b[at + F.PLEN] = 4;
  b[at + F.OPER] = (repr.op >>> 8) & 0xff;
  b[at + F.OPER + 1] = repr.op & 0xff;
  b.set(repr.senderMac.subarray(0, 6), at + F.SHA);
  writeIpv4(b, at + F.SPA, repr.senderIp);
  b.set(repr.targetMac.subarray(0, 6), at + F.THA);
  writeIpv4(b, at + F.TPA, repr.targetIp);
}
