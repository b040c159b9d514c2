import type { NetInterface } from './net-interface.js';
import { IPV6_ID_BASE, type IpAddr } from '../../src/ip/address-book.js';

/**
 * @internal A received packet read in place: where it lies in the frame (or packet) it came
 * in. The shape both families' received records share (`ReceivedIp` for TCP and UDP,
 * `ReceivedIpv6` for what IPv6 hands up): a transport reads its segment from `frame` between
 * `payloadAt` and `payloadEnd` and makes no view of the IP payload; `payload` is that view,
 * made only when first read.
 *
 * The records keep their offsets private and their views as accessors on the prototype: a
 * spread copy (`{ ...d }`) takes neither, so they go only to the stack's own layers while
 * nothing observes or changes the hops between (the network layers hand plain records to
 * anyone else). Each is a class of its own, not a subclass of a common one: V8 did not inline a
 * derived class's constructor into the layer's input, which cost IPv4 ~30 ns per datagram.
 */
export interface InPlace {
  /** The frame (or packet) the datagram is in. */
  readonly frame: Uint8Array;
  /** Where the IP header starts in `frame`. */
  readonly headerAt: number;
  /** Where the upper-layer bytes start in `frame`, and where they end. */
  readonly payloadAt: number;
  readonly payloadEnd: number;
  readonly payload: Uint8Array;
}

/**
 * @internal A received whole datagram as TCP and UDP take it (an `IpDatagram`), either family:
 * IPv4's straight from its layer, IPv6's made once its addresses have ids (`deliverIpv6`).
 * `header` is made when first read (ICMP errors quote it): IPv4's header alone, or for IPv6 the
 * whole packet from its fixed header (what `IpDatagram.header` means there). The ECN field is
 * read in the frame: the low two bits of IPv4's TOS byte, bits 4-5 of IPv6's second byte. Which
 * family is told by the destination (an IPv6 id is above every IPv4 number), only when `header`
 * or `ecn` is read: IPv4's record has no field more than before it served both.
 */
export class ReceivedIp implements InPlace {
  readonly reassembled = false;
  // Private: a spread copy (tcp-forwarder.ts's quote) takes none of them, the frame included.
  readonly #bytes: Uint8Array;
  readonly #headerAt: number;
  readonly #payloadAt: number;
  readonly #end: number;
  #header: Uint8Array | undefined;
  #payload: Uint8Array | undefined;

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
  ) {
    this.#bytes = bytes;
    this.#headerAt = headerAt;
    this.#payloadAt = payloadAt;
    this.#end = end;
  }

  get header(): Uint8Array {
    // IPv4's header alone; for IPv6 the packet from its fixed header.
    if (this.#header === undefined) this.#header = this.#bytes.subarray(this.#headerAt, this.dst >= IPV6_ID_BASE ? this.#end : this.#payloadAt);
    return this.#header;
  }

  get payload(): Uint8Array {
    if (this.#payload === undefined) this.#payload = this.#bytes.subarray(this.#payloadAt, this.#end);
    return this.#payload;
  }

  /** The ECN field (RFC 3168), read in the frame. */
  get ecn(): number {
    return (this.#bytes[this.#headerAt + 1] >>> (this.dst >= IPV6_ID_BASE ? 4 : 0)) & 3;
  }

  get frame(): Uint8Array {
    return this.#bytes;
  }

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
