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
 * Pure logic over bytes (Ethernet + IPv4 without options + TCP), no I/O: the TAP link uses it.
 */

/** A pure ACK waiting in the batch. */
interface PendingAck {
  /** Index of the frame in the batch. */
  index: number;
  /** The flow: IPv4 source and destination (bytes 26..33) and ports (34..37), as numbers. */
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
    const src = readU32(frame, 26);
    const dst = readU32(frame, 30);
    const ports = readU32(frame, 34);
    const ack = readU32(frame, 42);
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
    const src = readU32(frame, 26);
    const dst = readU32(frame, 30);
    const ports = readU32(frame, 34);
    const list = this.#pending;
    for (let i = 0; i < list.length; i++) {
      const p = list[i];
      if (p.src !== src || p.dst !== dst || p.ports !== ports) continue;
      if (!p.duplicate && ((readU32(frame, 42) - p.ack) | 0) >= 0) {
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

function readU32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

/** Ethernet/IPv4 (no options, not fragmented)/TCP with ACK set and neither SYN nor RST. */
function carriesAck(f: Uint8Array): boolean {
  return f.length >= 54 && f[12] === 0x08 && f[13] === 0x00 && f[14] === 0x45 && f[23] === 6 &&
    (f[20] & 0x3f) === 0 && f[21] === 0 && (f[47] & 0x16) === 0x10;
}

/** Ethernet/IPv4 (no options, not fragmented)/TCP with only ACK set, no data, no SACK. */
export function isPureAck(f: Uint8Array): boolean {
  if (f.length < 54 || f[12] !== 0x08 || f[13] !== 0x00 || f[14] !== 0x45 || f[23] !== 6) return false;
  if ((f[20] & 0x3f) !== 0 || f[21] !== 0) return false; // MF or a fragment offset
  if (f[47] !== 0x10) return false; // exactly ACK
  const dataOffset = (f[46] >>> 4) * 4;
  const totalLength = (f[16] << 8) | f[17];
  if (totalLength !== 20 + dataOffset || f.length < 34 + dataOffset) return false;
  if (dataOffset === 20) return true;
  // Timestamps only, in the usual layout (NOP NOP TS): the later ACK's are the newer ones.
  return dataOffset === 32 && f[54] === 1 && f[55] === 1 && f[56] === 8 && f[57] === 10;
}
