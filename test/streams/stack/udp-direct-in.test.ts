import assert from 'node:assert/strict';
import type { Subscription } from 'rxjs';
import { createStack, type Stack, type StackHooks } from '../../../streams/stack/create-stack.js';
import { countingHooks } from '../../helpers/counting-hooks.js';
import { PacketSubject } from '../../../streams/pipeline/packet-subject.js';
import { subjectDeliveries } from '../../helpers/subject-deliveries.js';
import { useCloseAfterEach } from '../../helpers/close-after-each.js';
import { arpRequestFrame, ethernetFrame, icmpEchoFrame, ipv4Frame, udpFrame } from '../../../streams/testing/frames.js';

// On the plain stack an IPv4 frame goes from Ethernet's filter straight to IPv4's input, and a
// UDP datagram from IPv4's checks straight to UDP's input (the direct way in, DirectIn in
// streams/pipeline/up-stream.ts). These tests pin what it must keep: the same deliveries and
// counters as the long way for good, odd and malformed frames, and every tap observer,
// observe$ subscriber and operator still seeing every item (they close the direct way).

const OUR_MAC = '02:00:00:00:00:02';
const PEER_MAC = '02:00:00:00:00:01';
const OUR = '198.18.0.2';
const PEER = '198.18.0.1';
const eth = { src: PEER_MAC, dst: OUR_MAC };
const ip = { src: PEER, dst: OUR };

/** A UDP datagram's bytes (header and payload, checksum over PEER -> OUR) cut out of a frame. */
function udpBytes(payload: string, dstPort = 7): Uint8Array {
  return udpFrame({ eth, ip, udp: { srcPort: 4000, dstPort }, payload }).slice(34);
}

/** Good, odd and malformed frames, each handled its own way by the layers. */
function mixedFrames(): Uint8Array[] {
  const good = udpFrame({ eth, ip, udp: { srcPort: 4000, dstPort: 7 }, payload: 'one' });
  const badIpChecksum = good.slice();
  badIpChecksum[24] ^= 0xff;
  const badUdpChecksum = good.slice();
  badUdpChecksum[badUdpChecksum.length - 1] ^= 0x01;
  const whole = udpBytes('a fragmented datagram');
  const truncatedIp = good.slice(0, 14 + 10);
  const shortUdp = ipv4Frame({ eth, ip, protocol: 17, payload: new Uint8Array([0, 1, 0, 7]) });
  return [
    good,
    udpFrame({ eth, ip, udp: { srcPort: 4001, dstPort: 7 }, payload: 'two' }),
    udpFrame({ eth, ip, udp: { srcPort: 4000, dstPort: 9 }, payload: 'no socket' }),
    udpFrame({ eth, ip: { ...ip, options: new Uint8Array([1, 1, 1, 0]) }, udp: { srcPort: 4000, dstPort: 7 }, payload: 'options' }),
    udpFrame({ eth: { src: PEER_MAC, dst: 'ff:ff:ff:ff:ff:ff' }, ip: { src: PEER, dst: '198.18.0.255' }, udp: { srcPort: 4000, dstPort: 7 }, payload: 'broadcast' }),
    udpFrame({ eth: { src: PEER_MAC, dst: '02:00:00:00:00:99' }, ip, udp: { srcPort: 4000, dstPort: 7 }, payload: 'wrong MAC' }),
    udpFrame({ eth, ip: { src: PEER, dst: '198.18.0.77' }, udp: { srcPort: 4000, dstPort: 7 }, payload: 'other host' }),
    udpFrame({ eth, ip: { ...ip, ttl: 0 }, udp: { srcPort: 4000, dstPort: 7 }, payload: 'ttl 0' }),
    badIpChecksum,
    badUdpChecksum,
    truncatedIp,
    shortUdp,
    good.slice(0, 10),
    ipv4Frame({ eth, ip: { ...ip, ident: 9, moreFragments: true }, protocol: 17, payload: whole.subarray(0, 16) }),
    ipv4Frame({ eth, ip: { ...ip, ident: 9, fragmentOffset: 16 }, protocol: 17, payload: whole.subarray(16) }),
    icmpEchoFrame({ eth, ip, ident: 1, seq: 1 }),
    arpRequestFrame({ senderMac: PEER_MAC, senderIp: PEER, targetIp: OUR }),
    ethernetFrame({ eth: { ...eth, vlan: { id: 5 } }, ethertype: 0x0800, payload: good.subarray(14) }),
    ethernetFrame({ eth, ethertype: 0x88b5, payload: 'unknown' }),
    good,
  ];
}

interface Run {
  readonly stack: Stack;
  readonly frames: PacketSubject<Uint8Array>;
  readonly delivered: string[];
}

/** A stack on a link fed by hand, the peer a static neighbour, a socket on port 7 recording what it gets. */
function stackWith(hooks?: StackHooks): Run {
  const frames = new PacketSubject<Uint8Array>();
  const link = { name: 'in0', mtu: 1500, mac: new Uint8Array([2, 0, 0, 0, 0, 2]), frames$: frames.asObservable(), send(): void {}, close(): void {} };
  const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: [`${OUR}/24`] }] }, { hooks });
  stack.arp.addStatic(PEER, PEER_MAC);
  const delivered: string[] = [];
  stack.udp.bind({ port: 7 }).datagrams$.subscribe((d) => delivered.push(`${d.address}:${d.port} ${Buffer.from(d.payload).toString()}`));
  return { stack, frames, delivered };
}

/** Feeds the frames, and gives what the socket got and every counter (the ARP table's ages left out). */
function feed(run: Run, frames: Uint8Array[]): { delivered: string[]; stats: unknown } {
  for (const f of frames) run.frames.next(f);
  return { delivered: run.delivered, stats: JSON.parse(JSON.stringify(run.stack.stats())) };
}

describe('stack: the direct way in (IPv4/UDP frames past the hops while nothing observes them)', () => {
  const closeAfterTest = useCloseAfterEach<Stack>();
  const make = (hooks?: StackHooks): Run => {
    const run = stackWith(hooks);
    closeAfterTest(run.stack);
    return run;
  };

  it('takes a datagram from the link to the socket without IPv4’s Subject on the plain stack, and the long way while observed', () => {
    const run = make();
    const frame = udpFrame({ eth, ip, udp: { srcPort: 4000, dstPort: 7 }, payload: 'x' });
    assert.equal(subjectDeliveries(() => run.frames.next(frame)), 1, 'only the link’s Subject: the direct way');
    const sub = run.stack.taps.transport.up$.subscribe(() => {});
    assert.equal(subjectDeliveries(() => run.frames.next(frame)), 2, 'observed: through IPv4’s Subject');
    sub.unsubscribe();
    assert.equal(subjectDeliveries(() => run.frames.next(frame)), 1, 'unobserved again: the direct way');
    assert.deepEqual(run.delivered, [`${PEER}:4000 x`, `${PEER}:4000 x`, `${PEER}:4000 x`]);
  });

  it('gives the same deliveries and counters as the long way for good, odd and malformed frames', () => {
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
      `${PEER}:4000 options`,
      `${PEER}:4000 broadcast`,
      `${PEER}:4000 a fragmented datagram`,
      `${PEER}:4000 one`,
    ]);
    assert.deepEqual(long.delivered, direct.delivered);
    assert.deepEqual(long.stats, direct.stats);
    // Every IPv4 frame past Ethernet's filter (the tagged one and the wrong MAC are not) reaches
    // the network tap; every datagram IPv4 delivers (the reassembled one once) the transport tap (the ICMP echo too).
    assert.equal(seen.network, 15);
    assert.equal(seen.transport, 10);
    const s = direct.stats as { ipv4: { drops: Record<string, number> }; udp: { drops: Record<string, number> }; ethernet: Array<{ drops: Record<string, number> }> };
    assert.equal(s.ipv4.drops.badChecksum, 1);
    assert.equal(s.udp.drops.badChecksum, 1);
  });

  it('shows every item to observe$ subscribers and to operators at the network and transport boundaries, with the same counters', () => {
    const direct = feed(make(), mixedFrames());
    const observing = make();
    let ipv4Seen = 0;
    let ethernetSeen = 0;
    const subs = [
      observing.stack.ipv4.observe$(17).subscribe(() => ipv4Seen++),
      observing.stack.layers.interfaces[0].ethernet!.observe$(0x0800).subscribe(() => ethernetSeen++),
    ];
    const observed = feed(observing, mixedFrames());
    for (const s of subs) s.unsubscribe();
    assert.equal(ethernetSeen, 15);
    assert.equal(ipv4Seen, 9, 'the UDP datagrams IPv4 delivered');
    assert.deepEqual(observed.delivered, direct.delivered);
    assert.deepEqual(observed.stats, direct.stats);

    const counting = countingHooks();
    const hooked = feed(make(counting.hooks), mixedFrames());
    assert.equal(counting.count.network, 15);
    assert.equal(counting.count.transport, 10);
    assert.deepEqual(hooked.delivered, direct.delivered);
    assert.deepEqual(hooked.stats, direct.stats);
  });

  it('lets go of the direct way with the socket layer: a stack closed delivers nothing more', () => {
    const run = make();
    const frame = udpFrame({ eth, ip, udp: { srcPort: 4000, dstPort: 7 }, payload: 'y' });
    run.frames.next(frame);
    run.stack.close();
    run.frames.next(frame);
    assert.deepEqual(run.delivered, [`${PEER}:4000 y`]);
  });
});
