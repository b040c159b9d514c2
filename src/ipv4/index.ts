/** IPv4's pure parts: routes, reassembly, fragmentation, IP IDs, and their configuration. */
export * from './route-table.js';
export * from './reassembly.js';
export * from './fragmenter.js';
export * from './ip-id.js';
export * from './config.js';
