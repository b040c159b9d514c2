import { IcmpType, IcmpUnreachableCode } from '../../src/wire/icmp.js';
import type { NetstackErrorCode } from '../../src/errors.js';

/**
 * The error a connected UDP socket reports for a received ICMP error, or undefined for a "soft"
 * error that is only counted.
 *
 * Like Linux without IP_RECVERR (`__udp4_lib_err` with `icmp_err_convert`): only the errors
 * that say the destination will never take the datagram ("hard", fatal) reach the user; net or
 * host unreachable, fragmentation needed, time exceeded and parameter problem are transient
 * conditions a router reports, and a datagram protocol simply loses that datagram.
 *
 * Codes are those a Node user knows: port unreachable is `ECONNREFUSED`, as `node:dgram`
 * reports it. Protocol unreachable (Linux: ENOPROTOOPT) is also `ECONNREFUSED`: the host is
 * there and refuses UDP, which is what the user needs to act on.
 */
export function udpErrorFor(type: number, code: number): NetstackErrorCode | undefined {
  if (type !== IcmpType.DEST_UNREACHABLE) return undefined;
  switch (code) {
    case IcmpUnreachableCode.PROTOCOL_UNREACHABLE:
    case IcmpUnreachableCode.PORT_UNREACHABLE:
      return 'ECONNREFUSED';
    case IcmpUnreachableCode.DEST_NET_UNKNOWN:
    case IcmpUnreachableCode.NET_PROHIBITED:
      return 'ENETUNREACH';
    case IcmpUnreachableCode.DEST_HOST_UNKNOWN:
    case IcmpUnreachableCode.SOURCE_HOST_ISOLATED:
    case IcmpUnreachableCode.HOST_PROHIBITED:
    case IcmpUnreachableCode.COMMUNICATION_PROHIBITED:
    case IcmpUnreachableCode.HOST_PRECEDENCE_VIOLATION:
    case IcmpUnreachableCode.PRECEDENCE_CUTOFF:
      return 'EHOSTUNREACH';
    default:
      return undefined;
  }
}
