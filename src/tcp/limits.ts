/**
 * Stack-wide TCP limits: how many connections, TIME-WAIT entries and buffer bytes one stack may
 * hold, whatever its peers do. Per-connection caps (buffer sizes, out-of-order segments, the
 * half-open backlog of a listener) bound one connection; these bound their sum, so a flood of
 * connections costs service (counted, refused with a clear error) but never the process.
 *
 * Pure bookkeeping: the wiring (streams/stack/tcp-limits.ts) asks and tells; nothing here
 * allocates per segment.
 */

/** The stack-wide TCP limits (the `tcp` section of the stack configuration). */
export interface TcpLimitsConfig {
  /**
   * Connections at once, over the whole stack, not counting TIME-WAIT (which has its own cap):
   * half-open, established and closing ones. A `connect()` beyond it fails with EMFILE; a SYN
   * beyond it is dropped and counted (`drops.connectionLimit`), like a SYN to a full backlog:
   * the peer retransmits it. Default 65536.
   */
  readonly maxConnections: number;
  /**
   * Connections one listener holds at once (half-open, plus accepted and not yet finished for
   * the user); a `listen()` option overrides it per listener. A SYN beyond it is dropped and
   * counted (`drops.listenerLimit`). Default 16384.
   */
  readonly maxConnectionsPerListener: number;
  /**
   * TIME-WAIT entries at once (Linux's tcp_max_tw_buckets). When a connection enters TIME-WAIT
   * with the table full, the oldest entry is recycled (closed early, counted in
   * `timeWaitRecycled`). Default 32768. 0: no TIME-WAIT at all.
   */
  readonly maxTimeWait: number;
  /**
   * Buffer memory of all connections, bytes (received and unread or held out of order, plus
   * written and unacknowledged), above which buffers stop growing: receive and send auto-tuning
   * do nothing (Linux's tcp_mem "pressure"). Default 64 MiB.
   */
  readonly memorySoftLimit: number;
  /**
   * Buffer memory above which new data is refused: the payload of arriving segments is dropped
   * before it reaches the connection (never acknowledged, so the peer resends it later; ACKs and
   * what was already acknowledged are kept) and writes wait in the connection's pending queue.
   * Counted in `drops.memoryLimit` and `writesHeld`. Default 128 MiB.
   */
  readonly memoryHardLimit: number;
  /**
   * Bytes a connection's `write()` holds beyond its send buffer (written while `write()`
   * returned false). A write that would go past it throws ENOBUFS and queues nothing; the
   * connection stays usable. node:net buffers without bound; we bound it. Default 64 MiB.
   */
  readonly maxPendingWrite: number;
}

export const DEFAULT_TCP_LIMITS: TcpLimitsConfig = Object.freeze({
  maxConnections: 65_536,
  maxConnectionsPerListener: 16_384,
  maxTimeWait: 32_768,
  memorySoftLimit: 64 * 1024 * 1024,
  memoryHardLimit: 128 * 1024 * 1024,
  maxPendingWrite: 64 * 1024 * 1024,
});

/** The keys of TcpLimitsConfig, in order. */
export const TCP_LIMIT_KEYS = Object.freeze(Object.keys(DEFAULT_TCP_LIMITS) as (keyof TcpLimitsConfig)[]);

const RANGES: { readonly [K in keyof TcpLimitsConfig]: readonly [number, number] } = {
  maxConnections: [1, 2 ** 24],
  maxConnectionsPerListener: [1, 2 ** 24],
  maxTimeWait: [0, 2 ** 24],
  memorySoftLimit: [0, 2 ** 48],
  memoryHardLimit: [1, 2 ** 48],
  maxPendingWrite: [0, 2 ** 48],
};

/**
 * Fills in defaults; pushes `[key, message]` for every bad field (all of them, not the first).
 * The result is only meaningful when nothing was pushed.
 */
export function resolveTcpLimits(partial: Readonly<Partial<TcpLimitsConfig>>, problems: [string, string][]): TcpLimitsConfig {
  const merged = { ...DEFAULT_TCP_LIMITS } as Record<keyof TcpLimitsConfig, number>;
  for (const key of TCP_LIMIT_KEYS) {
    const value: unknown = partial[key];
    if (value === undefined) continue;
    const [lo, hi] = RANGES[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) {
      problems.push([key, `expected an integer in [${lo}, ${hi}], got ${String(value)}`]);
      continue;
    }
    merged[key] = value;
  }
  if (merged.memorySoftLimit > merged.memoryHardLimit) {
    const key = partial.memorySoftLimit !== undefined ? 'memorySoftLimit' : 'memoryHardLimit';
    problems.push([key, `memorySoftLimit (${merged.memorySoftLimit}) must not exceed memoryHardLimit (${merged.memoryHardLimit})`]);
  }
  return Object.freeze(merged);
}

/**
 * The memory the connections of one stack hold, against a soft and a hard mark (the idea of
 * Linux's tcp_mem). Each connection's charge is replaced whole when it changes (`set`), so the
 * total is exact without the connections knowing about each other.
 */
export class TcpMemoryAccount {
  /** Bytes charged now. */
  used = 0;
  /** The most ever charged at once. */
  peak = 0;

  constructor(
    readonly softLimit: number,
    readonly hardLimit: number,
  ) {}

  /** At or above the soft mark: buffers must not grow. */
  get pressure(): boolean {
    return this.used >= this.softLimit;
  }

  /** At or above the hard mark: no new data may come in. */
  get exhausted(): boolean {
    return this.used >= this.hardLimit;
  }

  /** Replaces a charge of `before` bytes with `after` bytes. */
  change(before: number, after: number): void {
    const used = this.used + after - before;
    this.used = used;
    if (used > this.peak) this.peak = used;
  }
}

/**
 * TIME-WAIT entries in the order they entered, capped. Linux, with its table full, lets the
 * closing connection skip TIME-WAIT (and logs "TCP: time wait bucket table overflow"); we
 * recycle the oldest entry instead: it is the one nearest its natural end, whose old duplicates
 * have had the most time to drain, while the newest is the one whose stray segments are most
 * likely still in flight. Either way the table stays within its cap.
 */
export class TimeWaitTable<T> {
  readonly #entries = new Set<T>();

  constructor(readonly max: number) {}

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Adds `entry` (newest); returns the entry to recycle to stay within the cap (the oldest, or
   * `entry` itself when the cap is 0), or undefined.
   */
  add(entry: T): T | undefined {
    if (this.max === 0) return entry;
    this.#entries.add(entry);
    if (this.#entries.size <= this.max) return undefined;
    const oldest = this.#entries.values().next().value as T;
    this.#entries.delete(oldest);
    return oldest;
  }

  /** Forgets `entry` (it closed); true when it was there. */
  delete(entry: T): boolean {
    return this.#entries.delete(entry);
  }

  clear(): void {
    this.#entries.clear();
  }
}
