/**
 * Classic libpcap capture files (the `.pcap` that tcpdump -w writes and Wireshark opens), as
 * pure functions over bytes: no I/O here (streams/operators/capture.ts does the writing).
 *
 * File layout (all fields in the writer's byte order, which the magic number reveals):
 *
 *   global header, 24 bytes            record header, 16 bytes, then incl_len bytes of data
 *   0  magic      0xa1b2c3d4           0  ts_sec    seconds since the epoch
 *   4  version    2 (u16), 4 (u16)     4  ts_usec   microseconds (nanoseconds with 0xa1b23c4d)
 *   8  thiszone   0 (s32, unused)      8  incl_len  bytes captured (<= snaplen)
 *   12 sigfigs    0 (u32, unused)      12 orig_len  length of the frame on the wire
 *   16 snaplen    max bytes per record
 *   20 linktype   1 = LINKTYPE_ETHERNET
 *
 * We write little-endian with microsecond timestamps (what tcpdump writes on x86 and ARM);
 * the reader takes both byte orders and the nanosecond variant.
 */

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
export const PCAP_GLOBAL_HEADER_LENGTH = 24;
export const PCAP_RECORD_HEADER_LENGTH = 16;
/** tcpdump's classic default; 262144 is libpcap's maximum. */
export const PCAP_DEFAULT_SNAPLEN = 65535;
/** Largest record a reader accepts (libpcap's MAXIMUM_SNAPLEN): a bigger incl_len is garbage. */
export const PCAP_MAX_RECORD_LENGTH = 262144;

export const LinkType = {
  ETHERNET: 1,
  RAW: 101,
} as const;
export type LinkType = (typeof LinkType)[keyof typeof LinkType];

const G = { MAGIC: 0, VERSION_MAJOR: 4, VERSION_MINOR: 6, THISZONE: 8, SIGFIGS: 12, SNAPLEN: 16, LINKTYPE: 20 } as const;
const R = { TS_SEC: 0, TS_FRAC: 4, INCL_LEN: 8, ORIG_LEN: 12 } as const;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The 24-byte global header of a microsecond, little-endian pcap file. */
export function pcapGlobalHeader(snaplen: number = PCAP_DEFAULT_SNAPLEN, linkType: number = LinkType.ETHERNET): Uint8Array {
  const bytes = new Uint8Array(PCAP_GLOBAL_HEADER_LENGTH);
  const v = view(bytes);
  v.setUint32(G.MAGIC, PCAP_MAGIC_US, true);
  v.setUint16(G.VERSION_MAJOR, PCAP_VERSION_MAJOR, true);
  v.setUint16(G.VERSION_MINOR, PCAP_VERSION_MINOR, true);
  v.setInt32(G.THISZONE, 0, true);
  v.setUint32(G.SIGFIGS, 0, true);
  v.setUint32(G.SNAPLEN, snaplen >>> 0, true);
  v.setUint32(G.LINKTYPE, linkType >>> 0, true);
  return bytes;
}

/**
 * Writes a 16-byte record header at `offset` of `target` (no allocation). `tsMs` is a time in
 * milliseconds since the epoch (fractions kept to the microsecond).
 */
export function writePcapRecordHeader(
  target: Uint8Array,
  offset: number,
  tsMs: number,
  capturedLength: number,
  origLength: number,
): void {
  const totalUs = Math.round(tsMs * 1000);
  const sec = Math.floor(totalUs / 1_000_000);
  const usec = totalUs - sec * 1_000_000;
  putU32le(target, offset + R.TS_SEC, sec);
  putU32le(target, offset + R.TS_FRAC, usec);
  putU32le(target, offset + R.INCL_LEN, capturedLength);
  putU32le(target, offset + R.ORIG_LEN, origLength);
}

/** Per-record path: plain byte stores instead of a DataView allocated per record. */
function putU32le(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value;
  target[offset + 1] = value >>> 8;
  target[offset + 2] = value >>> 16;
  target[offset + 3] = value >>> 24;
}

/** A 16-byte record header (see {@link writePcapRecordHeader}). */
export function pcapRecordHeader(tsMs: number, capturedLength: number, origLength: number): Uint8Array {
  const bytes = new Uint8Array(PCAP_RECORD_HEADER_LENGTH);
  writePcapRecordHeader(bytes, 0, tsMs, capturedLength, origLength);
  return bytes;
}

/**
 * One whole record (header and the first `snaplen` bytes of `frame`) in a single allocation,
 * so a sink gets one write per frame.
 */
export function encodePcapRecord(tsMs: number, frame: Uint8Array, snaplen: number = PCAP_DEFAULT_SNAPLEN): Uint8Array {
  const captured = Math.min(frame.length, snaplen);
  const bytes = new Uint8Array(PCAP_RECORD_HEADER_LENGTH + captured);
  writePcapRecordHeader(bytes, 0, tsMs, captured, frame.length);
  bytes.set(captured === frame.length ? frame : frame.subarray(0, captured), PCAP_RECORD_HEADER_LENGTH);
  return bytes;
}

/**
 * Accumulates a pcap file into a sink callback: the global header on construction, then one
 * `write` per record. Pure: the sink does the I/O.
 */
export class PcapWriter {
  readonly snaplen: number;
  /** Records written so far. */
  records = 0;

  constructor(
    private readonly write: (bytes: Uint8Array) => void,
    options: { readonly snaplen?: number; readonly linkType?: number } = {},
  ) {
    this.snaplen = options.snaplen ?? PCAP_DEFAULT_SNAPLEN;
    write(pcapGlobalHeader(this.snaplen, options.linkType ?? LinkType.ETHERNET));
  }

  /** Writes one frame captured at `tsMs` (ms since the epoch). */
  record(tsMs: number, frame: Uint8Array): void {
    this.records++;
    this.write(encodePcapRecord(tsMs, frame, this.snaplen));
  }
}

export interface PcapRecord {
  /** Capture time in microseconds since the epoch (nanosecond files are rounded down). */
  readonly timestampUs: number;
  /** The captured bytes: a view into the input, not a copy. */
  readonly data: Uint8Array;
  /** The frame's length on the wire (more than data.length when truncated by snaplen). */
  readonly origLength: number;
}

export const PcapReadError = {
  TOO_SHORT: 'tooShort',
  BAD_MAGIC: 'badMagic',
  BAD_VERSION: 'badVersion',
  TRUNCATED_RECORD_HEADER: 'truncatedRecordHeader',
  TRUNCATED_RECORD_DATA: 'truncatedRecordData',
  RECORD_TOO_LARGE: 'recordTooLarge',
} as const;
export type PcapReadError = (typeof PcapReadError)[keyof typeof PcapReadError];

export interface PcapFileInfo {
  readonly littleEndian: boolean;
  readonly nanosecond: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly snaplen: number;
  readonly linkType: number;
  /** Every whole record read (up to the problem, when there is one). */
  readonly records: PcapRecord[];
}

export type PcapReadResult =
  | (PcapFileInfo & { readonly ok: true })
  | (Partial<Omit<PcapFileInfo, 'records'>> & {
      readonly ok: false;
      readonly reason: PcapReadError;
      /** Byte offset where reading stopped. */
      readonly offset: number;
      readonly records: PcapRecord[];
    });

/**
 * Parses a whole classic pcap file. Never throws: a malformed or truncated file gives
 * `ok: false` with the reason and the records read before the problem (a capture cut short by
 * a killed process still yields its whole records).
 */
export function readPcap(bytes: Uint8Array): PcapReadResult {
  const records: PcapRecord[] = [];
  if (bytes.length < PCAP_GLOBAL_HEADER_LENGTH) {
    return { ok: false, reason: PcapReadError.TOO_SHORT, offset: 0, records };
  }
  const v = view(bytes);
  const magicLe = v.getUint32(G.MAGIC, true);
  let littleEndian: boolean;
  let nanosecond: boolean;
  if (magicLe === PCAP_MAGIC_US || magicLe === PCAP_MAGIC_NS) {
    littleEndian = true;
    nanosecond = magicLe === PCAP_MAGIC_NS;
  } else {
    const magicBe = v.getUint32(G.MAGIC, false);
    if (magicBe !== PCAP_MAGIC_US && magicBe !== PCAP_MAGIC_NS) {
      return { ok: false, reason: PcapReadError.BAD_MAGIC, offset: 0, records };
    }
    littleEndian = false;
    nanosecond = magicBe === PCAP_MAGIC_NS;
  }
  const le = littleEndian;
  const versionMajor = v.getUint16(G.VERSION_MAJOR, le);
  const versionMinor = v.getUint16(G.VERSION_MINOR, le);
  const snaplen = v.getUint32(G.SNAPLEN, le);
  // The link type's upper bits carry FCS information in newer libpcap; the type is the low 16.
  const linkType = v.getUint32(G.LINKTYPE, le) & 0xffff;
  const info = { littleEndian, nanosecond, versionMajor, versionMinor, snaplen, linkType };
  if (versionMajor !== PCAP_VERSION_MAJOR) {
    return { ok: false, reason: PcapReadError.BAD_VERSION, offset: G.VERSION_MAJOR, records, ...info };
  }

  let offset = PCAP_GLOBAL_HEADER_LENGTH;
  while (offset < bytes.length) {
    if (bytes.length - offset < PCAP_RECORD_HEADER_LENGTH) {
      return { ok: false, reason: PcapReadError.TRUNCATED_RECORD_HEADER, offset, records, ...info };
    }
    const sec = v.getUint32(offset + R.TS_SEC, le);
    const frac = v.getUint32(offset + R.TS_FRAC, le);
    const inclLen = v.getUint32(offset + R.INCL_LEN, le);
    const origLen = v.getUint32(offset + R.ORIG_LEN, le);
    if (inclLen > PCAP_MAX_RECORD_LENGTH) {
      return { ok: false, reason: PcapReadError.RECORD_TOO_LARGE, offset, records, ...info };
    }
    const dataStart = offset + PCAP_RECORD_HEADER_LENGTH;
    if (bytes.length - dataStart < inclLen) {
      return { ok: false, reason: PcapReadError.TRUNCATED_RECORD_DATA, offset, records, ...info };
    }
    records.push({
      timestampUs: sec * 1_000_000 + (nanosecond ? Math.floor(frac / 1000) : frac),
      data: bytes.subarray(dataStart, dataStart + inclLen),
      origLength: origLen,
    });
    offset = dataStart + inclLen;
  }
  return { ok: true, records, ...info };
}
