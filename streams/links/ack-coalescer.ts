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
 * `maxSpan` bytes (default 64 KiB, one GSO super-segment): the sender still gets an ACK at least
 * that often, so its congestion window keeps growing.
 *
 * Pure logic over bytes (Ethernet + IPv4 without options + TCP, offsets in ipv4-tcp-frame.ts),
 * no I/O: the TAP link uses it.
 */
import { ETHERNET_HEADER_LEN } from '../../src/wire/ethernet.js';
import { IPV4_MIN_HEADER_LEN, Ipv4Offset } from '../../src/wire/ipv4.js';
import { TCP_MIN_HEADER_LEN, TcpOffset, TcpFlags, TcpOptionKind, TcpOptionLen } from '../../src/wire/tcp.js';
import { ipTotalLength, isPlainIpv4Tcp, readU32, tcpFlags, tcpHeaderLength } from './ipv4-tcp-frame.js';

// The frame's layout and the values looked for, composed once from the wire modules' names:
// per-frame code reads only these module-level numbers (ipv4-tcp-frame.ts says why).
const IP_AT = ETHERNET_HEADER_LEN;
const IP_HEADER_LEN = IPV4_MIN_HEADER_LEN; // no options
const TCP_AT = IP_AT + IP_HEADER_LEN;
const TCP_HEADER_LEN = TCP_MIN_HEADER_LEN; // without options
/** The flow: IPv4 source and destination addresses, then both TCP ports (4 bytes). */
const SRC_AT = IP_AT + Ipv4Offset.SRC;
const DST_AT = IP_AT + Ipv4Offset.DST;
const PORTS_AT = TCP_AT + TcpOffset.SRC_PORT;
const ACK_AT = TCP_AT + TcpOffset.ACK;
const OPTIONS_AT = TCP_AT + TcpOffset.OPTIONS;
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
  /** The flow: IPv4 source and destination addresses and TCP ports (both), as numbers. */
  src: number;
  dst: number;
  ports: number;
  ack: number;
  /** ACK number of the first ACK of this chain (span limit). */
  chainStart: number;
  /** It repeats (or is older than) the ACK before it: a duplicate ACK, never dropped. */
  duplicate: boolean;
}

const MAX_FLOWS = 16;

export class AckCoalescer {
  /** ACKs dropped because a later one superseded them. */
  coalesced = 0;
  readonly #pending: PendingAck[] = [];
  readonly #maxSpan: number;

  constructor(maxSpan = 65536) {
    this.#maxSpan = maxSpan;
  }

  /**
   * Appends `frame` to `batch`; when it supersedes a pure ACK waiting there, that entry is set
   * to `null` (the writer skips nulls).
   */
  push(batch: Array<Uint8Array | null>, frame: Uint8Array): void {
    const index = batch.length;
    batch.push(frame);
    if (!isPureAck(frame)) {
      if (this.#pending.length > 0 && carriesAck(frame)) this.#piggyback(batch, frame);
      return;
    }
    const src = readU32(frame, SRC_AT);
    const dst = readU32(frame, DST_AT);
    const ports = readU32(frame, PORTS_AT);
    const ack = readU32(frame, ACK_AT);
    const list = this.#pending;
    for (let i = 0; i < list.length; i++) {
      const p = list[i];
      if (p.src !== src || p.dst !== dst || p.ports !== ports) continue;
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
    if (list.length < MAX_FLOWS) list.push({ index, src, dst, ports, ack, chainStart: ack, duplicate: false });
  }

  /** A segment with the ACK flag (and data or FIN): it carries what a waiting pure ACK says. */
  #piggyback(batch: Array<Uint8Array | null>, frame: Uint8Array): void {
    const src = readU32(frame, SRC_AT);
    const dst = readU32(frame, DST_AT);
    const ports = readU32(frame, PORTS_AT);
    const list = this.#pending;
    for (let i = 0; i < list.length; i++) {
      const p = list[i];
      if (p.src !== src || p.dst !== dst || p.ports !== ports) continue;
      if (!p.duplicate && ((readU32(frame, ACK_AT) - p.ack) | 0) >= 0) {
        batch[p.index] = null;
        this.coalesced++;
      }
      // Either way no pure ACK of this connection waits any more.
      list[i] = list[list.length - 1];
      list.pop();
      return;
    }
  }

  /** Forgets the batch (call after writing it). */
  reset(): void {
    this.#pending.length = 0;
  }
}

/** Ethernet/IPv4 (no options, not fragmented)/TCP with ACK set and neither SYN nor RST. */
function carriesAck(f: Uint8Array): boolean {
  return isPlainIpv4Tcp(f) && (tcpFlags(f) & ACK_SYN_RST) === ACK;
}

/** Ethernet/IPv4 (no options, not fragmented)/TCP with only ACK set, no data, no SACK. */
export function isPureAck(f: Uint8Array): boolean {
  if (!isPlainIpv4Tcp(f)) return false;
  if (tcpFlags(f) !== ACK) return false; // exactly ACK
  const tcpLen = tcpHeaderLength(f);
  if (ipTotalLength(f) !== IP_HEADER_LEN + tcpLen || f.length < TCP_AT + tcpLen) return false;
  if (tcpLen === TCP_HEADER_LEN) return true;
  // Timestamps only, in the usual layout (NOP NOP TS): the later ACK's are the newer ones.
  return tcpLen === TIMESTAMPS_ONLY_HEADER_LEN && f[OPTIONS_AT] === NOP && f[OPTIONS_AT + 1] === NOP &&
    f[OPTIONS_AT + 2] === TIMESTAMPS && f[OPTIONS_AT + 3] === TIMESTAMPS_LEN;
}
