import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseIpv4, prefixMask, type Ipv4Addr } from '../../src/ipv4/address.js';
import { RouteTable, isDirectedBroadcast, type Route } from '../../src/ipv4/route-table.js';
import { NetstackError } from '../../src/errors.js';

const ip = (s: string): Ipv4Addr => {
  const a = parseIpv4(s);
  if (a === undefined) throw new Error(`bad address ${s}`);
  return a;
};

describe('RouteTable', () => {
  function hostTable(): RouteTable {
    const t = new RouteTable();
    t.addOnLink(1, ip('198.18.0.2'), 24);
    t.add({ destination: ip('0.0.0.0'), prefixLength: 0, gateway: ip('198.18.0.1'), interfaceIndex: 1 });
    return t;
  }

  it('sends on-link destinations directly and the rest to the gateway', () => {
    const t = hostTable();
    const onLink = t.lookup(ip('198.18.0.77'));
    assert.deepEqual(
      { ifx: onLink?.interfaceIndex, hop: onLink?.nextHop, net: onLink?.route.destination, len: onLink?.route.prefixLength },
      { ifx: 1, hop: ip('198.18.0.77'), net: ip('198.18.0.0'), len: 24 },
    );
    const off = t.lookup(ip('8.8.8.8'));
    assert.equal(off?.nextHop, ip('198.18.0.1'));
    assert.equal(off?.route.prefixLength, 0);
  });

  it('prefers the longest prefix, whatever the insertion order', () => {
    const t = hostTable();
    t.add({ destination: ip('10.0.0.0'), prefixLength: 8, gateway: ip('198.18.0.10'), interfaceIndex: 1 });
    t.add({ destination: ip('10.1.0.0'), prefixLength: 16, gateway: ip('198.18.0.11'), interfaceIndex: 1 });
    t.add({ destination: ip('10.1.2.3'), prefixLength: 32, gateway: ip('198.18.0.12'), interfaceIndex: 1 });
    assert.equal(t.lookup(ip('10.9.9.9'))?.nextHop, ip('198.18.0.10'));
    assert.equal(t.lookup(ip('10.1.9.9'))?.nextHop, ip('198.18.0.11'));
    assert.equal(t.lookup(ip('10.1.2.3'))?.nextHop, ip('198.18.0.12'));
    assert.equal(t.lookup(ip('11.0.0.1'))?.nextHop, ip('198.18.0.1'));
  });

  it('version changes with every route added or removed, and only then (what a lookup cache keys on)', () => {
    const t = new RouteTable();
    const v0 = t.version;
    const route = { destination: ip('0.0.0.0'), prefixLength: 0, gateway: ip('198.18.0.1'), interfaceIndex: 0 };
    assert.equal(t.add(route), true);
    const v1 = t.version;
    assert.notEqual(v1, v0);
    assert.equal(t.add(route), false, 'a duplicate changes nothing');
    t.lookup(ip('203.0.113.9'));
    assert.equal(t.version, v1, 'neither does a lookup nor a refused duplicate');
    assert.equal(t.remove(route), true);
    assert.notEqual(t.version, v1);
    const v2 = t.version;
    assert.equal(t.remove(route), false);
    assert.equal(t.version, v2);
  });

  it('says ENETUNREACH when nothing matches', () => {
    const t = new RouteTable();
    t.addOnLink(2, ip('198.18.0.2'), 24);
    assert.equal(t.lookup(ip('1.2.3.4')), undefined);
    assert.equal(t.routeTo(ip('1.2.3.4')), 'ENETUNREACH');
    assert.notEqual(t.routeTo(ip('198.18.0.9')), 'ENETUNREACH');
  });

  it('picks the lowest metric for the same prefix, then the earliest', () => {
    const t = new RouteTable();
    t.add({ destination: 0, prefixLength: 0, gateway: ip('198.18.0.1'), interfaceIndex: 1, metric: 10 });
    t.add({ destination: 0, prefixLength: 0, gateway: ip('198.18.0.3'), interfaceIndex: 2, metric: 5 });
    t.add({ destination: 0, prefixLength: 0, gateway: ip('198.18.0.4'), interfaceIndex: 2, metric: 5 });
    assert.equal(t.lookup(ip('1.1.1.1'))?.nextHop, ip('198.18.0.3'));
    assert.equal(t.remove({ destination: 0, prefixLength: 0, gateway: ip('198.18.0.3'), interfaceIndex: 2 }), true);
    assert.equal(t.lookup(ip('1.1.1.1'))?.nextHop, ip('198.18.0.4'));
  });

  it('normalizes host bits, refuses exact duplicates, removes', () => {
    const t = new RouteTable();
    assert.equal(t.add({ destination: ip('10.1.2.3'), prefixLength: 8, interfaceIndex: 1 }), true);
    assert.equal(t.routes()[0].destination, ip('10.0.0.0'));
    assert.equal(t.add({ destination: ip('10.0.0.0'), prefixLength: 8, interfaceIndex: 1 }), false);
    assert.equal(t.size, 1);
    assert.equal(t.remove({ destination: ip('10.200.0.0'), prefixLength: 8, interfaceIndex: 1 }), true);
    assert.equal(t.size, 0);
    assert.equal(t.lookup(ip('10.0.0.1')), undefined);
    assert.equal(t.remove({ destination: ip('10.0.0.0'), prefixLength: 8, interfaceIndex: 1 }), false);
  });

  it('removeInterface drops every route through it', () => {
    const t = hostTable();
    t.addOnLink(2, ip('192.0.2.1'), 24);
    t.add({ destination: ip('203.0.113.0'), prefixLength: 24, gateway: ip('192.0.2.254'), interfaceIndex: 2 });
    assert.equal(t.removeInterface(2), 2);
    assert.deepEqual(t.routes().map((r) => r.interfaceIndex), [1, 1]);
    assert.equal(t.lookup(ip('203.0.113.5'))?.nextHop, ip('198.18.0.1'));
  });

  it('rejects prefix lengths outside 0..32 with a coded error', () => {
    const t = new RouteTable();
    assert.throws(
      () => t.add({ destination: 0, prefixLength: 33, interfaceIndex: 1 }),
      (e: unknown) => e instanceof NetstackError && e.code === 'ERR_INVALID_ARG_VALUE',
    );
  });

  it('prints routes', () => {
    assert.equal(hostTable().toString(), '198.18.0.0/24 if 1 metric 0\n0.0.0.0/0 via 198.18.0.1 if 1 metric 0');
  });

  it('isDirectedBroadcast', () => {
    assert.equal(isDirectedBroadcast(ip('198.18.0.255'), ip('198.18.0.0'), 24), true);
    assert.equal(isDirectedBroadcast(ip('198.18.0.254'), ip('198.18.0.0'), 24), false);
    assert.equal(isDirectedBroadcast(ip('198.18.1.255'), ip('198.18.0.0'), 24), false);
    assert.equal(isDirectedBroadcast(ip('198.18.0.1'), ip('198.18.0.0'), 31), false);
  });

  it('longest-prefix match agrees with a brute-force reference on random tables', () => {
    // Addresses drawn from a small space so that random routes actually overlap.
    const addr = fc.oneof(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.tuple(fc.constantFrom(0x0a000000, 0xc6120000), fc.integer({ min: 0, max: 0xffff })).map(([a, b]) => (a | b) >>> 0),
    );
    const route = fc.record({
      destination: addr,
      prefixLength: fc.oneof(fc.integer({ min: 0, max: 32 }), fc.constantFrom(0, 8, 16, 24, 32)),
      gateway: fc.option(addr, { nil: undefined }),
      interfaceIndex: fc.integer({ min: 1, max: 3 }),
      metric: fc.integer({ min: 0, max: 3 }),
    });
    const op = fc.oneof(
      { weight: 4, arbitrary: route.map((r) => ({ add: true as const, r })) },
      { weight: 1, arbitrary: fc.nat().map((i) => ({ add: false as const, i })) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.array(addr, { minLength: 1, maxLength: 30 }), (ops, dsts) => {
        const t = new RouteTable();
        // Reference: the list of installed routes, in insertion order.
        let ref: Route[] = [];
        const same = (a: Route, b: Route) =>
          a.destination === b.destination && a.prefixLength === b.prefixLength && a.gateway === b.gateway && a.interfaceIndex === b.interfaceIndex;
        for (const o of ops) {
          if (o.add) {
            const norm = { ...o.r, destination: (o.r.destination & prefixMask(o.r.prefixLength)) >>> 0 };
            const added = t.add(o.r);
            assert.equal(added, !ref.some((x) => same(x, norm)));
            if (added) ref.push(norm);
          } else if (ref.length > 0) {
            const victim = ref[o.i % ref.length];
            assert.equal(t.remove(victim), true);
            ref = ref.filter((x) => x !== victim);
          }
        }
        assert.equal(t.size, ref.length);
        for (const d of dsts) {
          let best: Route | undefined;
          for (const r of ref) {
            if (((d & prefixMask(r.prefixLength)) >>> 0) !== r.destination) continue;
            if (
              best === undefined ||
              r.prefixLength > best.prefixLength ||
              (r.prefixLength === best.prefixLength && (r.metric ?? 0) < (best.metric ?? 0))
            ) best = r;
          }
          const got = t.lookup(d);
          if (best === undefined) {
            assert.equal(got, undefined);
          } else {
            assert.ok(got !== undefined);
            assert.ok(same(got.route, best), 'same route as the reference');
            assert.equal(got.interfaceIndex, best.interfaceIndex);
            assert.equal(got.nextHop, best.gateway ?? d);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
