/**
 * Receive coalescing for a batch of inbound frames (what Linux calls GRO): consecutive in-order
 * TCP segments of one flow, read in the same batch, become ONE segment before the stack sees
 * them, so IPv4, TCP's demux and the TCP core run once per run instead of once per frame. For
 * links whose frames arrive MTU-sized (a TAP or TUN device without offload); with offload the
 * kernel already hands over large segments.
 *
 * A run is coalesced when its segments: share the link header, IP addresses, TOS and TTL (IPv6:
 * traffic class, flow label and hop limit) and TCP ports; follow each other in sequence; carry the same ACK number, window and TCP option
 * bytes; carry data, with only ACK set (PSH allowed on the last, which ends the run); are all as
 * long as the first but the last, which may be shorter; and add up to at most 64 KiB. Every
 * segment's TCP checksum is verified here (a segment that fails is left alone, for the stack
 * to count and drop); the coalesced segment gets a valid checksum built from those sums (no
 * second pass over the payload) and is vouched for through `verified`, so the stack does not
 * sum it again. Its payload is one copy of the pieces' payloads.
 *
 * Pure logic over bytes (Ethernet + IPv4 without options + TCP, or bare IPv4 + TCP on a TUN
 * link: `createTcpCoalescer('ip')`; the same with IPv6 without extension headers, flows of
 * either version in one batch); offsets composed from the wire modules' names, read as
 * ipv4-tcp-frame.ts and ipv6-tcp-frame.ts read them.
 */
import { foldChecksum, onesSum, pseudoHeaderSum } from '../../src/wire/checksum.js';
import { ETHERNET_HEADER_LEN, EthernetOffset, EtherType } from '../../src/wire/ethernet.js';
import { IPV4_MAX_DATAGRAM_LEN, IPV4_MIN_HEADER_LEN, IPV4_VERSION, IpProtocol, Ipv4FlagsFrag, Ipv4Offset } from '../../src/wire/ipv4.js';
import { IPV6_HEADER_LEN, IPV6_MAX_PAYLOAD_LEN, IPV6_VERSION, Ipv6Offset, ipv6PseudoHeaderSum } from '../../src/wire/ipv6.js';
import { TCP_MIN_HEADER_LEN, TcpFlags, TcpOffset } from '../../src/wire/tcp.js';
import { readU32 } from './ipv4-tcp-frame.js';

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
const ETHERTYPE_IPV6_HI = EtherType.IPV6 >>> 8;
const ETHERTYPE_IPV6_LO = EtherType.IPV6 & 0xff;

/** The coalescer for frames of one link layer: 'ethernet' (TAP) or 'ip' (TUN); IPv4 and IPv6 flows alike. */
export function createTcpCoalescer(layer: 'ethernet' | 'ip'): TcpCoalescer {
  const v4 = familyRuns(layer, 4);
  // IPv6's run logic is made when the first IPv6 frame comes, not before: V8 compiles a closure
  // made once with its captured numbers as constants, and closures of one source made twice
  // (one per family) lose that, about 4 % per IPv4 frame measured. A process that never sees
  // IPv6 (or has one link) keeps IPv4's at its best.
  let v6: FamilyRuns | undefined;
  const isIpv6 = layer === 'ethernet'
    ? (f: Uint8Array) => f.length > ETHERNET_HEADER_LEN && f[EthernetOffset.TYPE] === ETHERTYPE_IPV6_HI && f[EthernetOffset.TYPE + 1] === ETHERTYPE_IPV6_LO
    : (f: Uint8Array) => f.length > 0 && (f[0] >>> 4) === IPV6_VERSION;
  return function coalesce(frames: Uint8Array[], verified: WeakSet<Uint8Array>, stats: CoalesceStats): Uint8Array[] {
    const n = frames.length;
    if (n < 2) return frames;
    let out: Uint8Array[] | undefined;
    let i = 0;
    while (i < n) {
      // A frame starts a run of at most one family: IPv4's finder passes over an IPv6 frame
      // after a byte or two of its headers.
      let family = v4;
      let j = v4.runEnd(frames, i, n);
      if (j - i < 2 && isIpv6(frames[i])) {
        family = v6 ??= familyRuns(layer, 6);
        j = v6.runEnd(frames, i, n);
      }
      if (j - i < 2) {
        if (out !== undefined) out.push(frames[i]);
        i++;
        continue;
      }
      if (out === undefined) out = frames.slice(0, i);
      out.push(family.build(frames, i, j));
      verified.add(out[out.length - 1]);
      stats.coalesced += j - i;
      stats.runs++;
      i = j;
    }
    return out ?? frames;
  };
}

/** Finding and building the runs of one IP version. */
interface FamilyRuns {
  /**
   * The end (exclusive) of the run that starts at `i`, its segments' checksums verified:
   * `i + 1` (or less than `i + 2`) when frames[i] starts none. The run's TCP header length and
   * payload total stay for `build`.
   */
  runEnd(frames: Uint8Array[], i: number, n: number): number;
  /** The one frame of frames[from..to) (the run `runEnd` found last). */
  build(frames: Uint8Array[], from: number, to: number): Uint8Array;
}

/**
 * The run logic for one layout and IP version. IPv4: no options, not a fragment; TOS and TTL
 * equal; the header checksum redone. IPv6: no extension headers; the first four bytes (version,
 * traffic class, flow label) and the hop limit equal; no header checksum; at most 65,535 bytes
 * of payload (no jumbograms).
 */
function familyRuns(layer: 'ethernet' | 'ip', version: 4 | 6): FamilyRuns {
  const v6 = version === 6;
  // The header readers are written out below with this closure's numbers (a branch on `v6`),
  // not taken from ipv4-tcp-frame.ts / ipv6-tcp-frame.ts as function values: the closures of
  // both families share their call sites' feedback, where readers of two families would make
  // each call polymorphic.
  const ETHERNET = layer === 'ethernet';
  // Offsets composed once (ipv4-tcp-frame.ts says why per-frame code reads only such numbers).
  const LINK_HEADER_LEN = layer === 'ethernet' ? ETHERNET_HEADER_LEN : 0;
  const IP_AT = LINK_HEADER_LEN;
  const IP_HEADER_LEN = v6 ? IPV6_HEADER_LEN : IPV4_MIN_HEADER_LEN;
  const TCP_AT = IP_AT + IP_HEADER_LEN;
  const MIN_TCP_HEADER_LEN = TCP_MIN_HEADER_LEN;
  const PROTOCOL_TCP = IpProtocol.TCP;
  // IPv4: TOS and TTL; IPv6: version/traffic class/flow label (bytes 0-3) and the hop limit.
  const CLASS_FROM = v6 ? IP_AT + Ipv6Offset.VER_TC_FLOW : IP_AT + Ipv4Offset.DSCP_ECN;
  const CLASS_TO = v6 ? IP_AT + Ipv6Offset.PAYLOAD_LENGTH : IP_AT + Ipv4Offset.DSCP_ECN + 1;
  const TTL_AT = v6 ? IP_AT + Ipv6Offset.HOP_LIMIT : IP_AT + Ipv4Offset.TTL;
  const IP_LENGTH_AT = v6 ? IP_AT + Ipv6Offset.PAYLOAD_LENGTH : IP_AT + Ipv4Offset.TOTAL_LENGTH;
  const IP_CHECKSUM_AT = IP_AT + Ipv4Offset.CHECKSUM;
  const IP_SRC_AT = v6 ? IP_AT + Ipv6Offset.SRC : IP_AT + Ipv4Offset.SRC;
  const IP_DST_AT = v6 ? IP_AT + Ipv6Offset.DST : IP_AT + Ipv4Offset.DST;
  const TCP_SEQ_AT = TCP_AT + TcpOffset.SEQ;
  const TCP_ACK_AT = TCP_AT + TcpOffset.ACK;
  const TCP_FLAGS_AT = TCP_AT + TcpOffset.FLAGS;
  const TCP_WINDOW_AT = TCP_AT + TcpOffset.WINDOW;
  const TCP_CHECKSUM_AT = TCP_AT + TcpOffset.CHECKSUM;
  const TCP_OPTIONS_AT = TCP_AT + TcpOffset.OPTIONS;
  const MIN_LEN = TCP_AT + TCP_MIN_HEADER_LEN;
  const ETHERTYPE_AT = EthernetOffset.TYPE;
  const ETHERTYPE = v6 ? EtherType.IPV6 : EtherType.IPV4;
  const VERSION_AT = IP_AT + Ipv4Offset.VER_IHL; // the version nibble's byte in either header
  /** IPv4: version 4 and IHL 5 (no options) in one byte; IPv6: the version nibble alone. */
  const VER_IHL_NO_OPTIONS = (IPV4_VERSION << 4) | (IPV4_MIN_HEADER_LEN >>> 2);
  const PROTOCOL_AT = v6 ? IP_AT + Ipv6Offset.NEXT_HEADER : IP_AT + Ipv4Offset.PROTOCOL;
  const FLAGS_FRAG_AT = IP_AT + Ipv4Offset.FLAGS_FRAG;
  const FRAGMENT_BITS = Ipv4FlagsFrag.MF | Ipv4FlagsFrag.OFFSET_MASK;
  const TCP_DATA_OFFSET_AT = TCP_AT + TcpOffset.DATA_OFFSET;
  /** The largest IP packet a run may become: IPv4's total length, IPv6's header and payload length. */
  const MAX_IP_LENGTH = v6 ? IPV6_HEADER_LEN + IPV6_MAX_PAYLOAD_LEN : IPV4_MAX_DATAGRAM_LEN;

  /** The pseudo-header sum of `f`'s addresses for a TCP segment of `length` bytes. */
  function pseudoSum(f: Uint8Array, length: number): number {
    return v6
      ? ipv6PseudoHeaderSum(f, IP_SRC_AT, f, IP_DST_AT, PROTOCOL_TCP, length)
      : pseudoHeaderSum(readU32(f, IP_SRC_AT), readU32(f, IP_DST_AT), PROTOCOL_TCP, length);
  }

  /**
   * A packet of this family carrying TCP right after its header, long enough for both headers
   * (after Ethernet, its EtherType too): IPv4 without options and not a fragment; IPv6 whose
   * fixed header names TCP (no extension headers).
   */
  function isPlainTcp(f: Uint8Array): boolean {
    if (f.length < MIN_LEN || f[PROTOCOL_AT] !== PROTOCOL_TCP) return false;
    if (ETHERNET && ((f[ETHERTYPE_AT] << 8) | f[ETHERTYPE_AT + 1]) !== ETHERTYPE) return false;
    if (v6) return (f[VERSION_AT] >>> 4) === IPV6_VERSION;
    return f[VERSION_AT] === VER_IHL_NO_OPTIONS && (((f[FLAGS_FRAG_AT] << 8) | f[FLAGS_FRAG_AT + 1]) & FRAGMENT_BITS) === 0;
  }

  /** The IP packet's length: IPv4's total length; IPv6's 40-byte header and its payload length. */
  function ipTotalLength(f: Uint8Array): number {
    const field = (f[IP_LENGTH_AT] << 8) | f[IP_LENGTH_AT + 1];
    return v6 ? IPV6_HEADER_LEN + field : field;
  }

  /** The TCP header length in bytes. */
  function tcpHeaderLength(f: Uint8Array): number {
    return (f[TCP_DATA_OFFSET_AT] >>> 4) << 2;
  }

  function tcpFlags(f: Uint8Array): number {
    return f[TCP_FLAGS_AT];
  }

  /** Payload length of a data segment we may coalesce (ACK, maybe PSH, nothing else), else -1. */
  function dataLength(f: Uint8Array): number {
    if (!isPlainTcp(f)) return -1;
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
  function verify(f: Uint8Array, tcpLen: number, payload: number, k: number): boolean {
    const data = onesSum(f, TCP_AT + tcpLen, payload);
    if (foldChecksum(onesSum(f, TCP_AT, tcpLen, data) + pseudoSum(f, tcpLen + payload)) !== 0) return false;
    sums[k] = data;
    return true;
  }

  /** True when `b` continues the flow of `a` (headers equal where they must be). */
  function sameFlow(a: Uint8Array, b: Uint8Array, tcpLen: number): boolean {
    for (let i = 0; i < LINK_HEADER_LEN; i++) if (a[i] !== b[i]) return false;
    for (let i = CLASS_FROM; i < CLASS_TO; i++) if (a[i] !== b[i]) return false;
    if (a[TTL_AT] !== b[TTL_AT]) return false;
    for (let i = IP_SRC_AT; i < TCP_SEQ_AT; i++) if (a[i] !== b[i]) return false; // addresses, ports
    for (let i = TCP_ACK_AT; i < TCP_FLAGS_AT; i++) if (a[i] !== b[i]) return false; // ACK, data offset
    if (a[TCP_WINDOW_AT] !== b[TCP_WINDOW_AT] || a[TCP_WINDOW_AT + 1] !== b[TCP_WINDOW_AT + 1]) return false;
    for (let i = TCP_OPTIONS_AT; i < TCP_AT + tcpLen; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  const sums: number[] = [];
  // The run runEnd found last, for build.
  let runTcpLen = 0;
  let runTotal = 0;

  /** A piece's payload sum where it lands at `at`: at an odd offset from the TCP header its bytes pair the other way (RFC 1071 2B). */
  function swapped(s: number, at: number): number {
    return (at - TCP_AT) & 1 ? ((s & 0xff) << 8) | (s >>> 8) : s;
  }

  function runEnd(frames: Uint8Array[], i: number, n: number): number {
    const first = frames[i];
    const size = dataLength(first);
    if (size <= 0 || (tcpFlags(first) & PSH) !== 0 || i + 1 >= n) return i + 1;
    const tcpLen = tcpHeaderLength(first);
    let j = i + 1;
    let total = size;
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
    if (j - i < 2) return j;
    // A segment that fails its checksum ends the run before it (the stack drops it).
    let k = i;
    total = 0;
    while (k < j) {
      const f = frames[k];
      const d = ipTotalLength(f) - IP_HEADER_LEN - tcpLen;
      if (!verify(f, tcpLen, d, k - i)) break;
      total += d;
      k++;
    }
    runTcpLen = tcpLen;
    runTotal = total;
    return k;
  }

  /**
   * True when frames from..to-1 lie one after the other in one buffer, each exactly its IP
   * packet long (a device's read batch: TapDevice cuts its frames that way).
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
  function build(frames: Uint8Array[], from: number, to: number): Uint8Array {
    const tcpLen = runTcpLen;
    const total = runTotal;
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
    // IPv4's total length counts its header, IPv6's payload length does not.
    const ipLen = (v6 ? 0 : IP_HEADER_LEN) + tcpLen + total;
    m[IP_LENGTH_AT] = ipLen >>> 8;
    m[IP_LENGTH_AT + 1] = ipLen & 0xff;
    if (!v6) {
      m[IP_CHECKSUM_AT] = 0;
      m[IP_CHECKSUM_AT + 1] = 0;
      const ipSum = foldChecksum(onesSum(m, IP_AT, IP_HEADER_LEN));
      m[IP_CHECKSUM_AT] = ipSum >>> 8;
      m[IP_CHECKSUM_AT + 1] = ipSum & 0xff;
    }
    m[TCP_CHECKSUM_AT] = 0;
    m[TCP_CHECKSUM_AT + 1] = 0;
    const c = foldChecksum(onesSum(m, TCP_AT, tcpLen, pseudoSum(m, tcpLen + total)) + payloadSum);
    m[TCP_CHECKSUM_AT] = c >>> 8;
    m[TCP_CHECKSUM_AT + 1] = c & 0xff;
    return m;
  }

  return { runEnd, build };
}
