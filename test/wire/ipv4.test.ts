import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseIpv4 as parseAddr } from '../../src/ipv4/address.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { onesSum } from '../../src/wire/checksum.js';
import {
  IPV4_MIN_HEADER_LEN, IPV4_VERSION, IpProtocol, Ipv4Offset, Ipv4FlagsFrag, Ipv4Packet, emitIpv4, ipv4HeaderLen,
  parseIpv4, writeIpv4Header, type Ipv4Repr,
} from '../../src/wire/ipv4.js';

const A1 = parseAddr('198.18.0.1')!;
const A2 = parseAddr('198.18.0.2')!;

// A UDP datagram Linux sent with IP_OPTIONS set to Record Route (2 slots) + NOP, captured on the
// TAP device of a test namespace: the kernel filled the first slot with its own address.
const WITH_OPTIONS = new Uint8Array([
  0x48, 0x00, 0x00, 0x39, // version 4, IHL 8 (32 bytes), DSCP/ECN 0, total length 57
  0x5f, 0x8e, 0x40, 0x00, // identification 0x5f8e, flags DF, fragment offset 0
  0x40, 0x11, 0x29, 0x2c, // TTL 64, protocol UDP, header checksum 0x292c
  0xc6, 0x12, 0x00, 0x01, // source 198.18.0.1
  0xc6, 0x12, 0x00, 0x02, // destination 198.18.0.2
  0x07, 0x0b, 0x08, //       option Record Route, length 11, pointer 8
  0xc6, 0x12, 0x00, 0x01, // route slot 1: 198.18.0.1
  0x00, 0x00, 0x00, 0x00, // route slot 2: empty
  0x01, //                   NOP (pads the options to 12 bytes)
  0xb3, 0x1f, 0x00, 0x07, 0x00, 0x19, 0x37, 0x48, // UDP 45855 -> 7, length 25, checksum 0x3748
  ...new TextEncoder().encode('hello rx-netstack'),
]);

// A plain UDP datagram from Linux ("hello" to port 7), 33 bytes, followed by the 13 zero bytes
// of padding that a 60-byte minimum Ethernet frame would carry after it.
const PLAIN_PADDED = new Uint8Array([
  0x45, 0x00, 0x00, 0x21, // version 4, IHL 5, DSCP/ECN 0, total length 33
  0x5f, 0xa1, 0x40, 0x00, // identification 0x5fa1, DF
  0x40, 0x11, 0x4f, 0x03, // TTL 64, UDP, checksum 0x4f03
  0xc6, 0x12, 0x00, 0x01, // source 198.18.0.1
  0xc6, 0x12, 0x00, 0x02, // destination 198.18.0.2
  0xe0, 0x0f, 0x00, 0x07, 0x00, 0x0d, 0x4f, 0xc3, // UDP 57359 -> 7, length 13, checksum 0x4fc3
  0x68, 0x65, 0x6c, 0x6c, 0x6f, //                   "hello"
  ...new Uint8Array(13), //                          Ethernet padding
]);

const OPTIONS_REPR: Ipv4Repr = {
  src: A1, dst: A2, protocol: IpProtocol.UDP, ttl: 64, ident: 0x5f8e,
  dontFragment: true, moreFragments: false, fragmentOffset: 0,
  options: new Uint8Array([0x07, 0x0b, 0x08, 0xc6, 0x12, 0x00, 0x01, 0, 0, 0, 0, 0x01]),
};

function withChecksum(header: Uint8Array): Uint8Array {
  const p = new Ipv4Packet(header);
  p.fillChecksum();
  return header;
}

describe('wire/ipv4', () => {
  it('parses a real header with options field by field', () => {
    const r = parseIpv4(WITH_OPTIONS);
    assert.ok(r.ok);
    const v = r.value;
    assert.equal(v.src, A1);
    assert.equal(v.dst, A2);
    assert.equal(v.protocol, IpProtocol.UDP);
    assert.equal(v.ttl, 64);
    assert.equal(v.ident, 0x5f8e);
    assert.equal(v.dontFragment, true);
    assert.equal(v.moreFragments, false);
    assert.equal(v.fragmentOffset, 0);
    assert.equal(v.dscp, 0);
    assert.equal(v.ecn, 0);
    assert.equal(v.headerLength, 32);
    assert.deepEqual(v.options, OPTIONS_REPR.options);
    assert.equal(v.payload.length, 25);
    assert.equal(v.payload[0], 0xb3); // UDP source port high byte: options were skipped
    assert.equal(v.payload.buffer, WITH_OPTIONS.buffer); // a view, not a copy
  });

  it('emits the same bytes, options and checksum included', () => {
    const pb = PacketBuffer.withPayload(WITH_OPTIONS.subarray(32));
    assert.equal(ipv4HeaderLen(OPTIONS_REPR), 32);
    emitIpv4(OPTIONS_REPR, pb);
    assert.deepEqual(pb.bytes(), WITH_OPTIONS);
  });

  it('pads options to a multiple of 4 with zeros on emit', () => {
    const repr = { ...OPTIONS_REPR, options: new Uint8Array([0x01, 0x01, 0x01, 0x01, 0x01]) };
    assert.equal(ipv4HeaderLen(repr), 28);
    const pb = PacketBuffer.alloc(0);
    pb.buf.fill(0xee); // stale bytes in the headroom must not leak into the padding
    emitIpv4(repr, pb);
    const out = pb.bytes();
    assert.equal(out[0], 0x47);
    assert.deepEqual([...out.subarray(20, 28)], [1, 1, 1, 1, 1, 0, 0, 0]);
    assert.equal(onesSum(out, 0, 28), 0xffff);
  });

  it('cuts trailing Ethernet padding at the total length', () => {
    const r = parseIpv4(PLAIN_PADDED);
    assert.ok(r.ok);
    assert.equal(r.value.options.length, 0);
    assert.equal(r.value.payload.length, 13);
    assert.deepEqual([...r.value.payload.subarray(8)], [0x68, 0x65, 0x6c, 0x6c, 0x6f]);
  });

  it('round-trips the plain header', () => {
    const r = parseIpv4(PLAIN_PADDED);
    assert.ok(r.ok);
    const pb = PacketBuffer.withPayload(r.value.payload);
    emitIpv4(r.value, pb);
    assert.deepEqual(pb.bytes(), PLAIN_PADDED.subarray(0, 33));
  });

  it('reads fragment fields: MF and the offset in bytes', () => {
    const header = PLAIN_PADDED.slice(0, 33);
    header[6] = 0x20 | (185 >> 8); // MF, offset 185 * 8 = 1480
    header[7] = 185 & 0xff;
    withChecksum(header);
    const r = parseIpv4(header);
    assert.ok(r.ok);
    assert.equal(r.value.moreFragments, true);
    assert.equal(r.value.dontFragment, false);
    assert.equal(r.value.fragmentOffset, 1480);
    assert.equal(new Ipv4Packet(header).isFragment, true);
    assert.equal(new Ipv4Packet(PLAIN_PADDED).isFragment, false);
  });

  it('emits fragment fields', () => {
    const pb = PacketBuffer.alloc(8);
    emitIpv4({ ...OPTIONS_REPR, options: undefined, dontFragment: false, moreFragments: true, fragmentOffset: 2960 }, pb);
    const out = pb.bytes();
    assert.equal((out[6] << 8) | out[7], 0x2000 | 370);
    assert.throws(() => emitIpv4({ ...OPTIONS_REPR, fragmentOffset: 3 }, PacketBuffer.alloc(0)), RangeError);
  });

  it('rejects each kind of malformed header with its reason', () => {
    const bad = (mutate: (b: Uint8Array) => void, fix = true): Uint8Array => {
      const b = PLAIN_PADDED.slice(0, 33);
      mutate(b);
      return fix ? withChecksum(b) : b;
    };
    assert.deepEqual(parseIpv4(PLAIN_PADDED.subarray(0, 19)), { ok: false, reason: 'truncated' });
    assert.deepEqual(parseIpv4(bad((b) => { b[0] = 0x65; }, false)), { ok: false, reason: 'badVersion' });
    assert.deepEqual(parseIpv4(bad((b) => { b[0] = 0x44; }, false)), { ok: false, reason: 'badIhl' });
    // IHL 15 (60 bytes) in a 33-byte packet.
    assert.deepEqual(parseIpv4(bad((b) => { b[0] = 0x4f; }, false)), { ok: false, reason: 'truncated' });
    // Total length beyond the bytes received.
    assert.deepEqual(parseIpv4(bad((b) => { b[3] = 34; })), { ok: false, reason: 'badTotalLength' });
    // Total length shorter than the header.
    assert.deepEqual(parseIpv4(bad((b) => { b[3] = 19; })), { ok: false, reason: 'badTotalLength' });
    // A flipped bit in the source address.
    assert.deepEqual(parseIpv4(bad((b) => { b[13] ^= 0x01; }, false)), { ok: false, reason: 'badChecksum' });
    // ...accepted when checksum verification is off (offload, memory wire).
    assert.ok(parseIpv4(bad((b) => { b[13] ^= 0x01; }, false), { verifyChecksum: false }).ok);
    // Total length exactly the header: an empty payload is fine.
    const r = parseIpv4(bad((b) => { b[3] = 20; }));
    assert.ok(r.ok);
    assert.equal(r.value.payload.length, 0);
  });

  it('view setters and fillChecksum keep the header valid (TTL decrement)', () => {
    const b = PLAIN_PADDED.slice(0, 33);
    const p = new Ipv4Packet();
    p.reset(b);
    p.ttl = p.ttl - 1;
    assert.equal(p.verifyChecksum(), false);
    p.fillChecksum();
    assert.equal(p.verifyChecksum(), true);
    assert.equal(p.check(), undefined);
  });

  it('a view reset at an offset reads the packet in place (as behind an Ethernet header): the same fields, checks, views and setters', () => {
    for (const packet of [PLAIN_PADDED, WITH_OPTIONS]) {
      const frame = new Uint8Array(14 + packet.length);
      frame.fill(0xee, 0, 14);
      frame.set(packet, 14);
      const alone = new Ipv4Packet(packet.slice());
      const inFrame = new Ipv4Packet().reset(frame, 14);
      assert.equal(inFrame.check(), alone.check());
      assert.equal(inFrame.verifyChecksum(), true);
      for (const field of ['version', 'headerLength', 'totalLength', 'ident', 'dontFragment', 'isFragment', 'ttl', 'protocol', 'src', 'dst'] as const) {
        assert.equal(inFrame[field], alone[field], field);
      }
      assert.deepEqual(inFrame.payload, alone.payload);
      assert.deepEqual(inFrame.options, alone.options);
      inFrame.ttl = 1;
      inFrame.fillChecksum();
      assert.equal(inFrame.verifyChecksum(), true);
      assert.deepEqual(frame.subarray(0, 14), new Uint8Array(14).fill(0xee), 'nothing written in front of it');
      assert.equal(new Ipv4Packet().reset(frame.subarray(0, 14 + 19), 14).check(), 'truncated', 'lengths counted from the offset');
    }
  });

  it('Ipv4Offset gives the offsets of the fields in a real header (frozen)', () => {
    const b = WITH_OPTIONS;
    const u16 = (at: number): number => (b[at] << 8) | b[at + 1];
    assert.equal(b[Ipv4Offset.VER_IHL] >>> 4, IPV4_VERSION);
    assert.equal((b[Ipv4Offset.VER_IHL] & 0x0f) * 4, 32);
    assert.equal(b[Ipv4Offset.DSCP_ECN], 0);
    assert.equal(u16(Ipv4Offset.TOTAL_LENGTH), 57);
    assert.equal(u16(Ipv4Offset.IDENT), 0x5f8e);
    assert.equal(u16(Ipv4Offset.FLAGS_FRAG), Ipv4FlagsFrag.DF);
    assert.equal(b[Ipv4Offset.TTL], 64);
    assert.equal(b[Ipv4Offset.PROTOCOL], IpProtocol.UDP);
    assert.equal(u16(Ipv4Offset.CHECKSUM), 0x292c);
    assert.equal(u16(Ipv4Offset.SRC) * 0x10000 + u16(Ipv4Offset.SRC + 2), A1);
    assert.equal(u16(Ipv4Offset.DST) * 0x10000 + u16(Ipv4Offset.DST + 2), A2);
    assert.equal(b[Ipv4Offset.OPTIONS], 0x07, 'Record Route');
    assert.equal(Ipv4Offset.OPTIONS, IPV4_MIN_HEADER_LEN);
    assert.equal(Object.isFrozen(Ipv4Offset), true);
  });

  it('Ipv4FlagsFrag gives the bits of the flags/fragment-offset field', () => {
    const pb = PacketBuffer.alloc(8);
    emitIpv4({ ...OPTIONS_REPR, options: undefined, dontFragment: false, moreFragments: true, fragmentOffset: 1480 }, pb);
    const b = pb.bytes();
    const ff = (b[Ipv4Offset.FLAGS_FRAG] << 8) | b[Ipv4Offset.FLAGS_FRAG + 1];
    assert.equal(ff & Ipv4FlagsFrag.MF, Ipv4FlagsFrag.MF);
    assert.equal(ff & Ipv4FlagsFrag.DF, 0);
    assert.equal((ff & Ipv4FlagsFrag.OFFSET_MASK) * 8, 1480);
    assert.equal(Object.isFrozen(Ipv4FlagsFrag), true);
  });

  it('never throws on random bytes, and check() agrees with parse', () => {
    const view = new Ipv4Packet();
    const arb = fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      // Mostly-valid headers reach the deeper checks.
      fc.tuple(fc.integer({ min: 0x40, max: 0x4f }), fc.uint8Array({ minLength: 0, maxLength: 80 }))
        .map(([first, rest]) => Uint8Array.from([first, ...rest])),
    );
    fc.assert(fc.property(arb, fc.boolean(), (bytes, verify) => {
      const r = parseIpv4(bytes, { verifyChecksum: verify });
      const reason = view.reset(bytes).check();
      if (reason !== undefined) assert.deepEqual(r, { ok: false, reason });
      if (r.ok) {
        assert.ok(r.value.headerLength >= IPV4_MIN_HEADER_LEN);
        assert.ok(r.value.headerLength + r.value.payload.length <= bytes.length);
      }
    }), { numRuns: 3000 });
  });

  it('round-trips random headers', () => {
    const repr = fc.record({
      src: fc.nat({ max: 0xffffffff }), dst: fc.nat({ max: 0xffffffff }), protocol: fc.nat(255),
      ttl: fc.nat(255), ident: fc.nat(0xffff), dontFragment: fc.boolean(), moreFragments: fc.boolean(),
      fragmentOffset: fc.nat(0x1fff).map((n) => n * 8), dscp: fc.nat(63), ecn: fc.nat(3),
      options: fc.nat(10).map((n) => new Uint8Array(n * 4).fill(1)),
    });
    fc.assert(fc.property(repr, fc.uint8Array({ maxLength: 200 }), (r, payload) => {
      const pb = PacketBuffer.withPayload(payload);
      emitIpv4(r, pb);
      const parsed = parseIpv4(pb.bytes());
      assert.ok(parsed.ok);
      const { headerLength, payload: got, ...fields } = parsed.value;
      assert.deepEqual(fields, { ...r });
      assert.equal(headerLength, 20 + r.options.length);
      assert.deepEqual(got, payload);
    }));
  });

  it('property: writeIpv4Header writes the bytes emitIpv4 writes for a whole datagram without options', () => {
    const word = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(fc.property(
      fc.record({ src: word, dst: word, protocol: fc.integer({ min: 0, max: 255 }), ttl: fc.integer({ min: 0, max: 255 }), ident: fc.integer({ min: 0, max: 0xffff }), dontFragment: fc.boolean(), dscp: fc.integer({ min: 0, max: 63 }), ecn: fc.integer({ min: 0, max: 3 }), length: fc.integer({ min: 0, max: 1480 }) }),
      (r) => {
        const payload = new Uint8Array(r.length).fill(0xa5);
        const expected = PacketBuffer.withPayload(payload);
        emitIpv4({ src: r.src, dst: r.dst, protocol: r.protocol, ttl: r.ttl, ident: r.ident, dontFragment: r.dontFragment, moreFragments: false, fragmentOffset: 0, dscp: r.dscp, ecn: r.ecn }, expected);
        const got = PacketBuffer.withPayloadInFull(payload, 20);
        writeIpv4Header(got.buf, got.prepend(20), (r.dscp << 2) | r.ecn, 20 + r.length, r.ident, r.dontFragment, r.ttl, r.protocol, r.src, r.dst);
        assert.deepEqual(got.bytes(), expected.bytes());
      },
    ));
  });
});
