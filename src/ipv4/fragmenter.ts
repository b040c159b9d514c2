/**
 * IPv4 fragmentation planning (RFC 791 3.2, "An Example Fragmentation Procedure").
 *
 * Pure planning: given the payload length, the header length and the MTU, say which byte
 * ranges of the payload go into which fragment. The wiring builds one PacketBuffer per plan
 * (payload bytes, then the IPv4 header with offset/8 and MF) so bytes are copied once.
 *
 * Rules: every fragment but the last carries a multiple of 8 data bytes (the offset field
 * counts 8-byte units); a datagram that fits the MTU is one "fragment" with more=false; with DF
 * set a datagram that does not fit is EMSGSIZE, as is one whose total length cannot be
 * expressed (> 65,535 bytes with its header).
 */

import { IPV4_LIMITS } from './config.js';

export interface FragmentPlan {
  /** Byte offset of this fragment's data in the original payload (a multiple of 8). */
  readonly offset: number;
  /** Data bytes in this fragment. */
  readonly length: number;
  /** The MF flag of this fragment. */
  readonly more: boolean;
}

export interface FragmentError {
  readonly error: 'EMSGSIZE';
  /** The largest payload that would have been accepted with these arguments. */
  readonly maxPayload: number;
}

export interface FragmentOptions {
  /** The DF flag: never fragment. Default false. */
  readonly dontFragment?: boolean;
  /**
   * Header length of the second and later fragments, when it differs from the first's (RFC 791:
   * only options with the copy bit set are repeated). Default: the first fragment's.
   */
  readonly laterHeaderLength?: number;
}

/**
 * Plans the fragments of a datagram.
 * @param payloadLength bytes after the IPv4 header.
 * @param headerLength the IPv4 header length of the (first) fragment, 20..60.
 * @param mtu the link MTU in bytes (>= 68 on a conforming link).
 * @returns the plans in payload order, or an EMSGSIZE error the wiring reports to the sender.
 */
export function planFragments(
  payloadLength: number,
  headerLength: number,
  mtu: number,
  options: FragmentOptions = {},
): FragmentPlan[] | FragmentError {
  const maxWhole = IPV4_LIMITS.MAX_DATAGRAM - headerLength;
  if (payloadLength > maxWhole) return { error: 'EMSGSIZE', maxPayload: Math.max(0, maxWhole) };
  if (headerLength + payloadLength <= mtu) return [{ offset: 0, length: payloadLength, more: false }];
  if (options.dontFragment === true) return { error: 'EMSGSIZE', maxPayload: Math.max(0, mtu - headerLength) };

  const laterHeader = options.laterHeaderLength ?? headerLength;
  const firstMax = floor8(mtu - headerLength);
  const laterMax = floor8(mtu - laterHeader);
  if (firstMax <= 0 || laterMax <= 0) {
    // The MTU leaves no room for 8 data bytes beside the header: nothing can be fragmented.
    return { error: 'EMSGSIZE', maxPayload: Math.max(0, mtu - headerLength) };
  }

  const plans: FragmentPlan[] = [];
  let offset = 0;
  let max = firstMax;
  while (payloadLength - offset > max) {
    plans.push({ offset, length: max, more: true });
    offset += max;
    max = laterMax;
  }
  plans.push({ offset, length: payloadLength - offset, more: false });
  return plans;
}

/** True when `planFragments` returned an error. */
export function isFragmentError(result: FragmentPlan[] | FragmentError): result is FragmentError {
  return !Array.isArray(result);
}

/** The payload of each planned fragment, as views of `payload` (no copies). */
export function fragmentViews(payload: Uint8Array, plans: readonly FragmentPlan[]): Uint8Array[] {
  return plans.map((p) => payload.subarray(p.offset, p.offset + p.length));
}

function floor8(n: number): number {
  return n - (n % 8);
}
