import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatIpv6, ipv6Addr } from '../../src/ipv6/address.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import {
  ICMPV6_ERROR_MAX_LEN, Icmpv6Type, emitIcmpv6, icmpv6QuoteLength, isIcmpv6Error, parseIcmpv6, parseIcmpv6Quote,
  verifyIcmpv6Checksum, type Icmpv6Repr,
} from '../../src/wire/icmpv6.js';
import { emitIpv6Header } from '../../src/wire/ipv6.js';
import { referenceChecksum } from '../helpers/icmpv6-checksum.js';

const SRC = ipv6Addr('fd00:198:18::1');
const DST = ipv6Addr('fd00:198:18::2');
const ADDRS = { src: SRC, dst: DST };

// Echo request, identifier 0x1234, sequence 1, data "ping".
const ECHO = new Uint8Array([
  0x80, 0x00, 0x00, 0x00, // type 128 (echo request), code 0, checksum (filled below)
  0x12, 0x34, 0x00, 0x01, // identifier 0x1234, sequence 1
  0x70, 0x69, 0x6e, 0x67, // "ping"
]);
const c = referenceChecksum(SRC, DST, ECHO);
ECHO[2] = c >>> 8;
ECHO[3] = c & 0xff;

/** A UDP packet from DST to SRC, port 5353 -> 9, as an error would quote it. */
function invokingUdp(payload = 4): Uint8Array {
  const pb = PacketBuffer.withPayload(Uint8Array.from([0x14, 0xe9, 0x00, 0x09, 0x00, 8 + payload, 0xab, 0xcd, ...new Array(payload).fill(1)]));
  emitIpv6Header({ src: DST, dst: SRC, nextHeader: 17, hopLimit: 64 }, pb);
  return pb.bytes().slice();
}

describe('wire/icmpv6', () => {
  it('parses an echo request, checksum over the pseudo-header', () => {
    assert.ok(verifyIcmpv6Checksum(ECHO, SRC, DST));
    assert.ok(!verifyIcmpv6Checksum(ECHO, DST, ipv6Addr('fd00:198:18::3')));
    const r = parseIcmpv6(ECHO, ADDRS);
    assert.ok(r.ok && r.value.kind === 'echo-request');
    assert.equal(r.value.ident, 0x1234);
    assert.equal(r.value.seq, 1);
    assert.equal(new TextDecoder().decode(r.value.data), 'ping');
  });

  it('emits the same echo bytes', () => {
    const pb = PacketBuffer.withPayload(ECHO.subarray(8));
    emitIcmpv6({ kind: 'echo-request', ident: 0x1234, seq: 1, data: ECHO.subarray(8) }, pb, ADDRS);
    assert.deepEqual(pb.bytes(), ECHO);
  });

  it('refuses a bad checksum, unless told not to verify', () => {
    const bad = ECHO.slice();
    bad[9] ^= 1;
    assert.deepEqual(parseIcmpv6(bad, ADDRS), { ok: false, reason: 'badChecksum' });
    assert.ok(parseIcmpv6(bad, ADDRS, { verifyChecksum: false }).ok);
  });

  it('parses Packet Too Big and finds the endpoint in its quote', () => {
    const quoted = invokingUdp();
    const pb = PacketBuffer.withPayload(quoted);
    emitIcmpv6({ kind: 'packet-too-big', mtu: 1280, quoted }, pb, ADDRS);
    const msg = pb.bytes();
    assert.deepEqual([...msg.subarray(0, 2)], [2, 0]);
    assert.deepEqual([...msg.subarray(4, 8)], [0, 0, 0x05, 0x00]); // MTU 1280
    assert.equal(msg[2] * 256 + msg[3], referenceChecksum(SRC, DST, msg));
    const r = parseIcmpv6(msg, ADDRS);
    assert.ok(r.ok && r.value.kind === 'packet-too-big');
    assert.equal(r.value.mtu, 1280);
    const q = parseIcmpv6Quote(r.value.quoted);
    assert.ok(q.ok);
    assert.equal(formatIpv6(q.value.src), 'fd00:198:18::2');
    assert.equal(formatIpv6(q.value.dst), 'fd00:198:18::1');
    assert.equal(q.value.protocol, 17);
    assert.equal(q.value.srcPort, 5353);
    assert.equal(q.value.dstPort, 9);
    assert.equal(q.value.word1, 0x000cabcd);
  });

  it('finds the endpoint behind quoted extension headers, not behind a later fragment', () => {
    const udp = [0x14, 0xe9, 0x00, 0x09, 0x00, 0x08, 0, 0];
    const dstOpts = [44, 0, 1, 4, 0, 0, 0, 0]; // next: fragment, PadN 4
    const firstFrag = [17, 0, 0, 1, 0, 0, 0, 9]; // next: UDP, offset 0, M
    const pb = PacketBuffer.withPayload(Uint8Array.from([...dstOpts, ...firstFrag, ...udp]));
    emitIpv6Header({ src: DST, dst: SRC, nextHeader: 60, hopLimit: 64 }, pb);
    const q = parseIcmpv6Quote(pb.bytes());
    assert.ok(q.ok);
    assert.equal(q.value.protocol, 17);
    assert.equal(q.value.dstPort, 9);
    const later = pb.bytes().slice();
    later[40 + 8 + 3] = 0x08 | 1; // offset 8: no transport header inside
    assert.deepEqual(parseIcmpv6Quote(later), { ok: false, reason: 'badQuote' });
  });

  it('parses the other errors, with their codes and pointer', () => {
    const quoted = invokingUdp();
    const cases: Icmpv6Repr[] = [
      { kind: 'dest-unreachable', code: 4, quoted },
      { kind: 'time-exceeded', code: 1, quoted },
      { kind: 'parameter-problem', code: 1, pointer: 6, quoted },
    ];
    for (const repr of cases) {
      const pb = PacketBuffer.withPayload(quoted);
      emitIcmpv6(repr, pb, ADDRS);
      const r = parseIcmpv6(pb.bytes(), ADDRS);
      assert.ok(r.ok);
      assert.deepEqual({ ...r.value, quoted: (r.value as { quoted: Uint8Array }).quoted.slice() }, repr);
    }
  });

  it('refuses an error quoting less than an IPv6 header', () => {
    const pb = PacketBuffer.withPayload(new Uint8Array(39).fill(0x60));
    emitIcmpv6({ kind: 'dest-unreachable', code: 0, quoted: new Uint8Array(0) }, pb, ADDRS);
    assert.deepEqual(parseIcmpv6(pb.bytes(), ADDRS), { ok: false, reason: 'badQuote' });
  });

  it('returns NDP and MLD messages whole, as kind other', () => {
    const pb = PacketBuffer.withPayload(new Uint8Array(20));
    emitIcmpv6({ kind: 'other', type: Icmpv6Type.NEIGHBOR_SOLICIT, code: 0, message: new Uint8Array(0) }, pb, ADDRS);
    const r = parseIcmpv6(pb.bytes(), ADDRS);
    assert.ok(r.ok && r.value.kind === 'other');
    assert.equal(r.value.type, 135);
    assert.equal(r.value.message.length, 24);
  });

  it('sizes error quotes to the minimum MTU and tells errors from informational messages', () => {
    assert.equal(icmpv6QuoteLength(100), 100);
    assert.equal(icmpv6QuoteLength(9000), 1280 - 40 - 8);
    assert.equal(ICMPV6_ERROR_MAX_LEN, 1240);
    assert.ok(isIcmpv6Error(1) && isIcmpv6Error(127) && !isIcmpv6Error(128));
  });

  it('never throws on random bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), fc.boolean(), (bytes, verify) => {
      const r = parseIcmpv6(bytes, ADDRS, { verifyChecksum: verify });
      if (r.ok && 'quoted' in r.value) parseIcmpv6Quote(r.value.quoted);
      parseIcmpv6Quote(bytes);
    }));
  });

  it('parse inverts emit for echo (property)', () => {
    fc.assert(fc.property(fc.boolean(), fc.nat(0xffff), fc.nat(0xffff), fc.uint8Array({ maxLength: 64 }), (req, ident, seq, data) => {
      const repr: Icmpv6Repr = { kind: req ? 'echo-request' : 'echo-reply', ident, seq, data };
      const pb = PacketBuffer.withPayload(data);
      emitIcmpv6(repr, pb, ADDRS);
      const r = parseIcmpv6(pb.bytes(), ADDRS);
      assert.ok(r.ok);
      assert.deepEqual({ ...r.value, data: (r.value as { data: Uint8Array }).data.slice() }, repr);
    }));
  });
});
