/**
 * The connection 4-tuple as bytes, the message the keyed hashes of the ISN generator (isn.ts)
 * and SYN cookies (syn-cookie.ts) start from: local address, remote address, local port,
 * remote port, big-endian, in 12 bytes.
 */

import type { Ipv4Addr } from '../ipv4/address.js';

/** Bytes `writeTupleBytes` fills. */
export const TUPLE_BYTES_LEN = 12;

/** Writes the 4-tuple into `m[0..12)`. */
export function writeTupleBytes(m: Uint8Array, localAddr: Ipv4Addr, localPort: number, remoteAddr: Ipv4Addr, remotePort: number): void {
  writeBe32(m, 0, localAddr);
  writeBe32(m, 4, remoteAddr);
  m[8] = localPort >>> 8;
  m[9] = localPort & 0xff;
  m[10] = remotePort >>> 8;
  m[11] = remotePort & 0xff;
}

/** Writes a uint32 big-endian at `b[i..i+4)`. */
export function writeBe32(b: Uint8Array, i: number, x: number): void {
  b[i] = x >>> 24;
  b[i + 1] = (x >>> 16) & 0xff;
  b[i + 2] = (x >>> 8) & 0xff;
  b[i + 3] = x & 0xff;
}
