/**
 * Bytes the user has written and the peer has not yet acknowledged: the unsent tail and the
 * retransmission queue are the same bytes, addressed by offset from the oldest unacknowledged
 * byte (the TCP core maps sequence numbers to offsets).
 *
 * A ring buffer: `write` copies the user's bytes once (the user may reuse their buffer at once),
 * `peek` hands out segments as views into the ring without copying, except for the rare segment
 * that straddles the end of the ring. Storage grows by doubling up to the capacity, so an idle
 * connection costs little memory.
 */

const INITIAL_STORAGE = 16 * 1024;

export class SendBuffer {
  /** Most bytes the buffer holds. */
  readonly capacity: number;
  private storage: Uint8Array;
  /** Index in `storage` of offset 0. */
  private head = 0;
  private used = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.storage = new Uint8Array(Math.min(capacity, INITIAL_STORAGE));
  }

  /** Bytes held (unacknowledged, sent or not). */
  get length(): number {
    return this.used;
  }

  /** Bytes that `write` would accept now. */
  get free(): number {
    return this.capacity - this.used;
  }

  /** Copies as much of `data` as fits; returns the number of bytes taken. */
  write(data: Uint8Array): number {
    const n = Math.min(data.length, this.capacity - this.used);
    if (n === 0) return 0;
    if (this.used + n > this.storage.length) this.grow(this.used + n);
    const size = this.storage.length;
    const tail = (this.head + this.used) % size;
    const first = Math.min(n, size - tail);
    this.storage.set(first === data.length ? data : data.subarray(0, first), tail);
    if (first < n) this.storage.set(data.subarray(first, n), 0);
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
    if (start >= size) start -= size;
    if (start + length <= size) return this.storage.subarray(start, start + length);
    const out = new Uint8Array(length);
    const first = size - start;
    out.set(this.storage.subarray(start, size), 0);
    out.set(this.storage.subarray(0, length - first), first);
    return out;
  }

  /** Drops the `n` oldest bytes (they were acknowledged). */
  consume(n: number): void {
    if (n <= 0) return;
    if (n > this.used) n = this.used;
    this.used -= n;
    if (this.used === 0) {
      this.head = 0; // keeps later segments contiguous more often
    } else {
      this.head += n;
      if (this.head >= this.storage.length) this.head -= this.storage.length;
    }
  }

  /** Drops everything and returns the storage to its initial size (on reset or abort). */
  clear(): void {
    this.used = 0;
    this.head = 0;
    if (this.storage.length > INITIAL_STORAGE) this.storage = new Uint8Array(INITIAL_STORAGE);
  }

  private grow(needed: number): void {
    let size = this.storage.length;
    while (size < needed) size *= 2;
    size = Math.min(size, this.capacity);
    const next = new Uint8Array(size);
    if (this.used > 0) next.set(this.peek(0, this.used), 0);
    this.storage = next;
    this.head = 0;
  }
}
