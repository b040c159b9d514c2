/**
 * The neighbour cache of one interface: IPv4 address -> MAC (RFC 826, RFC 1122 2.3.2).
 *
 * Pure: `now` (ms) comes in, and what the wiring must do goes out as `NeighborAction`s.
 *
 *   resolve(ip, packet, now) -> { mac, actions }   per outbound packet to a unicast next hop
 *       mac defined: send `packet` to that MAC now.
 *       mac undefined: the packet was queued (or dropped: see actions) until `ip` resolves.
 *   receive(senderIp, senderMac, targetIsOurs, now) -> actions   per received ARP packet
 *   expire(now) -> actions      when `nextDeadline()` comes (retries, aging, failures)
 *   confirm(ip, now)            an upper layer saw the peer answer (TCP progress): still reachable
 *   addStatic / remove / lookup / entries / counters, and `onChange` for a stream of changes.
 *
 * Actions, to be carried out in the order given:
 *   { kind: 'request', ip, mac }          send an ARP request for `ip`: broadcast when `mac` is
 *                                          undefined, unicast to `mac` to re-validate a stale entry
 *   { kind: 'send', ip, mac, packets }    `ip` resolved: send these queued packets, in order, to `mac`
 *   { kind: 'fail', ip, code, packets }   resolution failed: fail these packets with EHOSTUNREACH
 *   { kind: 'drop', ip, reason, packets } these packets were dropped for lack of room (counted)
 *
 * Entry states:
 *   incomplete  resolving; packets queue. Up to `maxRequests` broadcast requests are sent,
 *               `retransmitIntervalMs` apart; at the next interval after the last one the
 *               resolution fails. Lifetime: maxRequests * retransmitIntervalMs.
 *   reachable   confirmed within `reachableTimeMs`; used without question.
 *   stale       confirmed longer ago: still used (sends never wait on re-validation), and a use
 *               sends a unicast request (at most one per `retransmitIntervalMs`); an answer makes
 *               it reachable again. Removed `expireTimeMs` after its last confirmation, used or
 *               not (RFC 1122 2.3.2.1 asks that entries time out even while in use).
 *   static      added by the user: never expires, never overwritten by ARP traffic.
 *
 * Learning follows RFC 826's merge rule: on any ARP packet, if the sender's address is in the
 * table its MAC is updated (and confirmed); if the packet targets one of our addresses and the
 * sender is absent, it is added. A sender of 0.0.0.0 (RFC 5227 probes), a broadcast/multicast
 * sender address, or a group sender MAC teaches nothing.
 *
 * Requests are rate limited per address (one per retransmit interval) and globally by a token
 * bucket; a request the bucket refuses still uses up its attempt, so a resolution's lifetime
 * stays bounded under a flood.
 *
 * The wiring answers ARP requests for our addresses itself (it knows them); this table only learns.
 * Call `resolve` only for unicast next hops: broadcast and multicast map to MACs without ARP.
 */

import type { Ipv4Addr } from '../ipv4/address.js';
import { isMulticast, IPV4_BROADCAST } from '../ipv4/address.js';
import { NEIGHBOR_CACHE_DEFAULTS, type NeighborCacheConfig } from '../ipv4/config.js';
import { macEquals, type MacAddr } from '../mac.js';
import { TokenBucket } from '../icmp/rate-limiter.js';

export type NeighborState = 'incomplete' | 'reachable' | 'stale' | 'static';

/** A snapshot of one entry. */
export interface NeighborEntry {
  readonly ip: Ipv4Addr;
  /** Undefined while incomplete. A copy: the caller may keep it. */
  readonly mac: MacAddr | undefined;
  readonly state: NeighborState;
  /** ms of the last confirmation (creation for incomplete and static entries). */
  readonly confirmedAt: number;
  /** Packets waiting for this entry to resolve. */
  readonly queued: number;
}

export type NeighborRemoveReason = 'expired' | 'failed' | 'evicted' | 'deleted';

export type NeighborChange =
  | { readonly kind: 'added'; readonly entry: NeighborEntry }
  | { readonly kind: 'updated'; readonly entry: NeighborEntry }
  | { readonly kind: 'removed'; readonly entry: NeighborEntry; readonly reason: NeighborRemoveReason };

export type NeighborDropReason = 'queueFull' | 'tableFull';

export type NeighborAction<T> =
  | { readonly kind: 'request'; readonly ip: Ipv4Addr; readonly mac: MacAddr | undefined }
  | { readonly kind: 'send'; readonly ip: Ipv4Addr; readonly mac: MacAddr; readonly packets: T[] }
  | { readonly kind: 'fail'; readonly ip: Ipv4Addr; readonly code: 'EHOSTUNREACH'; readonly packets: T[] }
  | { readonly kind: 'drop'; readonly ip: Ipv4Addr; readonly reason: NeighborDropReason; readonly packets: T[] };

export interface Resolution<T> {
  /** Send the packet to this MAC now; undefined when it was queued (or dropped, see actions). */
  readonly mac: MacAddr | undefined;
  /** Anything else to do, in order (usually none). */
  readonly actions: readonly NeighborAction<T>[];
}

export interface NeighborCounters {
  /** ARP requests the wiring was told to send. */
  requestsSent: number;
  /** ARP requests the token bucket refused. */
  requestsRateLimited: number;
  /** Resolutions that completed. */
  resolved: number;
  /** Resolutions that failed (EHOSTUNREACH). */
  failed: number;
  /** Packets dropped because a queue was full (per destination or in total). */
  queueDrops: number;
  /** Packets dropped because no entry could be made for them. */
  tableFullDrops: number;
  /** ARP packets that taught nothing (bogus sender). */
  ignored: number;
  /** Dynamic entries evicted to make room. */
  evicted: number;
}

interface Entry<T> {
  readonly ip: Ipv4Addr;
  state: NeighborState;
  mac: MacAddr | undefined;
  confirmedAt: number;
  /** Incomplete: queued packets and their global arrival numbers (for dropping the oldest overall). */
  queue: T[];
  seqs: number[];
  /** Incomplete: requests sent (or refused by the rate limit) so far. */
  attempts: number;
  /** Incomplete: when the next request is due (or the resolution fails). */
  nextRequestAt: number;
  /** When a request for this address was last sent (per-destination rate limit). */
  lastRequestAt: number;
  /** The allocation-free answer for a resolved entry: { mac, actions: [] }. */
  fast: Resolution<T> | undefined;
}

const NO_ACTIONS: readonly never[] = Object.freeze([]);

export class NeighborCache<T> {
  readonly config: Readonly<NeighborCacheConfig>;
  readonly counters: NeighborCounters = {
    requestsSent: 0,
    requestsRateLimited: 0,
    resolved: 0,
    failed: 0,
    queueDrops: 0,
    tableFullDrops: 0,
    ignored: 0,
    evicted: 0,
  };
  /** Set by the wiring to publish a stream of changes. Called synchronously, after the change. */
  onChange: ((change: NeighborChange) => void) | undefined;

  private readonly table = new Map<Ipv4Addr, Entry<T>>();
  /**
   * The entry `reachableMac` found last, and its address: a flow asks for the same next hop for
   * every packet, and a Map probe keyed by an address of 2^30 or more (most IPv4 addresses: no
   * small integer for V8) hashes a heap number in the runtime. Forgotten on every change of the
   * table (tableSet, tableDelete); the entry's state and MAC are read afresh at each use.
   */
  private lastIp = -1;
  private lastEntry: Entry<T> | undefined = undefined;
  /** Incomplete entries that hold packets. */
  private readonly pending = new Set<Entry<T>>();
  private readonly requestBucket: TokenBucket;
  private queuedTotal = 0;
  /** Static entries, which do not count against maxEntries (like Linux's permanent entries). */
  private staticCount = 0;
  private seq = 0;
  /** Never later than the true next deadline; exact after expire(). */
  private deadline = Infinity;

  constructor(config: Readonly<Partial<NeighborCacheConfig>> = {}) {
    this.config = { ...NEIGHBOR_CACHE_DEFAULTS, ...config };
    this.requestBucket = new TokenBucket(this.config.requestRatePerSecond, this.config.requestBurst);
  }

  /** Entries in the table (all states). */
  get size(): number {
    return this.table.size;
  }

  /** Packets queued across all incomplete entries. */
  get queuedPackets(): number {
    return this.queuedTotal;
  }

  /** The MAC of `ip` if known (reachable, stale or static), without side effects beyond aging. */
  lookup(ip: Ipv4Addr, now: number): MacAddr | undefined {
    const e = this.table.get(ip);
    if (e === undefined) return undefined;
    if (e.state === 'incomplete') return undefined;
    if (!this.age(e, now)) return undefined;
    return e.mac;
  }

  /**
   * The MAC to send to `ip` now, when that needs nothing more: a reachable or static entry. No
   * clock, no side effect and no allocation (the sender reads no time and makes no queue item
   * for a packet that will not wait); undefined otherwise, and then `resolve` ages, queues and
   * asks. As Linux uses a REACHABLE neighbour without looking at the time on each send, the
   * reachable time is checked by `expire`, which turns the entry stale at `nextDeadline()`: the
   * caller runs `expire` then (a timer), and until it does a reachable entry is answered here
   * even if its time is up (by at most the timer's lateness). While `expire` is up to date
   * (before `nextDeadline()`), `resolve` answers the same MAC and no action.
   */
  reachableMac(ip: Ipv4Addr): MacAddr | undefined {
    let e = this.lastEntry;
    if (e === undefined || this.lastIp !== ip) {
      e = this.table.get(ip);
      if (e === undefined) return undefined;
      this.lastIp = ip;
      this.lastEntry = e;
    }
    if (e.state === 'static' || e.state === 'reachable') return e.mac;
    return undefined;
  }

  private tableSet(ip: Ipv4Addr, e: Entry<T>): void {
    this.lastEntry = undefined;
    this.table.set(ip, e);
  }

  private tableDelete(ip: Ipv4Addr): void {
    this.lastEntry = undefined;
    this.table.delete(ip);
  }

  /** Where to send `packet` for next hop `ip` (see the top of the file). */
  resolve(ip: Ipv4Addr, packet: T, now: number): Resolution<T> {
    let e = this.table.get(ip);
    if (e !== undefined && e.state !== 'incomplete' && e.state !== 'static' && !this.age(e, now)) e = undefined;

    if (e === undefined) {
      const actions: NeighborAction<T>[] = [];
      if (!this.makeRoom()) {
        this.counters.tableFullDrops++;
        actions.push({ kind: 'drop', ip, reason: 'tableFull', packets: [packet] });
        return { mac: undefined, actions };
      }
      e = {
        ip,
        state: 'incomplete',
        mac: undefined,
        confirmedAt: now,
        queue: [],
        seqs: [],
        attempts: 0,
        nextRequestAt: now,
        lastRequestAt: -Infinity,
        fast: undefined,
      };
      this.tableSet(ip, e);
      this.enqueue(e, packet, actions);
      this.emit('added', e);
      this.request(e, now, undefined, actions);
      e.attempts = 1;
      e.nextRequestAt = now + this.config.retransmitIntervalMs;
      this.noteDeadline(e.nextRequestAt);
      return { mac: undefined, actions };
    }

    switch (e.state) {
      case 'incomplete': {
        const actions: NeighborAction<T>[] = [];
        this.enqueue(e, packet, actions);
        return { mac: undefined, actions: actions.length === 0 ? NO_ACTIONS : actions };
      }
      case 'stale':
        if (now - e.lastRequestAt >= this.config.retransmitIntervalMs) {
          const actions: NeighborAction<T>[] = [];
          this.request(e, now, e.mac, actions);
          if (actions.length > 0) return { mac: e.mac, actions };
        }
        return e.fast as Resolution<T>;
      default:
        return e.fast as Resolution<T>;
    }
  }

  /**
   * Learns from a received ARP packet (request or reply) per RFC 826's merge rule.
   * @param targetIsOurs the packet's target protocol address is one of this interface's addresses.
   * @param senderMac may be a view into the frame: it is copied when stored.
   */
  receive(senderIp: Ipv4Addr, senderMac: Uint8Array, targetIsOurs: boolean, now: number): NeighborAction<T>[] {
    if (senderIp === 0 || senderIp === IPV4_BROADCAST || isMulticast(senderIp) || (senderMac[0] & 1) !== 0) {
      this.counters.ignored++;
      return [];
    }
    let e = this.table.get(senderIp);
    if (e !== undefined && e.state !== 'incomplete' && e.state !== 'static' && !this.age(e, now)) e = undefined;

    if (e === undefined) {
      if (!targetIsOurs || !this.makeRoom()) return [];
      e = this.newResolved(senderIp, senderMac, 'reachable', now);
      this.tableSet(senderIp, e);
      this.noteDeadline(now + this.config.reachableTimeMs);
      this.emit('added', e);
      return [];
    }
    if (e.state === 'static') return [];

    if (e.state === 'incomplete') {
      const packets = e.queue;
      this.unqueueAll(e);
      this.setResolved(e, senderMac, now);
      this.counters.resolved++;
      this.emit('updated', e);
      return packets.length === 0 ? [] : [{ kind: 'send', ip: senderIp, mac: e.mac as MacAddr, packets }];
    }

    const changed = !macEquals(senderMac, 0, e.mac as MacAddr, 0) || e.state !== 'reachable';
    if (changed) {
      this.setResolved(e, senderMac, now);
      this.emit('updated', e);
    } else {
      e.confirmedAt = now;
      this.noteDeadline(now + this.config.reachableTimeMs);
    }
    return [];
  }

  /** An upper layer has evidence the neighbour is there (RFC 1122 2.3.2.1 advice): refresh it. */
  confirm(ip: Ipv4Addr, now: number): void {
    const e = this.table.get(ip);
    if (e === undefined || (e.state !== 'reachable' && e.state !== 'stale')) return;
    if (!this.age(e, now)) return;
    e.confirmedAt = now;
    this.noteDeadline(now + this.config.reachableTimeMs);
    if (e.state === 'stale') {
      e.state = 'reachable';
      this.emit('updated', e);
    }
  }

  /** Adds or replaces a static entry; packets waiting for `ip` are released to it. */
  addStatic(ip: Ipv4Addr, mac: MacAddr, now: number): NeighborAction<T>[] {
    const old = this.table.get(ip);
    if (old === undefined || old.state !== 'static') this.staticCount++;
    if (old !== undefined && old.state === 'incomplete') {
      const packets = old.queue;
      this.unqueueAll(old);
      old.state = 'static';
      this.setMac(old, mac);
      old.confirmedAt = now;
      this.counters.resolved++;
      this.emit('updated', old);
      return packets.length === 0 ? [] : [{ kind: 'send', ip, mac: old.mac as MacAddr, packets }];
    }
    const e = this.newResolved(ip, mac, 'static', now);
    this.tableSet(ip, e);
    this.emit(old === undefined ? 'added' : 'updated', e);
    return [];
  }

  /** Removes an entry of any state; packets waiting for it fail with EHOSTUNREACH. */
  remove(ip: Ipv4Addr): NeighborAction<T>[] {
    const e = this.table.get(ip);
    if (e === undefined) return [];
    const packets = e.queue;
    this.unqueueAll(e);
    this.tableDelete(ip);
    if (e.state === 'static') this.staticCount--;
    this.emit('removed', e, 'deleted');
    return packets.length === 0 ? [] : [{ kind: 'fail', ip, code: 'EHOSTUNREACH', packets }];
  }

  /** Runs retries, aging and failures due at `now`. */
  expire(now: number): NeighborAction<T>[] {
    const actions: NeighborAction<T>[] = [];
    let next = Infinity;
    for (const e of this.table.values()) {
      if (e.state === 'static') continue;
      if (e.state === 'incomplete') {
        if (now >= e.nextRequestAt) {
          if (e.attempts >= this.config.maxRequests) {
            this.fail(e, actions);
            continue;
          }
          this.request(e, now, undefined, actions);
          e.attempts++;
          e.nextRequestAt = now + this.config.retransmitIntervalMs;
        }
        next = Math.min(next, e.nextRequestAt);
        continue;
      }
      if (!this.age(e, now)) continue;
      next = Math.min(next, this.agingDeadline(e));
    }
    this.deadline = next;
    return actions;
  }

  /** When `expire` next has work (ms), or undefined when nothing will ever be due. May be early, never late. */
  nextDeadline(): number | undefined {
    return this.deadline === Infinity ? undefined : this.deadline;
  }

  /** A snapshot of every entry. */
  entries(): NeighborEntry[] {
    const out: NeighborEntry[] = [];
    for (const e of this.table.values()) out.push(snapshot(e));
    return out;
  }

  // -- internals ------------------------------------------------------------------------------

  /**
   * Applies reachable -> stale -> removed transitions due at `now` to a dynamic resolved entry.
   * Returns false when the entry was removed.
   */
  private age(e: Entry<T>, now: number): boolean {
    if (e.state === 'reachable' && now >= e.confirmedAt + this.config.reachableTimeMs) {
      e.state = 'stale';
      this.emit('updated', e);
    }
    if (e.state === 'stale' && now >= e.confirmedAt + this.config.expireTimeMs) {
      this.tableDelete(e.ip);
      this.emit('removed', e, 'expired');
      return false;
    }
    return true;
  }

  private agingDeadline(e: Entry<T>): number {
    return e.state === 'reachable'
      ? e.confirmedAt + this.config.reachableTimeMs
      : e.confirmedAt + this.config.expireTimeMs;
  }

  private noteDeadline(at: number): void {
    if (at < this.deadline) this.deadline = at;
  }

  private request(e: Entry<T>, now: number, mac: MacAddr | undefined, actions: NeighborAction<T>[]): void {
    e.lastRequestAt = now;
    if (!this.requestBucket.take(now)) {
      this.counters.requestsRateLimited++;
      return;
    }
    this.counters.requestsSent++;
    actions.push({ kind: 'request', ip: e.ip, mac });
  }

  private fail(e: Entry<T>, actions: NeighborAction<T>[]): void {
    const packets = e.queue;
    this.unqueueAll(e);
    this.tableDelete(e.ip);
    this.counters.failed++;
    this.emit('removed', e, 'failed');
    if (packets.length > 0) actions.push({ kind: 'fail', ip: e.ip, code: 'EHOSTUNREACH', packets });
  }

  private enqueue(e: Entry<T>, packet: T, actions: NeighborAction<T>[]): void {
    if (e.queue.length >= this.config.maxQueuePerDestination) {
      if (e.queue.length === 0) {
        // A bound of 0: nothing may wait.
        this.counters.queueDrops++;
        actions.push({ kind: 'drop', ip: e.ip, reason: 'queueFull', packets: [packet] });
        return;
      }
      this.dropOldestOf(e, actions);
    }
    e.queue.push(packet);
    e.seqs.push(this.seq++);
    this.pending.add(e);
    this.queuedTotal++;
    while (this.queuedTotal > this.config.maxQueuedPackets) {
      let oldest: Entry<T> | undefined;
      for (const p of this.pending) if (oldest === undefined || p.seqs[0] < oldest.seqs[0]) oldest = p;
      this.dropOldestOf(oldest as Entry<T>, actions);
    }
  }

  private dropOldestOf(e: Entry<T>, actions: NeighborAction<T>[]): void {
    const dropped = e.queue.shift() as T;
    e.seqs.shift();
    this.queuedTotal--;
    if (e.queue.length === 0) this.pending.delete(e);
    this.counters.queueDrops++;
    actions.push({ kind: 'drop', ip: e.ip, reason: 'queueFull', packets: [dropped] });
  }

  /** Detaches the queue (the caller keeps the array it read before). */
  private unqueueAll(e: Entry<T>): void {
    this.queuedTotal -= e.queue.length;
    this.pending.delete(e);
    e.queue = [];
    e.seqs = [];
  }

  /** Makes room for one more dynamic entry by evicting the least recently confirmed resolved one. */
  private makeRoom(): boolean {
    if (this.table.size - this.staticCount < this.config.maxEntries) return true;
    let victim: Entry<T> | undefined;
    for (const e of this.table.values()) {
      if (e.state !== 'reachable' && e.state !== 'stale') continue;
      if (victim === undefined || e.confirmedAt < victim.confirmedAt) victim = e;
    }
    if (victim === undefined) return false;
    this.tableDelete(victim.ip);
    this.counters.evicted++;
    this.emit('removed', victim, 'evicted');
    return true;
  }

  private newResolved(ip: Ipv4Addr, mac: Uint8Array, state: 'reachable' | 'static', now: number): Entry<T> {
    const e: Entry<T> = {
      ip,
      state,
      mac: undefined,
      confirmedAt: now,
      queue: [],
      seqs: [],
      attempts: 0,
      nextRequestAt: 0,
      lastRequestAt: -Infinity,
      fast: undefined,
    };
    this.setMac(e, mac);
    return e;
  }

  private setResolved(e: Entry<T>, mac: Uint8Array, now: number): void {
    e.state = 'reachable';
    e.confirmedAt = now;
    this.setMac(e, mac);
    this.noteDeadline(now + this.config.reachableTimeMs);
  }

  private setMac(e: Entry<T>, mac: Uint8Array): void {
    if (e.mac !== undefined && macEquals(mac, 0, e.mac, 0)) return;
    const copy = mac.slice(0, 6);
    e.mac = copy;
    e.fast = Object.freeze({ mac: copy, actions: NO_ACTIONS });
  }

  private emit(kind: 'added' | 'updated', e: Entry<T>): void;
  private emit(kind: 'removed', e: Entry<T>, reason: NeighborRemoveReason): void;
  private emit(kind: NeighborChange['kind'], e: Entry<T>, reason?: NeighborRemoveReason): void {
    const listener = this.onChange;
    if (listener === undefined) return;
    const entry = snapshot(e);
    listener(kind === 'removed' ? { kind, entry, reason: reason as NeighborRemoveReason } : { kind, entry });
  }
}

function snapshot<T>(e: Entry<T>): NeighborEntry {
  return {
    ip: e.ip,
    mac: e.mac === undefined ? undefined : e.mac.slice(),
    state: e.state,
    confirmedAt: e.confirmedAt,
    queued: e.queue.length,
  };
}
