/**
 * SYN cookies (RFC 4987 3.6): when the half-open queue is full, the listener answers a SYN
 * without keeping state, encoding what it must remember in the ISS of its SYN-ACK. The ACK that
 * completes the handshake brings it back (ack - 1) and the connection is created then.
 *
 * Layout of the 32-bit cookie (our own, in the spirit of the RFC):
 *   bits 31..27  t: a counter of 64-second periods (mod 32), so cookies expire
 *   bits 26..24  index of the MSS in MSS_TABLE (the largest entry not above the peer's MSS)
 *   bits 23..0   low 24 bits of SipHash(secret; local ip, remote ip, local port, remote port,
 *                the client's ISN, t, MSS index)
 *
 * The other SYN options travel in our SYN-ACK's timestamp, as Linux does (cookie_init_timestamp,
 * cookie_timestamp_decode): when the SYN offered timestamps, the low 6 bits of our TSval carry
 * the peer's window scale (bits 0-3, 15 = none), SACK-permitted (bit 4) and ECN (bit 5); the
 * peer echoes that TSval in the TSecr of its ACK, and the options come back from there. Without
 * timestamps a cookie connection runs without window scaling and SACK.
 */

import type { IpAddr } from '../ip/address-book.js';
import { seqGt } from './seq.js';
import { SipHash24 } from './siphash.js';
import { TUPLE6_BYTES_LEN, TUPLE_BYTES_LEN, ipv6TupleAddresses, writeBe32, writeTuple6Bytes, writeTupleBytes, type AddressBytes } from './tuple-bytes.js';

/** MSS values a cookie can carry (common path MTUs minus 40). */
export const MSS_TABLE = [536, 1200, 1300, 1400, 1440, 1460, 4312, 8960] as const;
const PERIOD_MS = 64_000;
/** Cookies older than this many periods are refused (2-3 minutes). */
const MAX_AGE_PERIODS = 2;

export class SynCookies {
  private readonly prf: SipHash24;
  /** The 4-tuple, then irs (4 bytes), t and the MSS index. */
  private readonly msg = new Uint8Array(TUPLE_BYTES_LEN + 6);
  /** The same after a 36-byte IPv6 tuple. */
  private readonly msg6 = new Uint8Array(TUPLE6_BYTES_LEN + 6);
  private readonly addressBytes: AddressBytes | undefined;

  /** `secret`: 16 random bytes. `addressBytes`: the bytes of IPv6 ids (for IPv6 tuples). */
  constructor(secret: Uint8Array, addressBytes?: AddressBytes) {
    this.prf = new SipHash24(secret);
    this.addressBytes = addressBytes;
  }

  /** The ISS to put in a stateless SYN-ACK answering a SYN with sequence number `irs`. */
  encode(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number, irs: number, peerMss: number, now: number): number {
    let index = 0;
    for (let i = MSS_TABLE.length - 1; i >= 0; i--) {
      if (MSS_TABLE[i] <= peerMss) {
        index = i;
        break;
      }
    }
    const t = Math.floor(now / PERIOD_MS) & 31;
    const mac = this.mac(localAddr, localPort, remoteAddr, remotePort, irs, t, index);
    return ((t << 27) | (index << 24) | mac) >>> 0;
  }

  /**
   * Checks the cookie of a completing ACK (`cookie` = SEG.ACK - 1, `irs` = SEG.SEQ - 1).
   * Returns the MSS it carries, or undefined when it is forged or expired.
   */
  decode(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number, irs: number, cookie: number, now: number): number | undefined {
    const t = cookie >>> 27;
    const index = (cookie >>> 24) & 7;
    const age = (Math.floor(now / PERIOD_MS) - t) & 31;
    if (age > MAX_AGE_PERIODS) return undefined;
    if ((cookie & 0xffffff) !== this.mac(localAddr, localPort, remoteAddr, remotePort, irs, t, index)) return undefined;
    return MSS_TABLE[index];
  }

  private mac(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number, irs: number, t: number, index: number): number {
    const v6 = ipv6TupleAddresses(this.addressBytes, localAddr, remoteAddr);
    let m: Uint8Array;
    let at: number;
    if (v6 === undefined) {
      m = this.msg;
      writeTupleBytes(m, localAddr, localPort, remoteAddr, remotePort);
      at = TUPLE_BYTES_LEN;
    } else {
      m = this.msg6;
      writeTuple6Bytes(m, v6[0], localPort, v6[1], remotePort);
      at = TUPLE6_BYTES_LEN;
    }
    writeBe32(m, at, irs);
    m[at + 4] = t;
    m[at + 5] = index;
    return this.prf.hash32(m) & 0xffffff;
  }
}

/** Low bits of a cookie TSval that carry the SYN's options. */
const TS_OPTION_BITS = 6;
const TS_OPTION_MASK = (1 << TS_OPTION_BITS) - 1;
/** Window scale field value meaning "the SYN had no window scale option". */
const TS_NO_WSCALE = 0xf;
const TS_SACK = 1 << 4;
const TS_ECN = 1 << 5;

/** SYN options a cookie keeps through the timestamp. */
export interface CookieSynOptions {
  /** The peer's window scale shift, undefined when it sent none. */
  readonly windowScale: number | undefined;
  readonly sackPermitted: boolean;
  readonly ecn: boolean;
}

/**
 * The TSval of a cookie SYN-ACK: our timestamp clock `tsNow` with its low 6 bits replaced by the
 * options, moved back one step of 64 if that would put it ahead of the clock, so the TSvals the
 * connection sends later never go backwards.
 */
export function cookieTimestamp(tsNow: number, options: CookieSynOptions): number {
  let bits = options.windowScale === undefined ? TS_NO_WSCALE : Math.min(options.windowScale, 14);
  if (options.sackPermitted) bits |= TS_SACK;
  if (options.ecn) bits |= TS_ECN;
  let ts = ((tsNow & ~TS_OPTION_MASK) | bits) >>> 0;
  if (seqGt(ts, tsNow)) ts = (ts - (1 << TS_OPTION_BITS)) >>> 0;
  return ts;
}

/** The options a cookie SYN-ACK's TSval carried, read back from the TSecr of the ACK. */
export function cookieOptionsFromEcr(tsEcr: number): CookieSynOptions {
  const ws = tsEcr & 0xf;
  return {
    windowScale: ws === TS_NO_WSCALE ? undefined : ws,
    sackPermitted: (tsEcr & TS_SACK) !== 0,
    ecn: (tsEcr & TS_ECN) !== 0,
  };
}
