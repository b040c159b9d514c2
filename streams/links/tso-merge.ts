/**
 * Transmit segmentation offload for a batch of outbound frames: consecutive full-sized TCP
 * segments of one connection are written as ONE frame of up to 64 KiB with a virtio_net_hdr
 * asking the kernel to cut it (gso_type TCPV4) and to finish the TCP checksum (NEEDS_CSUM), the
 * way a virtual machine's network driver hands its TSO frames to a TAP device. One write()
 * instead of dozens, and the kernel takes the whole run into its TCP receive path at once.
 *
 * Pure logic over bytes (Ethernet + IPv4 without options + TCP, offsets in ipv4-tcp-frame.ts;
 * or bare IPv4 + TCP for a TUN link, `createTcpRunMerger('ip')`):
 * no copy of payload bytes, the merged frame is a list of pieces (one new header, then views of
 * each segment's payload) for a gathered write.
 *
 * A run is merged when its segments: share the Ethernet header, IPv4 addresses and TCP ports;
 * follow each other in sequence; carry the same ACK number, window and TCP options; all carry
 * data, with only ACK (and PSH, or FIN on the last) set; are all `gsoSize` bytes long but the
 * last, which may be shorter; and add up to at most 64 KiB.
 */
import { foldChecksum, internetChecksum, onesSum, pseudoHeaderSum } from '../../src/wire/checksum.js';
import { ETHERNET_HEADER_LEN } from '../../src/wire/ethernet.js';
import { IPV4_MAX_DATAGRAM_LEN, IPV4_MIN_HEADER_LEN, IpProtocol, Ipv4Offset } from '../../src/wire/ipv4.js';
import { TCP_MIN_HEADER_LEN, TcpOffset, TcpFlags } from '../../src/wire/tcp.js';
import { bareIpv4TcpReader, ETHERNET_FRAME_READER, readU32 } from './ipv4-tcp-frame.js';
import { VNET_HDR_LEN, VnetFlags, VnetGso, writeVnetHdr } from './virtio-net-hdr.js';

/** Largest IPv4 datagram a merged frame may become. */
const MAX_IP_LENGTH = IPV4_MAX_DATAGRAM_LEN;
/** Pieces in one gathered write: the header and the payloads (the addon takes at most 64). */
const MAX_SEGMENTS = 63;

const { ACK, PSH, FIN } = TcpFlags;

/** A frame the batch writer accepts: a whole frame, or the pieces of one (header first). */
export type OutItem = Uint8Array | Uint8Array[];

/** Merges runs of TCP segments of a batch into write items (see `mergeTcpRuns`). */
export type TcpRunMerger = (
  frames: ReadonlyArray<Uint8Array | null>,
  stats: { merged: number; superFrames: number },
  partial?: ArrayLike<number>,
) => OutItem[];

/**
 * The merger for frames of one link layer: 'ethernet' (TAP) or 'ip' (TUN: bare IPv4 packets,
 * where the virtio_net_hdr's csum_start counts from the IPv4 header). The layout's offsets are
 * numbers of this closure, read per frame like module-level ones.
 */
export function createTcpRunMerger(layer: 'ethernet' | 'ip'): TcpRunMerger {
  const { isPlainIpv4Tcp, ipTotalLength, tcpHeaderLength, tcpFlags } = layer === 'ethernet' ? ETHERNET_FRAME_READER : bareIpv4TcpReader();
  // The frame's layout, composed once from the wire modules' names: per-frame code reads only
  // these numbers of the closure (ipv4-tcp-frame.ts says why).
  const ETH_HEADER_LEN = layer === 'ethernet' ? ETHERNET_HEADER_LEN : 0;
  const IP_AT = ETH_HEADER_LEN;
  const IP_HEADER_LEN = IPV4_MIN_HEADER_LEN; // no options
  const TCP_AT = IP_AT + IP_HEADER_LEN;
  const MIN_TCP_HEADER_LEN = TCP_MIN_HEADER_LEN;
  const TCP_CHECKSUM_OFFSET = TcpOffset.CHECKSUM;
  const PROTOCOL_TCP = IpProtocol.TCP;
  /** Frame offsets of the fields read or rewritten here. */
  const IP_TOTAL_LENGTH_AT = IP_AT + Ipv4Offset.TOTAL_LENGTH;
  const IP_CHECKSUM_AT = IP_AT + Ipv4Offset.CHECKSUM;
  const IP_SRC_AT = IP_AT + Ipv4Offset.SRC;
  const IP_DST_AT = IP_AT + Ipv4Offset.DST;
  const TCP_SEQ_AT = TCP_AT + TcpOffset.SEQ;
  const TCP_ACK_AT = TCP_AT + TcpOffset.ACK;
  const TCP_DATA_OFFSET_AT = TCP_AT + TcpOffset.DATA_OFFSET;
  const TCP_FLAGS_AT = TCP_AT + TcpOffset.FLAGS;
  const TCP_WINDOW_AT = TCP_AT + TcpOffset.WINDOW;
  const TCP_CHECKSUM_AT = TCP_AT + TcpOffset.CHECKSUM;
  const TCP_OPTIONS_AT = TCP_AT + TcpOffset.OPTIONS;

  /** TCP data segment layout, or undefined when `f` is not one we may merge. */
  function tcpData(f: Uint8Array): { tcpLen: number; payload: number } | undefined {
    if (!isPlainIpv4Tcp(f)) return undefined; // also: not a fragment
    const flags = tcpFlags(f);
    if ((flags & ~(ACK | PSH | FIN)) !== 0 || (flags & ACK) === 0) return undefined;
    const tcpLen = tcpHeaderLength(f);
    const ipLen = ipTotalLength(f);
    const payload = ipLen - IP_HEADER_LEN - tcpLen;
    if (tcpLen < MIN_TCP_HEADER_LEN || payload <= 0 || IP_AT + ipLen > f.length) return undefined;
    return { tcpLen, payload };
  }

  /** True when `b` continues the run headed by `a` (headers equal where they must be). */
  function sameFlow(a: Uint8Array, b: Uint8Array, tcpLen: number): boolean {
    for (let i = 0; i < ETH_HEADER_LEN; i++) if (a[i] !== b[i]) return false; // MACs and EtherType (none on TUN)
    // IPv4 addresses, then (the TCP header follows them) the ports.
    for (let i = IP_SRC_AT; i < TCP_SEQ_AT; i++) if (a[i] !== b[i]) return false;
    for (let i = TCP_ACK_AT; i < TCP_DATA_OFFSET_AT; i++) if (a[i] !== b[i]) return false; // ACK number
    if (a[TCP_DATA_OFFSET_AT] !== b[TCP_DATA_OFFSET_AT]) return false;
    if (a[TCP_WINDOW_AT] !== b[TCP_WINDOW_AT] || a[TCP_WINDOW_AT + 1] !== b[TCP_WINDOW_AT + 1]) return false;
    for (let i = TCP_OPTIONS_AT; i < TCP_AT + tcpLen; i++) if (a[i] !== b[i]) return false; // options
    return true;
  }

  /**
   * Rewrites `frames` (nulls skipped) into write items, merging runs as described above.
   * `merged` counts the segments that went out inside a merged frame. `partial[i]`, when given
   * and not -1, says frame i's transport checksum is partial (`csumStart * 256 + csumOffset`):
   * a frame that is not merged then goes out behind a virtio_net_hdr asking the kernel to finish
   * it (a merged frame always does).
   */
  function mergeTcpRuns(
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
      if (head === undefined || (tcpFlags(first) & FIN) !== 0) {
        out.push(single(i));
        i++;
        continue;
      }
      const gsoSize = head.payload;
      let seqNext = (readU32(first, TCP_SEQ_AT) + gsoSize) >>> 0;
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
        if (readU32(f, TCP_SEQ_AT) !== seqNext || !sameFlow(first, f, head.tcpLen)) break;
        if (IP_HEADER_LEN + head.tcpLen + total + d.payload > MAX_IP_LENGTH) break;
        // The frame before this one must have been full-sized and without FIN.
        const prev = frames[last]!;
        if ((tcpFlags(prev) & FIN) !== 0 || (last !== i && tcpData(prev)!.payload !== gsoSize)) break;
        total += d.payload;
        seqNext = (seqNext + d.payload) >>> 0;
        last = j;
        count++;
        j++;
        if (d.payload < gsoSize || (tcpFlags(f) & FIN) !== 0) break; // a short or final segment ends it
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
  const TCP_CSUM_HEADER = makeCsumHeader(TCP_AT, TCP_CHECKSUM_OFFSET);

  function csumHeader(start: number, offset: number): Uint8Array {
    return start === TCP_AT && offset === TCP_CHECKSUM_OFFSET ? TCP_CSUM_HEADER : makeCsumHeader(start, offset);
  }

  function makeCsumHeader(start: number, offset: number): Uint8Array {
    const h = new Uint8Array(VNET_HDR_LEN);
    writeVnetHdr(h, 0, { flags: VnetFlags.NEEDS_CSUM, gsoType: VnetGso.NONE, hdrLen: 0, gsoSize: 0, csumStart: start, csumOffset: offset });
    return h;
  }

  function buildSuperFrame(frames: ReadonlyArray<Uint8Array | null>, from: number, to: number, tcpLen: number, gsoSize: number, total: number): Uint8Array[] {
    const first = frames[from]!;
    const lastFrame = frames[to]!;
    const hdrLen = TCP_AT + tcpLen;
    const head = new Uint8Array(VNET_HDR_LEN + hdrLen);
    writeVnetHdr(head, 0, {
      flags: VnetFlags.NEEDS_CSUM,
      gsoType: VnetGso.TCPV4,
      hdrLen,
      gsoSize,
      csumStart: TCP_AT,
      csumOffset: TCP_CHECKSUM_OFFSET,
    });
    const h = VNET_HDR_LEN;
    head.set(first.subarray(0, hdrLen), h);
    // IPv4: the length of the whole; a new header checksum.
    const ipLen = IP_HEADER_LEN + tcpLen + total;
    head[h + IP_TOTAL_LENGTH_AT] = ipLen >>> 8;
    head[h + IP_TOTAL_LENGTH_AT + 1] = ipLen & 0xff;
    head[h + IP_CHECKSUM_AT] = 0;
    head[h + IP_CHECKSUM_AT + 1] = 0;
    const ipSum = internetChecksum(head, h + IP_AT, IP_HEADER_LEN);
    head[h + IP_CHECKSUM_AT] = ipSum >>> 8;
    head[h + IP_CHECKSUM_AT + 1] = ipSum & 0xff;
    // TCP: PSH/FIN of the last segment (the kernel keeps them for the last piece it cuts); the
    // checksum field holds the pseudo-header sum only (NEEDS_CSUM), not complemented.
    head[h + TCP_FLAGS_AT] = (tcpFlags(first) & ~(PSH | FIN)) | (tcpFlags(lastFrame) & (PSH | FIN));
    const src = readU32(head, h + IP_SRC_AT);
    const dst = readU32(head, h + IP_DST_AT);
    const pseudo = pseudoHeaderSum(src, dst, PROTOCOL_TCP, tcpLen + total);
    const partial = ~foldChecksum(pseudo) & 0xffff; // the folded sum itself
    head[h + TCP_CHECKSUM_AT] = partial >>> 8;
    head[h + TCP_CHECKSUM_AT + 1] = partial & 0xff;
    const parts: Uint8Array[] = [head];
    for (let k = from; k <= to; k++) {
      const f = frames[k];
      if (f === null) continue;
      parts.push(f.subarray(hdrLen, IP_AT + ipTotalLength(f)));
    }
    return parts;
  }

  return mergeTcpRuns;
}

/** The merger for Ethernet frames (TAP). */
export const mergeTcpRuns: TcpRunMerger = createTcpRunMerger('ethernet');

/** Completes a NEEDS_CSUM checksum in place: sums from `csumStart` to the end, the partial sum in the field included. */
export function completePartialChecksum(frame: Uint8Array, csumStart: number, csumOffset: number): void {
  const at = csumStart + csumOffset;
  const sum = onesSum(frame, csumStart, frame.length - csumStart);
  const c = foldChecksum(sum);
  frame[at] = c >>> 8;
  frame[at + 1] = c & 0xff;
}
