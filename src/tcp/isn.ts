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

/** M ticks per millisecond: one tick every 4 µs (RFC 6528 3, RFC 9293 3.4.1). */
const TICKS_PER_MS = 250;

export class IsnGenerator {
  private readonly prf: SipHash24;
  private readonly msg = new Uint8Array(12);

  /** `secret`: 16 random bytes, kept for the stack's lifetime. */
  constructor(secret: Uint8Array) {
    this.prf = new SipHash24(secret);
  }

  /** The ISN for a new connection on this 4-tuple at time `now` (ms). */
  isn(localAddr: Ipv4Addr, localPort: number, remoteAddr: Ipv4Addr, remotePort: number, now: number): number {
    const m = this.msg;
    writeBe32(m, 0, localAddr);
    writeBe32(m, 4, remoteAddr);
    m[8] = localPort >>> 8;
    m[9] = localPort & 0xff;
    m[10] = remotePort >>> 8;
    m[11] = remotePort & 0xff;
    const f = this.prf.hash32(m);
    const ticks = Math.floor(now * TICKS_PER_MS) % 0x1_0000_0000;
    return (ticks + f) >>> 0;
  }
}

function writeBe32(b: Uint8Array, i: number, x: number): void {
  b[i] = x >>> 24;
  b[i + 1] = (x >>> 16) & 0xff;
  b[i + 2] = (x >>> 8) & 0xff;
  b[i + 3] = x & 0xff;
}
