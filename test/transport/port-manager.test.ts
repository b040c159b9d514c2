import assert from 'node:assert/strict';
import { parseIpv4 } from '../../src/ipv4/address.js';
import { NetstackError } from '../../src/errors.js';
import { DEFAULT_EPHEMERAL_RANGE, PortManager } from '../../src/transport/port-manager.js';
import { IP_ANY4, IP_ANY6 } from '../../src/ip/address-book.js';

const A = parseIpv4('198.18.0.2')!;
const B = parseIpv4('198.18.0.3')!;

/** A deterministic "random" source returning the given values in turn. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

describe('transport/port-manager', () => {
  it('reserves a port once per address and frees it on release', () => {
    const pm = new PortManager();
    assert.equal(pm.reserve(A, 80), 'ok');
    assert.equal(pm.reserve(A, 80), 'EADDRINUSE');
    assert.equal(pm.reserve(B, 80), 'ok', 'another specific address is independent');
    assert.equal(pm.reserve(A, 81), 'ok');
    assert.equal(pm.size, 3);
    assert.equal(pm.release(A, 80), true);
    assert.equal(pm.release(A, 80), false, 'releasing twice finds nothing');
    assert.equal(pm.reserve(A, 80), 'ok');
  });

  it('a port held on one address, then two, then one again: holders, conflicts, size and entries stay right', () => {
    const pm = new PortManager();
    const held = (): string[] => [...pm.entries()].map((e) => `${e.addr}:${e.port}x${e.holders}`).sort();
    assert.equal(pm.reserve(A, 80, { shared: true }), 'ok');
    assert.equal(pm.reserve(A, 80, { shared: true }), 'ok', 'a second shared holder of the one address');
    assert.equal(pm.reserve(B, 80), 'ok', 'a second address on the port');
    assert.deepEqual(held(), [`${A}:80x2`, `${B}:80x1`].sort());
    assert.equal(pm.size, 2);
    assert.equal(pm.reserve(IP_ANY4, 80), 'EADDRINUSE', 'the wildcard conflicts with both');
    assert.equal(pm.release(B, 80), true);
    assert.equal(pm.isReserved(B, 80), false);
    assert.equal(pm.release(A, 80), true);
    assert.equal(pm.isReserved(A, 80), true, 'one holder of A remains');
    assert.deepEqual(held(), [`${A}:80x1`]);
    assert.equal(pm.reserve(B, 80), 'ok');
    assert.equal(pm.release(A, 80), true);
    assert.equal(pm.release(B, 80), true);
    assert.equal(pm.size, 0);
    assert.deepEqual(held(), []);
    assert.equal(pm.reserve(IP_ANY4, 80), 'ok', 'the port is free again');
  });

  it('the wildcard address conflicts with any specific address on the same port, both ways', () => {
    const pm = new PortManager();
    assert.equal(pm.reserve(A, 53), 'ok');
    assert.equal(pm.reserve(0, 53), 'EADDRINUSE');
    assert.equal(pm.isFree(0, 53), false);
    pm.release(A, 53);
    assert.equal(pm.reserve(0, 53), 'ok');
    assert.equal(pm.reserve(A, 53), 'EADDRINUSE');
    assert.equal(pm.reserve(B, 53), 'EADDRINUSE');
    assert.equal(pm.reserve(0, 53), 'EADDRINUSE');
    assert.equal(pm.reserve(A, 54), 'ok', 'other ports are unaffected');
  });

  it('shared reservations coexist only with other shared ones and are counted', () => {
    const pm = new PortManager();
    assert.equal(pm.reserve(0, 5353, { shared: true }), 'ok');
    assert.equal(pm.reserve(0, 5353, { shared: true }), 'ok');
    assert.equal(pm.reserve(A, 5353, { shared: true }), 'ok', 'shared specific under shared wildcard');
    assert.equal(pm.reserve(A, 5353), 'EADDRINUSE', 'an exclusive request does not join');
    assert.equal(pm.reserve(B, 5353), 'EADDRINUSE');
    assert.deepEqual(
      [...pm.entries()].map((e) => [e.addr, e.port, e.holders, e.shared]),
      [[0, 5353, 2, true], [A, 5353, 1, true]],
    );
    pm.release(0, 5353);
    assert.equal(pm.isReserved(0, 5353), true, 'one holder remains');
    pm.release(0, 5353);
    pm.release(A, 5353);
    assert.equal(pm.size, 0);
    assert.equal(pm.reserve(A, 5353), 'ok');
    assert.equal(pm.reserve(A, 5353, { shared: true }), 'EADDRINUSE', 'cannot share an exclusive hold');
  });

  it('rejects ports outside 1..65535 with ERR_INVALID_ARG_VALUE', () => {
    const pm = new PortManager();
    for (const bad of [0, -1, 65536, 1.5, NaN]) {
      assert.throws(() => pm.reserve(A, bad), (e: unknown) => e instanceof NetstackError && e.code === 'ERR_INVALID_ARG_VALUE');
    }
  });

  it('rejects a bad ephemeral range', () => {
    for (const range of [[0, 10], [100, 99], [1, 65536]] as [number, number][]) {
      assert.throws(() => new PortManager({ ephemeralRange: range }), (e: unknown) => e instanceof NetstackError && e.code === 'ERR_INVALID_ARG_VALUE');
    }
  });

  it('allocates ephemeral ports from the default range 49152..65535, starting at a random offset', () => {
    assert.deepEqual(DEFAULT_EPHEMERAL_RANGE, [49152, 65535]);
    const first = new PortManager({ random: () => 0 });
    assert.equal(first.allocateEphemeral(A), 49152);
    const mid = new PortManager({ random: () => 0.5 });
    assert.equal(mid.allocateEphemeral(A), 49152 + Math.floor(0.5 * 16384));
    const last = new PortManager({ random: () => 0.99999999 });
    assert.equal(last.allocateEphemeral(A), 65535);
  });

  it('skips taken ports, wraps around the range, and answers undefined when exhausted', () => {
    const pm = new PortManager({ ephemeralRange: [1000, 1003], random: sequence(0.5) });
    pm.reserve(A, 1002);
    assert.equal(pm.allocateEphemeral(A), 1003, 'start 1002 is taken, next is 1003');
    assert.equal(pm.allocateEphemeral(A), 1000, 'wraps to the bottom');
    assert.equal(pm.allocateEphemeral(A), 1001);
    assert.equal(pm.allocateEphemeral(A), undefined, 'all four are held');
    assert.equal(pm.allocateEphemeral(B), 1002, 'another address has its own ports');
    pm.release(A, 1000);
    assert.equal(pm.allocateEphemeral(A), 1000);
  });

  it('an ephemeral port for the wildcard address avoids ports held on any address', () => {
    const pm = new PortManager({ ephemeralRange: [2000, 2002], random: () => 0 });
    pm.reserve(A, 2000);
    pm.reserve(B, 2001);
    assert.equal(pm.allocateEphemeral(0), 2002);
    assert.equal(pm.allocateEphemeral(0), undefined);
    // For A: 2000 is A's own, 2002 is held by the wildcard; 2001 is only B's, so A may have it.
    assert.equal(pm.allocateEphemeral(A), 2001);
    assert.equal(pm.allocateEphemeral(A), undefined);
  });

  it('lets a filter veto ports (e.g. a 4-tuple already in use)', () => {
    const pm = new PortManager({ ephemeralRange: [3000, 3009], random: () => 0 });
    const seen: number[] = [];
    const port = pm.allocateEphemeral(A, (p) => {
      seen.push(p);
      return p % 2 === 1;
    });
    assert.equal(port, 3001);
    assert.deepEqual(seen, [3000, 3001]);
    assert.equal(pm.isReserved(A, 3000), false, 'a vetoed port is not reserved');
    assert.equal(pm.allocateEphemeral(A, () => false), undefined);
  });

  it('spreads starting points: 1000 allocations with Math.random are distinct and in range', () => {
    const pm = new PortManager();
    const ports = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const p = pm.allocateEphemeral(A);
      assert.ok(p !== undefined && p >= 49152 && p <= 65535);
      ports.add(p);
    }
    assert.equal(ports.size, 1000);
    assert.equal(pm.size, 1000);
  });
});

describe('transport/port-manager: IPv6 and dual stack (Linux bind rules)', () => {
  const V6A = IP_ANY6 + 1;
  const V6B = IP_ANY6 + 2;
  const DUAL = { dualStack: true } as const;

  it('a dual-stack :: conflicts with anything on its port, and anything with it', () => {
    for (const first of [A, IP_ANY4, V6A, IP_ANY6]) {
      const pm = new PortManager();
      assert.equal(pm.reserve(first, 80), 'ok');
      assert.equal(pm.reserve(IP_ANY6, 80, DUAL), 'EADDRINUSE', `dual after ${first}`);
      assert.equal(pm.isFree(IP_ANY6, 80, DUAL), false);
      assert.equal(pm.reserve(IP_ANY6, 81, DUAL), 'ok', 'other ports are free');
    }
    const pm = new PortManager();
    assert.equal(pm.reserve(IP_ANY6, 80, DUAL), 'ok');
    for (const then of [A, IP_ANY4, V6A, IP_ANY6]) assert.equal(pm.reserve(then, 80), 'EADDRINUSE', `${then} after dual`);
    assert.equal(pm.reserve(IP_ANY6, 80, DUAL), 'EADDRINUSE');
    pm.release(IP_ANY6, 80);
    assert.equal(pm.reserve(A, 80), 'ok');
  });

  it('families are otherwise apart: 0.0.0.0 and a v6-only :: coexist; :: covers the IPv6 addresses', () => {
    const pm = new PortManager();
    assert.equal(pm.reserve(IP_ANY4, 80), 'ok');
    assert.equal(pm.reserve(IP_ANY6, 80), 'ok', 'v6-only :: beside 0.0.0.0');
    assert.equal(pm.reserve(V6A, 80), 'EADDRINUSE');
    assert.equal(pm.reserve(A, 80), 'EADDRINUSE');
    pm.release(IP_ANY6, 80);
    assert.equal(pm.reserve(V6A, 80), 'ok');
    assert.equal(pm.reserve(V6B, 80), 'ok');
    assert.equal(pm.reserve(V6A, 80), 'EADDRINUSE');
    assert.equal(pm.reserve(IP_ANY6, 80), 'EADDRINUSE');
  });

  it('shared holders: a dual and a v6-only :: never merge; two dual ones do', () => {
    const pm = new PortManager();
    const S = { shared: true } as const;
    assert.equal(pm.reserve(IP_ANY6, 53, { ...S, dualStack: true }), 'ok');
    assert.equal(pm.reserve(IP_ANY6, 53, { ...S, dualStack: true }), 'ok');
    assert.equal(pm.reserve(IP_ANY6, 53, S), 'EADDRINUSE');
    assert.equal(pm.reserve(A, 53, S), 'ok');
    assert.deepEqual([...pm.entries()].find((e) => e.addr === IP_ANY6), { addr: IP_ANY6, port: 53, holders: 2, shared: true, dualStack: true });
  });

  it('allocateEphemeral with dualStack picks a port free in both families', () => {
    const pm = new PortManager({ ephemeralRange: [40000, 40001], random: () => 0 });
    assert.equal(pm.reserve(A, 40000), 'ok');
    assert.equal(pm.allocateEphemeral(IP_ANY6, undefined, DUAL), 40001);
    assert.equal(pm.allocateEphemeral(IP_ANY6, undefined, DUAL), undefined);
  });

  it('isUnused: false while anything holds the port, in either family', () => {
    const pm = new PortManager();
    assert.equal(pm.isUnused(5000), true);
    assert.equal(pm.reserve(IP_ANY6, 5000), 'ok');
    assert.equal(pm.isUnused(5000), false, 'a v6-only hold');
    assert.equal(pm.isFree(IP_ANY4, 5000), true, 'IPv4 may still take it');
    pm.release(IP_ANY6, 5000);
    assert.equal(pm.isUnused(5000), true);
  });
});
