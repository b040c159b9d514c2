import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { parseIpv4 } from '../../src/ipv4/address.js';
import { NEIGHBOR_CACHE_DEFAULTS, REASSEMBLY_DEFAULTS } from '../../src/ipv4/config.js';
import { DEFAULT_TCP_CONFIG } from '../../src/tcp/config.js';
import { DEFAULT_TCP_LIMITS } from '../../src/tcp/limits.js';
import { NewReno } from '../../src/tcp/congestion/newreno.js';
import { NetstackError } from '../../src/errors.js';
import {
  ConfigError,
  DEFAULT_PROTOCOL_CONFIGS,
  decodeStackConfig,
  type ConfigProblem,
  type LinkLike,
  type StackConfigInput,
} from '../../src/config/index.js';
import type { Link } from '../../streams/links/link.js';

const ip = (s: string) => parseIpv4(s)!;

function fakeLink(mtu?: number): Link {
  return {
    name: 'test',
    mtu: mtu ?? 1500,
    frames$: new Subject<Uint8Array>().asObservable(),
    send: () => undefined,
    close: () => undefined,
  };
}

/** The problems decodeStackConfig reports for `input` (failing when it does not throw). */
function problemsOf(input: unknown): ConfigProblem[] {
  try {
    decodeStackConfig(input);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    assert.ok(e instanceof NetstackError);
    assert.equal(e.code, 'ERR_INVALID_CONFIG');
    return [...e.problems];
  }
  return assert.fail('expected the configuration to be rejected');
}

const LINK = fakeLink();
const GOOD: StackConfigInput<Link> = {
  interfaces: [{ name: 'eth0', link: LINK, mac: '02:00:00:00:00:02', ipv4: ['198.18.0.2/24'] }],
  routes: [{ destination: '0.0.0.0/0', gateway: '198.18.0.1' }],
};

describe('config/stack-config', () => {
  it("decodes DESIGN.md's example into numbers, with defaults and the route's interface", () => {
    const c = decodeStackConfig<Link>(GOOD);
    assert.equal(c.interfaces.length, 1);
    const eth0 = c.interfaces[0];
    assert.equal(eth0.name, 'eth0');
    assert.equal(eth0.link, LINK, 'the link is passed through untouched');
    assert.deepEqual(eth0.mac, new Uint8Array([2, 0, 0, 0, 0, 2]));
    assert.equal(eth0.mtu, 1500);
    assert.deepEqual(eth0.ipv4, [
      { address: ip('198.18.0.2'), prefixLength: 24, mask: 0xffffff00, network: ip('198.18.0.0'), broadcast: ip('198.18.0.255'), text: '198.18.0.2/24' },
    ]);
    assert.deepEqual(c.routes, [{ destination: 0, prefixLength: 0, gateway: ip('198.18.0.1'), interface: 'eth0' }]);
    assert.deepEqual(c.arp, NEIGHBOR_CACHE_DEFAULTS);
    assert.deepEqual(c.ipv4.reassembly, REASSEMBLY_DEFAULTS);
    assert.equal(c.ipv4.defaultTtl, 64);
    assert.deepEqual(c.icmp, { errorRatePerSecond: 1000, errorBurst: 50 });
    assert.deepEqual(c.udp.ephemeralPortRange, [49152, 65535]);
    assert.deepEqual(c.tcp, { ...DEFAULT_TCP_CONFIG, ...DEFAULT_TCP_LIMITS, ephemeralPortRange: [49152, 65535] });
    assert.deepEqual({ ...c, interfaces: undefined, routes: undefined, routes6: undefined, ipv6: undefined }, { ...DEFAULT_PROTOCOL_CONFIGS, interfaces: undefined, routes: undefined, routes6: undefined, ipv6: undefined });
    assert.deepEqual(c.routes6, []);
    assert.equal(c.ipv6.enabled, false, 'no IPv6 address, no ipv6.enabled: an IPv4-only stack');
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.interfaces) && Object.isFrozen(c.routes[0]) && Object.isFrozen(c.tcp));
    assert.equal(Object.isFrozen(LINK), false, "the user's link is not frozen");
  });

  it("takes the MTU from the config, else the link, else ipv4.defaultMtu; the MAC may be left out", () => {
    const noMtu: LinkLike = { frames$: { subscribe: () => undefined }, send: () => undefined };
    const c = decodeStackConfig({
      interfaces: [
        { name: 'a', link: fakeLink(9000), ipv4: ['198.18.0.2/24'] },
        { name: 'b', link: fakeLink(9000), mtu: 1280, ipv4: [] },
        { name: 'c', link: noMtu, ipv4: [] },
      ],
      ipv4: { defaultMtu: 576 },
    });
    assert.deepEqual(c.interfaces.map((i) => i.mtu), [9000, 1280, 576]);
    assert.equal(c.interfaces[0].mac, undefined);
    assert.deepEqual(c.routes, []);
  });

  it('resolves a route to the interface whose subnet holds the gateway (longest prefix), or the one named', () => {
    const c = decodeStackConfig({
      interfaces: [
        { name: 'wide', link: fakeLink(), ipv4: ['198.18.0.2/16'] },
        { name: 'narrow', link: fakeLink(), ipv4: ['198.18.0.130/25'] },
      ],
      routes: [
        { destination: '0.0.0.0/0', gateway: '198.18.0.129' },
        { destination: '10.0.0.0/8', gateway: '198.18.1.1' },
        { destination: '198.19.0.0/16', interface: 'narrow' },
      ],
    });
    assert.deepEqual(c.routes.map((r) => [r.interface, r.gateway]), [
      ['narrow', ip('198.18.0.129')],
      ['wide', ip('198.18.1.1')],
      ['narrow', undefined],
    ]);
    assert.deepEqual(c.routes.map((r) => [r.destination, r.prefixLength]), [[0, 0], [ip('10.0.0.0'), 8], [ip('198.19.0.0'), 16]]);
  });

  it('names every bad path at once in one ERR_INVALID_CONFIG', () => {
    let error: unknown;
    try {
      decodeStackConfig({
        interfaces: [{ name: 'eth0', link: LINK, ipv4: ['198.18.0.2/24', '198.18.0.300/24'] }],
        routes: [{ destination: '0.0.0.0/0', gateway: '10.0.0.1' }],
        udp: { ephemeralPortRange: [60000, 50000] },
      });
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof ConfigError);
    assert.equal(error.code, 'ERR_INVALID_CONFIG');
    assert.equal(
      error.message,
      'ERR_INVALID_CONFIG: invalid stack configuration: ' +
        'interfaces.0.ipv4.1: "198.18.0.300/24" is not an IPv4 CIDR like 198.18.0.2/24; ' +
        'routes.0.gateway: 10.0.0.1 is not on a subnet of any interface (198.18.0.0/24); ' +
        'udp.ephemeralPortRange: [60000,50000] is not a port range [lo, hi] with 1 <= lo <= hi <= 65535',
    );
    assert.deepEqual(error.problems.map((p) => p.path), ['interfaces.0.ipv4.1', 'routes.0.gateway', 'udp.ephemeralPortRange']);
    assert.ok(Object.isFrozen(error.problems));
  });

  it('reports shape errors: missing fields, wrong types, unknown keys with hints, non-links', () => {
    assert.deepEqual(
      problemsOf({
        interfaces: [{ name: 'eth 0', link: { send() {} }, mac: 'zz', mtu: 40, ipv4: '198.18.0.2/24', address: 1 }, {}],
        rotues: [],
        tcp: { nodelay: true },
      }),
      [
        { path: 'interfaces.0.name', message: '"eth 0" is not an interface name (1 to 32 letters, digits, "_", ".", ":" or "-")' },
        { path: 'interfaces.0.link', message: 'this object is not a link (an object with frames$ and send(frame), e.g. from tapLink() or memoryWire())' },
        { path: 'interfaces.0.ipv4', message: '"198.18.0.2/24" is not a list of IPv4 CIDRs like ["198.18.0.2/24"]' },
        { path: 'interfaces.0.mac', message: '"zz" is not a MAC address like 02:00:00:00:00:02' },
        { path: 'interfaces.0.mtu', message: '40 is not an MTU (an integer 68..65535)' },
        { path: 'interfaces.0.address', message: 'unknown option (an interface (an object) takes name, link, ipv4, mac, mtu, ipv6)' },
        { path: 'interfaces.1.name', message: 'missing: expected an interface name (1 to 32 letters, digits, "_", ".", ":" or "-")' },
        { path: 'interfaces.1.link', message: 'missing: expected a link (an object with frames$ and send(frame))' },
        { path: 'interfaces.1.ipv4', message: 'missing: expected a list of IPv4 CIDRs like ["198.18.0.2/24"]' },
        { path: 'tcp.nodelay', message: 'unknown option (did you mean "noDelay"?)' },
        { path: 'rotues', message: 'unknown option (did you mean "routes"?)' },
      ],
    );
    assert.deepEqual(problemsOf(undefined), [{ path: '', message: 'undefined is not a stack configuration (an object)' }]);
    assert.deepEqual(problemsOf({}), [{ path: 'interfaces', message: 'missing: expected a list of interfaces' }]);
  });

  it('checks what the codec cannot: names, MACs, addresses, MTU against the link', () => {
    assert.deepEqual(
      problemsOf({
        interfaces: [
          { name: 'eth0', link: fakeLink(1500), mac: '01:00:5e:00:00:01', mtu: 9000, ipv4: ['198.18.0.2/24', '198.18.0.0/24', '198.18.0.255/24'] },
          { name: 'eth0', link: fakeLink(), mac: '00:00:00:00:00:00', ipv4: ['198.18.0.2/16', '224.0.0.1/4', '0.0.0.0/8', '255.255.255.255/32', '198.18.5.5/31'] },
        ],
      }),
      [
        { path: 'interfaces.0.mac', message: '"01:00:5e:00:00:01" is a multicast address; an interface needs a unicast MAC' },
        { path: 'interfaces.0.mtu', message: "9000 exceeds the link's MTU 1500" },
        { path: 'interfaces.0.ipv4.1', message: '"198.18.0.0/24" is the network address of 198.18.0.0/24' },
        { path: 'interfaces.0.ipv4.2', message: '"198.18.0.255/24" is the broadcast address of 198.18.0.0/24' },
        { path: 'interfaces.1.name', message: '"eth0" is already the name of interfaces.0' },
        { path: 'interfaces.1.mac', message: '"00:00:00:00:00:00" is the zero address; an interface needs a unicast MAC' },
        { path: 'interfaces.1.ipv4.0', message: '198.18.0.2 is already assigned at interfaces.0.ipv4.0' },
        { path: 'interfaces.1.ipv4.1', message: '"224.0.0.1/4" is a multicast address' },
        { path: 'interfaces.1.ipv4.2', message: '"0.0.0.0/8" is the unspecified address 0.0.0.0' },
        { path: 'interfaces.1.ipv4.3', message: '"255.255.255.255/32" is the limited broadcast address' },
      ],
    );
    assert.deepEqual(problemsOf({ interfaces: [] }), [{ path: 'interfaces', message: 'must list at least one interface' }]);
  });

  it('checks routes: host bits, duplicates, gateway or interface, unknown interface, gateway reachability', () => {
    const interfaces = [
      { name: 'eth0', link: fakeLink(), ipv4: ['198.18.0.2/24'] },
      { name: 'eth1', link: fakeLink(), ipv4: ['198.18.1.2/24'] },
    ];
    assert.deepEqual(
      problemsOf({
        interfaces,
        routes: [
          { destination: '10.1.2.3/8', gateway: '198.18.0.1' },
          { destination: '0.0.0.0/0', gateway: '198.18.0.1' },
          { destination: '0.0.0.0/0', gateway: '198.18.1.1' },
          { destination: '172.16.0.0/12' },
          { destination: '172.17.0.0/16', interface: 'eth9' },
          { destination: '172.18.0.0/16', interface: 'eth1', gateway: '198.18.0.1' },
          { destination: '172.19.0.0/16', gateway: '198.18.0.2' },
          { destination: '172.20.0.0/16', gateway: '203.0.113.1' },
        ],
      }),
      [
        { path: 'routes.0.destination', message: '"10.1.2.3/8" has host bits set (did you mean 10.0.0.0/8?)' },
        { path: 'routes.2.destination', message: '0.0.0.0/0 is already the destination of routes.1' },
        { path: 'routes.3', message: 'needs a gateway, an interface, or both' },
        { path: 'routes.4.interface', message: '"eth9" is not an interface (there are "eth0", "eth1")' },
        { path: 'routes.5.gateway', message: '198.18.0.1 is not on a subnet of interface "eth1" (198.18.1.0/24)' },
        { path: 'routes.6.gateway', message: "198.18.0.2 is one of this stack's own addresses" },
        { path: 'routes.7.gateway', message: '203.0.113.1 is not on a subnet of any interface (198.18.0.0/24, 198.18.1.0/24)' },
      ],
    );
  });

  it('IPv6 routes: a link-local gateway names its interface, a global one lies on an IPv6 prefix; IPv4 routes unchanged', () => {
    const c = decodeStackConfig<Link>({
      interfaces: [{ name: 'eth0', link: fakeLink(), ipv4: ['198.18.0.2/24'], ipv6: ['fd00:198:18::2/64'] }],
      routes: [
        { destination: '0.0.0.0/0', gateway: '198.18.0.1' },
        { destination: '::/0', gateway: 'fe80::1', interface: 'eth0' },
        { destination: '2001:db8::/32', gateway: 'fd00:198:18::1' },
      ],
    });
    assert.deepEqual(c.routes, [{ destination: 0, prefixLength: 0, gateway: ip('198.18.0.1'), interface: 'eth0' }]);
    assert.deepEqual(c.routes6.map((r) => [[...r.destination], r.prefixLength, r.gateway && [...r.gateway], r.interface]), [
      [[...new Uint8Array(16)], 0, [0xfe, 0x80, ...new Array(13).fill(0), 1], 'eth0'],
      [[0x20, 0x01, 0x0d, 0xb8, ...new Array(12).fill(0)], 32, [0xfd, 0, 1, 0x98, 0, 0x18, ...new Array(9).fill(0), 1], 'eth0'],
    ]);
    assert.equal(c.ipv6.enabled, true);
    assert.deepEqual([c.ipv6.slaac, c.ipv6.acceptRa, c.ipv6.acceptRedirects, c.ipv6.dadTransmits], [true, true, false, 1]);
    // An IPv6 route alone turns IPv6 on.
    assert.equal(decodeStackConfig({ interfaces: [{ name: 'eth0', link: fakeLink(), ipv4: [] }], routes: [{ destination: '::/0', gateway: 'fe80::1', interface: 'eth0' }] }).ipv6.enabled, true);
  });

  it('IPv6 routes and switches: every bad field named', () => {
    assert.deepEqual(
      problemsOf({
        interfaces: [{ name: 'eth0', link: fakeLink(), ipv4: ['198.18.0.2/24'], ipv6: ['fd00:198:18::2/64'] }],
        routes: [
          { destination: '::/0', gateway: 'fe80::1' },
          { destination: '2001:db8::1/32', gateway: 'fd00:198:18::1' },
          { destination: '2001:db9::/32', gateway: 'fd00:1::1' },
          { destination: '2001:dba::/32', gateway: '198.18.0.1' },
          { destination: '10.0.0.0/8', gateway: 'fd00:198:18::1' },
          { destination: '2001:dbb::/32', gateway: 'ff02::2', interface: 'eth0' },
          { destination: '2001:dbc::/32', gateway: 'fd00:198:18::2' },
          { destination: '2001:dbd::/129', gateway: 'fe80::1', interface: 'eth0' },
        ],
        ipv6: { slaac: 'yes', acceptRa: 1, acceptRedirects: null, dadTransmits: 11 },
      }).map((p) => p.path),
      [
        'routes.0.interface',
        'routes.1.destination',
        'routes.2.gateway',
        'routes.3.gateway',
        'routes.4.gateway',
        'routes.5.gateway',
        'routes.6.gateway',
        'routes.7.destination',
        'ipv6.slaac',
        'ipv6.acceptRa',
        'ipv6.acceptRedirects',
        'ipv6.dadTransmits',
      ],
    );
    assert.deepEqual(
      problemsOf({ interfaces: [{ name: 'eth0', link: fakeLink(), ipv4: [] }], ipv6: { enabled: false, slaac: true } }),
      [{ path: 'ipv6.slaac', message: 'is true, yet ipv6.enabled is false' }],
    );
  });

  it('fills protocol sections from the defaults and applies overrides, nested ones included', () => {
    const c = decodeStackConfig({
      ...GOOD,
      arp: { maxRequests: 5, retransmitIntervalMs: 250 },
      ipv4: { defaultTtl: 32, reassembly: { timeoutMs: 5000 } },
      icmp: { errorBurst: 0 },
      udp: { ephemeralPortRange: [40000, 40099] },
      tcp: { mss: 1200, noDelay: true, ephemeralPortRange: [41000, 41999] },
    });
    assert.deepEqual(c.arp, { ...NEIGHBOR_CACHE_DEFAULTS, maxRequests: 5, retransmitIntervalMs: 250 });
    assert.equal(c.ipv4.defaultTtl, 32);
    assert.deepEqual(c.ipv4.reassembly, { ...REASSEMBLY_DEFAULTS, timeoutMs: 5000 });
    assert.equal(c.icmp.errorBurst, 0);
    assert.equal(c.icmp.errorRatePerSecond, 1000);
    assert.deepEqual(c.udp.ephemeralPortRange, [40000, 40099]);
    assert.deepEqual(c.tcp, { ...DEFAULT_TCP_CONFIG, ...DEFAULT_TCP_LIMITS, mss: 1200, noDelay: true, ephemeralPortRange: [41000, 41999] });
  });

  it('reports protocol problems with the rest: codec errors, cross-field rules, the TCP core\'s ranges', () => {
    // Sorted: within a section the order follows the core's field order, which is not ours.
    const byPath = (a: ConfigProblem, b: ConfigProblem) => a.path.localeCompare(b.path);
    assert.deepEqual(
      problemsOf({
        ...GOOD,
        arp: { reachableTimeMs: 90_000, maxRequests: 0 },
        ipv4: { idTableSize: 1000, reassembly: { timeoutMs: -1, maxBytes: 'lots' } },
        tcp: { mss: 10, rtoMin: 'x', windowScaling: 1 },
      }).sort(byPath),
      [
        { path: 'arp.maxRequests', message: '0 is not an integer >= 1' },
        { path: 'arp.reachableTimeMs', message: 'expireTimeMs (60000) must be >= reachableTimeMs (90000)' },
        { path: 'ipv4.idTableSize', message: '1000 is not a power of two (1, 2, 4, ... 2^30)' },
        { path: 'ipv4.reassembly.timeoutMs', message: '-1 is not a duration in ms (a finite number > 0)' },
        { path: 'ipv4.reassembly.maxBytes', message: '"lots" is not an integer >= 0' },
        { path: 'tcp.rtoMin', message: '"x" is not a finite number >= 0' },
        { path: 'tcp.windowScaling', message: '1 is not true or false' },
        // Checked by resolveTcpConfig on the fields that decoded, in the same error.
        { path: 'tcp.mss', message: 'expected an integer in [64, 65495], got 10' },
      ].sort(byPath),
    );
  });

  it('the stack-wide limits decode, and every bad one is named at once', () => {
    const c = decodeStackConfig({ ...GOOD, tcp: { maxConnections: 10, maxTimeWait: 0 }, udp: { maxQueuedBytes: 4096, maxQueuedDatagrams: 8 } });
    assert.equal(c.tcp.maxConnections, 10);
    assert.equal(c.tcp.maxTimeWait, 0);
    assert.equal(c.tcp.memoryHardLimit, DEFAULT_TCP_LIMITS.memoryHardLimit);
    assert.equal(c.udp.maxQueuedBytes, 4096);
    assert.equal(c.udp.maxQueuedDatagrams, 8);
    const byPath = (a: ConfigProblem, b: ConfigProblem) => a.path.localeCompare(b.path);
    assert.deepEqual(
      problemsOf({
        ...GOOD,
        tcp: { maxConnections: 0, maxConnectionsPerListener: 1.5, memorySoftLimit: 2000, memoryHardLimit: 1000, maxPendingWrite: 'x', mss: 10 },
        udp: { maxQueuedBytes: -1 },
      }).sort(byPath),
      [
        { path: 'tcp.maxConnections', message: 'expected an integer in [1, 16777216], got 0' },
        { path: 'tcp.maxConnectionsPerListener', message: 'expected an integer in [1, 16777216], got 1.5' },
        { path: 'tcp.memorySoftLimit', message: 'memorySoftLimit (2000) must not exceed memoryHardLimit (1000)' },
        { path: 'tcp.maxPendingWrite', message: '"x" is not a finite number >= 0' },
        { path: 'tcp.mss', message: 'expected an integer in [64, 65495], got 10' },
        { path: 'udp.maxQueuedBytes', message: '-1 is not an integer >= 0' },
      ].sort(byPath),
    );
  });

  it('tcp.congestionControl: a name or a factory decodes; anything else fails at its path', () => {
    assert.deepEqual(problemsOf({ ...GOOD, tcp: { congestionControl: 'reno' } }), [
      { path: 'tcp.congestionControl', message: '"reno" is not \'cubic\', \'newreno\' or a congestion-control factory function' },
    ]);
    assert.equal(decodeStackConfig(GOOD).tcp.congestionControl, 'cubic');
    assert.equal(decodeStackConfig({ ...GOOD, tcp: { congestionControl: 'newreno' } }).tcp.congestionControl, 'newreno');
    const factory = () => new NewReno();
    assert.equal(decodeStackConfig({ ...GOOD, tcp: { congestionControl: factory } }).tcp.congestionControl, factory);
  });

  it('tcp: ecn is one of off/passive/on, and the new TCP knobs are checked with the rest', () => {
    assert.equal(decodeStackConfig({ ...GOOD, tcp: { ecn: 'on' } }).tcp.ecn, 'on');
    assert.deepEqual(
      problemsOf({ ...GOOD, tcp: { ecn: 'yes', mtuProbing: 'no', challengeAckLimit: 0, mtuProbeInterval: 0.5 } }).map((p) => p.path).sort(),
      ['tcp.challengeAckLimit', 'tcp.ecn', 'tcp.mtuProbeInterval', 'tcp.mtuProbing'],
      'every bad field named at once',
    );
  });

  it("accepts streams' Link where a LinkLike is expected (types) and passes any generic link through", () => {
    const link: Link = fakeLink();
    const asLinkLike: LinkLike = link;
    const c = decodeStackConfig<Link>({ interfaces: [{ name: 'x', link: asLinkLike, ipv4: [] }] });
    const back: Link = c.interfaces[0].link;
    assert.equal(back, link);
  });
});
