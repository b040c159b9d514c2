/**
 * An outbound packet under construction, with room in front for headers.
 *
 * Like Linux's sk_buff or netstack's Prependable: the transport writes its payload and header,
 * and each layer below prepends its own header into the headroom. One allocation per packet,
 * no concatenation. `bytes()` is a view (no copy) of what has been written so far.
 */

/** Ethernet (14, or 18 with an 802.1Q tag) + IPv4 with options (60) + TCP with options (60). */
export const MAX_HEADROOM = 18 + 60 + 60;

export class PacketBuffer {
  /** Offset of the first byte written so far (moves down on prepend). */
  head: number;
  /** Offset one past the last byte of the packet. */
  end: number;

  constructor(
    /** The whole backing store. Bytes before `head` are free headroom. */
    readonly buf: Uint8Array,
    head: number,
    end: number,
  ) {
    this.head = head;
    this.end = end;
  }

  /** A buffer with `headroom` free bytes in front of a `payloadLength`-byte payload area. */
  static alloc(payloadLength: number, headroom: number = MAX_HEADROOM): PacketBuffer {
    return new PacketBuffer(new Uint8Array(headroom + payloadLength), headroom, headroom + payloadLength);
  }

  /** A buffer whose payload is a copy of `payload`, with headroom in front of it. */
  static withPayload(payload: Uint8Array, headroom: number = MAX_HEADROOM): PacketBuffer {
    const p = PacketBuffer.alloc(payload.length, headroom);
    p.buf.set(payload, headroom);
    return p;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.end - this.head;
  }

  /** Free bytes left in front. */
  get headroom(): number {
    return this.head;
  }

  /**
   * Claims `n` bytes in front of what is written and returns their offset in `buf`.
   * Throws a RangeError if the headroom is exhausted: that is a bug in the caller (headroom is
   * sized for the largest headers), never a consequence of input from the wire.
   */
  prepend(n: number): number {
    if (n > this.head) throw new RangeError(`PacketBuffer: prepend(${n}) exceeds headroom ${this.head}`);
    this.head -= n;
    return this.head;
  }

  /** View of the packet as written so far (no copy). */
  bytes(): Uint8Array {
    return this.buf.subarray(this.head, this.end);
  }
}
