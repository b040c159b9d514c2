import { TcpMemoryAccount, TimeWaitTable, type TcpLimitsConfig } from '../../src/tcp/limits.js';
import { TcpFlags, type TcpRepr } from '../../src/wire/tcp.js';
import type { TcpConnection } from './tcp-connection.js';

const EMPTY = new Uint8Array(0);

/** What a listener holds against its own limit (kept by the TCP layer beside the listener). */
export interface ListenerSlots {
  /** Connections it created that are not yet finished (not in TIME-WAIT, not CLOSED). */
  children: number;
  readonly maxChildren: number;
}

/** What the limits count, as the TCP layer's counters (stats().tcp). */
export interface TcpLimitCounters {
  /** Connections held now, TIME-WAIT excluded (against `maxConnections`). */
  connections: number;
  /** TIME-WAIT entries now (against `maxTimeWait`). */
  timeWaitConnections: number;
  /** TIME-WAIT entries closed early to make room for newer ones. */
  timeWaitRecycled: number;
  /** Buffer bytes held by all connections now (against the memory marks). */
  memoryBytes: number;
  /** The most buffer bytes ever held at once. */
  memoryPeakBytes: number;
  /** `connect()` calls refused with EMFILE (`maxConnections`). */
  connectRefused: number;
  /** Writes that went to the pending queue because memory was above the hard mark. */
  writesHeld: number;
  /** Writes refused with ENOBUFS (`maxPendingWrite`). */
  writesRefused: number;
  readonly drops: {
    /** SYNs (or cookie ACKs) beyond `maxConnections`. */
    connectionLimit: number;
    /** SYNs beyond the listener's connection limit. */
    listenerLimit: number;
    /** Segments whose payload was refused above the memory hard mark (the ACK part was kept). */
    memoryLimit: number;
  };
}

/** The per-connection side of the limits, as a connection sees them (its owner's `limits`). */
export interface TcpConnectionLimits {
  readonly maxPendingWrite: number;
  /** Memory is at or above the hard mark: writes wait. */
  readonly exhausted: boolean;
  /** The connection's buffers may have changed: charge it again. */
  account(conn: TcpConnection): void;
  /** Call `conn.retryPending()` once memory is below the hard mark again. */
  waitForMemory(conn: TcpConnection): void;
  writeHeld(): void;
  writeRefused(): void;
}

/**
 * What a connection holds of the limits, kept on the connection (`TcpConnection.limitSlot`): a
 * Map keyed by the connection cost a hash probe at every accounting (after each call into its
 * core), and its insert and delete per connection grew and shrank the table (an allocation each
 * way for a server with few connections open at a time).
 */
class Slot {
  timeWait = false;
  /** Bytes charged to the memory account. */
  charge = 0;
  constructor(
    readonly limits: TcpLayerLimits,
    /** The limits' generation it was made in (clear() starts a new one). */
    readonly generation: number,
    readonly listener: ListenerSlots | undefined,
  ) {}
}

/**
 * The TCP layer's stack-wide limits (src/tcp/limits.ts has the rules): connection slots, the
 * TIME-WAIT table, the buffer memory account, and the writers waiting for memory. The layer
 * tells it when a connection is made, enters TIME-WAIT or is released; the connections tell it
 * (through `account`, after each call into their core) what their buffers hold.
 */
export class TcpLayerLimits implements TcpConnectionLimits {
  readonly memory: TcpMemoryAccount;
  readonly maxPendingWrite: number;
  readonly #config: TcpLimitsConfig;
  readonly #counters: TcpLimitCounters;
  /** Bumped by clear(): slots of an earlier generation are no longer counted. */
  #generation = 0;
  readonly #timeWait: TimeWaitTable<TcpConnection>;
  readonly #waiting = new Set<TcpConnection>();
  #waking = false;

  constructor(config: TcpLimitsConfig, counters: TcpLimitCounters) {
    this.#config = config;
    this.#counters = counters;
    this.memory = new TcpMemoryAccount(config.memorySoftLimit, config.memoryHardLimit);
    this.maxPendingWrite = config.maxPendingWrite;
    this.#timeWait = new TimeWaitTable(config.maxTimeWait);
  }

  get exhausted(): boolean {
    return this.memory.exhausted;
  }

  /** No room for one more connection (TIME-WAIT aside). */
  get full(): boolean {
    return this.#counters.connections >= this.#config.maxConnections;
  }

  /** Whether a SYN to `listener` may make a connection; counts the drop when not. */
  admitSyn(listener: ListenerSlots): boolean {
    if (this.full) {
      this.#counters.drops.connectionLimit++;
      return false;
    }
    if (listener.children >= listener.maxChildren) {
      this.#counters.drops.listenerLimit++;
      return false;
    }
    return true;
  }

  /** Whether a connection completed by a SYN cookie may stay; counts the drop when not. */
  admitCookie(listener: ListenerSlots): boolean {
    return this.admitSyn(listener);
  }

  /** A connect() beyond the limit: counted; the caller fails it with EMFILE. */
  refuseConnect(): void {
    this.#counters.connectRefused++;
  }

  /** A connection now exists (active open, or made by `listener`). */
  opened(conn: TcpConnection, listener: ListenerSlots | undefined): void {
    conn.limitSlot = new Slot(this, this.#generation, listener);
    this.#counters.connections++;
    if (listener !== undefined) listener.children++;
  }

  /**
   * `conn` entered TIME-WAIT: it leaves its connection slots for the TIME-WAIT table. Returns
   * the entry to recycle (close) to stay within `maxTimeWait`, if any.
   */
  enteredTimeWait(conn: TcpConnection): TcpConnection | undefined {
    const slot = this.#slotOf(conn);
    if (slot === undefined || slot.timeWait) return undefined;
    this.#freeSlots(slot);
    slot.timeWait = true;
    this.#counters.timeWaitConnections++;
    const recycled = this.#timeWait.add(conn);
    if (recycled !== undefined) this.#counters.timeWaitRecycled++;
    return recycled;
  }

  /** `conn` reached CLOSED: everything it held is free. */
  released(conn: TcpConnection): void {
    const slot = this.#slotOf(conn);
    if (slot === undefined) return;
    conn.limitSlot = undefined;
    if (this.#waiting.size > 0) this.#waiting.delete(conn);
    if (slot.timeWait) {
      this.#timeWait.delete(conn);
      this.#counters.timeWaitConnections--;
    } else {
      this.#freeSlots(slot);
    }
    this.#setCharge(slot, 0);
  }

  account(conn: TcpConnection): void {
    const slot = this.#slotOf(conn);
    if (slot === undefined) return;
    const core = conn.core;
    this.#setCharge(slot, core.readableLength + core.outOfOrderBytes + core.bufferedLength);
  }

  waitForMemory(conn: TcpConnection): void {
    this.#waiting.add(conn);
  }

  writeHeld(): void {
    this.#counters.writesHeld++;
  }

  writeRefused(): void {
    this.#counters.writesRefused++;
  }

  /**
   * A segment for an existing connection while memory is above the hard mark: the same segment
   * without its payload (and without a FIN, which comes after the payload), so its ACK and
   * window still count; the peer resends the data. Counted.
   */
  refuseData(seg: TcpRepr): TcpRepr {
    this.#counters.drops.memoryLimit++;
    return { ...seg, payload: EMPTY, flags: seg.flags & ~TcpFlags.FIN };
  }

  /** Forgets everything (the stack closed). */
  clear(): void {
    this.#generation++;
    this.#timeWait.clear();
    this.#waiting.clear();
  }

  /** The slot `conn` holds here, if it holds one of this generation. */
  #slotOf(conn: TcpConnection): Slot | undefined {
    const slot = conn.limitSlot;
    return slot instanceof Slot && slot.limits === this && slot.generation === this.#generation ? slot : undefined;
  }

  #freeSlots(slot: Slot): void {
    this.#counters.connections--;
    if (slot.listener !== undefined) slot.listener.children--;
  }

  #setCharge(slot: Slot, bytes: number): void {
    if (bytes === slot.charge) return;
    const m = this.memory;
    const wasExhausted = m.exhausted;
    m.change(slot.charge, bytes);
    slot.charge = bytes;
    this.#counters.memoryBytes = m.used;
    if (m.peak > this.#counters.memoryPeakBytes) this.#counters.memoryPeakBytes = m.peak;
    if (wasExhausted && !m.exhausted && this.#waiting.size > 0) this.#wake();
  }

  /** Memory fell below the hard mark: the writers held back try again, oldest first. */
  #wake(): void {
    if (this.#waking) return;
    this.#waking = true;
    try {
      for (const conn of this.#waiting) {
        if (this.memory.exhausted) break;
        this.#waiting.delete(conn);
        conn.retryPending();
      }
    } finally {
      this.#waking = false;
    }
  }
}
