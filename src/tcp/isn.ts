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

import type { Ipv4Addr } from '../ipv4/address.js';
import { SipHash24 } from './siphash.js';
import { TUPLE_BYTES_LEN, writeTupleBytes } from './tuple-bytes.js';

/** M ticks per millisecond: one tick every 4 µs (RFC 6528 3, RFC 9293 3.4.1). */
const TICKS_PER_MS = 250;

export class IsnGenerator {
  private readonly prf: SipHash24;
  private readonly msg = new Uint8Array(TUPLE_BYTES_LEN);

  /** `secret`: 16 random bytes, kept for the stack's lifetime. */
  constructor(secret: Uint8Array) {
    this.prf = new SipHash24(secret);
  }

  /** The ISN for a new connection on this 4-tuple at time `now` (ms). */
  isn(localAddr: Ipv4Addr, localPort: number, remoteAddr: Ipv4Addr, remotePort: number, now: number): number {
    const m = this.msg;
    writeTupleBytes(m, localAddr, localPort, remoteAddr, remotePort);
    const f = this.prf.hash32(m);
    const ticks = Math.floor(now * TICKS_PER_MS) % 0x1_0000_0000;
    return (ticks + f) >>> 0;
  }
}
