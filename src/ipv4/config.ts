/**
 * Defaults for the ARP, IPv4 and ICMP limits: one plain object per core, every field with its
 * unit and default. The cores take `Partial<...Config>` and fill the rest from here; the stack's
 * io-ts configuration is built from these shapes.
 *
 * Times are milliseconds, sizes are bytes, rates are per second.
 */

/** Neighbour cache (ARP, RFC 826 and RFC 1122 2.3.2). One cache per interface. */
export interface NeighborCacheConfig {
  /**
   * ms an entry stays `reachable` after its last confirmation (an ARP packet from that host, or
   * a hint from an upper layer). After that it is `stale`: still used for sending, but a use
   * sends a unicast ARP request to re-validate it. Default 30 000 (Linux base_reachable_time).
   */
  reachableTimeMs: number;
  /**
   * ms after its last confirmation that a dynamic entry is removed, used or not (RFC 1122
   * 2.3.2.1: time entries out even when in use). Must be >= reachableTimeMs. Default 60 000.
   */
  expireTimeMs: number;
  /** ms between ARP requests for the same address (resolution retries, stale probes). Default 1000. */
  retransmitIntervalMs: number;
  /**
   * ARP requests sent for one resolution before it fails and its queued packets fail with
   * EHOSTUNREACH. A resolution therefore lasts maxRequests * retransmitIntervalMs. Default 3.
   */
  maxRequests: number;
  /**
   * Packets held per address while it is resolved; when full the oldest is dropped. Default 64:
   * larger than Linux's historic 3 so that one fragmented datagram survives a resolution (a
   * 65,507-byte ping is 45 fragments at MTU 1500; Linux now bounds the queue by bytes, 208 KiB),
   * and RFC 1122 asks for at least 1.
   */
  maxQueuePerDestination: number;
  /** Packets held across all addresses being resolved; when full the oldest overall is dropped. Default 512. */
  maxQueuedPackets: number;
  /**
   * Dynamic entries in the cache (static ones do not count). A full cache evicts the least
   * recently confirmed resolved entry; when only resolutions in progress remain, the packet
   * that needed a new entry is dropped. Default 1024.
   */
  maxEntries: number;
  /** ARP requests per second across all addresses (token bucket refill rate). Default 50. */
  requestRatePerSecond: number;
  /** ARP requests that may be sent back to back (token bucket size). Default 50. */
  requestBurst: number;
}

export const NEIGHBOR_CACHE_DEFAULTS: Readonly<NeighborCacheConfig> = Object.freeze({
  reachableTimeMs: 30_000,
  expireTimeMs: 60_000,
  retransmitIntervalMs: 1_000,
  maxRequests: 3,
  maxQueuePerDestination: 64,
  maxQueuedPackets: 512,
  maxEntries: 1024,
  requestRatePerSecond: 50,
  requestBurst: 50,
});

/** IPv4 reassembly (RFC 791, RFC 815). */
export interface ReassemblyConfig {
  /**
   * ms from a datagram's first fragment until the partial datagram is dropped (not extended by
   * later fragments, like RFC 791's timer and Linux). Default 30 000 (Linux ipfrag_time; RFC
   * 1122 3.3.2 suggests 60 000..120 000).
   */
  timeoutMs: number;
  /**
   * Bytes held across all partial datagrams (payload bytes plus fragmentOverheadBytes per
   * fragment); going over evicts the oldest datagrams. Default 4 MiB (Linux ipfrag_high_thresh).
   */
  maxBytes: number;
  /** Partial datagrams held at once; one more evicts the oldest. Default 256. */
  maxDatagrams: number;
  /**
   * Bytes charged per held fragment on top of its payload (its record and view), so that a
   * flood of tiny fragments is bounded by maxBytes too, as Linux charges skb truesize. Default 64.
   */
  fragmentOverheadBytes: number;
}

export const REASSEMBLY_DEFAULTS: Readonly<ReassemblyConfig> = Object.freeze({
  timeoutMs: 30_000,
  maxBytes: 4 * 1024 * 1024,
  maxDatagrams: 256,
  fragmentOverheadBytes: 64,
});

/** IPv4 output. */
export interface Ipv4OutputConfig {
  /** TTL of datagrams we originate (RFC 1122 3.2.1.7 recommends 64). Default 64. */
  defaultTtl: number;
  /** Link MTU in bytes when an interface does not say (Ethernet). Default 1500; minimum 68 (RFC 791). */
  defaultMtu: number;
  /**
   * Buckets of the IP ID counter table (a power of two). Non-atomic datagrams take their ID
   * from the counter that (src, dst, protocol) hashes to (RFC 6864). Default 2048.
   */
  idTableSize: number;
}

export const IPV4_OUTPUT_DEFAULTS: Readonly<Ipv4OutputConfig> = Object.freeze({
  defaultTtl: 64,
  defaultMtu: 1500,
  idTableSize: 2048,
});

/** ICMP error generation (RFC 1122 3.2.2: errors SHOULD be rate-limited). */
export interface IcmpConfig {
  /** ICMP error messages per second (token bucket refill rate). Default 1000 (Linux icmp_msgs_per_sec). */
  errorRatePerSecond: number;
  /** ICMP errors that may be sent back to back (token bucket size). Default 50 (Linux icmp_msgs_burst). */
  errorBurst: number;
}

export const ICMP_DEFAULTS: Readonly<IcmpConfig> = Object.freeze({
  errorRatePerSecond: 1000,
  errorBurst: 50,
});

/** Every default above, grouped as the stack configuration groups them. */
export const IPV4_DEFAULTS = Object.freeze({
  arp: NEIGHBOR_CACHE_DEFAULTS,
  reassembly: REASSEMBLY_DEFAULTS,
  output: IPV4_OUTPUT_DEFAULTS,
  icmp: ICMP_DEFAULTS,
});

/** Limits fixed by the protocol, not configurable. */
export const IPV4_LIMITS = {
  /** Largest datagram, header included (16-bit total length). */
  MAX_DATAGRAM: 65_535,
  /** Smallest header (IHL 5). */
  MIN_HEADER: 20,
  /** Largest header (IHL 15). */
  MAX_HEADER: 60,
  /** Every IPv4 module must forward a 68-byte datagram without fragmenting it (RFC 791). */
  MIN_MTU: 68,
  /** Fragment offsets count 8-byte units. */
  FRAGMENT_UNIT: 8,
} as const;
