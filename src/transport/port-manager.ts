/**
 * Local port reservations for one transport protocol (one PortManager for UDP, one for TCP).
 *
 * A reservation is (local address, port), the address an `IpAddr` (IPv4, or an IPv6 id). A
 * wildcard (`0.0.0.0`, `::`) means every local address of its family, so it conflicts with any
 * specific address of that family on the same port and the other way round, as bind(2) does.
 * A dual-stack reservation (`::` with `dualStack: true`: Linux's bindv6only = 0, Node's default
 * for a server on `::`) covers both families: it conflicts with everything on its port, and
 * everything on the port conflicts with it. The families are otherwise independent (`0.0.0.0`
 * and `::` with ipv6Only coexist). A reservation made with `shared: true` may coexist with other shared reservations of
 * the same (or an overlapping) address and port, like SO_REUSEADDR on a UDP socket in Node
 * (`dgram.createSocket({ reuseAddr: true })`); every holder must ask for sharing, and each
 * holder releases once.
 *
 * Ports are reserved exclusively per address, not per connection: a TCP connection accepted on
 * a listener uses the listener's port without a reservation of its own, and uniqueness of the
 * 4-tuple is the EndpointTable's job (its `insert` answers EADDRINUSE). A connection left in
 * TIME_WAIT holds only its endpoint-table entry, so a new listener may bind its port again at
 * once, as Node's servers do (they set SO_REUSEADDR).
 */
import { IP_ANY4, IP_ANY6, IPV6_ID_BASE, type IpAddr } from '../ip/address-book.js';
import { NetstackError } from '../errors.js';

/** The IANA dynamic range (RFC 6335), the default for ephemeral ports. */
export const DEFAULT_EPHEMERAL_RANGE: readonly [number, number] = Object.freeze([49152, 65535] as const);

export type PortReservation = 'ok' | 'EADDRINUSE';

export interface PortManagerOptions {
  /** Inclusive range ephemeral ports are drawn from. Default 49152..65535. */
  readonly ephemeralRange?: readonly [number, number];
  /** Source of randomness in [0, 1) for the search start. Default `Math.random`. */
  readonly random?: () => number;
}

export interface ReserveOptions {
  /** Share the (address, port) with other holders that also asked to share. Default false. */
  readonly shared?: boolean;
  /** With `::`: hold the port on every address of both families (dual stack). Default false. */
  readonly dualStack?: boolean;
}

/** Holders of one (address, port). */
interface Holders {
  /** The address held (the key of the per-port map, kept here for a port with one address). */
  readonly addr: IpAddr;
  count: number;
  shared: boolean;
  /** A dual-stack `::` (covers IPv4 too). */
  dual: boolean;
}

/**
 * What one port holds: its only address's holders (the usual case: an ephemeral port of one
 * connection), or a Map by address once there are two. A Map of one would cost about 180 bytes
 * (the Map and its smallest hash table) per connection.
 */
type PortHolders = Holders | Map<IpAddr, Holders>;

function holdersOf(p: PortHolders, addr: IpAddr): Holders | undefined {
  if (p instanceof Map) return p.get(addr);
  return p.addr === addr ? p : undefined;
}

export class PortManager {
  readonly ephemeralRange: readonly [number, number];
  readonly #random: () => number;
  /** port -> holders, by address when several. Per-port maps stay tiny: one entry per bound address. */
  readonly #ports = new Map<number, PortHolders>();

  constructor(options: PortManagerOptions = {}) {
    const [lo, hi] = options.ephemeralRange ?? DEFAULT_EPHEMERAL_RANGE;
    if (!isPort(lo) || !isPort(hi) || lo < 1 || lo > hi) {
      throw new NetstackError('ERR_INVALID_ARG_VALUE', `ephemeral port range [${lo}, ${hi}] is not 1 <= lo <= hi <= 65535`);
    }
    this.ephemeralRange = Object.freeze([lo, hi] as const);
    this.#random = options.random ?? Math.random;
  }

  /**
   * Reserves `port` on `addr` (a wildcard = every address of its family; `::` with
   * `dualStack` = every address). Answers 'EADDRINUSE' when an overlapping
   * reservation exists and the two do not both share. Throws ERR_INVALID_ARG_VALUE for a port
   * outside 1..65535 (port 0 means "pick one": use `allocateEphemeral`).
   */
  reserve(addr: IpAddr, port: number, options?: ReserveOptions): PortReservation {
    checkPort(port);
    const shared = options?.shared === true;
    const dual = isDual(addr, options);
    if (!this.#free(addr, port, shared, dual)) return 'EADDRINUSE';
    this.#add(addr, port, shared, dual);
    return 'ok';
  }

  /** True when `reserve(addr, port, options)` would succeed. Reserves nothing. */
  isFree(addr: IpAddr, port: number, options?: ReserveOptions): boolean {
    checkPort(port);
    return this.#free(addr, port, options?.shared === true, isDual(addr, options));
  }

  /** True when anything holds `port` on exactly `addr`. */
  isReserved(addr: IpAddr, port: number): boolean {
    const p = this.#ports.get(port);
    return p !== undefined && holdersOf(p, addr) !== undefined;
  }

  /** True when nothing holds `port` on any address of either family. */
  isUnused(port: number): boolean {
    return !this.#ports.has(port);
  }

  /**
   * Reserves a free port from the ephemeral range for `addr` and returns it, or undefined when
   * every port is taken (the caller raises EADDRINUSE or EADDRNOTAVAIL). Like RFC 6056's
   * algorithm 1, the search starts at a random offset and walks the range in order, so the next
   * port is hard to guess off-path. `filter` may veto a port (e.g. TCP checking a 4-tuple).
   */
  allocateEphemeral(addr: IpAddr, filter?: (port: number) => boolean, options?: ReserveOptions): number | undefined {
    const [lo, hi] = this.ephemeralRange;
    const count = hi - lo + 1;
    const shared = options?.shared === true;
    const dual = isDual(addr, options);
    const start = Math.floor(this.#random() * count) % count;
    for (let i = 0; i < count; i++) {
      let port = lo + start + i;
      if (port > hi) port -= count;
      if (this.#free(addr, port, shared, dual) && (filter === undefined || filter(port))) {
        this.#add(addr, port, shared, dual);
        return port;
      }
    }
    return undefined;
  }

  /** Drops one hold on (addr, port). Returns false when nothing held it. */
  release(addr: IpAddr, port: number): boolean {
    const byAddr = this.#ports.get(port);
    const holders = byAddr === undefined ? undefined : holdersOf(byAddr, addr);
    if (byAddr === undefined || holders === undefined) return false;
    if (--holders.count === 0) {
      if (!(byAddr instanceof Map)) {
        this.#ports.delete(port);
      } else {
        byAddr.delete(addr);
        if (byAddr.size === 0) this.#ports.delete(port);
      }
    }
    return true;
  }

  /** Number of distinct (address, port) pairs held. */
  get size(): number {
    let n = 0;
    for (const byAddr of this.#ports.values()) n += byAddr instanceof Map ? byAddr.size : 1;
    return n;
  }

  /** Every held (address, port), for snapshots and debugging. */
  *entries(): IterableIterator<{ addr: IpAddr; port: number; holders: number; shared: boolean; dualStack: boolean }> {
    for (const [port, byAddr] of this.#ports) {
      for (const h of byAddr instanceof Map ? byAddr.values() : [byAddr]) yield { addr: h.addr, port, holders: h.count, shared: h.shared, dualStack: h.dual };
    }
  }

  #free(addr: IpAddr, port: number, shared: boolean, dual: boolean): boolean {
    const byAddr = this.#ports.get(port);
    if (byAddr === undefined) return true;
    if (!(byAddr instanceof Map)) return !conflicts(addr, shared, dual, byAddr);
    // Per-port maps hold one entry per bound address: a walk costs nothing worth a faster path.
    for (const h of byAddr.values()) if (conflicts(addr, shared, dual, h)) return false;
    return true;
  }

  #add(addr: IpAddr, port: number, shared: boolean, dual: boolean): void {
    const byAddr = this.#ports.get(port);
    if (byAddr === undefined) {
      this.#ports.set(port, { addr, count: 1, shared, dual });
      return;
    }
    const holders = holdersOf(byAddr, addr);
    if (holders !== undefined) {
      holders.count++;
    } else if (byAddr instanceof Map) {
      byAddr.set(addr, { addr, count: 1, shared, dual });
    } else {
      this.#ports.set(port, new Map([[byAddr.addr, byAddr], [addr, { addr, count: 1, shared, dual }]]));
    }
  }
}

/** True when reserving (addr, shared, dual) is refused because of holders `h` of the same port. */
function conflicts(addr: IpAddr, shared: boolean, dual: boolean, h: Holders): boolean {
  if (!overlaps(addr, dual, h.addr, h.dual)) return false;
  // Two holders of the very same reservation may share it; a dual-stack `::` and a v6-only one
  // are different reservations under one key, never merged.
  return !(shared && h.shared) || (h.addr === addr && h.dual !== dual);
}

function isDual(addr: IpAddr, options: ReserveOptions | undefined): boolean {
  return addr === IP_ANY6 && options?.dualStack === true;
}

/** True when two reservations cover a common address (Linux's inet_bind_conflict, families apart). */
function overlaps(a: IpAddr, aDual: boolean, b: IpAddr, bDual: boolean): boolean {
  if (a === b || aDual || bDual) return true;
  if ((a >= IPV6_ID_BASE) !== (b >= IPV6_ID_BASE)) return false;
  return a === IP_ANY4 || a === IP_ANY6 || b === IP_ANY4 || b === IP_ANY6;
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 65535;
}

function checkPort(port: number): void {
  if (!isPort(port) || port === 0) {
    throw new NetstackError('ERR_INVALID_ARG_VALUE', `port ${port} is not in 1..65535`);
  }
}
