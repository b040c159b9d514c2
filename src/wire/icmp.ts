/**
 * ICMP for IPv4 (RFC 792, RFC 1122 3.2.2, RFC 1191 for the next-hop MTU). The checksum covers
 * the whole message. Error messages quote the offending datagram's IP header and at least its
 * first 8 data bytes; `parseIcmp` insists on that much so the quote can name a transport
 * endpoint (`parseIcmpQuote`).
 */

import { readIpv4, type Ipv4Addr } from '../ipv4/address.js';
import type { PacketBuffer } from '../packet-buffer.js';
import { internetChecksum, onesSum } from './checksum.js';
import { malformed, ok, type ChecksumParseOptions, type ParseResult } from './parse-result.js';

/** Byte offsets of the header fields. */
const F = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** Echo: identifier and sequence number. */
  IDENT: 4,
  SEQ: 6,
  /** Destination unreachable, code 4: next-hop MTU (RFC 1191). */
  NEXT_HOP_MTU: 6,
  /** Parameter problem: pointer to the offending octet. */
  POINTER: 4,
  /** The 32-bit "rest of header" for other types. */
  REST: 4,
  DATA: 8,
} as const;

export const ICMP_HEADER_LEN = 8;
/** IP header (minimum) + 8 bytes: what an error message must quote at least. */
const MIN_QUOTE_LEN = 28;

export const IcmpType = {
  ECHO_REPLY: 0,
  DEST_UNREACHABLE: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
  PARAMETER_PROBLEM: 12,
  TIMESTAMP: 13,
  TIMESTAMP_REPLY: 14,
} as const;
export type IcmpType = (typeof IcmpType)[keyof typeof IcmpType];

/** Codes of Destination Unreachable (RFC 792, RFC 1122 3.2.2.1, RFC 1812 5.2.7.1). */
export const IcmpUnreachableCode = {
  NET_UNREACHABLE: 0,
  HOST_UNREACHABLE: 1,
  PROTOCOL_UNREACHABLE: 2,
  PORT_UNREACHABLE: 3,
  FRAGMENTATION_NEEDED: 4,
  SOURCE_ROUTE_FAILED: 5,
  DEST_NET_UNKNOWN: 6,
  DEST_HOST_UNKNOWN: 7,
  SOURCE_HOST_ISOLATED: 8,
  NET_PROHIBITED: 9,
  HOST_PROHIBITED: 10,
  NET_UNREACHABLE_FOR_TOS: 11,
  HOST_UNREACHABLE_FOR_TOS: 12,
  COMMUNICATION_PROHIBITED: 13,
  HOST_PRECEDENCE_VIOLATION: 14,
  PRECEDENCE_CUTOFF: 15,
} as const;
export type IcmpUnreachableCode = (typeof IcmpUnreachableCode)[keyof typeof IcmpUnreachableCode];

export const IcmpTimeExceededCode = {
  TTL_EXCEEDED: 0,
  REASSEMBLY_TIME_EXCEEDED: 1,
} as const;
export type IcmpTimeExceededCode = (typeof IcmpTimeExceededCode)[keyof typeof IcmpTimeExceededCode];

export type IcmpMalformedReason = 'truncated' | 'badChecksum' | 'badQuote';

export interface IcmpEcho {
  readonly kind: 'echo-request' | 'echo-reply';
  readonly ident: number;
  readonly seq: number;
  /** Echo data. On parse a view into the packet; on emit ignored (already in the buffer). */
  readonly data: Uint8Array;
}

export interface IcmpDestUnreachable {
  readonly kind: 'dest-unreachable';
  /** IcmpUnreachableCode value. */
  readonly code: number;
  /** Next-hop MTU for FRAGMENTATION_NEEDED (RFC 1191), else 0. */
  readonly nextHopMtu: number;
  /**
   * The offending datagram's IP header and at least 8 bytes after it. On parse a view; on emit
   * ignored (already in the buffer).
   */
  readonly quoted: Uint8Array;
}

export interface IcmpTimeExceeded {
  readonly kind: 'time-exceeded';
  /** IcmpTimeExceededCode value. */
  readonly code: number;
  /** As for IcmpDestUnreachable. */
  readonly quoted: Uint8Array;
}

export interface IcmpParameterProblem {
  readonly kind: 'parameter-problem';
  readonly code: number;
  /** Offset of the offending octet in the quoted datagram. */
  readonly pointer: number;
  /** As for IcmpDestUnreachable. */
  readonly quoted: Uint8Array;
}

/** Any other type: carried, not interpreted. */
export interface IcmpOther {
  readonly kind: 'other';
  readonly type: number;
  readonly code: number;
  /** The 32-bit "rest of header" field (bytes 4..7). */
  readonly rest: number;
  /** Bytes after the 8-byte header. On parse a view; on emit ignored. */
  readonly data: Uint8Array;
}

/** What an ICMP message means. */
export type IcmpRepr = IcmpEcho | IcmpDestUnreachable | IcmpTimeExceeded | IcmpParameterProblem | IcmpOther;

/** The transport endpoint named by the datagram quoted in an ICMP error. */
export interface IcmpQuote {
  readonly src: Ipv4Addr;
  readonly dst: Ipv4Addr;
  readonly protocol: number;
  readonly ident: number;
  /** The quoted transport header bytes (at least 8). A view. */
  readonly transport: Uint8Array;
  /** First two bytes of `transport` (the source port for TCP and UDP). */
  readonly srcPort: number;
  /** Bytes 2-3 of `transport` (the destination port for TCP and UDP). */
  readonly dstPort: number;
  /** Bytes 4-7 of `transport` as an unsigned 32-bit number (TCP's sequence number; RFC 5927 checks it). */
  readonly word1: number;
}

/** `verifyChecksum`: verify the checksum (default true). */
export type IcmpParseOptions = ChecksumParseOptions;

/** A view over an ICMP message. Getters other than `check()` assume it returned undefined. */
export class IcmpPacket {
  bytes: Uint8Array;

  constructor(bytes: Uint8Array = new Uint8Array(0)) {
    this.bytes = bytes;
  }

  /** Rebinds the view to other bytes without allocating. */
  reset(bytes: Uint8Array): this {
    this.bytes = bytes;
    return this;
  }

  /** Undefined when the 8-byte header is present (the checksum is checked separately). */
  check(): IcmpMalformedReason | undefined {
    return this.bytes.length < ICMP_HEADER_LEN ? 'truncated' : undefined;
  }

  get type(): number {
    return this.bytes[F.TYPE];
  }

  set type(value: number) {
    this.bytes[F.TYPE] = value;
  }

  get code(): number {
    return this.bytes[F.CODE];
  }

  set code(value: number) {
    this.bytes[F.CODE] = value;
  }

  get checksum(): number {
    return (this.bytes[F.CHECKSUM] << 8) | this.bytes[F.CHECKSUM + 1];
  }

  get ident(): number {
    return (this.bytes[F.IDENT] << 8) | this.bytes[F.IDENT + 1];
  }

  get seq(): number {
    return (this.bytes[F.SEQ] << 8) | this.bytes[F.SEQ + 1];
  }

  get nextHopMtu(): number {
    return (this.bytes[F.NEXT_HOP_MTU] << 8) | this.bytes[F.NEXT_HOP_MTU + 1];
  }

  get pointer(): number {
    return this.bytes[F.POINTER];
  }

  get rest(): number {
    return readIpv4(this.bytes, F.REST);
  }

  /** Everything after the 8-byte header, as a view. */
  get data(): Uint8Array {
    return this.bytes.subarray(F.DATA);
  }

  verifyChecksum(): boolean {
    return onesSum(this.bytes, 0, this.bytes.length) === 0xffff;
  }

  /** Recomputes the checksum over the whole message in place. */
  fillChecksum(): void {
    const b = this.bytes;
    b[F.CHECKSUM] = 0;
    b[F.CHECKSUM + 1] = 0;
    const c = internetChecksum(b, 0, b.length);
    b[F.CHECKSUM] = c >>> 8;
    b[F.CHECKSUM + 1] = c & 0xff;
  }
}

/** True when `quoted` starts with an IPv4 header followed by at least 8 bytes. */
function quoteIsComplete(quoted: Uint8Array): boolean {
  if (quoted.length < MIN_QUOTE_LEN || quoted[0] >>> 4 !== 4) return false;
  const hl = (quoted[0] & 0x0f) << 2;
  return hl >= 20 && quoted.length >= hl + 8;
}

/**
 * Parses an ICMP message (the IPv4 payload). Never throws; data and quotes are views.
 * Error messages whose quote lacks an IPv4 header plus 8 bytes are 'badQuote'.
 */
export function parseIcmp(bytes: Uint8Array, opts?: IcmpParseOptions): ParseResult<IcmpRepr, IcmpMalformedReason> {
  const p = new IcmpPacket(bytes);
  const reason = p.check();
  if (reason !== undefined) return malformed(reason);
  if (opts?.verifyChecksum !== false && !p.verifyChecksum()) return malformed('badChecksum');
  const type = p.type;
  switch (type) {
    case IcmpType.ECHO_REQUEST:
    case IcmpType.ECHO_REPLY:
      return ok({
        kind: type === IcmpType.ECHO_REQUEST ? 'echo-request' : 'echo-reply',
        ident: p.ident,
        seq: p.seq,
        data: p.data,
      });
    case IcmpType.DEST_UNREACHABLE:
    case IcmpType.TIME_EXCEEDED:
    case IcmpType.PARAMETER_PROBLEM: {
      const quoted = p.data;
      if (!quoteIsComplete(quoted)) return malformed('badQuote');
      if (type === IcmpType.DEST_UNREACHABLE) {
        const code = p.code;
        return ok({
          kind: 'dest-unreachable',
          code,
          nextHopMtu: code === IcmpUnreachableCode.FRAGMENTATION_NEEDED ? p.nextHopMtu : 0,
          quoted,
        });
      }
      if (type === IcmpType.TIME_EXCEEDED) return ok({ kind: 'time-exceeded', code: p.code, quoted });
      return ok({ kind: 'parameter-problem', code: p.code, pointer: p.pointer, quoted });
    }
    default:
      return ok({ kind: 'other', type, code: p.code, rest: p.rest, data: p.data });
  }
}

/**
 * Reads the endpoint named by an error's quoted datagram: its IPv4 header (addresses,
 * protocol) and the first 8 bytes after it (ports). Never throws.
 */
export function parseIcmpQuote(quoted: Uint8Array): ParseResult<IcmpQuote, 'badQuote'> {
  if (!quoteIsComplete(quoted)) return malformed('badQuote');
  const hl = (quoted[0] & 0x0f) << 2;
  return ok({
    src: readIpv4(quoted, 12),
    dst: readIpv4(quoted, 16),
    protocol: quoted[9],
    ident: (quoted[4] << 8) | quoted[5],
    transport: quoted.subarray(hl),
    srcPort: (quoted[hl] << 8) | quoted[hl + 1],
    dstPort: (quoted[hl + 2] << 8) | quoted[hl + 3],
    word1: ((quoted[hl + 4] << 24) | (quoted[hl + 5] << 16) | (quoted[hl + 6] << 8) | quoted[hl + 7]) >>> 0,
  });
}

/** The type number of a repr. */
export function icmpTypeOf(repr: IcmpRepr): number {
  switch (repr.kind) {
    case 'echo-request': return IcmpType.ECHO_REQUEST;
    case 'echo-reply': return IcmpType.ECHO_REPLY;
    case 'dest-unreachable': return IcmpType.DEST_UNREACHABLE;
    case 'time-exceeded': return IcmpType.TIME_EXCEEDED;
    case 'parameter-problem': return IcmpType.PARAMETER_PROBLEM;
    case 'other': return repr.type;
  }
}

/**
 * Prepends the 8-byte ICMP header in front of what `pb` holds and computes the checksum over the
 * whole message. Convention: the body (echo data, quoted datagram, other data) must already be
 * in `pb`; the repr's `data`/`quoted` is ignored here.
 */
export function emitIcmp(repr: IcmpRepr, pb: PacketBuffer): void {
  const at = pb.prepend(ICMP_HEADER_LEN);
  const b = pb.buf;
  b[at + F.TYPE] = icmpTypeOf(repr);
  let code = 0;
  let rest = 0;
  switch (repr.kind) {
    case 'echo-request':
    case 'echo-reply':
      rest = (((repr.ident & 0xffff) << 16) | (repr.seq & 0xffff)) >>> 0;
      break;
    case 'dest-unreachable':
      code = repr.code;
      rest = repr.nextHopMtu & 0xffff;
      break;
    case 'time-exceeded':
      code = repr.code;
      break;
    case 'parameter-problem':
      code = repr.code;
      rest = ((repr.pointer & 0xff) << 24) >>> 0;
      break;
    case 'other':
      code = repr.code;
      rest = repr.rest >>> 0;
      break;
  }
  b[at + F.CODE] = code;
  b[at + F.CHECKSUM] = 0;
  b[at + F.CHECKSUM + 1] = 0;
  b[at + F.REST] = rest >>> 24;
  b[at + F.REST + 1] = (rest >>> 16) & 0xff;
  b[at + F.REST + 2] = (rest >>> 8) & 0xff;
  b[at + F.REST + 3] = rest & 0xff;
  const c = internetChecksum(b, at, pb.end - at);
  b[at + F.CHECKSUM] = c >>> 8;
  b[at + F.CHECKSUM + 1] = c & 0xff;
}
