/**
 * Frames taken apart for assertions: `decodeFrame(bytes)` parses every header it can with the
 * wire codecs of `rx-netstack/core` (checksums verified) and gives addresses as text, so a test
 * reads `assert.equal(f.ipv4?.dst, '198.18.0.1')` and `assert.equal(f.tcp?.flagNames, 'SYN|ACK')`.
 * A header that does not parse is reported in `malformed` (`'tcp: badChecksum'`), never thrown:
 * a test of what the stack sends wants to see a bad frame, not crash on it.
 */
import { formatIpv4, formatMac, wire } from '../../src/index.js';
import { formatTcpFlags } from './tcp-flags.js';

/** The Ethernet header. */
export interface DecodedEthernet {
  readonly src: string;
  readonly dst: string;
  /** The payload's EtherType (the inner one when tagged). */
  readonly ethertype: number;
  readonly vlan?: { readonly id: number; readonly pcp: number; readonly dei: boolean };
}

/** An Ethernet/IPv4 ARP packet. */
export interface DecodedArp {
  /** `'request'`, `'reply'`, or the number of another operation. */
  readonly op: 'request' | 'reply' | number;
  readonly senderMac: string;
  readonly senderIp: string;
  readonly targetMac: string;
  readonly targetIp: string;
}

/** The IPv4 header; `payload` is cut at the total length. */
export interface DecodedIpv4 {
  readonly src: string;
  readonly dst: string;
  readonly protocol: number;
  readonly ttl: number;
  readonly ident: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** In bytes. */
  readonly fragmentOffset: number;
  readonly dscp: number;
  readonly ecn: number;
  readonly headerLength: number;
  readonly payload: Uint8Array;
}

/** A UDP datagram. */
export interface DecodedUdp {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

/** A TCP segment: the core's record plus the flags as text. */
export interface DecodedTcp {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** The bitmask (TcpFlags). */
  readonly flags: number;
  /** `'SYN|ACK'`, `'PSH|ACK'`, `'ACK'`... in header order. */
  readonly flagNames: string;
  /** The raw window field (unscaled). */
  readonly window: number;
  readonly urgent: number;
  readonly mss: number | undefined;
  readonly windowScale: number | undefined;
  readonly sackPermitted: boolean;
  readonly sackBlocks: ReadonlyArray<readonly [number, number]> | undefined;
  readonly timestamp: { readonly tsVal: number; readonly tsEcr: number } | undefined;
  readonly payload: Uint8Array;
}

/**
 * A frame parsed as far as it goes. Transport headers are parsed only in unfragmented
 * datagrams. Payloads are views into `bytes` (a frame on the memory wire is never reused, so
 * they stay valid).
 */
export interface DecodedFrame {
  readonly bytes: Uint8Array;
  /** Undefined only for a frame shorter than an Ethernet header (then `malformed` says so). */
  readonly eth?: DecodedEthernet;
  readonly arp?: DecodedArp;
  readonly ipv4?: DecodedIpv4;
  /** The core's ICMP record (`kind: 'echo-request'`, `'dest-unreachable'`...). */
  readonly icmp?: wire.IcmpRepr;
  readonly udp?: DecodedUdp;
  readonly tcp?: DecodedTcp;
  /** The first header that failed to parse and why, e.g. `'ipv4: badChecksum'`. */
  readonly malformed?: string;
}

/** A frame the peer received, with the scheduler time it arrived at. */
export type ReceivedFrame = DecodedFrame & { readonly at: number };

/** Decodes a frame. Never throws. */
export function decodeFrame(bytes: Uint8Array): DecodedFrame {
  const e = wire.parseEthernet(bytes);
  if (!e.ok) return { bytes, malformed: `ethernet: ${e.reason}` };
  const v = e.value;
  const eth: DecodedEthernet = { src: formatMac(v.src), dst: formatMac(v.dst), ethertype: v.ethertype, vlan: v.vlan };
  if (v.ethertype === wire.EtherType.ARP) {
    const a = wire.parseArp(v.payload);
    if (!a.ok) return { bytes, eth, malformed: `arp: ${a.reason}` };
    const r = a.value;
    const op = r.op === wire.ArpOp.REQUEST ? 'request' : r.op === wire.ArpOp.REPLY ? 'reply' : r.op;
    return {
      bytes, eth,
      arp: { op, senderMac: formatMac(r.senderMac), senderIp: formatIpv4(r.senderIp), targetMac: formatMac(r.targetMac), targetIp: formatIpv4(r.targetIp) },
    };
  }
  if (v.ethertype !== wire.EtherType.IPV4) return { bytes, eth };
  const p = wire.parseIpv4(v.payload);
  if (!p.ok) return { bytes, eth, malformed: `ipv4: ${p.reason}` };
  const ip = p.value;
  const ipv4: DecodedIpv4 = {
    src: formatIpv4(ip.src), dst: formatIpv4(ip.dst), protocol: ip.protocol, ttl: ip.ttl, ident: ip.ident,
    dontFragment: ip.dontFragment, moreFragments: ip.moreFragments, fragmentOffset: ip.fragmentOffset,
    dscp: ip.dscp, ecn: ip.ecn, headerLength: ip.headerLength, payload: ip.payload,
  };
  if (ip.moreFragments || ip.fragmentOffset !== 0) return { bytes, eth, ipv4 };
  switch (ip.protocol) {
    case wire.IpProtocol.ICMP: {
      const r = wire.parseIcmp(ip.payload);
      return r.ok ? { bytes, eth, ipv4, icmp: r.value } : { bytes, eth, ipv4, malformed: `icmp: ${r.reason}` };
    }
    case wire.IpProtocol.UDP: {
      const r = wire.parseUdp(ip.payload, ip.src, ip.dst);
      return r.ok ? { bytes, eth, ipv4, udp: r.value } : { bytes, eth, ipv4, malformed: `udp: ${r.reason}` };
    }
    case wire.IpProtocol.TCP: {
      const r = wire.parseTcp(ip.payload, ip.src, ip.dst);
      if (!r.ok) return { bytes, eth, ipv4, malformed: `tcp: ${r.reason}` };
      const s = r.value;
      return {
        bytes, eth, ipv4,
        tcp: {
          srcPort: s.srcPort, dstPort: s.dstPort, seq: s.seq, ack: s.ack, flags: s.flags, flagNames: formatTcpFlags(s.flags),
          window: s.window, urgent: s.urgent, mss: s.mss, windowScale: s.windowScale, sackPermitted: s.sackPermitted === true,
          sackBlocks: s.sackBlocks, timestamp: s.timestamp, payload: s.payload,
        },
      };
    }
    default:
      return { bytes, eth, ipv4 };
  }
}

/**
 * One line per frame, like a packet capture tool prints it, for failure messages:
 * `198.18.0.2:49152 > 198.18.0.1:80 TCP [SYN] seq=1 ack=0 win=65535 len=0 mss=1460`.
 */
export function describeFrame(frame: DecodedFrame): string {
  const { eth, ipv4 } = frame;
  if (eth === undefined) return `${frame.bytes.length}-byte runt (${frame.malformed ?? 'malformed'})`;
  const bad = frame.malformed === undefined ? '' : ` (${frame.malformed})`;
  if (frame.arp !== undefined) {
    const a = frame.arp;
    if (a.op === 'request') return `ARP who-has ${a.targetIp} tell ${a.senderIp} (${a.senderMac})`;
    if (a.op === 'reply') return `ARP ${a.senderIp} is-at ${a.senderMac} (to ${a.targetIp})`;
    return `ARP op ${a.op} from ${a.senderIp}`;
  }
  if (ipv4 === undefined) return `${eth.src} > ${eth.dst} ethertype 0x${eth.ethertype.toString(16).padStart(4, '0')} len=${frame.bytes.length}${bad}`;
  if (frame.tcp !== undefined) {
    const t = frame.tcp;
    const opts =
      (t.mss !== undefined ? ` mss=${t.mss}` : '') + (t.windowScale !== undefined ? ` wscale=${t.windowScale}` : '') +
      (t.sackPermitted ? ' sackOK' : '') + (t.timestamp !== undefined ? ` ts=${t.timestamp.tsVal}/${t.timestamp.tsEcr}` : '') +
      (t.sackBlocks !== undefined ? ` sack=${t.sackBlocks.map(([l, r]) => `${l}-${r}`).join(',')}` : '');
    return `${ipv4.src}:${t.srcPort} > ${ipv4.dst}:${t.dstPort} TCP [${t.flagNames}] seq=${t.seq} ack=${t.ack} win=${t.window} len=${t.payload.length}${opts}`;
  }
  if (frame.udp !== undefined) {
    const u = frame.udp;
    return `${ipv4.src}:${u.srcPort} > ${ipv4.dst}:${u.dstPort} UDP len=${u.payload.length}`;
  }
  if (frame.icmp !== undefined) {
    const i = frame.icmp;
    const detail = i.kind === 'echo-request' || i.kind === 'echo-reply' ? ` id=${i.ident} seq=${i.seq}` : 'code' in i ? ` code=${i.code}` : '';
    return `${ipv4.src} > ${ipv4.dst} ICMP ${i.kind}${detail}`;
  }
  const frag = ipv4.moreFragments || ipv4.fragmentOffset !== 0 ? ` frag@${ipv4.fragmentOffset}${ipv4.moreFragments ? '+' : ''}` : '';
  return `${ipv4.src} > ${ipv4.dst} proto ${ipv4.protocol} len=${ipv4.payload.length}${frag}${bad}`;
}
