/**
 * The virtio_net_hdr that a TAP device opened with IFF_VNET_HDR puts in front of every frame it
 * hands us and expects in front of every frame we write (include/uapi/linux/virtio_net.h; the
 * 10-byte form, without num_buffers). With offloads enabled (TUNSETOFFLOAD) it says:
 *
 * - NEEDS_CSUM: the transport checksum is partial. The checksum field at
 *   `csumStart + csumOffset` holds only the pseudo-header sum; the bytes from `csumStart` to the
 *   end still have to be summed in. The kernel sends its own TCP and UDP this way and takes ours
 *   the same way.
 * - DATA_VALID: the checksum was already verified.
 * - gsoType TCPV4 (TCPV6) with gsoSize: a TCP segment of up to 64 KiB over IPv4 (IPv6) to be cut
 *   into gsoSize-byte segments (the IP header and TCP header are those of the first; hdrLen
 *   covers them). The checksum offsets are the same for both families: csumStart is where TCP
 *   starts (after IPv4's header, or IPv6's 40 bytes), csumOffset TCP's checksum field.
 *
 * Fields are in the host's byte order on a legacy (non-VERSION_1) TAP device: little-endian on
 * every machine Node runs a TAP device on; we check.
 */
import { endianness } from 'node:os';
import { foldChecksum, onesSum } from '../../src/wire/checksum.js';

export const VNET_HDR_LEN = 10;

export const VnetFlags = {
  NEEDS_CSUM: 0x01,
  DATA_VALID: 0x02,
} as const;

export const VnetGso = {
  NONE: 0,
  TCPV4: 1,
  UDP: 3,
  TCPV6: 4,
  UDP_L4: 5,
  ECN: 0x80,
} as const;

/** TUNSETOFFLOAD flags (include/uapi/linux/if_tun.h). */
export const TunOffload = {
  CSUM: 0x01,
  TSO4: 0x02,
  TSO6: 0x04,
  TSO_ECN: 0x08,
  UFO: 0x10,
} as const;

if (endianness() !== 'LE') {
  // A big-endian host would need TUNSETVNETLE or byte swaps here; nobody runs Node there.
  throw new Error('virtio-net-hdr: only little-endian hosts are supported');
}

/** Where the fields are in the header (16-bit fields little-endian, as the getters below read them). */
export const VnetOffset = { FLAGS: 0, GSO_TYPE: 1, HDR_LEN: 2, GSO_SIZE: 4, CSUM_START: 6, CSUM_OFFSET: 8 } as const;

const u16 = (b: Uint8Array, i: number): number => b[i] | (b[i + 1] << 8);

export function vnetFlags(h: Uint8Array): number {
  return h[0];
}
export function vnetGsoType(h: Uint8Array): number {
  return h[1];
}
export function vnetHdrLen(h: Uint8Array): number {
  return u16(h, 2);
}
export function vnetGsoSize(h: Uint8Array): number {
  return u16(h, 4);
}
export function vnetCsumStart(h: Uint8Array): number {
  return u16(h, 6);
}
export function vnetCsumOffset(h: Uint8Array): number {
  return u16(h, 8);
}

export interface VnetHdr {
  readonly flags: number;
  readonly gsoType: number;
  readonly hdrLen: number;
  readonly gsoSize: number;
  readonly csumStart: number;
  readonly csumOffset: number;
}

/** Writes `hdr` into `out` at `at` (10 bytes). */
export function writeVnetHdr(out: Uint8Array, at: number, hdr: VnetHdr): void {
  out[at] = hdr.flags;
  out[at + 1] = hdr.gsoType;
  const put = (i: number, v: number): void => {
    out[at + i] = v & 0xff;
    out[at + i + 1] = (v >>> 8) & 0xff;
  };
  put(2, hdr.hdrLen);
  put(4, hdr.gsoSize);
  put(6, hdr.csumStart);
  put(8, hdr.csumOffset);
}

/** TCP header fields read by `gsoHeader`, from the TCP header's start. */
const TCP_DATA_OFFSET = 12;
const TCP_FLAGS = 13;
const TCP_CWR = 0x80;

/** The last NEEDS_CSUM header made (nearly every frame asks for the same: TCP after IPv4). */
let lastCsumKey = -1;
let lastCsumHeader: Uint8Array = new Uint8Array(VNET_HDR_LEN);

/**
 * The header asking the device to finish a checksum at `csumStart + csumOffset`. Shared between
 * frames (the device only reads it): callers must not modify it.
 */
export function csumHeader(csumStart: number, csumOffset: number): Uint8Array {
  const key = csumStart * 256 + csumOffset;
  if (key === lastCsumKey) return lastCsumHeader;
  const h = new Uint8Array(VNET_HDR_LEN);
  writeVnetHdr(h, 0, { flags: NEEDS_CSUM, gsoType: VnetGso.NONE, hdrLen: 0, gsoSize: 0, csumStart, csumOffset });
  lastCsumKey = key;
  lastCsumHeader = h;
  return h;
}

const NEEDS_CSUM = VnetFlags.NEEDS_CSUM;

/**
 * Writes the header of an ordinary frame at `out[at..at + VNET_HDR_LEN)`: all zero (nothing asked
 * of the device) when `csumStart` is negative, else NEEDS_CSUM with the partial checksum's place
 * (as `csumHeader`). Byte by byte: for the room in front of a frame about to be written, where a
 * record or a `set` would cost more than the ten stores.
 */
export function putFrameHeader(out: Uint8Array, at: number, csumStart: number, csumOffset: number): void {
  if (csumStart < 0) {
    for (let i = 0; i < VNET_HDR_LEN; i++) out[at + i] = 0;
    return;
  }
  out[at] = NEEDS_CSUM;
  out[at + 1] = 0; // VIRTIO_NET_HDR_GSO_NONE
  out[at + 2] = 0; // hdr_len
  out[at + 3] = 0;
  out[at + 4] = 0; // gso_size
  out[at + 5] = 0;
  out[at + 6] = csumStart & 0xff; // little-endian, as the device reads it
  out[at + 7] = csumStart >>> 8;
  out[at + 8] = csumOffset & 0xff;
  out[at + 9] = csumOffset >>> 8;
}

/**
 * The header of a large TCP segment for the device to cut (GSO TCPV4 or TCPV6, TSO): `frame`
 * holds the headers of the first segment (the IP header's length covering the whole) and every
 * payload byte, its IP header at `ipAt` (14 after Ethernet, 0 on a TUN link: its version nibble
 * picks TCPV4 or TCPV6), its TCP header at `csumStart` with a partial checksum; `gsoSize` is
 * each piece's payload. The ECN bit is set when the segment carries CWR (the device keeps CWR
 * on the first piece only).
 */
export function gsoHeader(frame: Uint8Array, csumStart: number, csumOffset: number, gsoSize: number, ipAt: number): Uint8Array {
  const h = new Uint8Array(VNET_HDR_LEN);
  const hdrLen = csumStart + ((frame[csumStart + TCP_DATA_OFFSET] >>> 4) << 2);
  const ecn = (frame[csumStart + TCP_FLAGS] & TCP_CWR) !== 0 ? VnetGso.ECN : 0;
  const type = frame[ipAt] >>> 4 === IP_VERSION_6 ? VnetGso.TCPV6 : VnetGso.TCPV4;
  writeVnetHdr(h, 0, { flags: NEEDS_CSUM, gsoType: type | ecn, hdrLen, gsoSize, csumStart, csumOffset });
  return h;
}

/** The version nibble of an IPv6 header. */
const IP_VERSION_6 = 6;

/** Completes a NEEDS_CSUM checksum in place: sums from `csumStart` to the end, the partial sum in the field included. */
export function completePartialChecksum(frame: Uint8Array, csumStart: number, csumOffset: number): void {
  const at = csumStart + csumOffset;
  const c = foldChecksum(onesSum(frame, csumStart, frame.length - csumStart));
  frame[at] = c >>> 8;
  frame[at + 1] = c & 0xff;
}
