/**
 * IPv6 autoconfiguration in the stack, in virtual time on the memory wire, against a raw peer
 * that plays the other nodes and the router: DAD (success, a duplicate answered by the peer,
 * another node's probe), SLAAC from the peer's router advertisement (address formed, probed,
 * usable), the default route and its removal, source selection avoiding deprecated addresses,
 * MLD reports and an answered query.
 */
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { catchError, of, type Subscription } from 'rxjs';
import { createMemoryWire, type MemoryWireEnd } from '../../../streams/links/memory-wire.js';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import type { StackConfigInput } from '../../../src/config/stack-config.js';
import type { Link } from '../../../streams/links/link.js';
import { EtherType, emitEthernet, parseEthernet } from '../../../src/wire/ethernet.js';
import { emitIpv6Header, parseIpv6Header, Ipv6NextHeader } from '../../../src/wire/ipv6.js';
import { walkIpv6Chain } from '../../../src/wire/ipv6-ext.js';
import { emitIcmpv6, fillIcmpv6Checksum, parseIcmpv6 } from '../../../src/wire/icmpv6.js';
import { emitNdp, ndpMessageLen, parseNdp, type NdpRepr } from '../../../src/wire/ndp.js';
import { MldRecordType, parseMldReport } from '../../../src/wire/mld.js';
import { Ipv6Addresses, formatIpv6, ipv6Addr, ipv6MulticastMac, solicitedNodeAddress, type Ipv6Addr } from '../../../src/ipv6/address.js';
import { formatMac, parseMac } from '../../../src/mac.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import type { NetstackError } from '../../../src/errors.js';

const PEER_MAC = '02:00:00:00:00:01';
const STACK_MAC = '02:00:00:00:00:02';
const ROUTER_LL = 'fe80::1';
const STATIC6 = 'fd00:198:18::2';
const PREFIX = '2001:db8:1::';
const FAR = '2001:db8:99::5';

/** Something the stack sent, as far as it parses. */
interface Seen {
  readonly at: number;
  readonly ethDst: string;
  readonly src: string;
  readonly dst: string;
  readonly hopLimit: number;
  /** The Router Alert option's value (0: MLD), undefined without one. */
  readonly routerAlert: number | undefined;
  /** The ICMPv6 message (checksum verified). */
  readonly message: Uint8Array;
  readonly type: number;
  readonly ip: { src: Ipv6Addr; dst: Ipv6Addr; hopLimit: number };
}

function newScheduler(): TestScheduler {
  return new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
}

/** The ICMPv6 messages in a frame the stack sent (behind a hop-by-hop header for MLD). */
function seen(at: number, frame: Uint8Array): Seen | undefined {
  const eth = parseEthernet(frame);
  if (!eth.ok || eth.value.ethertype !== EtherType.IPV6) return undefined;
  const ip = parseIpv6Header(eth.value.payload);
  assert.ok(ip.ok, 'the stack sends well-formed IPv6');
  const packet = eth.value.payload;
  const walk = walkIpv6Chain(packet);
  if (walk.kind !== 'upper' || walk.protocol !== Ipv6NextHeader.ICMPV6) return undefined;
  const message = packet.subarray(walk.offset);
  const m = parseIcmpv6(message, ip.value);
  assert.ok(m.ok, 'every ICMPv6 message has a right checksum');
  return {
    at, ethDst: formatMac(eth.value.dst), src: formatIpv6(ip.value.src), dst: formatIpv6(ip.value.dst), hopLimit: ip.value.hopLimit,
    routerAlert: walk.routerAlert, message, type: message[0], ip: ip.value,
  };
}

/** An IPv6 frame from the peer. `body` follows the header (`nextHeader` says what it is). */
function frame(body: Uint8Array, o: { src: string; dst: string; nextHeader: number; hopLimit: number; ethDst: string }): Uint8Array {
  const pb = PacketBuffer.withPayload(body);
  emitIpv6Header({ src: ipv6Addr(o.src), dst: ipv6Addr(o.dst), nextHeader: o.nextHeader, hopLimit: o.hopLimit }, pb);
  emitEthernet({ dst: parseMac(o.ethDst)!, src: parseMac(PEER_MAC)!, ethertype: EtherType.IPV6 }, pb);
  return pb.bytes().slice();
}

function ndpFrame(repr: NdpRepr, src: string, dst: string, ethDst: string): Uint8Array {
  const pb = PacketBuffer.alloc(0, ndpMessageLen(repr));
  emitNdp(repr, pb, { src: ipv6Addr(src), dst: ipv6Addr(dst) });
  return frame(pb.bytes(), { src, dst, nextHeader: Ipv6NextHeader.ICMPV6, hopLimit: 255, ethDst });
}

function echoFrame(src: string, dst: string, seq: number): Uint8Array {
  const pb = PacketBuffer.withPayload(new Uint8Array([1, 2, 3, 4]));
  emitIcmpv6({ kind: 'echo-request', ident: 0x77, seq, data: new Uint8Array(0) }, pb, { src: ipv6Addr(src), dst: ipv6Addr(dst) });
  return frame(pb.bytes(), { src, dst, nextHeader: Ipv6NextHeader.ICMPV6, hopLimit: 64, ethDst: STACK_MAC });
}

/** A router advertisement from fe80::1 (the peer's MAC), to all-nodes. */
function raFrame(o: { routerLifetime?: number; prefixes?: { prefix: string; onLink?: boolean; valid?: number; preferred?: number }[] } = {}): Uint8Array {
  return ndpFrame({
    kind: 'router-advert', curHopLimit: 64, managed: false, other: false, routerLifetime: o.routerLifetime ?? 1800,
    reachableTime: 0, retransTimer: 0, sourceLinkAddr: parseMac(PEER_MAC)!,
    prefixes: (o.prefixes ?? []).map((p) => ({
      prefix: ipv6Addr(p.prefix), prefixLength: 64, onLink: p.onLink ?? true, autonomous: true, validLifetime: p.valid ?? 86400, preferredLifetime: p.preferred ?? 14400,
    })),
  }, ROUTER_LL, 'ff02::1', '33:33:00:00:00:01');
}

/** An MLDv2 general query from fe80::1: hop limit 1, a Router Alert, to ff02::1. */
function mldQueryFrame(o: { src?: string; maxResponseMs?: number } = {}): Uint8Array {
  const src = o.src ?? ROUTER_LL;
  const body = new Uint8Array(8 + 28);
  body.set([Ipv6NextHeader.ICMPV6, 0, 0x05, 2, 0, 0, 1, 0]); // hop-by-hop: Router Alert (MLD), PadN
  const q = body.subarray(8);
  q[0] = 130; // MLD query
  const code = o.maxResponseMs ?? 1000;
  q[4] = code >>> 8;
  q[5] = code & 0xff; // maximum response code (below 32768: milliseconds)
  q[24] = 2; // QRV 2
  q[25] = 125; // QQIC
  fillIcmpv6Checksum(q, 0, q.length, ipv6Addr(src), Ipv6Addresses.ALL_NODES);
  return frame(body, { src, dst: 'ff02::1', nextHeader: Ipv6NextHeader.HOP_BY_HOP, hopLimit: 1, ethDst: '33:33:00:00:00:01' });
}

interface World {
  readonly ts: TestScheduler;
  stack: Stack;
  peer: MemoryWireEnd;
  readonly sent: Seen[];
  readonly subs: Subscription[];
}

/**
 * Runs `script` in virtual time with a stack (static fd00:198:18::2/64 unless `config` says
 * otherwise; DAD and RAs as configured) and a raw peer; `script` schedules what the peer does.
 */
function run(config: Partial<StackConfigInput<Link>>, script: (w: World) => void, iface: { ipv6?: string[] } = {}): World {
  const ts = newScheduler();
  const w = { ts, sent: [] as Seen[], subs: [] as Subscription[] } as unknown as World;
  ts.run(() => {
    const [peer, end] = createMemoryWire({ scheduler: ts, macs: [PEER_MAC, STACK_MAC] });
    w.peer = peer;
    w.subs.push(peer.frames$.subscribe((f) => {
      const s = seen(ts.now(), f.slice());
      if (s !== undefined) w.sent.push(s);
    }));
    w.stack = createStack({
      interfaces: [{ name: 'eth0', link: end, mac: STACK_MAC, ipv4: [], ipv6: iface.ipv6 ?? [`${STATIC6}/64`] }],
      ...config,
    }, { scheduler: ts });
    script(w);
    // Everything is finite (lifetimes aside): stop the clock well after the interesting part.
    ts.schedule(() => {
      w.stack.close();
      for (const s of w.subs) s.unsubscribe();
    }, 60_000);
  });
  return w;
}

function ndpOf(s: Seen) {
  const r = parseNdp(s.message, s.ip);
  assert.ok(r.ok, `valid NDP from the stack (${!r.ok ? r.reason : ''})`);
  return r.value;
}

function stat(s: Stack, section: string, field: string): number {
  return (s.stats() as unknown as Record<string, Record<string, number>>)[section][field];
}

function dropOf(s: Stack, section: string, reason: string): number {
  return (s.stats() as unknown as Record<string, { drops: Record<string, number> }>)[section].drops[reason];
}

function stateOf(s: Stack, address: string): string | undefined {
  return s.inet6.addresses().find((a) => a.address === address)?.state;
}

describe('stack: IPv6 autoconfiguration (memory wire, virtual time)', () => {
  it('DAD: the static and link-local addresses are probed from ::, unusable while tentative, preferred after RetransTimer', () => {
    const states: [number, string | undefined][] = [];
    const w = run({ ipv6: { acceptRa: false } }, (w) => {
      states.push([0, stateOf(w.stack, STATIC6)]);
      // A ping from the peer while the address is tentative: silently discarded (RFC 4862 5.4).
      w.ts.schedule(() => w.peer.send(echoFrame('fd00:198:18::1', STATIC6, 1)), 1);
      w.ts.schedule(() => states.push([2500, stateOf(w.stack, STATIC6)]), 2500);
      w.ts.schedule(() => {
        w.stack.ndp.addStatic('fd00:198:18::1', PEER_MAC);
        w.peer.send(echoFrame('fd00:198:18::1', STATIC6, 2));
      }, 3000);
    });
    assert.deepEqual(states, [[0, 'tentative'], [2500, 'preferred']]);
    const probes = w.sent.filter((s) => s.type === 135);
    assert.deepEqual(probes.map((p) => [p.src, p.dst, p.ethDst, p.hopLimit]).sort(), [
      ['::', 'ff02::1:ff00:2', '33:33:ff:00:00:02', 255],
      ['::', solicitedNodeText(w.stack), `33:33:${solicitedMacTail(w.stack)}`, 255],
    ].sort());
    for (const p of probes) {
      const ns = ndpOf(p);
      assert.ok(ns.kind === 'neighbor-solicit' && ns.sourceLinkAddr === undefined, 'a DAD probe carries no source link-layer option');
      assert.ok(p.at <= 1000, 'the first probe within MAX_RTR_SOLICITATION_DELAY');
    }
    const target = probes.map((p) => ndpOf(p)).find((m) => m.kind === 'neighbor-solicit' && formatIpv6(m.target) === STATIC6);
    assert.ok(target !== undefined, 'the static address is probed');
    const replies = w.sent.filter((s) => s.type === 129);
    assert.deepEqual(replies.map((r) => [r.src, r.dst]), [[STATIC6, 'fd00:198:18::1']], 'only the ping after DAD was answered');
    assert.equal(dropOf(w.stack, 'ipv6', 'tentativeAddress'), 1);
    assert.equal(stat(w.stack, 'autoconf:eth0', 'dadSucceeded'), 2);
    assert.deepEqual(w.stack.inet6.addresses().map((a) => [a.origin, a.state]).sort(), [['link-local', 'preferred'], ['static', 'preferred']]);
  });

  it('DAD: a duplicate — the peer answers the probe with an NA: the static address is dropped; the link-local one moves to the next RFC 7217 identifier', () => {
    let firstLinkLocal = '';
    const w = run({ ipv6: { acceptRa: false } }, (w) => {
      firstLinkLocal = w.stack.inet6.addresses().find((a) => a.origin === 'link-local')!.address;
      // The peer defends every address it is asked about (RFC 4861 7.2.4: to all-nodes, override set).
      let answered = 0;
      w.subs.push(w.peer.frames$.subscribe((f) => {
        const s = seen(w.ts.now(), f);
        if (s === undefined || s.type !== 135 || s.src !== '::' || answered >= 2) return;
        const ns = ndpOf(s);
        if (ns.kind !== 'neighbor-solicit') return;
        answered++;
        const target = formatIpv6(ns.target);
        w.peer.send(ndpFrame({ kind: 'neighbor-advert', router: false, solicited: false, override: true, target: ipv6Addr(target), targetLinkAddr: parseMac(PEER_MAC)! }, target, 'ff02::1', '33:33:00:00:00:01'));
      }));
    });
    const addrs = w.stack.inet6.addresses();
    assert.equal(stateOf(w.stack, STATIC6), 'duplicate', 'listed, never used');
    const ll = addrs.filter((a) => a.origin === 'link-local');
    assert.equal(ll.length, 1);
    assert.notEqual(ll[0].address, firstLinkLocal, 'a new identifier');
    assert.equal(ll[0].state, 'preferred', 'the second identifier passed DAD (the peer answered only two probes)');
    assert.ok(!w.stack.interfaces[0].ipv6Addresses.some((a) => formatIpv6(a.address) === STATIC6), 'the duplicate is off the interface');
    assert.equal(stat(w.stack, 'autoconf:eth0', 'duplicates'), 2);
    assert.equal(stat(w.stack, 'ndp:eth0', 'duplicateAddress'), 2);
  });

  it("DAD: another node's probe (an NS from ::) for our tentative address makes it a duplicate", () => {
    const w = run({ ipv6: { acceptRa: false, dadTransmits: 2 } }, (w) => {
      w.ts.schedule(() => w.peer.send(ndpFrame({ kind: 'neighbor-solicit', target: ipv6Addr(STATIC6) }, '::', 'ff02::1:ff00:2', '33:33:ff:00:00:02')), 10);
    });
    assert.equal(stateOf(w.stack, STATIC6), 'duplicate');
    assert.equal(w.sent.filter((s) => s.type === 136).length, 0, 'no NA in answer: the address is not ours yet');
  });

  it('SLAAC: an RA the peer sends after our RS forms an address that passes DAD and answers ping; the default route goes via the link-local router', () => {
    let slaac = '';
    let routerEntry = false;
    const pings: (string | number)[] = [];
    const w = run({ ipv6: { dadTransmits: 1 } }, (w) => {
      // The router answers the first router solicitation.
      let done = false;
      w.subs.push(w.peer.frames$.subscribe((f) => {
        const s = seen(w.ts.now(), f);
        if (s === undefined || s.type !== 133 || done) return;
        done = true;
        w.peer.send(raFrame({ prefixes: [{ prefix: PREFIX }] }));
      }));
      w.ts.schedule(() => {
        slaac = w.stack.inet6.addresses().find((a) => a.origin === 'slaac')?.address ?? '';
        // A ping from far away through the router: the reply must go back through it.
        w.peer.send(echoFrame(FAR, slaac, 1));
        w.stack.icmp.ping(FAR, { timeout: 500 }).pipe(catchError((e: NetstackError) => of(e.code))).subscribe((r) => pings.push(typeof r === 'string' ? r : r.seq));
        routerEntry = w.stack.ndp.entries().some((e) => e.ip === ROUTER_LL && e.isRouter && e.mac === PEER_MAC);
      }, 8000);
    });
    assert.match(slaac, /^2001:db8:1:0:/);
    const rs = w.sent.filter((s) => s.type === 133);
    assert.ok(rs.length >= 1);
    assert.deepEqual([rs[0].dst, rs[0].ethDst, rs[0].hopLimit], ['ff02::2', '33:33:00:00:00:02', 255]);
    const probe = w.sent.find((s) => s.type === 135 && s.src === '::' && formatIpv6((ndpOf(s) as { target: Ipv6Addr }).target) === slaac);
    assert.ok(probe !== undefined, 'the SLAAC address was probed');
    const reply = w.sent.find((s) => s.type === 129);
    assert.ok(reply !== undefined, 'the ping was answered');
    assert.deepEqual([reply.src, reply.dst, reply.ethDst], [slaac, FAR, PEER_MAC], 'from the SLAAC address, via the router');
    const request = w.sent.find((s) => s.type === 128);
    assert.deepEqual([request?.src, request?.dst, request?.ethDst], [slaac, FAR, PEER_MAC], 'our own ping leaves by the default router');
    assert.deepEqual(pings, ['ETIMEDOUT'], 'nobody answers it: the point is that it went out');
    assert.deepEqual(w.stack.inet6.routes().map((r) => [r.destination, r.gateway, r.origin]), [
      ['2001:db8:1::/64', undefined, 'ra'],
      ['::/0', ROUTER_LL, 'ra'],
    ]);
    assert.deepEqual(w.stack.inet6.routers().map((r) => r.address), [ROUTER_LL]);
    assert.ok(routerEntry, 'the router learnt from its source link-layer option');
    const count = w.sent.filter((s) => s.type === 133).length;
    assert.equal(count, 1, 'no more solicitations once an RA came');
  });

  it('router lifetime 0 removes the default route: pings far away fail with ENETUNREACH', () => {
    const results: string[] = [];
    const w = run({ ipv6: { dadTransmits: 0 } }, (w) => {
      w.ts.schedule(() => w.peer.send(raFrame({ prefixes: [{ prefix: PREFIX }] })), 10);
      w.ts.schedule(() => results.push(w.stack.inet6.routes().map((r) => r.destination).join(',')), 20);
      w.ts.schedule(() => w.peer.send(raFrame({ routerLifetime: 0 })), 30);
      w.ts.schedule(() => {
        results.push(w.stack.inet6.routes().map((r) => r.destination).join(','));
        w.stack.icmp.ping(FAR, { timeout: 100 }).pipe(catchError((e: NetstackError) => of(e.code))).subscribe((r) => results.push(String(r)));
      }, 40);
    });
    assert.deepEqual(results, ['2001:db8:1::/64,::/0', '2001:db8:1::/64', 'ENETUNREACH']);
    assert.deepEqual(w.stack.inet6.routers(), []);
  });

  it('a deprecated address is not chosen as a source, though it shares more bits with the destination', () => {
    const DEPRECATED = '2001:db8:1:ff00::';
    let src = '';
    // No static address: IPv6 is on because SLAAC is asked for.
    const w = run({ ipv6: { dadTransmits: 0, slaac: true } }, (w) => {
      w.ts.schedule(() => w.peer.send(raFrame({ prefixes: [{ prefix: DEPRECATED, onLink: false, preferred: 0 }, { prefix: '2001:db8:2::', onLink: false }] })), 10);
      w.ts.schedule(() => w.stack.icmp.ping('2001:db8:1:ff00::77', { timeout: 100 }).pipe(catchError(() => of(0))).subscribe(), 20);
    }, { ipv6: [] });
    const addrs = w.stack.inet6.addresses().filter((a) => a.origin === 'slaac');
    assert.deepEqual(addrs.map((a) => [a.address.split(':').slice(0, 4).join(':'), a.state]), [['2001:db8:1:ff00', 'deprecated'], ['2001:db8:2:0', 'preferred']]);
    const request = w.sent.find((s) => s.type === 128);
    assert.ok(request !== undefined);
    src = request!.src;
    assert.match(src, /^2001:db8:2:0:/);
  });

  it('MLD: reports on the wire as addresses are added (solicited-node groups, TO_EX, Router Alert, hop limit 1), and a general query answered', () => {
    const w = run({ ipv6: { dadTransmits: 1 } }, (w) => {
      w.ts.schedule(() => w.peer.send(raFrame({ prefixes: [{ prefix: PREFIX }] })), 3000);
      w.ts.schedule(() => w.peer.send(mldQueryFrame({ maxResponseMs: 1000 })), 10_000);
      w.ts.schedule(() => w.peer.send(mldQueryFrame({ src: 'fd00:198:18::1' })), 20_000);
    });
    const reports = w.sent.filter((s) => s.type === 143);
    for (const r of reports) {
      assert.deepEqual([r.dst, r.ethDst, r.hopLimit, r.routerAlert], ['ff02::16', '33:33:00:00:00:16', 1, 0]);
    }
    const records = reports.map((r) => {
      const p = parseMldReport(r.message);
      assert.ok(p.ok);
      return { at: r.at, src: r.src, records: p.value.records.map((x) => [x.type, formatIpv6(x.group)] as [number, string]) };
    });
    const ll = w.stack.inet6.addresses().find((a) => a.origin === 'link-local')!.address;
    const slaac = w.stack.inet6.addresses().find((a) => a.origin === 'slaac')!.address;
    const snLl = formatIpv6(solicitedNodeAddress(ipv6Addr(ll)));
    const snSlaac = formatIpv6(solicitedNodeAddress(ipv6Addr(slaac)));
    // At start: one report with the link-local's and the static address's groups (never ff02::1), from ::.
    assert.equal(records[0].src, '::', 'before the link-local address passed DAD');
    assert.deepEqual(records[0].records.sort(), [[MldRecordType.CHANGE_TO_EXCLUDE, snLl], [MldRecordType.CHANGE_TO_EXCLUDE, 'ff02::1:ff00:2']].sort());
    assert.ok(records[0].at < w.sent.find((s) => s.type === 135)!.at || records[0].at === 0, 'the group is joined before the first probe');
    // The SLAAC address's group is reported when it is formed, twice (robustness 2).
    const slaacJoins = records.filter((r) => r.records.some(([t, g]) => t === MldRecordType.CHANGE_TO_EXCLUDE && g === snSlaac));
    assert.equal(slaacJoins.length, 2);
    assert.ok(slaacJoins[0].at >= 3000 && slaacJoins[0].src === ll, 'from the link-local address once it is preferred');
    // The query at 10 s: answered within its 1 s with every group (IS_EX).
    const answers = records.filter((r) => r.records.some(([t]) => t === MldRecordType.MODE_IS_EXCLUDE));
    assert.equal(answers.length, 1, 'one answer: the query from a global source was dropped');
    assert.ok(answers[0].at >= 10_000 && answers[0].at <= 11_000, `answered at ${answers[0].at}`);
    assert.deepEqual(answers[0].records.map(([, g]) => g).sort(), [snLl, 'ff02::1:ff00:2', snSlaac].sort());
    assert.equal(dropOf(w.stack, 'mld:eth0', 'badQuerySource'), 1);
  });

  it('acceptRedirects: a redirect from the first hop becomes a host route to the better router; one from another node is ignored', () => {
    const OTHER_MAC = '02:00:00:00:00:09';
    let via = '';
    const w = run({ ipv6: { dadTransmits: 0, acceptRedirects: true } }, (w) => {
      w.ts.schedule(() => w.peer.send(raFrame({ prefixes: [{ prefix: PREFIX }] })), 10);
      const slaac = () => w.stack.inet6.addresses().find((a) => a.origin === 'slaac')!.address;
      const redirect = (from: string, destination: string) =>
        ndpFrame({ kind: 'redirect', target: ipv6Addr('fe80::9'), destination: ipv6Addr(destination), targetLinkAddr: parseMac(OTHER_MAC)! }, from, slaac(), STACK_MAC);
      w.ts.schedule(() => w.peer.send(redirect('fe80::5', '2001:db8:77::1')), 20); // not our router for it
      w.ts.schedule(() => w.peer.send(redirect(ROUTER_LL, FAR)), 30);
      w.ts.schedule(() => w.stack.icmp.ping(FAR, { timeout: 100 }).pipe(catchError(() => of(0))).subscribe(), 40);
      w.subs.push(w.peer.frames$.subscribe((f) => {
        const s = seen(w.ts.now(), f);
        if (s?.type === 128) via = s.ethDst;
      }));
    });
    assert.deepEqual(w.stack.inet6.routes().filter((r) => r.origin === 'redirect'), [{ destination: `${FAR}/128`, gateway: 'fe80::9', interface: 'eth0', origin: 'redirect' }]);
    assert.equal(via, OTHER_MAC, 'the echo request went to the better first hop');
    assert.equal(stat(w.stack, 'ndp:eth0', 'redirectsIgnored'), 1);
  });

  it('redirects are ignored and counted by default', () => {
    const w = run({ ipv6: { dadTransmits: 0 } }, (w) => {
      w.ts.schedule(() => w.peer.send(raFrame({ prefixes: [{ prefix: PREFIX }] })), 10);
      w.ts.schedule(() => w.peer.send(ndpFrame({ kind: 'redirect', target: ipv6Addr('fe80::9'), destination: ipv6Addr(FAR) }, ROUTER_LL, w.stack.inet6.addresses().find((a) => a.origin === 'slaac')!.address, STACK_MAC)), 20);
    });
    assert.equal(stat(w.stack, 'ndp:eth0', 'redirectsIgnored'), 1);
    assert.ok(!w.stack.inet6.routes().some((r) => r.origin === 'redirect'));
  });
});

/** The link-local address's solicited-node group (text). */
function solicitedNodeText(s: Stack): string {
  const ll = s.inet6.addresses().find((a) => a.origin === 'link-local')!.address;
  return formatIpv6(solicitedNodeAddress(ipv6Addr(ll)));
}

/** The last four bytes of the link-local solicited-node MAC (`ff:xx:xx:xx`). */
function solicitedMacTail(s: Stack): string {
  const ll = s.inet6.addresses().find((a) => a.origin === 'link-local')!.address;
  return formatMac(ipv6MulticastMac(solicitedNodeAddress(ipv6Addr(ll)))).slice(6);
}
