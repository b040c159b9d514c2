/** rx-netstack/core: the pure protocol core (no RxJS, no I/O), for use under any I/O model. */
export * from './config/index.js';
export * from './log.js';
export * from './stats.js';
export * from './errors.js';
export * from './mac.js';
export * from './packet-buffer.js';
export * from './ipv4/address.js';
export * from './ip/address-book.js';
export * from './ip/address-hold.js';
export * from './transport/endpoint-table.js';
export * from './transport/port-manager.js';
export * as wire from './wire/index.js';
export * as tcp from './tcp/index.js';
export * as arp from './arp/index.js';
export * as ipv4 from './ipv4/index.js';
export * as ipv6 from './ipv6/index.js';
export * as icmp from './icmp/index.js';
