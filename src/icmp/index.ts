/** ICMP's pure part: the token bucket that rate-limits errors (RFC 1122 3.2.2, RFC 4443 2.4(f)) and ARP requests. */
export * from './rate-limiter.js';
