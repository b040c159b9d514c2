/**
 * Received bytes not yet read by the user, plus out-of-order segments waiting for the gap
 * before them to fill (RFC 9293 3.10.7.4 step 7: "segments with higher beginning sequence numbers
 * may be held for later processing").
 *
 * Zero-copy where it pays: a large payload is kept as the view into the received frame it came
 * in (the link never reuses frame memory) and `read` returns it as is. Small payloads are copied
 * into a shared tail block instead, so a flood of tiny segments cannot pin one frame each.
 *
 * Positions are counted in bytes since the start of the stream (a float64 integer, exact up to
 * 2^53), so the buffer never deals with sequence-number wraparound: the core translates
 * `seq - rcvNxt` into an offset from the in-order end.
 */

import { allocUnzeroed, copyBytes } from '../packet-buffer.js';
import { emptyArray } from '../empty-array.js';

/** Payloads shorter than this are copied rather than kept as views of their frame. */
const COPY_BELOW = 512;
/**
 * Sizes of the blocks small payloads are copied into: the first is TAIL_FIRST (no smaller than
 * COPY_BELOW), each next one twice the last, up to TAIL_BLOCK. A connection that receives a few
 * bytes (a request, a reply) takes 512 bytes of the packet slab rather than 4 KiB.
 */
const TAIL_FIRST = COPY_BELOW;
const TAIL_BLOCK = 4096;

interface Piece {
  /** Stream position of data[0]. */
  start: number;
  data: Uint8Array;
}

const NO_PIECES: Piece[] = [];

const NO_BYTES = new Uint8Array(0);

/**
 * An empty list with room for two chunks: a connection's first pushes fit it (a short one holds
 * one or two chunks at a time), where an empty `[]` grew to 17 slots (about 150 bytes) at its
 * first push. Pops leave a short array's storage in place (empty-array.ts).
 */
function chunkList(): Uint8Array[] {
  const list = [NO_BYTES, NO_BYTES];
  list.pop();
  list.pop();
  return list;
}

export class ReceiveBuffer {
  /** Bytes of in-order data the buffer holds before the window closes (raised by `grow`). */
  capacity: number;
  /** Most out-of-order pieces held at once. */
  maxOutOfOrder: number;

  private chunks: Uint8Array[] = chunkList();
  /** Index of the first unread chunk in `chunks` (a cheap queue without shift()). */
  private first = 0;
  private unread = 0;
  /** Stream position just after the last in-order byte. */
  private end = 0;
  /**
   * Out-of-order pieces, sorted and not overlapping. NO_PIECES (shared, never written) until the
   * first one arrives: most connections never see a hole.
   */
  private ooo: Piece[] = NO_PIECES;
  private oooBytes = 0;

  private tail: Uint8Array | undefined;
  private tailUsed = 0;
  /** True while the last chunk is a view of `tail` ending at `tailUsed` (so it can grow). */
  private tailOpen = false;
  /**
   * True while the first unread chunk is a small payload lent as the view of its frame (see
   * `append`'s `lend`), not yet copied: `settle` copies it if it is still unread.
   */
  private lent = false;

  constructor(capacity: number, maxOutOfOrder: number) {
    this.capacity = capacity;
    this.maxOutOfOrder = maxOutOfOrder;
  }

  /** In-order bytes waiting to be read. */
  get readable(): number {
    return this.unread;
  }

  /** Room left for in-order data (the largest window we could advertise now). */
  get free(): number {
    return Math.max(0, this.capacity - this.unread);
  }

  /** Whether a block for small payloads is held (memory accounting: it is let go when drained). */
  get holdsTailBlock(): boolean {
    return this.tail !== undefined;
  }

  /** Out-of-order pieces held. */
  get outOfOrderCount(): number {
    return this.ooo.length;
  }

  /** Bytes held out of order. */
  get outOfOrderBytes(): number {
    return this.oooBytes;
  }

  /** Stream position just after the last in-order byte (where RCV.NXT points). */
  get inOrderEnd(): number {
    return this.end;
  }

  /**
   * The run of contiguous out-of-order bytes that contains stream position `pos` (pieces that
   * touch count as one run, as a SACK block must cover them), written to `out` as [start, end).
   * False when `pos` is not held out of order. Walks the pieces: call it only while some are held.
   */
  outOfOrderRunAt(pos: number, out: { start: number; end: number }): boolean {
    const pieces = this.ooo;
    let i = 0;
    while (i < pieces.length && pieces[i].start + pieces[i].data.length <= pos) i++;
    if (i === pieces.length || pieces[i].start > pos) return false;
    let lo = i;
    while (lo > 0 && pieces[lo - 1].start + pieces[lo - 1].data.length === pieces[lo].start) lo--;
    let hi = i;
    while (hi + 1 < pieces.length && pieces[hi].start + pieces[hi].data.length === pieces[hi + 1].start) hi++;
    out.start = pieces[lo].start;
    out.end = pieces[hi].start + pieces[hi].data.length;
    return true;
  }

  /** Whether every byte of [offset, offset + length) after the in-order end is already held. */
  holdsOutOfOrder(offset: number, length: number): boolean {
    let pos = this.end + offset;
    const stop = pos + length;
    for (const piece of this.ooo) {
      if (piece.start > pos) return false;
      const end = piece.start + piece.data.length;
      if (end > pos) pos = end;
      if (pos >= stop) return true;
    }
    return pos >= stop;
  }

  /**
   * Appends in-order data (the bytes at the in-order end), then any out-of-order pieces that
   * have become contiguous. Returns how far the in-order end advanced (>= data.length).
   *
   * `lend`: a small payload arriving into an empty buffer is held as the view it came in, not
   * copied into the block for small payloads, on the caller's promise to call `settle` before
   * it returns: a reader that takes it within the call (and keeps no view of it) spares the
   * copy; one that does not gets a copy then. So a frame is never held past the call for a few
   * bytes (a flood of tiny segments still cannot pin one frame each).
   */
  append(data: Uint8Array, lend = false): number {
    const before = this.end;
    if (lend && this.unread === 0 && data.length > 0 && data.length < COPY_BELOW) {
      this.chunks.push(data);
      this.lent = true;
      this.tailOpen = false;
      this.unread = data.length;
      this.end += data.length;
    } else {
      this.pushInOrder(data);
    }
    while (this.ooo.length > 0 && this.ooo[0].start <= this.end) {
      const piece = this.ooo.shift() as Piece;
      this.oooBytes -= piece.data.length;
      const skip = this.end - piece.start;
      if (skip < piece.data.length) this.pushInOrder(skip === 0 ? piece.data : piece.data.subarray(skip));
    }
    return this.end - before;
  }

  /**
   * Holds `data`, which starts `offset` (> 0) bytes after the in-order end. Bytes already held
   * are kept and only the new parts are stored. Returns false (and stores nothing) when that
   * would exceed `maxOutOfOrder` pieces.
   */
  insertOutOfOrder(offset: number, data: Uint8Array): boolean {
    if (data.length === 0) return true;
    const start = this.end + offset;
    const stop = start + data.length;
    // The common case after a hole: each segment lands right after the last piece held.
    const last = this.ooo.length > 0 ? this.ooo[this.ooo.length - 1] : undefined;
    if (last !== undefined && start >= last.start + last.data.length) {
      if (this.ooo.length + 1 > this.maxOutOfOrder) return false;
      const piece = { start, data: data.length < COPY_BELOW ? data.slice() : data };
      this.oooBytes += piece.data.length;
      this.ooo.push(piece);
      return true;
    }
    // Find the new parts: walk the sorted, non-overlapping pieces that intersect [start, stop).
    let i = 0;
    while (i < this.ooo.length && this.ooo[i].start + this.ooo[i].data.length <= start) i++;
    const additions: Piece[] = [];
    const insertAt: number[] = [];
    let cursor = start;
    let j = i;
    for (; j < this.ooo.length && this.ooo[j].start < stop; j++) {
      const piece = this.ooo[j];
      if (piece.start > cursor) {
        additions.push({ start: cursor, data: data.subarray(cursor - start, piece.start - start) });
        insertAt.push(j);
      }
      cursor = Math.max(cursor, piece.start + piece.data.length);
    }
    if (cursor < stop) {
      additions.push({ start: cursor, data: data.subarray(cursor - start) });
      insertAt.push(j);
    }
    if (additions.length === 0) return true; // a duplicate of what we hold
    if (this.ooo.length + additions.length > this.maxOutOfOrder) return false;
    if (this.ooo === NO_PIECES) this.ooo = [];
    // Insert from the back so earlier indices stay valid.
    for (let k = additions.length - 1; k >= 0; k--) {
      const piece = additions[k];
      if (piece.data.length < COPY_BELOW) piece.data = piece.data.slice();
      this.oooBytes += piece.data.length;
      this.ooo.splice(insertAt[k], 0, piece);
    }
    return true;
  }

  /**
   * Takes up to `max` in-order bytes: at most one contiguous chunk, without copying. Call again
   * for more. Undefined when nothing is readable.
   */
  read(max = Number.POSITIVE_INFINITY): Uint8Array | undefined {
    if (this.unread === 0 || max <= 0) return undefined;
    const chunk = this.chunks[this.first];
    let out: Uint8Array;
    if (chunk.length <= max) {
      out = chunk;
      this.lent = false;
      this.first++;
      if (this.first === this.chunks.length) {
        // The list keeps its (small) storage: a drained buffer is the rule on request/response.
        emptyArray(this.chunks);
        this.first = 0;
        // Drained: hold no bytes for an idle connection (the reader keeps what it took).
        this.tail = undefined;
        this.tailUsed = 0;
        this.tailOpen = false;
      } else if (this.first >= 64 && this.first * 2 >= this.chunks.length) {
        this.chunks.splice(0, this.first);
        this.first = 0;
      }
    } else {
      out = chunk.subarray(0, max);
      this.chunks[this.first] = chunk.subarray(max);
    }
    this.unread -= out.length;
    return out;
  }

  /**
   * Raises the capacity (receive auto-tuning) and the out-of-order piece limit with it. Never
   * lowers either: a window already advertised must stay receivable.
   */
  grow(capacity: number, maxOutOfOrder: number): void {
    if (capacity > this.capacity) this.capacity = capacity;
    if (maxOutOfOrder > this.maxOutOfOrder) this.maxOutOfOrder = maxOutOfOrder;
  }

  /** Bytes the user has read so far (the stream position of the next unread byte). */
  get consumed(): number {
    return this.end - this.unread;
  }

  /** A payload lent by `append` and still unread is copied now (the frame it came in is let go). */
  settle(): void {
    if (!this.lent) return;
    this.lent = false;
    const last = this.chunks.length - 1;
    this.chunks[this.first] = this.copyToTail(this.chunks[this.first]);
    // The copy ends the block's used part: it may grow only if it is also the last chunk.
    this.tailOpen = this.first === last;
  }

  /** Discards everything (on reset or abort). */
  clear(): void {
    this.lent = false;
    this.chunks.length = 0;
    this.first = 0;
    this.unread = 0;
    this.ooo = NO_PIECES;
    this.oooBytes = 0;
    this.tail = undefined;
    this.tailUsed = 0;
    this.tailOpen = false;
  }

  private pushInOrder(data: Uint8Array): void {
    const n = data.length;
    if (n === 0) return;
    if (n < COPY_BELOW) {
      this.reserveTail(n);
      const tail = this.tail as Uint8Array;
      copyBytes(tail, data, this.tailUsed);
      const last = this.chunks.length - 1;
      if (this.tailOpen && last >= this.first) {
        const grown = this.chunks[last].length + n;
        this.chunks[last] = tail.subarray(this.tailUsed + n - grown, this.tailUsed + n);
      } else {
        this.chunks.push(tail.subarray(this.tailUsed, this.tailUsed + n));
        this.tailOpen = true;
      }
      this.tailUsed += n;
    } else {
      this.chunks.push(data);
      this.tailOpen = false;
    }
    this.unread += n;
    this.end += n;
  }

  /** Room for `n` (< COPY_BELOW) bytes in the block for small payloads: a new block when short. */
  private reserveTail(n: number): void {
    if (this.tail !== undefined && this.tail.length - this.tailUsed >= n) return;
    // A slab view: cheap to take and let go (packet-buffer.ts); not zeroed, since the chunks
    // handed out are views of bytes copied in here.
    this.tail = allocUnzeroed(this.tail === undefined ? TAIL_FIRST : Math.min(this.tail.length * 2, TAIL_BLOCK));
    this.tailUsed = 0;
    this.tailOpen = false;
  }

  /** `data` (< COPY_BELOW bytes) copied into the block for small payloads, as a chunk of its own. */
  private copyToTail(data: Uint8Array): Uint8Array {
    const n = data.length;
    this.reserveTail(n);
    const tail = this.tail as Uint8Array;
    copyBytes(tail, data, this.tailUsed);
    const out = tail.subarray(this.tailUsed, this.tailUsed + n);
    this.tailUsed += n;
    return out;
  }
}
