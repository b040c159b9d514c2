/**
 * Addresses as tests write them (`'198.18.0.1'`, `'02:00:00:00:00:01'`) turned into what the wire
 * codecs take, and back. A typo in a test is a bug in the test: it throws at once, naming the
 * bad value, instead of building a frame with a wrong address.
 */
import { NetstackError, formatIpv4, formatMac, parseIpv4, parseMac, type Ipv4Addr, type MacAddr } from '../../src/index.js';

/** A MAC as text (`'02:00:00:00:00:01'`) or as its 6 bytes. */
export type MacLike = string | Uint8Array;

/** An IPv4 address as dotted-quad text or as the uint32 the core uses. */
export type Ipv4Like = string | number;

/**
 * The 6 bytes of a MAC.
 *
 * @throws NetstackError `ERR_INVALID_ARG_VALUE` when `mac` is not a MAC address.
 */
export function macBytes(mac: MacLike, what = 'mac'): MacAddr {
  if (typeof mac !== 'string') {
    if (mac instanceof Uint8Array && mac.length === 6) return mac;
    throw new NetstackError('ERR_INVALID_ARG_VALUE', `${what}: expected 6 bytes or "aa:bb:cc:dd:ee:ff"`);
  }
  const bytes = parseMac(mac);
  if (bytes === undefined) throw new NetstackError('ERR_INVALID_ARG_VALUE', `${what}: "${mac}" is not a MAC address`);
  return bytes;
}

/**
 * An IPv4 address as the core's uint32.
 *
 * @throws NetstackError `ERR_INVALID_ARG_VALUE` when `ip` is not an IPv4 address.
 */
export function ipv4Number(ip: Ipv4Like, what = 'address'): Ipv4Addr {
  if (typeof ip === 'number') {
    if (Number.isInteger(ip) && ip >= 0 && ip <= 0xffffffff) return ip;
    throw new NetstackError('ERR_INVALID_ARG_VALUE', `${what}: ${ip} is not a uint32 IPv4 address`);
  }
  const n = parseIpv4(ip);
  if (n === undefined) throw new NetstackError('ERR_INVALID_ARG_VALUE', `${what}: "${ip}" is not an IPv4 address`);
  return n;
}

/** `'aa:bb:cc:dd:ee:ff'` for a MAC given either way. */
export function macText(mac: MacLike): string {
  return typeof mac === 'string' ? formatMac(macBytes(mac)) : formatMac(mac);
}

/** Dotted-quad text for an address given either way. */
export function ipv4Text(ip: Ipv4Like): string {
  return formatIpv4(ipv4Number(ip));
}
