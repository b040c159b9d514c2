/**
 * Multicast Listener Discovery for a host: MLDv2 reports (RFC 3810 5.2), which tell routers and
 * snooping switches which groups we listen to (the solicited-node groups of our addresses above
 * all, or neighbour solicitations never reach us through a snooping switch), and queries (RFC
 * 3810 5.1, and the 24-byte MLDv1 form of RFC 2710), which we must answer.
 *
 * Both are ICMPv6 messages. They travel with hop limit 1, a link-local source (or :: before one
 * exists, RFC 3810 5.2.13) and a hop-by-hop Router Alert option (RFC 3810 5); reports go to
 * ff02::16. `parseMldQuery` checks the hop limit; the wiring checks the rest of RFC 3810 5.1.14
 * and 6.2 that needs the IP header (a link-local source, the Router Alert option).
 */

import { IPV6_ADDR_LEN, type Ipv6Addr } from '../ipv6/address.js';
import type { PacketBuffer } from '../packet-buffer.js';
import { fillIcmpv6Checksum, Icmpv6Type, type Icmpv6Addresses } from './icmpv6.js';
import { malformed, ok, type ParseResult } from './parse-result.js';

/** Multicast address record types (RFC 3810 5.2.12). */
export const MldRecordType = {
  MODE_IS_INCLUDE: 1,
  MODE_IS_EXCLUDE: 2,
  /** Sent on leaving a group (with no sources: "include nothing"). */
  CHANGE_TO_INCLUDE: 3,
  /** Sent on joining a group (with no sources: "exclude nothing", any source). */
  CHANGE_TO_EXCLUDE: 4,
  ALLOW_NEW_SOURCES: 5,
  BLOCK_OLD_SOURCES: 6,
} as const;

/** The IP hop limit of every MLD message. */
export const MLD_HOP_LIMIT = 1;
const REPORT_HEADER_LEN = 8;
const RECORD_HEADER_LEN = 20;
const V1_QUERY_LEN = 24;
const V2_QUERY_MIN_LEN = 28;

export interface MldRecord {
  /** MldRecordType value. */
  readonly type: number;
  readonly group: Ipv6Addr;
  readonly sources: readonly Ipv6Addr[];
  /** Auxiliary data (RFC 3810 says none is defined; receivers skip it). A view on parse. */
  readonly auxData?: Uint8Array;
}

export interface MldReport {
  readonly records: readonly MldRecord[];
}

export interface MldQuery {
  /** 1 or 2 (by length, RFC 3810 8.1). */
  readonly version: 1 | 2;
  /** Maximum response delay in ms (decoded from the Maximum Response Code for v2). */
  readonly maxResponseDelayMs: number;
  /** The group asked about, or :: for a general query. A view. */
  readonly group: Ipv6Addr;
  /** v2: the sources asked about (views); empty for v1. */
  readonly sources: readonly Ipv6Addr[];
  /** v2: S flag (suppress router-side processing). */
  readonly suppress: boolean;
  /** v2: querier's robustness variable (0 when unset or v1). */
  readonly robustness: number;
  /** v2: querier's query interval in seconds, decoded from QQIC (0 for v1). */
  readonly queryIntervalS: number;
}

export type MldMalformedReason = 'notMld' | 'truncated' | 'badHopLimit' | 'badCode' | 'badRecord';

function be16(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

/** RFC 3810 5.1.3: codes >= 32768 are a float (exp in bits 12-14, mantissa in 0-11). */
function decodeMaxResponseCode(code: number): number {
  if (code < 0x8000) return code;
  const exp = (code >>> 12) & 7;
  const mant = code & 0x0fff;
  return (mant | 0x1000) * 2 ** (exp + 3);
}

/** RFC 3810 5.1.9: QQIC >= 128 is a float (exp in bits 4-6, mantissa in 0-3). */
function decodeQqic(qqic: number): number {
  if (qqic < 0x80) return qqic;
  return ((qqic & 0x0f) | 0x10) << (((qqic >>> 4) & 7) + 3);
}

/** The bytes of a report holding `records`. */
export function mldReportLen(report: MldReport): number {
  let len = REPORT_HEADER_LEN;
  for (const r of report.records) len += RECORD_HEADER_LEN + IPV6_ADDR_LEN * r.sources.length + (((r.auxData?.length ?? 0) + 3) & ~3);
  return len;
}

/**
 * Prepends an MLDv2 report (type 143) holding `report.records` in front of what `pb` holds
 * (normally nothing) and fills the ICMPv6 checksum for `addrs` (source link-local or ::,
 * destination ff02::16). Throws RangeError for more than 65,535 records or sources, or a
 * headroom too small for `mldReportLen(report)`: caller bugs. Splitting a long report so each
 * fits the link MTU is the caller's job (RFC 3810 5.2.15).
 */
export function emitMldReport(report: MldReport, pb: PacketBuffer, addrs: Icmpv6Addresses): void {
  if (report.records.length > 0xffff) throw new RangeError(`MLD report: ${report.records.length} records`);
  const len = mldReportLen(report);
  const at = pb.prepend(len);
  const b = pb.buf;
  b.fill(0, at, at + len);
  b[at] = Icmpv6Type.MLDV2_REPORT;
  b[at + 6] = report.records.length >>> 8;
  b[at + 7] = report.records.length & 0xff;
  let o = at + REPORT_HEADER_LEN;
  for (const r of report.records) {
    if (r.sources.length > 0xffff) throw new RangeError(`MLD record: ${r.sources.length} sources`);
    const aux = r.auxData?.length ?? 0;
    const auxWords = (aux + 3) >>> 2;
    if (auxWords > 255) throw new RangeError(`MLD record: ${aux} bytes of auxiliary data`);
    b[o] = r.type;
    b[o + 1] = auxWords;
    b[o + 2] = r.sources.length >>> 8;
    b[o + 3] = r.sources.length & 0xff;
    b.set(r.group.subarray(0, IPV6_ADDR_LEN), o + 4);
    o += RECORD_HEADER_LEN;
    for (const s of r.sources) {
      b.set(s.subarray(0, IPV6_ADDR_LEN), o);
      o += IPV6_ADDR_LEN;
    }
    if (r.auxData) b.set(r.auxData, o);
    o += auxWords << 2;
  }
  fillIcmpv6Checksum(b, at, pb.end - at, addrs.src, addrs.dst);
}

/** Parses an MLDv2 report (checksum verified by parseIcmpv6). Never throws; addresses are views. */
export function parseMldReport(message: Uint8Array): ParseResult<MldReport, MldMalformedReason> {
  if (message.length < REPORT_HEADER_LEN) return malformed('truncated');
  if (message[0] !== Icmpv6Type.MLDV2_REPORT) return malformed('notMld');
  const count = be16(message, 6);
  const records: MldRecord[] = [];
  let o = REPORT_HEADER_LEN;
  for (let i = 0; i < count; i++) {
    if (o + RECORD_HEADER_LEN > message.length) return malformed('badRecord');
    const nSources = be16(message, o + 2);
    const aux = message[o + 1] << 2;
    const end = o + RECORD_HEADER_LEN + nSources * IPV6_ADDR_LEN + aux;
    if (end > message.length) return malformed('badRecord');
    const sources: Ipv6Addr[] = [];
    for (let s = 0; s < nSources; s++) {
      const at = o + RECORD_HEADER_LEN + s * IPV6_ADDR_LEN;
      sources.push(message.subarray(at, at + IPV6_ADDR_LEN));
    }
    const rec: MldRecord = {
      type: message[o],
      group: message.subarray(o + 4, o + 20),
      sources,
      ...(aux > 0 ? { auxData: message.subarray(end - aux, end) } : {}),
    };
    records.push(rec);
    o = end;
  }
  return ok({ records });
}

/**
 * Parses a query (type 130): MLDv1 when exactly 24 bytes, MLDv2 when 28 or more (RFC 3810 8.1;
 * other lengths are 'truncated'). `hopLimit` is the IP header's: it must be 1 (RFC 3810 6.2).
 * Never throws; addresses are views.
 */
export function parseMldQuery(message: Uint8Array, hopLimit: number): ParseResult<MldQuery, MldMalformedReason> {
  if (message.length < 4 || message[0] !== Icmpv6Type.MLD_QUERY) return malformed(message.length < 4 ? 'truncated' : 'notMld');
  if (hopLimit !== MLD_HOP_LIMIT) return malformed('badHopLimit');
  if (message[1] !== 0) return malformed('badCode');
  if (message.length === V1_QUERY_LEN) {
    return ok({
      version: 1, maxResponseDelayMs: be16(message, 4), group: message.subarray(8, 24), sources: [],
      suppress: false, robustness: 0, queryIntervalS: 0,
    });
  }
  if (message.length < V2_QUERY_MIN_LEN) return malformed('truncated');
  const n = be16(message, 26);
  if (V2_QUERY_MIN_LEN + n * IPV6_ADDR_LEN > message.length) return malformed('truncated');
  const sources: Ipv6Addr[] = [];
  for (let i = 0; i < n; i++) {
    const at = V2_QUERY_MIN_LEN + i * IPV6_ADDR_LEN;
    sources.push(message.subarray(at, at + IPV6_ADDR_LEN));
  }
  return ok({
    version: 2,
    maxResponseDelayMs: decodeMaxResponseCode(be16(message, 4)),
    group: message.subarray(8, 24),
    sources,
    suppress: (message[24] & 0x08) !== 0,
    robustness: message[24] & 0x07,
    queryIntervalS: decodeQqic(message[25]),
  });
}

/** An MLDv1 report (type 131) or done (type 132) message (RFC 2710 3): 24 bytes. */
export interface MldV1Message {
  readonly type: typeof Icmpv6Type.MLDV1_REPORT | typeof Icmpv6Type.MLDV1_DONE;
  /** The group reported or left. A view on parse. */
  readonly group: Ipv6Addr;
}

/** The length of an MLDv1 report or done message. */
export const MLDV1_MESSAGE_LEN = V1_QUERY_LEN;

/**
 * Prepends an MLDv1 report or done (used while an MLDv1 querier is present, RFC 3810 8.2.1) in
 * front of what `pb` holds and fills the ICMPv6 checksum. Reports go to the group itself, done
 * messages to ff02::2 (RFC 2710 4). Throws RangeError when the headroom is too small.
 */
export function emitMldV1(m: MldV1Message, pb: PacketBuffer, addrs: Icmpv6Addresses): void {
  const at = pb.prepend(V1_QUERY_LEN);
  const b = pb.buf;
  b.fill(0, at, at + V1_QUERY_LEN);
  b[at] = m.type;
  b.set(m.group.subarray(0, IPV6_ADDR_LEN), at + 8);
  fillIcmpv6Checksum(b, at, pb.end - at, addrs.src, addrs.dst);
}

/** Parses an MLDv1 report or done (checksum verified by parseIcmpv6). Never throws. */
export function parseMldV1(message: Uint8Array): ParseResult<MldV1Message, MldMalformedReason> {
  if (message.length < V1_QUERY_LEN) return malformed('truncated');
  const type = message[0];
  if (type !== Icmpv6Type.MLDV1_REPORT && type !== Icmpv6Type.MLDV1_DONE) return malformed('notMld');
  if (message[1] !== 0) return malformed('badCode');
  return ok({ type, group: message.subarray(8, 24) });
}
