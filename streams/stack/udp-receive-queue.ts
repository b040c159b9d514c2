/**
 * A socket's receive queue: datagrams that arrived while nobody subscribed to `datagrams$`,
 * bounded by count and by payload bytes like SO_RCVBUF. As in Linux (`__udp_enqueue_schedule_skb`),
 * the byte limit is checked before adding, so one datagram larger than the limit still fits in
 * an empty queue: a 65,507-byte datagram is never undeliverable because of a small limit.
 */
export class DatagramQueue<T extends { readonly payload: Uint8Array }> {
  #items: T[] = [];
  #head = 0;
  #bytes = 0;

  constructor(
    readonly maxDatagrams: number,
    readonly maxBytes: number,
  ) {}

  /** Datagrams held. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Payload bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds at the tail; false (nothing added) when the queue is full. */
  push(item: T): boolean {
    if (this.length >= this.maxDatagrams || this.#bytes >= this.maxBytes) return false;
    this.#items.push(item);
    this.#bytes += item.payload.length;
    return true;
  }

  /** Takes from the head. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    // Let go of the datagram (and the frame its payload views) at once.
    (this.#items as (T | undefined)[])[this.#head] = undefined;
    this.#head++;
    this.#bytes -= item.payload.length;
    if (this.#head === this.#items.length) this.clear();
    else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      // Compact now and then so a queue that never quite empties does not grow its array forever.
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
  }
}
