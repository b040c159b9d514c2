import type { EthernetOut, EthernetSink } from './ethernet-layer.js';
import type { NeighborBoundary, NextHopPacket } from './arp-layer.js';
import type { Boundary } from '../pipeline/boundary.js';
import { netError } from '../../src/errors.js';
import type { PacketBuffer } from '../../src/packet-buffer.js';
import { formatIpv4, type Ipv4Addr } from '../../src/ipv4/address.js';

/**
 * Neighbour resolution without ARP: the next hop's MAC comes from `macFor` (a fixed table, or
 * the one peer of a point-to-point link). What it does not know fails at once with
 * EHOSTUNREACH through the packet's `onError`. Use it in place of `ArpLayer.resolver()` to
 * leave ARP out of a stack.
 *
 * @example
 * const toIpv4 = staticNeighbors(eth.protocol(EtherType.IPV4), () => peerMac);
 */
export function staticNeighbors(lower: Boundary<Uint8Array, EthernetOut>, macFor: (nextHop: Ipv4Addr) => Uint8Array | undefined): NeighborBoundary {
  const down = lower.down;
  const sendTo = (down as EthernetSink).sendTo ?? ((dst: Uint8Array, pb: PacketBuffer) => down.next({ dst, pb }));
  return {
    up$: lower.up$,
    down: {
      partialChecksum: down.partialChecksum === true,
      maxGsoBytes: down.maxGsoBytes,
      // The record is read at once and kept by nothing: IPv4 may refill one.
      retainsNothing: true,
      next(p: NextHopPacket): void {
        const mac = macFor(p.nextHop);
        if (mac === undefined) p.onError?.(netError('EHOSTUNREACH', `no static neighbour for ${formatIpv4(p.nextHop)}`));
        else sendTo(mac, p.pb);
      },
    },
  };
}
