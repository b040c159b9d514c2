/**
 * IPv6's pure parts: addresses (text forms, prefixes, scopes, derived addresses, stable
 * interface identifiers), the address-keyed map of the hot path, reassembly, the neighbour
 * cache with RFC 4861's unreachability detection, autoconfiguration (DAD, router discovery,
 * SLAAC), the MLD reporter, and their defaults.
 */
export * from './address.js';
export * from './address-map.js';
export * from './reassembly.js';
export * from './neighbor-cache.js';
export * from './config.js';
export * from './slaac.js';
export * from './mld-reporter.js';
export * from './pmtu-cache.js';
