import type { NetInterface } from './net-interface.js';
import type { IpAddr } from '../../src/ip/address-book.js';

/**
 * @internal A received packet read in place: where it lies in the frame (or packet) it came
 * in, and the view of its payload made only when first read. The base of both families'
 * received records (`ReceivedIp` for TCP and UDP, `ReceivedIpv6` for what IPv6 hands up): a
 * transport reads its segment from `frame` between `payloadAt` and `payloadEnd` and makes no
 * view of the IP payload.
 *
 * The offsets are private and the views accessors on the prototype: a spread copy (`{ ...d }`)
 * takes neither, so these records go only to the stack's own layers, while nothing observes or
 * changes the hops between (the network layers hand plain records to anyone else).
 */
export class InPlace {
  readonly #bytes: Uint8Array;
  readonly #headerAt: number;
  readonly #payloadAt: number;
  readonly #end: number;
  #payload: Uint8Array | undefined;

  constructor(bytes: Uint8Array, headerAt: number, payloadAt: number, end: number) {
    this.#bytes = bytes;
    this.#headerAt = headerAt;
    this.#payloadAt = payloadAt;
    this.#end = end;
  }

  /** The upper-layer bytes, a view made on first read. */
  get payload(): Uint8Array {
    if (this.#payload === undefined) this.#payload = this.#bytes.subarray(this.#payloadAt, this.#end);
    return this.#payload;
  }

  /** The frame (or packet) the datagram is in: its payload runs from `payloadAt` to `payloadEnd`. */
  get frame(): Uint8Array {
    return this.#bytes;
  }

  /** Where the IP header starts in `frame`. */
  get headerAt(): number {
    return this.#headerAt;
  }

  get payloadAt(): number {
    return this.#payloadAt;
  }

  get payloadEnd(): number {
    return this.#end;
  }
}

/**
 * @internal A received whole datagram as TCP and UDP take it (an `IpDatagram`), either family:
 * IPv4's straight from its layer, IPv6's made once its addresses have ids (`deliverIpv6`).
 * `header` is made when first read (ICMP errors quote it): IPv4's header alone, or for IPv6 the
 * whole packet from its fixed header (what `IpDatagram.header` means there). The ECN field is
 * read in the frame: the low two bits of IPv4's TOS byte, bits 4-5 of IPv6's second byte.
 */
export class ReceivedIp extends InPlace {
  readonly reassembled = false;
  /** Where `header` ends: the payload (IPv4) or the packet's end (IPv6). */
  readonly #headerEnd: number;
  /** 0 for IPv4, 4 for IPv6: where the ECN bits sit in the header's second byte. */
  readonly #ecnShift: number;
  #header: Uint8Array | undefined;

  constructor(
    readonly iface: NetInterface,
    readonly src: IpAddr,
    readonly dst: IpAddr,
    readonly protocol: number,
    readonly ttl: number,
    readonly broadcast: boolean,
    readonly checksumVerified: boolean,
    bytes: Uint8Array,
    headerAt: number,
    payloadAt: number,
    end: number,
    v6 = false,
  ) {
    super(bytes, headerAt, payloadAt, end);
    this.#headerEnd = v6 ? end : payloadAt;
    this.#ecnShift = v6 ? 4 : 0;
  }

  get header(): Uint8Array {
    if (this.#header === undefined) this.#header = this.frame.subarray(this.headerAt, this.#headerEnd);
    return this.#header;
  }

  /** The ECN field (RFC 3168), read in the frame. */
  get ecn(): number {
    return (this.frame[this.headerAt + 1] >>> this.#ecnShift) & 3;
  }
}
