import { Observable, type OperatorFunction } from 'rxjs';
import type { Boundary, Sink } from '../pipeline/boundary.js';
import type { Demux } from '../operators/demux.js';
import type { TapPoint } from '../pipeline/taps.js';
import type { Ipv6Datagram, Ipv6Send } from './ipv6-layer.js';
import type { IpDatagram, IpSend } from './ip-network.js';
import { AddressHold } from '../../src/ip/address-hold.js';
import type { AddressBook } from '../../src/ip/address-book.js';
import { walkIpv6Chain } from '../../src/wire/ipv6-ext.js';

/**
 * IPv6's items at the transport boundary, as the `transport` hook and tap show them: the
 * records of IPv4's boundary (`IpDatagram` up, `IpSend` down) with `IpAddr` ids for the
 * addresses, so that one operator serves both families.
 *
 * Ids are taken from the stack's address book and held (`AddressHold`) for the last N
 * addresses that crossed: a stranger's address stays interned while an operator delays its
 * packet, and the book still never grows with what peers send. An item that comes out of the
 * operators naming an id no longer held (held past N later addresses, or an IPv4 number put
 * into an IPv6 item) cannot be turned back into bytes: it is dropped and counted.
 */
export class Ipv6Records {
  readonly #book: AddressBook;
  readonly #hold: AddressHold;
  readonly #counters: { unresolvedAddress: number };
  readonly #isLocal: (addr: Uint8Array) => boolean;

  /** `isLocal`: whether an address is the stack's (a record for another one is `foreign`, taken for a forwarder). */
  constructor(book: AddressBook, counters: { unresolvedAddress: number }, isLocal: (addr: Uint8Array) => boolean, holdSize?: number) {
    this.#book = book;
    this.#isLocal = isLocal;
    this.#hold = new AddressHold(book, holdSize);
    this.#counters = counters;
  }

  /** A received datagram as a record: its addresses as held ids; the transports verify its checksum. */
  toRecord(d: Ipv6Datagram): IpDatagram {
    const hold = this.#hold;
    return {
      iface: d.iface, src: hold.hold(d.src), dst: hold.hold(d.dst), protocol: d.protocol, ttl: d.hopLimit,
      header: d.packet, payload: d.payload, broadcast: d.multicast, reassembled: d.reassembled, checksumVerified: false,
    };
  }

  /** A record back as IPv6's datagram (for ICMPv6 and protocols of the user's), or undefined when an id is not held. */
  fromRecord(r: IpDatagram): Ipv6Datagram | undefined {
    const src = this.#book.bytesOf(r.src);
    const dst = this.#book.bytesOf(r.dst);
    if (src === undefined || dst === undefined) {
      this.#counters.unresolvedAddress++;
      return undefined;
    }
    return {
      iface: r.iface, src, dst, protocol: r.protocol, hopLimit: r.ttl, packet: r.header, payload: r.payload,
      nextHeaderAt: nextHeaderAtOf(r.header, r.protocol), multicast: r.broadcast, reassembled: r.reassembled, checksumVerified: r.checksumVerified,
      foreign: dst[0] !== 0xff && !this.#isLocal(dst),
    };
  }

  /** What a protocol sends, as a record (its traffic class as DSCP and ECN, its hop limit as `ttl`). */
  toSend(s: Ipv6Send): IpSend {
    const hold = this.#hold;
    const tc = s.trafficClass ?? 0;
    return {
      pb: s.pb, dst: hold.hold(s.dst), protocol: s.protocol, src: s.src === undefined ? undefined : hold.hold(s.src),
      ttl: s.hopLimit, dontFragment: undefined, dscp: tc >>> 2, ecn: tc & 3, iface: s.iface, onError: s.onError,
    };
  }

  /** A record on its way down as IPv6's send, or undefined when an id is not held (counted). */
  fromSend(r: IpSend): Ipv6Send | undefined {
    const dst = this.#book.bytesOf(r.dst);
    const src = r.src === undefined ? undefined : this.#book.bytesOf(r.src);
    if (dst === undefined || (r.src !== undefined && src === undefined)) {
      this.#counters.unresolvedAddress++;
      return undefined;
    }
    return {
      pb: r.pb, dst, protocol: r.protocol, src, hopLimit: r.ttl, trafficClass: ((r.dscp ?? 0) << 2) | ((r.ecn ?? 0) & 3),
      iface: r.iface, onError: r.onError,
    };
  }

  /**
   * IPv6's boundary above the layer as records: what goes up converted, what comes down
   * converted back (an item whose ids are no longer held is dropped and counted).
   */
  recordBoundary(own: Boundary<Ipv6Datagram, Ipv6Send>): Boundary<IpDatagram, IpSend> {
    const below = own.down;
    return {
      up$: own.up$.pipe(mapDefined((d) => this.toRecord(d))),
      down: {
        next: (r: IpSend) => {
          const s = this.fromSend(r);
          if (s !== undefined) below.next(s);
        },
      },
    };
  }

  /**
   * IPv6's own boundary, unchanged, with its items shown to `taps` as records: converted (and
   * their ids held) only while someone observes; otherwise one boolean test per item.
   */
  tapped(own: Boundary<Ipv6Datagram, Ipv6Send>, taps: TapPoint<IpDatagram, IpSend>): Boundary<Ipv6Datagram, Ipv6Send> {
    const below = own.down;
    const source$ = own.up$;
    const up$ = new Observable<Ipv6Datagram>((subscriber) =>
      source$.subscribe({
        next: (d) => {
          if (taps.upObserved) taps.showUp(this.toRecord(d));
          subscriber.next(d);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
    const down: Sink<Ipv6Send> = {
      next: (s) => {
        if (taps.downObserved) taps.showDown(this.toSend(s));
        below.next(s);
      },
      partialChecksum: below.partialChecksum,
    };
    return { up$, down };
  }

  /** Gives back every id held. */
  close(): void {
    this.#hold.clear();
  }
}

/**
 * The demux of records seen as one of IPv6's own items (for ICMPv6 and the user's protocols):
 * every item mapped by `fn`, those it refuses (undefined) left out.
 */
export function mappedDemux<T, U, K>(demux: Demux<T, K>, fn: (item: T) => U | undefined): Demux<U, K> {
  const map = mapDefined(fn);
  return {
    endpoint: (key) => demux.endpoint(key).pipe(map),
    get unmatched$() {
      return demux.unmatched$.pipe(map);
    },
    observe$: (key) => demux.observe$(key).pipe(map),
    has: (key) => demux.has(key),
    get size() {
      return demux.size;
    },
    get observed() {
      return demux.observed;
    },
    keepGate: (gate) => demux.keepGate(gate),
    get stats() {
      return demux.stats;
    },
  };
}

/** `map` that leaves out what `fn` gives as undefined. */
function mapDefined<T, U>(fn: (item: T) => U | undefined): OperatorFunction<T, U> {
  return (source$) =>
    new Observable<U>((subscriber) =>
      source$.subscribe({
        next: (item) => {
          const out = fn(item);
          if (out !== undefined) subscriber.next(out);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
}

/**
 * Where the Next Header field naming `protocol` sits in `packet` (Parameter Problem code 1
 * points there): byte 6 when no extension header comes first, else found by walking the chain
 * again (rare: only packets with extension headers).
 */
function nextHeaderAtOf(packet: Uint8Array, protocol: number): number {
  if (packet[6] === protocol) return 6;
  const walk = walkIpv6Chain(packet);
  return walk.kind === 'upper' ? walk.nextHeaderAt : 6;
}
