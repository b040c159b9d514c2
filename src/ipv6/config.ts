/**
 * Defaults of the IPv6 cores, in the shape of src/ipv4/config.ts: one plain object per core,
 * every field with its unit. Times are milliseconds.
 */

import { REASSEMBLY_DEFAULTS, type ReassemblyConfig } from '../ipv4/config.js';

/**
 * IPv6 reassembly: IPv4's limits, but the timeout RFC 8200 4.5 fixes: 60 s from the first
 * fragment's arrival (Linux ip6frag_time).
 */
export const IPV6_REASSEMBLY_DEFAULTS: Readonly<ReassemblyConfig> = Object.freeze({
  ...REASSEMBLY_DEFAULTS,
  timeoutMs: 60_000,
});

/** Limits fixed by the protocol. */
export const IPV6_LIMITS = {
  /** Largest payload (16-bit payload length; no jumbograms). */
  MAX_PAYLOAD: 65_535,
  /** The minimum link MTU (RFC 8200 5): no path MTU goes below it. */
  MIN_MTU: 1280,
  FIXED_HEADER: 40,
  FRAGMENT_HEADER: 8,
  FRAGMENT_UNIT: 8,
} as const;
