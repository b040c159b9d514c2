import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import type * as t from 'io-ts';
import { formatIpv4, parseIpv4 } from '../../src/ipv4/address.js';
import {
  ConfigError,
  DurationMs,
  InterfaceName,
  Ipv4Address,
  Ipv4Cidr,
  MacAddress,
  Mtu,
  Port,
  PortRange,
  PowerOfTwo,
  Ttl,
  closedObject,
  decodeOrThrow,
  formatIpv4Cidr,
  ipv4AddressValue,
  ipv4CidrValue,
  listOf,
  macAddressBytes,
  parseIpv4Cidr,
  problemsFromErrors,
} from '../../src/config/index.js';

function decoded<A, O>(codec: t.Type<A, O, unknown>, input: unknown): A {
  const r = codec.decode(input);
  if (isLeft(r)) assert.fail(`expected ${JSON.stringify(input)} to decode: ${JSON.stringify(problemsFromErrors(r.left))}`);
  return r.right;
}

function problems<A, O>(codec: t.Type<A, O, unknown>, input: unknown): { path: string; message: string }[] {
  const r = codec.decode(input);
  if (isRight(r)) assert.fail(`expected ${JSON.stringify(input)} to be rejected`);
  return problemsFromErrors(r.left);
}

describe('config/codecs', () => {
  describe('MacAddress', () => {
    it('decodes to the canonical lowercase colon form and to bytes', () => {
      const mac = decoded(MacAddress, '02-AB-cd-00-00-0F');
      assert.equal(mac, '02:ab:cd:00:00:0f');
      assert.deepEqual(macAddressBytes(mac), new Uint8Array([0x02, 0xab, 0xcd, 0x00, 0x00, 0x0f]));
      assert.equal(MacAddress.is('02:ab:cd:00:00:0f'), true);
      assert.equal(MacAddress.is('02:AB:cd:00:00:0f'), false, 'only the canonical form is a MacAddress');
      assert.equal(MacAddress.encode(mac), '02:ab:cd:00:00:0f');
    });

    it('rejects malformed MACs with a message naming the value', () => {
      for (const bad of ['02:00:00:00:00', '02:00:00:00:00:0g', '0200.0000.0002', 2, null, '']) {
        const [p] = problems(MacAddress, bad);
        assert.equal(p.path, '');
        assert.match(p.message, /is not a MAC address/);
        assert.ok(p.message.startsWith(JSON.stringify(bad)));
      }
    });
  });

  describe('Ipv4Address', () => {
    it('accepts dotted quads and converts to the uint32 value', () => {
      assert.equal(ipv4AddressValue(decoded(Ipv4Address, '198.18.0.1')), 0xc6120001);
      assert.equal(ipv4AddressValue(decoded(Ipv4Address, '255.255.255.255')), 0xffffffff);
    });

    it('rejects out-of-range octets, leading zeros, wrong counts and non-strings', () => {
      for (const bad of ['198.18.0.256', '198.18.0.01', '198.18.0', '198.18.0.1.1', ' 198.18.0.1', 3323068417]) {
        assert.match(problems(Ipv4Address, bad)[0].message, /is not an IPv4 address/);
      }
    });

    it('round-trips every address (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
          assert.equal(ipv4AddressValue(decoded(Ipv4Address, formatIpv4(n))), n);
        }),
      );
    });
  });

  describe('Ipv4Cidr', () => {
    it('decodes to the branded string and gives address, prefix, mask, network and broadcast', () => {
      const cidr = decoded(Ipv4Cidr, '198.18.0.2/24');
      assert.equal(cidr, '198.18.0.2/24');
      assert.deepEqual(ipv4CidrValue(cidr), {
        address: parseIpv4('198.18.0.2'),
        prefixLength: 24,
        mask: 0xffffff00,
        network: parseIpv4('198.18.0.0'),
        broadcast: parseIpv4('198.18.0.255'),
      });
      assert.deepEqual(parseIpv4Cidr('0.0.0.0/0'), { address: 0, prefixLength: 0, mask: 0, network: 0, broadcast: 0xffffffff });
      assert.equal(parseIpv4Cidr('10.1.2.3/32')?.network, parseIpv4('10.1.2.3'));
      assert.equal(formatIpv4Cidr(parseIpv4('198.18.0.0')!, 24), '198.18.0.0/24');
    });

    it('rejects bad addresses and prefixes', () => {
      for (const bad of ['198.18.0.300/24', '198.18.0.2', '198.18.0.2/33', '198.18.0.2/024', '198.18.0.2/', '/24', '198.18.0.2/-1', '198.18.0.2/24/1']) {
        assert.deepEqual(problems(Ipv4Cidr, bad), [{ path: '', message: `"${bad}" is not an IPv4 CIDR like 198.18.0.2/24` }]);
      }
    });

    it('network and broadcast agree with a bit-by-bit reference (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (addr, len) => {
          const v = parseIpv4Cidr(`${formatIpv4(addr)}/${len}`)!;
          let network = 0;
          let broadcast = 0;
          for (let bit = 31; bit >= 0; bit--) {
            const inPrefix = 31 - bit < len;
            const b = Math.floor(addr / 2 ** bit) % 2;
            network += (inPrefix ? b : 0) * 2 ** bit;
            broadcast += (inPrefix ? b : 1) * 2 ** bit;
          }
          assert.equal(v.network, network);
          assert.equal(v.broadcast, broadcast);
        }),
      );
    });
  });

  describe('numbers', () => {
    it('Port is an integer 0..65535', () => {
      assert.equal(decoded(Port, 0), 0);
      assert.equal(decoded(Port, 65535), 65535);
      for (const bad of [-1, 65536, 1.5, '80', NaN]) assert.match(problems(Port, bad)[0].message, /is not a port \(an integer 0\.\.65535\)/);
    });

    it('Mtu is an integer 68..65535', () => {
      assert.equal(decoded(Mtu, 68), 68);
      assert.equal(decoded(Mtu, 1500), 1500);
      for (const bad of [67, 65536, 1500.5]) assert.match(problems(Mtu, bad)[0].message, /is not an MTU/);
    });

    it('DurationMs, Ttl, PowerOfTwo and PortRange', () => {
      assert.equal(decoded(DurationMs, 0.5), 0.5);
      for (const bad of [0, -1, Infinity, '10']) assert.equal(isLeft(DurationMs.decode(bad)), true);
      assert.equal(decoded(Ttl, 255), 255);
      assert.equal(isLeft(Ttl.decode(0)), true);
      assert.equal(isLeft(Ttl.decode(256)), true);
      assert.equal(decoded(PowerOfTwo, 2048), 2048);
      for (const bad of [0, 3, 2 ** 31]) assert.equal(isLeft(PowerOfTwo.decode(bad)), true);
      const input = [1000, 2000];
      const range = decoded(PortRange, input);
      assert.deepEqual(range, [1000, 2000]);
      input[0] = 5;
      assert.equal(range[0], 1000, 'the decoded range is a copy');
      assert.ok(Object.isFrozen(range));
      assert.deepEqual(decoded(PortRange, [7, 7]), [7, 7]);
      for (const bad of [[0, 10], [10, 9], [1, 65536], [1], [1, 2, 3], '1-2']) assert.equal(isLeft(PortRange.decode(bad)), true);
    });

    it('InterfaceName', () => {
      assert.equal(decoded(InterfaceName, 'eth0'), 'eth0');
      for (const bad of ['', 'has space', 'x'.repeat(33), 'tap/0']) assert.equal(isLeft(InterfaceName.decode(bad)), true);
    });
  });

  describe('closedObject and listOf', () => {
    const Point = closedObject('Point', 'a point', { x: Port }, { label: InterfaceName });
    const Points = listOf(Point, 'a list of points');

    it('decodes present fields and drops undefined optional ones', () => {
      assert.deepEqual(decoded(Points, [{ x: 1 }, { x: 2, label: 'b' }, { x: 3, label: undefined }]), [{ x: 1 }, { x: 2, label: 'b' }, { x: 3 }]);
    });

    it('reports every bad path with clean dotted paths, missing fields and unknown keys with a hint', () => {
      assert.deepEqual(problems(Points, [{ x: 1 }, { lable: 'a' }, { x: 70000, label: 'has space' }, 5]), [
        { path: '1.x', message: 'missing: expected a port (an integer 0..65535)' },
        { path: '1.lable', message: 'unknown option (did you mean "label"?)' },
        { path: '2.x', message: '70000 is not a port (an integer 0..65535)' },
        { path: '2.label', message: '"has space" is not an interface name (1 to 32 letters, digits, "_", ".", ":" or "-")' },
        { path: '3', message: '5 is not a point' },
      ]);
      assert.deepEqual(problems(Point, { x: 1, zzzzzz: 1 }), [{ path: 'zzzzzz', message: 'unknown option (a point takes x, label)' }]);
      assert.deepEqual(problems(Points, {}), [{ path: '', message: '{} is not a list of points' }]);
    });

    it('is() agrees with decode on canonical values and encode inverts decode', () => {
      assert.equal(Point.is({ x: 1, label: 'a' }), true);
      assert.equal(Point.is({ x: 1, extra: 1 }), false);
      assert.equal(Point.is({ label: 'a' }), false);
      assert.deepEqual(Points.encode(decoded(Points, [{ x: 1, label: 'a' }])), [{ x: 1, label: 'a' }]);
    });

    it('decodeOrThrow throws one ConfigError with every problem', () => {
      assert.deepEqual(decodeOrThrow(Point, { x: 5 }, 'point'), { x: 5 });
      assert.throws(
        () => decodeOrThrow(Point, { x: -1, y: 2 }, 'bind options'),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.code === 'ERR_INVALID_ARG_VALUE' &&
          e.message === 'ERR_INVALID_ARG_VALUE: invalid bind options: x: -1 is not a port (an integer 0..65535); y: unknown option (did you mean "x"?)' &&
          e.problems.length === 2,
      );
    });
  });
});
