import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseIpv4 as parseAddr } from '../../src/ipv4/address.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import {
  IcmpPacket, IcmpType, IcmpUnreachableCode, emitIcmp, icmpTypeOf, parseIcmp, parseIcmpQuote, type IcmpRepr,
} from '../../src/wire/icmp.js';
import { IpProtocol, parseIpv4 } from '../../src/wire/ipv4.js';

const ECHO_DATA = Uint8Array.from({ length: 48 }, (_, i) => (i < 8 ? 0 : i + 8));

// An echo request Linux sent through a ping socket (SOCK_DGRAM, IPPROTO_ICMP) in a test
// namespace: the kernel chose the identifier and computed the checksum.
const ECHO_REQUEST = new Uint8Array([
  0x08, 0x00, //             type 8 echo request, code 0
  0x89, 0xf4, //             checksum 0x89f4
  0xaf, 0x37, //             identifier 0xaf37
  0x00, 0x01, //             sequence 1
  ...ECHO_DATA, //           8 zero bytes, then 0x10..0x37
]);

// The IPv4 packet Linux sent back when a UDP datagram reached a closed port (198.18.0.2:40001 ->
// 198.18.0.1:9, payload "ping"): destination unreachable, port unreachable, quoting it whole.
const PORT_UNREACHABLE_PACKET = new Uint8Array([
  0x45, 0xc0, 0x00, 0x3c, // IPv4, IHL 5, DSCP CS6 (0xc0), total length 60
  0x2b, 0x2a, 0x00, 0x00, // identification, no flags
  0x40, 0x01, 0xc2, 0xaf, // TTL 64, ICMP, header checksum
  0xc6, 0x12, 0x00, 0x01, // 198.18.0.1
  0xc6, 0x12, 0x00, 0x02, // 198.18.0.2
  0x03, 0x03, 0x89, 0x42, // ICMP type 3, code 3 (port), checksum 0x8942
  0x00, 0x00, 0x00, 0x00, // unused
  0x45, 0x00, 0x00, 0x20, // quoted IPv4 header: total length 32
  0x12, 0x34, 0x40, 0x00, //   id 0x1234, DF
  0x40, 0x11, 0x9c, 0x71, //   TTL 64, UDP
  0xc6, 0x12, 0x00, 0x02, //   198.18.0.2
  0xc6, 0x12, 0x00, 0x01, //   198.18.0.1
  0x9c, 0x41, 0x00, 0x09, // quoted UDP: 40001 -> 9
  0x00, 0x0c, 0xf8, 0x92, //   length 12, checksum
  0x70, 0x69, 0x6e, 0x67, //   "ping"
]);

describe('wire/icmp', () => {
  it('parses a real echo request', () => {
    const r = parseIcmp(ECHO_REQUEST);
    assert.ok(r.ok);
    assert.deepEqual(r.value, { kind: 'echo-request', ident: 0xaf37, seq: 1, data: ECHO_DATA });
  });

  it('emits the echo request byte for byte (data already in the buffer)', () => {
    const pb = PacketBuffer.withPayload(ECHO_DATA);
    emitIcmp({ kind: 'echo-request', ident: 0xaf37, seq: 1, data: ECHO_DATA }, pb);
    assert.deepEqual(pb.bytes(), ECHO_REQUEST);
  });

  it('answers an echo request by emitting a reply with the same data', () => {
    const req = parseIcmp(ECHO_REQUEST);
    assert.ok(req.ok && req.value.kind === 'echo-request');
    const pb = PacketBuffer.withPayload(req.value.data);
    emitIcmp({ ...req.value, kind: 'echo-reply' }, pb);
    const reply = pb.bytes();
    assert.equal(reply[0], IcmpType.ECHO_REPLY);
    // Only the type changed by 8, so the checksum rises by 0x0800 (RFC 1624 style).
    assert.equal((reply[2] << 8) | reply[3], 0x89f4 + 0x0800);
    const back = parseIcmp(reply);
    assert.ok(back.ok);
    assert.deepEqual(back.value, { kind: 'echo-reply', ident: 0xaf37, seq: 1, data: ECHO_DATA });
  });

  it('fails the checksum on a flipped bit, unless verification is off', () => {
    const b = ECHO_REQUEST.slice();
    b[30] ^= 0x10;
    assert.deepEqual(parseIcmp(b), { ok: false, reason: 'badChecksum' });
    assert.ok(parseIcmp(b, { verifyChecksum: false }).ok);
    assert.equal(new IcmpPacket(ECHO_REQUEST).verifyChecksum(), true);
  });

  it('parses a real port unreachable and names the quoted endpoint', () => {
    const ip = parseIpv4(PORT_UNREACHABLE_PACKET);
    assert.ok(ip.ok);
    assert.equal(ip.value.protocol, IpProtocol.ICMP);
    assert.equal(ip.value.dscp, 48);
    const r = parseIcmp(ip.value.payload);
    assert.ok(r.ok);
    const v = r.value;
    assert.equal(v.kind, 'dest-unreachable');
    assert.ok(v.kind === 'dest-unreachable');
    assert.equal(v.code, IcmpUnreachableCode.PORT_UNREACHABLE);
    assert.equal(v.nextHopMtu, 0);
    assert.deepEqual(v.quoted, PORT_UNREACHABLE_PACKET.subarray(28));
    const q = parseIcmpQuote(v.quoted);
    assert.ok(q.ok);
    assert.deepEqual({ ...q.value, transport: [...q.value.transport] }, {
      src: parseAddr('198.18.0.2'), dst: parseAddr('198.18.0.1'), protocol: IpProtocol.UDP, ident: 0x1234,
      srcPort: 40001, dstPort: 9, transport: [...PORT_UNREACHABLE_PACKET.subarray(48)],
      word1: 0x000cf892, // UDP length and checksum here; for TCP the sequence number
    });
  });

  it('emits the port unreachable byte for byte (quote already in the buffer)', () => {
    const quoted = PORT_UNREACHABLE_PACKET.subarray(28);
    const pb = PacketBuffer.withPayload(quoted);
    emitIcmp({ kind: 'dest-unreachable', code: IcmpUnreachableCode.PORT_UNREACHABLE, nextHopMtu: 0, quoted }, pb);
    assert.deepEqual(pb.bytes(), PORT_UNREACHABLE_PACKET.subarray(20));
  });

  it('carries the next-hop MTU of fragmentation needed, and the parameter-problem pointer', () => {
    const quoted = PORT_UNREACHABLE_PACKET.subarray(28);
    const reprs: IcmpRepr[] = [
      { kind: 'dest-unreachable', code: IcmpUnreachableCode.FRAGMENTATION_NEEDED, nextHopMtu: 1400, quoted },
      { kind: 'parameter-problem', code: 0, pointer: 9, quoted },
      { kind: 'time-exceeded', code: 1, quoted },
    ];
    for (const repr of reprs) {
      const pb = PacketBuffer.withPayload(quoted);
      emitIcmp(repr, pb);
      const r = parseIcmp(pb.bytes());
      assert.ok(r.ok);
      assert.deepEqual(r.value, repr);
    }
    const pb = PacketBuffer.withPayload(quoted);
    emitIcmp(reprs[0], pb);
    assert.deepEqual([...pb.bytes().subarray(4, 8)], [0, 0, 0x05, 0x78]);
  });

  it('rejects errors whose quote lacks an IPv4 header plus 8 bytes', () => {
    const short = PORT_UNREACHABLE_PACKET.subarray(28, 28 + 27); // one byte short
    const pb = PacketBuffer.withPayload(short);
    emitIcmp({ kind: 'time-exceeded', code: 0, quoted: short }, pb);
    assert.deepEqual(parseIcmp(pb.bytes()), { ok: false, reason: 'badQuote' });
    const notIp = PORT_UNREACHABLE_PACKET.slice(28);
    notIp[0] = 0x60;
    const pb2 = PacketBuffer.withPayload(notIp);
    emitIcmp({ kind: 'time-exceeded', code: 0, quoted: notIp }, pb2);
    assert.deepEqual(parseIcmp(pb2.bytes()), { ok: false, reason: 'badQuote' });
    assert.deepEqual(parseIcmpQuote(notIp), { ok: false, reason: 'badQuote' });
    assert.deepEqual(parseIcmp(ECHO_REQUEST.subarray(0, 7)), { ok: false, reason: 'truncated' });
  });

  it('carries other types uninterpreted', () => {
    const data = new Uint8Array([1, 2, 3]);
    const repr: IcmpRepr = { kind: 'other', type: IcmpType.TIMESTAMP, code: 0, rest: 0xdeadbeef, data };
    const pb = PacketBuffer.withPayload(data);
    emitIcmp(repr, pb);
    const r = parseIcmp(pb.bytes());
    assert.ok(r.ok);
    assert.deepEqual(r.value, repr);
    assert.equal(icmpTypeOf(repr), 13);
  });

  it('never throws on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (bytes, verify) => {
      parseIcmp(bytes, { verifyChecksum: verify });
      parseIcmpQuote(bytes);
      new IcmpPacket(bytes).check();
    }), { numRuns: 3000 });
  });

  it('round-trips random messages', () => {
    const body = fc.uint8Array({ maxLength: 64 });
    const quote = fc.tuple(fc.nat(10), fc.uint8Array({ minLength: 8, maxLength: 40 })).map(([opt, rest]) => {
      const q = new Uint8Array(20 + opt * 4 + rest.length);
      q[0] = 0x45 + opt;
      q.set(rest, 20 + opt * 4);
      return q;
    });
    const repr: fc.Arbitrary<IcmpRepr> = fc.oneof(
      fc.record({ kind: fc.constantFrom('echo-request' as const, 'echo-reply' as const), ident: fc.nat(0xffff), seq: fc.nat(0xffff), data: body }),
      fc.record({ kind: fc.constant('dest-unreachable' as const), code: fc.constant(4), nextHopMtu: fc.nat(0xffff), quoted: quote }),
      fc.record({ kind: fc.constant('dest-unreachable' as const), code: fc.constantFrom(0, 1, 2, 3, 13), nextHopMtu: fc.constant(0), quoted: quote }),
      fc.record({ kind: fc.constant('time-exceeded' as const), code: fc.nat(255), quoted: quote }),
      fc.record({ kind: fc.constant('parameter-problem' as const), code: fc.nat(255), pointer: fc.nat(255), quoted: quote }),
      fc.record({ kind: fc.constant('other' as const), type: fc.constantFrom(4, 5, 13, 14, 42), code: fc.nat(255), rest: fc.nat({ max: 0xffffffff }), data: body }),
    );
    fc.assert(fc.property(repr, (r) => {
      const pb = PacketBuffer.withPayload('data' in r ? r.data : r.quoted);
      emitIcmp(r, pb);
      const back = parseIcmp(pb.bytes());
      assert.ok(back.ok);
      assert.deepEqual(back.value, { ...r });
    }));
  });
});
