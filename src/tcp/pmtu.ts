/**
 * Path MTU of one connection (RFC 1191 as tightened by RFC 5927 for TCP): the largest IPv4
 * packet the path is believed to carry, lowered by ICMP "fragmentation needed" messages.
 * Pure arithmetic; the connection validates the ICMP message and turns the MTU into its MSS.
 */

/** IPv4 header + TCP header without options: MSS = MTU - this. */
export const TCP_IPV4_HEADERS = 40;

/**
 * The smallest path MTU we believe (Linux's min_pmtu, 552 = 512 + 40). An ICMP message naming a
 * smaller one is either a router with a strange link or an attacker shrinking our segments to
 * make us slow (RFC 5927 7.1): we stop at this floor and send without DF from then on, so such
 * a router fragments instead of dropping (Linux locks the route's MTU the same way).
 */
export const MIN_PATH_MTU = 552;

/**
 * RFC 1191 7, table 7-1: common MTUs, for routers that send "fragmentation needed" without a
 * next-hop MTU (the RFC 792 form). Descending.
 */
export const MTU_PLATEAUS: readonly number[] = Object.freeze([65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68]);

/** The largest plateau below `mtu` (68 when there is none). */
export function plateauBelow(mtu: number): number {
  for (const p of MTU_PLATEAUS) if (p < mtu) return p;
  return 68;
}

/** The outcome of a "fragmentation needed" message: the new path MTU, or why nothing changed. */
export type FragNeededResult = 'lowered' | 'notLower';

export class PathMtu {
  /** Current estimate in bytes (IPv4 packet); Infinity until a message or a probe sets it. */
  mtu = Number.POSITIVE_INFINITY;
  /**
   * Whether our segments carry DF: false once the path asked for less than MIN_PATH_MTU (we
   * then let routers fragment rather than shrink further).
   */
  dontFragment = true;

  /**
   * A validated "fragmentation needed" for a connection whose packets are now `packetSize`
   * bytes (MSS + 40). `nextHopMtu` 0 (an RFC 792 router) or below 68 means "unknown": the
   * plateau below `packetSize` is used (RFC 1191 5). Never raises the estimate.
   */
  onFragNeeded(nextHopMtu: number, packetSize: number): FragNeededResult {
    let mtu = nextHopMtu >= 68 ? nextHopMtu : plateauBelow(packetSize);
    if (mtu >= packetSize || mtu >= this.mtu) return 'notLower';
    if (mtu < MIN_PATH_MTU) {
      mtu = MIN_PATH_MTU;
      this.dontFragment = false;
      if (mtu >= this.mtu) return 'notLower';
    }
    this.mtu = mtu;
    return 'lowered';
  }

  /** The send MSS the path allows, given the MSS negotiated with the peer. */
  mss(negotiated: number): number {
    return Math.min(negotiated, this.mtu - TCP_IPV4_HEADERS);
  }
}
