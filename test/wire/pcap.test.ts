import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  LinkType,
  PcapReadError,
  PcapWriter,
  encodePcapRecord,
  pcapGlobalHeader,
  pcapRecordHeader,
  readPcap,
} from '../../src/wire/pcap.js';
import { concatBytes } from '../helpers/bytes.js';

/** An ARP request frame (42 bytes), as a small realistic record body. */
const ARP = new Uint8Array([
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination: broadcast
  0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source
  0x08, 0x06, // EtherType ARP
  0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // Ethernet/IPv4, request
  0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 198, 18, 0, 1, // sender
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 198, 18, 0, 2, // target
]);

describe('wire/pcap', () => {
  it('writes the classic little-endian global header', () => {
    assert.deepEqual(
      pcapGlobalHeader(),
      new Uint8Array([
        0xd4, 0xc3, 0xb2, 0xa1, // magic 0xa1b2c3d4, little-endian
        0x02, 0x00, 0x04, 0x00, // version 2.4
        0x00, 0x00, 0x00, 0x00, // thiszone
        0x00, 0x00, 0x00, 0x00, // sigfigs
        0xff, 0xff, 0x00, 0x00, // snaplen 65535
        0x01, 0x00, 0x00, 0x00, // LINKTYPE_ETHERNET
      ]),
    );
    assert.deepEqual(pcapGlobalHeader(1518).subarray(16, 20), new Uint8Array([0xee, 0x05, 0, 0]));
  });

  it('writes record headers with seconds and microseconds from a millisecond time', () => {
    assert.deepEqual(
      pcapRecordHeader(1_700_000_000_123.456, 42, 60),
      new Uint8Array([
        0x00, 0xf1, 0x53, 0x65, // ts_sec 1700000000
        0x40, 0xe2, 0x01, 0x00, // ts_usec 123456
        0x2a, 0x00, 0x00, 0x00, // incl_len 42
        0x3c, 0x00, 0x00, 0x00, // orig_len 60
      ]),
    );
    // 999.9996 ms rounds to the next second, never to usec = 1000000.
    const h = new DataView(pcapRecordHeader(1999.9996, 0, 0).buffer);
    assert.equal(h.getUint32(0, true), 2);
    assert.equal(h.getUint32(4, true), 0);
  });

  it('truncates a record to snaplen and keeps the original length', () => {
    const rec = encodePcapRecord(0, ARP, 20);
    assert.equal(rec.length, 16 + 20);
    const v = new DataView(rec.buffer);
    assert.equal(v.getUint32(8, true), 20);
    assert.equal(v.getUint32(12, true), 42);
    assert.deepEqual(rec.subarray(16), ARP.subarray(0, 20));
  });

  it('round-trips frames through PcapWriter and readPcap', () => {
    const chunks: Uint8Array[] = [];
    const writer = new PcapWriter((b) => chunks.push(b), { snaplen: 1518 });
    const frames = [ARP, new Uint8Array(1514).fill(7), new Uint8Array(0)];
    frames.forEach((f, i) => writer.record(1000 * i + 0.001, f));
    assert.equal(writer.records, 3);
    const file = readPcap(concatBytes(chunks));
    assert.ok(file.ok);
    assert.equal(file.linkType, LinkType.ETHERNET);
    assert.equal(file.snaplen, 1518);
    assert.equal(file.versionMajor, 2);
    assert.equal(file.versionMinor, 4);
    assert.deepEqual(file.records.map((r) => r.timestampUs), [1, 1_000_001, 2_000_001]);
    file.records.forEach((r, i) => {
      assert.deepEqual(r.data, frames[i]);
      assert.equal(r.origLength, frames[i].length);
    });
  });

  it('reads a big-endian file with nanosecond timestamps', () => {
    const file = new Uint8Array([
      0xa1, 0xb2, 0x3c, 0x4d, // magic, nanosecond, big-endian
      0x00, 0x02, 0x00, 0x04, // version 2.4
      0, 0, 0, 0, 0, 0, 0, 0, // thiszone, sigfigs
      0x00, 0x04, 0x00, 0x00, // snaplen 262144
      0x00, 0x00, 0x00, 0x01, // Ethernet
      0x00, 0x00, 0x00, 0x02, // ts_sec 2
      0x00, 0x0f, 0x42, 0x3f, // ts_nsec 999999 -> 999 us
      0x00, 0x00, 0x00, 0x03, // incl_len 3
      0x00, 0x00, 0x00, 0x40, // orig_len 64
      0xaa, 0xbb, 0xcc,
    ]);
    const r = readPcap(file);
    assert.ok(r.ok);
    assert.equal(r.littleEndian, false);
    assert.equal(r.nanosecond, true);
    assert.equal(r.snaplen, 262144);
    assert.deepEqual(r.records, [{ timestampUs: 2_000_999, data: new Uint8Array([0xaa, 0xbb, 0xcc]), origLength: 64 }]);
  });

  it('returns a reason for malformed files, with the whole records read before the problem', () => {
    const header = pcapGlobalHeader();
    const rec = encodePcapRecord(5, ARP);
    assert.deepEqual(readPcap(new Uint8Array(10)), { ok: false, reason: PcapReadError.TOO_SHORT, offset: 0, records: [] });
    const badMagic = header.slice();
    badMagic[0] = 0;
    const m = readPcap(badMagic);
    assert.ok(!m.ok);
    assert.equal(m.reason, PcapReadError.BAD_MAGIC);

    const badVersion = header.slice();
    badVersion[4] = 3;
    const v = readPcap(badVersion);
    assert.ok(!v.ok);
    assert.equal(v.reason, PcapReadError.BAD_VERSION);

    const cutHeader = readPcap(concatBytes([header, rec, rec.subarray(0, 10)]));
    assert.ok(!cutHeader.ok);
    assert.equal(cutHeader.reason, PcapReadError.TRUNCATED_RECORD_HEADER);
    assert.equal(cutHeader.offset, 24 + rec.length);
    assert.equal(cutHeader.records.length, 1);
    assert.deepEqual(cutHeader.records[0].data, ARP);

    const cutData = readPcap(concatBytes([header, rec, rec.subarray(0, 30)]));
    assert.ok(!cutData.ok);
    assert.equal(cutData.reason, PcapReadError.TRUNCATED_RECORD_DATA);
    assert.equal(cutData.records.length, 1);

    const huge = pcapRecordHeader(0, 0x7fffffff, 0x7fffffff);
    const tooLarge = readPcap(concatBytes([header, huge]));
    assert.ok(!tooLarge.ok);
    assert.equal(tooLarge.reason, PcapReadError.RECORD_TOO_LARGE);
  });

  it('an empty capture (header only) is valid', () => {
    const r = readPcap(pcapGlobalHeader());
    assert.ok(r.ok);
    assert.deepEqual(r.records, []);
  });

  it('never throws on random bytes, with or without a valid header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (tail, withHeader) => {
        const bytes = withHeader ? concatBytes([pcapGlobalHeader(), tail]) : tail;
        const r = readPcap(bytes);
        let end = 24;
        for (const rec of r.records) end += 16 + rec.data.length;
        assert.ok(end <= Math.max(24, bytes.length));
        if (!r.ok) assert.equal(typeof r.reason, 'string');
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips random frames and times (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4_000_000_000_000 }), fc.uint8Array({ maxLength: 300 })), { maxLength: 20 }),
        (recs) => {
          const chunks: Uint8Array[] = [];
          const w = new PcapWriter((b) => chunks.push(b));
          for (const [ms, f] of recs) w.record(ms, f);
          const r = readPcap(concatBytes(chunks));
          assert.ok(r.ok);
          assert.deepEqual(r.records.map((x) => [x.timestampUs / 1000, x.data]), recs);
        },
      ),
    );
  });
});
