/**
 * An outbound packet under construction, with room in front for headers.
 *
 * Like Linux's sk_buff or netstack's Prependable: the transport writes its payload and header,
 * and each layer below prepends its own header into the headroom. One allocation per packet,
 * no concatenation. `bytes()` is a view (no copy) of what has been written so far.
 */

import { foldChecksum, onesSum } from './wire/checksum.js';
import { bufferOf, byteOffsetOf, setBytes } from './byte-view.js';

/** Ethernet (14, or 18 with an 802.1Q tag) + IPv4 with options (60) + TCP with options (60). */
export const MAX_HEADROOM = 18 + 60 + 60;

/**
 * Buffers up to this size are carved out of a shared slab. V8 gives a typed array of more than
 * 64 bytes a backing store of its own (calloc plus ArrayBuffer bookkeeping and a finalizer for
 * the GC): about 0.8 us for a 138-byte ACK on the machines we measure, against about 0.05 us for
 * a view into an existing ArrayBuffer. Larger packets are rare enough to get their own store.
 */
const SLAB_MAX_PACKET = 4096;
/**
 * Slab size: 16 full-sized frames. A packet someone keeps (a frame queued on a link, a payload
 * kept as a view by a receiver on the memory wire) keeps its whole slab alive, so slabs stay
 * small; a slab is never reused, only dropped when every packet in it is unreachable.
 */
const SLAB_SIZE = 32 * 1024;

let slab = new ArrayBuffer(SLAB_SIZE);
let slabUsed = 0;

/**
 * `size` zeroed bytes, cheaply: up to 4 KiB a view into the current slab (a fresh slab is
 * zero-filled and never reused), beyond that a typed array of its own. For short-lived
 * buffers on hot paths (packets, small per-connection blocks): use the view, never its
 * `.buffer` as a whole.
 */
export function allocBytes(size: number): Uint8Array {
  if (size > SLAB_MAX_PACKET) return new Uint8Array(size);
  if (slabUsed + size > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabUsed = 0;
  }
  const bytes = new Uint8Array(slab, slabUsed, size);
  // 8-byte alignment keeps 32-bit word access (the checksum's fast path) aligned.
  slabUsed += (size + 7) & ~7;
  return bytes;
}

/** Up to this many bytes `copyBytes` copies one by one. */
const COPY_LOOP_MAX = 16;

/**
 * `src` copied into `dst` at `at`, as `dst.set(src, at)`: a few bytes (a request's, a reply's)
 * one by one, for which `set` (a builtin call with its checks, 12-15 ns for one byte against
 * about 4 for the loop) cost more than the copy; more with `set`.
 */
export function copyBytes(dst: Uint8Array, src: Uint8Array, at: number): void {
  const n = src.length;
  if (n > COPY_LOOP_MAX) {
    setBytes(dst, src, at);
    return;
  }
  for (let i = 0; i < n; i++) dst[at + i] = src[i];
}

/** Node's allocator of memory it does not zero, where there is one (the core runs without Node too). */
const unzeroedAlloc = (globalThis as { Buffer?: { allocUnsafeSlow?(size: number): Uint8Array } }).Buffer?.allocUnsafeSlow;

/**
 * `size` bytes of fresh memory, NOT zeroed: only for storage every byte of which is written
 * before it is read or sent (a ring buffer whose reads stay within what was written, the target
 * of a copy that fills it). A new ArrayBuffer is zero-filled by V8 (calloc, then the pages
 * touched), which for the send buffer's megabytes was work thrown away; Node's allocUnsafeSlow
 * skips it. A plain Uint8Array over its own ArrayBuffer, like `new Uint8Array(size)` (never a
 * Buffer: hot paths see one kind of array). Packet memory whose bytes may go out unwritten
 * (padding, reserved fields, headroom a header does not fill) comes from `allocBytes`, zeroed.
 */
export function allocUninitialized(size: number): Uint8Array {
  if (unzeroedAlloc === undefined || size === 0) return new Uint8Array(size);
  const b = unzeroedAlloc(size);
  return new Uint8Array(bufferOf(b), byteOffsetOf(b), size);
}

/**
 * Packets whose payload is copied in as soon as they are made (`PacketBuffer.withPayload`) come
 * from slabs of their own that are NOT zero-filled when made: the payload bytes are written at
 * once, and only the headroom in front is zeroed (`fill`), so the packet's bytes are exactly
 * those of a zeroed buffer with the payload copied in. A zero-filled 32 KiB ArrayBuffer costs
 * about three times an unfilled one (calloc, and the pages touched twice); a bulk sender without
 * offload makes one for every 20 full-sized segments, and that was 3 % of its time.
 */
let payloadSlab: ArrayBuffer | undefined;
let payloadSlabBase = 0;
let payloadSlabUsed = 0;
/** The default headroom's zeros, copied in with `set` (a `fill` with a range costs more: a runtime call). */
const ZERO_HEADROOM = new Uint8Array(MAX_HEADROOM);

function allocForPayload(headroom: number, payloadLength: number, zeroHeadroom = true): Uint8Array {
  const size = headroom + payloadLength;
  if (size > SLAB_MAX_PACKET || unzeroedAlloc === undefined) return allocBytes(size);
  if (payloadSlab === undefined || payloadSlabUsed + size > SLAB_SIZE) {
    const s = allocUninitialized(SLAB_SIZE);
    payloadSlab = bufferOf(s) as ArrayBuffer;
    payloadSlabBase = byteOffsetOf(s);
    payloadSlabUsed = 0;
  }
  const bytes = new Uint8Array(payloadSlab, payloadSlabBase + payloadSlabUsed, size);
  // Not when the caller's headers will fill the headroom (PacketBuffer.withPayloadInFull).
  if (zeroHeadroom) {
    if (headroom === MAX_HEADROOM) setBytes(bytes, ZERO_HEADROOM);
    else if (headroom > 0) bytes.fill(0, 0, headroom);
  }
  payloadSlabUsed += (size + 7) & ~7;
  return bytes;
}

/**
 * `size` bytes NOT zeroed, cheaply: `allocUninitialized`'s rule (only for storage every byte of
 * which is written before it is read or sent) at `allocBytes`' price. Up to 4 KiB a view into
 * the unzeroed payload slab, beyond that a typed array of its own. For the TCP buffers' small
 * blocks, which a request/response connection takes on every exchange: from the zeroed slab,
 * a 32 KiB calloc (a memset of fresh pages) every 64 exchanges was 2 % of serve's user time
 * under TCP_RR.
 */
export function allocUnzeroed(size: number): Uint8Array {
  return size > SLAB_MAX_PACKET ? allocUninitialized(size) : allocForPayload(0, size);
}

/**
 * Large TCP segments (TSO, `gsoSize`) are carved out of slabs of their own, 1 MiB each: a 64 KiB
 * typed array with a backing store of its own per segment (calloc, ArrayBuffer bookkeeping, a
 * finalizer) was a fifth of the sender's time and fed most of its garbage collection. Only
 * for packets that leave at once (written to a device that copies them, or cut in software):
 * anything that keeps one keeps its whole slab alive.
 */
const LARGE_SLAB_SIZE = 1024 * 1024;
let largeSlab: ArrayBuffer | undefined;
let largeSlabUsed = 0;

function allocLargeBytes(size: number): Uint8Array {
  if (size > LARGE_SLAB_SIZE >>> 2) return new Uint8Array(size);
  if (largeSlab === undefined || largeSlabUsed + size > LARGE_SLAB_SIZE) {
    largeSlab = new ArrayBuffer(LARGE_SLAB_SIZE);
    largeSlabUsed = 0;
  }
  const bytes = new Uint8Array(largeSlab, largeSlabUsed, size);
  largeSlabUsed += (size + 7) & ~7;
  return bytes;
}

export class PacketBuffer {
  /** Offset of the first byte written so far (moves down on prepend). */
  head: number;
  /** Offset one past the last byte of the packet. */
  end: number;
  /**
   * A transport checksum left partial (Linux's CHECKSUM_PARTIAL): -1 when none. Otherwise the
   * offset in `buf` where the checksummed bytes start (the transport header); the checksum field
   * at `csumStart + csumOffset` holds only the pseudo-header sum. Whoever hands the packet to
   * something that cannot finish it (a link without checksum offload, a fragmenter, a hook)
   * calls `completeChecksum()` first.
   */
  csumStart = -1;
  csumOffset = 0;
  /**
   * TCP segmentation (TSO): 0 for an ordinary packet. Otherwise the packet is one TCP segment
   * carrying several segments' worth of payload, to be cut into segments of `gsoSize` payload
   * bytes on the way out: by the link's device (a TAP with offload, through a virtio_net_hdr of
   * type TCPV4) or, where the path cannot, by the software segmenter (src/wire/tcp-segmenter.ts).
   */
  gsoSize = 0;

  /**
   * Payload gathered behind the written bytes instead of copied into `buf` (undefined: none):
   * a view of memory someone else owns (the TCP send buffer), valid only while the packet is
   * being sent, synchronously. The packet is then `buf[head..end)` followed by `tail`. Only a
   * large TCP segment (TSO) bound for a link that gathers (`sendGathered`) has one; whoever
   * needs the packet contiguous, or keeps it beyond the call, gets it contiguous from `bytes()`
   * or `own()` (the one copy, made only there).
   */
  tail: Uint8Array | undefined = undefined;

  constructor(
    /**
     * The whole backing store. Bytes before `head` are free headroom, the packet's own: the
     * layers below may write into what their headers leave of it (a TAP link's virtio_net_hdr,
     * Link.sendInRoom). Replaced by `own()`.
     */
    public buf: Uint8Array,
    head: number,
    end: number,
  ) {
    this.head = head;
    this.end = end;
  }

  /**
   * A buffer with `headroom` free bytes in front of a `payloadLength`-byte payload area, all
   * zero. `buf` has exactly that length, but small buffers share their ArrayBuffer with other
   * packets (see SLAB_MAX_PACKET): use `buf`, never `buf.buffer` as a whole.
   */
  static alloc(payloadLength: number, headroom: number = MAX_HEADROOM): PacketBuffer {
    return new PacketBuffer(allocBytes(headroom + payloadLength), headroom, headroom + payloadLength);
  }

  /**
   * Like `alloc`, for a large TCP segment (TSO) that leaves at once: carved out of a shared
   * 1 MiB slab (see LARGE_SLAB_SIZE), so whoever keeps it keeps the slab alive.
   */
  static allocLarge(payloadLength: number, headroom: number = MAX_HEADROOM): PacketBuffer {
    return new PacketBuffer(allocLargeBytes(headroom + payloadLength), headroom, headroom + payloadLength);
  }

  /** A buffer whose payload is a copy of `payload`, with headroom in front of it. */
  static withPayload(payload: Uint8Array, headroom: number = MAX_HEADROOM): PacketBuffer {
    const n = payload.length;
    const p = new PacketBuffer(allocForPayload(headroom, n), headroom, headroom + n);
    // Every byte from `headroom` on is written here (allocForPayload zeroed only the headroom).
    copyBytes(p.buf, payload, headroom);
    return p;
  }

  /**
   * Like `withPayload`, for a packet whose headers will take exactly `headroom` bytes, each
   * header writing every byte of its own (the stack's UDP, IPv4 and Ethernet headers do): the
   * headroom is not zeroed (it is all overwritten before the packet leaves; until then its bytes
   * are whatever the slab held), and the finished packet fills `buf` (`bytes()` is `buf`).
   */
  static withPayloadInFull(payload: Uint8Array, headroom: number): PacketBuffer {
    const n = payload.length;
    const p = new PacketBuffer(allocForPayload(headroom, n, false), headroom, headroom + n);
    copyBytes(p.buf, payload, headroom);
    return p;
  }

  /** Bytes of the packet so far (the gathered `tail` included). */
  get length(): number {
    const tail = this.tail;
    return this.end - this.head + (tail === undefined ? 0 : tail.length);
  }

  /** Free bytes left in front. */
  get headroom(): number {
    return this.head;
  }

  /**
   * Claims `n` bytes in front of what is written and returns their offset in `buf`. A packet
   * made with less headroom than that (the exact room of the usual headers, under a layer with
   * a longer header) is moved first into a new buffer with room to spare: offsets into the old
   * `buf` (not `head` or `csumStart`, which move with it) are then stale.
   */
  prepend(n: number): number {
    if (n > this.head) growHeadroom(this, n);
    this.head -= n;
    return this.head;
  }

  /**
   * View of the packet as written so far: no copy, except for a packet with a gathered `tail`,
   * which is made contiguous first (`own()`).
   */
  bytes(): Uint8Array {
    if (this.tail !== undefined) this.own();
    const buf = this.buf;
    // A packet made with exactly the headroom its headers took fills its buffer: no view to make.
    if (this.head === 0 && this.end === buf.length) return buf;
    return buf.subarray(this.head, this.end);
  }

  /**
   * Makes the packet contiguous and its own: a gathered `tail` is copied behind the written
   * bytes into a new store (same offsets: headroom, `head` and `csumStart` stay valid). For
   * whoever keeps the packet beyond the send (a packet waiting for address resolution, an
   * observer) or needs it in one piece. Nothing to do without a tail.
   */
  own(): void {
    const tail = this.tail;
    if (tail === undefined) return;
    const end = this.end;
    const size = end + tail.length;
    // Not zeroed when large: every byte from `head` on is written here, and the headroom in
    // front is only ever written (prepend) before it is sent.
    const next = size > SLAB_MAX_PACKET ? allocUninitialized(size) : allocBytes(size);
    next.set(this.buf.subarray(this.head, end), this.head);
    next.set(tail, end);
    this.buf = next;
    this.end = size;
    this.tail = undefined;
  }

  /** Finishes a partial checksum (see `csumStart`); nothing to do when there is none. */
  completeChecksum(): void {
    const start = this.csumStart;
    if (start < 0) return;
    // The written part's sum carries on into the tail's only at an even length (16-bit words).
    if (this.tail !== undefined && ((this.end - start) & 1) !== 0) this.own();
    this.csumStart = -1;
    const at = start + this.csumOffset;
    const tail = this.tail;
    const head = onesSum(this.buf, start, this.end - start);
    const c = foldChecksum(tail === undefined ? head : onesSum(tail, 0, tail.length, head));
    this.buf[at] = c >>> 8;
    this.buf[at + 1] = c & 0xff;
  }
}

/**
 * Rare: `pb` needs `n` bytes in front and has fewer. Its bytes move into a new zeroed buffer
 * with `n` bytes of room and MAX_HEADROOM more besides; `head`, `end` and `csumStart` move with
 * them.
 */
function growHeadroom(pb: PacketBuffer, n: number): void {
  const extra = n - pb.head + MAX_HEADROOM;
  const buf = new Uint8Array(pb.buf.length + extra);
  buf.set(pb.buf.subarray(pb.head, pb.end), pb.head + extra);
  pb.buf = buf;
  pb.head += extra;
  pb.end += extra;
  if (pb.csumStart >= 0) pb.csumStart += extra;
}
