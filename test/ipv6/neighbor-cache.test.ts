import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatIpv6, ipv6Addr } from '../../src/ipv6/address.js';
import { Ipv6NeighborCache, type Ipv6NeighborChange } from '../../src/ipv6/neighbor-cache.js';
import { formatMac, parseMac } from '../../src/mac.js';

const PEER = ipv6Addr('fd00::1');
const OTHER = ipv6Addr('fd00::3');
const MAC = parseMac('02:00:00:00:00:01')!;
const MAC2 = parseMac('02:00:00:00:00:02')!;
const SOLICITED = { router: false, solicited: true, override: true };
const UNSOLICITED = { router: false, solicited: false, override: true };

function cache(): Ipv6NeighborCache<string> {
  return new Ipv6NeighborCache<string>({}, 1);
}

function stateOf(c: Ipv6NeighborCache<string>, ip = PEER): string | undefined {
  return c.entries().find((e) => formatIpv6(e.ip) === formatIpv6(ip))?.state;
}

/** A cache with PEER reachable since `now`. */
function reachable(now = 0): Ipv6NeighborCache<string> {
  const c = cache();
  c.resolve(PEER, 'p0', now);
  c.advert(PEER, SOLICITED, MAC, now);
  return c;
}

describe('ipv6/neighbor-cache (RFC 4861 7.3)', () => {
  it('resolves: multicast NS, packets queued, released by the solicited NA, then reachable', () => {
    const c = cache();
    const r1 = c.resolve(PEER, 'p1', 0);
    assert.equal(r1.mac, undefined);
    assert.deepEqual(r1.actions, [{ kind: 'solicit', ip: PEER, mac: undefined }]);
    assert.deepEqual(c.resolve(PEER, 'p2', 10).actions, []);
    assert.equal(stateOf(c), 'incomplete');
    const acts = c.advert(PEER, SOLICITED, MAC, 20);
    assert.deepEqual(acts, [{ kind: 'send', ip: PEER, mac: MAC, packets: ['p1', 'p2'] }]);
    assert.equal(stateOf(c), 'reachable');
    assert.deepEqual(c.resolve(PEER, 'p3', 30), { mac: MAC, actions: [] });
  });

  it('retries MAX_MULTICAST_SOLICIT times, RetransTimer apart, then fails the queued packets', () => {
    const c = cache();
    c.resolve(PEER, 'p1', 0);
    assert.equal(c.nextDeadline(), 1000);
    assert.deepEqual(c.expire(1000), [{ kind: 'solicit', ip: PEER, mac: undefined }]);
    assert.deepEqual(c.expire(2000), [{ kind: 'solicit', ip: PEER, mac: undefined }]);
    assert.deepEqual(c.expire(3000), [{ kind: 'fail', ip: PEER, code: 'EHOSTUNREACH', packets: ['p1'] }]);
    assert.equal(c.size, 0);
    assert.equal(c.counters.solicitsSent, 3);
    assert.equal(c.counters.failed, 1);
  });

  it('an NA without a target link-layer address does not resolve an incomplete entry', () => {
    const c = cache();
    c.resolve(PEER, 'p1', 0);
    assert.deepEqual(c.advert(PEER, SOLICITED, undefined, 5), []);
    assert.equal(stateOf(c), 'incomplete');
  });

  it('stale on first use goes to DELAY and sends at once, without probing', () => {
    const c = reachable(0);
    assert.deepEqual(c.lookup(PEER, 30_000), MAC); // reachable time over: still usable
    assert.equal(stateOf(c), 'stale');
    const r = c.resolve(PEER, 'p', 31_000);
    assert.deepEqual(r, { mac: MAC, actions: [] });
    assert.equal(stateOf(c), 'delay');
    assert.deepEqual(c.expire(35_999), []); // (the deadline may be early, never late)
    assert.equal(c.nextDeadline(), 36_000);
  });

  it('an upper-layer confirmation during DELAY avoids the probe', () => {
    const c = reachable(0);
    c.resolve(PEER, 'p', 31_000);
    c.confirm(PEER, 32_000);
    assert.equal(stateOf(c), 'reachable');
    assert.deepEqual(c.expire(36_000), []);
    assert.equal(c.counters.probesAvoided, 1);
  });

  it('after DELAY_FIRST_PROBE_TIME it probes by unicast MAX_UNICAST_SOLICIT times, then gives up', () => {
    const c = reachable(0);
    const changes: Ipv6NeighborChange[] = [];
    c.onChange = (ch) => changes.push(ch);
    c.resolve(PEER, 'p', 31_000);
    assert.deepEqual(c.expire(36_000), [{ kind: 'solicit', ip: PEER, mac: MAC }]);
    assert.equal(stateOf(c), 'probe');
    assert.deepEqual(c.resolve(PEER, 'q', 36_500), { mac: MAC, actions: [] }); // still used while probing
    assert.deepEqual(c.expire(37_000), [{ kind: 'solicit', ip: PEER, mac: MAC }]);
    assert.deepEqual(c.expire(38_000), [{ kind: 'solicit', ip: PEER, mac: MAC }]);
    assert.deepEqual(c.expire(39_000), []);
    assert.equal(c.size, 0);
    assert.equal(c.counters.unreachable, 1);
    assert.deepEqual(changes.map((ch) => (ch.kind === 'removed' ? `removed:${ch.reason}` : `${ch.kind}:${ch.entry.state}`)),
      ['updated:delay', 'updated:probe', 'removed:unreachable']);
  });

  it('a solicited NA while probing makes it reachable again', () => {
    const c = reachable(0);
    c.resolve(PEER, 'p', 31_000);
    c.expire(36_000);
    c.advert(PEER, SOLICITED, MAC, 36_100);
    assert.equal(stateOf(c), 'reachable');
    assert.deepEqual(c.expire(37_000), []);
  });

  describe('advertisement flags (RFC 4861 7.2.5)', () => {
    it('O clear with another address: keeps the address, reachable becomes stale', () => {
      const c = reachable(0);
      c.advert(PEER, { router: false, solicited: true, override: false }, MAC2, 10);
      assert.equal(stateOf(c), 'stale');
      assert.equal(formatMac(c.lookup(PEER, 10)!), '02:00:00:00:00:01');
    });

    it('O set with another address: takes it; unsolicited, the entry is stale', () => {
      const c = reachable(0);
      c.advert(PEER, UNSOLICITED, MAC2, 10);
      assert.equal(stateOf(c), 'stale');
      assert.equal(formatMac(c.lookup(PEER, 10)!), '02:00:00:00:00:02');
    });

    it('unsolicited with the same address changes nothing; the R flag is tracked', () => {
      const c = reachable(0);
      c.advert(PEER, { router: true, solicited: false, override: false }, MAC, 10);
      assert.equal(stateOf(c), 'reachable');
      assert.ok(c.isRouter(PEER));
      c.advert(PEER, { router: false, solicited: false, override: false }, undefined, 20);
      assert.ok(!c.isRouter(PEER));
    });

    it('an advertisement for an address not in the cache is ignored', () => {
      const c = cache();
      assert.deepEqual(c.advert(PEER, SOLICITED, MAC, 0), []);
      assert.equal(c.size, 0);
      assert.equal(c.counters.advertsIgnored, 1);
    });
  });

  it('learns from solicitations: a new entry starts stale; an incomplete one is released', () => {
    const c = cache();
    c.learn(PEER, MAC, 0);
    assert.equal(stateOf(c), 'stale');
    c.resolve(OTHER, 'x', 0);
    assert.deepEqual(c.learn(OTHER, MAC2, 5, true), [{ kind: 'send', ip: OTHER, mac: MAC2, packets: ['x'] }]);
    assert.equal(stateOf(c, OTHER), 'stale');
    assert.ok(c.isRouter(OTHER));
    c.learn(PEER, MAC2, 10);
    assert.equal(formatMac(c.lookup(PEER, 10)!), '02:00:00:00:00:02');
    // Multicast link-layer addresses and unspecified sources teach nothing.
    c.learn(ipv6Addr('fd00::9'), parseMac('33:33:00:00:00:01')!, 10);
    c.learn(ipv6Addr('::'), MAC, 10);
    assert.equal(c.size, 2);
  });

  it('removes a stale entry left unused for staleTimeMs', () => {
    const c = cache();
    c.learn(PEER, MAC, 0);
    assert.equal(c.nextDeadline(), 60_000);
    c.expire(59_999);
    assert.equal(c.size, 1);
    c.expire(60_000);
    assert.equal(c.size, 0);
  });

  it('takes an RA\'s timers', () => {
    const c = cache();
    c.setTimers(10_000, 0);
    assert.equal(c.config.reachableTimeMs, 10_000);
    assert.equal(c.config.retransTimerMs, 1000);
  });

  it('bounds queues and the table; a full table evicts stale entries first', () => {
    const c = new Ipv6NeighborCache<string>({ maxQueuePerDestination: 2, maxEntries: 2 }, 1);
    c.resolve(PEER, 'a', 0);
    c.resolve(PEER, 'b', 0);
    assert.deepEqual(c.resolve(PEER, 'c', 0).actions, [{ kind: 'drop', ip: PEER, reason: 'queueFull', packets: ['a'] }]);
    c.learn(OTHER, MAC2, 0); // stale
    const third = ipv6Addr('fd00::4');
    c.learn(third, MAC, 1); // evicts OTHER (stale), not PEER (incomplete)
    assert.equal(stateOf(c, OTHER), undefined);
    assert.equal(c.counters.evicted, 1);
    assert.deepEqual(c.resolve(ipv6Addr('fd00::5'), 'z', 2).actions, [{ kind: 'solicit', ip: ipv6Addr('fd00::5'), mac: undefined }]);
    assert.equal(stateOf(c, third), undefined);
  });

  it('static entries ignore traffic and never expire', () => {
    const c = cache();
    c.resolve(PEER, 'q', 0);
    assert.deepEqual(c.addStatic(PEER, MAC, 0, true), [{ kind: 'send', ip: PEER, mac: MAC, packets: ['q'] }]);
    c.advert(PEER, UNSOLICITED, MAC2, 1);
    c.expire(1e9);
    assert.equal(stateOf(c), 'static');
    assert.equal(formatMac(c.lookup(PEER, 1e9)!), '02:00:00:00:00:01');
    assert.deepEqual(c.remove(PEER), []);
    assert.equal(c.size, 0);
  });

  it('keeps its bounds and its queue count under any sequence of events (property)', () => {
    const ips = [PEER, OTHER, ipv6Addr('fd00::4'), ipv6Addr('fe80::1')];
    const ev = fc.tuple(fc.constantFrom('resolve', 'advert', 'learn', 'confirm', 'expire', 'remove'), fc.nat(3), fc.boolean(), fc.boolean(), fc.nat(3000));
    fc.assert(fc.property(fc.array(ev, { maxLength: 80 }), (events) => {
      const c = new Ipv6NeighborCache<number>({ maxEntries: 3, maxQueuePerDestination: 2, maxQueuedPackets: 3 }, 9);
      let now = 0;
      let n = 0;
      for (const [kind, i, f1, f2, dt] of events) {
        now += dt;
        const ip = ips[i];
        if (kind === 'resolve') c.resolve(ip, n++, now);
        else if (kind === 'advert') c.advert(ip, { router: f1, solicited: f2, override: f1 !== f2 }, f1 ? MAC : MAC2, now);
        else if (kind === 'learn') c.learn(ip, f2 ? MAC : MAC2, now, f1);
        else if (kind === 'confirm') c.confirm(ip, now);
        else if (kind === 'expire') c.expire(now);
        else c.remove(ip);
        const entries = c.entries();
        assert.ok(entries.length <= 3);
        assert.equal(entries.reduce((s, e) => s + e.queued, 0), c.queuedPackets);
        assert.ok(c.queuedPackets <= 3);
        for (const e of entries) assert.equal(e.mac === undefined, e.state === 'incomplete');
      }
    }));
  });
});
