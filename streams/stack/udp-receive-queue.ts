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

  /** @param budget the stack-wide limit shared by every socket's queue, if any. */
  constructor(
    readonly maxDatagrams: number,
    readonly maxBytes: number,
    readonly budget?: QueueBudget,
  ) {}

  /** Datagrams held. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Payload bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds at the tail; false (nothing added) when the queue, or the stack's budget, is full. */
  push(item: T): boolean {
    return this.pushOrWhyNot(item) === 'ok';
  }

  /** Adds at the tail, or says which limit refused it (nothing added). */
  pushOrWhyNot(item: T): 'ok' | 'queueFull' | 'stackQueueFull' {
    if (this.length >= this.maxDatagrams || this.#bytes >= this.maxBytes) return 'queueFull';
    const n = item.payload.length;
    if (this.budget !== undefined && !this.budget.take(n)) return 'stackQueueFull';
    this.#items.push(item);
    this.#bytes += n;
    return 'ok';
  }

  /** Takes from the head. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    // Let go of the datagram (and the frame its payload views) at once.
    (this.#items as (T | undefined)[])[this.#head] = undefined;
    this.#head++;
    this.#bytes -= item.payload.length;
    this.budget?.give(item.payload.length, 1);
    if (this.#head === this.#items.length) this.clear();
    else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      // Compact now and then so a queue that never quite empties does not grow its array forever.
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.budget?.give(this.#bytes, this.length);
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
  }
}

/**
 * What the receive queues of all sockets of a stack hold together, against the stack-wide
 * limits (`udp.maxQueuedBytes`, `udp.maxQueuedDatagrams`). Unlike a socket's own byte limit,
 * this one is strict: a datagram is refused when it would pass it.
 */
export class QueueBudget {
  bytes = 0;
  datagrams = 0;

  /** @param gauges counters kept equal to what is held (the layer's stats). */
  constructor(
    readonly maxBytes: number,
    readonly maxDatagrams: number,
    readonly gauges?: { queuedBytes: number; queuedDatagrams: number },
  ) {}

  /** Reserves room for one datagram of `n` bytes; false when it would pass a limit. */
  take(n: number): boolean {
    if (this.datagrams >= this.maxDatagrams || this.bytes + n > this.maxBytes) return false;
    this.bytes += n;
    this.datagrams++;
    this.#sync();
    return true;
  }

  give(bytes: number, datagrams: number): void {
    this.bytes -= bytes;
    this.datagrams -= datagrams;
    this.#sync();
  }

  #sync(): void {
    const g = this.gauges;
    if (g === undefined) return;
    g.queuedBytes = this.bytes;
    g.queuedDatagrams = this.datagrams;
  }
}
