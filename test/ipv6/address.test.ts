import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Ipv6Addresses, Ipv6Scope, addressFromPrefix, eui64InterfaceId, formatIpv6, ipv4FromMapped, ipv4MappedAddress,
  ipv6Addr, ipv6CommonPrefixLength, ipv6Equals, ipv6Hash, ipv6InPrefix, ipv6Mask, ipv6MulticastMac, ipv6Network,
  ipv6Scope, isIpv6LinkLocal, isIpv6Multicast, isIpv6UniqueLocal, isReservedInterfaceId, isSolicitedNode,
  linkLocalAddress, parseIpv6, parseIpv6Prefix, solicitedNodeAddress, stableInterfaceId,
} from '../../src/ipv6/address.js';
import { Ipv6AddressMap } from '../../src/ipv6/address-map.js';
import { parseMac } from '../../src/mac.js';

const hex = (a: Uint8Array): string => Buffer.from(a).toString('hex');
const addrArb = fc.uint8Array({ minLength: 16, maxLength: 16 });

describe('ipv6/address', () => {
  describe('parseIpv6', () => {
    it('reads every RFC 4291 2.2 text form', () => {
      const cases: Array<[string, string]> = [
        ['2001:DB8:0:0:8:800:200C:417A', '20010db80000000000080800200c417a'],
        ['2001:db8::8:800:200c:417a', '20010db80000000000080800200c417a'],
        ['ff01::101', 'ff010000000000000000000000000101'],
        ['::1', '00000000000000000000000000000001'],
        ['::', '00000000000000000000000000000000'],
        ['fe80::', 'fe800000000000000000000000000000'],
        ['0:0:0:0:0:0:13.1.68.3', '0000000000000000000000000d014403'],
        ['::13.1.68.3', '0000000000000000000000000d014403'],
        ['::ffff:129.144.52.38', '00000000000000000000ffff81903426'],
        ['64:ff9b::198.18.0.1', '0064ff9b0000000000000000c6120001'],
        ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
        ['::2:3:4:5:6:7:8', '00000002000300040005000600070008'],
      ];
      for (const [text, bytes] of cases) assert.equal(hex(parseIpv6(text)!), bytes, text);
    });

    it('refuses what RFC 4291 does not allow, without throwing', () => {
      for (const bad of [
        '', ':', ':::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::', '1:2:3:4:5:6:7:8::',
        '::1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::8', ':1::', '1::2:', '::1.2.3', '::1.2.3.256', '::01.2.3.4', '1.2.3.4::',
        '::1.2.3.4:5', 'fe80::1%eth0', '2001:db8::/32', ' ::1', '1:2:3:4:5:6:7:1.2.3.4',
      ]) {
        assert.equal(parseIpv6(bad), undefined, bad);
      }
    });

    it('never throws on random text', () => {
      fc.assert(fc.property(fc.string({ maxLength: 50, unit: fc.constantFrom(...':.0123456789abcdefABCDEFg%/ ') }), (s) => {
        const a = parseIpv6(s);
        assert.ok(a === undefined || a.length === 16);
      }));
    });
  });

  describe('formatIpv6 (RFC 5952)', () => {
    it('writes the canonical form', () => {
      const cases: Array<[string, string]> = [
        ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], // 4.1 leading zeros, 4.2.1 longest run
        ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
        ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // 4.2.2: one zero group is not compressed
        ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // 4.2.3: the longest run
        ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // 4.2.3: the first of equal runs
        ['2001:DB8::AAAA', '2001:db8::aaaa'], // 4.3: lower case
        ['0:0:0:0:0:0:0:0', '::'],
        ['0:0:0:0:0:0:0:1', '::1'],
        ['1:0:0:0:0:0:0:0', '1::'],
        ['::ffff:c612:1', '::ffff:198.18.0.1'], // 5: IPv4-mapped in dotted quad
        ['fe80::200:5eff:fe00:1', 'fe80::200:5eff:fe00:1'],
      ];
      for (const [input, canonical] of cases) assert.equal(formatIpv6(ipv6Addr(input)), canonical, input);
    });

    it('round-trips every address, and its output parses back (property)', () => {
      fc.assert(fc.property(addrArb, (a) => {
        const text = formatIpv6(a);
        assert.equal(text, text.toLowerCase());
        assert.ok(!/(^|:)0[0-9a-f]/.test(text), `leading zero in ${text}`);
        assert.deepEqual(parseIpv6(text), a);
      }));
    });

    it('reads an address inside a packet at an offset', () => {
      const pkt = new Uint8Array(40);
      pkt.set(ipv6Addr('fd00::2'), 24);
      assert.equal(formatIpv6(pkt, 24), 'fd00::2');
    });
  });

  it('ipv6Addr throws ERR_INVALID_ARG_VALUE for a bad address', () => {
    assert.throws(() => ipv6Addr('1::2::3'), { code: 'ERR_INVALID_ARG_VALUE' });
  });

  describe('prefixes', () => {
    it('parses address/length', () => {
      const p = parseIpv6Prefix('fd00:198:18::2/64')!;
      assert.equal(formatIpv6(p.address), 'fd00:198:18::2');
      assert.equal(p.prefixLength, 64);
      for (const bad of ['fd00::2', 'fd00::2/129', 'fd00::2/064', 'fd00::2/', 'x/64', 'fd00::2/6/4']) {
        assert.equal(parseIpv6Prefix(bad), undefined, bad);
      }
    });

    it('masks, matches and measures common prefixes', () => {
      const a = ipv6Addr('2001:db8:abcd:12ff:1:2:3:4');
      assert.equal(formatIpv6(ipv6Network(a, 64)), '2001:db8:abcd:12ff::');
      assert.equal(formatIpv6(ipv6Network(a, 60)), '2001:db8:abcd:12f0::');
      assert.equal(formatIpv6(ipv6Network(a, 0)), '::');
      assert.deepEqual(ipv6Network(a, 128), a);
      assert.equal(formatIpv6(ipv6Mask(64)), 'ffff:ffff:ffff:ffff::');
      assert.equal(formatIpv6(ipv6Mask(127)), 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe');
      assert.ok(ipv6InPrefix(a, 0, ipv6Addr('2001:db8:abcd:12f0::'), 60));
      assert.ok(!ipv6InPrefix(a, 0, ipv6Addr('2001:db8:abcd:12e0::'), 60));
      assert.ok(ipv6InPrefix(a, 0, Ipv6Addresses.UNSPECIFIED, 0));
      assert.equal(ipv6CommonPrefixLength(a, ipv6Addr('2001:db8:abcd:12f0::')), 60);
      assert.equal(ipv6CommonPrefixLength(a, a), 128);
    });

    it('an address is always inside its own network (property)', () => {
      fc.assert(fc.property(addrArb, fc.nat(128), (a, len) => {
        const net = ipv6Network(a, len);
        assert.ok(ipv6InPrefix(a, 0, net, len));
        assert.ok(ipv6CommonPrefixLength(a, net) >= len);
      }));
    });
  });

  describe('kinds and scopes', () => {
    it('classifies unicast and multicast scopes', () => {
      assert.equal(ipv6Scope(ipv6Addr('fe80::1')), Ipv6Scope.LINK_LOCAL);
      assert.equal(ipv6Scope(ipv6Addr('::1')), Ipv6Scope.INTERFACE_LOCAL);
      assert.equal(ipv6Scope(ipv6Addr('fec0::1')), Ipv6Scope.SITE_LOCAL);
      assert.equal(ipv6Scope(ipv6Addr('fd00::1')), Ipv6Scope.GLOBAL);
      assert.equal(ipv6Scope(ipv6Addr('2001:db8::1')), Ipv6Scope.GLOBAL);
      assert.equal(ipv6Scope(ipv6Addr('ff01::1')), Ipv6Scope.INTERFACE_LOCAL);
      assert.equal(ipv6Scope(Ipv6Addresses.ALL_NODES), Ipv6Scope.LINK_LOCAL);
      assert.equal(ipv6Scope(ipv6Addr('ff05::2')), Ipv6Scope.SITE_LOCAL);
      assert.equal(ipv6Scope(ipv6Addr('ff0e::101')), Ipv6Scope.GLOBAL);
      assert.ok(isIpv6LinkLocal(ipv6Addr('febf::1')) && !isIpv6LinkLocal(ipv6Addr('fec0::1')));
      assert.ok(isIpv6UniqueLocal(ipv6Addr('fc00::1')) && isIpv6UniqueLocal(ipv6Addr('fdff::1')));
      assert.ok(isIpv6Multicast(Ipv6Addresses.ALL_MLDV2_ROUTERS));
      assert.equal(formatIpv6(Ipv6Addresses.ALL_MLDV2_ROUTERS), 'ff02::16');
    });

    it('derives the solicited-node group and its MAC (RFC 4291 2.7.1, RFC 2464 7)', () => {
      const sn = solicitedNodeAddress(ipv6Addr('fd00:198:18::2:ab:cdef'));
      assert.equal(formatIpv6(sn), 'ff02::1:ffab:cdef');
      assert.ok(isSolicitedNode(sn));
      assert.ok(!isSolicitedNode(Ipv6Addresses.ALL_NODES));
      assert.equal(hex(ipv6MulticastMac(sn)), '3333ffabcdef');
    });

    it('maps IPv4 addresses both ways', () => {
      const m = ipv4MappedAddress(0xc6120001);
      assert.equal(formatIpv6(m), '::ffff:198.18.0.1');
      assert.equal(ipv4FromMapped(m), 0xc6120001);
      assert.equal(ipv4FromMapped(ipv6Addr('::198.18.0.1')), undefined);
    });
  });

  describe('interface identifiers', () => {
    it('builds the modified EUI-64 (RFC 4291 appendix A) and the link-local address', () => {
      const iid = eui64InterfaceId(parseMac('52:54:00:12:34:56')!);
      assert.equal(hex(iid), '505400fffe123456');
      assert.equal(formatIpv6(linkLocalAddress(iid)), 'fe80::5054:ff:fe12:3456');
      assert.equal(formatIpv6(addressFromPrefix(ipv6Addr('fd00:198:18::'), iid)), 'fd00:198:18:0:5054:ff:fe12:3456');
    });

    it('knows the reserved identifiers of RFC 5453', () => {
      assert.ok(isReservedInterfaceId(new Uint8Array(8)));
      assert.ok(isReservedInterfaceId(Uint8Array.from([2, 0, 0x5e, 0xff, 0xfe, 0, 0x52, 0x13])));
      assert.ok(!isReservedInterfaceId(Uint8Array.from([2, 0, 0x5e, 0xff, 0xfe, 0, 0x52, 0x14])));
      assert.ok(isReservedInterfaceId(Uint8Array.from([0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80])));
      assert.ok(!isReservedInterfaceId(Uint8Array.from([0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])));
    });

    it('makes stable identifiers: same inputs same id, any input changed another (RFC 7217)', () => {
      const secretKey = Uint8Array.from({ length: 16 }, (_, i) => i);
      const base = { prefix: ipv6Addr('fd00:198:18::'), netIface: 'tap0', dadCounter: 0, secretKey };
      const id = stableInterfaceId(base);
      assert.equal(id.length, 8);
      assert.deepEqual(stableInterfaceId({ ...base }), id);
      const others = [
        stableInterfaceId({ ...base, prefix: ipv6Addr('fd00:198:19::') }),
        stableInterfaceId({ ...base, netIface: 'tap1' }),
        stableInterfaceId({ ...base, networkId: 'lab' }),
        stableInterfaceId({ ...base, dadCounter: 1 }),
        stableInterfaceId({ ...base, secretKey: secretKey.map((b) => b ^ 1) }),
      ];
      for (const o of others) assert.notEqual(hex(o), hex(id));
      // Only the first 64 bits of the prefix count.
      assert.deepEqual(stableInterfaceId({ ...base, prefix: ipv6Addr('fd00:198:18::1') }), id);
      assert.throws(() => stableInterfaceId({ ...base, secretKey: new Uint8Array(8) }), RangeError);
    });
  });

  describe('Ipv6AddressMap', () => {
    it('finds values straight from packet bytes, and deletes', () => {
      const m = new Ipv6AddressMap<string>(1);
      m.set(ipv6Addr('fd00::1'), 'one').set(ipv6Addr('fd00::2'), 'two').set(ipv6Addr('fd00::1'), 'uno');
      assert.equal(m.size, 2);
      const pkt = new Uint8Array(40);
      pkt.set(ipv6Addr('fd00::1'), 8);
      assert.equal(m.get(pkt, 8), 'uno');
      assert.equal(m.get(pkt, 24), undefined);
      assert.ok(m.delete(ipv6Addr('fd00::1')));
      assert.ok(!m.delete(ipv6Addr('fd00::1')));
      assert.equal(m.get(pkt, 8), undefined);
      assert.deepEqual([...m.values()], ['two']);
    });

    it('agrees with a Map of canonical strings, collisions included (property)', () => {
      // Few distinct addresses from a tiny alphabet, so sets, overwrites and deletes meet.
      const small = fc.uint8Array({ minLength: 16, maxLength: 16, max: 1 });
      const op = fc.tuple(fc.constantFrom('set', 'delete'), small, fc.nat(100));
      fc.assert(fc.property(fc.array(op, { maxLength: 60 }), fc.nat(), (ops, seed) => {
        const m = new Ipv6AddressMap<number>(seed);
        const ref = new Map<string, number>();
        for (const [kind, a, v] of ops) {
          if (kind === 'set') {
            m.set(a, v);
            ref.set(formatIpv6(a), v);
          } else {
            assert.equal(m.delete(a), ref.delete(formatIpv6(a)));
          }
          assert.equal(m.size, ref.size);
        }
        for (const [text, v] of ref) assert.equal(m.get(ipv6Addr(text)), v);
        for (const [a, v] of m.entries()) assert.equal(ref.get(formatIpv6(a)), v);
      }));
    });

    it('hashes equal addresses equally wherever they sit', () => {
      const a = ipv6Addr('2001:db8::42');
      const pkt = new Uint8Array(40);
      pkt.set(a, 24);
      assert.equal(ipv6Hash(pkt, 24, 7), ipv6Hash(a, 0, 7));
      assert.ok(ipv6Equals(pkt.subarray(24), a));
    });
  });
});
