import { filter, share } from 'rxjs';
import type { NextHopPacket, PendingPacket } from './arp-layer.js';
import type { Boundary, FusedOut } from '../pipeline/boundary.js';
import type { FrameBoundary, FrameSink } from '../pipeline/link-boundary.js';

/** A boundary under an IP layer on a link of bare IP packets: no link header to skip. */
export interface PointToPointBoundary<P extends PendingPacket> extends Boundary<Uint8Array, P> {
  readonly linkHeaderLength: 0;
}

/**
 * @internal The point-to-point boundary's fused way out (Sink.fused of its `down`), the
 * counterpart of ARP's `FrameOut` on a link without a link header: a sender above that writes a
 * whole IP packet itself (headers and checksums complete) hands it to the link as it is. The
 * long way does the same with a finished packet; this skips the record and the packet object.
 */
export interface PacketOut extends FusedOut {
  /** No link header: the packet is the frame (tells it from ARP's `FrameOut`). */
  readonly linkHeaderLength: 0;
  /** No room in front for the link (a TUN link's virtio_net_hdr goes the usual way): FrameOut's shape. */
  readonly frameRoom: 0;
  /**
   * The link finishes a partial transport checksum (a TUN device with offload, `sendPartial`):
   * `send` may then be given one, as the long way hands such a packet over.
   */
  readonly partialChecksum: boolean;
  /**
   * An IP packet, `buf[head..]`, to the link: finished (checksums complete), or with its
   * transport checksum partial at `csumStart + csumOffset` (`csumStart` an index in `buf`, past
   * `head`) where `partialChecksum` says the link finishes it.
   */
  send(buf: Uint8Array, head: number, csumStart?: number, csumOffset?: number): void;
}

/**
 * IP straight on a link whose frames are bare IP packets (`Link.layer` 'ip', a TUN device): the
 * boundary under IPv4 (or IPv6) without Ethernet, ARP or Neighbour Discovery. Packets pass up as
 * they are (`linkHeaderLength` 0 tells the layer there is no header to skip); a packet going down is written
 * to the link whatever its next hop, since a point-to-point link has one peer. A partial
 * transport checksum is left to the link when it can finish it (`sendPartial`, offload), and
 * completed here otherwise.
 *
 * @example
 * ipv4.attach(tun0, pointToPoint(between(linkBoundary(link), hooks.link)));
 */
export function pointToPoint<P extends PendingPacket = NextHopPacket>(lower: FrameBoundary): PointToPointBoundary<P> {
  const down: FrameSink = lower.down;
  const sendPartial = down.sendPartial?.bind(down);
  const sendGathered = down.sendGathered?.bind(down);
  // A finished packet goes to the link's `next`, one with a partial checksum to `sendPartial`, as
  // the long way hands them (see PacketOut).
  const fused: PacketOut = {
    ready: () => true,
    linkHeaderLength: 0,
    frameRoom: 0,
    partialChecksum: sendPartial !== undefined,
    send: (buf, head, csumStart = -1, csumOffset = 0) => {
      const packet = head === 0 ? buf : buf.subarray(head);
      if (csumStart < 0) down.next(packet);
      else if (sendPartial !== undefined) sendPartial(packet, csumStart - head, csumOffset, undefined);
      else throw new RangeError('PacketOut.send: a partial checksum to a link that cannot finish it');
    },
  };
  return {
    up$: lower.up$,
    linkHeaderLength: 0,
    down: {
      partialChecksum: true,
      maxGsoBytes: down.maxGsoBytes,
      // Only the packet is read, at once: the layer above may refill one record.
      retainsNothing: true,
      fused,
      next(p: P): void {
        const pb = p.pb;
        if (pb.csumStart >= 0) {
          const tail = pb.tail;
          if (tail !== undefined && sendGathered !== undefined && sendPartial !== undefined) {
            // A large TCP segment's payload stays a view of the send buffer: the link gathers it.
            sendGathered(pb.buf.subarray(pb.head, pb.end), tail, pb.csumStart - pb.head, pb.csumOffset, pb.gsoSize);
            return;
          }
          if (sendPartial !== undefined) {
            sendPartial(pb.bytes(), pb.csumStart - pb.head, pb.csumOffset, pb.gsoSize);
            return;
          }
          pb.completeChecksum();
        }
        const tail = pb.tail;
        if (tail !== undefined && sendGathered !== undefined) {
          // A segment cut in software: its finished header, then its payload (a view).
          sendGathered(pb.buf.subarray(pb.head, pb.end), tail, -1, 0, 0);
          return;
        }
        down.next(pb.bytes());
      },
    },
  };
}

/** The version nibble of an IPv6 header. */
const IP_VERSION_6 = 6;

function isIpv6Packet(packet: Uint8Array): boolean {
  return packet.length > 0 && packet[0] >>> 4 === IP_VERSION_6;
}

function isNotIpv6Packet(packet: Uint8Array): boolean {
  return !isIpv6Packet(packet);
}

/**
 * A link of bare IP packets carrying both families (a TUN device): its packets dispatched by the
 * version nibble, IPv6's to `v6` and every other to `v4` (IPv4 counts a wrong version as
 * `badVersion`, so nothing is dropped uncounted). One subscription to the link whatever the
 * subscribers (operators inserted at the link boundary run once per packet). Both share the
 * link's `down`.
 *
 * @example
 * const { v4, v6 } = splitByIpVersion(linkBoundary(tun));
 * ipv4.attach(tun0, pointToPoint(v4));
 * ipv6.attach(tun0, pointToPoint(v6));
 */
export function splitByIpVersion(lower: FrameBoundary): { readonly v4: FrameBoundary; readonly v6: FrameBoundary } {
  const up$ = lower.up$.pipe(share());
  return {
    v4: { up$: up$.pipe(filter(isNotIpv6Packet)), down: lower.down },
    v6: { up$: up$.pipe(filter(isIpv6Packet)), down: lower.down },
  };
}
