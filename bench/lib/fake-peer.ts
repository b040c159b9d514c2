/**
 * A scripted peer for driving one stack without a second stack: a Link whose inbound frames the
 * benchmark pushes itself (`deliver`), and builders for the peer's TCP frames. The per-frame
 * benchmarks use it to measure the stack alone, with frames built before the clock starts.
 */
import { Subject, type Observable } from 'rxjs';
import type { Link } from '../../streams/links/link.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { emitTcp, TcpFlags, TcpOffset, type TcpRepr } from '../../src/wire/tcp.js';
import { emitIpv4, IpProtocol } from '../../src/wire/ipv4.js';
import { emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { emitIpv6Header, fillIpv6UpperChecksum } from '../../src/wire/ipv6.js';
import type { Ipv4Addr } from '../../src/ipv4/address.js';
import type { Ipv6Addr } from '../../src/ipv6/address.js';

export interface FakeLink extends Link {
  /** Hands frames to the stack as one batch (like one TAP wake-up), synchronously. */
  deliver(frames: readonly Uint8Array[]): void;
  /** Called with every frame the stack sends. */
  onSend: (frame: Uint8Array) => void;
}

export function fakeLink(name = 'fake0', mtu = 1500): FakeLink {
  const frames = new Subject<Uint8Array>();
  const link: FakeLink = {
    name,
    mtu,
    frames$: frames.asObservable() as Observable<Uint8Array>,
    onSend: () => undefined,
    send(frame: Uint8Array): void {
      link.onSend(frame);
    },
    close(): void {
      frames.complete();
    },
    deliver(batch: readonly Uint8Array[]): void {
      for (let i = 0; i < batch.length; i++) frames.next(batch[i]);
    },
  };
  return link;
}

export interface PeerEndpoints {
  readonly peerMac: Uint8Array;
  readonly stackMac: Uint8Array;
  readonly peerIp: Ipv4Addr;
  readonly stackIp: Ipv4Addr;
  readonly peerPort: number;
  readonly stackPort: number;
  /** Present: the peer speaks IPv6 from `peerIp6` to `stackIp6` (the IPv4 addresses unused). */
  readonly peerIp6?: Ipv6Addr;
  readonly stackIp6?: Ipv6Addr;
}

/** A whole Ethernet frame carrying one TCP segment from the peer to the stack. */
export function peerTcpFrame(
  e: PeerEndpoints,
  seg: Partial<TcpRepr> & { seq: number; ack: number; flags: number },
): Uint8Array {
  const payload = seg.payload ?? new Uint8Array(0);
  const repr: TcpRepr = {
    srcPort: e.peerPort,
    dstPort: e.stackPort,
    window: 0xffff,
    urgent: 0,
    ...seg,
    payload,
  };
  const pb = PacketBuffer.alloc(payload.length);
  pb.buf.set(payload, pb.head);
  if (e.peerIp6 !== undefined && e.stackIp6 !== undefined) {
    emitTcp(repr, pb, 0, 0);
    fillIpv6UpperChecksum(pb.buf, pb.head, pb.length, TCP_CHECKSUM_AT, e.peerIp6, e.stackIp6, IpProtocol.TCP);
    emitIpv6Header({ src: e.peerIp6, dst: e.stackIp6, nextHeader: IpProtocol.TCP, hopLimit: 64 }, pb);
    emitEthernet({ dst: e.stackMac, src: e.peerMac, ethertype: EtherType.IPV6 }, pb);
    return pb.bytes().slice();
  }
  emitTcp(repr, pb, e.peerIp, e.stackIp);
  emitIpv4(
    { src: e.peerIp, dst: e.stackIp, protocol: IpProtocol.TCP, ttl: 64, ident: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0 },
    pb,
  );
  emitEthernet({ dst: e.stackMac, src: e.peerMac, ethertype: EtherType.IPV4 }, pb);
  // A copy of exactly the frame: a TAP read hands the stack a view of that size, no headroom.
  return pb.bytes().slice();
}

/** The TCP fields of a frame the stack sent (Ethernet + IPv4 header, or IPv6's fixed header alone). */
export function readStackSegment(frame: Uint8Array): { seq: number; ack: number; flags: number; payloadLength: number } | undefined {
  if (frame.length >= 74 && frame[12] === 0x86 && frame[13] === 0xdd && frame[20] === IpProtocol.TCP) {
    const t = 14 + 40;
    const u32 = (i: number): number => ((frame[i] << 24) | (frame[i + 1] << 16) | (frame[i + 2] << 8) | frame[i + 3]) >>> 0;
    const payloadLength = ((frame[18] << 8) | frame[19]) - ((frame[t + 12] >>> 4) * 4);
    return { seq: u32(t + 4), ack: u32(t + 8), flags: frame[t + 13], payloadLength };
  }
  if (frame.length < 54 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[23] !== IpProtocol.TCP) return undefined;
  const ihl = (frame[14] & 0x0f) * 4;
  const t = 14 + ihl;
  const totalLength = (frame[16] << 8) | frame[17];
  const dataOffset = (frame[t + 12] >>> 4) * 4;
  const u32 = (i: number): number => ((frame[i] << 24) | (frame[i + 1] << 16) | (frame[i + 2] << 8) | frame[i + 3]) >>> 0;
  return { seq: u32(t + 4), ack: u32(t + 8), flags: frame[t + 13], payloadLength: totalLength - ihl - dataOffset };
}

const TCP_CHECKSUM_AT = TcpOffset.CHECKSUM;

export { TcpFlags };
