/**
 * Bytes the user has written and the peer has not yet acknowledged: the unsent tail and the
 * retransmission queue are the same bytes, addressed by offset from the oldest unacknowledged
 * byte (the TCP core maps sequence numbers to offsets).
 *
 * A ring buffer: `write` copies the user's bytes once (the user may reuse their buffer at once),
 * `peek` hands out segments as views into the ring without copying, except for the rare segment
 * that straddles the end of the ring. Storage is allocated when needed, grows by doubling up to
 * the capacity and is let go once everything is acknowledged (at the end of the call into the
 * core that saw the ACK, see `consume`'s `hold`), so an idle connection holds no buffer memory. Large storage an emptied buffer lets go waits in a small pool shared by all
 * buffers (`spares`) for the next one that grows, but only from a later time of the stack's clock
 * (a later task) on: views of it handed out earlier (a segment queued for the link in this task)
 * stay valid until written.
 */

import { allocUnzeroed, copyBytes } from '../packet-buffer.js';
import { bufferOf, byteOffsetOf, setBytes } from '../byte-view.js';

/**
 * Smallest storage: a request/response connection takes and lets go of it on every exchange,
 * so it is sized for small writes (larger ones grow it in one step): 4 KiB for every 1-byte
 * write used the packet slab up eight times faster, and slabs cost a garbage-collected
 * ArrayBuffer each.
 */
const MIN_STORAGE = 512;
const NONE = new Uint8Array(0);
const NONE_BUFFER = NONE.buffer;
/** Up to this size storage comes from a shared slab (allocUnzeroed's own limit) and is not kept as a spare. */
const SMALL_STORAGE = 4096;

/**
 * Storage let go by emptied buffers, for the next that grows. A bulk transfer whose bytes are all
 * acknowledged before the next write would otherwise allocate its whole storage again for every
 * write (up to a few hundred KiB: malloc, and external memory that makes V8 collect the old
 * generation more often). Bounded in bytes; not counted by any connection.
 */
interface Spare {
  readonly bytes: Uint8Array;
  /** The stack's clock when it was let go: handed out only at a later time. */
  readonly at: number;
}
const spares: Spare[] = [];
let spareBytes = 0;
const MAX_SPARE_BYTES = 4 << 20;

/** A spare of exactly `size` bytes let go before `now`, taken out of the pool; else undefined. */
function takeSpare(size: number, now: number): Uint8Array | undefined {
  for (let i = spares.length - 1; i >= 0; i--) {
    const spare = spares[i];
    if (spare.bytes.length !== size || !(spare.at < now)) continue;
    spares[i] = spares[spares.length - 1];
    spares.pop();
    spareBytes -= size;
    return spare.bytes;
  }
  return undefined;
}

/** Empties the pool (tests: each starts from no spares, whatever ran before). @internal */
export function dropSendBufferSpares(): void {
  spares.length = 0;
  spareBytes = 0;
}

function keepSpare(bytes: Uint8Array, now: number): void {
  if (Number.isNaN(now) || spareBytes + bytes.length > MAX_SPARE_BYTES) return;
  spares.push({ bytes, at: now });
  spareBytes += bytes.length;
}

export class SendBuffer {
  /** Most bytes the buffer holds (raised by `grow`, send auto-tuning). */
  capacity: number;
  private storage: Uint8Array;
  /**
   * `storage`'s ArrayBuffer and offset in it, kept beside it: `peek` makes its view with the
   * constructor from these (about half the cost of `subarray`, which looks up the species
   * constructor and reads `.buffer` on every call); a segment's payload is one such view.
   */
  private storageBuffer: ArrayBufferLike;
  private storageOffset = 0;
  /** Index in `storage` of offset 0. */
  private head = 0;
  private used = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.storage = NONE;
    this.storageBuffer = NONE_BUFFER;
  }

  /** Bytes held (unacknowledged, sent or not). */
  get length(): number {
    return this.used;
  }

  /** Bytes of storage currently allocated (memory accounting). */
  get allocated(): number {
    return this.storage.length;
  }

  /** Bytes that `write` would accept now. */
  get free(): number {
    return this.capacity - this.used;
  }

  /**
   * Raises the capacity (never lowers it). Storage is not touched: it grows on the next write
   * that needs it.
   */
  growCapacity(capacity: number): void {
    // Whole bytes only: a fractional capacity would make `free`, and so the byte counts of every
    // later write, fractional (and the ring's indices with them).
    capacity = Math.floor(capacity);
    if (capacity > this.capacity) this.capacity = capacity;
  }

  /**
   * Copies as much of `data` as fits; returns the number of bytes taken. `now`: the stack's
   * clock (storage may come from the spares let go before it).
   */
  write(data: Uint8Array, now = NaN): number {
    const n = Math.min(data.length, this.capacity - this.used);
    if (n === 0) return 0;
    if (this.used + n > this.storage.length) this.grow(this.used + n, now);
    const size = this.storage.length;
    const tail = (this.head + this.used) % size;
    const first = Math.min(n, size - tail);
    copyBytes(this.storage, first === data.length ? data : data.subarray(0, first), tail);
    if (first < n) setBytes(this.storage, data.subarray(first, n), 0);
    this.used += n;
    return n;
  }

  /**
   * `length` bytes starting `offset` bytes after the oldest held byte. A view into the ring
   * (valid until those bytes are consumed and the space reused by a later write) unless the
   * range wraps around the ring's end, in which case it is a fresh copy.
   * Requires offset + length <= this.length.
   */
  peek(offset: number, length: number): Uint8Array {
    const size = this.storage.length;
    let start = this.head + offset;
    if (start >= size && size > 0) start -= size;
    if (start + length <= size) return new Uint8Array(this.storageBuffer, this.storageOffset + start, length);
    const out = new Uint8Array(length);
    const first = size - start;
    out.set(this.storage.subarray(start, size), 0);
    out.set(this.storage.subarray(0, length - first), first);
    return out;
  }

  /**
   * How many of the `length` bytes at `offset` lie before the ring's end: all of them when the
   * range does not wrap (`peek` then gives a view), else those up to the end (at least one).
   * Requires offset + length <= this.length.
   */
  contiguous(offset: number, length: number): number {
    const size = this.storage.length;
    let start = this.head + offset;
    if (start >= size && size > 0) start -= size;
    return start + length <= size ? length : size - start;
  }

  /**
   * Drops the `n` oldest bytes (they were acknowledged). `now`: the stack's clock; large storage
   * this empties goes to the spares, for other buffers at a later time.
   *
   * `hold`: storage this empties is kept until `releaseIfEmpty` (the caller's promise to call it
   * before it returns). A request/response connection's ACK empties the buffer just before the
   * reply is written in the same call into the core (the request riding on the ACK is read and
   * answered inside it): without this, the reply took the storage again that the ACK had just
   * let go, once per transaction.
   */
  consume(n: number, now = NaN, hold = false): void {
    if (n <= 0) return;
    if (n > this.used) n = this.used;
    this.used -= n;
    if (this.used === 0) {
      this.head = 0;
      if (!hold) this.releaseIfEmpty(now);
    } else {
      this.head += n;
      if (this.head >= this.storage.length) this.head -= this.storage.length;
    }
  }

  /**
   * Lets go of the storage when nothing is held (an idle connection holds no buffer memory);
   * large storage goes to the spares, for other buffers at a later time of `now`.
   */
  releaseIfEmpty(now = NaN): void {
    if (this.used !== 0 || this.storage === NONE) return;
    if (this.storage.length > SMALL_STORAGE) keepSpare(this.storage, now);
    this.setStorage(NONE);
  }

  /** Drops everything and returns the storage to its initial size (on reset or abort). */
  clear(): void {
    this.used = 0;
    this.head = 0;
    this.setStorage(NONE);
  }

  private setStorage(storage: Uint8Array): void {
    this.storage = storage;
    this.storageBuffer = bufferOf(storage);
    this.storageOffset = byteOffsetOf(storage);
  }

  private grow(needed: number, now: number): void {
    let size = Math.max(this.storage.length, MIN_STORAGE);
    while (size < needed) size *= 2;
    size = Math.min(size, this.capacity);
    // Small storage from a shared slab: a connection doing request/response takes and lets go
    // of it on every exchange, and a typed array of its own costs ~1 us in V8. None of it is
    // zeroed: `peek` only reads bytes `write` put there.
    const next = (size > SMALL_STORAGE ? takeSpare(size, now) : undefined) ?? allocUnzeroed(size);
    if (this.used > 0) setBytes(next, this.peek(0, this.used), 0);
    this.setStorage(next);
    this.head = 0;
  }
}
