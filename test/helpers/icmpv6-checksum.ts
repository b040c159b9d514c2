/** An independent ICMPv6 checksum for tests of the wire codecs. */

/** The checksum the slow way: sum the pseudo-header and message as one byte string (RFC 4443 2.3). */
export function referenceChecksum(src: Uint8Array, dst: Uint8Array, message: Uint8Array): number {
  const all = new Uint8Array(40 + message.length + (message.length & 1));
  all.set(src, 0);
  all.set(dst, 16);
  all[32] = message.length >>> 24;
  all[33] = (message.length >>> 16) & 0xff;
  all[34] = (message.length >>> 8) & 0xff;
  all[35] = message.length & 0xff;
  all[39] = 58;
  all.set(message, 40);
  all[42] = 0;
  all[43] = 0;
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) sum += (all[i] << 8) | all[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
