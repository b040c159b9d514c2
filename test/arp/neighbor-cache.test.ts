import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NeighborCache, type NeighborAction, type NeighborChange } from '../../src/arp/neighbor-cache.js';
import { parseIpv4, type Ipv4Addr } from '../../src/ipv4/address.js';
import { formatMac, parseMac, type MacAddr } from '../../src/mac.js';

const ip = (s: string): Ipv4Addr => parseIpv4(s) as Ipv4Addr;
const mac = (s: string): MacAddr => parseMac(s) as MacAddr;

const PEER = ip('198.18.0.1');
const PEER_MAC = mac('02:00:00:00:00:01');
const OTHER = ip('198.18.0.3');
const OTHER_MAC = mac('02:00:00:00:00:03');

/** Actions in a compact form for deepEqual: MACs as strings. */
function show(actions: readonly NeighborAction<string>[]): unknown[] {
  return actions.map((a) => {
    switch (a.kind) {
      case 'request':
        return { request: a.ip, to: a.mac === undefined ? 'broadcast' : formatMac(a.mac) };
      case 'send':
        return { send: a.packets, to: formatMac(a.mac) };
      case 'fail':
        return { fail: a.packets, code: a.code };
      case 'drop':
        return { drop: a.packets, reason: a.reason };
    }
  });
}

function recordChanges(cache: NeighborCache<string>): string[] {
  const log: string[] = [];
  cache.onChange = (c: NeighborChange) => log.push(`${c.kind} ${c.entry.state}${c.kind === 'removed' ? ` ${c.reason}` : ''}`);
  return log;
}

describe('NeighborCache', () => {
  describe('resolution (virtual time)', () => {
    it('retries a bounded number of times, then fails every queued packet with EHOSTUNREACH', () => {
      const cache = new NeighborCache<string>();
      const changes = recordChanges(cache);
      const r1 = cache.resolve(PEER, 'p1', 0);
      assert.equal(r1.mac, undefined);
      assert.deepEqual(show(r1.actions), [{ request: PEER, to: 'broadcast' }]);
      assert.deepEqual(show(cache.resolve(PEER, 'p2', 10).actions), [], 'no second request while one is out');
      assert.equal(cache.nextDeadline(), 1000);

      assert.deepEqual(show(cache.expire(999)), []);
      assert.deepEqual(show(cache.expire(1000)), [{ request: PEER, to: 'broadcast' }]);
      cache.resolve(PEER, 'p3', 1500);
      assert.equal(cache.nextDeadline(), 2000);
      assert.deepEqual(show(cache.expire(2000)), [{ request: PEER, to: 'broadcast' }]);
      assert.equal(cache.nextDeadline(), 3000);
      assert.deepEqual(show(cache.expire(3000)), [{ fail: ['p1', 'p2', 'p3'], code: 'EHOSTUNREACH' }]);

      assert.equal(cache.size, 0);
      assert.equal(cache.queuedPackets, 0);
      assert.equal(cache.nextDeadline(), undefined);
      assert.equal(cache.counters.requestsSent, 3);
      assert.equal(cache.counters.failed, 1);
      assert.deepEqual(changes, ['added incomplete', 'removed incomplete failed']);
    });

    it('a late timer still spaces requests by the retransmit interval', () => {
      const cache = new NeighborCache<string>({ maxRequests: 2 });
      cache.resolve(PEER, 'p', 0);
      assert.equal(show(cache.expire(1700)).length, 1);
      assert.equal(cache.nextDeadline(), 2700);
      assert.deepEqual(show(cache.expire(2699)), []);
      assert.deepEqual(show(cache.expire(2700)), [{ fail: ['p'], code: 'EHOSTUNREACH' }]);
    });

    it('sends the queued packets in order once the reply arrives, then resolves at once', () => {
      const cache = new NeighborCache<string>();
      const changes = recordChanges(cache);
      cache.resolve(PEER, 'a', 0);
      cache.resolve(PEER, 'b', 1);
      cache.resolve(PEER, 'c', 2);
      const out = cache.receive(PEER, PEER_MAC, true, 5);
      assert.deepEqual(show(out), [{ send: ['a', 'b', 'c'], to: '02:00:00:00:00:01' }]);
      assert.equal(cache.queuedPackets, 0);
      const r = cache.resolve(PEER, 'd', 6);
      assert.equal(formatMac(r.mac as MacAddr), '02:00:00:00:00:01');
      assert.deepEqual(r.actions, []);
      assert.equal(cache.resolve(PEER, 'e', 7), r, 'the hot path returns a cached answer (no allocation)');
      assert.deepEqual(show(cache.expire(1000)), [], 'no retries once resolved');
      assert.equal(cache.counters.resolved, 1);
      assert.deepEqual(changes, ['added incomplete', 'updated reachable']);
    });

    it('drops the oldest packet when a destination queue is full', () => {
      const cache = new NeighborCache<string>({ maxQueuePerDestination: 3 });
      cache.resolve(PEER, 'p0', 0);
      cache.resolve(PEER, 'p1', 0);
      cache.resolve(PEER, 'p2', 0);
      const r = cache.resolve(PEER, 'p3', 0);
      assert.deepEqual(show(r.actions), [{ drop: ['p0'], reason: 'queueFull' }]);
      assert.equal(cache.counters.queueDrops, 1);
      assert.deepEqual(show(cache.receive(PEER, PEER_MAC, false, 1)), [{ send: ['p1', 'p2', 'p3'], to: '02:00:00:00:00:01' }]);
    });

    it('drops the oldest packet overall when the total queue bound is reached', () => {
      const cache = new NeighborCache<string>({ maxQueuedPackets: 3 });
      cache.resolve(PEER, 'a0', 0);
      cache.resolve(OTHER, 'b0', 1);
      cache.resolve(PEER, 'a1', 2);
      const r = cache.resolve(OTHER, 'b1', 3);
      assert.deepEqual(show(r.actions), [{ drop: ['a0'], reason: 'queueFull' }]);
      assert.equal(cache.queuedPackets, 3);
      const r2 = cache.resolve(PEER, 'a2', 4);
      assert.deepEqual(show(r2.actions), [{ drop: ['b0'], reason: 'queueFull' }]);
      assert.deepEqual(show(cache.receive(PEER, PEER_MAC, true, 5)), [{ send: ['a1', 'a2'], to: '02:00:00:00:00:01' }]);
      assert.deepEqual(show(cache.receive(OTHER, OTHER_MAC, true, 5)), [{ send: ['b1'], to: '02:00:00:00:00:03' }]);
    });

    it('limits requests globally with a token bucket; a refused request still counts as an attempt', () => {
      const cache = new NeighborCache<string>({ requestBurst: 2, requestRatePerSecond: 1, maxRequests: 2 });
      const hosts = [1, 2, 3].map((n) => ip(`198.18.0.${10 + n}`));
      const first = hosts.map((h) => show(cache.resolve(h, `to ${h}`, 0).actions));
      assert.deepEqual(first, [[{ request: hosts[0], to: 'broadcast' }], [{ request: hosts[1], to: 'broadcast' }], []]);
      assert.equal(cache.counters.requestsRateLimited, 1);
      // At 1000 ms one token has flowed back: one of the three retries goes out.
      assert.equal(show(cache.expire(1000)).filter((a) => (a as { request?: number }).request !== undefined).length, 1);
      // All three fail on schedule at 2000 ms regardless.
      assert.deepEqual(
        show(cache.expire(2000)).map((a) => (a as { fail: string[] }).fail),
        hosts.map((h) => [`to ${h}`]),
      );
    });
  });

  describe('aging and re-validation', () => {
    function resolved(config = {}) {
      const cache = new NeighborCache<string>(config);
      cache.receive(PEER, PEER_MAC, true, 0);
      return cache;
    }

    it('a stale entry is still used, and its use sends a unicast request at most once per interval', () => {
      const cache = resolved();
      const changes = recordChanges(cache);
      assert.equal(cache.nextDeadline(), 30_000);
      assert.deepEqual(show(cache.expire(30_000)), []);
      assert.deepEqual(changes, ['updated stale']);
      const r = cache.resolve(PEER, 'x', 30_001);
      assert.equal(formatMac(r.mac as MacAddr), '02:00:00:00:00:01', 'not blocked by re-validation');
      assert.deepEqual(show(r.actions), [{ request: PEER, to: '02:00:00:00:00:01' }]);
      assert.deepEqual(cache.resolve(PEER, 'y', 30_500).actions, []);
      assert.deepEqual(show(cache.resolve(PEER, 'z', 31_001).actions), [{ request: PEER, to: '02:00:00:00:00:01' }]);
      // The answer makes it reachable again, for another 30 s.
      cache.receive(PEER, PEER_MAC, true, 31_100);
      assert.deepEqual(changes, ['updated stale', 'updated reachable']);
      assert.deepEqual(cache.resolve(PEER, 'w', 61_000).actions, []);
    });

    it('an entry expires 60 s after its last confirmation, used or not, and then resolves afresh', () => {
      const cache = resolved();
      const changes = recordChanges(cache);
      cache.expire(30_000);
      assert.equal(cache.nextDeadline(), 60_000);
      cache.expire(60_000);
      assert.equal(cache.size, 0);
      assert.deepEqual(changes, ['updated stale', 'removed stale expired']);
      assert.equal(cache.lookup(PEER, 60_000), undefined);
      const r = cache.resolve(PEER, 'p', 60_001);
      assert.equal(r.mac, undefined);
      assert.deepEqual(show(r.actions), [{ request: PEER, to: 'broadcast' }]);
    });

    it('ages lazily when the timer has not run yet', () => {
      const cache = resolved();
      const changes = recordChanges(cache);
      assert.equal(cache.lookup(PEER, 45_000)?.length, 6);
      assert.equal(cache.resolve(PEER, 'p', 70_000).mac, undefined, 'expired: queued for a new resolution');
      assert.deepEqual(changes, ['updated stale', 'removed stale expired', 'added incomplete']);
    });

    it('traffic from the neighbour refreshes the entry', () => {
      const cache = resolved();
      cache.receive(PEER, PEER_MAC, false, 20_000);
      cache.expire(30_000);
      assert.equal(cache.entries()[0].state, 'reachable');
      assert.equal(cache.nextDeadline(), 50_000);
    });

    it('confirm() from an upper layer keeps an entry reachable', () => {
      const cache = resolved();
      cache.expire(30_000);
      assert.equal(cache.entries()[0].state, 'stale');
      cache.confirm(PEER, 40_000);
      assert.equal(cache.entries()[0].state, 'reachable');
      assert.deepEqual(cache.resolve(PEER, 'p', 69_000).actions, []);
      cache.expire(100_000);
      assert.equal(cache.size, 0);
    });
  });

  describe('RFC 826 merge rule', () => {
    it('adds the sender only when the packet targets us', () => {
      const cache = new NeighborCache<string>();
      cache.receive(PEER, PEER_MAC, false, 0);
      assert.equal(cache.size, 0, 'a request for someone else teaches nothing new');
      cache.receive(PEER, PEER_MAC, true, 0);
      assert.deepEqual(
        cache.entries().map((e) => [e.ip, formatMac(e.mac as MacAddr), e.state]),
        [[PEER, '02:00:00:00:00:01', 'reachable']],
      );
    });

    it('updates a known sender even when the packet is not for us', () => {
      const cache = new NeighborCache<string>();
      const changes = recordChanges(cache);
      cache.receive(PEER, PEER_MAC, true, 0);
      cache.receive(PEER, OTHER_MAC, false, 10);
      assert.equal(formatMac(cache.lookup(PEER, 10) as MacAddr), '02:00:00:00:00:03');
      assert.equal(formatMac(cache.resolve(PEER, 'p', 11).mac as MacAddr), '02:00:00:00:00:03', 'cached answer follows the MAC');
      assert.deepEqual(changes, ['added reachable', 'updated reachable']);
    });

    it('copies the sender MAC out of the frame', () => {
      const cache = new NeighborCache<string>();
      const frame = new Uint8Array([0xff, 0x02, 0, 0, 0, 0, 0x01]);
      cache.receive(PEER, frame.subarray(1, 7), true, 0);
      frame.fill(0xaa);
      assert.equal(formatMac(cache.lookup(PEER, 0) as MacAddr), '02:00:00:00:00:01');
      const snap = cache.entries()[0].mac as MacAddr;
      snap[0] = 0xee;
      assert.equal(formatMac(cache.lookup(PEER, 0) as MacAddr), '02:00:00:00:00:01', 'snapshots are copies');
    });

    it('ignores probes from 0.0.0.0, group sender addresses and group MACs', () => {
      const cache = new NeighborCache<string>();
      cache.receive(0, PEER_MAC, true, 0);
      cache.receive(ip('255.255.255.255'), PEER_MAC, true, 0);
      cache.receive(ip('224.0.0.1'), PEER_MAC, true, 0);
      cache.receive(PEER, mac('01:00:5e:00:00:01'), true, 0);
      cache.receive(PEER, mac('ff:ff:ff:ff:ff:ff'), true, 0);
      assert.equal(cache.size, 0);
      assert.equal(cache.counters.ignored, 5);
    });
  });

  describe('static entries', () => {
    it('never expire and are never overwritten by ARP traffic', () => {
      const cache = new NeighborCache<string>();
      cache.addStatic(PEER, PEER_MAC, 0);
      cache.receive(PEER, OTHER_MAC, true, 1);
      cache.expire(1e9);
      assert.equal(cache.nextDeadline(), undefined);
      assert.equal(formatMac(cache.lookup(PEER, 1e9) as MacAddr), '02:00:00:00:00:01');
      assert.deepEqual(cache.resolve(PEER, 'p', 1e9).actions, []);
      assert.equal(cache.entries()[0].state, 'static');
    });

    it('release packets waiting for that address, and replace dynamic entries', () => {
      const cache = new NeighborCache<string>();
      cache.resolve(PEER, 'q1', 0);
      cache.resolve(PEER, 'q2', 0);
      assert.deepEqual(show(cache.addStatic(PEER, OTHER_MAC, 5)), [{ send: ['q1', 'q2'], to: '02:00:00:00:00:03' }]);
      assert.deepEqual(show(cache.expire(5000)), [], 'no retry or failure afterwards');
      cache.receive(OTHER, OTHER_MAC, true, 0);
      cache.addStatic(OTHER, PEER_MAC, 1);
      assert.equal(formatMac(cache.resolve(OTHER, 'x', 2).mac as MacAddr), '02:00:00:00:00:01');
    });

    it('remove() deletes any entry and fails its waiting packets', () => {
      const cache = new NeighborCache<string>();
      const changes = recordChanges(cache);
      cache.addStatic(OTHER, OTHER_MAC, 0);
      assert.deepEqual(cache.remove(OTHER), []);
      cache.resolve(PEER, 'w', 0);
      assert.deepEqual(show(cache.remove(PEER)), [{ fail: ['w'], code: 'EHOSTUNREACH' }]);
      assert.equal(cache.size, 0);
      assert.equal(cache.queuedPackets, 0);
      assert.deepEqual(changes, ['added static', 'removed static deleted', 'added incomplete', 'removed incomplete deleted']);
    });
  });

  describe('table size', () => {
    it('evicts the least recently confirmed dynamic entry, never static or incomplete ones', () => {
      const cache = new NeighborCache<string>({ maxEntries: 2 });
      cache.addStatic(ip('198.18.0.100'), PEER_MAC, 0);
      cache.receive(PEER, PEER_MAC, true, 10);
      cache.receive(OTHER, OTHER_MAC, true, 5);
      cache.receive(PEER, PEER_MAC, true, 20); // PEER refreshed: OTHER is the oldest
      cache.resolve(ip('198.18.0.50'), 'n', 30);
      assert.deepEqual(cache.entries().map((e) => e.ip).sort(), [ip('198.18.0.100'), PEER, ip('198.18.0.50')].sort());
      assert.equal(cache.counters.evicted, 1);
      cache.resolve(ip('198.18.0.51'), 'm', 31); // evicts PEER
      const r = cache.resolve(ip('198.18.0.52'), 'k', 32); // only static + incomplete left
      assert.deepEqual(show(r.actions), [{ drop: ['k'], reason: 'tableFull' }]);
      assert.equal(cache.counters.tableFullDrops, 1);
      assert.equal(cache.size, 3);
    });

    it('does not count static entries against the limit', () => {
      const cache = new NeighborCache<string>({ maxEntries: 1 });
      cache.addStatic(ip('198.18.0.100'), PEER_MAC, 0);
      cache.addStatic(ip('198.18.0.101'), PEER_MAC, 0);
      cache.receive(PEER, PEER_MAC, true, 1);
      assert.equal(cache.size, 3);
      cache.receive(OTHER, OTHER_MAC, true, 2); // evicts PEER, keeps both static entries
      assert.deepEqual(cache.entries().map((e) => e.ip).sort(), [ip('198.18.0.100'), ip('198.18.0.101'), OTHER].sort());
    });
  });

  it('reachableMac: the MAC of a reachable or static entry, with no clock; the reachable time is checked by expire at nextDeadline (reachable -> stale); nothing for stale, incomplete or unknown', () => {
    const cache = new NeighborCache<string>({ reachableTimeMs: 1000 });
    assert.equal(cache.reachableMac(PEER), undefined, 'unknown');
    cache.resolve(PEER, 'q', 0);
    assert.equal(cache.reachableMac(PEER), undefined, 'incomplete');
    cache.receive(PEER, PEER_MAC, true, 10);
    assert.equal(formatMac(cache.reachableMac(PEER) as MacAddr), formatMac(PEER_MAC));
    assert.ok(cache.nextDeadline()! <= 1010, 'the next deadline is no later than the end of the reachable time');
    // A confirmation before the deadline moves the entry's time; the deadline's expire finds it
    // still reachable and asks to be called at the new end (checked lazily, as Linux's timer).
    cache.confirm(PEER, 600);
    assert.deepEqual(cache.expire(1010), []);
    assert.equal(cache.entries().find((e) => e.ip === PEER)?.state, 'reachable');
    assert.equal(cache.nextDeadline(), 1600);
    assert.equal(formatMac(cache.reachableMac(PEER) as MacAddr), formatMac(PEER_MAC));
    // At the deadline expire turns it stale (RFC 1122 2.3.2.1); then reachableMac answers
    // nothing and resolve uses the MAC and asks the neighbour again (unicast).
    cache.expire(1600);
    assert.equal(cache.entries().find((e) => e.ip === PEER)?.state, 'stale');
    assert.equal(cache.reachableMac(PEER), undefined, 'stale: resolve re-validates');
    const r = cache.resolve(PEER, 'p', 1601);
    assert.equal(formatMac(r.mac as MacAddr), formatMac(PEER_MAC));
    assert.deepEqual(r.actions.map((a) => a.kind), ['request']);
    cache.addStatic(OTHER, OTHER_MAC, 0);
    cache.expire(1e9);
    assert.equal(formatMac(cache.reachableMac(OTHER) as MacAddr), formatMac(OTHER_MAC), 'static: never ages');
  });

  it('reachableMac answers a repeated address from the entry it found last, and never from a removed or replaced one', () => {
    const cache = new NeighborCache<string>({ reachableTimeMs: 1000 });
    cache.receive(PEER, PEER_MAC, true, 0);
    assert.equal(formatMac(cache.reachableMac(PEER) as MacAddr), formatMac(PEER_MAC));
    assert.equal(formatMac(cache.reachableMac(PEER) as MacAddr), formatMac(PEER_MAC), 'again, from the remembered entry');
    cache.remove(PEER);
    assert.equal(cache.reachableMac(PEER), undefined, 'removed: not answered from the remembered entry');
    cache.addStatic(PEER, OTHER_MAC, 1);
    assert.equal(formatMac(cache.reachableMac(PEER) as MacAddr), formatMac(OTHER_MAC), 'a new entry for the address');
    cache.receive(OTHER, OTHER_MAC, true, 2);
    assert.equal(formatMac(cache.reachableMac(OTHER) as MacAddr), formatMac(OTHER_MAC), 'another address looked up');
    cache.expire(5000);
    assert.equal(cache.reachableMac(OTHER), undefined, 'turned stale: its state is read at each use');
    assert.equal(formatMac(cache.reachableMac(PEER) as MacAddr), formatMac(OTHER_MAC), 'static: still answered');
  });

  it('property: every packet is accounted for exactly once, and the bounds always hold', () => {
    const hosts = [1, 2, 3, 4].map((n) => ip(`198.18.0.${n}`));
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.record({ t: fc.constant('resolve' as const), h: fc.nat(3), dt: fc.nat(700) }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('reply' as const), h: fc.nat(3), dt: fc.nat(700) }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('expire' as const), h: fc.nat(3), dt: fc.nat(40_000) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('remove' as const), h: fc.nat(3), dt: fc.nat(10) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('static' as const), h: fc.nat(3), dt: fc.nat(10) }) },
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 150 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 4 }),
        (ops, perDest, total, maxEntries) => {
          const cache = new NeighborCache<number>({ maxQueuePerDestination: perDest, maxQueuedPackets: total, maxEntries });
          const outcome = new Map<number, string>();
          const settle = (actions: readonly NeighborAction<number>[]) => {
            for (const a of actions) {
              if (a.kind === 'request') continue;
              if (a.kind === 'send') {
                for (let i = 1; i < a.packets.length; i++) assert.ok(a.packets[i - 1] < a.packets[i], 'sent in order');
              }
              for (const p of a.packets) {
                assert.equal(outcome.has(p), false, `packet ${p} settled twice`);
                outcome.set(p, a.kind);
              }
            }
          };
          let now = 0;
          let next = 0;
          let changes = 0;
          cache.onChange = () => changes++;
          for (const o of ops) {
            now += o.dt;
            // nextDeadline() is never late: before it, expire() has nothing to do.
            const due = cache.nextDeadline();
            if (due === undefined || due > now) {
              const before = changes;
              assert.deepEqual(cache.expire(now), []);
              assert.equal(changes, before, 'no change was due before nextDeadline()');
            }
            const h = hosts[o.h];
            if (o.t === 'resolve') {
              const p = next++;
              // The allocation-free answer, where there is one, is what resolve answers, with
              // nothing else to do and no change made by asking.
              const before = changes;
              const fast = cache.reachableMac(h);
              assert.equal(changes, before, 'reachableMac changes nothing');
              // Where expire is up to date (before the next deadline, as the wiring's timer keeps it).
              const deadline = cache.nextDeadline();
              const upToDate = deadline === undefined || now < deadline;
              const r = cache.resolve(h, p, now);
              if (fast !== undefined && upToDate) {
                assert.equal(r.mac, fast);
                assert.equal(r.actions.length, 0);
              }
              if (r.mac !== undefined) outcome.set(p, 'sent-now');
              settle(r.actions);
            } else if (o.t === 'reply') settle(cache.receive(h, PEER_MAC, true, now));
            else if (o.t === 'expire') settle(cache.expire(now));
            else if (o.t === 'remove') settle(cache.remove(h));
            else settle(cache.addStatic(h, OTHER_MAC, now));
            assert.ok(cache.queuedPackets <= total);
            assert.ok(cache.entries().filter((e) => e.state !== 'static').length <= maxEntries);
            for (const e of cache.entries()) assert.ok(e.queued <= perDest);
            const d = cache.nextDeadline();
            const hasTimed = cache.entries().some((e) => e.state !== 'static');
            if (hasTimed) assert.ok(d !== undefined, 'a timed entry has a deadline');
          }
          assert.equal(outcome.size + cache.queuedPackets, next, 'settled + still queued = all packets');
          // Driven by its deadlines like the wiring's timer, nothing incomplete outlives
          // maxRequests * retransmit (3 s).
          let t = now;
          for (let i = 0; i < 50 && cache.queuedPackets > 0; i++) {
            const d = cache.nextDeadline();
            assert.ok(d !== undefined, 'queued packets imply a deadline');
            t = Math.max(t, d);
            settle(cache.expire(t));
          }
          assert.equal(cache.queuedPackets, 0);
          assert.ok(t <= now + 3000, `last failure at ${t}, ${t - now} ms after the last op`);
          assert.equal(outcome.size, next);
        },
      ),
      { numRuns: 300 },
    );
  });
});
