/**
 * The connection 4-tuple as bytes, the message the keyed hashes of the ISN generator (isn.ts)
 * and SYN cookies (syn-cookie.ts) start from: local address, remote address, local port,
 * remote port, big-endian: 12 bytes for IPv4, 36 for IPv6.
 *
 * IPv6 addresses reach the TCP core as `IpAddr` ids (src/ip/address-book.ts); the hashes must
 * cover the address bytes, not the ids, since an id may differ between a SYN and the ACK that
 * brings its cookie back (nothing is held for a peer between the two). `AddressBytes` gives
 * the bytes of an id the caller holds.
 */

import type { Ipv4Addr } from '../ipv4/address.js';
import { IPV6_ID_BASE, type IpAddr } from '../ip/address-book.js';

/** Bytes `writeTupleBytes` fills. */
export const TUPLE_BYTES_LEN = 12;
/** Bytes `writeTuple6Bytes` fills. */
export const TUPLE6_BYTES_LEN = 36;

/** The 16 bytes of an IPv6 id (undefined when it is not held): `AddressBook.bytesOf`. */
export type AddressBytes = (addr: IpAddr) => Uint8Array | undefined;

/** Writes the 4-tuple into `m[0..12)`. */
export function writeTupleBytes(m: Uint8Array, localAddr: Ipv4Addr, localPort: number, remoteAddr: Ipv4Addr, remotePort: number): void {
  writeBe32(m, 0, localAddr);
  writeBe32(m, 4, remoteAddr);
  m[8] = localPort >>> 8;
  m[9] = localPort & 0xff;
  m[10] = remotePort >>> 8;
  m[11] = remotePort & 0xff;
}

/** Writes an IPv6 4-tuple into `m[0..36)`: local address, remote address, local port, remote port. */
export function writeTuple6Bytes(m: Uint8Array, localAddr: Uint8Array, localPort: number, remoteAddr: Uint8Array, remotePort: number): void {
  m.set(localAddr.subarray(0, 16), 0);
  m.set(remoteAddr.subarray(0, 16), 16);
  m[32] = localPort >>> 8;
  m[33] = localPort & 0xff;
  m[34] = remotePort >>> 8;
  m[35] = remotePort & 0xff;
}

/**
 * The bytes of an IPv6 tuple when both addresses are IPv6 ids that `bytes` resolves, else
 * undefined (the caller hashes the IPv4 form). Throws RangeError for an IPv6 id nobody holds:
 * hashing a stand-in would make a cookie or ISN that cannot be checked.
 */
export function ipv6TupleAddresses(bytes: AddressBytes | undefined, localAddr: IpAddr, remoteAddr: IpAddr): [Uint8Array, Uint8Array] | undefined {
  if (localAddr < IPV6_ID_BASE && remoteAddr < IPV6_ID_BASE) return undefined;
  const l = bytes?.(localAddr);
  const r = bytes?.(remoteAddr);
  if (l === undefined || r === undefined) throw new RangeError(`tuple: no address bytes for ${localAddr} / ${remoteAddr}`);
  return [l, r];
}

/** Writes a uint32 big-endian at `b[i..i+4)`. */
export function writeBe32(b: Uint8Array, i: number, x: number): void {
  b[i] = x >>> 24;
  b[i + 1] = (x >>> 16) & 0xff;
  b[i + 2] = (x >>> 8) & 0xff;
  b[i + 3] = x & 0xff;
}
