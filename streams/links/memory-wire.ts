import { Subject, asyncScheduler, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import createDebug from 'debug';
import { NetstackError } from '../../src/errors.js';
import { formatMac, parseMac, randomMac, type MacAddr } from '../../src/mac.js';
import type { Link } from './link.js';

const log = createDebug('rx-netstack:link');

/**
 * An in-memory Ethernet cable between two Links, for tests, demos and benchmarks: what one end
 * sends, the other end's `frames$` emits (the same bytes, not a copy: the Link contract gives
 * the frame to the link on send and lets the receiver keep it).
 *
 * Delivery is always asynchronous (a send never re-enters the receiver inside the sender's call
 * stack, as with a real device), and always in order per direction.
 *
 * - Neither bandwidth nor latency: frames sent in the same tick are batched and delivered
 *   together in one flush. Without a `scheduler` the flush is a `setImmediate`: one flush per
 *   event-loop turn costs a few microseconds, so a request/response ping-pong runs at full
 *   speed, yet a pair of stacks that answer each other forever cannot starve timers and I/O
 *   (a microtask or `asapScheduler` flush would). With a `scheduler` (a TestScheduler in tests)
 *   the flush is `scheduler.schedule(flush, 0)`: same virtual instant, deterministic order.
 * - `latencyMs`: each frame arrives `latencyMs` after it was sent.
 * - `bandwidthBitsPerSecond`: each frame occupies the sender's side of the wire for
 *   `frame.length * 8 / bandwidth` seconds (frame bytes only; no preamble, FCS or gap), frames
 *   queue behind each other, and arrive when fully serialised (plus latency). At most
 *   `queueLimit` frames wait for serialisation; more are dropped (tail drop, like a NIC queue).
 *   Timers use `scheduler`, default `asyncScheduler`; frames that are due together are
 *   delivered in one timer callback, so timer granularity costs latency, not throughput.
 *
 * Frames longer than `mtu + 14` (`mtu + 18` with an 802.1Q tag) or shorter than an Ethernet
 * header are dropped and counted. `close()` on either end unplugs the cable: both `frames$`
 * complete, frames in flight are lost and later sends on either end are dropped and counted.
 *
 * @example
 * const [a, b] = createMemoryWire({ bandwidthBitsPerSecond: 1e9, latencyMs: 1 });
 * b.frames$.subscribe((frame) => console.log('b got', frame.length));
 * a.send(frame);
 */

export interface MemoryWireOptions {
  /** Link MTU (largest IP packet). Default 1500. */
  readonly mtu?: number;
  /** Serialisation rate per direction. Default: unlimited. */
  readonly bandwidthBitsPerSecond?: number;
  /** One-way propagation delay in ms. Default 0. */
  readonly latencyMs?: number;
  /** Frames waiting for serialisation per direction (bandwidth only). Default 1000. */
  readonly queueLimit?: number;
  /** Scheduler for delivery and timers. Default: setImmediate batches / asyncScheduler. */
  readonly scheduler?: SchedulerLike;
  /** Names of the two ends. Default `wire<N>-a`, `wire<N>-b`. */
  readonly names?: readonly [string, string];
  /** MACs of the two ends (bytes or `aa:bb:...`). Default: random locally administered. */
  readonly macs?: readonly [MacAddr | string, MacAddr | string];
}

export interface MemoryWireStats {
  /** Frames (and their bytes) accepted by `send` onto the wire. */
  txFrames: number;
  txBytes: number;
  /** Frames (and their bytes) emitted on `frames$`. */
  rxFrames: number;
  rxBytes: number;
  /** Sent frames longer than the MTU allows. */
  droppedOversize: number;
  /** Sent frames shorter than an Ethernet header. */
  droppedRunt: number;
  /** Sent frames that found the serialisation queue full. */
  droppedQueueFull: number;
  /** Frames sent after the wire was closed. */
  droppedClosed: number;
  /** Frames that arrived while nobody subscribed to `frames$`. */
  droppedNoListener: number;
}

/** One end of the wire: a Link with its own MAC and counters. */
export interface MemoryWireEnd extends Link {
  readonly mac: MacAddr;
  readonly stats: Readonly<MemoryWireStats>;
}

const ETHERNET_HEADER_LENGTH = 14;
const VLAN_TAG_LENGTH = 4;
const ETHERTYPE_VLAN = 0x8100;

let wireCount = 0;

function newStats(): MemoryWireStats {
  return {
    txFrames: 0, txBytes: 0, rxFrames: 0, rxBytes: 0,
    droppedOversize: 0, droppedRunt: 0, droppedQueueFull: 0, droppedClosed: 0, droppedNoListener: 0,
  };
}

/** The receiving side of one end. */
class Receiver {
  readonly subject = new Subject<Uint8Array>();
  readonly stats = newStats();

  deliver(frame: Uint8Array): void {
    if (!this.subject.observed) {
      this.stats.droppedNoListener++;
      return;
    }
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
    this.subject.next(frame);
  }
}

interface PipeTiming {
  readonly scheduler: SchedulerLike | undefined;
  readonly latencyMs: number;
  /** Bits per millisecond, or 0 for unlimited. */
  readonly bitsPerMs: number;
  readonly queueLimit: number;
}

/** One direction of the wire: a FIFO towards `to`. */
class Pipe {
  private frames: Uint8Array[] = [];
  /** Untimed mode: the batch being delivered is swapped out so that sends during it queue anew. */
  private spare: Uint8Array[] = [];
  /** Timed mode: arrival time of frames[i]. */
  private readonly due: number[] = [];
  private head = 0;
  /** When the sender's side of the wire is free again (bandwidth mode). */
  private busyUntil = -Infinity;
  private timer: Subscription | null = null;
  private immediate: ReturnType<typeof setImmediate> | null = null;
  private readonly timed: boolean;
  private readonly scheduler: SchedulerLike;
  private readonly flushBatchBound = (): void => this.flushBatch();
  private readonly flushDueBound = (): void => this.flushDue();

  constructor(
    private readonly to: Receiver,
    private readonly timing: PipeTiming,
  ) {
    this.timed = timing.latencyMs > 0 || timing.bitsPerMs > 0;
    this.scheduler = timing.scheduler ?? asyncScheduler;
  }

  /** False when the frame was dropped for a full queue. */
  enqueue(frame: Uint8Array): boolean {
    if (!this.timed) {
      this.frames.push(frame);
      if (this.frames.length === 1 && this.immediate === null && this.timer === null) this.scheduleBatch();
      return true;
    }
    const now = this.scheduler.now();
    let arrival: number;
    if (this.timing.bitsPerMs > 0) {
      if (this.waitingForSerialisation(now) >= this.timing.queueLimit) return false;
      const start = Math.max(now, this.busyUntil);
      this.busyUntil = start + (frame.length * 8) / this.timing.bitsPerMs;
      arrival = this.busyUntil + this.timing.latencyMs;
    } else {
      arrival = now + this.timing.latencyMs;
    }
    this.frames.push(frame);
    this.due.push(arrival);
    if (this.timer === null) this.timer = this.scheduler.schedule(this.flushDueBound, arrival - now);
    return true;
  }

  /** Frames whose serialisation has not finished (due times are monotonic: binary search). */
  private waitingForSerialisation(now: number): number {
    const threshold = now + this.timing.latencyMs; // serialised iff due <= now + latency
    let lo = this.head;
    let hi = this.frames.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.due[mid] <= threshold) lo = mid + 1;
      else hi = mid;
    }
    return this.frames.length - lo;
  }

  private scheduleBatch(): void {
    if (this.timing.scheduler === undefined) this.immediate = setImmediate(this.flushBatchBound);
    else this.timer = this.timing.scheduler.schedule(this.flushBatchBound, 0);
  }

  private flushBatch(): void {
    this.immediate = null;
    this.timer = null;
    const batch = this.frames;
    this.frames = this.spare;
    this.spare = batch;
    for (let i = 0; i < batch.length; i++) {
      const frame = batch[i];
      this.to.deliver(frame);
    }
    batch.length = 0;
  }

  private flushDue(): void {
    this.timer = null;
    const now = this.scheduler.now();
    const { frames, due } = this;
    while (this.head < frames.length && due[this.head] <= now) {
      const frame = frames[this.head];
      frames[this.head] = undefined as unknown as Uint8Array; // let it be collected
      this.head++;
      this.to.deliver(frame);
    }
    if (this.head === frames.length) {
      frames.length = 0;
      due.length = 0;
      this.head = 0;
    } else {
      if (this.head > 1024 && this.head * 2 > frames.length) {
        // Compact now and then so a long-lived busy pipe does not grow without bound.
        frames.splice(0, this.head);
        due.splice(0, this.head);
        this.head = 0;
      }
      this.timer = this.scheduler.schedule(this.flushDueBound, Math.max(0, due[this.head] - now));
    }
  }

  /** Drops everything in flight and cancels timers. */
  cancel(): void {
    this.timer?.unsubscribe();
    this.timer = null;
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
    this.frames.length = 0;
    this.spare.length = 0;
    this.due.length = 0;
    this.head = 0;
  }
}

class WireEnd implements MemoryWireEnd {
  readonly frames$: Observable<Uint8Array>;
  readonly stats: MemoryWireStats;
  /** Set by createMemoryWire once both ends exist. */
  out!: Pipe;
  /** Filled by createMemoryWire: closes the whole wire. */
  unplug!: () => void;

  constructor(
    readonly name: string,
    readonly mtu: number,
    readonly mac: MacAddr,
    readonly receiver: Receiver,
    private readonly state: { closed: boolean },
  ) {
    this.frames$ = receiver.subject.asObservable();
    this.stats = receiver.stats;
  }

  send(frame: Uint8Array): void {
    const stats = this.stats;
    if (this.state.closed) {
      stats.droppedClosed++;
      return;
    }
    const length = frame.length;
    if (length < ETHERNET_HEADER_LENGTH) {
      stats.droppedRunt++;
      if (log.enabled) log('%s: dropped runt frame of %d bytes', this.name, length);
      return;
    }
    let max = this.mtu + ETHERNET_HEADER_LENGTH;
    if (((frame[12] << 8) | frame[13]) === ETHERTYPE_VLAN) max += VLAN_TAG_LENGTH;
    if (length > max) {
      stats.droppedOversize++;
      if (log.enabled) log('%s: dropped %d-byte frame (max %d)', this.name, length, max);
      return;
    }
    if (!this.out.enqueue(frame)) {
      stats.droppedQueueFull++;
      return;
    }
    stats.txFrames++;
    stats.txBytes += length;
  }

  close(): void {
    this.unplug();
  }
}

function validate(options: MemoryWireOptions): { macs: [MacAddr, MacAddr] | undefined } {
  const problems: string[] = [];
  const { mtu, bandwidthBitsPerSecond: bw, latencyMs, queueLimit, names, macs } = options;
  if (mtu !== undefined && !(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535)) {
    problems.push(`mtu must be an integer in [68, 65535] (got ${String(mtu)})`);
  }
  if (bw !== undefined && !(typeof bw === 'number' && Number.isFinite(bw) && bw > 0)) {
    problems.push(`bandwidthBitsPerSecond must be a finite number > 0 (got ${String(bw)})`);
  }
  if (latencyMs !== undefined && !(typeof latencyMs === 'number' && Number.isFinite(latencyMs) && latencyMs >= 0)) {
    problems.push(`latencyMs must be a finite number >= 0 (got ${String(latencyMs)})`);
  }
  if (queueLimit !== undefined && !(Number.isInteger(queueLimit) && queueLimit >= 1)) {
    problems.push(`queueLimit must be an integer >= 1 (got ${String(queueLimit)})`);
  }
  if (names !== undefined && !(names.length === 2 && names.every((n) => typeof n === 'string' && n.length > 0))) {
    problems.push('names must be two non-empty strings');
  }
  let parsed: [MacAddr, MacAddr] | undefined;
  if (macs !== undefined) {
    const both = macs.map((m) => (typeof m === 'string' ? parseMac(m) : m instanceof Uint8Array && m.length === 6 ? m : undefined));
    if (macs.length !== 2 || both[0] === undefined || both[1] === undefined) {
      problems.push('macs must be two MAC addresses (6 bytes or "aa:bb:cc:dd:ee:ff")');
    } else {
      parsed = [both[0], both[1]];
    }
  }
  if (problems.length > 0) {
    throw new NetstackError('ERR_INVALID_ARG_VALUE', `createMemoryWire: ${problems.join('; ')}`);
  }
  return { macs: parsed };
}

/**
 * Two Links joined by an in-memory cable (see the module comment for delivery and timing).
 *
 * @throws NetstackError `ERR_INVALID_ARG_VALUE` naming every bad option.
 */
export function createMemoryWire(options: MemoryWireOptions = {}): [MemoryWireEnd, MemoryWireEnd] {
  const { macs } = validate(options);
  const n = wireCount++;
  const [nameA, nameB] = options.names ?? [`wire${n}-a`, `wire${n}-b`];
  const mtu = options.mtu ?? 1500;
  const timing: PipeTiming = {
    scheduler: options.scheduler,
    latencyMs: options.latencyMs ?? 0,
    bitsPerMs: options.bandwidthBitsPerSecond === undefined ? 0 : options.bandwidthBitsPerSecond / 1000,
    queueLimit: options.queueLimit ?? 1000,
  };
  const state = { closed: false };
  const rxA = new Receiver();
  const rxB = new Receiver();
  const a = new WireEnd(nameA, mtu, macs?.[0] ?? randomMac(), rxA, state);
  const b = new WireEnd(nameB, mtu, macs?.[1] ?? randomMac(), rxB, state);
  a.out = new Pipe(rxB, timing);
  b.out = new Pipe(rxA, timing);
  const unplug = (): void => {
    if (state.closed) return;
    state.closed = true;
    a.out.cancel();
    b.out.cancel();
    if (log.enabled) log('%s <-> %s: closed', nameA, nameB);
    rxA.subject.complete();
    rxB.subject.complete();
  };
  a.unplug = unplug;
  b.unplug = unplug;
  if (log.enabled) log('%s (%s) <-> %s (%s): mtu %d', nameA, formatMac(a.mac), nameB, formatMac(b.mac), mtu);
  return [a, b];
}
