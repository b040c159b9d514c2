import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatIpv6, ipv6Addr, Ipv6Addresses, solicitedNodeAddress } from '../../src/ipv6/address.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { parseIcmpv6 } from '../../src/wire/icmpv6.js';
import { MldRecordType, MLDV1_MESSAGE_LEN, emitMldReport, emitMldV1, mldReportLen, parseMldQuery, parseMldReport, parseMldV1, type MldReport } from '../../src/wire/mld.js';
import { referenceChecksum } from '../helpers/icmpv6-checksum.js';

const LL = ipv6Addr('fe80::5054:ff:fe12:3456');
const ADDRS = { src: LL, dst: Ipv6Addresses.ALL_MLDV2_ROUTERS };

// The report a host sends when it joins ff02::1:ff12:3456 (its solicited-node group).
const JOIN = new Uint8Array([
  0x8f, 0x00, 0x00, 0x00, // type 143 (MLDv2 report), code 0, checksum (filled below)
  0x00, 0x00, 0x00, 0x01, // reserved, 1 record
  0x04, 0x00, 0x00, 0x00, // CHANGE_TO_EXCLUDE_MODE, no aux data, no sources: join, any source
  0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // group ff02::1:ff12:3456
  0x00, 0x00, 0x00, 0x01, 0xff, 0x12, 0x34, 0x56,
]);
const c = referenceChecksum(LL, Ipv6Addresses.ALL_MLDV2_ROUTERS, JOIN);
JOIN[2] = c >>> 8;
JOIN[3] = c & 0xff;

function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return [...v];
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function emit(report: MldReport): Uint8Array {
  const pb = PacketBuffer.alloc(0, mldReportLen(report));
  emitMldReport(report, pb, ADDRS);
  return pb.bytes();
}

describe('wire/mld', () => {
  it('encodes the join of a solicited-node group byte for byte', () => {
    const group = solicitedNodeAddress(ipv6Addr('fd00::5054:ff:fe12:3456'));
    assert.deepEqual(emit({ records: [{ type: MldRecordType.CHANGE_TO_EXCLUDE, group, sources: [] }] }), JOIN);
    const icmp = parseIcmpv6(JOIN, ADDRS);
    assert.ok(icmp.ok && icmp.value.kind === 'other' && icmp.value.type === 143);
  });

  it('round-trips records with sources and aux data', () => {
    const report: MldReport = {
      records: [
        { type: MldRecordType.MODE_IS_INCLUDE, group: ipv6Addr('ff05::1:3'), sources: [ipv6Addr('fd00::7'), ipv6Addr('fd00::8')] },
        { type: MldRecordType.BLOCK_OLD_SOURCES, group: ipv6Addr('ff0e::101'), sources: [ipv6Addr('2001:db8::1')], auxData: Uint8Array.from([1, 2, 3, 4]) },
        { type: MldRecordType.CHANGE_TO_INCLUDE, group: ipv6Addr('ff02::1:ff00:2'), sources: [] },
      ],
    };
    const bytes = emit(report);
    assert.equal(bytes.length, 8 + (20 + 32) + (20 + 16 + 4) + 20);
    const r = parseMldReport(bytes);
    assert.ok(r.ok);
    assert.deepEqual(plain(r.value), plain(report));
  });

  it('refuses a record running past the message', () => {
    assert.deepEqual(parseMldReport(JOIN.subarray(0, 20)), { ok: false, reason: 'badRecord' });
    const lying = JOIN.slice();
    lying[11] = 1; // one source announced, none present
    assert.deepEqual(parseMldReport(lying), { ok: false, reason: 'badRecord' });
  });

  it('parses an MLDv2 general query with its float-coded fields', () => {
    const q = new Uint8Array([
      0x82, 0x00, 0x00, 0x00, // type 130, code 0, checksum
      0x80, 0x00, 0x00, 0x00, // max response code 0x8000: (0x1000) << 3 = 32768 ms; reserved
      ...new Array(16).fill(0), // group :: (general query)
      0x0a, 0x7d, 0x00, 0x00, // S set, QRV 2; QQIC 125 s; no sources
    ]);
    const r = parseMldQuery(q, 1);
    assert.ok(r.ok);
    assert.equal(r.value.version, 2);
    assert.equal(r.value.maxResponseDelayMs, 32768);
    assert.equal(formatIpv6(r.value.group), '::');
    assert.equal(r.value.suppress, true);
    assert.equal(r.value.robustness, 2);
    assert.equal(r.value.queryIntervalS, 125);
    assert.deepEqual(parseMldQuery(q, 64), { ok: false, reason: 'badHopLimit' });
  });

  it('parses an MLDv1 query by its 24-byte length', () => {
    const q = new Uint8Array([0x82, 0, 0, 0, 0x27, 0x10, 0, 0, ...ipv6Addr('ff02::1:ff00:2')]);
    const r = parseMldQuery(q, 1);
    assert.ok(r.ok);
    assert.equal(r.value.version, 1);
    assert.equal(r.value.maxResponseDelayMs, 10000);
    assert.equal(formatIpv6(r.value.group), 'ff02::1:ff00:2');
    assert.deepEqual(parseMldQuery(Uint8Array.from([...q, 0, 0]), 1), { ok: false, reason: 'truncated' }); // neither v1 nor v2
  });

  it('encodes an MLDv1 report byte for byte, and a done; both parse back', () => {
    const group = ipv6Addr('ff02::1:ff12:3456');
    const pb = PacketBuffer.alloc(0, MLDV1_MESSAGE_LEN);
    emitMldV1({ type: 131, group }, pb, { src: LL, dst: group });
    const bytes = pb.bytes();
    const expected = new Uint8Array([
      0x83, 0x00, 0x00, 0x00, // type 131 (MLDv1 report), code 0, checksum (below)
      0x00, 0x00, 0x00, 0x00, // maximum response delay 0, reserved
      ...group,
    ]);
    const sum = referenceChecksum(LL, group, expected);
    expected[2] = sum >>> 8;
    expected[3] = sum & 0xff;
    assert.deepEqual(bytes, expected);
    assert.ok(parseIcmpv6(bytes, { src: LL, dst: group }).ok);
    const r = parseMldV1(bytes);
    assert.ok(r.ok && r.value.type === 131 && formatIpv6(r.value.group) === 'ff02::1:ff12:3456');
    const done = PacketBuffer.alloc(0, MLDV1_MESSAGE_LEN);
    emitMldV1({ type: 132, group }, done, { src: LL, dst: Ipv6Addresses.ALL_ROUTERS });
    assert.ok(parseIcmpv6(done.bytes(), { src: LL, dst: Ipv6Addresses.ALL_ROUTERS }).ok);
    assert.equal(parseMldV1(done.bytes()).ok && (parseMldV1(done.bytes()) as { value: { type: number } }).value.type, 132);
    assert.deepEqual(parseMldV1(bytes.subarray(0, 20)), { ok: false, reason: 'truncated' });
  });

  it('never throws on random messages (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat(255), (rest, hop) => {
      parseMldReport(Uint8Array.from([143, 0, 0, 0, ...rest]));
      parseMldQuery(Uint8Array.from([130, 0, 0, 0, ...rest]), hop);
      parseMldV1(Uint8Array.from([131, 0, 0, 0, ...rest]));
    }));
  });
});
