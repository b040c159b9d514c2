import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseIpv4 } from '../../src/ipv4/address.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { UDP_HEADER_LEN, UdpDatagram, UdpOffset, emitUdp, parseUdp } from '../../src/wire/udp.js';

const A1 = parseIpv4('198.18.0.1')!;
const A2 = parseIpv4('198.18.0.2')!;
const HELLO = new TextEncoder().encode('hello');

// The UDP part of a datagram Linux sent from 198.18.0.1 to 198.18.0.2 in a test namespace.
const HELLO_DATAGRAM = new Uint8Array([
  0xe0, 0x0f, //             source port 57359
  0x00, 0x07, //             destination port 7 (echo)
  0x00, 0x0d, //             length 13
  0x4f, 0xc3, //             checksum 0x4fc3
  0x68, 0x65, 0x6c, 0x6c, 0x6f, // "hello"
]);

describe('wire/udp', () => {
  it('parses a real datagram and verifies its checksum', () => {
    const r = parseUdp(HELLO_DATAGRAM, A1, A2);
    assert.ok(r.ok);
    assert.deepEqual(r.value, { srcPort: 57359, dstPort: 7, payload: HELLO });
    assert.equal(r.value.payload.buffer, HELLO_DATAGRAM.buffer); // a view
  });

  it('emits the same bytes, checksum included', () => {
    const pb = PacketBuffer.withPayload(HELLO);
    emitUdp({ srcPort: 57359, dstPort: 7, payload: HELLO }, pb, A1, A2);
    assert.deepEqual(pb.bytes(), HELLO_DATAGRAM);
  });

  it('fails the checksum on a flipped bit, or for the wrong addresses', () => {
    const b = HELLO_DATAGRAM.slice();
    b[10] ^= 0x20;
    assert.deepEqual(parseUdp(b, A1, A2), { ok: false, reason: 'badChecksum' });
    assert.ok(parseUdp(b, A1, A2, { verifyChecksum: false }).ok);
    // The pseudo-header is covered: the same bytes from another source fail.
    assert.deepEqual(parseUdp(HELLO_DATAGRAM, parseIpv4('198.18.0.3')!, A2), { ok: false, reason: 'badChecksum' });
  });

  it('accepts a zero checksum as "none"', () => {
    const b = HELLO_DATAGRAM.slice();
    b[6] = 0;
    b[7] = 0;
    b[12] = 0x21; // payload changed too: nothing is verified
    assert.ok(new UdpDatagram(b).verifyChecksum(A1, A2));
    assert.ok(parseUdp(b, A1, A2).ok);
  });

  it('sends a computed checksum of 0 as 0xffff', () => {
    // With payload word 0 the checksum is c = ~S; with payload word c the sum is S + ~S = 0xffff,
    // whose complement is 0.
    const probe = PacketBuffer.withPayload(new Uint8Array(2));
    emitUdp({ srcPort: 1000, dstPort: 2000, payload: new Uint8Array(0) }, probe, A1, A2);
    const c = (probe.bytes()[6] << 8) | probe.bytes()[7];
    const pb = PacketBuffer.withPayload(new Uint8Array([c >>> 8, c & 0xff]));
    emitUdp({ srcPort: 1000, dstPort: 2000, payload: new Uint8Array(0) }, pb, A1, A2);
    const out = pb.bytes();
    assert.equal((out[6] << 8) | out[7], 0xffff);
    assert.ok(parseUdp(out, A1, A2).ok);
  });

  it('cuts the payload at the length field and rejects bad lengths', () => {
    const padded = new Uint8Array(20);
    padded.set(HELLO_DATAGRAM);
    const r = parseUdp(padded, A1, A2);
    assert.ok(r.ok);
    assert.deepEqual(r.value.payload, HELLO);
    assert.deepEqual(parseUdp(HELLO_DATAGRAM.subarray(0, 7), A1, A2), { ok: false, reason: 'truncated' });
    assert.deepEqual(parseUdp(HELLO_DATAGRAM.subarray(0, 12), A1, A2), { ok: false, reason: 'badLength' });
    const short = HELLO_DATAGRAM.slice();
    short[5] = 7;
    assert.deepEqual(parseUdp(short, A1, A2), { ok: false, reason: 'badLength' });
  });

  it('view setters change ports in place', () => {
    const b = HELLO_DATAGRAM.slice();
    const d = new UdpDatagram().reset(b);
    d.srcPort = 7;
    d.dstPort = 57359;
    assert.equal(d.check(), undefined);
    assert.equal(d.srcPort, 7);
    assert.equal(d.dstPort, 57359);
    assert.equal(d.length, 13);
    // Swapping the ports keeps the sum: a reply with swapped addresses verifies unchanged.
    assert.ok(d.verifyChecksum(A2, A1));
  });

  it('a view reset at an offset reads the datagram in place (as inside a frame): the same fields, checks, payload and checksum', () => {
    // 34 bytes in front (Ethernet + IPv4), 4 bytes of link padding after: neither is the datagram's.
    const frame = new Uint8Array(34 + HELLO_DATAGRAM.length + 4);
    frame.fill(0xee);
    frame.set(HELLO_DATAGRAM, 34);
    const end = 34 + HELLO_DATAGRAM.length;
    const d = new UdpDatagram().reset(frame, 34, end);
    assert.equal(d.check(), undefined);
    assert.deepEqual([d.srcPort, d.dstPort, d.length, d.checksum], [57359, 7, 13, 0x4fc3]);
    assert.deepEqual(d.payload, HELLO);
    assert.equal(d.payload.byteOffset, 34 + UDP_HEADER_LEN, 'a view of the frame');
    assert.ok(d.verifyChecksum(A1, A2));
    // The length field is checked against `end`, not the padding behind it.
    assert.equal(new UdpDatagram().reset(frame, 34, end - 1).check(), 'badLength');
    assert.equal(new UdpDatagram().reset(frame, 34, 34 + 7).check(), 'truncated');
    // And the plain form still reads from 0 to the end.
    assert.equal(new UdpDatagram().reset(HELLO_DATAGRAM).check(), undefined);
  });

  it('UdpOffset gives the offsets of the fields in a real datagram (frozen)', () => {
    const b = HELLO_DATAGRAM;
    const u16 = (at: number): number => (b[at] << 8) | b[at + 1];
    assert.equal(u16(UdpOffset.SRC_PORT), 57359);
    assert.equal(u16(UdpOffset.DST_PORT), 7);
    assert.equal(u16(UdpOffset.LENGTH), 13);
    assert.equal(u16(UdpOffset.CHECKSUM), 0x4fc3);
    assert.deepEqual(b.subarray(UdpOffset.PAYLOAD), HELLO);
    assert.equal(UdpOffset.PAYLOAD, UDP_HEADER_LEN);
    assert.equal(Object.isFrozen(UdpOffset), true);
  });

  it('never throws on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.boolean(), (bytes, verify) => {
      const r = parseUdp(bytes, A1, A2, { verifyChecksum: verify });
      if (r.ok) assert.ok(r.value.payload.length <= bytes.length - UDP_HEADER_LEN);
      new UdpDatagram(bytes).check();
    }), { numRuns: 3000 });
  });

  it('round-trips random datagrams', () => {
    const addr = fc.nat({ max: 0xffffffff });
    fc.assert(fc.property(fc.nat(0xffff), fc.nat(0xffff), fc.uint8Array({ maxLength: 300 }), addr, addr,
      (srcPort, dstPort, payload, src, dst) => {
        const pb = PacketBuffer.withPayload(payload);
        emitUdp({ srcPort, dstPort, payload }, pb, src, dst);
        assert.notEqual((pb.bytes()[6] << 8) | pb.bytes()[7], 0);
        const r = parseUdp(pb.bytes(), src, dst);
        assert.ok(r.ok);
        assert.deepEqual(r.value, { srcPort, dstPort, payload });
      }));
  });
});
