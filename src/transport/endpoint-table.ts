/**
 * The transport demux table: endpoints by (local address, local port, remote address, remote
 * port), with 0 as the wildcard, looked up for an incoming packet in gVisor's order:
 *
 *   1. the exact 4-tuple (an established TCP connection, a connected UDP socket);
 *   2. the wildcard local address with the packet's remote (connected, bound to 0.0.0.0);
 *   3. a listener on (local address, local port), any remote;
 *   4. a listener on (0.0.0.0, local port), any remote.
 *
 * Layout: a Map keyed by the local half `localAddr * 65536 + localPort` (48 bits, exact in a
 * double) holding a Map keyed by the remote half `remoteAddr * 65536 + remotePort` (0 for "any
 * remote"). Keys are numbers computed with one multiply-add: no strings, arrays or objects are
 * built per packet, and every comparison is exact (no hash collisions to resolve, unlike folding
 * 96 bits into one 53-bit key). A lookup reads at most two outer entries (the packet's own local
 * half and the wildcard one) and reuses each inner map for both of its steps, so every step
 * costs one inner `Map.get`; an established connection is found with two gets in total.
 *
 * Pure and generic: E is whatever the wiring stores (a Subject, a TCP control block, ...).
 */
import type { Ipv4Addr } from '../ipv4/address.js';

export type EndpointInsert = 'ok' | 'EADDRINUSE';

/** One row of the table, as iteration yields it. */
export interface EndpointEntry<E> {
  readonly localAddr: Ipv4Addr;
  readonly localPort: number;
  readonly remoteAddr: Ipv4Addr;
  readonly remotePort: number;
  readonly endpoint: E;
}

/** The number key of an (address, port) half: 48 bits, exact in a double. */
export function halfKey(addr: Ipv4Addr, port: number): number {
  return addr * 65536 + port;
}

/** `E extends {}`: any value but null and undefined, so a lookup miss is unambiguous. */
export class EndpointTable<E extends {}> {
  readonly #byLocal = new Map<number, Map<number, E>>();
  #size = 0;

  /** Number of endpoints stored. */
  get size(): number {
    return this.#size;
  }

  /**
   * Stores `endpoint` under the exact key. A remote of (0, 0) makes it a listener (any remote);
   * a local address of 0 makes it match every local address. 'EADDRINUSE' when the key is taken.
   */
  insert(localAddr: Ipv4Addr, localPort: number, remoteAddr: Ipv4Addr, remotePort: number, endpoint: E): EndpointInsert {
    const lk = halfKey(localAddr, localPort);
    const rk = halfKey(remoteAddr, remotePort);
    let inner = this.#byLocal.get(lk);
    if (inner === undefined) {
      inner = new Map();
      this.#byLocal.set(lk, inner);
    } else if (inner.has(rk)) {
      return 'EADDRINUSE';
    }
    inner.set(rk, endpoint);
    this.#size++;
    return 'ok';
  }

  /**
   * Removes the entry under the exact key. With `endpoint` given, removes only if that very
   * endpoint is stored there (a late teardown must not evict a newer endpoint on the same key).
   */
  remove(localAddr: Ipv4Addr, localPort: number, remoteAddr: Ipv4Addr, remotePort: number, endpoint?: E): boolean {
    const lk = halfKey(localAddr, localPort);
    const inner = this.#byLocal.get(lk);
    if (inner === undefined) return false;
    const rk = halfKey(remoteAddr, remotePort);
    if (!inner.has(rk)) return false;
    if (endpoint !== undefined && inner.get(rk) !== endpoint) return false;
    inner.delete(rk);
    if (inner.size === 0) this.#byLocal.delete(lk);
    this.#size--;
    return true;
  }

  /** The endpoint under exactly this key (no wildcard matching). */
  get(localAddr: Ipv4Addr, localPort: number, remoteAddr: Ipv4Addr, remotePort: number): E | undefined {
    return this.#byLocal.get(halfKey(localAddr, localPort))?.get(halfKey(remoteAddr, remotePort));
  }

  /** True when the exact key is taken: `insert` would answer EADDRINUSE. */
  has(localAddr: Ipv4Addr, localPort: number, remoteAddr: Ipv4Addr, remotePort: number): boolean {
    return this.#byLocal.get(halfKey(localAddr, localPort))?.has(halfKey(remoteAddr, remotePort)) === true;
  }

  /**
   * The endpoint an incoming packet belongs to: `localAddr`/`localPort` are the packet's
   * destination, `remoteAddr`/`remotePort` its source. Undefined when nothing matches (the
   * protocol then answers with a RST or an ICMP port unreachable).
   */
  lookup(localAddr: Ipv4Addr, localPort: number, remoteAddr: Ipv4Addr, remotePort: number): E | undefined {
    const rk = remoteAddr * 65536 + remotePort;
    // E excludes undefined and null (`E extends {}`), so `!== undefined` means found.
    const exactLocal = this.#byLocal.get(localAddr * 65536 + localPort);
    if (exactLocal !== undefined) {
      const e = exactLocal.get(rk); // 1. exact 4-tuple
      if (e !== undefined) return e;
    }
    const anyLocal = localAddr === 0 ? undefined : this.#byLocal.get(localPort);
    if (anyLocal !== undefined) {
      const e = anyLocal.get(rk); // 2. wildcard local address, this remote
      if (e !== undefined) return e;
    }
    if (exactLocal !== undefined) {
      const e = exactLocal.get(0); // 3. listener on (localAddr, localPort)
      if (e !== undefined) return e;
    }
    if (anyLocal !== undefined) return anyLocal.get(0); // 4. listener on (0, localPort)
    return undefined;
  }

  /** Every entry, for snapshots and teardown. Do not insert or remove while iterating. */
  *entries(): IterableIterator<EndpointEntry<E>> {
    for (const [lk, inner] of this.#byLocal) {
      const localAddr = Math.floor(lk / 65536);
      const localPort = lk % 65536;
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
    this.#size = 0;
  }
}
