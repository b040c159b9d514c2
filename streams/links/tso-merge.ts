/**
 * Transmit segmentation offload for a batch of outbound frames: consecutive full-sized TCP
 * segments of one connection are written as ONE frame of up to 64 KiB with a virtio_net_hdr
 * asking the kernel to cut it (gso_type TCPV4) and to finish the TCP checksum (NEEDS_CSUM), the
 * way a virtual machine's network driver hands its TSO frames to a TAP device. One write()
 * instead of dozens, and the kernel takes the whole run into its TCP receive path at once.
 *
 * Pure logic over bytes (Ethernet + IPv4 without options + TCP): no copy of payload bytes, the
 * merged frame is a list of pieces (one new header, then views of each segment's payload) for a
 * gathered write.
 *
 * A run is merged when its segments: share the Ethernet header, IPv4 addresses and TCP ports;
 * follow each other in sequence; carry the same ACK number, window and TCP options; all carry
 * data, with only ACK (and PSH, or FIN on the last) set; are all `gsoSize` bytes long but the
 * last, which may be shorter; and add up to at most 64 KiB.
 */
import { foldChecksum, internetChecksum, onesSum, pseudoHeaderSum } from '../../src/wire/checksum.js';
import { VNET_HDR_LEN, VnetFlags, VnetGso, writeVnetHdr } from './virtio-net-hdr.js';

/** Largest IPv4 datagram a merged frame may become. */
const MAX_IP_LENGTH = 65535;
/** Pieces in one gathered write: the header and the payloads (the addon takes at most 64). */
const MAX_SEGMENTS = 63;

const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;

/** A frame the batch writer accepts: a whole frame, or the pieces of one (header first). */
export type OutItem = Uint8Array | Uint8Array[];

/** TCP data segment layout, or undefined when `f` is not one we may merge. */
function tcpData(f: Uint8Array): { tcpLen: number; payload: number } | undefined {
  if (f.length < 54 || f[12] !== 0x08 || f[13] !== 0x00 || f[14] !== 0x45 || f[23] !== 6) return undefined;
  if ((f[20] & 0x3f) !== 0 || f[21] !== 0) return undefined; // a fragment
  const flags = f[47];
  if ((flags & ~(ACK | PSH | FIN)) !== 0 || (flags & ACK) === 0) return undefined;
  const tcpLen = (f[46] >>> 4) * 4;
  const ipLen = (f[16] << 8) | f[17];
  const payload = ipLen - 20 - tcpLen;
  if (tcpLen < 20 || payload <= 0 || 14 + ipLen > f.length) return undefined;
  return { tcpLen, payload };
}

function u32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

/** True when `b` continues the run headed by `a` (headers equal where they must be). */
function sameFlow(a: Uint8Array, b: Uint8Array, tcpLen: number): boolean {
  for (let i = 0; i < 14; i++) if (a[i] !== b[i]) return false; // MACs and EtherType
  for (let i = 26; i < 38; i++) if (a[i] !== b[i]) return false; // addresses, ports
  for (let i = 42; i < 46; i++) if (a[i] !== b[i]) return false; // ACK number
  if (a[46] !== b[46] || a[48] !== b[48] || a[49] !== b[49]) return false; // data offset, window
  for (let i = 54; i < 34 + tcpLen; i++) if (a[i] !== b[i]) return false; // options
  return true;
}

/**
 * Rewrites `frames` (nulls skipped) into write items, merging runs as described above.
 * `merged` counts the segments that went out inside a merged frame. `partial[i]`, when given
 * and not -1, says frame i's transport checksum is partial (`csumStart * 256 + csumOffset`):
 * a frame that is not merged then goes out behind a virtio_net_hdr asking the kernel to finish
 * it (a merged frame always does).
 */
export function mergeTcpRuns(
  frames: ReadonlyArray<Uint8Array | null>,
  stats: { merged: number; superFrames: number },
  partial?: ArrayLike<number>,
): OutItem[] {
  const out: OutItem[] = [];
  const single = (i: number): OutItem => {
    const f = frames[i]!;
    const p = partial === undefined ? -1 : partial[i];
    return p < 0 ? f : [csumHeader(p >>> 8, p & 0xff), f];
  };
  let i = 0;
  const n = frames.length;
  while (i < n) {
    const first = frames[i];
    if (first === null) {
      i++;
      continue;
    }
    const head = tcpData(first);
    if (head === undefined || (first[47] & FIN) !== 0) {
      out.push(single(i));
      i++;
      continue;
    }
    const gsoSize = head.payload;
    let seqNext = (u32(first, 38) + gsoSize) >>> 0;
    let total = gsoSize;
    let last = i;
    let count = 1;
    let j = i + 1;
    // Extend the run while the next (non-null) frame continues it.
    while (j < n && count < MAX_SEGMENTS) {
      const f = frames[j];
      if (f === null) {
        j++;
        continue;
      }
      const d = tcpData(f);
      if (d === undefined || d.tcpLen !== head.tcpLen || d.payload > gsoSize) break;
      if (u32(f, 38) !== seqNext || !sameFlow(first, f, head.tcpLen)) break;
      if (20 + head.tcpLen + total + d.payload > MAX_IP_LENGTH) break;
      // The frame before this one must have been full-sized and without FIN.
      const prev = frames[last]!;
      if ((prev[47] & FIN) !== 0 || (last !== i && tcpData(prev)!.payload !== gsoSize)) break;
      total += d.payload;
      seqNext = (seqNext + d.payload) >>> 0;
      last = j;
      count++;
      j++;
      if (d.payload < gsoSize || (f[47] & FIN) !== 0) break; // a short or final segment ends it
    }
    if (count === 1) {
      out.push(single(i));
      i++;
      continue;
    }
    out.push(buildSuperFrame(frames, i, last, head.tcpLen, gsoSize, total));
    stats.merged += count;
    stats.superFrames++;
    i = last + 1;
  }
  return out;
}

/** The virtio_net_hdr that asks for a checksum to be finished; the common TCP one is shared. */
const TCP_CSUM_HEADER = makeCsumHeader(34, 16);

function csumHeader(start: number, offset: number): Uint8Array {
  return start === 34 && offset === 16 ? TCP_CSUM_HEADER : makeCsumHeader(start, offset);
}

function makeCsumHeader(start: number, offset: number): Uint8Array {
  const h = new Uint8Array(VNET_HDR_LEN);
  writeVnetHdr(h, 0, { flags: VnetFlags.NEEDS_CSUM, gsoType: VnetGso.NONE, hdrLen: 0, gsoSize: 0, csumStart: start, csumOffset: offset });
  return h;
}

function buildSuperFrame(frames: ReadonlyArray<Uint8Array | null>, from: number, to: number, tcpLen: number, gsoSize: number, total: number): Uint8Array[] {
  const first = frames[from]!;
  const lastFrame = frames[to]!;
  const hdrLen = 14 + 20 + tcpLen;
  const head = new Uint8Array(VNET_HDR_LEN + hdrLen);
  writeVnetHdr(head, 0, {
    flags: VnetFlags.NEEDS_CSUM,
    gsoType: VnetGso.TCPV4,
    hdrLen,
    gsoSize,
    csumStart: 34,
    csumOffset: 16,
  });
  const h = VNET_HDR_LEN;
  head.set(first.subarray(0, hdrLen), h);
  // IPv4: the length of the whole; a new header checksum.
  const ipLen = 20 + tcpLen + total;
  head[h + 16] = ipLen >>> 8;
  head[h + 17] = ipLen & 0xff;
  head[h + 24] = 0;
  head[h + 25] = 0;
  const ipSum = internetChecksum(head, h + 14, 20);
  head[h + 24] = ipSum >>> 8;
  head[h + 25] = ipSum & 0xff;
  // TCP: PSH/FIN of the last segment (the kernel keeps them for the last piece it cuts); the
  // checksum field holds the pseudo-header sum only (NEEDS_CSUM), not complemented.
  head[h + 47] = (first[47] & ~(PSH | FIN)) | (lastFrame[47] & (PSH | FIN));
  const src = u32(head, h + 26);
  const dst = u32(head, h + 30);
  const pseudo = pseudoHeaderSum(src, dst, 6, tcpLen + total);
  const partial = ~foldChecksum(pseudo) & 0xffff; // the folded sum itself
  head[h + 50] = partial >>> 8;
  head[h + 51] = partial & 0xff;
  const parts: Uint8Array[] = [head];
  for (let k = from; k <= to; k++) {
    const f = frames[k];
    if (f === null) continue;
    const ipL = (f[16] << 8) | f[17];
    parts.push(f.subarray(hdrLen, 14 + ipL));
  }
  return parts;
}

/** Completes a NEEDS_CSUM checksum in place: sums from `csumStart` to the end, the partial sum in the field included. */
export function completePartialChecksum(frame: Uint8Array, csumStart: number, csumOffset: number): void {
  const at = csumStart + csumOffset;
  const sum = onesSum(frame, csumStart, frame.length - csumStart);
  const c = foldChecksum(sum);
  frame[at] = c >>> 8;
  frame[at + 1] = c & 0xff;
}
