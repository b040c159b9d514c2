import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { delay, filter, map, tap } from 'rxjs';
import { memoryPair } from '../stack/memory-pair.js';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import type { Link } from '../../../streams/links/link.js';
import { advance } from '../stack/raw-peer.js';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { linkBoundary } from '../../../streams/pipeline/link-boundary.js';
import { EthernetLayer } from '../../../streams/stack/ethernet-layer.js';
import { Ipv4Layer, type Ipv4Datagram, type Ipv4Send } from '../../../streams/stack/ipv4-layer.js';
import type { Sink } from '../../../streams/pipeline/boundary.js';
import { staticNeighbors } from '../../../streams/stack/static-neighbors.js';
import { TcpLayer, type TcpSegmentIn, type TcpSegmentOut } from '../../../streams/stack/tcp-layer.js';
import { UdpLayer } from '../../../streams/stack/udp-layer.js';
import type { NeighborBoundary, NextHopPacket } from '../../../streams/stack/arp-layer.js';
import { netInterface } from '../../../streams/stack/net-interface.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import type { ReceivedDatagram } from '../../../streams/stack/udp-endpoint.js';
import { DEFAULT_PROTOCOL_CONFIGS } from '../../../src/config/protocol-config.js';
import { EtherType } from '../../../src/wire/ethernet.js';
import { IpProtocol } from '../../../src/wire/ipv4.js';
import { TcpFlags } from '../../../src/wire/tcp.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { ipv4Addr } from '../../../src/ipv4/address.js';

const newScheduler = (): TestScheduler => new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const A = ipv4Addr('198.18.0.1');
const B = ipv4Addr('198.18.0.2');

/**
 * A sink in front of `below` that records every record handed to it (and its destination and
 * length at that moment, before it may be refilled), declaring `retainsNothing` as asked.
 */
function recordingSink(below: Sink<Ipv4Send>, retainsNothing: boolean): { down: Sink<Ipv4Send>; records: Ipv4Send[]; seen: Array<{ dst: number; length: number }> } {
  const records: Ipv4Send[] = [];
  const seen: Array<{ dst: number; length: number }> = [];
  const down: Sink<Ipv4Send> = {
    next: (s) => {
      records.push(s);
      seen.push({ dst: s.dst, length: s.pb.length });
      below.next(s);
    },
    partialChecksum: below.partialChecksum,
    retainsNothing,
  };
  return { down, records, seen };
}

describe('pipeline: the stack as composed layers', () => {
  it('hooks.tcp.up sees checked segments with their datagram, and may drop them: no RST for a port it hides', () => {
    const ts = newScheduler();
    const seen: number[] = [];
    const p = memoryPair({
      scheduler: ts,
      hooksB: { tcp: { up: (s$) => s$.pipe(tap((s: TcpSegmentIn) => seen.push(s.segment.dstPort)), filter((s) => s.segment.dstPort !== 81)) } },
    });
    const errors: string[] = [];
    p.a.tcp.connect({ address: '198.18.0.2', port: 80 }).subscribe({ error: (e) => errors.push(e.code) });
    p.a.tcp.connect({ address: '198.18.0.2', port: 81 }).subscribe({ error: (e) => errors.push(e.code) });
    advance(ts, 100);
    assert.deepEqual(errors, ['ECONNREFUSED'], 'port 80 is refused; port 81 is silent');
    assert.deepEqual([...new Set(seen)].sort(), [80, 81]);
    assert.equal(p.b.stats().tcp.rstSent, 1);
    p.close();
  });

  it('hooks.tcp.down sees segments before their header, and a delaying operator keeps the transfer byte-exact', () => {
    const ts = newScheduler();
    const flags: number[] = [];
    const p = memoryPair({
      scheduler: ts,
      hooksA: { tcp: { down: (s$) => s$.pipe(tap((s: TcpSegmentOut) => flags.push(s.segment.flags)), delay(3, ts)) } },
    });
    let server: TcpConnection | undefined;
    const got: Uint8Array[] = [];
    p.b.tcp.listen({ port: 9 }).subscribe((c) => {
      server = c;
      c.data$.subscribe((chunk) => got.push(chunk.slice()));
    });
    const data = new Uint8Array(200_000).map((_, i) => (i * 31) & 0xff);
    p.a.tcp.connect({ address: '198.18.0.2', port: 9 }).subscribe((c) => {
      c.write(data);
      c.end();
    });
    advance(ts, 5_000);
    assert.ok(server !== undefined);
    const all = new Uint8Array(got.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of got) {
      all.set(c, at);
      at += c.length;
    }
    assert.equal(all.length, data.length);
    assert.deepEqual(all, data);
    assert.ok(flags.some((f) => (f & TcpFlags.SYN) !== 0) && flags.some((f) => (f & TcpFlags.FIN) !== 0));
    assert.equal(p.b.stats().tcp.drops['badChecksum'], 0, 'TCP wrote whole checksums under the operator');
    p.close();
  });

  it('hooks.udp rewrites datagrams on the way to the sockets and may drop them on the way out', () => {
    const ts = newScheduler();
    const p = memoryPair({
      scheduler: ts,
      hooksB: { udp: { up: map((d) => ({ ...d, payload: enc(dec(d.payload).toUpperCase()) })) } },
      hooksA: { udp: { down: filter((d) => d.dstPort !== 9) } },
    });
    const got: string[] = [];
    const sock = p.b.udp.bind({ port: 7 });
    const sock9 = p.b.udp.bind({ port: 9 });
    sock.datagrams$.subscribe((d: ReceivedDatagram) => got.push(dec(d.payload)));
    sock9.datagrams$.subscribe((d: ReceivedDatagram) => got.push(`9:${dec(d.payload)}`));
    const client = p.a.udp.bind();
    client.send(enc('quiet'), { address: '198.18.0.2', port: 7 });
    client.send(enc('dropped'), { address: '198.18.0.2', port: 9 });
    advance(ts, 100);
    assert.deepEqual(got, ['QUIET']);
    p.close();
  });

  it('taps see frames and datagrams both ways without claiming or changing anything', () => {
    const ts = newScheduler();
    const p = memoryPair({ scheduler: ts });
    let framesUp = 0;
    let framesDown = 0;
    const protocolsUp: number[] = [];
    const protocolsDown: number[] = [];
    p.b.taps.link.up$.subscribe(() => framesUp++);
    p.b.taps.link.down$.subscribe(() => framesDown++);
    p.b.taps.transport.up$.subscribe((d) => protocolsUp.push(d.protocol));
    p.b.taps.transport.down$.subscribe((s) => protocolsDown.push(s.protocol));
    const replies: number[] = [];
    p.a.icmp.ping('198.18.0.2', { count: 2, interval: 10 }).subscribe((r) => replies.push(r.seq));
    advance(ts, 100);
    assert.deepEqual(replies, [0, 1]);
    assert.ok(framesUp >= 3 && framesDown >= 3, `${framesUp} up, ${framesDown} down (ARP and two echoes each way)`);
    assert.deepEqual(protocolsUp, [1, 1]);
    assert.deepEqual(protocolsDown, [1, 1]);
    p.close();
  });

  it('observe$ at the Ethernet layer watches ARP without claiming it; ARP still works', () => {
    const ts = newScheduler();
    const p = memoryPair({ scheduler: ts });
    const arpFrames: number[] = [];
    p.b.layers.interfaces[0].ethernet!.observe$(EtherType.ARP).subscribe((f) => arpFrames.push(f.length));
    const replies: number[] = [];
    p.a.icmp.ping('198.18.0.2').subscribe((r) => replies.push(r.seq));
    advance(ts, 100);
    assert.deepEqual(replies, [0]);
    assert.ok(arpFrames.length >= 1, 'the ARP request from a was seen');
    assert.ok(p.b.stats()['arp:eth0'].rxRequests >= 1, 'and ARP answered it');
    p.close();
  });

  it('a transport of your own on an IP protocol number; TCP’s number is taken', () => {
    const ts = newScheduler();
    const p = memoryPair({ scheduler: ts });
    const got: Ipv4Datagram[] = [];
    p.b.ipv4Protocol(253).up$.subscribe((d) => got.push(d));
    const errors: string[] = [];
    p.b.ipv4Protocol(IpProtocol.TCP).up$.subscribe({ error: (e) => errors.push(e.code) });
    const port = p.a.ipv4Protocol(253);
    port.down.next({ pb: PacketBuffer.withPayload(enc('own')), dst: B, protocol: 253 });
    advance(ts, 100);
    assert.equal(got.length, 1);
    assert.equal(dec(got[0].payload), 'own');
    assert.equal(got[0].src, A);
    assert.deepEqual(errors, ['EADDRINUSE']);
    assert.equal(p.b.stats().icmp.txErrors, 0, 'no protocol unreachable: 253 is claimed');
    assert.throws(() => p.b.ipv4Protocol(256), { code: 'ERR_INVALID_ARG_VALUE' });
    p.close();
  });

  it('a stack assembled by hand without ARP or ICMP: TCP to its static neighbour works, an unknown next hop is EHOSTUNREACH', () => {
    const ts = newScheduler();
    const { ours, theirs, ethernet, ipv4 } = ipv4WithStaticNeighbour(ts);
    const tcp = new TcpLayer(ipv4.protocol(IpProtocol.TCP), ts, DEFAULT_PROTOCOL_CONFIGS.tcp);
    tcp.start();
    const peer = peerKnowing(ours, theirs, ts);
    const echoed: string[] = [];
    tcp.listen({ port: 7 }).subscribe((c) => c.data$.subscribe((d) => c.write(d)));
    peer.tcp.connect({ address: '198.18.0.2', port: 7 }).subscribe((c) => {
      c.data$.subscribe((d) => echoed.push(dec(d)));
      c.write(enc('hand-made'));
    });
    const errors: string[] = [];
    tcp.connect({ address: '198.18.0.3', port: 7 }).subscribe({ error: (e) => errors.push(e.code) });
    advance(ts, 100);
    assert.deepEqual(echoed, ['hand-made']);
    assert.deepEqual(errors, ['EHOSTUNREACH']);
    assert.equal(peer.stats().icmp.rxMessages, 0, 'nothing answers with ICMP');
    tcp.close();
    ipv4.close();
    ethernet.close();
    peer.close();
  });

  for (const retainsNothing of [true, false]) {
    it(`TCP over an IPv4 port whose sink ${retainsNothing ? 'keeps no record: one record refilled for every segment, emptied after each' : 'may keep records: a record per segment'}`, () => {
      const ts = newScheduler();
      const { ours, theirs, ethernet, ipv4 } = ipv4WithStaticNeighbour(ts);
      const port = ipv4.protocol(IpProtocol.TCP);
      assert.equal(port.down.retainsNothing, true, 'IPv4 keeps no record of what it is given');
      const { down, records, seen } = recordingSink(port.down, retainsNothing);
      const tcp = new TcpLayer({ ...port, down }, ts, DEFAULT_PROTOCOL_CONFIGS.tcp);
      tcp.start();
      const peer = peerKnowing(ours, theirs, ts);
      const echoed: string[] = [];
      tcp.listen({ port: 7 }).subscribe((c) => c.data$.subscribe((d) => c.write(d)));
      peer.tcp.connect({ address: '198.18.0.2', port: 7 }).subscribe((c) => {
        c.data$.subscribe((d) => {
          echoed.push(dec(d));
          if (echoed.length < 3) c.write(enc(`again ${echoed.length}`));
        });
        c.write(enc('hand-made'));
      });
      advance(ts, 100);
      assert.deepEqual(echoed, ['hand-made', 'again 1', 'again 2'], 'the same exchange either way');
      assert.ok(seen.length >= 4, 'a SYN-ACK and three replies went down');
      assert.ok(seen.every((s) => s.dst === A));
      assert.ok(seen.some((s) => s.length > 20), 'segments with data among them');
      const distinct = new Set(records).size;
      if (retainsNothing) {
        assert.equal(distinct, 1, 'one record for every segment');
        assert.equal(records[0].pb.length, 0, 'holding no packet between segments');
        assert.equal(records[0].onError, undefined);
      } else {
        assert.equal(distinct, records.length, 'a record of its own for each segment');
      }
      tcp.close();
      ipv4.close();
      ethernet.close();
      peer.close();
    });
  }

  for (const retainsNothing of [true, false]) {
    it(`UDP over an IPv4 port whose sink ${retainsNothing ? 'keeps no record: one record refilled for every datagram, emptied after each' : 'may keep records: a record per datagram'}`, () => {
      const ts = newScheduler();
      const { ours, theirs, ethernet, ipv4 } = ipv4WithStaticNeighbour(ts);
      const port = ipv4.protocol(IpProtocol.UDP);
      const { down, records, seen } = recordingSink(port.down, retainsNothing);
      const udp = new UdpLayer({ ...port, down }, DEFAULT_PROTOCOL_CONFIGS.udp);
      udp.start();
      const echo = udp.bind({ port: 7 });
      echo.datagrams$.subscribe((d) => echo.send(d.payload, d));
      const peer = peerKnowing(ours, theirs, ts);
      const client = peer.udp.bind({});
      const echoed: string[] = [];
      client.datagrams$.subscribe((d) => echoed.push(dec(d.payload)));
      for (const text of ['one', 'two', 'three']) client.send(enc(text), { address: '198.18.0.2', port: 7 });
      advance(ts, 10);
      assert.deepEqual(echoed, ['one', 'two', 'three'], 'the same exchange either way');
      assert.deepEqual(seen, [{ dst: A, length: 11 }, { dst: A, length: 11 }, { dst: A, length: 13 }], 'each datagram as sent');
      const distinct = new Set(records).size;
      if (retainsNothing) {
        assert.equal(distinct, 1, 'one record for every datagram');
        assert.equal(records[0].pb.length, 0, 'holding no packet between datagrams');
        assert.equal(records[0].onError, undefined);
      } else {
        assert.equal(distinct, 3, 'a record of its own for each datagram');
      }
      udp.close();
      ipv4.close();
      ethernet.close();
      peer.close();
    });

    it(`IPv4 over a neighbour boundary that ${retainsNothing ? 'keeps no record: one Ipv4Outbound refilled for every packet, emptied after each' : 'may keep records: a record per packet'}`, () => {
      const ts = newScheduler();
      const [ours, theirs] = createMemoryWire({ scheduler: ts });
      const eth0 = netInterface({ name: 'eth0', link: ours, ipv4: ['198.18.0.2/24'] });
      const ethernet = new EthernetLayer(eth0, linkBoundary(ours));
      const ipv4 = new Ipv4Layer({ scheduler: ts, ...DEFAULT_PROTOCOL_CONFIGS.ipv4 });
      const lower = staticNeighbors(ethernet.protocol(EtherType.IPV4), (hop) => (hop === A ? theirs.mac : undefined));
      assert.equal(lower.down.retainsNothing, true, 'static neighbours keep no record');
      const records: NextHopPacket[] = [];
      const seen: Array<{ nextHop: number; length: number }> = [];
      const boundary: NeighborBoundary = {
        up$: lower.up$,
        down: {
          next: (p) => {
            records.push(p);
            seen.push({ nextHop: p.nextHop, length: p.pb.length });
            lower.down.next(p);
          },
          partialChecksum: lower.down.partialChecksum,
          retainsNothing,
        },
      };
      ipv4.attach(eth0, boundary);
      const frames: Uint8Array[] = [];
      theirs.frames$.subscribe((f) => frames.push(f));
      for (let i = 0; i < 3; i++) {
        const pb = PacketBuffer.withPayload(enc(`datagram ${i}`));
        assert.equal(ipv4.send(pb, { dst: A, protocol: 253 }), undefined);
      }
      advance(ts, 10);
      assert.equal(frames.length, 3, 'three frames on the wire either way');
      assert.deepEqual(seen, [0, 1, 2].map(() => ({ nextHop: A, length: 30 })));
      const distinct = new Set(records).size;
      if (retainsNothing) {
        assert.equal(distinct, 1, 'one record for every packet');
        assert.equal(records[0].pb.length, 0, 'holding no packet between packets');
      } else {
        assert.equal(distinct, 3, 'a record of its own for each packet');
      }
      ipv4.close();
      ethernet.close();
    });
  }

  it('the network tap\'s observers get a record of their own for each packet (IPv4 refills one below the tap)', () => {
    const ts = newScheduler();
    const p = memoryPair({ scheduler: ts });
    const tapped: Array<{ dst: number; length: number }> = [];
    const objects = new Set<object>();
    const sub = p.b.taps.network.down$.subscribe((o) => {
      objects.add(o);
      tapped.push({ dst: (o as { dst: number }).dst, length: (o as { pb: PacketBuffer }).pb.length });
    });
    const echo = p.b.udp.bind({ port: 7 });
    echo.datagrams$.subscribe((d) => echo.send(d.payload, d));
    const client = p.a.udp.bind({});
    const echoed: string[] = [];
    client.datagrams$.subscribe((d) => echoed.push(dec(d.payload)));
    for (const text of ['a', 'bb']) client.send(enc(text), { address: '198.18.0.2', port: 7 });
    advance(ts, 100);
    assert.deepEqual(echoed, ['a', 'bb']);
    const udpOut = tapped.filter((t) => t.length === 29 || t.length === 30);
    assert.deepEqual(udpOut, [{ dst: A, length: 29 }, { dst: A, length: 30 }], 'each reply as it went, kept by the observer');
    assert.equal(objects.size, tapped.length, 'no record shown twice');
    sub.unsubscribe();
    p.close();
  });
});

/** An ordinary stack at 198.18.0.1 on `link`. */
/**
 * Ethernet and IPv4 put together by hand on our end of a memory wire (198.18.0.2/24), without
 * ARP: 198.18.0.1 is a static neighbour at the other end's MAC.
 */
function ipv4WithStaticNeighbour(ts: TestScheduler) {
  const [ours, theirs] = createMemoryWire({ scheduler: ts });
  const eth0 = netInterface({ name: 'eth0', link: ours, ipv4: ['198.18.0.2/24'] });
  const ethernet = new EthernetLayer(eth0, linkBoundary(ours));
  const ipv4 = new Ipv4Layer({ scheduler: ts, ...DEFAULT_PROTOCOL_CONFIGS.ipv4 });
  ipv4.attach(eth0, staticNeighbors(ethernet.protocol(EtherType.IPV4), (hop) => (hop === A ? theirs.mac : undefined)));
  return { ours, theirs, ethernet, ipv4 };
}

/** A whole stack at the other end of the wire, 198.18.0.2 in its ARP table as our MAC (we answer no ARP). */
function peerKnowing(ours: Link, theirs: Link, ts: TestScheduler): Stack {
  const peer = memoryPairPeer(theirs, ts);
  peer.arp.addStatic('198.18.0.2', [...ours.mac!].map((b) => b.toString(16).padStart(2, '0')).join(':'));
  return peer;
}

function memoryPairPeer(link: Link, scheduler: TestScheduler): Stack {
  return createStack({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.1/24'] }] }, { scheduler });
}
