import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseMac } from '../../src/mac.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import {
  ETHERNET_HEADER_LEN, EtherType, EthernetOffset, EthernetFrame, emitEthernet, ethernetHeaderLen, parseEthernet,
  type EthernetRepr,
} from '../../src/wire/ethernet.js';

// An ARP request broadcast by Linux 6.x from a TAP device in a test namespace
// (198.18.0.1 asks who has 198.18.0.3), captured from the TAP fd.
const ARP_REQUEST_FRAME = new Uint8Array([
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination: broadcast
  0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source 02:00:00:00:00:01
  0x08, 0x06, //                         EtherType ARP
  0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // ARP: Ethernet/IPv4, request
  0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x01, // sender MAC, 198.18.0.1
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x12, 0x00, 0x03, // target MAC 0, 198.18.0.3
]);

// The same idea with an 802.1Q tag: VLAN 100, priority 5, carrying IPv4 (truncated payload).
const VLAN_FRAME = new Uint8Array([
  0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // destination
  0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source
  0x81, 0x00, //                         TPID 802.1Q
  0xa0, 0x64, //                         PCP 5, DEI 0, VID 100
  0x08, 0x00, //                         inner EtherType IPv4
  0x45, 0x00, 0x00, 0x14, //             first bytes of the payload
]);

describe('wire/ethernet', () => {
  it('parses a real broadcast ARP frame field by field', () => {
    const r = parseEthernet(ARP_REQUEST_FRAME);
    assert.ok(r.ok);
    assert.deepEqual([...r.value.dst], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert.deepEqual([...r.value.src], [2, 0, 0, 0, 0, 1]);
    assert.equal(r.value.ethertype, EtherType.ARP);
    assert.equal(r.value.vlan, undefined);
    assert.equal(r.value.payload.length, 28);
    assert.equal(r.value.payload[7], 0x01); // ARP op low byte: request
    // The payload is a view, not a copy.
    assert.equal(r.value.payload.buffer, ARP_REQUEST_FRAME.buffer);
    assert.equal(r.value.payload.byteOffset, 14);
  });

  it('recognises an 802.1Q tag and exposes the inner EtherType and payload', () => {
    const r = parseEthernet(VLAN_FRAME);
    assert.ok(r.ok);
    assert.deepEqual(r.value.vlan, { id: 100, pcp: 5, dei: false });
    assert.equal(r.value.ethertype, EtherType.IPV4);
    assert.deepEqual([...r.value.payload], [0x45, 0x00, 0x00, 0x14]);
    const view = new EthernetFrame(VLAN_FRAME);
    assert.equal(view.rawEthertype, EtherType.VLAN);
    assert.equal(view.headerLen, 18);
  });

  it('rejects frames shorter than the header, and a tag without room', () => {
    assert.deepEqual(parseEthernet(ARP_REQUEST_FRAME.subarray(0, 13)), { ok: false, reason: 'truncated' });
    assert.deepEqual(parseEthernet(new Uint8Array(0)), { ok: false, reason: 'truncated' });
    assert.deepEqual(parseEthernet(VLAN_FRAME.subarray(0, 17)), { ok: false, reason: 'truncatedVlan' });
    // Exactly 14 bytes is a frame with an empty payload.
    const r = parseEthernet(ARP_REQUEST_FRAME.subarray(0, 14));
    assert.ok(r.ok);
    assert.equal(r.value.payload.length, 0);
  });

  it('emits the same bytes by prepending in front of the payload', () => {
    const pb = PacketBuffer.withPayload(ARP_REQUEST_FRAME.subarray(14));
    const repr: EthernetRepr = {
      dst: parseMac('ff:ff:ff:ff:ff:ff')!,
      src: parseMac('02:00:00:00:00:01')!,
      ethertype: EtherType.ARP,
    };
    assert.equal(ethernetHeaderLen(repr), ETHERNET_HEADER_LEN);
    emitEthernet(repr, pb);
    assert.deepEqual(pb.bytes(), ARP_REQUEST_FRAME);
  });

  it('emits a tagged frame byte for byte', () => {
    const pb = PacketBuffer.withPayload(VLAN_FRAME.subarray(18));
    emitEthernet({
      dst: parseMac('02:00:00:00:00:02')!, src: parseMac('02:00:00:00:00:01')!,
      ethertype: EtherType.IPV4, vlan: { id: 100, pcp: 5, dei: false },
    }, pb);
    assert.deepEqual(pb.bytes(), VLAN_FRAME);
  });

  it('view setters write the fields and reset() rebinds without a new view', () => {
    const bytes = new Uint8Array(20);
    const view = new EthernetFrame();
    assert.equal(view.reset(bytes), view);
    view.dst = parseMac('01:02:03:04:05:06')!;
    view.src = parseMac('0a:0b:0c:0d:0e:0f')!;
    view.rawEthertype = EtherType.IPV6;
    assert.equal(view.check(), undefined);
    assert.deepEqual([...bytes.subarray(0, 14)], [1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 0x86, 0xdd]);
    assert.equal(view.ethertype, EtherType.IPV6);
    assert.equal(view.payload.length, 6);
  });

  it('EthernetOffset gives the offsets of the fields in real frames (frozen)', () => {
    const u16 = (b: Uint8Array, at: number): number => (b[at] << 8) | b[at + 1];
    const arp = ARP_REQUEST_FRAME;
    assert.deepEqual(arp.subarray(EthernetOffset.DST, EthernetOffset.DST + 6), new Uint8Array(6).fill(0xff));
    assert.deepEqual(arp.subarray(EthernetOffset.SRC, EthernetOffset.SRC + 6), parseMac('02:00:00:00:00:01'));
    assert.equal(u16(arp, EthernetOffset.TYPE), EtherType.ARP);
    assert.equal(EthernetOffset.PAYLOAD, ETHERNET_HEADER_LEN);
    assert.equal(u16(VLAN_FRAME, EthernetOffset.TYPE), EtherType.VLAN);
    assert.equal(u16(VLAN_FRAME, EthernetOffset.VLAN_TCI), 0xa064);
    assert.equal(u16(VLAN_FRAME, EthernetOffset.VLAN_TYPE), EtherType.IPV4);
    assert.equal(VLAN_FRAME[EthernetOffset.VLAN_PAYLOAD], 0x45);
    assert.equal(Object.isFrozen(EthernetOffset), true);
  });

  it('never throws on random bytes', () => {
    const view = new EthernetFrame();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const r = parseEthernet(bytes);
      const reason = view.reset(bytes).check();
      assert.equal(r.ok, reason === undefined);
      if (r.ok) assert.ok(r.value.payload.length <= bytes.length - 14);
    }), { numRuns: 2000 });
  });

  it('round-trips random headers', () => {
    const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
    const vlan = fc.option(fc.record({ id: fc.nat(4095), pcp: fc.nat(7), dei: fc.boolean() }), { nil: undefined });
    fc.assert(fc.property(mac, mac, fc.integer({ min: 0x0600, max: 0xffff }).filter((t) => t !== 0x8100), vlan,
      fc.uint8Array({ maxLength: 100 }), (dst, src, ethertype, tag, payload) => {
        const pb = PacketBuffer.withPayload(payload);
        emitEthernet({ dst, src, ethertype, vlan: tag }, pb);
        const r = parseEthernet(pb.bytes());
        assert.ok(r.ok);
        assert.deepEqual(r.value.dst, dst);
        assert.deepEqual(r.value.src, src);
        assert.equal(r.value.ethertype, ethertype);
        assert.deepEqual(r.value.vlan, tag ? { ...tag } : undefined);
        assert.deepEqual(r.value.payload, payload);
      }));
  });
});
