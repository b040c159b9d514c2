/**
 * The transport demux table: endpoints by (local address, local port, remote address, remote
 * port), addresses being `IpAddr` numbers (IPv4, or IPv6 ids), looked up for an incoming
 * packet in gVisor's order:
 *
 *   1. the exact 4-tuple (an established TCP connection, a connected UDP socket);
 *   2. the wildcard local address with the packet's remote (connected, bound to 0.0.0.0 / ::);
 *   3. a listener on (local address, local port), any remote;
 *   4. a listener on (wildcard, local port), any remote.
 *
 * The wildcard is per family: `IP_ANY4` (0) for IPv4 packets, `IP_ANY6` (2^32) for IPv6 ones,
 * chosen by one compare on the packet's destination. A dual-stack endpoint (a listener or a UDP
 * socket on `::` without ipv6Only, as Linux with bindv6only = 0) is stored under both
 * wildcards (`insertDualStack`).
 *
 * Layout: a Map keyed by the local half `localAddr * 65536 + localPort` (48 bits, exact in a
 * double) holding a Map keyed by the remote half `remoteAddr * 65536 + remotePort` (0 for "any
 * remote"). Keys are numbers computed with one multiply-add: no strings, arrays or objects are
 * built per packet, and every comparison is exact (no hash collisions to resolve, unlike folding
 * 96 bits into one 53-bit key). A lookup reads at most two outer entries (the packet's own local
 * half and the wildcard one) and reuses each inner map for both of its steps, so every step
 * costs one inner `Map.get`; an established connection is found with two gets in total. A local
 * half with a single remote (an active open's ephemeral port) holds that entry alone, not a Map.
 *
 * Pure and generic: E is whatever the wiring stores (a Subject, a TCP control block, ...).
 */
import { IP_ANY4, IP_ANY6, IPV6_ID_BASE, type IpAddr } from '../ip/address-book.js';

export type EndpointInsert = 'ok' | 'EADDRINUSE';

/** One row of the table, as iteration yields it. */
export interface EndpointEntry<E> {
  readonly localAddr: IpAddr;
  readonly localPort: number;
  readonly remoteAddr: IpAddr;
  readonly remotePort: number;
  readonly endpoint: E;
}

/** The number key of an (address, port) half: 48 bits, exact in a double. */
export function halfKey(addr: IpAddr, port: number): number {
  return addr * 65536 + port;
}

/**
 * A local half with one remote half under it (a connection from an ephemeral port, the usual
 * case for every active open): the entry itself rather than a Map of one, which costs about
 * 180 bytes (the Map and its smallest hash table) per connection. Becomes a Map at the second.
 */
class OneRemote<E> {
  constructor(
    /** PARKED when the holder is empty (see EndpointTable's #parked). */
    public rk: number,
    public endpoint: E | undefined,
  ) {}
}

/** An emptied OneRemote's remote key: no remote half has it (keys are 0 or more). */
const PARKED = -1;

type Remotes<E> = Map<number, E> | OneRemote<E>;

/** The endpoint under remote half `rk`, or undefined. */
function remoteGet<E>(inner: Remotes<E>, rk: number): E | undefined {
  if (inner instanceof OneRemote) return inner.rk === rk ? inner.endpoint : undefined;
  return inner.get(rk);
}

/** `E extends {}`: any value but null and undefined, so a lookup miss is unambiguous. */
export class EndpointTable<E extends {}> {
  readonly #byLocal = new Map<number, Remotes<E>>();
  #size = 0;
  /**
   * The last lookup that found an endpoint, and its key: a request/response flow looks up the
   * same 4-tuple for every packet, and four compares answer it without the two keys (doubles)
   * and the two map reads. Forgotten on every insert, remove and clear (any of which may change
   * what a key finds, e.g. a connection inserted beside the listener that matched).
   */
  #lastEndpoint: E | undefined;
  #lastLocalAddr = -1;
  #lastLocalPort = -1;
  #lastRemoteAddr = -1;
  #lastRemotePort = -1;
  /**
   * The local half whose one remote was removed last, its emptied holder kept in #byLocal
   * (PARKED), or PARKED. A server's connections all share one local half (its address and
   * port): deleting that key from the Map when a connection goes and setting it again when the
   * next one comes made V8 rebuild the Map's hash table every few connections (Runtime_MapGrow,
   * about 0.7 % of serve's samples under TCP_CRR); the next connection on the same half now
   * refills the holder. One holder at most, so active opens (a new ephemeral half each) keep no
   * more than one empty key.
   */
  #parked = PARKED;

  /** Number of entries stored (a dual-stack endpoint counts twice). */
  get size(): number {
    return this.#size;
  }

  /**
   * Stores `endpoint` under the exact key. A remote of (0, 0) makes it a listener (any remote);
   * a local address of IP_ANY4 (IP_ANY6) makes it match every local address of its family.
   * 'EADDRINUSE' when the key is taken.
   */
  insert(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number, endpoint: E): EndpointInsert {
    const lk = halfKey(localAddr, localPort);
    const rk = halfKey(remoteAddr, remotePort);
    const inner = this.#byLocal.get(lk);
    if (inner === undefined) {
      this.#byLocal.set(lk, new OneRemote(rk, endpoint));
    } else if (lk === this.#parked) {
      (inner as OneRemote<E>).rk = rk;
      (inner as OneRemote<E>).endpoint = endpoint;
      this.#parked = PARKED;
    } else if (remoteGet(inner, rk) !== undefined) {
      return 'EADDRINUSE';
    } else if (inner instanceof OneRemote) {
      // Not parked (that case is above): it holds an endpoint.
      this.#byLocal.set(lk, new Map<number, E>([[inner.rk, inner.endpoint as E], [rk, endpoint]]));
    } else {
      inner.set(rk, endpoint);
    }
    this.#size++;
    this.#lastEndpoint = undefined;
    return 'ok';
  }

  /**
   * Removes the entry under the exact key. With `endpoint` given, removes only if that very
   * endpoint is stored there (a late teardown must not evict a newer endpoint on the same key).
   */
  remove(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number, endpoint?: E): boolean {
    const lk = halfKey(localAddr, localPort);
    const inner = this.#byLocal.get(lk);
    if (inner === undefined) return false;
    const rk = halfKey(remoteAddr, remotePort);
    const held = remoteGet(inner, rk);
    if (held === undefined) return false;
    if (endpoint !== undefined && held !== endpoint) return false;
    if (inner instanceof OneRemote) {
      if (this.#parked !== PARKED) this.#byLocal.delete(this.#parked);
      inner.rk = PARKED;
      inner.endpoint = undefined;
      this.#parked = lk;
    } else {
      inner.delete(rk);
      if (inner.size === 0) this.#byLocal.delete(lk);
    }
    this.#size--;
    this.#lastEndpoint = undefined;
    return true;
  }

  /**
   * Stores a dual-stack endpoint under both wildcards, `(IP_ANY4, localPort)` and
   * `(IP_ANY6, localPort)`, with the given remote: both or neither ('EADDRINUSE').
   */
  insertDualStack(localPort: number, remoteAddr: IpAddr, remotePort: number, endpoint: E): EndpointInsert {
    if (this.has(IP_ANY4, localPort, remoteAddr, remotePort) || this.has(IP_ANY6, localPort, remoteAddr, remotePort)) return 'EADDRINUSE';
    this.insert(IP_ANY4, localPort, remoteAddr, remotePort, endpoint);
    this.insert(IP_ANY6, localPort, remoteAddr, remotePort, endpoint);
    return 'ok';
  }

  /** Removes what `insertDualStack` stored (only entries holding `endpoint`). */
  removeDualStack(localPort: number, remoteAddr: IpAddr, remotePort: number, endpoint: E): boolean {
    const a = this.remove(IP_ANY4, localPort, remoteAddr, remotePort, endpoint);
    const b = this.remove(IP_ANY6, localPort, remoteAddr, remotePort, endpoint);
    return a || b;
  }

  /** The endpoint under exactly this key (no wildcard matching). */
  get(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number): E | undefined {
    const inner = this.#byLocal.get(halfKey(localAddr, localPort));
    return inner === undefined ? undefined : remoteGet(inner, halfKey(remoteAddr, remotePort));
  }

  /** True when the exact key is taken: `insert` would answer EADDRINUSE. */
  has(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number): boolean {
    return this.get(localAddr, localPort, remoteAddr, remotePort) !== undefined;
  }

  /**
   * The endpoint an incoming packet belongs to: `localAddr`/`localPort` are the packet's
   * destination, `remoteAddr`/`remotePort` its source. Undefined when nothing matches (the
   * protocol then answers with a RST or an ICMP port unreachable).
   */
  lookup(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number): E | undefined {
    const last = this.#lastEndpoint;
    if (last !== undefined && localPort === this.#lastLocalPort && remotePort === this.#lastRemotePort
      && localAddr === this.#lastLocalAddr && remoteAddr === this.#lastRemoteAddr) return last;
    // An empty table (a NAT's UDP, where every datagram goes to the forwarder) misses without
    // making the two keys (doubles) and reading the map twice.
    if (this.#size === 0) return undefined;
    const e = this.#find(localAddr, localPort, remoteAddr, remotePort);
    if (e !== undefined) {
      this.#lastEndpoint = e;
      this.#lastLocalAddr = localAddr;
      this.#lastLocalPort = localPort;
      this.#lastRemoteAddr = remoteAddr;
      this.#lastRemotePort = remotePort;
    }
    return e;
  }

  #find(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number): E | undefined {
    const rk = remoteAddr * 65536 + remotePort;
    // E excludes undefined and null (`E extends {}`), so `!== undefined` means found.
    const exactLocal = this.#byLocal.get(localAddr * 65536 + localPort);
    if (exactLocal !== undefined) {
      const e = remoteGet(exactLocal, rk); // 1. exact 4-tuple
      if (e !== undefined) return e;
    }
    // The wildcard of the packet's family: one compare, no extra lookup.
    const any = localAddr >= IPV6_ID_BASE ? IP_ANY6 : IP_ANY4;
    const anyLocal = localAddr === any ? undefined : this.#byLocal.get(any * 65536 + localPort);
    if (anyLocal !== undefined) {
      const e = remoteGet(anyLocal, rk); // 2. wildcard local address, this remote
      if (e !== undefined) return e;
    }
    if (exactLocal !== undefined) {
      const e = remoteGet(exactLocal, 0); // 3. listener on (localAddr, localPort)
      if (e !== undefined) return e;
    }
    if (anyLocal !== undefined) return remoteGet(anyLocal, 0); // 4. listener on (wildcard, localPort)
    return undefined;
  }

  /** Every entry, for snapshots and teardown. Do not insert or remove while iterating. */
  *entries(): IterableIterator<EndpointEntry<E>> {
    for (const [lk, inner] of this.#byLocal) {
      const localAddr = Math.floor(lk / 65536);
      const localPort = lk % 65536;
      if (inner instanceof OneRemote) {
        const endpoint = inner.endpoint;
        if (endpoint !== undefined) yield { localAddr, localPort, remoteAddr: Math.floor(inner.rk / 65536), remotePort: inner.rk % 65536, endpoint };
        continue;
      }
      for (const [rk, endpoint] of inner) {
        yield { localAddr, localPort, remoteAddr: Math.floor(rk / 65536), remotePort: rk % 65536, endpoint };
      }
    }
  }

  [Symbol.iterator](): IterableIterator<EndpointEntry<E>> {
    return this.entries();
  }

  /** Removes everything. */
  clear(): void {
    this.#byLocal.clear();
    this.#parked = PARKED;
    this.#size = 0;
    this.#lastEndpoint = undefined;
  }
}
