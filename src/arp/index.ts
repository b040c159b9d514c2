/** ARP's pure part: the neighbour cache (RFC 826 with RFC 1122 2.3.2 and Linux's states). */
export * from './neighbor-cache.js';
