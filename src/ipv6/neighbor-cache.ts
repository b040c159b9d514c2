/**
 * The neighbour cache of one interface for IPv6: address -> MAC with RFC 4861's Neighbor
 * Unreachability Detection (7.3), pure like the ARP cache (src/arp/neighbor-cache.ts): `now` (ms)
 * comes in, and what the wiring must do goes out as actions, in the same vocabulary.
 *
 * Why a second cache rather than the ARP one: the state machines differ where it matters. ARP's
 * `stale` sends a unicast request at once on use and ages entries out by time; RFC 4861 7.3.3
 * waits DELAY_FIRST_PROBE_TIME after the first use (an upper layer may confirm reachability in
 * the meantime, and then no probe is sent at all), then PROBEs by unicast MAX_UNICAST_SOLICIT
 * times, and only then deletes; entries learnt from solicitations start STALE, not reachable;
 * advertisements carry Router/Solicited/Override flags with rules of their own (7.2.5); each
 * entry knows whether the neighbour is a router (the default router list depends on it); and
 * the key is a 16-byte address (`Ipv6AddressMap`). The queue bounds, the token bucket on
 * solicitations, the action kinds and the configuration names are ARP's, so the wiring of both
 * reads alike.
 *
 *   resolve(ip, packet, now) -> { mac, actions }  per outbound packet to a unicast next hop
 *   advert(target, flags, linkAddr, now)        a received NA (7.2.5)
 *   learn(ip, linkAddr, now, isRouter?)         a source link-layer address option in an NS, RS
 *                                               or RA, or a redirect's target address (7.2.3,
 *                                               6.2.6, 6.3.4, 8.3)
 *   confirm(ip, now)                            upper-layer evidence of reachability (7.3.1)
 *   expire(now)                                 when nextDeadline() comes: retries, DELAY -> PROBE,
 *                                               failures, aging
 *
 * Actions, to be carried out in the order given:
 *   { kind: 'solicit', ip, mac }           send an NS for `ip`: to its solicited-node group when
 *                                          `mac` is undefined (resolution), unicast to `mac` (probe)
 *   { kind: 'send', ip, mac, packets }     `ip` resolved: send these queued packets to `mac`
 *   { kind: 'fail', ip, code, packets }    resolution failed: these packets fail (EHOSTUNREACH;
 *                                          forwarded ones earn ICMPv6 address unreachable, RFC 4861 7.2.2)
 *   { kind: 'drop', ip, reason, packets }  dropped for lack of room (counted)
 *
 * States (RFC 4861 7.3.2, plus `static` for entries the user adds):
 *   incomplete  resolving; packets queue; up to maxMulticastSolicit NS, retransTimerMs apart,
 *               then the resolution fails.
 *   reachable   confirmed within reachableTimeMs; then stale (lazily, on the next look).
 *   stale       still used; the first use moves it to delay. Removed when unused for
 *               staleTimeMs (RFC 4861 leaves garbage collection to the implementation; Linux
 *               gc_staletime is 60 s), or evicted first when the table is full.
 *   delay       used recently while stale; after delayFirstProbeMs without confirmation: probe.
 *   probe       unicast NS every retransTimerMs, maxUnicastSolicit times; no answer: removed
 *               (reason 'failed'; the wiring drops it from the default router list if it was one).
 *   static      never changes by traffic, never expires.
 */

import type { MacAddr } from '../mac.js';
import { macEquals } from '../mac.js';
import { TokenBucket } from '../icmp/rate-limiter.js';
import { isIpv6Multicast, isIpv6Unspecified, type Ipv6Addr } from './address.js';
import { Ipv6AddressMap } from './address-map.js';

export type Ipv6NeighborState = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe' | 'static';

/** Configuration; RFC 4861 10 constants as defaults. Times in ms. */
export interface Ipv6NeighborCacheConfig {
  /** REACHABLE_TIME: how long a confirmation lasts. An RA may change it (`setTimers`). Default 30 000. */
  reachableTimeMs: number;
  /** RetransTimer: ms between solicitations. An RA may change it. Default 1000. */
  retransTimerMs: number;
  /** DELAY_FIRST_PROBE_TIME. Default 5000. */
  delayFirstProbeMs: number;
  /** MAX_MULTICAST_SOLICIT: NS sent for a resolution before it fails. Default 3. */
  maxMulticastSolicit: number;
  /** MAX_UNICAST_SOLICIT: probes before a neighbour is declared unreachable. Default 3. */
  maxUnicastSolicit: number;
  /** ms a stale entry may go unused before it is removed. Default 60 000. */
  staleTimeMs: number;
  /** Packets held per address being resolved (oldest dropped). Default 64, as ARP. */
  maxQueuePerDestination: number;
  /** Packets held across all addresses being resolved. Default 512, as ARP. */
  maxQueuedPackets: number;
  /** Dynamic entries; a full table evicts the least recently confirmed resolved one. Default 1024. */
  maxEntries: number;
  /** Solicitations per second, all addresses together (token bucket). Default 50. */
  solicitRatePerSecond: number;
  /** Solicitations sent back to back. Default 50. */
  solicitBurst: number;
}

export const IPV6_NEIGHBOR_CACHE_DEFAULTS: Readonly<Ipv6NeighborCacheConfig> = Object.freeze({
  reachableTimeMs: 30_000,
  retransTimerMs: 1_000,
  delayFirstProbeMs: 5_000,
  maxMulticastSolicit: 3,
  maxUnicastSolicit: 3,
  staleTimeMs: 60_000,
  maxQueuePerDestination: 64,
  maxQueuedPackets: 512,
  maxEntries: 1024,
  solicitRatePerSecond: 50,
  solicitBurst: 50,
});

export interface Ipv6NeighborEntry {
  /** A copy. */
  readonly ip: Ipv6Addr;
  /** A copy; undefined while incomplete. */
  readonly mac: MacAddr | undefined;
  readonly state: Ipv6NeighborState;
  readonly isRouter: boolean;
  readonly confirmedAt: number;
  readonly queued: number;
}

export type Ipv6NeighborRemoveReason = 'expired' | 'failed' | 'unreachable' | 'evicted' | 'deleted';

export type Ipv6NeighborChange =
  | { readonly kind: 'added'; readonly entry: Ipv6NeighborEntry }
  | { readonly kind: 'updated'; readonly entry: Ipv6NeighborEntry }
  | { readonly kind: 'removed'; readonly entry: Ipv6NeighborEntry; readonly reason: Ipv6NeighborRemoveReason };

export type Ipv6NeighborAction<T> =
  | { readonly kind: 'solicit'; readonly ip: Ipv6Addr; readonly mac: MacAddr | undefined }
  | { readonly kind: 'send'; readonly ip: Ipv6Addr; readonly mac: MacAddr; readonly packets: T[] }
  | { readonly kind: 'fail'; readonly ip: Ipv6Addr; readonly code: 'EHOSTUNREACH'; readonly packets: T[] }
  | { readonly kind: 'drop'; readonly ip: Ipv6Addr; readonly reason: 'queueFull' | 'tableFull'; readonly packets: T[] };

export interface Ipv6Resolution<T> {
  readonly mac: MacAddr | undefined;
  readonly actions: readonly Ipv6NeighborAction<T>[];
}

/** The flags of a neighbour advertisement (RFC 4861 4.4). */
export interface NeighborAdvertFlags {
  readonly router: boolean;
  readonly solicited: boolean;
  readonly override: boolean;
}

export interface Ipv6NeighborCounters {
  solicitsSent: number;
  solicitsRateLimited: number;
  resolved: number;
  /** Resolutions that failed (incomplete, no answer). */
  failed: number;
  /** Neighbours declared unreachable after probing. */
  unreachable: number;
  /** Probes avoided because an upper layer confirmed reachability during DELAY. */
  probesAvoided: number;
  queueDrops: number;
  tableFullDrops: number;
  /** Advertisements for addresses not in the cache (RFC 4861 7.2.5: silently discarded). */
  advertsIgnored: number;
  evicted: number;
}

interface Entry<T> {
  readonly ip: Ipv6Addr;
  state: Ipv6NeighborState;
  mac: MacAddr | undefined;
  isRouter: boolean;
  confirmedAt: number;
  lastUsedAt: number;
  queue: T[];
  seqs: number[];
  /** Solicitations sent in this incomplete or probe phase. */
  probes: number;
  /** incomplete/probe: next solicitation (or failure); delay: the switch to probe. */
  nextAt: number;
  fast: Ipv6Resolution<T> | undefined;
}

const NO_ACTIONS: readonly never[] = Object.freeze([]);

export class Ipv6NeighborCache<T> {
  readonly config: Ipv6NeighborCacheConfig;
  readonly counters: Ipv6NeighborCounters = {
    solicitsSent: 0,
    solicitsRateLimited: 0,
    resolved: 0,
    failed: 0,
    unreachable: 0,
    probesAvoided: 0,
    queueDrops: 0,
    tableFullDrops: 0,
    advertsIgnored: 0,
    evicted: 0,
  };
  onChange: ((change: Ipv6NeighborChange) => void) | undefined;

  readonly #table: Ipv6AddressMap<Entry<T>>;
  readonly #pending = new Set<Entry<T>>();
  readonly #bucket: TokenBucket;
  #queued = 0;
  #static = 0;
  #seq = 0;
  /** Never later than the true next deadline. */
  #deadline = Infinity;

  /** `seed`: the address map's hash secret (tests pass one; default random). */
  constructor(config: Readonly<Partial<Ipv6NeighborCacheConfig>> = {}, seed?: number) {
    this.config = { ...IPV6_NEIGHBOR_CACHE_DEFAULTS, ...config };
    this.#bucket = new TokenBucket(this.config.solicitRatePerSecond, this.config.solicitBurst);
    this.#table = new Ipv6AddressMap(seed);
  }

  get size(): number {
    return this.#table.size;
  }

  get queuedPackets(): number {
    return this.#queued;
  }

  /** Applies an RA's Reachable Time and Retrans Timer (RFC 4861 6.3.4; 0 means unspecified: keep). */
  setTimers(reachableTimeMs: number, retransTimerMs: number): void {
    if (reachableTimeMs > 0) this.config.reachableTimeMs = reachableTimeMs;
    if (retransTimerMs > 0) this.config.retransTimerMs = retransTimerMs;
  }

  /** The MAC of `ip` if known, without side effects beyond aging. */
  lookup(ip: Ipv6Addr, now: number): MacAddr | undefined {
    const e = this.#table.get(ip);
    if (e === undefined || e.state === 'incomplete') return undefined;
    return this.#age(e, now) ? e.mac : undefined;
  }

  /** True when `ip` is cached as a router. */
  isRouter(ip: Ipv6Addr): boolean {
    return this.#table.get(ip)?.isRouter === true;
  }

  /** Where to send `packet` for the unicast next hop `ip`. */
  resolve(ip: Ipv6Addr, packet: T, now: number): Ipv6Resolution<T> {
    const e = this.#table.get(ip);
    if (e === undefined) {
      const actions: Ipv6NeighborAction<T>[] = [];
      if (!this.#makeRoom()) {
        this.counters.tableFullDrops++;
        actions.push({ kind: 'drop', ip, reason: 'tableFull', packets: [packet] });
        return { mac: undefined, actions };
      }
      const n = this.#newEntry(ip, 'incomplete', undefined, now);
      this.#table.set(ip, n);
      this.#enqueue(n, packet, actions);
      this.#emit('added', n);
      this.#solicit(n, now, undefined, actions);
      n.probes = 1;
      n.nextAt = now + this.config.retransTimerMs;
      this.#noteDeadline(n.nextAt);
      return { mac: undefined, actions };
    }
    e.lastUsedAt = now;
    switch (e.state) {
      case 'incomplete': {
        const actions: Ipv6NeighborAction<T>[] = [];
        this.#enqueue(e, packet, actions);
        return { mac: undefined, actions: actions.length === 0 ? NO_ACTIONS : actions };
      }
      case 'reachable':
        if (now < e.confirmedAt + this.config.reachableTimeMs) return e.fast as Ipv6Resolution<T>;
        return this.#firstStaleUse(e, now); // reachable had lapsed into stale
      case 'stale':
        return this.#firstStaleUse(e, now);
      default:
        return e.fast as Ipv6Resolution<T>;
    }
  }

  /**
   * RFC 4861 7.3.3: a stale entry is used as it is, and upper layers get DELAY_FIRST_PROBE_TIME
   * to confirm reachability before a probe is sent.
   */
  #firstStaleUse(e: Entry<T>, now: number): Ipv6Resolution<T> {
    this.#setState(e, 'delay');
    e.nextAt = now + this.config.delayFirstProbeMs;
    this.#noteDeadline(e.nextAt);
    return e.fast as Ipv6Resolution<T>;
  }

  /**
   * A neighbour advertisement for `target` arrived (RFC 4861 7.2.5). `linkAddr` is its target
   * link-layer address option (a view is fine: it is copied).
   */
  advert(target: Ipv6Addr, flags: NeighborAdvertFlags, linkAddr: Uint8Array | undefined, now: number): Ipv6NeighborAction<T>[] {
    const e = this.#table.get(target);
    if (e === undefined) {
      this.counters.advertsIgnored++;
      return [];
    }
    if (e.state === 'static') return [];
    if (e.state === 'incomplete') {
      if (linkAddr === undefined) return [];
      const packets = e.queue;
      this.#unqueueAll(e);
      this.#setMac(e, linkAddr);
      e.isRouter = flags.router;
      e.confirmedAt = now;
      this.counters.resolved++;
      this.#setState(e, flags.solicited ? 'reachable' : 'stale', true);
      this.#noteAging(e, now);
      return packets.length === 0 ? [] : [{ kind: 'send', ip: e.ip, mac: e.mac as MacAddr, packets }];
    }
    const differs = linkAddr !== undefined && !macEquals(linkAddr, 0, e.mac as MacAddr, 0);
    if (!flags.override && differs) {
      // Keep the cached address, but doubt it.
      if (e.state === 'reachable') this.#setState(e, 'stale');
      this.#noteAging(e, now);
      return [];
    }
    let changed = e.isRouter !== flags.router;
    e.isRouter = flags.router;
    if (differs) {
      this.#setMac(e, linkAddr as Uint8Array);
      changed = true;
    }
    if (flags.solicited) {
      e.confirmedAt = now;
      if (e.state !== 'reachable') {
        this.#setState(e, 'reachable', true);
        changed = false;
      }
    } else if (differs && e.state !== 'stale') {
      this.#setState(e, 'stale', true);
      changed = false;
    }
    if (changed) this.#emit('updated', e);
    this.#noteAging(e, now);
    return [];
  }

  /**
   * A link-layer address for `ip` seen in a solicitation, an RA (isRouter true), an RS (false)
   * or a redirect (RFC 4861 7.2.3, 6.3.4, 6.2.6, 8.3): a new entry starts stale; a changed
   * address makes it stale; an incomplete entry is resolved (stale) and its packets released.
   */
  learn(ip: Ipv6Addr, linkAddr: Uint8Array, now: number, isRouter?: boolean): Ipv6NeighborAction<T>[] {
    if (isIpv6Unspecified(ip) || isIpv6Multicast(ip) || (linkAddr[0] & 1) !== 0) return [];
    const e = this.#table.get(ip);
    if (e === undefined) {
      if (!this.#makeRoom()) return [];
      const n = this.#newEntry(ip, 'stale', linkAddr, now);
      n.isRouter = isRouter === true;
      this.#table.set(ip, n);
      this.#emit('added', n);
      this.#noteAging(n, now);
      return [];
    }
    if (e.state === 'static') return [];
    const routerChanged = isRouter !== undefined && e.isRouter !== isRouter;
    if (isRouter !== undefined) e.isRouter = isRouter;
    if (e.state === 'incomplete') {
      const packets = e.queue;
      this.#unqueueAll(e);
      this.#setMac(e, linkAddr);
      e.confirmedAt = now;
      e.lastUsedAt = now;
      this.counters.resolved++;
      this.#setState(e, 'stale', true);
      this.#noteAging(e, now);
      return packets.length === 0 ? [] : [{ kind: 'send', ip: e.ip, mac: e.mac as MacAddr, packets }];
    }
    if (!macEquals(linkAddr, 0, e.mac as MacAddr, 0)) {
      this.#setMac(e, linkAddr);
      e.lastUsedAt = now;
      this.#setState(e, 'stale', true);
      this.#noteAging(e, now);
    } else if (routerChanged) {
      this.#emit('updated', e);
    }
    return [];
  }

  /** Upper-layer evidence that `ip` is reachable (RFC 4861 7.3.1: TCP progress, for one). */
  confirm(ip: Ipv6Addr, now: number): void {
    const e = this.#table.get(ip);
    if (e === undefined || e.state === 'incomplete' || e.state === 'static') return;
    e.confirmedAt = now;
    if (e.state === 'delay') this.counters.probesAvoided++;
    if (e.state !== 'reachable') this.#setState(e, 'reachable');
    this.#noteAging(e, now);
  }

  /** Adds or replaces a static entry; packets waiting for it are released. */
  addStatic(ip: Ipv6Addr, mac: MacAddr, now: number, isRouter = false): Ipv6NeighborAction<T>[] {
    const old = this.#table.get(ip);
    const packets = old?.queue ?? [];
    if (old !== undefined) this.#unqueueAll(old);
    if (old === undefined || old.state !== 'static') this.#static++;
    const e = this.#newEntry(ip, 'static', mac, now);
    e.isRouter = isRouter;
    this.#table.set(ip, e);
    this.#emit(old === undefined ? 'added' : 'updated', e);
    return packets.length === 0 ? [] : [{ kind: 'send', ip: e.ip, mac: e.mac as MacAddr, packets }];
  }

  /** Removes an entry; packets waiting for it fail. */
  remove(ip: Ipv6Addr): Ipv6NeighborAction<T>[] {
    const e = this.#table.get(ip);
    if (e === undefined) return [];
    const packets = e.queue;
    this.#unqueueAll(e);
    this.#table.delete(ip);
    if (e.state === 'static') this.#static--;
    this.#emit('removed', e, 'deleted');
    return packets.length === 0 ? [] : [{ kind: 'fail', ip: e.ip, code: 'EHOSTUNREACH', packets }];
  }

  /** Runs what is due at `now`: retries, DELAY -> PROBE, failures, aging. */
  expire(now: number): Ipv6NeighborAction<T>[] {
    const actions: Ipv6NeighborAction<T>[] = [];
    let next = Infinity;
    for (const e of [...this.#table.values()]) {
      switch (e.state) {
        case 'static':
          continue;
        case 'incomplete':
          if (now >= e.nextAt) {
            if (e.probes >= this.config.maxMulticastSolicit) {
              this.#fail(e, actions);
              continue;
            }
            this.#solicit(e, now, undefined, actions);
            e.probes++;
            e.nextAt = now + this.config.retransTimerMs;
          }
          next = Math.min(next, e.nextAt);
          continue;
        case 'delay':
          if (now < e.nextAt) {
            next = Math.min(next, e.nextAt);
            continue;
          }
          this.#setState(e, 'probe');
          e.probes = 0;
          next = Math.min(next, this.#probe(e, now, actions));
          continue;
        case 'probe':
          if (now >= e.nextAt) next = Math.min(next, this.#probe(e, now, actions));
          else next = Math.min(next, e.nextAt);
          continue;
        default:
          if (!this.#age(e, now)) continue;
          next = Math.min(next, this.#agingDeadline(e));
      }
    }
    this.#deadline = next;
    return actions;
  }

  /** When `expire` next has work, or undefined. May be early, never late. */
  nextDeadline(): number | undefined {
    return this.#deadline === Infinity ? undefined : this.#deadline;
  }

  entries(): Ipv6NeighborEntry[] {
    const out: Ipv6NeighborEntry[] = [];
    for (const e of this.#table.values()) out.push(snapshot(e));
    return out;
  }

  // -- internals ------------------------------------------------------------------------------

  /** Sends the next unicast probe, or gives the neighbour up. Returns the entry's next deadline. */
  #probe(e: Entry<T>, now: number, actions: Ipv6NeighborAction<T>[]): number {
    if (e.probes >= this.config.maxUnicastSolicit) {
      this.#table.delete(e.ip);
      this.counters.unreachable++;
      this.#emit('removed', e, 'unreachable');
      return Infinity;
    }
    this.#solicit(e, now, e.mac, actions);
    e.probes++;
    e.nextAt = now + this.config.retransTimerMs;
    return e.nextAt;
  }

  /** reachable -> stale after reachableTimeMs; stale removed after staleTimeMs unused. False when removed. */
  #age(e: Entry<T>, now: number): boolean {
    if (e.state === 'reachable' && now >= e.confirmedAt + this.config.reachableTimeMs) this.#setState(e, 'stale');
    if (e.state === 'stale' && now >= Math.max(e.lastUsedAt, e.confirmedAt) + this.config.staleTimeMs) {
      this.#table.delete(e.ip);
      this.#emit('removed', e, 'expired');
      return false;
    }
    return true;
  }

  #agingDeadline(e: Entry<T>): number {
    return e.state === 'reachable'
      ? e.confirmedAt + this.config.reachableTimeMs
      : Math.max(e.lastUsedAt, e.confirmedAt) + this.config.staleTimeMs;
  }

  #noteAging(e: Entry<T>, now: number): void {
    if (e.state === 'reachable' || e.state === 'stale') this.#noteDeadline(Math.max(now, this.#agingDeadline(e)));
  }

  #noteDeadline(at: number): void {
    if (at < this.#deadline) this.#deadline = at;
  }

  #solicit(e: Entry<T>, now: number, mac: MacAddr | undefined, actions: Ipv6NeighborAction<T>[]): void {
    if (!this.#bucket.take(now)) {
      this.counters.solicitsRateLimited++;
      return;
    }
    this.counters.solicitsSent++;
    actions.push({ kind: 'solicit', ip: e.ip, mac });
  }

  #fail(e: Entry<T>, actions: Ipv6NeighborAction<T>[]): void {
    const packets = e.queue;
    this.#unqueueAll(e);
    this.#table.delete(e.ip);
    this.counters.failed++;
    this.#emit('removed', e, 'failed');
    if (packets.length > 0) actions.push({ kind: 'fail', ip: e.ip, code: 'EHOSTUNREACH', packets });
  }

  #enqueue(e: Entry<T>, packet: T, actions: Ipv6NeighborAction<T>[]): void {
    if (e.queue.length >= this.config.maxQueuePerDestination) {
      if (e.queue.length === 0) {
        this.counters.queueDrops++;
        actions.push({ kind: 'drop', ip: e.ip, reason: 'queueFull', packets: [packet] });
        return;
      }
      this.#dropOldestOf(e, actions);
    }
    e.queue.push(packet);
    e.seqs.push(this.#seq++);
    this.#pending.add(e);
    this.#queued++;
    while (this.#queued > this.config.maxQueuedPackets) {
      let oldest: Entry<T> | undefined;
      for (const p of this.#pending) if (oldest === undefined || p.seqs[0] < oldest.seqs[0]) oldest = p;
      this.#dropOldestOf(oldest as Entry<T>, actions);
    }
  }

  #dropOldestOf(e: Entry<T>, actions: Ipv6NeighborAction<T>[]): void {
    const dropped = e.queue.shift() as T;
    e.seqs.shift();
    this.#queued--;
    if (e.queue.length === 0) this.#pending.delete(e);
    this.counters.queueDrops++;
    actions.push({ kind: 'drop', ip: e.ip, reason: 'queueFull', packets: [dropped] });
  }

  #unqueueAll(e: Entry<T>): void {
    this.#queued -= e.queue.length;
    this.#pending.delete(e);
    e.queue = [];
    e.seqs = [];
  }

  /** Room for one more dynamic entry: evicts the least recently confirmed resolved entry. */
  #makeRoom(): boolean {
    if (this.#table.size - this.#static < this.config.maxEntries) return true;
    let victim: Entry<T> | undefined;
    for (const e of this.#table.values()) {
      if (e.state === 'incomplete' || e.state === 'static') continue;
      // Stale entries go before others: nobody has vouched for them lately.
      if (victim === undefined || rank(e) < rank(victim) || (rank(e) === rank(victim) && e.confirmedAt < victim.confirmedAt)) victim = e;
    }
    if (victim === undefined) return false;
    this.#table.delete(victim.ip);
    this.counters.evicted++;
    this.#emit('removed', victim, 'evicted');
    return true;
  }

  #newEntry(ip: Ipv6Addr, state: Ipv6NeighborState, mac: Uint8Array | undefined, now: number): Entry<T> {
    const e: Entry<T> = {
      ip: ip.slice(0, 16),
      state,
      mac: undefined,
      isRouter: false,
      confirmedAt: now,
      lastUsedAt: now,
      queue: [],
      seqs: [],
      probes: 0,
      nextAt: 0,
      fast: undefined,
    };
    if (mac !== undefined) this.#setMac(e, mac);
    return e;
  }

  #setMac(e: Entry<T>, mac: Uint8Array): void {
    const copy = mac.slice(0, 6);
    e.mac = copy;
    e.fast = Object.freeze({ mac: copy, actions: NO_ACTIONS });
  }

  /** Changes state and publishes it (`force`: publish even when the state is unchanged, e.g. a new MAC). */
  #setState(e: Entry<T>, state: Ipv6NeighborState, force = false): void {
    if (e.state === state && !force) return;
    e.state = state;
    this.#emit('updated', e);
  }

  #emit(kind: 'added' | 'updated', e: Entry<T>): void;
  #emit(kind: 'removed', e: Entry<T>, reason: Ipv6NeighborRemoveReason): void;
  #emit(kind: Ipv6NeighborChange['kind'], e: Entry<T>, reason?: Ipv6NeighborRemoveReason): void {
    const listener = this.onChange;
    if (listener === undefined) return;
    const entry = snapshot(e);
    listener(kind === 'removed' ? { kind, entry, reason: reason as Ipv6NeighborRemoveReason } : { kind, entry });
  }
}

function rank(e: { state: Ipv6NeighborState }): number {
  return e.state === 'stale' ? 0 : 1;
}

function snapshot<T>(e: Entry<T>): Ipv6NeighborEntry {
  return {
    ip: e.ip.slice(),
    mac: e.mac === undefined ? undefined : e.mac.slice(),
    state: e.state,
    isRouter: e.isRouter,
    confirmedAt: e.confirmedAt,
    queued: e.queue.length,
  };
}
