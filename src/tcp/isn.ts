/**
 * Initial sequence numbers per RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), where M is a timer ticking every 4 microseconds and F a keyed pseudorandom
 * function (here SipHash-2-4). Off-path attackers cannot predict an ISN, yet a new incarnation of
 * the same 4-tuple starts above the old one's sequence space (the clock keeps moving), which is
 * what TIME-WAIT reuse relies on.
 *
 * The secret is injected (the wiring draws it from node:crypto once per stack) so the core stays
 * deterministic under test.
 */

import type { IpAddr } from '../ip/address-book.js';
import { SipHash24 } from './siphash.js';
import { TUPLE6_BYTES_LEN, TUPLE_BYTES_LEN, ipv6TupleAddresses, writeTuple6Bytes, writeTupleBytes, type AddressBytes } from './tuple-bytes.js';

/** M ticks per millisecond: one tick every 4 µs (RFC 6528 3, RFC 9293 3.4.1). */
const TICKS_PER_MS = 250;

export class IsnGenerator {
  private readonly prf: SipHash24;
  private readonly msg = new Uint8Array(TUPLE_BYTES_LEN);
  private readonly msg6 = new Uint8Array(TUPLE6_BYTES_LEN);
  private readonly addressBytes: AddressBytes | undefined;

  /**
   * `secret`: 16 random bytes, kept for the stack's lifetime. `addressBytes`: the bytes of IPv6
   * ids (the stack's AddressBook), needed for IPv6 tuples only.
   */
  constructor(secret: Uint8Array, addressBytes?: AddressBytes) {
    this.prf = new SipHash24(secret);
    this.addressBytes = addressBytes;
  }

  /** The ISN for a new connection on this 4-tuple at time `now` (ms). */
  isn(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number, now: number): number {
    const v6 = ipv6TupleAddresses(this.addressBytes, localAddr, remoteAddr);
    let f: number;
    if (v6 === undefined) {
      writeTupleBytes(this.msg, localAddr, localPort, remoteAddr, remotePort);
      f = this.prf.hash32(this.msg);
    } else {
      writeTuple6Bytes(this.msg6, v6[0], localPort, v6[1], remotePort);
      f = this.prf.hash32(this.msg6);
    }
    const ticks = Math.floor(now * TICKS_PER_MS) % 0x1_0000_0000;
    return (ticks + f) >>> 0;
  }
}
