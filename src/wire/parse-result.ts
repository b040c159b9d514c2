/**
 * What every wire parser returns: the meaning of the bytes, or a short reason why they are
 * malformed. Parsers never throw on input from the wire; the layer drops the packet and counts
 * the reason.
 */
export type ParseResult<T, R extends string = string> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: R };

/** Builds a success result. */
export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

/** Builds a failure result. */
export function malformed<R extends string>(reason: R): { readonly ok: false; readonly reason: R } {
  return { ok: false, reason };
}

/** The options of the parsers whose header carries a checksum (IPv4, ICMP, UDP, TCP). */
export interface ChecksumParseOptions {
  /** Verify the checksum (default true). */
  readonly verifyChecksum?: boolean;
}
