/**
 * Frame builders: whole Ethernet frames, byte-exact, built with the wire codecs of
 * `rx-netstack/core` (the same `emitTcp`, `emitIpv4`, `emitEthernet` the stack uses), so
 * lengths and checksums are right unless a test asks otherwise. Every builder returns a fresh
 * `Uint8Array` the caller owns.
 *
 * Fields are grouped by layer, as in a packet dissector:
 *
 * ```ts
 * tcpFrame({
 *   eth: { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' },
 *   ip: { src: '198.18.0.1', dst: '198.18.0.2' },
 *   tcp: { srcPort: 40000, dstPort: 80, seq: 1000, flags: 'SYN', mss: 1460 },
 * });
 * ```
 */
import { MAC_BROADCAST, MAC_ZERO, PacketBuffer, wire } from '../../src/index.js';
import { ipv4Number, macBytes, type Ipv4Like, type MacLike } from './addresses.js';
import { tcpFlagBits, type TcpFlagsLike } from './tcp-flags.js';

/** Bytes, or text sent as UTF-8. */
export type PayloadLike = Uint8Array | string;

/** The Ethernet header of a frame. */
export interface EthernetFields {
  readonly src: MacLike;
  readonly dst: MacLike;
  /** An 802.1Q tag (id 0..4095, priority 0..7). Default: untagged. */
  readonly vlan?: { readonly id: number; readonly pcp?: number; readonly dei?: boolean };
}

/** The IPv4 header of a packet; everything but the addresses has a default. */
export interface Ipv4Fields {
  readonly src: Ipv4Like;
  readonly dst: Ipv4Like;
  /** Default 64. */
  readonly ttl?: number;
  /** Identification. Default 0. */
  readonly ident?: number;
  /** Default false. */
  readonly dontFragment?: boolean;
  /** Default false. */
  readonly moreFragments?: boolean;
  /** In bytes, a multiple of 8. Default 0. */
  readonly fragmentOffset?: number;
  readonly dscp?: number;
  readonly ecn?: number;
  /** Raw option bytes (padded to a multiple of 4). */
  readonly options?: Uint8Array;
}

/** A TCP header. Options appear only when given. */
export interface TcpFields {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  /** Default 0. */
  readonly ack?: number;
  /** `'SYN'`, `'SYN|ACK'`, `'PSH|ACK'`... or the bitmask. */
  readonly flags: TcpFlagsLike;
  /** The raw 16-bit window field. Default 65535. */
  readonly window?: number;
  /** Default 0. */
  readonly urgent?: number;
  readonly mss?: number;
  readonly windowScale?: number;
  readonly sackPermitted?: boolean;
  readonly sackBlocks?: ReadonlyArray<readonly [number, number]>;
  readonly timestamp?: { readonly tsVal: number; readonly tsEcr: number };
}

/** A UDP header. */
export interface UdpFields {
  readonly srcPort: number;
  readonly dstPort: number;
}

const encoder = new TextEncoder();

/** The bytes of a payload (text as UTF-8). */
export function payloadBytes(payload: PayloadLike | undefined): Uint8Array {
  if (payload === undefined) return new Uint8Array(0);
  return typeof payload === 'string' ? encoder.encode(payload) : payload;
}

/** Room for Ethernet with a VLAN tag, IPv4 and TCP with full options. */
const HEADROOM = 18 + 60 + 60;

function finish(pb: PacketBuffer): Uint8Array {
  return pb.bytes().slice();
}

function emitEth(eth: EthernetFields, ethertype: number, pb: PacketBuffer): void {
  const vlan = eth.vlan === undefined ? undefined : { id: eth.vlan.id, pcp: eth.vlan.pcp ?? 0, dei: eth.vlan.dei ?? false };
  wire.emitEthernet({ src: macBytes(eth.src, 'eth.src'), dst: macBytes(eth.dst, 'eth.dst'), ethertype, vlan }, pb);
}

function emitIp(ip: Ipv4Fields, protocol: number, pb: PacketBuffer): void {
  wire.emitIpv4(
    {
      src: ipv4Number(ip.src, 'ip.src'),
      dst: ipv4Number(ip.dst, 'ip.dst'),
      protocol,
      ttl: ip.ttl ?? 64,
      ident: ip.ident ?? 0,
      dontFragment: ip.dontFragment ?? false,
      moreFragments: ip.moreFragments ?? false,
      fragmentOffset: ip.fragmentOffset ?? 0,
      dscp: ip.dscp,
      ecn: ip.ecn,
      options: ip.options,
    },
    pb,
  );
}

/** An Ethernet frame carrying `payload` (any EtherType; not padded to 60 bytes). */
export function ethernetFrame(fields: { readonly eth: EthernetFields; readonly ethertype: number; readonly payload?: PayloadLike }): Uint8Array {
  const pb = PacketBuffer.withPayload(payloadBytes(fields.payload), 18);
  emitEth(fields.eth, fields.ethertype, pb);
  return finish(pb);
}

/** The fields of an ARP packet; the Ethernet header is derived from them unless given. */
export interface ArpFields {
  readonly op: 'request' | 'reply' | number;
  readonly senderMac: MacLike;
  readonly senderIp: Ipv4Like;
  /** Default 00:00:00:00:00:00 (what a request carries). */
  readonly targetMac?: MacLike;
  readonly targetIp: Ipv4Like;
  /** Default: from the sender's MAC to broadcast (request) or to `targetMac` (reply). */
  readonly eth?: EthernetFields;
}

/** An ARP packet in an Ethernet frame. */
export function arpFrame(fields: ArpFields): Uint8Array {
  const op = fields.op === 'request' ? wire.ArpOp.REQUEST : fields.op === 'reply' ? wire.ArpOp.REPLY : fields.op;
  const senderMac = macBytes(fields.senderMac, 'senderMac');
  const targetMac = fields.targetMac === undefined ? MAC_ZERO : macBytes(fields.targetMac, 'targetMac');
  const pb = PacketBuffer.alloc(0, 18 + wire.ARP_PACKET_LEN);
  wire.emitArp({ op, senderMac, senderIp: ipv4Number(fields.senderIp, 'senderIp'), targetMac, targetIp: ipv4Number(fields.targetIp, 'targetIp') }, pb);
  const eth = fields.eth ?? { src: senderMac, dst: op === wire.ArpOp.REQUEST || fields.targetMac === undefined ? MAC_BROADCAST : targetMac };
  emitEth(eth, wire.EtherType.ARP, pb);
  return finish(pb);
}

/** A broadcast ARP request: who has `targetIp`? tell `senderIp` (at `senderMac`). */
export function arpRequestFrame(fields: { readonly senderMac: MacLike; readonly senderIp: Ipv4Like; readonly targetIp: Ipv4Like }): Uint8Array {
  return arpFrame({ op: 'request', ...fields });
}

/** An ARP reply, sent to `targetMac`: `senderIp` is at `senderMac`. */
export function arpReplyFrame(fields: {
  readonly senderMac: MacLike; readonly senderIp: Ipv4Like; readonly targetMac: MacLike; readonly targetIp: Ipv4Like;
}): Uint8Array {
  return arpFrame({ op: 'reply', ...fields });
}

/** An IPv4 packet with any protocol number and a ready-made payload, in a frame. */
export function ipv4Frame(fields: {
  readonly eth: EthernetFields; readonly ip: Ipv4Fields; readonly protocol: number; readonly payload?: PayloadLike;
}): Uint8Array {
  const pb = PacketBuffer.withPayload(payloadBytes(fields.payload), HEADROOM);
  emitIp(fields.ip, fields.protocol, pb);
  emitEth(fields.eth, wire.EtherType.IPV4, pb);
  return finish(pb);
}

/** An ICMP echo request or reply in a frame (checksums filled in). */
export function icmpEchoFrame(fields: {
  readonly eth: EthernetFields;
  readonly ip: Ipv4Fields;
  /** Default 'request'. */
  readonly kind?: 'request' | 'reply';
  readonly ident: number;
  readonly seq: number;
  /** Echo data. Default: 56 bytes 0, 1, 2... as ping sends. */
  readonly data?: PayloadLike;
}): Uint8Array {
  const data = fields.data === undefined ? Uint8Array.from({ length: 56 }, (_, i) => i) : payloadBytes(fields.data);
  const pb = PacketBuffer.withPayload(data, HEADROOM);
  const kind = fields.kind === 'reply' ? 'echo-reply' : 'echo-request';
  wire.emitIcmp({ kind, ident: fields.ident, seq: fields.seq, data }, pb);
  emitIp(fields.ip, wire.IpProtocol.ICMP, pb);
  emitEth(fields.eth, wire.EtherType.IPV4, pb);
  return finish(pb);
}

/** A UDP datagram in a frame (length and checksum filled in). */
export function udpFrame(fields: {
  readonly eth: EthernetFields; readonly ip: Ipv4Fields; readonly udp: UdpFields; readonly payload?: PayloadLike;
}): Uint8Array {
  const pb = PacketBuffer.withPayload(payloadBytes(fields.payload), HEADROOM);
  const payload = pb.bytes();
  wire.emitUdp({ ...fields.udp, payload }, pb, ipv4Number(fields.ip.src, 'ip.src'), ipv4Number(fields.ip.dst, 'ip.dst'));
  emitIp(fields.ip, wire.IpProtocol.UDP, pb);
  emitEth(fields.eth, wire.EtherType.IPV4, pb);
  return finish(pb);
}

/** A TCP segment in a frame (data offset, options and checksum filled in). */
export function tcpFrame(fields: {
  readonly eth: EthernetFields; readonly ip: Ipv4Fields; readonly tcp: TcpFields; readonly payload?: PayloadLike;
}): Uint8Array {
  const pb = PacketBuffer.withPayload(payloadBytes(fields.payload), HEADROOM);
  const t = fields.tcp;
  const repr: wire.TcpRepr = {
    srcPort: t.srcPort,
    dstPort: t.dstPort,
    seq: t.seq >>> 0,
    ack: (t.ack ?? 0) >>> 0,
    flags: tcpFlagBits(t.flags),
    window: t.window ?? 65535,
    urgent: t.urgent ?? 0,
    mss: t.mss,
    windowScale: t.windowScale,
    sackPermitted: t.sackPermitted,
    sackBlocks: t.sackBlocks,
    timestamp: t.timestamp,
    payload: pb.bytes(),
  };
  wire.emitTcp(repr, pb, ipv4Number(fields.ip.src, 'ip.src'), ipv4Number(fields.ip.dst, 'ip.dst'));
  emitIp(fields.ip, wire.IpProtocol.TCP, pb);
  emitEth(fields.eth, wire.EtherType.IPV4, pb);
  return finish(pb);
}
