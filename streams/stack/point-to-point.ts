import type { NeighborBoundary, NextHopPacket } from './arp-layer.js';
import type { FrameBoundary, FrameSink } from '../pipeline/link-boundary.js';

/**
 * IPv4 straight on a link whose frames are bare IPv4 packets (`Link.layer` 'ip', a TUN device):
 * the boundary under IPv4 without Ethernet or ARP. Packets pass up as they are
 * (`linkHeaderLength` 0 tells IPv4 there is no header to skip); a packet going down is written
 * to the link whatever its next hop, since a point-to-point link has one peer. A partial
 * transport checksum is left to the link when it can finish it (`sendPartial`, offload), and
 * completed here otherwise.
 *
 * @example
 * ipv4.attach(tun0, pointToPoint(between(linkBoundary(link), hooks.link)));
 */
export function pointToPoint(lower: FrameBoundary): NeighborBoundary {
  const down: FrameSink = lower.down;
  const sendPartial = down.sendPartial?.bind(down);
  const sendGathered = sendPartial === undefined ? undefined : down.sendGathered?.bind(down);
  return {
    up$: lower.up$,
    linkHeaderLength: 0,
    down: {
      partialChecksum: true,
      maxGsoBytes: down.maxGsoBytes,
      next(p: NextHopPacket): void {
        const pb = p.pb;
        if (pb.csumStart >= 0) {
          const tail = pb.tail;
          if (tail !== undefined && sendGathered !== undefined) {
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
        down.next(pb.bytes());
      },
    },
  };
}
