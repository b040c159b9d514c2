import type { NetInterface } from './net-interface.js';
import type { Ipv4Datagram } from './ipv4-layer.js';
import type { Ipv4Addr } from '../../src/ipv4/address.js';

/**
 * An unfragmented datagram as IPv4 hands it up when no operator sits above it: the received
 * bytes and where the header and the payload lie in them, with `header` and `payload` made as
 * views on first read. TCP reads its segment in place (`packet` from `payloadAt` to
 * `payloadEnd`) and the ECN field from `packet` (ecnOf), so a segment costs no view of its
 * header nor of its payload (two typed-array objects, about 200 bytes, per received frame).
 *
 * `header` and `payload` are accessors of this class, as `src` and `dst` of an IPv6 datagram
 * are: a spread copy (`{ ...d }`) leaves them out (and copies `packet`, which holds the whole
 * frame). Transport operators (which may spread) get plain records instead (Ipv4Layer makes
 * these only without them); a consumer that keeps a datagram copies the fields it needs.
 */
export class Ipv4Received implements Ipv4Datagram {
  /** Never: a reassembled datagram is a plain record (its header and payload are copies). */
  readonly reassembled = false;
  #header: Uint8Array | undefined;
  #payload: Uint8Array | undefined;

  constructor(
    readonly iface: NetInterface,
    readonly src: Ipv4Addr,
    readonly dst: Ipv4Addr,
    readonly protocol: number,
    readonly ttl: number,
    /** The received bytes (the frame, or a bare packet); the datagram starts at `headerAt`. */
    readonly packet: Uint8Array,
    readonly headerAt: number,
    /** Where the transport payload starts (the header's end) and ends (the IP total length). */
    readonly payloadAt: number,
    readonly payloadEnd: number,
    readonly broadcast: boolean,
    readonly checksumVerified: boolean,
  ) {}

  get header(): Uint8Array {
    return (this.#header ??= this.packet.subarray(this.headerAt, this.payloadAt));
  }

  get payload(): Uint8Array {
    return (this.#payload ??= this.packet.subarray(this.payloadAt, this.payloadEnd));
  }
}
