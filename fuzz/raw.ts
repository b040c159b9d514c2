/**
 * Byte-level helpers for frames a generator has edited: fix the checksums after an edit (so
 * that the edit, not a checksum, is what the stack meets), and read a few fields without a
 * full parse. Untagged Ethernet + IPv4 only; anything else is left as it is.
 */
import { internetChecksum, onesSum, foldChecksum, pseudoHeaderSum } from '../src/wire/checksum.js';

export const ETH = 14;

export function ethertype(frame: Uint8Array): number {
  return frame.length >= ETH ? (frame[12] << 8) | frame[13] : -1;
}

export function isIpv4(frame: Uint8Array): boolean {
  return ethertype(frame) === 0x0800 && frame.length >= ETH + 20;
}

export function readU16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

export function writeU16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

export function readU32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

export function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** The IPv4 source address of a frame (as a number), or -1. */
export function ipv4Src(frame: Uint8Array): number {
  return isIpv4(frame) ? readU32(frame, ETH + 12) : -1;
}

/**
 * Recomputes the IPv4 header checksum and, for an unfragmented TCP, UDP or ICMP datagram whose
 * lengths hold together, the transport checksum. Leaves what it cannot make sense of alone.
 */
export function fixChecksums(frame: Uint8Array): void {
  if (!isIpv4(frame)) return;
  const ip = ETH;
  const ihl = (frame[ip] & 0x0f) * 4;
  if (ihl < 20 || ip + ihl > frame.length) return;
  frame[ip + 10] = 0;
  frame[ip + 11] = 0;
  writeU16(frame, ip + 10, internetChecksum(frame, ip, ihl));
  const total = readU16(frame, ip + 2);
  if (total < ihl || ip + total > frame.length) return;
  const fragment = (readU16(frame, ip + 6) & 0x3fff) !== 0;
  if (fragment) return;
  const protocol = frame[ip + 9];
  const t = ip + ihl;
  const len = total - ihl;
  const src = readU32(frame, ip + 12);
  const dst = readU32(frame, ip + 16);
  if (protocol === 6 && len >= 20) {
    writeU16(frame, t + 16, 0);
    writeU16(frame, t + 16, foldChecksum(onesSum(frame, t, len, pseudoHeaderSum(src, dst, 6, len))));
  } else if (protocol === 17 && len >= 8) {
    writeU16(frame, t + 6, 0);
    const c = foldChecksum(onesSum(frame, t, len, pseudoHeaderSum(src, dst, 17, len)));
    writeU16(frame, t + 6, c === 0 ? 0xffff : c);
  } else if (protocol === 1 && len >= 4) {
    writeU16(frame, t + 2, 0);
    writeU16(frame, t + 2, internetChecksum(frame, t, len));
  }
}
