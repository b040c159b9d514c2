/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum of
 * the data taken as big-endian 16-bit words, computed over the bytes in place.
 *
 * Speed matters (every received TCP/UDP byte is summed once), so the sum is taken two ways:
 * short ranges add unrolled byte pairs; long ranges read 32-bit words through a Uint32Array over
 * the same memory. The second relies on RFC 1071 section 2(B): the one's complement sum is
 * independent of byte order, so words read in host order can be summed and the folded result
 * byte-swapped once at the end. Sums accumulate in a plain number (exact up to 2^53) and are
 * folded to 16 bits only at the end.
 */

import type { Ipv4Addr } from '../ipv4/address.js';

/** Below this many bytes the word path's set-up (reading `.buffer` alone costs tens of ns) loses. */
const WORD_PATH_MIN = 192;

/** True on little-endian hosts (all the ones Node runs on in practice, but we check). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// One-entry cache of the 32-bit view over the last ArrayBuffer seen: frames of a batch usually
// share one buffer, and building a typed array per call would allocate on the hot path.
let cachedBuffer: ArrayBufferLike | undefined;
let cachedWords: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

function wordsOf(buffer: ArrayBufferLike): Uint32Array<ArrayBufferLike> {
  if (buffer !== cachedBuffer) {
    cachedBuffer = buffer;
    cachedWords = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  }
  return cachedWords;
}

/** Folds a non-negative sum (any size up to 2^53) to 16 bits with end-around carry. */
function fold(sum: number): number {
  // Sums beyond 32 bits only arise for multi-megabyte ranges; keep the common case in int32 ops.
  while (sum > 0xffffffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/** Sum of big-endian byte pairs from `offset`; an odd last byte counts as the high byte. */
function sumPairs(b: Uint8Array, offset: number, length: number): number {
  let sum = 0;
  let i = offset;
  const end8 = offset + (length & ~7);
  for (; i < end8; i += 8) {
    sum += ((b[i] << 8) | b[i + 1]) + ((b[i + 2] << 8) | b[i + 3]) +
      ((b[i + 4] << 8) | b[i + 5]) + ((b[i + 6] << 8) | b[i + 7]);
  }
  const end2 = offset + (length & ~1);
  for (; i < end2; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (length & 1) sum += b[end2] << 8;
  return sum;
}

/**
 * Sum of a range whose absolute start (byteOffset + offset) is even. Returns a folded 16-bit
 * sum in network byte order.
 */
function sumEvenStart(b: Uint8Array, offset: number, length: number): number {
  let head = 0;
  // Step one word forward when the start sits at 2 mod 4, so the word loop is aligned.
  if (((b.byteOffset + offset) & 3) !== 0) {
    head = (b[offset] << 8) | b[offset + 1];
    offset += 2;
    length -= 2;
  }
  const words = wordsOf(b.buffer);
  let i = (b.byteOffset + offset) >>> 2;
  const count = length >>> 2;
  const end = i + count;
  // A resizable buffer may have grown since its word view was made: then sum byte pairs.
  if (end > words.length) return fold(head + sumPairs(b, offset, length));
  const end4 = i + (count & ~3);
  let lo = 0;
  let hi = 0;
  for (; i < end4; i += 4) {
    const w0 = words[i];
    const w1 = words[i + 1];
    const w2 = words[i + 2];
    const w3 = words[i + 3];
    lo += (w0 & 0xffff) + (w1 & 0xffff) + (w2 & 0xffff) + (w3 & 0xffff);
    hi += (w0 >>> 16) + (w1 >>> 16) + (w2 >>> 16) + (w3 >>> 16);
  }
  for (; i < end; i++) {
    const w = words[i];
    lo += w & 0xffff;
    hi += w >>> 16;
  }
  let sum = fold(lo + hi);
  // Host-order halves of little-endian words hold byte-swapped 16-bit words.
  if (LITTLE_ENDIAN) sum = ((sum & 0xff) << 8) | (sum >>> 8);
  const tail = offset + (count << 2);
  return fold(sum + head + sumPairs(b, tail, length - (count << 2)));
}

/**
 * One's complement sum of `length` bytes of `bytes` from `offset`, as big-endian 16-bit words
 * (an odd final byte is padded with a zero low byte), plus `initial`. Returns the sum folded to
 * 16 bits (0..0xffff), not complemented, so partial sums chain:
 * `onesSum(payload, 0, n, onesSum(header, 0, 20, pseudoHeaderSum(...)))`.
 * Chain only at even boundaries of the logical message (as headers always are).
 */
export function onesSum(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  if (length < WORD_PATH_MIN) return fold(initial + sumPairs(bytes, offset, length));
  if (((bytes.byteOffset + offset) & 1) === 0) return fold(initial + sumEvenStart(bytes, offset, length));
  // Odd absolute start: the first byte is the high half of word 0; the rest, summed as if it
  // started a message, comes out byte-swapped (RFC 1071 2(B)), so swap it back.
  const rest = sumEvenStart(bytes, offset + 1, length - 1);
  return fold(initial + (bytes[offset] << 8) + (((rest & 0xff) << 8) | (rest >>> 8)));
}

/** Folds a partial sum and complements it: the value to put in a checksum field. */
export function foldChecksum(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** The Internet checksum of a byte range (the value for the checksum field when it was 0). */
export function internetChecksum(bytes: Uint8Array, offset: number, length: number): number {
  return foldChecksum(onesSum(bytes, offset, length));
}

/**
 * Partial sum of the IPv4 pseudo-header used by UDP and TCP (RFC 768, RFC 9293 3.1): source,
 * destination, zero + protocol, and the transport length (header + data). Folded, not
 * complemented: pass it as `initial` to `onesSum`.
 */
export function pseudoHeaderSum(src: Ipv4Addr, dst: Ipv4Addr, protocol: number, length: number): number {
  return fold((src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length);
}

/**
 * The checksum field after a 32-bit value it covers (an address in a pseudo-header, a header
 * word) changed from `oldValue` to `newValue`, without summing the message again: RFC 1624's
 * incremental update HC' = ~(~HC + ~m + m'), for each 16-bit half. What a NAT does to TCP and
 * UDP checksums when it rewrites an address. A UDP checksum of 0 ("none") must be left alone
 * by the caller; a result of 0 for UDP is sent as 0xffff.
 */
export function adjustChecksum(checksum: number, oldValue: number, newValue: number): number {
  let sum = ~checksum & 0xffff;
  sum += (~oldValue >>> 16) & 0xffff;
  sum += ~oldValue & 0xffff;
  sum += newValue >>> 16;
  sum += newValue & 0xffff;
  return ~fold(sum) & 0xffff;
}
