import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseIpv4 } from '../../src/ipv4/address.js';
import { MAC_ZERO, parseMac } from '../../src/mac.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { ARP_PACKET_LEN, ArpOp, ArpPacket, emitArp, parseArp, type ArpRepr } from '../../src/wire/arp.js';

const KERNEL_MAC = parseMac('02:00:00:00:00:01')!;
const STACK_MAC = parseMac('02:00:00:00:00:02')!;

// The ARP part of a request Linux broadcast from a TAP device in a test namespace:
// 198.18.0.1 asks who has 198.18.0.3.
const REQUEST = new Uint8Array([
  0x00, 0x01, //                         hardware type Ethernet
  0x08, 0x00, //                         protocol type IPv4
  0x06, 0x04, //                         hardware length 6, protocol length 4
  0x00, 0x01, //                         operation: request
  0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // sender MAC 02:00:00:00:00:01
  0xc6, 0x12, 0x00, 0x01, //             sender IP 198.18.0.1
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // target MAC unknown
  0xc6, 0x12, 0x00, 0x03, //             target IP 198.18.0.3
]);

// The reply a host at 198.18.0.2 gives to a request from 198.18.0.1.
const REPLY = new Uint8Array([
  0x00, 0x01, 0x08, 0x00, 0x06, 0x04, // Ethernet/IPv4
  0x00, 0x02, //                         operation: reply
  0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // sender MAC 02:00:00:00:00:02
  0xc6, 0x12, 0x00, 0x02, //             sender IP 198.18.0.2
  0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // target MAC 02:00:00:00:00:01
  0xc6, 0x12, 0x00, 0x01, //             target IP 198.18.0.1
]);

const REQUEST_REPR: ArpRepr = {
  op: ArpOp.REQUEST, senderMac: KERNEL_MAC, senderIp: parseIpv4('198.18.0.1')!,
  targetMac: MAC_ZERO, targetIp: parseIpv4('198.18.0.3')!,
};
const REPLY_REPR: ArpRepr = {
  op: ArpOp.REPLY, senderMac: STACK_MAC, senderIp: parseIpv4('198.18.0.2')!,
  targetMac: KERNEL_MAC, targetIp: parseIpv4('198.18.0.1')!,
};

describe('wire/arp', () => {
  it('parses a real request', () => {
    const r = parseArp(REQUEST);
    assert.ok(r.ok);
    assert.deepEqual(r.value, REQUEST_REPR);
    assert.equal(r.value.senderMac.buffer, REQUEST.buffer); // a view, not a copy
  });

  it('parses a reply and ignores Ethernet padding after the packet', () => {
    const padded = new Uint8Array(46);
    padded.set(REPLY);
    const r = parseArp(padded);
    assert.ok(r.ok);
    assert.deepEqual(r.value, REPLY_REPR);
  });

  it('emits the same bytes', () => {
    for (const [repr, bytes] of [[REQUEST_REPR, REQUEST], [REPLY_REPR, REPLY]] as const) {
      const pb = PacketBuffer.alloc(0);
      emitArp(repr, pb);
      assert.equal(pb.length, ARP_PACKET_LEN);
      assert.deepEqual(pb.bytes(), bytes);
    }
  });

  it('rejects anything but Ethernet/IPv4 with a reason', () => {
    const bad = (i: number, v: number): Uint8Array => {
      const b = REQUEST.slice();
      b[i] = v;
      return b;
    };
    assert.deepEqual(parseArp(REQUEST.subarray(0, 27)), { ok: false, reason: 'truncated' });
    assert.deepEqual(parseArp(bad(1, 6)), { ok: false, reason: 'badHardwareType' }); // IEEE 802
    assert.deepEqual(parseArp(bad(2, 0x86)), { ok: false, reason: 'badProtocolType' });
    assert.deepEqual(parseArp(bad(4, 8)), { ok: false, reason: 'badAddressLength' });
    assert.deepEqual(parseArp(bad(5, 16)), { ok: false, reason: 'badAddressLength' });
  });

  it('carries unknown operations as numbers (RARP request 3)', () => {
    const b = REQUEST.slice();
    b[7] = 3;
    const r = parseArp(b);
    assert.ok(r.ok);
    assert.equal(r.value.op, 3);
  });

  it('view setters turn a request into a reply in place', () => {
    const b = REQUEST.slice();
    const p = new ArpPacket().reset(b);
    const asker = p.senderMac.slice();
    const askerIp = p.senderIp;
    p.op = ArpOp.REPLY;
    p.targetMac = asker;
    p.targetIp = askerIp;
    p.senderMac = STACK_MAC;
    p.senderIp = parseIpv4('198.18.0.2')!;
    assert.deepEqual(b, REPLY);
  });

  it('never throws on random bytes', () => {
    const view = new ArpPacket();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      const r = parseArp(bytes);
      assert.equal(r.ok, view.reset(bytes).check() === undefined);
    }), { numRuns: 2000 });
  });

  it('round-trips random packets', () => {
    const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
    const ip = fc.nat({ max: 0xffffffff });
    fc.assert(fc.property(fc.nat(0xffff), mac, ip, mac, ip, (op, senderMac, senderIp, targetMac, targetIp) => {
      const repr = { op, senderMac, senderIp, targetMac, targetIp };
      const pb = PacketBuffer.alloc(0);
      emitArp(repr, pb);
      const r = parseArp(pb.bytes());
      assert.ok(r.ok);
      assert.deepEqual(r.value, repr);
    }));
  });
});
