/**
 * Path MTU of one connection (RFC 1191 as tightened by RFC 5927 for TCP; RFC 8201 for IPv6):
 * the largest IP packet the path is believed to carry, lowered by ICMP "fragmentation needed"
 * or ICMPv6 Packet Too Big messages. Pure arithmetic; the connection validates the message and
 * turns the MTU into its MSS.
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

/** IPv6 header + TCP header without options: MSS = MTU - this over IPv6. */
export const TCP_IPV6_HEADERS = 60;

/** IPv6's minimum link MTU (RFC 8200 5): no IPv6 path MTU goes below it (RFC 8201 4). */
export const IPV6_MIN_PATH_MTU = 1280;

/** The outcome of a "fragmentation needed" message: the new path MTU, or why nothing changed. */
export type FragNeededResult = 'lowered' | 'notLower';

export class PathMtu {
  /** Current estimate in bytes (IP packet); Infinity until a message or a probe sets it. */
  mtu = Number.POSITIVE_INFINITY;
  /**
   * Whether our segments carry DF: false once the path asked for less than MIN_PATH_MTU (we
   * then let routers fragment rather than shrink further). Always true over IPv6 (routers
   * never fragment it).
   */
  dontFragment = true;
  /** IP and TCP headers without options: 40 over IPv4, 60 over IPv6. */
  readonly headers: number;
  readonly #ipv6: boolean;

  /** `ipv6`: the path is IPv6 (RFC 8201: 60 bytes of headers, floor 1280, no RFC 792 plateaus). */
  constructor(ipv6 = false) {
    this.#ipv6 = ipv6;
    this.headers = ipv6 ? TCP_IPV6_HEADERS : TCP_IPV4_HEADERS;
  }

  /**
   * A validated "fragmentation needed" (or Packet Too Big) for a connection whose packets are
   * now `packetSize` bytes (MSS + headers). IPv4: `nextHopMtu` 0 (an RFC 792 router) or below 68
   * means "unknown": the plateau below `packetSize` is used (RFC 1191 5). IPv6: below 1280 is
   * taken as 1280 (RFC 8201 4). Never raises the estimate.
   */
  onFragNeeded(nextHopMtu: number, packetSize: number): FragNeededResult {
    if (this.#ipv6) {
      const mtu = Math.max(IPV6_MIN_PATH_MTU, nextHopMtu);
      if (mtu >= packetSize || mtu >= this.mtu) return 'notLower';
      this.mtu = mtu;
      return 'lowered';
    }
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
    return Math.min(negotiated, this.mtu - this.headers);
  }
}
