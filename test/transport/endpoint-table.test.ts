import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseIpv4 } from '../../src/ipv4/address.js';
import { EndpointTable, halfKey } from '../../src/transport/endpoint-table.js';
import { IP_ANY4, IP_ANY6 } from '../../src/ip/address-book.js';

const A = parseIpv4('198.18.0.2')!; // a local address
const B = parseIpv4('198.18.0.3')!; // another local address
const PEER = parseIpv4('198.18.0.1')!;
const OTHER_PEER = parseIpv4('198.18.0.9')!;

describe('transport/endpoint-table', () => {
  it('halfKey packs address and port exactly, even for 255.255.255.255:65535', () => {
    assert.equal(halfKey(0xffffffff, 65535), 2 ** 48 - 1);
    assert.equal(halfKey(A, 80), A * 65536 + 80);
    assert.notEqual(halfKey(A, 1), halfKey(A + 1, 1));
  });

  it('the same lookup repeated answers from the last one until the table changes (insert, remove, clear)', () => {
    const t = new EndpointTable<string>();
    t.insert(A, 80, 0, 0, 'listener');
    assert.equal(t.lookup(A, 80, PEER, 5000), 'listener');
    assert.equal(t.lookup(A, 80, PEER, 5000), 'listener');
    t.insert(A, 80, PEER, 5000, 'conn');
    assert.equal(t.lookup(A, 80, PEER, 5000), 'conn', 'a connection inserted beside the listener that matched');
    assert.equal(t.lookup(A, 80, PEER, 5000), 'conn');
    assert.equal(t.lookup(A, 80, PEER, 5001), 'listener', 'another key is looked up');
    assert.equal(t.lookup(A, 80, PEER, 5000), 'conn');
    t.remove(A, 80, PEER, 5000);
    assert.equal(t.lookup(A, 80, PEER, 5000), 'listener', 'the removed connection is not found again');
    t.clear();
    assert.equal(t.lookup(A, 80, PEER, 5000), undefined);
    assert.equal(t.insert(A, 80, PEER, 5000, 'again'), 'ok');
    assert.equal(t.lookup(A, 80, PEER, 5000), 'again');
    assert.equal(t.insert(A, 80, PEER, 5000, 'taken'), 'EADDRINUSE');
    assert.equal(t.lookup(A, 80, PEER, 5000), 'again', 'a refused insert changes nothing');
  });

  it('lookups agree with a table searched afresh through any sequence of inserts, removes and lookups', () => {
    const addr = fc.constantFrom(0, A, B);
    const remote = fc.constantFrom(0, PEER, OTHER_PEER);
    const port = fc.constantFrom(0, 80, 5000);
    const op = fc.tuple(fc.constantFrom('insert', 'remove', 'lookup', 'lookup', 'lookup'), addr, fc.constantFrom(80, 81), remote, port);
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const t = new EndpointTable<string>();
      const rows = new Map<string, string>();
      // The documented order, searched over all rows (no cache, no maps).
      const find = (la: number, lp: number, ra: number, rp: number): string | undefined =>
        rows.get(`${la}:${lp}:${ra}:${rp}`) ?? rows.get(`0:${lp}:${ra}:${rp}`) ?? rows.get(`${la}:${lp}:0:0`) ?? rows.get(`0:${lp}:0:0`);
      ops.forEach(([kind, la, lp, ra, rp], i) => {
        const remotePort = ra === 0 ? 0 : rp;
        const key = `${la}:${lp}:${ra}:${remotePort}`;
        if (kind === 'insert') {
          const r = t.insert(la, lp, ra, remotePort, `e${i}`);
          assert.equal(r, rows.has(key) ? 'EADDRINUSE' : 'ok');
          if (r === 'ok') rows.set(key, `e${i}`);
        } else if (kind === 'remove') {
          assert.equal(t.remove(la, lp, ra, remotePort), rows.delete(key));
        } else if (la !== 0 && ra !== 0 && rp !== 0) {
          assert.equal(t.lookup(la, lp, ra, rp), find(la, lp, ra, rp));
        }
      });
    }));
  });

  it('finds endpoints in gVisor order: exact, wildcard local + remote, listener on addr:port, listener on *:port', () => {
    const t = new EndpointTable<string>();
    t.insert(0, 80, 0, 0, 'any-listener');
    assert.equal(t.lookup(A, 80, PEER, 5000), 'any-listener');

    t.insert(A, 80, 0, 0, 'addr-listener');
    assert.equal(t.lookup(A, 80, PEER, 5000), 'addr-listener');
    // The address-specific listener does not catch traffic to another local address.
    assert.equal(t.lookup(B, 80, PEER, 5000), 'any-listener');

    t.insert(0, 80, PEER, 5000, 'any-local-connected');
    assert.equal(t.lookup(A, 80, PEER, 5000), 'any-local-connected');
    assert.equal(t.lookup(B, 80, PEER, 5000), 'any-local-connected');
    assert.equal(t.lookup(A, 80, PEER, 5001), 'addr-listener', 'another remote port falls back to the listener');

    t.insert(A, 80, PEER, 5000, 'exact');
    assert.equal(t.lookup(A, 80, PEER, 5000), 'exact');
    assert.equal(t.lookup(B, 80, PEER, 5000), 'any-local-connected');
    assert.equal(t.lookup(A, 80, OTHER_PEER, 5000), 'addr-listener');

    assert.equal(t.lookup(A, 81, PEER, 5000), undefined, 'nothing on another port');
  });

  it('a connected endpoint matches only its own remote', () => {
    const t = new EndpointTable<string>();
    t.insert(A, 53, PEER, 40000, 'connected');
    assert.equal(t.lookup(A, 53, PEER, 40000), 'connected');
    assert.equal(t.lookup(A, 53, PEER, 40001), undefined);
    assert.equal(t.lookup(A, 53, OTHER_PEER, 40000), undefined);
  });

  it('insert answers EADDRINUSE for a taken exact key only', () => {
    const t = new EndpointTable<string>();
    assert.equal(t.insert(A, 80, 0, 0, 'one'), 'ok');
    assert.equal(t.insert(A, 80, 0, 0, 'two'), 'EADDRINUSE');
    assert.equal(t.lookup(A, 80, PEER, 1), 'one', 'the first stays');
    assert.equal(t.insert(0, 80, 0, 0, 'wild'), 'ok', 'the wildcard address is a different key');
    assert.equal(t.insert(A, 80, PEER, 1, 'conn'), 'ok', 'a connection on a listening port is a different key');
    assert.equal(t.size, 3);
    assert.equal(t.has(A, 80, PEER, 1), true);
    assert.equal(t.has(A, 80, PEER, 2), false);
    assert.equal(t.get(A, 80, 0, 0), 'one');
    assert.equal(t.get(B, 80, 0, 0), undefined, 'get does not match wildcards');
  });

  it('remove takes out one key, only for the endpoint given, and lookups fall back', () => {
    const t = new EndpointTable<string>();
    t.insert(A, 80, 0, 0, 'listener');
    t.insert(A, 80, PEER, 5000, 'conn');
    assert.equal(t.remove(A, 80, PEER, 5000, 'someone-else'), false);
    assert.equal(t.lookup(A, 80, PEER, 5000), 'conn');
    assert.equal(t.remove(A, 80, PEER, 5000, 'conn'), true);
    assert.equal(t.lookup(A, 80, PEER, 5000), 'listener');
    assert.equal(t.remove(A, 80, PEER, 5000), false, 'second remove finds nothing');
    assert.equal(t.remove(A, 80, 0, 0), true);
    assert.equal(t.lookup(A, 80, PEER, 5000), undefined);
    assert.equal(t.size, 0);
    assert.deepEqual([...t], []);
    assert.equal(t.insert(A, 80, 0, 0, 'again'), 'ok', 'the key is free again');
  });

  it('iterates every entry with its decoded key', () => {
    const t = new EndpointTable<number>();
    t.insert(0xffffffff, 65535, 0xfffffffe, 65534, 1);
    t.insert(0, 7, 0, 0, 2);
    t.insert(A, 7, PEER, 1234, 3);
    const rows = [...t.entries()].sort((x, y) => x.endpoint - y.endpoint);
    assert.deepEqual(rows, [
      { localAddr: 0xffffffff, localPort: 65535, remoteAddr: 0xfffffffe, remotePort: 65534, endpoint: 1 },
      { localAddr: 0, localPort: 7, remoteAddr: 0, remotePort: 0, endpoint: 2 },
      { localAddr: A, localPort: 7, remoteAddr: PEER, remotePort: 1234, endpoint: 3 },
    ]);
    t.clear();
    assert.equal(t.size, 0);
    assert.equal(t.lookup(A, 7, PEER, 1234), undefined);
  });

  it("a server's connections coming and going on one local half do not rebuild the table's Map", () => {
    // Each delete and set of the same key made V8 rehash the Map every few connections
    // (Runtime_MapGrow under TCP_CRR); the emptied holder is kept and refilled instead.
    const t = new EndpointTable<string>();
    t.insert(IP_ANY4, 7, 0, 0, 'listener');
    t.insert(A, 7, PEER, 40000, 'first');
    t.remove(A, 7, PEER, 40000);
    const calls = { set: 0, delete: 0 };
    const { set, delete: del } = Map.prototype;
    Map.prototype.set = function (this: Map<unknown, unknown>, k: unknown, v: unknown) {
      calls.set++;
      return set.call(this, k, v);
    };
    Map.prototype.delete = function (this: Map<unknown, unknown>, k: unknown) {
      calls.delete++;
      return del.call(this, k);
    };
    try {
      for (let port = 40001; port < 40101; port++) {
        assert.equal(t.insert(A, 7, PEER, port, `c${port}`), 'ok');
        assert.equal(t.lookup(A, 7, PEER, port), `c${port}`);
        assert.equal(t.remove(A, 7, PEER, port), true);
        assert.equal(t.lookup(A, 7, PEER, port), 'listener', 'the emptied holder hides nothing');
      }
    } finally {
      Map.prototype.set = set;
      Map.prototype.delete = del;
    }
    assert.deepEqual(calls, { set: 0, delete: 0 });
    assert.equal(t.size, 1);
    assert.deepEqual([...t].map((e) => e.endpoint), ['listener']);
    // Another half emptied: the earlier holder goes, so at most one empty key stays.
    t.insert(B, 7, PEER, 1, 'b');
    t.remove(B, 7, PEER, 1);
    assert.equal(t.insert(A, 7, PEER, 2, 'a'), 'ok');
    assert.equal(t.insert(A, 7, PEER, 3, 'a2'), 'ok', 'a second remote on the refilled half');
    assert.equal(t.lookup(A, 7, PEER, 3), 'a2');
    assert.equal(t.lookup(A, 7, PEER, 2), 'a');
    assert.equal(t.size, 3);
  });

  describe('property: agrees with a brute-force reference', () => {
    interface Row { la: number; lp: number; ra: number; rp: number; e: number }

    // The reference: scan every row, in gVisor's order of preference.
    function reference(rows: Row[], la: number, lp: number, ra: number, rp: number): number | undefined {
      const find = (qla: number, qra: number, qrp: number) =>
        rows.find((r) => r.la === qla && r.lp === lp && r.ra === qra && r.rp === qrp)?.e;
      return find(la, ra, rp) ?? find(0, ra, rp) ?? find(la, 0, 0) ?? find(0, 0, 0);
    }

    // Small domains so that collisions, wildcards and fall-backs happen often.
    const addr = fc.constantFrom(0, A, B, 0xffffffff);
    const remoteAddr = fc.constantFrom(PEER, OTHER_PEER, 0xffffffff);
    const port = fc.constantFrom(1, 80, 65535);
    const remote = fc.oneof(fc.constant([0, 0] as const), fc.tuple(remoteAddr, port));
    const op = fc.oneof(
      fc.record({ kind: fc.constant('insert' as const), la: addr, lp: port, r: remote }),
      fc.record({ kind: fc.constant('remove' as const), la: addr, lp: port, r: remote }),
      fc.record({ kind: fc.constant('lookup' as const), la: fc.constantFrom(A, B, 0xffffffff), lp: port, r: fc.tuple(remoteAddr, port) }),
    );

    it('insert/remove/lookup/size over random operation sequences', () => {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
          const table = new EndpointTable<number>();
          let rows: Row[] = [];
          let next = 1;
          for (const o of ops) {
            const [ra, rp] = o.r;
            if (o.kind === 'insert') {
              const taken = rows.some((r) => r.la === o.la && r.lp === o.lp && r.ra === ra && r.rp === rp);
              const e = next++;
              assert.equal(table.insert(o.la, o.lp, ra, rp, e), taken ? 'EADDRINUSE' : 'ok');
              if (!taken) rows.push({ la: o.la, lp: o.lp, ra, rp, e });
            } else if (o.kind === 'remove') {
              const before = rows.length;
              rows = rows.filter((r) => !(r.la === o.la && r.lp === o.lp && r.ra === ra && r.rp === rp));
              assert.equal(table.remove(o.la, o.lp, ra, rp), rows.length < before);
            } else {
              assert.equal(table.lookup(o.la, o.lp, ra, rp), reference(rows, o.la, o.lp, ra, rp));
            }
            assert.equal(table.size, rows.length);
          }
          const listed = [...table].map((x) => x.endpoint).sort((a, b) => a - b);
          assert.deepEqual(listed, rows.map((r) => r.e).sort((a, b) => a - b));
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe('transport/endpoint-table: IPv6 ids and dual stack', () => {
  const V6A = IP_ANY6 + 1; // an interned local IPv6 address
  const V6PEER = IP_ANY6 + 2;

  it('an IPv6 packet falls back to the :: wildcard, an IPv4 one to 0.0.0.0', () => {
    const t = new EndpointTable<string>();
    t.insert(IP_ANY6, 80, 0, 0, 'v6-any');
    assert.equal(t.lookup(V6A, 80, V6PEER, 5000), 'v6-any');
    assert.equal(t.lookup(A, 80, PEER, 5000), undefined, 'a v6-only listener does not take IPv4');
    t.insert(IP_ANY4, 80, 0, 0, 'v4-any');
    assert.equal(t.lookup(A, 80, PEER, 5000), 'v4-any');
    assert.equal(t.lookup(V6A, 80, V6PEER, 5000), 'v6-any');
    t.insert(V6A, 80, 0, 0, 'v6-addr');
    assert.equal(t.lookup(V6A, 80, V6PEER, 5000), 'v6-addr');
    t.insert(IP_ANY6, 80, V6PEER, 5000, 'v6-any-connected');
    assert.equal(t.lookup(V6A, 80, V6PEER, 5000), 'v6-any-connected');
    t.insert(V6A, 80, V6PEER, 5000, 'v6-exact');
    assert.equal(t.lookup(V6A, 80, V6PEER, 5000), 'v6-exact');
    // A packet to an address no endpoint names (a multicast group): the wildcard itself.
    assert.equal(t.lookup(IP_ANY6, 80, V6PEER, 5001), 'v6-any');
  });

  it('insertDualStack stores one endpoint under both wildcards, both or neither', () => {
    const t = new EndpointTable<string>();
    assert.equal(t.insertDualStack(80, 0, 0, 'dual'), 'ok');
    assert.equal(t.size, 2);
    assert.equal(t.lookup(A, 80, PEER, 5000), 'dual');
    assert.equal(t.lookup(V6A, 80, V6PEER, 5000), 'dual');
    assert.equal(t.insertDualStack(80, 0, 0, 'again'), 'EADDRINUSE');
    t.insert(IP_ANY4, 81, 0, 0, 'v4');
    assert.equal(t.insertDualStack(81, 0, 0, 'dual81'), 'EADDRINUSE');
    assert.equal(t.get(IP_ANY6, 81, 0, 0), undefined, 'nothing half-inserted');
    assert.equal(t.removeDualStack(80, 0, 0, 'other'), false, 'only the endpoint given is removed');
    assert.equal(t.removeDualStack(80, 0, 0, 'dual'), true);
    assert.equal(t.lookup(A, 80, PEER, 5000), undefined);
    assert.equal(t.size, 1);
  });
});
