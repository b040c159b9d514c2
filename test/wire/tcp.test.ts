import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseIpv4 } from '../../src/ipv4/address.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { emitIpv4, IpProtocol, parseIpv4 as parseIpv4Packet } from '../../src/wire/ipv4.js';
import {
  TCP_MIN_HEADER_LEN, TcpOffset, TcpFlags, TcpOptionKind, TcpOptionLen, TcpSegment, emitTcp, parseTcp, readTcpRepr, tcpHeaderLen,
  type TcpRepr,
} from '../../src/wire/tcp.js';

const A1 = parseIpv4('198.18.0.1')!;
const A2 = parseIpv4('198.18.0.2')!;
const EMPTY = new Uint8Array(0);

// A SYN as Linux 6.x sends it on connect() (198.18.0.1:35884 -> 198.18.0.2:80), captured on
// the TAP device of a test namespace.
const LINUX_SYN = new Uint8Array([
  0x8c, 0x2c, 0x00, 0x50, //             source port 35884, destination port 80
  0xce, 0x7f, 0x36, 0x87, //             sequence number (ISS)
  0x00, 0x00, 0x00, 0x00, //             acknowledgment number 0
  0xa0, 0x02, //                         data offset 10 (40 bytes), flags SYN
  0xfa, 0xf0, //                         window 64240
  0xfd, 0x83, //                         checksum 0xfd83
  0x00, 0x00, //                         urgent pointer 0
  0x02, 0x04, 0x05, 0xb4, //             MSS 1460
  0x04, 0x02, //                         SACK permitted
  0x08, 0x0a, 0xb4, 0x52, 0x7d, 0x8a, // timestamps: TSval 0xb4527d8a
  0x00, 0x00, 0x00, 0x00, //             TSecr 0
  0x01, //                               NOP
  0x03, 0x03, 0x0a, //                   window scale 10
]);

const LINUX_SYN_REPR: TcpRepr = {
  srcPort: 35884, dstPort: 80, seq: 0xce7f3687, ack: 0, flags: TcpFlags.SYN, window: 64240, urgent: 0,
  mss: 1460, windowScale: 10, sackPermitted: true, sackBlocks: undefined,
  timestamp: { tsVal: 0xb4527d8a, tsEcr: 0 }, payload: EMPTY,
};

// The SYN-ACK Linux answered to a SYN (seq 1000, TSval 1) sent to a listening socket
// (198.18.0.1:5000 -> 198.18.0.2:40000).
const LINUX_SYN_ACK = new Uint8Array([
  0x13, 0x88, 0x9c, 0x40, //             5000 -> 40000
  0x8e, 0x8a, 0x6b, 0xae, //             sequence number
  0x00, 0x00, 0x03, 0xe9, //             acknowledgment 1001
  0xa0, 0x12, //                         data offset 10, flags SYN|ACK
  0xfe, 0x88, //                         window 65160
  0xcf, 0x7d, //                         checksum 0xcf7d
  0x00, 0x00, //                         urgent pointer
  0x02, 0x04, 0x05, 0xb4, //             MSS 1460
  0x04, 0x02, //                         SACK permitted
  0x08, 0x0a, 0xb6, 0x71, 0x89, 0x61, // TSval 0xb6718961
  0x00, 0x00, 0x00, 0x01, //             TSecr 1 (our TSval)
  0x01, 0x03, 0x03, 0x0a, //             NOP, window scale 10
]);

/** Builds a segment with a given option area and a valid checksum. */
function segmentWithOptions(options: number[], payload: number[] = []): Uint8Array {
  const b = new Uint8Array(TCP_MIN_HEADER_LEN + options.length + payload.length);
  b.set(LINUX_SYN.subarray(0, 20));
  b[12] = ((20 + options.length) >>> 2) << 4;
  b.set(options, 20);
  b.set(payload, 20 + options.length);
  new TcpSegment(b).fillChecksum(A1, A2);
  return b;
}

describe('wire/tcp', () => {
  it('parses a real Linux SYN with its options', () => {
    const r = parseTcp(LINUX_SYN, A1, A2);
    assert.ok(r.ok);
    assert.deepEqual(r.value, LINUX_SYN_REPR);
  });

  it('emits the Linux SYN byte for byte (same option layout, same checksum)', () => {
    const pb = PacketBuffer.alloc(0);
    assert.equal(tcpHeaderLen(LINUX_SYN_REPR), 40);
    emitTcp(LINUX_SYN_REPR, pb, A1, A2);
    assert.deepEqual(pb.bytes(), LINUX_SYN);
  });

  it('parses and re-emits a real SYN-ACK', () => {
    const r = parseTcp(LINUX_SYN_ACK, A1, A2);
    assert.ok(r.ok);
    assert.equal(r.value.flags, TcpFlags.SYN | TcpFlags.ACK);
    assert.equal(r.value.ack, 1001);
    assert.equal(r.value.window, 65160);
    assert.deepEqual(r.value.timestamp, { tsVal: 0xb6718961, tsEcr: 1 });
    const pb = PacketBuffer.alloc(0);
    emitTcp(r.value, pb, A1, A2);
    assert.deepEqual(pb.bytes(), LINUX_SYN_ACK);
  });

  it('works inside an IPv4 packet: the checksum covers the pseudo-header', () => {
    const packet = new Uint8Array([
      0x45, 0x00, 0x00, 0x3c, 0x1d, 0x80, 0x40, 0x00, 0x40, 0x06, 0x91, 0x14, // as captured
      0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02, ...LINUX_SYN,
    ]);
    const ip = parseIpv4Packet(packet);
    assert.ok(ip.ok);
    assert.equal(ip.value.protocol, IpProtocol.TCP);
    assert.ok(parseTcp(ip.value.payload, ip.value.src, ip.value.dst).ok);
    // The same bytes claimed by another destination fail.
    assert.deepEqual(parseTcp(ip.value.payload, ip.value.src, A1), { ok: false, reason: 'badChecksum' });
  });

  it('fails the checksum on a flipped bit, unless verification is off', () => {
    const b = LINUX_SYN.slice();
    b[5] ^= 0x80;
    assert.deepEqual(parseTcp(b, A1, A2), { ok: false, reason: 'badChecksum' });
    const r = parseTcp(b, A1, A2, { verifyChecksum: false });
    assert.ok(r.ok);
    assert.equal(r.value.seq, 0xceff3687);
  });

  it('emits an established segment with data, timestamps and SACK blocks in the Linux layout', () => {
    const data = new TextEncoder().encode('GET / HTTP/1.1\r\n');
    const repr: TcpRepr = {
      srcPort: 80, dstPort: 35884, seq: 0xfffffff0, ack: 0x12345678, flags: TcpFlags.ACK | TcpFlags.PSH,
      window: 502, urgent: 0, timestamp: { tsVal: 7, tsEcr: 9 },
      sackBlocks: [[100, 200], [300, 400]], payload: data,
    };
    const pb = PacketBuffer.withPayload(data);
    emitTcp(repr, pb, A2, A1);
    const out = pb.bytes();
    assert.equal(out.length, 20 + 12 + 20 + data.length);
    assert.deepEqual([...out.subarray(20, 52)], [
      0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 7, 0, 0, 0, 9, //  NOP NOP timestamps 7/9
      0x01, 0x01, 0x05, 0x12, //                          NOP NOP SACK, length 18
      0, 0, 0, 100, 0, 0, 0, 200, 0, 0, 1, 0x2c, 0, 0, 1, 0x90, // [100,200) [300,400)
    ]);
    const r = parseTcp(out, A2, A1);
    assert.ok(r.ok);
    assert.deepEqual(r.value, { ...repr, mss: undefined, windowScale: undefined, sackPermitted: false });
    assert.equal(r.value.payload.byteOffset, out.byteOffset + 52); // a view into the segment
  });

  it('leaves out SACK blocks that do not fit in 40 bytes of options', () => {
    const blocks: Array<[number, number]> = [[1, 2], [3, 4], [5, 6], [7, 8]];
    const repr: TcpRepr = {
      ...LINUX_SYN_REPR, flags: TcpFlags.ACK, mss: undefined, windowScale: undefined, sackPermitted: false,
      timestamp: { tsVal: 1, tsEcr: 2 }, sackBlocks: blocks,
    };
    assert.equal(tcpHeaderLen(repr), 20 + 12 + 4 + 24); // 3 blocks with timestamps
    assert.equal(tcpHeaderLen({ ...repr, timestamp: undefined }), 20 + 4 + 32); // 4 without
    const pb = PacketBuffer.alloc(0);
    emitTcp(repr, pb, A1, A2);
    const r = parseTcp(pb.bytes(), A1, A2);
    assert.ok(r.ok);
    assert.deepEqual(r.value.sackBlocks, blocks.slice(0, 3));
  });

  it('emits SACK-permitted without timestamps as NOP NOP 04 02', () => {
    const repr: TcpRepr = { ...LINUX_SYN_REPR, timestamp: undefined, windowScale: 7 };
    const pb = PacketBuffer.alloc(0);
    emitTcp(repr, pb, A1, A2);
    assert.deepEqual([...pb.bytes().subarray(20)], [2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]);
  });

  it('skips unknown options and stops at end-of-option-list', () => {
    const r = parseTcp(segmentWithOptions([
      0x1e, 0x04, 0xaa, 0xbb, // an unknown kind (30, MPTCP) of length 4: skipped
      0x02, 0x04, 0x02, 0x18, // MSS 536
      0x00, 0x03, 0x03, 0x07, // EOL: the "window scale" after it is padding, not an option
    ]), A1, A2);
    assert.ok(r.ok);
    assert.equal(r.value.mss, 536);
    assert.equal(r.value.windowScale, undefined);
  });

  it('rejects malformed options as badOption', () => {
    const cases: number[][] = [
      [0x02, 0x00, 0x00, 0x00], //       length 0
      [0x1e, 0x01, 0x00, 0x00], //       length 1
      [0x01, 0x01, 0x01, 0x02], //       MSS kind with no room for its length byte
      [0x08, 0x0a, 0x00, 0x00], //       timestamps running past the header
      [0x02, 0x03, 0x05, 0x01], //       MSS of length 3
      [0x03, 0x04, 0x07, 0x01], //       window scale of length 4
      [0x04, 0x03, 0x00, 0x01], //       SACK-permitted of length 3
      [0x05, 0x04, 0x00, 0x00], //       SACK with no complete block
      [0x05, 0x0c, ...new Array(10).fill(0)], // SACK of length 12 (not 2 + 8n)
      [0x08, 0x08, 0, 0, 0, 0, 0, 0], // timestamps of length 8
    ];
    for (const options of cases) {
      assert.deepEqual(parseTcp(segmentWithOptions(options), A1, A2), { ok: false, reason: 'badOption' }, `${options}`);
    }
  });

  it('readTcpRepr reads from a checked view what parseTcp returns, and the malformed option\'s reason', () => {
    const view = new TcpSegment();
    const withData = new Uint8Array([...LINUX_SYN, 1, 2, 3]);
    for (const bytes of [LINUX_SYN, withData, segmentWithOptions([0x01, 0x01, 0x05, 0x0a, 0, 0, 0, 1, 0, 0, 0, 9])]) {
      assert.equal(view.reset(bytes).check(), undefined);
      const parsed = parseTcp(bytes, A1, A2, { verifyChecksum: false });
      assert.ok(parsed.ok);
      const repr = readTcpRepr(view);
      assert.deepEqual(repr, parsed.value);
      // The same keys in the same order (one object shape for every segment).
      assert.deepEqual(Object.keys(repr), Object.keys(parsed.value));
      assert.deepEqual((repr as TcpRepr).payload, bytes.subarray(view.headerLength));
    }
    assert.deepEqual(readTcpRepr(view.reset(new Uint8Array([...LINUX_SYN, 9]))), { ...(parseTcp(LINUX_SYN, A1, A2) as { value: TcpRepr }).value, payload: new Uint8Array([9]) });
    assert.equal(readTcpRepr(view.reset(segmentWithOptions([0x02, 0x03, 0x05, 0x01]))), 'badOption');
  });

  it('gives every segment without payload one shared empty payload, and a segment with data a view of it', () => {
    const view = new TcpSegment();
    const a = readTcpRepr(view.reset(new Uint8Array(LINUX_SYN))) as TcpRepr;
    const b = readTcpRepr(view.reset(new Uint8Array(LINUX_SYN))) as TcpRepr;
    assert.equal(a.payload.length, 0);
    assert.equal(a.payload, b.payload); // no typed array made per segment
    const bytes = new Uint8Array([...LINUX_SYN, 7, 8]);
    const c = readTcpRepr(view.reset(bytes)) as TcpRepr;
    assert.equal(c.payload.buffer, bytes.buffer);
    assert.equal(c.payload.byteOffset, bytes.byteOffset + view.headerLength);
    assert.deepEqual([...c.payload], [7, 8]);
  });

  it('rejects a short header or a bad data offset', () => {
    assert.deepEqual(parseTcp(LINUX_SYN.subarray(0, 19), A1, A2), { ok: false, reason: 'truncated' });
    const low = LINUX_SYN.slice();
    low[12] = 0x40; // data offset 4
    assert.deepEqual(parseTcp(low, A1, A2, { verifyChecksum: false }), { ok: false, reason: 'badDataOffset' });
    // Data offset 10 (40 bytes) in a 39-byte segment.
    assert.deepEqual(parseTcp(LINUX_SYN.subarray(0, 39), A1, A2), { ok: false, reason: 'truncated' });
  });

  it('view getters, setters and fillChecksum', () => {
    const b = LINUX_SYN.slice();
    const s = new TcpSegment().reset(b);
    assert.equal(s.check(), undefined);
    assert.equal(s.headerLength, 40);
    assert.equal(s.options.length, 20);
    assert.equal(s.payload.length, 0);
    assert.equal(s.verifyChecksum(A1, A2), true);
    s.flags = TcpFlags.RST | TcpFlags.ACK;
    s.ack = 0xce7f3688;
    s.seq = 0;
    s.window = 0;
    assert.equal(s.verifyChecksum(A1, A2), false);
    s.fillChecksum(A1, A2);
    assert.equal(s.verifyChecksum(A1, A2), true);
    const r = parseTcp(b, A1, A2);
    assert.ok(r.ok);
    assert.equal(r.value.flags, TcpFlags.RST | TcpFlags.ACK);
    assert.equal(r.value.ack, 0xce7f3688);
  });

  it('TcpOffset and TcpOptionLen give the offsets and option lengths of a real SYN (frozen)', () => {
    const b = LINUX_SYN;
    const u16 = (at: number): number => (b[at] << 8) | b[at + 1];
    const u32 = (at: number): number => u16(at) * 0x10000 + u16(at + 2);
    assert.equal(u16(TcpOffset.SRC_PORT), 35884);
    assert.equal(u16(TcpOffset.DST_PORT), 80);
    assert.equal(u32(TcpOffset.SEQ), 0xce7f3687);
    assert.equal(u32(TcpOffset.ACK), 0);
    assert.equal((b[TcpOffset.DATA_OFFSET] >>> 4) * 4, 40);
    assert.equal(b[TcpOffset.FLAGS], TcpFlags.SYN);
    assert.equal(u16(TcpOffset.WINDOW), 64240);
    assert.equal(u16(TcpOffset.CHECKSUM), 0xfd83);
    assert.equal(u16(TcpOffset.URGENT), 0);
    assert.equal(TcpOffset.OPTIONS, TCP_MIN_HEADER_LEN);
    // Options as Linux lays them out: MSS, SACK-permitted, timestamps, NOP, window scale.
    const o = TcpOffset.OPTIONS;
    assert.deepEqual([b[o], b[o + 1]], [TcpOptionKind.MSS, TcpOptionLen.MSS]);
    assert.deepEqual([b[o + 4], b[o + 5]], [TcpOptionKind.SACK_PERMITTED, TcpOptionLen.SACK_PERMITTED]);
    assert.deepEqual([b[o + 6], b[o + 7]], [TcpOptionKind.TIMESTAMPS, TcpOptionLen.TIMESTAMPS]);
    assert.deepEqual([b[o + 16], b[o + 17], b[o + 18]], [TcpOptionKind.NOP, TcpOptionKind.WINDOW_SCALE, TcpOptionLen.WINDOW_SCALE]);
    assert.equal(Object.isFrozen(TcpOffset), true);
    assert.equal(Object.isFrozen(TcpOptionLen), true);
  });

  it('never throws on random bytes', () => {
    const arb = fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      // A plausible fixed header followed by random options, so the option walk is exercised.
      fc.tuple(fc.integer({ min: 5, max: 15 }), fc.uint8Array({ maxLength: 60 })).map(([off, rest]) => {
        const b = new Uint8Array(20 + rest.length);
        b[12] = off << 4;
        b.set(rest, 20);
        return b;
      }),
    );
    fc.assert(fc.property(arb, fc.boolean(), (bytes, verify) => {
      const r = parseTcp(bytes, A1, A2, { verifyChecksum: verify });
      new TcpSegment(bytes).check();
      if (r.ok) assert.ok(r.value.payload.length <= bytes.length - 20);
    }), { numRuns: 5000 });
  });

  it('round-trips random segments', () => {
    const u32 = fc.nat({ max: 0xffffffff });
    const repr = fc.record({
      srcPort: fc.nat(0xffff), dstPort: fc.nat(0xffff), seq: u32, ack: u32, flags: fc.nat(0xff),
      window: fc.nat(0xffff), urgent: fc.nat(0xffff),
      mss: fc.option(fc.nat(0xffff), { nil: undefined }),
      windowScale: fc.option(fc.nat(14), { nil: undefined }),
      sackPermitted: fc.boolean(),
      timestamp: fc.option(fc.record({ tsVal: u32, tsEcr: u32 }), { nil: undefined }),
      sackBlocks: fc.option(fc.array(fc.tuple(u32, u32), { minLength: 1, maxLength: 4 }), { nil: undefined }),
      payload: fc.uint8Array({ maxLength: 100 }),
    });
    fc.assert(fc.property(repr, u32, u32, (r, src, dst) => {
      const pb = PacketBuffer.withPayload(r.payload);
      emitTcp(r, pb, src, dst);
      assert.equal(pb.length, tcpHeaderLen(r) + r.payload.length);
      const back = parseTcp(pb.bytes(), src, dst);
      assert.ok(back.ok);
      // Blocks that fit in the 40 option bytes left by MSS (4), timestamps or SACK-permitted
      // (12 or 4), window scale (4), and the SACK option's own NOP NOP kind length (4).
      const fixed = (r.mss !== undefined ? 4 : 0) + (r.timestamp ? 12 : r.sackPermitted ? 4 : 0) +
        (r.windowScale !== undefined ? 4 : 0);
      const kept = r.sackBlocks?.slice(0, Math.floor((40 - fixed - 4) / 8));
      assert.deepEqual(back.value, {
        ...r,
        timestamp: r.timestamp ? { ...r.timestamp } : undefined,
        sackBlocks: kept && kept.length > 0 ? kept : undefined,
      });
    }), { numRuns: 500 });
  });

  it('emitTcp + emitIpv4 build a packet whose TCP checksum verifies after IPv4 parse', () => {
    const data = new Uint8Array(1461).map((_, i) => i); // odd length, word path of the checksum
    const pb = PacketBuffer.withPayload(data);
    emitTcp({ ...LINUX_SYN_REPR, flags: TcpFlags.ACK, payload: data }, pb, A2, A1);
    emitIpv4({ src: A2, dst: A1, protocol: IpProtocol.TCP, ttl: 64, ident: 1, dontFragment: true,
      moreFragments: false, fragmentOffset: 0 }, pb);
    const ip = parseIpv4Packet(pb.bytes());
    assert.ok(ip.ok);
    const r = parseTcp(ip.value.payload, ip.value.src, ip.value.dst);
    assert.ok(r.ok);
    assert.deepEqual(r.value.payload, data);
  });
});
