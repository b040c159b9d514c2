import assert from 'node:assert/strict';
import type { Subscription } from 'rxjs';
import { createStack, type Stack, type StackHooks } from '../../../streams/stack/create-stack.js';
import { countingHooks } from '../../helpers/counting-hooks.js';
import { PacketSubject } from '../../../streams/pipeline/packet-subject.js';
import { subjectDeliveries } from '../../helpers/subject-deliveries.js';
import { useCloseAfterEach } from '../../helpers/close-after-each.js';
import { ReceivedIpv6, type Ipv6Datagram } from '../../../streams/stack/ipv6-layer.js';
import { EtherType, emitEthernet } from '../../../src/wire/ethernet.js';
import { emitIpv6Header, fillIpv6UpperChecksum, Ipv6NextHeader } from '../../../src/wire/ipv6.js';
import { emitUdp } from '../../../src/wire/udp.js';
import { emitTcp, TcpFlags } from '../../../src/wire/tcp.js';
import { emitIcmpv6 } from '../../../src/wire/icmpv6.js';
import { ipv6Addr } from '../../../src/ipv6/address.js';
import { parseMac } from '../../../src/mac.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';

// IPv6's way in, as IPv4's (udp-direct-in.test.ts): on the plain stack an IPv6 frame goes from
// Ethernet's filter straight to IPv6's input, and a packet without extension headers from
// IPv6's checks straight to TCP's or UDP's input, read in place (ReceivedIpv6: no view of the
// packet made). These tests pin what it must keep: the same deliveries, counters and answers
// as the long way for good, odd and malformed frames, and every tap observer, observe$
// subscriber and operator still seeing every item.

const OUR_MAC = '02:00:00:00:00:02';
const PEER_MAC = '02:00:00:00:00:01';
const OUR = 'fd00:198:18::2';
const PEER = 'fd00:198:18::1';

interface Ip6 {
  readonly src?: string;
  readonly dst?: string;
  readonly hopLimit?: number;
  readonly ethDst?: string;
}

/** An IPv6 frame from the peer: `body` after the fixed header naming `nextHeader`. */
function frame6(body: Uint8Array, nextHeader: number, o: Ip6 = {}): Uint8Array {
  const pb = PacketBuffer.withPayload(body);
  emitIpv6Header({ src: ipv6Addr(o.src ?? PEER), dst: ipv6Addr(o.dst ?? OUR), nextHeader, hopLimit: o.hopLimit ?? 64 }, pb);
  emitEthernet({ dst: parseMac(o.ethDst ?? OUR_MAC)!, src: parseMac(PEER_MAC)!, ethertype: EtherType.IPV6 }, pb);
  return pb.bytes().slice();
}

/** A UDP datagram (checksum over `src` -> `dst`) from port `srcPort` to `dstPort`. */
function udp6(text: string, o: Ip6 & { readonly srcPort?: number; readonly dstPort?: number } = {}): Uint8Array {
  const pb = PacketBuffer.withPayload(Buffer.from(text));
  emitUdp({ srcPort: o.srcPort ?? 4000, dstPort: o.dstPort ?? 7, payload: pb.bytes() }, pb, 0, 0);
  fillIpv6UpperChecksum(pb.buf, pb.head, pb.length, 6, ipv6Addr(o.src ?? PEER), ipv6Addr(o.dst ?? OUR), 17);
  return pb.bytes().slice();
}

/** A TCP SYN (checksum over `src` -> `dst`) to `dstPort`. */
function syn6(dstPort: number, o: Ip6 = {}): Uint8Array {
  const pb = PacketBuffer.withPayload(new Uint8Array(0));
  emitTcp({ srcPort: 40000, dstPort, seq: 1000, ack: 0, flags: TcpFlags.SYN, window: 65535, urgent: 0, mss: 1440, payload: new Uint8Array(0) }, pb, 0, 0);
  fillIpv6UpperChecksum(pb.buf, pb.head, pb.length, 16, ipv6Addr(o.src ?? PEER), ipv6Addr(o.dst ?? OUR), 6);
  return pb.bytes().slice();
}

/** An extension header of 8 bytes (Hop-by-Hop or Destination Options: a PadN of 4) naming `next`. */
function options8(next: number): Uint8Array {
  return new Uint8Array([next, 0, 1, 4, 0, 0, 0, 0]);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** A fragment header naming `next`, at byte `offset` of the original payload. */
function fragment(next: number, offset: number, more: boolean, ident: number): Uint8Array {
  const field = offset | (more ? 1 : 0);
  return new Uint8Array([next, 0, field >>> 8, field & 0xff, ident >>> 24, (ident >>> 16) & 0xff, (ident >>> 8) & 0xff, ident & 0xff]);
}

/** Good, odd and malformed IPv6 frames, each handled its own way by the layers. */
function mixedFrames(): Uint8Array[] {
  const good = frame6(udp6('one'), 17);
  const badUdpChecksum = good.slice();
  badUdpChecksum[badUdpChecksum.length - 1] ^= 0x01;
  const zeroUdpChecksum = good.slice();
  zeroUdpChecksum[14 + 40 + 6] = 0;
  zeroUdpChecksum[14 + 40 + 7] = 0;
  const badVersion = good.slice();
  badVersion[14] = 0x40;
  const longPayloadLength = good.slice();
  longPayloadLength[14 + 5] += 8;
  const padded = concat(frame6(udp6('padded'), 17), new Uint8Array(20));
  const whole = udp6('a fragmented datagram, in two pieces');
  const synBadChecksum = frame6(syn6(80), 6);
  synBadChecksum[synBadChecksum.length - 3] ^= 0x10;
  const echo = PacketBuffer.withPayload(new Uint8Array([1, 2, 3, 4]));
  emitIcmpv6({ kind: 'echo-request', ident: 7, seq: 1, data: new Uint8Array(0) }, echo, { src: ipv6Addr(PEER), dst: ipv6Addr(OUR) });
  return [
    good,
    frame6(udp6('two', { srcPort: 4001 }), 17),
    frame6(udp6('no socket', { dstPort: 9 }), 17),
    frame6(udp6('hop limit 0', { hopLimit: 0 }), 17, { hopLimit: 0 }),
    frame6(udp6('all nodes', { dst: 'ff02::1' }), 17, { dst: 'ff02::1', ethDst: '33:33:00:00:00:01' }),
    frame6(udp6('unjoined group', { dst: 'ff02::1234' }), 17, { dst: 'ff02::1234', ethDst: '33:33:00:00:12:34' }),
    frame6(udp6('wrong MAC'), 17, { ethDst: '02:00:00:00:00:99' }),
    frame6(udp6('other host', { dst: 'fd00:198:18::77' }), 17, { dst: 'fd00:198:18::77' }),
    frame6(udp6('group source', { src: 'ff02::1' }), 17, { src: 'ff02::1' }),
    frame6(concat(options8(17), udp6('hop-by-hop')), Ipv6NextHeader.HOP_BY_HOP),
    frame6(concat(options8(17), udp6('destination options')), Ipv6NextHeader.DESTINATION_OPTIONS),
    frame6(concat(options8(Ipv6NextHeader.HOP_BY_HOP), options8(17), udp6('hop-by-hop not first')), Ipv6NextHeader.DESTINATION_OPTIONS),
    frame6(concat(fragment(17, 0, true, 9), whole.subarray(0, 24)), Ipv6NextHeader.FRAGMENT),
    frame6(concat(fragment(17, 24, false, 9), whole.subarray(24)), Ipv6NextHeader.FRAGMENT),
    frame6(udp6('wrong next header'), 253),
    frame6(new Uint8Array(8), Ipv6NextHeader.NO_NEXT_HEADER),
    badUdpChecksum,
    zeroUdpChecksum,
    badVersion,
    longPayloadLength,
    padded,
    good.slice(0, 14 + 30),
    frame6(syn6(80), 6),
    frame6(syn6(81), 6),
    synBadChecksum,
    frame6(syn6(80, { dst: 'ff02::1' }), 6, { dst: 'ff02::1', ethDst: '33:33:00:00:00:01' }),
    frame6(echo.bytes().slice(), Ipv6NextHeader.ICMPV6),
    good,
  ];
}

interface Run {
  readonly stack: Stack;
  readonly frames: PacketSubject<Uint8Array>;
  readonly delivered: string[];
  /** What the stack wrote to the link: each frame's EtherType, next header and length. */
  readonly sent: string[];
}

/** A dual-stack host on a link fed by hand, the peer a static neighbour, a UDP socket on [::]:7, a TCP listener on port 80. */
function stackWith(hooks?: StackHooks): Run {
  const frames = new PacketSubject<Uint8Array>();
  const sent: string[] = [];
  const link = {
    name: 'in0', mtu: 1500, mac: new Uint8Array([2, 0, 0, 0, 0, 2]), frames$: frames.asObservable(),
    send(f: Uint8Array): void {
      sent.push(`${((f[12] << 8) | f[13]).toString(16)} ${f[20]} ${f.length}`);
    },
    close(): void {},
  };
  const stack = createStack(
    { interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.2/24'], ipv6: [`${OUR}/64`] }], ipv6: { dadTransmits: 0, acceptRa: false } },
    { hooks },
  );
  stack.ndp.addStatic(PEER, PEER_MAC);
  const delivered: string[] = [];
  stack.udp.bind({ address: '::', port: 7 }).datagrams$.subscribe((d) => delivered.push(`${d.address}:${d.port} ${Buffer.from(d.payload).toString()}`));
  stack.tcp.listen({ port: 80 }).subscribe();
  sent.length = 0;
  return { stack, frames, delivered, sent };
}

/** Feeds the frames, and gives what the socket got, what was sent and every counter. */
function feed(run: Run, frames: Uint8Array[]): { delivered: string[]; sent: string[]; stats: unknown } {
  for (const f of frames) run.frames.next(f);
  const stats = JSON.parse(JSON.stringify(run.stack.stats())) as Record<string, unknown>;
  // The neighbour tables carry ages; the ISN of a SYN-ACK is the stack's own secret.
  delete stats.arp;
  for (const k of Object.keys(stats)) if (k.startsWith('neighbors')) delete stats[k];
  return { delivered: run.delivered, sent: run.sent, stats };
}

describe('stack: IPv6’s direct way in (frames past the hops while nothing observes them)', () => {
  const closeAfterTest = useCloseAfterEach<Stack>();
  const make = (hooks?: StackHooks): Run => {
    const run = stackWith(hooks);
    closeAfterTest(run.stack);
    return run;
  };

  it('takes a UDP datagram and a TCP segment from the link to the transport without IPv6’s Subject, and the long way while observed', () => {
    const run = make();
    const frame = frame6(udp6('x'), 17);
    const syn = frame6(syn6(80), 6);
    assert.equal(subjectDeliveries(() => run.frames.next(frame)), 1, 'only the link’s Subject: the direct way');
    assert.equal(subjectDeliveries(() => run.frames.next(syn)), 1, 'a TCP segment too');
    const sub = run.stack.taps.transport.up$.subscribe(() => {});
    assert.equal(subjectDeliveries(() => run.frames.next(frame)), 2, 'observed: through IPv6’s Subject');
    sub.unsubscribe();
    assert.equal(subjectDeliveries(() => run.frames.next(frame)), 1, 'unobserved again: the direct way');
    // A packet with an extension header always takes the long way.
    assert.equal(subjectDeliveries(() => run.frames.next(frame6(concat(options8(17), udp6('z')), 0))), 2);
    assert.deepEqual(run.delivered, [`${PEER}:4000 x`, `${PEER}:4000 x`, `${PEER}:4000 x`, `${PEER}:4000 z`]);
    assert.equal(run.sent.length, 1, 'the SYN-ACK');
  });

  it('gives the same deliveries, answers and counters as the long way for good, odd and malformed frames', () => {
    const direct = feed(make(), mixedFrames());
    // The long way: observers at the network and transport taps close both direct ways.
    const observedRun = make();
    const seen = { network: 0, transport: 0 };
    const subs: Subscription[] = [
      observedRun.stack.taps.network.up$.subscribe(() => seen.network++),
      observedRun.stack.taps.transport.up$.subscribe(() => seen.transport++),
    ];
    const long = feed(observedRun, mixedFrames());
    for (const s of subs) s.unsubscribe();
    assert.deepEqual(direct.delivered, [
      `${PEER}:4000 one`,
      `${PEER}:4001 two`,
      `${PEER}:4000 hop limit 0`,
      `${PEER}:4000 all nodes`,
      `${PEER}:4000 hop-by-hop`,
      `${PEER}:4000 destination options`,
      `${PEER}:4000 a fragmented datagram, in two pieces`,
      `${PEER}:4000 padded`,
      `${PEER}:4000 one`,
    ]);
    assert.deepEqual(long.delivered, direct.delivered);
    assert.deepEqual(long.sent, direct.sent);
    assert.deepEqual(long.stats, direct.stats);
    // Answers: port unreachable (port 9), Parameter Problems (hop-by-hop not first, next header
    // 253), the SYN-ACK, the RST (port 81), the echo reply: all IPv6 (86dd), ICMPv6 (58) or TCP (6).
    assert.deepEqual(direct.sent.map((s) => s.split(' ').slice(0, 2).join(' ')), ['86dd 58', '86dd 58', '86dd 58', '86dd 6', '86dd 6', '86dd 58']);
    // Every IPv6 frame past Ethernet's filter (not the wrong MAC nor the unjoined group's) reaches the network tap;
    // every packet IPv6 delivers (the reassembled one once) the transport tap.
    assert.equal(seen.network, 26);
    assert.equal(seen.transport, 18);
    const s = direct.stats as { ipv6: { drops: Record<string, number>; rxDelivered: number }; udp: { drops: Record<string, number> }; tcp: { drops: Record<string, number> } };
    assert.equal(s.ipv6.drops.badVersion, 1);
    assert.equal(s.ipv6.drops.badPayloadLength, 1);
    assert.equal(s.ipv6.drops.truncated, 1);
    assert.equal(s.ipv6.drops.notForUs, 1, 'another host (an unjoined group never passes the MAC filter)');
    assert.equal(s.ipv6.drops.hopByHopNotFirst, 1);
    assert.equal(s.ipv6.drops.badSource, 1);
    assert.equal(s.udp.drops.badChecksum, 2, 'a wrong and a zero UDP checksum');
    assert.equal(s.tcp.drops.badChecksum, 1);
    assert.equal(s.tcp.drops.broadcast, 1, 'a SYN to a group');
  });

  it('shows every item to observe$ subscribers and to operators at the network and transport boundaries, with the same counters', () => {
    const direct = feed(make(), mixedFrames());
    const observing = make();
    let ipv6Seen = 0;
    let ethernetSeen = 0;
    const subs = [
      observing.stack.ipv6!.observe$(17).subscribe(() => ipv6Seen++),
      observing.stack.layers.interfaces[0].ethernet!.observe$(0x86dd).subscribe(() => ethernetSeen++),
    ];
    const observed = feed(observing, mixedFrames());
    for (const s of subs) s.unsubscribe();
    assert.equal(ethernetSeen, 26);
    assert.equal(ipv6Seen, 12, 'the UDP datagrams IPv6 delivered');
    assert.deepEqual(observed.delivered, direct.delivered);
    assert.deepEqual(observed.sent, direct.sent);
    assert.deepEqual(observed.stats, direct.stats);

    const counting = countingHooks();
    const hooked = feed(make(counting.hooks), mixedFrames());
    assert.equal(counting.count.network, 26);
    assert.equal(counting.count.transport, 18);
    assert.deepEqual(hooked.delivered, direct.delivered);
    assert.deepEqual(hooked.sent, direct.sent);
    assert.deepEqual(hooked.stats, direct.stats);
  });

  it('hands the protocols a record read in place while unobserved, and plain records a spread copy keeps while observed', () => {
    const run = make();
    const got: Ipv6Datagram[] = [];
    // A protocol of the user's over IPv6 (no direct way: through the demux) sees what the layer hands up.
    run.stack.ipv6Protocol(200).up$.subscribe((d) => got.push(d));
    run.frames.next(frame6(new Uint8Array([1, 2, 3]), 200));
    const sub = run.stack.ipv6!.observe$(17).subscribe(() => {});
    run.frames.next(frame6(new Uint8Array([4, 5, 6]), 200));
    sub.unsubscribe();
    assert.ok(got[0] instanceof ReceivedIpv6, 'unobserved: the received record');
    assert.deepEqual([...got[0].payload], [1, 2, 3]);
    assert.equal(got[0].packet.length, 43);
    assert.deepEqual([...got[0].src], [...ipv6Addr(PEER)]);
    assert.ok(!(got[1] instanceof ReceivedIpv6), 'observed: a plain record');
    const copy = { ...got[1] };
    assert.deepEqual([...copy.payload], [4, 5, 6]);
    assert.deepEqual([...copy.dst], [...ipv6Addr(OUR)]);
  });

  it('lets go of the direct way with the transports: a stack closed delivers nothing more', () => {
    const run = make();
    const frame = frame6(udp6('y'), 17);
    run.frames.next(frame);
    run.stack.close();
    run.frames.next(frame);
    assert.deepEqual(run.delivered, [`${PEER}:4000 y`]);
  });
});
