import assert from 'node:assert/strict';
import { formatIpv6, ipv6Addr, stableInterfaceId, type Ipv6Addr } from '../../src/ipv6/address.js';
import { SlaacMachine, INFINITE_LIFETIME, type SlaacAction, type SlaacConfig, type RouterAdvertInput } from '../../src/ipv6/slaac.js';
import type { NdpPrefixInfo } from '../../src/wire/ndp.js';

const SECRET = new Uint8Array(16).fill(7);
const ROUTER = ipv6Addr('fe80::1');
const ROUTER2 = ipv6Addr('fe80::2');
const STATIC = ipv6Addr('fd00:198:18::2');
const PREFIX = ipv6Addr('2001:db8:1::');
const HOUR = 3600 * 1000;

/** RFC 7217 identifiers for interface 'eth0' (the wiring's choice). */
const stableId = (prefix: Ipv6Addr, dadCounter: number) => stableInterfaceId({ prefix, netIface: 'eth0', dadCounter, secretKey: SECRET });

function machine(config: Partial<SlaacConfig> = {}, random = () => 0): SlaacMachine {
  return new SlaacMachine(config, stableId, random);
}

/** The actions in a readable form: `kind address/target/... detail`. */
function show(actions: readonly SlaacAction[]): string[] {
  return actions.map((a) => {
    switch (a.kind) {
      case 'add-address': return `add ${formatIpv6(a.address)}/${a.prefixLength} ${a.origin}`;
      case 'address-state': return `state ${formatIpv6(a.address)} ${a.state}`;
      case 'remove-address': return `remove ${formatIpv6(a.address)} ${a.reason}`;
      case 'dad-solicit': return `dad ${formatIpv6(a.target)}`;
      case 'router-solicit': return `rs ${a.src === undefined ? '::' : formatIpv6(a.src)}`;
      case 'default-router': return `router ${a.router === undefined ? 'none' : formatIpv6(a.router)}`;
      case 'on-link': return `on-link ${formatIpv6(a.prefix)}/${a.prefixLength} ${a.present}`;
      case 'neighbor-timers': return `timers ${a.reachableTimeMs} ${a.retransTimerMs}`;
      case 'mtu': return `mtu ${a.mtu}`;
    }
  });
}

const LL = formatIpv6(new Uint8Array([0xfe, 0x80, 0, 0, 0, 0, 0, 0, ...stableId(ipv6Addr('fe80::'), 0)]));
const llWith = (counter: number) => formatIpv6(new Uint8Array([0xfe, 0x80, 0, 0, 0, 0, 0, 0, ...stableId(ipv6Addr('fe80::'), counter)]));
const SLAAC = formatIpv6(new Uint8Array([...PREFIX.subarray(0, 8), ...stableId(PREFIX, 0)]));

function prefix(o: Partial<NdpPrefixInfo> = {}): NdpPrefixInfo {
  return { prefix: PREFIX, prefixLength: 64, onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400, ...o };
}

function ra(o: Partial<RouterAdvertInput> = {}): RouterAdvertInput {
  return { routerLifetime: 1800, reachableTime: 0, retransTimer: 0, prefixes: [], ...o };
}

function stateOf(m: SlaacMachine, address: string): string | undefined {
  return m.addresses().find((a) => formatIpv6(a.address) === address)?.state;
}

/** A machine whose link-local address passed DAD and whose one RS (at 0) is sent. */
function up(config: Partial<SlaacConfig> = {}): SlaacMachine {
  const m = machine({ maxRtrSolicitations: 1, ...config });
  m.start(0, []);
  m.expire(0);
  m.expire(1000);
  return m;
}

describe('ipv6/slaac (RFC 4862, RFC 4861 6.3, RFC 7217)', () => {
  describe('duplicate address detection', () => {
    it('start: the link-local and static addresses are tentative; one NS each, then preferred after RetransTimer', () => {
      const m = machine({ acceptRa: false });
      assert.deepEqual(show(m.start(0, [{ address: STATIC, prefixLength: 64 }])), [`add ${LL}/64 link-local`, 'add fd00:198:18::2/64 static']);
      assert.equal(stateOf(m, LL), 'tentative');
      assert.equal(m.nextDeadline(), 0);
      assert.deepEqual(show(m.expire(0)), [`dad ${LL}`, 'dad fd00:198:18::2']);
      assert.equal(m.nextDeadline(), 1000);
      assert.deepEqual(show(m.expire(999)), []);
      assert.deepEqual(show(m.expire(1000)), [`state ${LL} preferred`, 'state fd00:198:18::2 preferred']);
      assert.equal(m.counters.dadProbes, 2);
      assert.equal(m.counters.dadSucceeded, 2);
      assert.equal(m.nextDeadline(), undefined);
    });

    it('the first probe waits a random delay up to MAX_RTR_SOLICITATION_DELAY (RFC 4862 5.4.2)', () => {
      const m = machine({ acceptRa: false }, () => 0.5);
      m.start(100);
      assert.equal(m.nextDeadline(), 600);
      assert.deepEqual(show(m.expire(599)), []);
      assert.deepEqual(show(m.expire(600)), [`dad ${LL}`]);
    });

    it('dadTransmits NS, RetransTimer apart (DupAddrDetectTransmits 3)', () => {
      const m = machine({ acceptRa: false, dadTransmits: 3 });
      m.start(0);
      assert.deepEqual(show(m.expire(0)), [`dad ${LL}`]);
      assert.deepEqual(show(m.expire(1000)), [`dad ${LL}`]);
      assert.deepEqual(show(m.expire(2000)), [`dad ${LL}`]);
      assert.deepEqual(show(m.expire(3000)), [`state ${LL} preferred`]);
    });

    it('dadTransmits 0: addresses are preferred at once, no probe', () => {
      const m = machine({ acceptRa: false, dadTransmits: 0 });
      assert.deepEqual(show(m.start(0, [{ address: STATIC, prefixLength: 64 }])), [
        `add ${LL}/64 link-local`, `state ${LL} preferred`, 'add fd00:198:18::2/64 static', 'state fd00:198:18::2 preferred',
      ]);
      assert.deepEqual(show(m.expire(5000)), []);
    });

    it('a duplicate link-local address: removed, and the next RFC 7217 DAD_Counter tried after IDGEN_DELAY, up to 3 times', () => {
      const m = machine({ acceptRa: false });
      m.start(0);
      m.expire(0);
      assert.deepEqual(show(m.duplicate(ipv6Addr(LL), 10)), [`remove ${LL} duplicate`, `add ${llWith(1)}/64 link-local`]);
      assert.notEqual(llWith(1), LL);
      assert.equal(m.nextDeadline(), 1010);
      assert.deepEqual(show(m.expire(1010)), [`dad ${llWith(1)}`]);
      assert.deepEqual(show(m.duplicate(ipv6Addr(llWith(1)), 1500)), [`remove ${llWith(1)} duplicate`, `add ${llWith(2)}/64 link-local`]);
      m.expire(2500);
      assert.deepEqual(show(m.duplicate(ipv6Addr(llWith(2)), 2600)), [`remove ${llWith(2)} duplicate`, `add ${llWith(3)}/64 link-local`]);
      m.expire(3600);
      // IDGEN_RETRIES (3) spent: the fourth identifier stays a listed, unusable duplicate.
      assert.deepEqual(show(m.duplicate(ipv6Addr(llWith(3)), 3700)), [`remove ${llWith(3)} duplicate`]);
      assert.deepEqual(m.addresses().map((a) => [formatIpv6(a.address), a.state, a.dadCounter]), [[llWith(3), 'duplicate', 3]]);
      assert.equal(m.counters.duplicates, 4);
      assert.equal(m.nextDeadline(), undefined);
    });

    it('a duplicate static address is not replaced: it stays listed as duplicate', () => {
      const m = machine({ acceptRa: false });
      m.start(0, [{ address: STATIC, prefixLength: 64 }]);
      m.expire(0);
      assert.deepEqual(show(m.duplicate(STATIC, 10)), ['remove fd00:198:18::2 duplicate']);
      assert.equal(stateOf(m, 'fd00:198:18::2'), 'duplicate');
      assert.deepEqual(show(m.expire(1000)), [`state ${LL} preferred`], 'the duplicate never becomes preferred');
    });

    it('a static address added later is probed at once, without the start delay', () => {
      const m = up({ acceptRa: false });
      assert.deepEqual(show(m.addStatic(STATIC, 64, 5000)), ['add fd00:198:18::2/64 static']);
      assert.deepEqual(show(m.expire(5000)), ['dad fd00:198:18::2']);
      assert.deepEqual(show(m.expire(6000)), ['state fd00:198:18::2 preferred']);
      assert.deepEqual(m.addStatic(STATIC, 64, 7000), [], 'already there');
    });

    it('an NA for an address that passed DAD is a conflict counted, nothing more (RFC 4862 5.4.4)', () => {
      const m = up({ acceptRa: false });
      assert.deepEqual(m.duplicate(ipv6Addr(LL), 2000), []);
      assert.equal(stateOf(m, LL), 'preferred');
      assert.equal(m.counters.conflictsAfterDad, 1);
      assert.deepEqual(m.duplicate(ipv6Addr('fe80::99'), 2000), [], 'not ours: nothing');
    });

    it('an EUI-64 identifier cannot change: a duplicate link-local address is not retried', () => {
      const m = new SlaacMachine({ acceptRa: false }, (_p, counter) => (counter === 0 ? new Uint8Array([2, 0, 0, 0xff, 0xfe, 0, 0, 1]) : undefined), () => 0);
      m.start(0);
      assert.deepEqual(show(m.duplicate(ipv6Addr('fe80::200:ff:fe00:1'), 0)), ['remove fe80::200:ff:fe00:1 duplicate']);
      assert.equal(stateOf(m, 'fe80::200:ff:fe00:1'), 'duplicate');
    });
  });

  describe('router solicitation (RFC 4861 6.3.7)', () => {
    it('up to 3 RS, 4 s apart: from :: while the link-local address is tentative, then from it', () => {
      const m = machine({ dadTransmits: 1 }, () => 0.25);
      m.start(0);
      const first = show(m.expire(250));
      assert.deepEqual(first, [`dad ${LL}`, 'rs ::']);
      assert.deepEqual(show(m.expire(1250)), [`state ${LL} preferred`]);
      assert.deepEqual(show(m.expire(4249)), []);
      assert.deepEqual(show(m.expire(4250)), [`rs ${LL}`]);
      assert.deepEqual(show(m.expire(8250)), [`rs ${LL}`]);
      assert.equal(m.nextDeadline(), undefined, 'no fourth solicitation');
      assert.equal(m.counters.routerSolicits, 3);
    });

    it('an RA with a router lifetime ends the solicitations', () => {
      const m = machine({ dadTransmits: 0 });
      m.start(0);
      m.expire(0);
      m.routerAdvert(ra(), ROUTER, 100);
      assert.equal(m.nextDeadline(), 100 + 1800 * 1000, 'only the router lifetime is left to watch');
    });

    it('acceptRa false: no RS, and RAs are ignored and counted', () => {
      const m = machine({ acceptRa: false, dadTransmits: 0 });
      m.start(0);
      assert.deepEqual(show(m.expire(10_000)), []);
      assert.deepEqual(m.routerAdvert(ra({ prefixes: [prefix()] }), ROUTER, 10_000), []);
      assert.equal(m.counters.routerAdvertsIgnored, 1);
      assert.deepEqual(m.routers(), []);
    });
  });

  describe('router advertisements (RFC 4861 6.3.4)', () => {
    it('a router joins the default router list for its lifetime, then leaves it', () => {
      const m = up({ acceptRa: false });
      const n = up();
      assert.deepEqual(show(n.routerAdvert(ra({ routerLifetime: 30 }), ROUTER, 2000)), ['router fe80::1']);
      assert.equal(formatIpv6(n.defaultRouter!), 'fe80::1');
      assert.deepEqual(show(n.expire(31_999)), []);
      assert.deepEqual(show(n.expire(32_000)), ['router none']);
      assert.deepEqual(n.routers(), []);
      assert.equal(m.defaultRouter, undefined);
    });

    it('router lifetime 0 removes the router at once; the next one takes over', () => {
      const m = up();
      m.routerAdvert(ra(), ROUTER, 2000);
      assert.deepEqual(show(m.routerAdvert(ra(), ROUTER2, 2000)), [], 'the first router stays the default');
      assert.deepEqual(show(m.routerAdvert(ra({ routerLifetime: 0 }), ROUTER, 3000)), ['router fe80::2']);
      assert.deepEqual(show(m.routerAdvert(ra({ routerLifetime: 0 }), ROUTER2, 3000)), ['router none']);
    });

    it('a router NUD declared unreachable is chosen last (RFC 4861 6.3.6); its next RA restores it', () => {
      const m = up();
      m.routerAdvert(ra(), ROUTER, 2000);
      m.routerAdvert(ra(), ROUTER2, 2000);
      assert.deepEqual(show(m.routerUnreachable(ROUTER)), ['router fe80::2']);
      assert.deepEqual(show(m.routerUnreachable(ROUTER2)), ['router fe80::1'], 'all unreachable: the list order');
      assert.deepEqual(show(m.routerAdvert(ra(), ROUTER2, 3000)), ['router fe80::2']);
    });

    it('the router list is bounded: RAs from more routers are counted, not kept', () => {
      const m = up({ maxRouters: 2 });
      m.routerAdvert(ra(), ROUTER, 2000);
      m.routerAdvert(ra(), ROUTER2, 2000);
      m.routerAdvert(ra(), ipv6Addr('fe80::3'), 2000);
      assert.equal(m.routers().length, 2);
      assert.equal(m.counters.tableFull, 1);
    });

    it('Reachable Time and Retrans Timer go to the neighbour cache; Retrans Timer spaces DAD probes', () => {
      const m = machine({ dadTransmits: 2, acceptRa: true });
      m.start(0);
      m.expire(0);
      assert.deepEqual(show(m.routerAdvert(ra({ reachableTime: 20_000, retransTimer: 300 }), ROUTER, 10)), ['router fe80::1', 'timers 20000 300']);
      m.expire(1000); // the second probe, sent with the old timer's spacing
      assert.equal(m.nextDeadline(), 1300);
      assert.deepEqual(show(m.routerAdvert(ra({ reachableTime: 0, retransTimer: 0 }), ROUTER, 20)), [], 'zeros: unspecified');
    });

    it('the MTU option: taken within 1280..link MTU, else counted', () => {
      const m = up({ linkMtu: 1500 });
      assert.deepEqual(show(m.routerAdvert(ra({ routerLifetime: 0, mtu: 1400 }), ROUTER, 2000)), ['mtu 1400']);
      assert.deepEqual(show(m.routerAdvert(ra({ routerLifetime: 0, mtu: 1400 }), ROUTER, 2000)), [], 'unchanged');
      m.routerAdvert(ra({ routerLifetime: 0, mtu: 1000 }), ROUTER, 2000);
      m.routerAdvert(ra({ routerLifetime: 0, mtu: 9000 }), ROUTER, 2000);
      assert.equal(m.mtu, 1400);
      assert.equal(m.counters.badMtu, 2);
    });

    it('an on-link prefix (L) for its valid lifetime; valid lifetime 0 ends it at once', () => {
      const m = up();
      const p = prefix({ autonomous: false, validLifetime: 60, prefix: ipv6Addr('2001:db8:1::99') });
      assert.deepEqual(show(m.routerAdvert(ra({ routerLifetime: 0, prefixes: [p] }), ROUTER, 2000)), ['on-link 2001:db8:1::/64 true']);
      assert.deepEqual(show(m.routerAdvert(ra({ routerLifetime: 0, prefixes: [p] }), ROUTER, 30_000)), [], 'refreshed');
      assert.deepEqual(show(m.expire(89_999)), []);
      assert.deepEqual(show(m.expire(90_000)), ['on-link 2001:db8:1::/64 false']);
      m.routerAdvert(ra({ routerLifetime: 0, prefixes: [p] }), ROUTER, 100_000);
      assert.deepEqual(show(m.routerAdvert(ra({ routerLifetime: 0, prefixes: [{ ...p, validLifetime: 0 }] }), ROUTER, 100_001)), ['on-link 2001:db8:1::/64 false']);
    });
  });

  describe('stateless address autoconfiguration (RFC 4862 5.5.3)', () => {
    it('an autonomous /64 forms prefix + RFC 7217 identifier: tentative, DAD, preferred, deprecated, removed', () => {
      const m = up();
      const acts = show(m.routerAdvert(ra({ routerLifetime: 0, prefixes: [prefix({ onLink: false, validLifetime: 7200, preferredLifetime: 3600 })] }), ROUTER, 2000));
      assert.deepEqual(acts, [`add ${SLAAC}/64 slaac`]);
      assert.equal(m.counters.addressesFormed, 1);
      assert.deepEqual(show(m.expire(2000)), [`dad ${SLAAC}`]);
      assert.deepEqual(show(m.expire(3000)), [`state ${SLAAC} preferred`]);
      assert.deepEqual(show(m.expire(2000 + HOUR)), [`state ${SLAAC} deprecated`]);
      assert.deepEqual(show(m.expire(2000 + 2 * HOUR)), [`remove ${SLAAC} expired`]);
      assert.equal(stateOf(m, SLAAC), undefined);
      assert.equal(m.counters.addressesExpired, 1);
    });

    it('a prefix with preferred lifetime 0 forms an address that is deprecated once DAD passes', () => {
      const m = up();
      m.routerAdvert(ra({ prefixes: [prefix({ preferredLifetime: 0 })] }), ROUTER, 2000);
      m.expire(2000);
      assert.deepEqual(show(m.expire(3000)), [`state ${SLAAC} deprecated`]);
    });

    it('a later RA renews the preferred lifetime: a deprecated address is preferred again', () => {
      const m = up();
      m.routerAdvert(ra({ prefixes: [prefix({ preferredLifetime: 10 })] }), ROUTER, 2000);
      m.expire(2000);
      m.expire(3000);
      assert.deepEqual(show(m.expire(12_000)), [`state ${SLAAC} deprecated`]);
      assert.deepEqual(show(m.routerAdvert(ra({ prefixes: [prefix()] }), ROUTER, 13_000)), [`state ${SLAAC} preferred`]);
    });

    it('the two-hour rule (e): lifetimes over 2 h or beyond what remains are taken; shorter ones never cut below 2 h; with 2 h or less left, ignored', () => {
      const validOf = (m: SlaacMachine) => m.addresses().find((a) => a.origin === 'slaac')!.validUntil;
      const formed = (validLifetime: number) => {
        const m = up();
        m.routerAdvert(ra({ prefixes: [prefix({ validLifetime, preferredLifetime: 0 })] }), ROUTER, 0);
        return m;
      };
      // 10 h remain; an RA says 1 h: cut to 2 h, not to 1 h.
      let m = formed(10 * 3600);
      m.routerAdvert(ra({ prefixes: [prefix({ validLifetime: 3600, preferredLifetime: 0 })] }), ROUTER, 1000);
      assert.equal(validOf(m), 1000 + 2 * HOUR);
      // 1 h remains; an RA says 10 min: ignored.
      m = formed(3600);
      m.routerAdvert(ra({ prefixes: [prefix({ validLifetime: 600, preferredLifetime: 0 })] }), ROUTER, 1000);
      assert.equal(validOf(m), 3600 * 1000);
      // 1 h remains; an RA says 1.5 h (beyond what remains): taken.
      m = formed(3600);
      m.routerAdvert(ra({ prefixes: [prefix({ validLifetime: 5400, preferredLifetime: 0 })] }), ROUTER, 1000);
      assert.equal(validOf(m), 1000 + 5400 * 1000);
      // 10 h remain; an RA says 3 h (over two hours): taken.
      m = formed(10 * 3600);
      m.routerAdvert(ra({ prefixes: [prefix({ validLifetime: 3 * 3600, preferredLifetime: 0 })] }), ROUTER, 1000);
      assert.equal(validOf(m), 1000 + 3 * HOUR);
      // Infinity is taken.
      m.routerAdvert(ra({ prefixes: [prefix({ validLifetime: INFINITE_LIFETIME, preferredLifetime: 0 })] }), ROUTER, 2000);
      assert.equal(validOf(m), Infinity);
    });

    it('ignored and counted: a link-local prefix, preferred > valid, a prefix that is not /64, a new prefix with valid lifetime 0', () => {
      const m = up();
      const acts = m.routerAdvert(ra({
        routerLifetime: 0,
        prefixes: [
          prefix({ prefix: ipv6Addr('fe80::'), onLink: false }),
          prefix({ preferredLifetime: 100, validLifetime: 50, onLink: false }),
          prefix({ prefixLength: 48, onLink: false }),
          prefix({ validLifetime: 0, preferredLifetime: 0, onLink: false }),
        ],
      }), ROUTER, 2000);
      assert.deepEqual(acts, []);
      assert.equal(m.counters.prefixesIgnored, 4);
    });

    it('slaac false: on-link prefixes and routers are used, no address is formed', () => {
      const m = up({ slaac: false });
      assert.deepEqual(show(m.routerAdvert(ra({ prefixes: [prefix()] }), ROUTER, 2000)), ['router fe80::1', 'on-link 2001:db8:1::/64 true']);
      assert.equal(m.addresses().filter((a) => a.origin === 'slaac').length, 0);
    });

    it('a duplicate SLAAC address is replaced by the next identifier for the same prefix', () => {
      const m = up();
      m.routerAdvert(ra({ prefixes: [prefix({ onLink: false })] }), ROUTER, 2000);
      m.expire(2000);
      const next = formatIpv6(new Uint8Array([...PREFIX.subarray(0, 8), ...stableId(PREFIX, 1)]));
      assert.deepEqual(show(m.duplicate(ipv6Addr(SLAAC), 2100)), [`remove ${SLAAC} duplicate`, `add ${next}/64 slaac`]);
      const a = m.addresses().find((x) => x.origin === 'slaac')!;
      assert.equal(a.validUntil, 2000 + 86400 * 1000, 'the lifetimes carry over');
    });

    it('the number of SLAAC addresses is bounded', () => {
      const m = up({ maxSlaacAddresses: 1 });
      m.routerAdvert(ra({ prefixes: [prefix({ onLink: false }), prefix({ onLink: false, prefix: ipv6Addr('2001:db8:2::') })] }), ROUTER, 2000);
      assert.equal(m.addresses().filter((a) => a.origin === 'slaac').length, 1);
      assert.equal(m.counters.tableFull, 1);
    });
  });
});
