/**
 * Egress ACK coalescing for one batch of outbound frames (the frames a stack sends while it
 * processes one batch of inbound frames, written together at the end of that batch).
 *
 * A Linux receiver fed by GRO acknowledges each aggregated super-segment once, not every second
 * segment; a stack behind a TAP device sees the same burst one frame at a time and would answer
 * it with an ACK per two segments, each one a write() system call in which the kernel processes
 * the ACK. Here, a pure ACK (no data, no SYN/FIN/RST, no options but timestamps) supersedes a
 * pure ACK of the same connection still waiting in the batch when it acknowledges strictly more
 * (an ACK is cumulative: the later one says everything the earlier one said); and any later
 * segment of that connection that carries the ACK flag (data, a FIN) supersedes it when it
 * acknowledges at least as much: the ACK of a peer's FIN and our own FIN, made one after the
 * other, leave as one segment. The earlier frame is dropped; order is otherwise kept.
 *
 * Never coalesced: duplicate ACKs (same ACK number: they signal loss to the sender, RFC 5681;
 * neither dropped nor used to drop another),
 * anything carrying data or flags, ACKs with SACK blocks, and chains spanning more than
 * `maxSpan` bytes (default MAX_SPAN, 1 MiB: 16 GSO super-segments, half a receive slab's worth).
 * The ACKs of one batch reach the sender together, at the end of the batch, so an earlier one
 * tells it nothing the last one does not, except a count: a sender that grows its congestion
 * window per ACK rather than per byte acknowledged (RFC 3465 with a small L) still hears from us
 * every MAX_SPAN bytes. Linux's senders count bytes (packets) acknowledged. With 64 KiB GSO
 * segments a span of 64 KiB wrote an ACK for every second one; 1 MiB writes one per batch of up
 * to 16 (in bulk to the stack, 7,900 -> 1,430 ACKs per GB:
 * docs/history/topics.md "Bulk to the stack, session 6").
 *
 * Pure logic over bytes (Ethernet + IPv4 without options + TCP, offsets in ipv4-tcp-frame.ts;
 * or Ethernet + IPv6 without extension headers + TCP, ipv6-tcp-frame.ts: a flow is keyed by
 * its IP version, both addresses and both ports), no I/O: the TAP link uses it.
 */
import { emptyArray } from '../../src/empty-array.js';
import { ETHERNET_HEADER_LEN } from '../../src/wire/ethernet.js';
import { IPV4_MIN_HEADER_LEN, Ipv4Offset } from '../../src/wire/ipv4.js';
import { TCP_MIN_HEADER_LEN, TcpOffset, TcpFlags, TcpOptionKind, TcpOptionLen } from '../../src/wire/tcp.js';
import { IPV6_HEADER_LEN, Ipv6Offset } from '../../src/wire/ipv6.js';
import { ipTotalLength, isPlainIpv4Tcp, readU32, tcpFlags, tcpHeaderLength } from './ipv4-tcp-frame.js';
import { ETHERNET_IPV6_READER } from './ipv6-tcp-frame.js';

// The frame's layout and the values looked for, composed once from the wire modules' names:
// per-frame code reads only these module-level numbers (ipv4-tcp-frame.ts says why).
const IP_AT = ETHERNET_HEADER_LEN;
const IP_HEADER_LEN = IPV4_MIN_HEADER_LEN; // no options
const TCP_AT = IP_AT + IP_HEADER_LEN;
const TCP_HEADER_LEN = TCP_MIN_HEADER_LEN; // without options
/** The flow: IPv4 source and destination addresses, then both TCP ports (4 bytes). */
const SRC_AT = IP_AT + Ipv4Offset.SRC;
const DST_AT = IP_AT + Ipv4Offset.DST;
const PORTS_OFFSET = TcpOffset.SRC_PORT;
const ACK_OFFSET = TcpOffset.ACK;
const OPTIONS_OFFSET = TcpOffset.OPTIONS;
/** The same over IPv6 (ipv6-tcp-frame.ts): TCP after the 40-byte fixed header, 16-byte addresses. */
const V6 = ETHERNET_IPV6_READER;
const TCP6_AT = V6.tcpAt;
const SRC6_AT = V6.ipAt + Ipv6Offset.SRC;
const DST6_AT = V6.ipAt + Ipv6Offset.DST;
const IPV6_HEADER = IPV6_HEADER_LEN;
/** A pure ACK's TCP header with the timestamps option in the usual layout: NOP, NOP, timestamps. */
const TIMESTAMPS_ONLY_HEADER_LEN = TCP_HEADER_LEN + 2 /* NOP NOP */ + TcpOptionLen.TIMESTAMPS;
const NOP = TcpOptionKind.NOP;
const TIMESTAMPS = TcpOptionKind.TIMESTAMPS;
const TIMESTAMPS_LEN = TcpOptionLen.TIMESTAMPS;
const ACK = TcpFlags.ACK;
/** The bits that say "ACK, and neither SYN nor RST" when only ACK of them is set. */
const ACK_SYN_RST = TcpFlags.ACK | TcpFlags.SYN | TcpFlags.RST;

/** A pure ACK waiting in the batch. */
interface PendingAck {
  /** Index of the frame in the batch. */
  index: number;
  /**
   * The flow, as int32 words: IP version, both addresses (IPv4: `a0` source and `a1`
   * destination, the rest 0; IPv6: `a0..a3` source, `a4..a7` destination) and both TCP ports.
   */
  version: number;
  a0: number; a1: number; a2: number; a3: number; a4: number; a5: number; a6: number; a7: number;
  ports: number;
  ack: number;
  /** ACK number of the first ACK of this chain (span limit). */
  chainStart: number;
  /** It repeats (or is older than) the ACK before it: a duplicate ACK, never dropped. */
  duplicate: boolean;
}

const MAX_FLOWS = 16;
/** The longest chain of ACKs coalesced into its last one, in bytes acknowledged. */
const MAX_SPAN = 1 << 20;

export class AckCoalescer {
  /** ACKs dropped because a later one superseded them. */
  coalesced = 0;
  readonly #pending: PendingAck[] = [];
  readonly #maxSpan: number;
  // The flow key of the frame at hand (read by #readFlow): fields, not a record per frame.
  #version = 0;
  #a0 = 0; #a1 = 0; #a2 = 0; #a3 = 0; #a4 = 0; #a5 = 0; #a6 = 0; #a7 = 0;
  #ports = 0;

  constructor(maxSpan = MAX_SPAN) {
    this.#maxSpan = maxSpan;
  }

  /**
   * Appends `frame` to `batch`; when it supersedes a pure ACK waiting there, that entry is set
   * to `null` (the writer skips nulls).
   */
  push(batch: Array<Uint8Array | null>, frame: Uint8Array): void {
    const index = batch.length;
    batch.push(frame);
    let tcpAt: number;
    if (isPureAck(frame)) tcpAt = TCP_AT;
    else if (isPureAck6(frame)) tcpAt = TCP6_AT;
    else {
      if (this.#pending.length > 0) {
        if (carriesAck(frame)) this.#piggyback(batch, frame, TCP_AT);
        else if (carriesAck6(frame)) this.#piggyback(batch, frame, TCP6_AT);
      }
      return;
    }
    this.#readFlow(frame, tcpAt);
    const ack = readU32(frame, tcpAt + ACK_OFFSET);
    const list = this.#pending;
    const i = this.#find();
    if (i >= 0) {
      const p = list[i];
      const advance = (ack - p.ack) | 0; // sequence arithmetic: > 0 when ack is after p.ack
      if (advance > 0 && !p.duplicate && ((ack - p.chainStart) | 0) <= this.#maxSpan) {
        batch[p.index] = null;
        this.coalesced++;
      } else {
        p.chainStart = ack;
      }
      p.duplicate = advance <= 0;
      p.index = index;
      p.ack = ack;
      return;
    }
    if (list.length < MAX_FLOWS) {
      list.push({
        index, version: this.#version,
        a0: this.#a0, a1: this.#a1, a2: this.#a2, a3: this.#a3, a4: this.#a4, a5: this.#a5, a6: this.#a6, a7: this.#a7,
        ports: this.#ports, ack, chainStart: ack, duplicate: false,
      });
    }
  }

  /** A segment with the ACK flag (and data or FIN): it carries what a waiting pure ACK says. */
  #piggyback(batch: Array<Uint8Array | null>, frame: Uint8Array, tcpAt: number): void {
    this.#readFlow(frame, tcpAt);
    const list = this.#pending;
    const i = this.#find();
    if (i < 0) return;
    const p = list[i];
    if (!p.duplicate && ((readU32(frame, tcpAt + ACK_OFFSET) - p.ack) | 0) >= 0) {
      batch[p.index] = null;
      this.coalesced++;
    }
    // Either way no pure ACK of this connection waits any more.
    list[i] = list[list.length - 1];
    list.pop();
  }

  /** Reads the flow key of `frame` (TCP at `tcpAt`: 34 for IPv4, 54 for IPv6) into the key fields. */
  #readFlow(f: Uint8Array, tcpAt: number): void {
    this.#ports = word(f, tcpAt + PORTS_OFFSET);
    if (tcpAt === TCP_AT) {
      this.#version = 4;
      this.#a0 = word(f, SRC_AT);
      this.#a1 = word(f, DST_AT);
      this.#a2 = 0; this.#a3 = 0; this.#a4 = 0; this.#a5 = 0; this.#a6 = 0; this.#a7 = 0;
      return;
    }
    this.#version = 6;
    this.#a0 = word(f, SRC6_AT); this.#a1 = word(f, SRC6_AT + 4); this.#a2 = word(f, SRC6_AT + 8); this.#a3 = word(f, SRC6_AT + 12);
    this.#a4 = word(f, DST6_AT); this.#a5 = word(f, DST6_AT + 4); this.#a6 = word(f, DST6_AT + 8); this.#a7 = word(f, DST6_AT + 12);
  }

  /** Index in #pending of the flow in the key fields, or -1. */
  #find(): number {
    const list = this.#pending;
    for (let i = 0; i < list.length; i++) {
      const p = list[i];
      if (p.ports === this.#ports && p.a0 === this.#a0 && p.a1 === this.#a1 && p.version === this.#version &&
        p.a2 === this.#a2 && p.a3 === this.#a3 && p.a4 === this.#a4 && p.a5 === this.#a5 && p.a6 === this.#a6 && p.a7 === this.#a7) return i;
    }
    return -1;
  }

  /** Forgets the batch (call after writing it). */
  reset(): void {
    // Called after every write, mostly with nothing pending (request/response: one frame, no
    // pure ACK): `length = 0` is a call into V8's runtime even on an empty array, the test is not.
    if (this.#pending.length !== 0) emptyArray(this.#pending);
  }
}

/** Four bytes as an int32: flow keys are compared, never computed with. */
function word(b: Uint8Array, at: number): number {
  return (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];
}

/** Ethernet/IPv4 (no options, not fragmented)/TCP with ACK set and neither SYN nor RST. */
function carriesAck(f: Uint8Array): boolean {
  return isPlainIpv4Tcp(f) && (tcpFlags(f) & ACK_SYN_RST) === ACK;
}

/** Ethernet/IPv6 (no extension headers)/TCP with ACK set and neither SYN nor RST. */
function carriesAck6(f: Uint8Array): boolean {
  return V6.isPlainIpv6Tcp(f) && (V6.tcpFlags(f) & ACK_SYN_RST) === ACK;
}

/** Ethernet/IPv4 (no options, not fragmented)/TCP with only ACK set, no data, no SACK. */
export function isPureAck(f: Uint8Array): boolean {
  if (!isPlainIpv4Tcp(f)) return false;
  if (tcpFlags(f) !== ACK) return false; // exactly ACK
  const tcpLen = tcpHeaderLength(f);
  if (ipTotalLength(f) !== IP_HEADER_LEN + tcpLen || f.length < TCP_AT + tcpLen) return false;
  return plainAckOptions(f, TCP_AT, tcpLen);
}

/** The same over IPv6: Ethernet/IPv6 (no extension headers)/TCP with only ACK set, no data, no SACK. */
export function isPureAck6(f: Uint8Array): boolean {
  if (!V6.isPlainIpv6Tcp(f)) return false;
  if (V6.tcpFlags(f) !== ACK) return false;
  const tcpLen = V6.tcpHeaderLength(f);
  if (V6.ipTotalLength(f) !== IPV6_HEADER + tcpLen || f.length < TCP6_AT + tcpLen) return false;
  return plainAckOptions(f, TCP6_AT, tcpLen);
}

/** No TCP options, or timestamps only in the usual layout (NOP NOP TS): the later ACK's are the newer ones. */
function plainAckOptions(f: Uint8Array, tcpAt: number, tcpLen: number): boolean {
  if (tcpLen === TCP_HEADER_LEN) return true;
  const at = tcpAt + OPTIONS_OFFSET;
  return tcpLen === TIMESTAMPS_ONLY_HEADER_LEN && f[at] === NOP && f[at + 1] === NOP &&
    f[at + 2] === TIMESTAMPS && f[at + 3] === TIMESTAMPS_LEN;
}
