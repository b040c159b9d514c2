import assert from 'node:assert/strict';
import fc from 'fast-check';
import { firstValueFrom, lastValueFrom, toArray, catchError, of } from 'rxjs';
import { createMemoryWire, type MemoryWireEnd } from '../../../streams/links/memory-wire.js';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import type { StackConfigInput } from '../../../src/config/stack-config.js';
import type { Link } from '../../../streams/links/link.js';
import { EtherType, emitEthernet, parseEthernet } from '../../../src/wire/ethernet.js';
import { emitIpv6Header, parseIpv6Header, Ipv6NextHeader } from '../../../src/wire/ipv6.js';
import { emitIcmpv6, parseIcmpv6, Icmpv6Type } from '../../../src/wire/icmpv6.js';
import { parseNdp } from '../../../src/wire/ndp.js';
import { Icmpv6ParamProblemCode } from '../../../src/wire/ipv6-ext.js';
import { formatIpv6, ipv6Addr } from '../../../src/ipv6/address.js';
import { formatMac, parseMac } from '../../../src/mac.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import type { NetstackError } from '../../../src/errors.js';

const A_MAC = '02:00:00:00:00:01';
const B_MAC = '02:00:00:00:00:02';
const A6 = 'fd00:198:18::1';
const B6 = 'fd00:198:18::2';

type Config = Partial<StackConfigInput<Link>>;

/**
 * These tests are about IPv6, ND and ICMPv6 with addresses in use from the start: no DAD wait,
 * no router solicitations (test/streams/stack/ipv6-autoconf.test.ts covers those).
 */
function quiet(c: Config = {}): Config {
  return { ...c, ipv6: { dadTransmits: 0, acceptRa: false, ...c.ipv6 } };
}

/** Two stacks on the memory wire: a (198.18.0.1, fd00:198:18::1), b (198.18.0.2, fd00:198:18::2). */
function ipv6Pair(opts: { a?: Config; b?: Config; ipv6?: boolean } = {}): { a: Stack; b: Stack; close(): void } {
  const [la, lb] = createMemoryWire({ mtu: 1500 });
  const v6 = opts.ipv6 !== false;
  const a = createStack({ interfaces: [{ name: 'eth0', link: la, mac: A_MAC, ipv4: ['198.18.0.1/24'], ...(v6 ? { ipv6: [`${A6}/64`] } : {}) }], ...quiet(opts.a) });
  const b = createStack({ interfaces: [{ name: 'eth0', link: lb, mac: B_MAC, ipv4: ['198.18.0.2/24'], ...(v6 ? { ipv6: [`${B6}/64`] } : {}) }], ...quiet(opts.b) });
  return { a, b, close: () => { a.close(); b.close(); } };
}

/** A stack (b: fd00:198:18::2) and a raw peer end of the wire (fd00:198:18::1, A_MAC), which the stack knows statically. */
function rawPair(config: Config = {}): { stack: Stack; peer: MemoryWireEnd; frames: Uint8Array[]; close(): void } {
  const [la, lb] = createMemoryWire({ mtu: 1500 });
  const stack = createStack({ interfaces: [{ name: 'eth0', link: lb, mac: B_MAC, ipv4: [], ipv6: [`${B6}/64`] }], ...quiet(config) });
  stack.ndp.addStatic(A6, A_MAC);
  const frames: Uint8Array[] = [];
  const sub = la.frames$.subscribe((f) => frames.push(f.slice()));
  return { stack, peer: la, frames, close: () => { sub.unsubscribe(); stack.close(); } };
}

/** An IPv6 frame from the raw peer: `body` after a header with `nextHeader`. */
function ipv6Frame(body: Uint8Array, o: { nextHeader: number; dst?: string; src?: string; hopLimit?: number; ethDst?: string }): Uint8Array {
  const pb = PacketBuffer.withPayload(body);
  emitIpv6Header({ src: ipv6Addr(o.src ?? A6), dst: ipv6Addr(o.dst ?? B6), nextHeader: o.nextHeader, hopLimit: o.hopLimit ?? 64 }, pb);
  emitEthernet({ dst: parseMac(o.ethDst ?? B_MAC)!, src: parseMac(A_MAC)!, ethertype: EtherType.IPV6 }, pb);
  return pb.bytes().slice();
}

/** An echo request from the raw peer. */
function echoRequest(seq: number, o: { dst?: string; ethDst?: string; corrupt?: boolean } = {}): Uint8Array {
  const pb = PacketBuffer.withPayload(new Uint8Array([1, 2, 3, 4]));
  emitIcmpv6({ kind: 'echo-request', ident: 0x4242, seq, data: new Uint8Array(0) }, pb, { src: ipv6Addr(A6), dst: ipv6Addr(o.dst ?? B6) });
  if (o.corrupt === true) pb.buf[pb.head + 8] ^= 0xff;
  return ipv6Frame(pb.bytes(), { nextHeader: Ipv6NextHeader.ICMPV6, ...o });
}

/** The ICMPv6 messages among `frames`, parsed with their IPv6 header. */
function icmpv6Of(frames: readonly Uint8Array[]) {
  const out = [];
  for (const f of frames) {
    const eth = parseEthernet(f);
    if (!eth.ok || eth.value.ethertype !== EtherType.IPV6) continue;
    const ip = parseIpv6Header(eth.value.payload);
    if (!ip.ok || ip.value.nextHeader !== Ipv6NextHeader.ICMPV6) continue;
    const m = parseIcmpv6(ip.value.payload, ip.value);
    assert.ok(m.ok, 'every ICMPv6 message the stack sends has a right checksum');
    out.push({ eth: eth.value, ip: ip.value, icmp: m.value });
  }
  return out;
}

/** Waits until `check` holds (polled on timers; bounded). */
async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

function stat(s: Stack, section: string, field: string): number {
  const sec = (s.stats() as unknown as Record<string, Record<string, number>>)[section];
  return sec[field];
}

function drop(s: Stack, section: string, reason: string): number {
  const sec = (s.stats() as unknown as Record<string, { drops: Record<string, number> }>)[section];
  return sec.drops[reason];
}

describe('stack: IPv6 over the memory wire', () => {
  it('a pings b over IPv6: an NS to the solicited-node group resolves b first, b answers with a solicited NA', async () => {
    const p = ipv6Pair();
    const fromA: Uint8Array[] = [];
    const fromB: Uint8Array[] = [];
    const subs = [p.a.taps.link.down$.subscribe((f) => fromA.push(f.slice())), p.b.taps.link.down$.subscribe((f) => fromB.push(f.slice()))];
    try {
      const replies = await lastValueFrom(p.a.icmp.ping(B6, { count: 2, interval: 1, timeout: 1000 }).pipe(toArray()));
      assert.deepEqual(replies.map((r) => [r.from, r.seq, r.bytes, r.ttl]), [[B6, 0, 56, 64], [B6, 1, 56, 64]]);

      // a's first frame: the neighbour solicitation for b, to b's solicited-node group.
      const [ns] = icmpv6Of(fromA);
      assert.equal(formatMac(ns.eth.dst), '33:33:ff:00:00:02');
      assert.equal(formatIpv6(ns.ip.dst), 'ff02::1:ff00:2');
      assert.equal(formatIpv6(ns.ip.src), A6);
      assert.equal(ns.ip.hopLimit, 255);
      assert.ok(ns.icmp.kind === 'other');
      const nsRepr = parseNdp(ns.icmp.message, ns.ip);
      assert.ok(nsRepr.ok && nsRepr.value.kind === 'neighbor-solicit');
      assert.equal(formatIpv6(nsRepr.value.target), B6);
      assert.equal(formatMac(nsRepr.value.sourceLinkAddr!), A_MAC);

      // b's first frame: the solicited advertisement, unicast to a.
      const [na] = icmpv6Of(fromB);
      assert.equal(formatMac(na.eth.dst), A_MAC);
      assert.equal(formatIpv6(na.ip.dst), A6);
      assert.equal(na.ip.hopLimit, 255);
      assert.ok(na.icmp.kind === 'other');
      const naRepr = parseNdp(na.icmp.message, na.ip);
      assert.ok(naRepr.ok && naRepr.value.kind === 'neighbor-advert');
      assert.deepEqual([naRepr.value.solicited, naRepr.value.override, naRepr.value.router], [true, true, false]);
      assert.equal(formatIpv6(naRepr.value.target), B6);
      assert.equal(formatMac(naRepr.value.targetLinkAddr!), B_MAC);

      // Echo requests and replies follow, with the pattern ping(8) uses.
      const echoes = icmpv6Of(fromA).filter((m) => m.icmp.kind === 'echo-request');
      assert.equal(echoes.length, 2);
      assert.equal(formatMac(echoes[0].eth.dst), B_MAC);

      assert.ok(p.a.ndp.entries().some((e) => e.ip === B6 && e.mac === B_MAC && e.state === 'reachable'));
      assert.ok(p.b.ndp.entries().some((e) => e.ip === A6 && e.mac === A_MAC), 'b learned a from the NS');
      assert.equal(stat(p.a, 'ndp:eth0', 'txSolicits'), 1);
      assert.equal(stat(p.b, 'ndp:eth0', 'txAdverts'), 1);
      assert.equal(stat(p.b, 'icmpv6', 'rxEchoRequests'), 2);
      assert.equal(stat(p.b, 'icmpv6', 'txEchoReplies'), 2);
      assert.equal(stat(p.a, 'neighbors6:eth0', 'resolved'), 1);
    } finally {
      subs.forEach((s) => s.unsubscribe());
      p.close();
    }
  });

  it('b pings a as well (both ways), and over link-local addresses', async () => {
    const p = ipv6Pair();
    try {
      const r = await firstValueFrom(p.b.icmp.ping(A6, { timeout: 1000 }));
      assert.equal(r.from, A6);
      const ll = p.a.interfaces[0].ipv6Addresses.find((x) => x.linkLocal);
      assert.ok(ll !== undefined, 'every interface has a link-local address');
      const llText = formatIpv6(ll.address);
      assert.match(llText, /^fe80::/);
      const r2 = await firstValueFrom(p.b.icmp.ping(llText, { timeout: 1000 }));
      assert.equal(r2.from, llText);
    } finally {
      p.close();
    }
  });

  it('a ping to one of its own addresses loops back without touching the link', async () => {
    const p = ipv6Pair();
    // Other frames may leave meanwhile (MLD reports on timers): no echo may be among them.
    const sent: Uint8Array[] = [];
    const sub = p.a.taps.link.down$.subscribe((f) => sent.push(f.slice()));
    try {
      const r = await firstValueFrom(p.a.icmp.ping(A6, { timeout: 1000 }));
      assert.equal(r.from, A6);
      assert.deepEqual(icmpv6Of(sent).filter((m) => m.icmp.kind === 'echo-request' || m.icmp.kind === 'echo-reply'), []);
      assert.equal(stat(p.a, 'icmpv6', 'txEchoReplies'), 1);
    } finally {
      sub.unsubscribe();
      p.close();
    }
  });

  it('link-local addresses: a stable identifier (RFC 7217) by default, the MAC\'s EUI-64 on request', () => {
    const secret = '00112233445566778899aabbccddeeff';
    const make = (linkLocal: 'stable' | 'eui64') => {
      const [l] = createMemoryWire();
      const s = createStack({ interfaces: [{ name: 'eth0', link: l, mac: A_MAC, ipv4: [] }], ipv6: { enabled: true, linkLocal, stableSecret: secret, dadTransmits: 0, acceptRa: false } });
      const text = s.interfaces[0].ipv6Addresses.map((x) => formatIpv6(x.address));
      s.close();
      return text;
    };
    assert.deepEqual(make('eui64'), ['fe80::ff:fe00:1']);
    const stable = make('stable');
    assert.equal(stable.length, 1);
    assert.match(stable[0], /^fe80::/);
    assert.notEqual(stable[0], 'fe80::ff:fe00:1');
    assert.deepEqual(make('stable'), stable, 'same secret, same interface: same address');
  });

  it('a 3000-byte echo is fragmented at the source and reassembled, both ways', async () => {
    const p = ipv6Pair();
    try {
      const r = await firstValueFrom(p.a.icmp.ping(B6, { size: 3000, timeout: 1000 }));
      assert.equal(r.bytes, 3000);
      assert.equal(stat(p.a, 'ipv6', 'txFragments'), 3);
      assert.equal(stat(p.b, 'ipv6', 'rxReassembled'), 1);
      assert.equal(stat(p.b, 'ipv6', 'txFragments'), 3);
      assert.equal(stat(p.a, 'ipv6', 'rxReassembled'), 1);
      assert.equal(p.a.ipv6!.reassembler.bytesHeld, 0);
      assert.equal(p.b.ipv6!.reassembler.bytesHeld, 0);
    } finally {
      p.close();
    }
  });

  it('a dual-stack pair pings over IPv4 and IPv6 alike', async () => {
    const p = ipv6Pair();
    try {
      const [r4, r6] = await Promise.all([
        firstValueFrom(p.a.icmp.ping('198.18.0.2', { timeout: 1000 })),
        firstValueFrom(p.a.icmp.ping(B6, { timeout: 1000 })),
      ]);
      assert.equal(r4.from, '198.18.0.2');
      assert.equal(r6.from, B6);
      assert.equal(stat(p.b, 'icmp', 'txEchoReplies'), 1);
      assert.equal(stat(p.b, 'icmpv6', 'txEchoReplies'), 1);
      assert.ok(p.a.arp.entries().some((e) => e.ip === '198.18.0.2'));
    } finally {
      p.close();
    }
  });

  it('an IPv4-only stack is unchanged: no IPv6 sections, IPv6 frames counted as unknown EtherType, ping to IPv6 is EAFNOSUPPORT', async () => {
    const p = ipv6Pair({ ipv6: false });
    try {
      assert.equal(p.b.stats().ipv6, undefined);
      assert.equal(p.b.interfaces[0].ipv6Addresses.length, 0);
      p.a.interfaces[0].link.send(echoRequest(1));
      await until(() => p.b.stats()['eth:eth0'].drops.unknownEthertype === 1);
      const err = await firstValueFrom(p.a.icmp.ping(B6).pipe(catchError((e: NetstackError) => of(e))));
      assert.equal((err as NetstackError).code, 'EAFNOSUPPORT');
    } finally {
      p.close();
    }
  });

  it('an unresolved neighbour fails the ping with EHOSTUNREACH after maxMulticastSolicit solicitations', async () => {
    const p = ipv6Pair({ a: { ipv6: { neighbors: { retransTimerMs: 5 } } } });
    try {
      const err = await firstValueFrom(p.a.icmp.ping('fd00:198:18::99', { timeout: 1000 }).pipe(catchError((e: NetstackError) => of(e))));
      assert.equal((err as NetstackError).code, 'EHOSTUNREACH');
      assert.equal(stat(p.a, 'ndp:eth0', 'txSolicits'), 3);
      assert.equal(drop(p.a, 'ndp:eth0', 'unresolved'), 1);
      const err2 = await firstValueFrom(p.a.icmp.ping('2001:db8::1').pipe(catchError((e: NetstackError) => of(e))));
      assert.equal((err2 as NetstackError).code, 'ENETUNREACH', 'off every prefix, and no routers yet');
    } finally {
      p.close();
    }
  });

  it('unreachability detection: a lapsed entry is used at once, then probed by unicast NS, and the NA makes it reachable again', async () => {
    const p = ipv6Pair({ a: { ipv6: { neighbors: { reachableTimeMs: 20, delayFirstProbeMs: 10, retransTimerMs: 10 } } } });
    const fromA: Uint8Array[] = [];
    const sub = p.a.taps.link.down$.subscribe((f) => fromA.push(f.slice()));
    const states: string[] = [];
    const sub2 = p.a.ndp.changes$.subscribe((c) => states.push(c.change.entry.state));
    try {
      await firstValueFrom(p.a.icmp.ping(B6, { timeout: 1000 }));
      await new Promise((r) => setTimeout(r, 30)); // past reachableTimeMs
      fromA.length = 0;
      await firstValueFrom(p.a.icmp.ping(B6, { timeout: 1000 }));
      assert.equal(formatMac(icmpv6Of(fromA)[0].eth.dst), B_MAC, 'the stale entry was used without waiting');
      await until(() => icmpv6Of(fromA).some((m) => m.icmp.kind === 'other' && m.icmp.type === Icmpv6Type.NEIGHBOR_SOLICIT));
      const probe = icmpv6Of(fromA).find((m) => m.icmp.kind === 'other' && m.icmp.type === Icmpv6Type.NEIGHBOR_SOLICIT)!;
      assert.equal(formatMac(probe.eth.dst), B_MAC, 'the probe is unicast to the cached MAC');
      assert.equal(formatIpv6(probe.ip.dst), B6);
      await until(() => p.a.ndp.entries().some((e) => e.ip === B6 && e.state === 'reachable'));
      // RFC 4861 7.3.2's path: the lapsed entry is STALE; its first use, DELAY; then PROBE; the NA, REACHABLE.
      assert.deepEqual(states.slice(0, 6), ['incomplete', 'reachable', 'stale', 'delay', 'probe', 'reachable']);
    } finally {
      sub.unsubscribe();
      sub2.unsubscribe();
      p.close();
    }
  });

  describe('against a raw peer', () => {
    it('an unknown next header is answered with Parameter Problem code 1 pointing at the Next Header field', async () => {
      const r = rawPair();
      try {
        const sent = ipv6Frame(new Uint8Array(16), { nextHeader: 253 });
        r.peer.send(sent);
        await until(() => icmpv6Of(r.frames).length > 0);
        const [pp] = icmpv6Of(r.frames);
        assert.ok(pp.icmp.kind === 'parameter-problem');
        assert.equal(pp.icmp.code, Icmpv6ParamProblemCode.UNRECOGNIZED_NEXT_HEADER);
        assert.equal(pp.icmp.pointer, 6);
        assert.deepEqual(pp.icmp.quoted, sent.subarray(14), 'the whole invoking packet is quoted');
        assert.equal(formatIpv6(pp.ip.src), B6);
        assert.equal(formatIpv6(pp.ip.dst), A6);
        assert.equal(stat(r.stack, 'icmpv6', 'txErrors'), 1);
      } finally {
        r.close();
      }
    });

    it('an unknown destination option with action bits 10 is answered with code 2 pointing at the option', async () => {
      const r = rawPair();
      try {
        // Destination options: next header 59, length 0 (8 bytes); option 0x80 (action 10), 4 bytes of data.
        const opts = new Uint8Array([59, 0, 0x80, 4, 0, 0, 0, 0]);
        r.peer.send(ipv6Frame(opts, { nextHeader: Ipv6NextHeader.DESTINATION_OPTIONS }));
        await until(() => icmpv6Of(r.frames).length > 0);
        const [pp] = icmpv6Of(r.frames);
        assert.ok(pp.icmp.kind === 'parameter-problem');
        assert.equal(pp.icmp.code, Icmpv6ParamProblemCode.UNRECOGNIZED_OPTION);
        assert.equal(pp.icmp.pointer, 42);
        assert.equal(drop(r.stack, 'ipv6', 'unknownOption'), 1);
      } finally {
        r.close();
      }
    });

    it('errors pass through ICMPv6\'s own rate limiter', async () => {
      const r = rawPair({ ipv6: { icmp: { errorRatePerSecond: 0, errorBurst: 1 } } });
      try {
        r.peer.send(ipv6Frame(new Uint8Array(8), { nextHeader: 253 }));
        r.peer.send(ipv6Frame(new Uint8Array(8), { nextHeader: 253 }));
        await until(() => stat(r.stack, 'icmpv6', 'errorsRateLimited') === 1);
        assert.equal(stat(r.stack, 'icmpv6', 'txErrors'), 1);
        assert.equal(stat(r.stack, 'icmp', 'errorsRateLimited'), 0, 'IPv4\'s bucket is another one');
      } finally {
        r.close();
      }
    });

    it('a datagram whose other fragments never come earns Time Exceeded code 1, quoting the first fragment', async () => {
      const r = rawPair({ ipv6: { reassembly: { timeoutMs: 20 } } });
      try {
        const first = ipv6Frame(new Uint8Array([Ipv6NextHeader.ICMPV6, 0, 0, 1, 0, 0, 0, 9, ...new Uint8Array(64)]), { nextHeader: Ipv6NextHeader.FRAGMENT });
        r.peer.send(first);
        await until(() => icmpv6Of(r.frames).length > 0);
        const [te] = icmpv6Of(r.frames);
        assert.ok(te.icmp.kind === 'time-exceeded');
        assert.equal(te.icmp.code, 1);
        assert.deepEqual(te.icmp.quoted, first.subarray(14));
        assert.equal(stat(r.stack, 'ipv6', 'reassemblyTimeouts'), 1);
        assert.equal(r.stack.ipv6!.reassembler.bytesHeld, 0);
      } finally {
        r.close();
      }
    });

    it('a fragmented echo request from the peer is reassembled and answered', async () => {
      const r = rawPair();
      try {
        const data = new Uint8Array(200).map((_, i) => i);
        const pb = PacketBuffer.withPayload(data);
        emitIcmpv6({ kind: 'echo-request', ident: 7, seq: 9, data: new Uint8Array(0) }, pb, { src: ipv6Addr(A6), dst: ipv6Addr(B6) });
        const msg = pb.bytes().slice();
        // Two fragments: bytes 0..103 (M set), 104.. ; identification 0x01020304.
        const frag = (off: number, end: number, more: boolean) =>
          ipv6Frame(new Uint8Array([Ipv6NextHeader.ICMPV6, 0, off >>> 8, (off & 0xf8) | (more ? 1 : 0), 1, 2, 3, 4, ...msg.subarray(off, end)]), { nextHeader: Ipv6NextHeader.FRAGMENT });
        r.peer.send(frag(104, msg.length, false)); // last first: order does not matter
        r.peer.send(frag(0, 104, true));
        await until(() => icmpv6Of(r.frames).some((m) => m.icmp.kind === 'echo-reply'));
        const reply = icmpv6Of(r.frames).find((m) => m.icmp.kind === 'echo-reply')!;
        assert.ok(reply.icmp.kind === 'echo-reply');
        assert.equal(reply.icmp.seq, 9);
        assert.deepEqual(reply.icmp.data, data);
        assert.equal(stat(r.stack, 'ipv6', 'rxFragments'), 2);
        assert.equal(stat(r.stack, 'ipv6', 'rxReassembled'), 1);
      } finally {
        r.close();
      }
    });

    it('answers an NS for its address from the peer with an NA, and ignores one for another address', async () => {
      const r = rawPair();
      try {
        const ns = (target: string) => {
          const body = new Uint8Array(24 + 8);
          body.set(ipv6Addr(target), 8);
          body.set([1, 1, ...parseMac(A_MAC)!], 24); // source link-layer address option
          const pbody = PacketBuffer.withPayload(body.subarray(4));
          emitIcmpv6({ kind: 'other', type: Icmpv6Type.NEIGHBOR_SOLICIT, code: 0, message: new Uint8Array(0) }, pbody, { src: ipv6Addr(A6), dst: ipv6Addr('ff02::1:ff00:2') });
          return ipv6Frame(pbody.bytes(), { nextHeader: Ipv6NextHeader.ICMPV6, dst: 'ff02::1:ff00:2', hopLimit: 255, ethDst: '33:33:ff:00:00:02' });
        };
        r.peer.send(ns('fd00:198:18::77'));
        r.peer.send(ns(B6));
        // A DAD probe for our address (from ::, no source link-layer option): answered to all-nodes, unsolicited.
        const dad = new Uint8Array(24);
        dad.set(ipv6Addr(B6), 8);
        const dpb = PacketBuffer.withPayload(dad.subarray(4));
        emitIcmpv6({ kind: 'other', type: Icmpv6Type.NEIGHBOR_SOLICIT, code: 0, message: new Uint8Array(0) }, dpb, { src: ipv6Addr('::'), dst: ipv6Addr('ff02::1:ff00:2') });
        r.peer.send(ipv6Frame(dpb.bytes(), { nextHeader: Ipv6NextHeader.ICMPV6, src: '::', dst: 'ff02::1:ff00:2', hopLimit: 255, ethDst: '33:33:ff:00:00:02' }));
        await until(() => icmpv6Of(r.frames).length === 2);
        const dadNa = icmpv6Of(r.frames)[1];
        assert.equal(formatIpv6(dadNa.ip.dst), 'ff02::1');
        assert.equal(formatMac(dadNa.eth.dst), '33:33:00:00:00:01');
        assert.ok(dadNa.icmp.kind === 'other');
        const dadRepr = parseNdp(dadNa.icmp.message, dadNa.ip);
        assert.ok(dadRepr.ok && dadRepr.value.kind === 'neighbor-advert' && !dadRepr.value.solicited);
        await until(() => icmpv6Of(r.frames).length > 0);
        const [na] = icmpv6Of(r.frames);
        assert.ok(na.icmp.kind === 'other' && na.icmp.type === Icmpv6Type.NEIGHBOR_ADVERT);
        const repr = parseNdp(na.icmp.message, na.ip);
        assert.ok(repr.ok && repr.value.kind === 'neighbor-advert');
        assert.equal(formatIpv6(repr.value.target), B6);
        assert.equal(repr.value.solicited, true);
        assert.equal(drop(r.stack, 'ndp:eth0', 'notOurTarget'), 1);
        assert.equal(icmpv6Of(r.frames).length, 2, 'no NA for the other address');
      } finally {
        r.close();
      }
    });

    it('random extension header chains and payloads never throw; every packet is counted and any answer is well formed (property)', async () => {
      const r = rawPair({ ipv6: { icmp: { errorRatePerSecond: 0, errorBurst: 1_000_000 } } });
      try {
        const frames = fc.sample(
          fc.record({
            nextHeader: fc.constantFrom(0, 43, 44, 60, 58, 59, 6, 17, 253),
            body: fc.uint8Array({ maxLength: 120 }),
            dst: fc.constantFrom(B6, 'ff02::1', 'fd00:198:18::9'),
          }),
          { numRuns: 300, seed: 14 },
        ).map((x) => ipv6Frame(x.body, { nextHeader: x.nextHeader, dst: x.dst, ethDst: x.dst === 'ff02::1' ? '33:33:00:00:00:01' : B_MAC }));
        for (const f of frames) r.peer.send(f);
        await until(() => stat(r.stack, 'ipv6', 'rxPackets') === frames.length);
        icmpv6Of(r.frames); // asserts every ICMPv6 message the stack sent has a right checksum
        assert.ok(stat(r.stack, 'icmpv6', 'txErrors') > 0, 'some of them earned parameter problems');
      } finally {
        r.close();
      }
    });

    it('counts every drop by reason', async () => {
      const r = rawPair();
      try {
        const s = r.stack;
        const truncated = ipv6Frame(new Uint8Array(0), { nextHeader: 59 }).subarray(0, 14 + 30);
        r.peer.send(truncated);
        const badVersion = ipv6Frame(new Uint8Array(8), { nextHeader: 59 });
        badVersion[14] = 0x40;
        r.peer.send(badVersion);
        r.peer.send(echoRequest(1, { dst: 'fd00:198:18::3' })); // not ours
        r.peer.send(echoRequest(2, { dst: 'ff02::1:ff00:99', ethDst: '33:33:ff:00:00:99' })); // a group we are not in: the MAC filter
        r.peer.send(echoRequest(2, { dst: 'ff02::1:ff00:99', ethDst: '33:33:00:00:00:01' })); // the same group behind a MAC we accept: IPv6
        r.peer.send(echoRequest(3, { corrupt: true }));
        r.peer.send(echoRequest(4, { dst: 'ff02::1', ethDst: '33:33:00:00:00:01' })); // echo to all-nodes: not answered
        r.peer.send(ipv6Frame(new Uint8Array(8), { nextHeader: 59 })); // no next header: nothing to do
        await until(() => stat(s, 'ipv6', 'rxPackets') === 7);
        assert.equal(drop(s, 'ipv6', 'truncated'), 1);
        assert.equal(drop(s, 'ipv6', 'badVersion'), 1);
        assert.equal(drop(s, 'ipv6', 'notForUs'), 2);
        assert.equal(drop(s, 'icmpv6', 'badChecksum'), 1);
        assert.equal(drop(s, 'icmpv6', 'multicastEcho'), 1);
        assert.equal(stat(s, 'ipv6', 'rxNoNextHeader'), 1);
        assert.equal(stat(s, 'eth:eth0', 'rxMulticast'), 2, 'only the frames to all-nodes passed the MAC filter');
        assert.equal(s.stats()['eth:eth0'].drops.notForUs, 1, '33:33:ff:00:00:99 is not a group we joined');
        assert.equal(icmpv6Of(r.frames).length, 0, 'none of them was answered');
      } finally {
        r.close();
      }
    });
  });

  it('configuration: bad IPv6 fields are all named at once', () => {
    const [l] = createMemoryWire();
    assert.throws(
      () => createStack({
        interfaces: [{ name: 'eth0', link: l, ipv4: [], ipv6: ['fd00::1/129', 'ff02::1/64', '::/64', 'fd00::2/64', 'fd00::2/64', 'fd00::3/0'] }],
        ipv6: { linkLocal: 'random' as 'stable', stableSecret: 'xyz', hopLimit: 0 },
      }),
      (err: NetstackError) => {
        assert.equal(err.code, 'ERR_INVALID_CONFIG');
        for (const fragment of [
          'interfaces.0.ipv6.0', 'interfaces.0.ipv6.1: "ff02::1/64" is a multicast address', 'interfaces.0.ipv6.2: "::/64" is the unspecified address',
          'interfaces.0.ipv6.4: fd00::2 is already assigned at interfaces.0.ipv6.3', 'interfaces.0.ipv6.5', 'ipv6.linkLocal', 'ipv6.stableSecret', 'ipv6.hopLimit',
        ]) assert.ok(err.message.includes(fragment), `${fragment} in: ${err.message}`);
        return true;
      },
    );
  });
});

