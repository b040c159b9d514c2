/**
 * One address type for the transports: `IpAddr` numbers.
 *
 *   0 .. 2^32-1         an IPv4 address, as everywhere else (`Ipv4Addr`);
 *   2^32 .. 2^37-1      an IPv6 address, by its id in the stack's `AddressBook`.
 *
 * Numbers keep the endpoint table's keys (`addr * 65536 + port`, below 2^53 for ids below
 * 2^37) and the TCP core unchanged, and one compare (`isIpv6`) tells the family wherever it
 * matters (MSS, pseudo-header, which layer sends). The book interns an IPv6 address for as long
 * as an endpoint refers to it (reference counts), so its size is bounded by the endpoints the
 * stack holds, never by what peers send: `idOf` looks up without interning.
 */

import { Ipv6AddressMap } from '../ipv6/address-map.js';
import { IPV6_ADDR_LEN, formatIpv6, parseIpv6, type Ipv6Addr } from '../ipv6/address.js';
import { formatIpv4, parseIpv4, type Ipv4Addr } from '../ipv4/address.js';
import { NetstackError } from '../errors.js';

/** An IPv4 address (below 2^32) or the id of an interned IPv6 address (2^32 and up). */
export type IpAddr = number;

/** The first IPv6 id: also the id of `::` (interned first, never released). */
export const IPV6_ID_BASE = 0x1_0000_0000;
/** Ids stay below this, so `id * 65536 + port` is exact in a double. */
export const IPV6_ID_LIMIT = 2 ** 37;

/** The IPv4 wildcard `0.0.0.0`. */
export const IP_ANY4: IpAddr = 0;
/** The IPv6 wildcard `::` (its id in every book). */
export const IP_ANY6: IpAddr = IPV6_ID_BASE;

/** True for an IPv6 id, false for an IPv4 address. */
export function isIpv6(addr: IpAddr): boolean {
  return addr >= IPV6_ID_BASE;
}

/** The wildcard of `addr`'s family. */
export function ipAnyOf(addr: IpAddr): IpAddr {
  return addr >= IPV6_ID_BASE ? IP_ANY6 : IP_ANY4;
}

/** True for `0.0.0.0` and `::`. */
export function isIpAny(addr: IpAddr): boolean {
  return addr === IP_ANY4 || addr === IP_ANY6;
}

/** An address parsed from text: IPv4 as its number, IPv6 as its bytes (not yet interned). */
export type ParsedIpAddr =
  | { readonly family: 4; readonly v4: Ipv4Addr; readonly zone: undefined }
  | { readonly family: 6; readonly v6: Ipv6Addr; readonly zone: string | undefined };

/**
 * Parses an address given as text: dotted-quad IPv4 first, then any IPv6 form, with an optional
 * `%zone` (RFC 4007 11: the interface of a link-local address, `fe80::1%eth0`). Undefined when
 * it is neither. Never throws.
 */
export function parseIpAddr(text: string): ParsedIpAddr | undefined {
  if (typeof text !== 'string') return undefined;
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, v4, zone: undefined };
  const pct = text.indexOf('%');
  const zone = pct < 0 ? undefined : text.slice(pct + 1);
  if (zone === '') return undefined;
  const v6 = parseIpv6(pct < 0 ? text : text.slice(0, pct));
  return v6 === undefined ? undefined : { family: 6, v6, zone };
}

/** Canonical text of `addr` (RFC 5952 for IPv6); `'?'` for an id the book does not hold. */
export function formatIpAddr(addr: IpAddr, book: AddressBook): string {
  if (addr < IPV6_ID_BASE) return formatIpv4(addr);
  const bytes = book.bytesOf(addr);
  return bytes === undefined ? '?' : formatIpv6(bytes);
}

/** Slots of a book: at most this many IPv6 addresses held at once (far beyond any limit's memory). */
export const IPV6_ID_SLOTS = 2 ** 24;
/** Times a slot is reused before its ids repeat: (2^37 - 2^32) / 2^24. */
const GENERATIONS = Math.floor((IPV6_ID_LIMIT - IPV6_ID_BASE) / IPV6_ID_SLOTS);

/**
 * The interner of IPv6 addresses: address -> id through an `Ipv6AddressMap` (looked up from
 * packet bytes, no allocation), id -> the 16 bytes and a reference count. The book never holds
 * more addresses than acquisitions outstanding, plus `::`.
 *
 * An id is a slot and a generation (`IPV6_ID_BASE + generation * IPV6_ID_SLOTS + slot`). A slot
 * is reused once its address is released, with the next generation, and freed slots are reused
 * oldest first; so an id kept past its release (an item an operator delayed, a stale record)
 * names nothing, never another address, until its slot has been reused 7,936 times, which takes
 * at least 7,936 x (slots free) releases. Every lookup by id checks the whole id.
 */
export class AddressBook {
  readonly #ids: Ipv6AddressMap<number>;
  /** By slot: the id it holds now (0 when free), the address (undefined when free), its reference count. */
  readonly #idAt: number[] = [];
  readonly #bytes: (Ipv6Addr | undefined)[] = [];
  readonly #refs: number[] = [];
  /** Free slots, oldest first from `#freeHead` (a queue: reuse spreads over all free slots). */
  #free: number[] = [];
  #freeHead = 0;
  /**
   * The last two addresses `idOf` found, as four int32 words and their id (0: empty): a packet's
   * destination (ours) and its source (the peer of a bulk flow) repeat from packet to packet,
   * and comparing four words costs less than hashing them into the map. A slot is emptied when
   * its id is freed, so it never names an id reused for another address.
   */
  #c0w0 = 0; #c0w1 = 0; #c0w2 = 0; #c0w3 = 0; #c0id = 0;
  #c1w0 = 0; #c1w1 = 0; #c1w2 = 0; #c1w3 = 0; #c1id = 0;

  /** `seed`: the address map's hash secret (default random; tests may fix it). */
  constructor(seed?: number) {
    this.#ids = new Ipv6AddressMap<number>(seed);
    const any = new Uint8Array(IPV6_ADDR_LEN);
    const id = this.acquire(any);
    if (id !== IP_ANY6) throw new Error('the first id is not IP_ANY6'); // unreachable
  }

  /** Addresses held, `::` included. */
  get size(): number {
    return this.#ids.size;
  }

  /** The id of the address at `bytes[offset..offset+16)` if interned, else undefined. Interns nothing. */
  idOf(bytes: Uint8Array, offset = 0): IpAddr | undefined {
    const w0 = word(bytes, offset);
    const w1 = word(bytes, offset + 4);
    const w2 = word(bytes, offset + 8);
    const w3 = word(bytes, offset + 12);
    if (this.#c0id !== 0 && w3 === this.#c0w3 && w2 === this.#c0w2 && w1 === this.#c0w1 && w0 === this.#c0w0) return this.#c0id;
    if (this.#c1id !== 0 && w3 === this.#c1w3 && w2 === this.#c1w2 && w1 === this.#c1w1 && w0 === this.#c1w0) return this.#c1id;
    const id = this.#ids.get(bytes, offset);
    if (id !== undefined) {
      // The newer slot moves to 1, the found address takes 0.
      this.#c1w0 = this.#c0w0; this.#c1w1 = this.#c0w1; this.#c1w2 = this.#c0w2; this.#c1w3 = this.#c0w3; this.#c1id = this.#c0id;
      this.#c0w0 = w0; this.#c0w1 = w1; this.#c0w2 = w2; this.#c0w3 = w3; this.#c0id = id;
    }
    return id;
  }

  /**
   * The id of the address at `bytes[offset..offset+16)`, interning it (copied) if new; each call
   * takes one reference, which `release` gives back. Throws RangeError when 2^37 - 2^32 ids are
   * in use (more endpoints than the configuration limits allow).
   */
  acquire(bytes: Uint8Array, offset = 0): IpAddr {
    const known = this.#ids.get(bytes, offset);
    if (known !== undefined) {
      this.#refs[slotOf(known)]++;
      return known;
    }
    const addr = bytes.slice(offset, offset + IPV6_ADDR_LEN);
    let id: number;
    const slot = this.#takeFreeSlot();
    if (slot === undefined) {
      const fresh = this.#bytes.length;
      if (fresh >= IPV6_ID_SLOTS) throw new RangeError('address book: no IPv6 id left');
      id = IPV6_ID_BASE + fresh;
      this.#idAt.push(id);
      this.#bytes.push(addr);
      this.#refs.push(1);
    } else {
      // The next generation of the slot's last id (kept in #idAt as its negative while free).
      const last = -this.#idAt[slot];
      const generation = (last - IPV6_ID_BASE - slot) / IPV6_ID_SLOTS + 1;
      id = IPV6_ID_BASE + (generation === GENERATIONS ? 0 : generation) * IPV6_ID_SLOTS + slot;
      this.#idAt[slot] = id;
      this.#bytes[slot] = addr;
      this.#refs[slot] = 1;
    }
    this.#ids.set(addr, id);
    return id;
  }

  /**
   * Takes one more reference on an id already held (an endpoint copying another's address).
   * An IPv4 address is ignored. Returns `addr`.
   */
  retain(addr: IpAddr): IpAddr {
    if (addr >= IPV6_ID_BASE) {
      const slot = this.#heldSlot(addr);
      if (slot < 0) throw new RangeError(`address book: id ${addr} is not held`);
      this.#refs[slot]++;
    }
    return addr;
  }

  /**
   * Gives back one reference; at zero the address is forgotten and its slot may be reused (under
   * another id). An IPv4 address, `::` and an id not held are ignored (teardown paths call this
   * freely).
   */
  release(addr: IpAddr): void {
    if (addr <= IP_ANY6) return;
    const slot = this.#heldSlot(addr);
    if (slot < 0) return;
    if (--this.#refs[slot] > 0) return;
    this.#ids.delete(this.#bytes[slot]!);
    this.#bytes[slot] = undefined;
    this.#idAt[slot] = -addr;
    this.#free.push(slot);
    if (this.#c0id === addr) this.#c0id = 0;
    if (this.#c1id === addr) this.#c1id = 0;
  }

  /** The 16 bytes of an id (the book's own copy: do not write), or undefined when not held. */
  bytesOf(addr: IpAddr): Ipv6Addr | undefined {
    if (addr < IPV6_ID_BASE) return undefined;
    const slot = this.#heldSlot(addr);
    return slot < 0 ? undefined : this.#bytes[slot];
  }

  /** Like `bytesOf` for an id the caller holds: throws when it is not. */
  bytes(addr: IpAddr): Ipv6Addr {
    const b = this.bytesOf(addr);
    if (b === undefined) throw new NetstackError('ERR_INVALID_ARG_VALUE', `${addr} is not an IPv6 id of this stack`);
    return b;
  }

  /** References held on an id (0 when free; IPv4 addresses have none). */
  refCount(addr: IpAddr): number {
    if (addr < IPV6_ID_BASE) return 0;
    const slot = this.#heldSlot(addr);
    return slot < 0 ? 0 : this.#refs[slot];
  }

  /** The slot of `addr` when the book holds exactly that id, else -1 (freed, reused, never given). */
  #heldSlot(addr: IpAddr): number {
    const slot = slotOf(addr);
    return this.#idAt[slot] === addr ? slot : -1;
  }

  #takeFreeSlot(): number | undefined {
    const free = this.#free;
    if (this.#freeHead === free.length) return undefined;
    const slot = free[this.#freeHead++];
    if (this.#freeHead === free.length) {
      free.length = 0;
      this.#freeHead = 0;
    } else if (this.#freeHead >= 1024 && this.#freeHead * 2 >= free.length) {
      this.#free = free.slice(this.#freeHead);
      this.#freeHead = 0;
    }
    return slot;
  }

  /** Canonical text of `addr`, either family. */
  format(addr: IpAddr): string {
    return formatIpAddr(addr, this);
  }
}

/** The slot of an IPv6 id (whichever generation). */
function slotOf(id: IpAddr): number {
  return (id - IPV6_ID_BASE) % IPV6_ID_SLOTS;
}

/** Four bytes as an int32 (signed: what `|` yields), as the address map compares them. */
function word(b: Uint8Array, i: number): number {
  return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3];
}
