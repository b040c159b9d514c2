import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatIpv6, ipv6Addr } from '../../src/ipv6/address.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { onesSum } from '../../src/wire/checksum.js';
import {
  IPV6_HEADER_LEN, Ipv6NextHeader, Ipv6Offset, Ipv6Packet, emitIpv6Header, fillIpv6UpperChecksum, ipv6PseudoHeaderSum,
  ipv6UpperChecksumOk, parseIpv6Header, type Ipv6Repr,
} from '../../src/wire/ipv6.js';

// An IPv6 header carrying 8 bytes of UDP, then 6 bytes of Ethernet padding.
const HEADER = new Uint8Array([
  0x6b, 0x81, 0x23, 0x45, // version 6, traffic class 0xb8 (DSCP 46, ECN 0), flow label 0x12345
  0x00, 0x08, 0x11, 0x40, // payload length 8, next header UDP (17), hop limit 64
  0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0x00, 0x00, // source fd00:198:18::1
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
  0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0x00, 0x00, // destination fd00:198:18::2
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
  0xd4, 0x31, 0x00, 0x07, 0x00, 0x08, 0x00, 0x00, // UDP 54321 -> 7, length 8, checksum (unset)
  0, 0, 0, 0, 0, 0, //                              padding
]);

const REPR: Ipv6Repr = {
  src: ipv6Addr('fd00:198:18::1'), dst: ipv6Addr('fd00:198:18::2'), nextHeader: 17, hopLimit: 64,
  dscp: 46, ecn: 0, flowLabel: 0x12345,
};

describe('wire/ipv6', () => {
  it('parses the fixed header field by field, the payload cut at the payload length', () => {
    const r = parseIpv6Header(HEADER);
    assert.ok(r.ok);
    const v = r.value;
    assert.equal(formatIpv6(v.src), 'fd00:198:18::1');
    assert.equal(formatIpv6(v.dst), 'fd00:198:18::2');
    assert.equal(v.nextHeader, 17);
    assert.equal(v.hopLimit, 64);
    assert.equal(v.dscp, 46);
    assert.equal(v.ecn, 0);
    assert.equal(v.flowLabel, 0x12345);
    assert.equal(v.payload.length, 8);
    assert.equal(v.payload[0], 0xd4);
    assert.equal(v.src.buffer, HEADER.buffer); // views, not copies
    const p = new Ipv6Packet(HEADER);
    assert.equal(p.trafficClass, 0xb8);
    assert.equal(p.packet.length, 48);
  });

  it('emits the same bytes', () => {
    const pb = PacketBuffer.withPayload(HEADER.subarray(40, 48));
    emitIpv6Header(REPR, pb);
    assert.deepEqual(pb.bytes(), HEADER.subarray(0, 48));
  });

  it('setters write in place', () => {
    const b = HEADER.slice();
    const p = new Ipv6Packet(b);
    p.hopLimit = 1;
    p.nextHeader = Ipv6NextHeader.ICMPV6;
    p.payloadLength = 0x0102;
    assert.deepEqual([...b.subarray(4, 8)], [0x01, 0x02, 58, 1]);
  });

  it('names what is wrong with a malformed header', () => {
    assert.deepEqual(parseIpv6Header(HEADER.subarray(0, 39)), { ok: false, reason: 'truncated' });
    const v4 = HEADER.slice();
    v4[0] = 0x45;
    assert.deepEqual(parseIpv6Header(v4), { ok: false, reason: 'badVersion' });
    const long = HEADER.slice();
    long[Ipv6Offset.PAYLOAD_LENGTH + 1] = 15; // 40 + 15 > 54 bytes available
    assert.deepEqual(parseIpv6Header(long), { ok: false, reason: 'badPayloadLength' });
  });

  it('refuses to emit a payload over 65,535 bytes (a caller bug)', () => {
    const pb = PacketBuffer.withPayload(new Uint8Array(65536));
    assert.throws(() => emitIpv6Header(REPR, pb), RangeError);
  });

  it('sums the pseudo-header of RFC 8200 8.1, reading addresses in place', () => {
    const pseudo = new Uint8Array(40);
    pseudo.set(REPR.src, 0);
    pseudo.set(REPR.dst, 16);
    pseudo.set([0x00, 0x01, 0x00, 0x08], 32); // upper-layer length 65544 (needs 32 bits)
    pseudo[39] = 17;
    assert.equal(ipv6PseudoHeaderSum(HEADER, Ipv6Offset.SRC, HEADER, Ipv6Offset.DST, 17, 65544), onesSum(pseudo, 0, 40));
  });

  it('fills and verifies upper-layer checksums; a zero UDP checksum is invalid over IPv6', () => {
    const pkt = HEADER.slice(0, 48);
    const udp = pkt.subarray(40);
    assert.ok(!ipv6UpperChecksumOk(pkt, udp, 17)); // field 0: "no checksum" is not allowed
    fillIpv6UpperChecksum(pkt, 40, 8, 6, REPR.src, REPR.dst, 17);
    assert.ok(ipv6UpperChecksumOk(pkt, udp, 17));
    assert.ok(!ipv6UpperChecksumOk(pkt, udp, 6)); // the protocol is in the pseudo-header
    udp[7] ^= 1;
    assert.ok(!ipv6UpperChecksumOk(pkt, udp, 17));
  });

  it('sends a UDP checksum that sums to 0 as 0xffff', () => {
    // Find a port pair whose datagram checksums to 0, then check the substitute verifies.
    const pkt = HEADER.slice(0, 48);
    for (let port = 0; port < 0x10000; port++) {
      pkt[40] = port >>> 8;
      pkt[41] = port & 0xff;
      fillIpv6UpperChecksum(pkt, 40, 8, 6, REPR.src, REPR.dst, 17);
      if (pkt[46] === 0xff && pkt[47] === 0xff) {
        assert.ok(ipv6UpperChecksumOk(pkt, pkt.subarray(40), 17));
        return;
      }
    }
    assert.fail('no port gave a zero checksum');
  });

  it('never throws on random bytes (property)', () => {
    const arb = fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      fc.uint8Array({ minLength: 40, maxLength: 80 }).map((b) => {
        b[0] = 0x60 | (b[0] & 0x0f);
        return b;
      }),
    );
    fc.assert(fc.property(arb, (bytes) => {
      const r = parseIpv6Header(bytes);
      if (r.ok) assert.ok(IPV6_HEADER_LEN + r.value.payload.length <= bytes.length);
    }));
  });

  it('parse inverts emit (property)', () => {
    const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
    fc.assert(fc.property(addr, addr, fc.nat(255), fc.nat(255), fc.nat(63), fc.nat(3), fc.nat(0xfffff), fc.uint8Array({ maxLength: 64 }),
      (src, dst, nextHeader, hopLimit, dscp, ecn, flowLabel, payload) => {
        const repr = { src, dst, nextHeader, hopLimit, dscp, ecn, flowLabel };
        const pb = PacketBuffer.withPayload(payload);
        emitIpv6Header(repr, pb);
        const r = parseIpv6Header(pb.bytes());
        assert.ok(r.ok);
        assert.deepEqual({ ...r.value, src: r.value.src.slice(), dst: r.value.dst.slice(), payload: r.value.payload.slice() },
          { ...repr, payload });
      }));
  });
});
