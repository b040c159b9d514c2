/**
 * IPv4 reassembly (RFC 791 3.2, RFC 815), with the limits a host on a hostile network needs.
 *
 * A partial datagram is keyed by (src, dst, protocol, id) and holds its fragments sorted by
 * offset. Because overlaps are refused, the bytes covered are the sum of the fragment lengths,
 * so "complete" is `received === total length` once the last fragment (MF=0) fixed the length:
 * no hole list is needed. On completion the payload is copied once into one Uint8Array.
 *
 * Rules (each refusal is counted by reason in `counters`):
 * - overlap: any fragment overlapping another in any way except an exact duplicate (same offset,
 *   length and MF) drops the whole datagram, as RFC 5722 does for IPv6 (overlaps are only ever
 *   made by attackers and evasion tools). Exact duplicates are ignored ('duplicate').
 * - inconsistent: two different ends (MF=0 fragments disagreeing, or data past the known end)
 *   drop the whole datagram.
 * - tooBig: a fragment whose data would end past 65,535 bytes with its header, or a completed
 *   datagram longer than 65,535 bytes with the first fragment's header, drops the datagram.
 * - malformed: a non-last fragment whose length is 0 or not a multiple of 8 is dropped (alone).
 * - timeout: `timeoutMs` after its first fragment arrived a partial datagram is dropped; `expire`
 *   reports it with the first fragment (offset 0) when that one had arrived, because only then
 *   may a host send ICMP time exceeded, code 1 (RFC 792, RFC 1122 3.2.2.4).
 * - evicted: more than `maxDatagrams` partial datagrams, or more than `maxBytes` held, evicts the
 *   oldest partial datagrams; a datagram that alone would exceed `maxBytes` is dropped ('memory').
 *
 * Datagrams are kept in a Map in creation order, and their deadline is creation + timeoutMs, so
 * the oldest is first both for eviction and for expiry: `nextDeadline` is O(1), `expire` touches
 * only what it drops.
 *
 * The same rules serve IPv6 (src/ipv6/reassembly.ts): `ReassemblerOptions` changes the
 * datagram's identity and size limit, nothing else.
 *
 * Memory note: fragments are held as the views the caller passes. A view keeps its whole
 * underlying buffer alive; a link that reads frames into large shared buffers should pass copies.
 */

import type { Ipv4Addr } from './address.js';
import { IPV4_LIMITS, REASSEMBLY_DEFAULTS, type ReassemblyConfig } from './config.js';

/** One received fragment, as the IPv4 layer parsed it. */
export interface Fragment<H, A = Ipv4Addr> {
  readonly src: A;
  readonly dst: A;
  readonly protocol: number;
  readonly id: number;
  /** Byte offset of the data (fragment offset field * 8). */
  readonly offset: number;
  /** The MF flag. */
  readonly more: boolean;
  /** This fragment's IPv4 header length in bytes (IHL * 4). */
  readonly headerLength: number;
  /** The fragment's data (a view; held until the datagram completes or is dropped). */
  readonly payload: Uint8Array;
  /** Whatever the caller needs back from the first fragment (e.g. its parsed header); kept only for offset 0. */
  readonly header: H;
}

export type ReassemblyDropReason = 'overlap' | 'inconsistent' | 'tooBig' | 'malformed' | 'memory';

export type ReassemblyResult<H, A = Ipv4Addr> =
  /** The fragment was stored; the datagram is not complete yet (or it was an exact duplicate). */
  | { readonly kind: 'pending' }
  /** The fragment, and for every reason but 'malformed' its whole partial datagram, was dropped. */
  | { readonly kind: 'dropped'; readonly reason: ReassemblyDropReason }
  | {
      readonly kind: 'complete';
      /** The reassembled data: one contiguous copy. */
      readonly payload: Uint8Array;
      /** The first fragment's header info and header length. */
      readonly header: H;
      readonly headerLength: number;
      readonly src: A;
      readonly dst: A;
      readonly protocol: number;
      readonly id: number;
    };

/** A partial datagram dropped by `expire`. */
export interface ExpiredDatagram<H, A = Ipv4Addr> {
  readonly src: A;
  readonly dst: A;
  readonly protocol: number;
  readonly id: number;
  /**
   * The first fragment (offset 0), when it had arrived: its header info and data (the wiring
   * quotes the header and the first 8 data bytes in ICMP time exceeded, type 11 code 1).
   * Undefined when it had not, and then no ICMP error may be sent.
   */
  readonly first: { readonly header: H; readonly headerLength: number; readonly payload: Uint8Array } | undefined;
}

export interface ReassemblyCounters {
  /** Fragments accepted and held. */
  fragments: number;
  /** Datagrams completed. */
  completed: number;
  duplicate: number;
  overlap: number;
  inconsistent: number;
  'tooBig': number;
  malformed: number;
  memory: number;
  /** Partial datagrams dropped by expire(). */
  timeout: number;
  /** Partial datagrams evicted to make room. */
  evicted: number;
}

interface Piece<H> {
  readonly start: number;
  readonly end: number;
  readonly more: boolean;
  readonly payload: Uint8Array;
  readonly header: H;
  readonly headerLength: number;
}

interface PartialDatagram<H, A> {
  readonly key: string;
  readonly src: A;
  readonly dst: A;
  readonly protocol: number;
  readonly id: number;
  readonly deadline: number;
  /** Sorted by start, never overlapping. */
  readonly pieces: Piece<H>[];
  /** Data bytes held (sum of piece lengths). */
  received: number;
  /** Bytes charged against maxBytes. */
  cost: number;
  /** The data length, once a fragment with MF=0 arrived; -1 before. */
  total: number;
}

const PENDING = Object.freeze({ kind: 'pending' as const });
const DROPPED: { readonly [R in ReassemblyDropReason]: { readonly kind: 'dropped'; readonly reason: R } } = {
  overlap: Object.freeze({ kind: 'dropped', reason: 'overlap' }),
  inconsistent: Object.freeze({ kind: 'dropped', reason: 'inconsistent' }),
  'tooBig': Object.freeze({ kind: 'dropped', reason: 'tooBig' }),
  malformed: Object.freeze({ kind: 'dropped', reason: 'malformed' }),
  memory: Object.freeze({ kind: 'dropped', reason: 'memory' }),
};

/**
 * What makes the reassembler serve another IP version (IPv6 uses it with 16-byte addresses).
 * The defaults are IPv4's.
 */
export interface ReassemblerOptions<H, A> {
  /**
   * The identity of a fragment's datagram. Default: src, dst, protocol and id (RFC 791); IPv6
   * leaves the protocol out (RFC 8200 4.5: the Next Header of later fragments may differ).
   */
  readonly keyOf?: (fragment: Fragment<H, A>) => string;
  /** Largest datagram: header length + data. Default 65,535 (IPv4's total length). */
  readonly maxDatagram?: number;
}

function ipv4Key(f: Fragment<unknown, unknown>): string {
  return `${f.src}/${f.dst}/${f.protocol}/${f.id}`;
}

export class Reassembler<H, A = Ipv4Addr> {
  readonly config: Readonly<ReassemblyConfig>;
  readonly counters: ReassemblyCounters = {
    fragments: 0,
    completed: 0,
    duplicate: 0,
    overlap: 0,
    inconsistent: 0,
    'tooBig': 0,
    malformed: 0,
    memory: 0,
    timeout: 0,
    evicted: 0,
  };
  /** In creation order, which is also deadline order. */
  private readonly datagrams = new Map<string, PartialDatagram<H, A>>();
  private held = 0;
  private readonly keyOf: (fragment: Fragment<H, A>) => string;
  private readonly maxDatagram: number;

  constructor(config: Readonly<Partial<ReassemblyConfig>> = {}, options: ReassemblerOptions<H, A> = {}) {
    this.config = { ...REASSEMBLY_DEFAULTS, ...config };
    this.keyOf = options.keyOf ?? ipv4Key;
    this.maxDatagram = options.maxDatagram ?? IPV4_LIMITS.MAX_DATAGRAM;
  }

  /** Bytes charged for all partial datagrams (payload bytes + per-fragment overhead). */
  get bytesHeld(): number {
    return this.held;
  }

  /** Partial datagrams held. */
  get size(): number {
    return this.datagrams.size;
  }

  /** Adds a fragment received at `now` (ms). */
  add(fragment: Fragment<H, A>, now: number): ReassemblyResult<H, A> {
    const { offset, more, payload, headerLength } = fragment;
    const length = payload.length;
    const end = offset + length;

    // Not a fragment at all: nothing to hold.
    if (offset === 0 && !more) {
      this.counters.completed++;
      return complete(fragment, payload);
    }
    if (more && (length === 0 || length % IPV4_LIMITS.FRAGMENT_UNIT !== 0)) {
      this.counters.malformed++;
      return DROPPED.malformed;
    }

    const key = this.keyOf(fragment);
    let dgram = this.datagrams.get(key);

    if (end + headerLength > this.maxDatagram) {
      return this.drop(dgram, 'tooBig');
    }

    if (dgram === undefined) {
      // Make room for one more datagram before creating it.
      while (this.datagrams.size >= this.config.maxDatagrams && this.datagrams.size > 0) this.evictOldest();
      dgram = {
        key,
        src: fragment.src,
        dst: fragment.dst,
        protocol: fragment.protocol,
        id: fragment.id,
        deadline: now + this.config.timeoutMs,
        pieces: [],
        received: 0,
        cost: 0,
        total: -1,
      };
      this.datagrams.set(key, dgram);
    }

    // The end of the datagram: fixed by the MF=0 fragment, and nothing may lie past it.
    if (!more) {
      if (dgram.total >= 0 && dgram.total !== end) return this.drop(dgram, 'inconsistent');
      const pieces = dgram.pieces;
      if (pieces.length > 0 && pieces[pieces.length - 1].end > end) return this.drop(dgram, 'inconsistent');
    } else if (dgram.total >= 0 && end > dgram.total) {
      return this.drop(dgram, 'inconsistent');
    }

    // Find where it goes; the common in-order case appends.
    const pieces = dgram.pieces;
    let at = pieces.length;
    if (at > 0 && pieces[at - 1].start >= offset) at = insertionIndex(pieces, offset);
    const prev = at > 0 ? pieces[at - 1] : undefined;
    const next = at < pieces.length ? pieces[at] : undefined;
    if (next !== undefined && next.start === offset) {
      if (next.end === end && next.more === more) {
        this.counters.duplicate++;
        return PENDING;
      }
      return this.drop(dgram, 'overlap');
    }
    if ((prev !== undefined && prev.end > offset) || (next !== undefined && next.start < end)) {
      return this.drop(dgram, 'overlap');
    }
    // A zero-length last fragment exactly at an existing fragment's end is not an overlap,
    // but a zero-length last fragment at offset 0 would already have returned above.

    const cost = length + this.config.fragmentOverheadBytes;
    if (cost > this.config.maxBytes - dgram.cost) return this.drop(dgram, 'memory');
    if (this.held + cost > this.config.maxBytes) {
      // Evict the oldest other datagrams; this one plus the fragment fits alone (checked above).
      for (const other of this.datagrams.values()) {
        if (other === dgram) continue;
        this.remove(other);
        this.counters.evicted++;
        if (this.held + cost <= this.config.maxBytes) break;
      }
    }

    pieces.splice(at, 0, { start: offset, end, more, payload, header: fragment.header, headerLength });
    dgram.received += length;
    dgram.cost += cost;
    this.held += cost;
    if (!more) dgram.total = end;
    this.counters.fragments++;

    if (dgram.total < 0 || dgram.received !== dgram.total) return PENDING;

    // Complete: pieces are contiguous from 0 to total.
    const first = pieces[0];
    if (first.headerLength + dgram.total > this.maxDatagram) return this.drop(dgram, 'tooBig');
    const data = new Uint8Array(dgram.total);
    for (const p of pieces) data.set(p.payload, p.start);
    this.remove(dgram);
    this.counters.completed++;
    return {
      kind: 'complete',
      payload: data,
      header: first.header,
      headerLength: first.headerLength,
      src: dgram.src,
      dst: dgram.dst,
      protocol: dgram.protocol,
      id: dgram.id,
    };
  }

  /** Drops every partial datagram whose deadline is <= now, and returns them (oldest first). */
  expire(now: number): ExpiredDatagram<H, A>[] {
    const out: ExpiredDatagram<H, A>[] = [];
    for (const dgram of this.datagrams.values()) {
      if (dgram.deadline > now) break;
      this.remove(dgram);
      this.counters.timeout++;
      const p = dgram.pieces[0];
      out.push({
        src: dgram.src,
        dst: dgram.dst,
        protocol: dgram.protocol,
        id: dgram.id,
        first: p !== undefined && p.start === 0 ? { header: p.header, headerLength: p.headerLength, payload: p.payload } : undefined,
      });
    }
    return out;
  }

  /** When `expire` next has work (ms), or undefined when nothing is held. */
  nextDeadline(): number | undefined {
    for (const dgram of this.datagrams.values()) return dgram.deadline;
    return undefined;
  }

  /** Drops everything held (no counters change). */
  clear(): void {
    this.datagrams.clear();
    this.held = 0;
  }

  private drop(dgram: PartialDatagram<H, A> | undefined, reason: ReassemblyDropReason): ReassemblyResult<H, A> {
    if (dgram !== undefined) this.remove(dgram);
    this.counters[reason]++;
    return DROPPED[reason];
  }

  private evictOldest(): void {
    const oldest = this.datagrams.values().next().value;
    if (oldest === undefined) return;
    this.remove(oldest);
    this.counters.evicted++;
  }

  private remove(dgram: PartialDatagram<H, A>): void {
    if (this.datagrams.delete(dgram.key)) this.held -= dgram.cost;
  }
}

function complete<H, A>(fragment: Fragment<H, A>, payload: Uint8Array): ReassemblyResult<H, A> {
  return {
    kind: 'complete',
    payload,
    header: fragment.header,
    headerLength: fragment.headerLength,
    src: fragment.src,
    dst: fragment.dst,
    protocol: fragment.protocol,
    id: fragment.id,
  };
}

/** First index whose piece starts at or after `offset` (binary search). */
function insertionIndex<H>(pieces: readonly Piece<H>[], offset: number): number {
  let lo = 0;
  let hi = pieces.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pieces[mid].start < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
