/** The wire codecs: views, records and parse/emit per header. */
export * from './parse-result.js';
export * from './checksum.js';
export * from './ethernet.js';
export * from './arp.js';
export * from './ipv4.js';
export * from './icmp.js';
export * from './udp.js';
export * from './tcp.js';
export * from './pcap.js';
export * from './ipv6.js';
export * from './ipv6-ext.js';
export * from './icmpv6.js';
export * from './ndp.js';
export * from './mld.js';
