/**
 * Receive coalescing for a batch of inbound frames (what Linux calls GRO): consecutive in-order
 * TCP segments of one flow, read in the same batch, become ONE segment before the stack sees
 * them, so IPv4, TCP's demux and the TCP core run once per run instead of once per frame. For
 * links whose frames arrive MTU-sized (a TAP or TUN device without offload); with offload the
 * kernel already hands over large segments.
 *
 * A run is coalesced when its segments: share the link header, IPv4 addresses, TOS and TTL and
 * TCP ports; follow each other in sequence; carry the same ACK number, window and TCP option
 * bytes; carry data, with only ACK set (PSH allowed on the last, which ends the run); are all as
 * long as the first but the last, which may be shorter; and add up to at most 64 KiB. Every
 * segment's TCP checksum is verified here (a segment that fails is left alone, for the stack
 * to count and drop); the coalesced segment gets a valid checksum built from those sums (no
 * second pass over the payload) and is vouched for through `verified`, so the stack does not
 * sum it again. Its payload is one copy of the pieces' payloads.
 *
 * Pure logic over bytes (Ethernet + IPv4 without options + TCP, or bare IPv4 + TCP on a TUN
 * link: `createTcpCoalescer('ip')`); offsets in ipv4-tcp-frame.ts.
 */
import { foldChecksum, onesSum, pseudoHeaderSum } from '../../src/wire/checksum.js';
import { ETHERNET_HEADER_LEN } from '../../src/wire/ethernet.js';
import { IPV4_MAX_DATAGRAM_LEN, IPV4_MIN_HEADER_LEN, IpProtocol, Ipv4Offset } from '../../src/wire/ipv4.js';
import { TCP_MIN_HEADER_LEN, TcpFlags, TcpOffset } from '../../src/wire/tcp.js';
import { bareIpv4TcpReader, ETHERNET_FRAME_READER, readU32 } from './ipv4-tcp-frame.js';

/** Counts of what a coalescer did. */
export interface CoalesceStats {
  /** Segments that went up inside a coalesced one. */
  coalesced: number;
  /** Coalesced segments made. */
  runs: number;
}

/**
 * Rewrites a batch of frames: runs as described above become one frame each (added to
 * `verified`); other frames pass unchanged. Returns `frames` itself when nothing was coalesced.
 */
export type TcpCoalescer = (frames: Uint8Array[], verified: WeakSet<Uint8Array>, stats: CoalesceStats) => Uint8Array[];

const { ACK, PSH } = TcpFlags;

/** The coalescer for frames of one link layer: 'ethernet' (TAP) or 'ip' (TUN). */
export function createTcpCoalescer(layer: 'ethernet' | 'ip'): TcpCoalescer {
  const { isPlainIpv4Tcp, ipTotalLength, tcpHeaderLength, tcpFlags } = layer === 'ethernet' ? ETHERNET_FRAME_READER : bareIpv4TcpReader();
  // Offsets composed once (ipv4-tcp-frame.ts says why per-frame code reads only such numbers).
  const LINK_HEADER_LEN = layer === 'ethernet' ? ETHERNET_HEADER_LEN : 0;
  const IP_AT = LINK_HEADER_LEN;
  const IP_HEADER_LEN = IPV4_MIN_HEADER_LEN;
  const TCP_AT = IP_AT + IP_HEADER_LEN;
  const MIN_TCP_HEADER_LEN = TCP_MIN_HEADER_LEN;
  const PROTOCOL_TCP = IpProtocol.TCP;
  const TOS_AT = IP_AT + Ipv4Offset.DSCP_ECN;
  const TTL_AT = IP_AT + Ipv4Offset.TTL;
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
  const MAX_IP_LENGTH = IPV4_MAX_DATAGRAM_LEN;

  /** Payload length of a data segment we may coalesce (ACK, maybe PSH, nothing else), else -1. */
  function dataLength(f: Uint8Array): number {
    if (!isPlainIpv4Tcp(f)) return -1;
    const flags = tcpFlags(f);
    if ((flags & ~PSH) !== ACK) return -1;
    const tcpLen = tcpHeaderLength(f);
    const ipLen = ipTotalLength(f);
    if (tcpLen < MIN_TCP_HEADER_LEN || IP_AT + ipLen > f.length) return -1;
    const payload = ipLen - IP_HEADER_LEN - tcpLen;
    return payload > 0 ? payload : -1;
  }

  /**
   * The TCP checksum of `f` checks out; `sums[k]` gets the one's complement sum of its payload
   * (each payload byte is summed once, here).
   */
  function verify(f: Uint8Array, tcpLen: number, payload: number, sums: number[], k: number): boolean {
    const data = onesSum(f, TCP_AT + tcpLen, payload);
    const pseudo = pseudoHeaderSum(readU32(f, IP_SRC_AT), readU32(f, IP_DST_AT), PROTOCOL_TCP, tcpLen + payload);
    if (foldChecksum(onesSum(f, TCP_AT, tcpLen, data) + pseudo) !== 0) return false;
    sums[k] = data;
    return true;
  }

  /** True when `b` continues the flow of `a` (headers equal where they must be). */
  function sameFlow(a: Uint8Array, b: Uint8Array, tcpLen: number): boolean {
    for (let i = 0; i < LINK_HEADER_LEN; i++) if (a[i] !== b[i]) return false;
    if (a[TOS_AT] !== b[TOS_AT] || a[TTL_AT] !== b[TTL_AT]) return false;
    for (let i = IP_SRC_AT; i < TCP_SEQ_AT; i++) if (a[i] !== b[i]) return false; // addresses, ports
    for (let i = TCP_ACK_AT; i < TCP_FLAGS_AT; i++) if (a[i] !== b[i]) return false; // ACK, data offset
    if (a[TCP_WINDOW_AT] !== b[TCP_WINDOW_AT] || a[TCP_WINDOW_AT + 1] !== b[TCP_WINDOW_AT + 1]) return false;
    for (let i = TCP_OPTIONS_AT; i < TCP_AT + tcpLen; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  const sums: number[] = [];

  /** A piece's payload sum where it lands at `at`: at an odd offset from the TCP header its bytes pair the other way (RFC 1071 2B). */
  function swapped(s: number, at: number): number {
    return (at - TCP_AT) & 1 ? ((s & 0xff) << 8) | (s >>> 8) : s;
  }

  return function coalesce(frames: Uint8Array[], verified: WeakSet<Uint8Array>, stats: CoalesceStats): Uint8Array[] {
    const n = frames.length;
    if (n < 2) return frames;
    let out: Uint8Array[] | undefined;
    let i = 0;
    while (i < n) {
      const first = frames[i];
      const size = dataLength(first);
      const tcpLen = size > 0 ? tcpHeaderLength(first) : 0;
      let j = i + 1;
      let total = size;
      if (size > 0 && (tcpFlags(first) & PSH) === 0 && i + 1 < n) {
        // The run by its headers first (cheap), then the checksums of those in it: a frame that
        // joins no run is left for the stack to verify, never summed twice.
        let seqNext = (readU32(first, TCP_SEQ_AT) + size) >>> 0;
        while (j < n) {
          const f = frames[j];
          const d = dataLength(f);
          if (d <= 0 || d > size || IP_HEADER_LEN + tcpLen + total + d > MAX_IP_LENGTH) break;
          if (readU32(f, TCP_SEQ_AT) !== seqNext || tcpHeaderLength(f) !== tcpLen || !sameFlow(first, f, tcpLen)) break;
          total += d;
          seqNext = (seqNext + d) >>> 0;
          j++;
          if (d < size || (tcpFlags(f) & PSH) !== 0) break; // a short segment or a push ends the run
        }
        if (j - i >= 2) {
          // A segment that fails its checksum ends the run before it (the stack drops it).
          let k = i;
          total = 0;
          while (k < j) {
            const f = frames[k];
            const d = ipTotalLength(f) - IP_HEADER_LEN - tcpLen;
            if (!verify(f, tcpLen, d, sums, k - i)) break;
            total += d;
            k++;
          }
          j = k;
        }
      }
      if (j - i < 2) {
        if (out !== undefined) out.push(first);
        i++;
        continue;
      }
      if (out === undefined) out = frames.slice(0, i);
      out.push(build(frames, i, j, tcpLen, total));
      verified.add(out[out.length - 1]);
      stats.coalesced += j - i;
      stats.runs++;
      i = j;
    }
    return out ?? frames;
  };

  /**
   * True when frames from..to-1 lie one after the other in one buffer, each exactly its IPv4
   * datagram long (a device's read batch: TapDevice cuts its frames that way).
   */
  function contiguous(frames: Uint8Array[], from: number, to: number): boolean {
    const buffer = frames[from].buffer;
    for (let k = from; k < to; k++) {
      const f = frames[k];
      if (f.buffer !== buffer || f.length !== IP_AT + ipTotalLength(f)) return false;
      if (k > from && f.byteOffset !== frames[k - 1].byteOffset + frames[k - 1].length) return false;
    }
    return true;
  }

  /**
   * One frame: the first segment's headers, every payload; lengths and checksums redone. Built
   * in place when the frames are contiguous in their batch's buffer (each payload moved down
   * over the headers before it: no allocation), else in a new buffer.
   */
  function build(frames: Uint8Array[], from: number, to: number, tcpLen: number, total: number): Uint8Array {
    const first = frames[from];
    const hdrLen = TCP_AT + tcpLen;
    // Read before the payloads move (in place, they overwrite the headers after the first).
    const lastFlags = tcpFlags(frames[to - 1]);
    let m: Uint8Array;
    let payloadSum = 0;
    let at = hdrLen;
    if (contiguous(frames, from, to)) {
      const whole = new Uint8Array(first.buffer, first.byteOffset, frames[to - 1].byteOffset + frames[to - 1].length - first.byteOffset);
      for (let k = from; k < to; k++) {
        const f = frames[k];
        const start = f.byteOffset - first.byteOffset + hdrLen;
        const end = f.byteOffset - first.byteOffset + f.length;
        if (start !== at) whole.copyWithin(at, start, end);
        payloadSum += swapped(sums[k - from], at);
        at += end - start;
      }
      m = whole.subarray(0, hdrLen + total);
    } else {
      m = new Uint8Array(hdrLen + total);
      m.set(first.subarray(0, hdrLen), 0);
      for (let k = from; k < to; k++) {
        const f = frames[k];
        const end = IP_AT + ipTotalLength(f);
        m.set(f.subarray(hdrLen, end), at);
        payloadSum += swapped(sums[k - from], at);
        at += end - hdrLen;
      }
    }
    // PSH as the last segment had it.
    m[TCP_FLAGS_AT] = lastFlags;
    const ipLen = IP_HEADER_LEN + tcpLen + total;
    m[IP_TOTAL_LENGTH_AT] = ipLen >>> 8;
    m[IP_TOTAL_LENGTH_AT + 1] = ipLen & 0xff;
    m[IP_CHECKSUM_AT] = 0;
    m[IP_CHECKSUM_AT + 1] = 0;
    const ipSum = foldChecksum(onesSum(m, IP_AT, IP_HEADER_LEN));
    m[IP_CHECKSUM_AT] = ipSum >>> 8;
    m[IP_CHECKSUM_AT + 1] = ipSum & 0xff;
    m[TCP_CHECKSUM_AT] = 0;
    m[TCP_CHECKSUM_AT + 1] = 0;
    const pseudo = pseudoHeaderSum(readU32(m, IP_SRC_AT), readU32(m, IP_DST_AT), PROTOCOL_TCP, tcpLen + total);
    const c = foldChecksum(onesSum(m, TCP_AT, tcpLen, pseudo) + payloadSum);
    m[TCP_CHECKSUM_AT] = c >>> 8;
    m[TCP_CHECKSUM_AT + 1] = c & 0xff;
    return m;
  }
}
