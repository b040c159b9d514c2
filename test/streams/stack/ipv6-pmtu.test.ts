import assert from 'node:assert/strict';
import { filter, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { createStack, type StackHooks } from '../../../streams/stack/create-stack.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import { advance, stat } from './raw-peer.js';
import { pattern, concat } from './tcp-helpers.js';
import { EtherType, emitEthernet, parseEthernet } from '../../../src/wire/ethernet.js';
import { emitIpv6Header, parseIpv6Header, Ipv6NextHeader } from '../../../src/wire/ipv6.js';
import { emitIcmpv6 } from '../../../src/wire/icmpv6.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { parseMac } from '../../../src/mac.js';
import { parseTcp } from '../../../src/wire/tcp.js';
import { IpProtocol } from '../../../src/wire/ipv4.js';
import { ipv6Addr } from '../../../src/ipv6/address.js';

/** Addresses usable at once: no duplicate address detection, no router advertisements. */
const NO_DAD = { dadTransmits: 0, acceptRa: false } as const;
const A6 = 'fd00:198:18::1';
const B6 = 'fd00:198:18::2';
/** The router that sends the Packet Too Big messages (a stranger on the path). */
const ROUTER = 'fd00:198:18::fe';
const MAC_A = parseMac('02:00:00:00:00:01')!;
const MAC_B = parseMac('02:00:00:00:00:02')!;
const EMPTY = new Uint8Array(0);

/** A Packet Too Big from ROUTER to a, quoting `invoking` (an IPv6 packet), cut to fit 1280 bytes. */
function packetTooBig(mtu: number, invoking: Uint8Array): Uint8Array {
  const pb = PacketBuffer.withPayload(invoking.subarray(0, Math.min(invoking.length, 1280 - 48)));
  const src = ipv6Addr(ROUTER);
  const dst = ipv6Addr(A6);
  emitIcmpv6({ kind: 'packet-too-big', mtu, quoted: EMPTY }, pb, { src, dst });
  emitIpv6Header({ src, dst, nextHeader: Ipv6NextHeader.ICMPV6, hopLimit: 64 }, pb);
  emitEthernet({ dst: MAC_A, src: MAC_B, ethertype: EtherType.IPV6 }, pb);
  return pb.bytes().slice();
}

/** The IPv6 packet in a frame, if it carries one. */
function ipv6Of(frame: Uint8Array): Uint8Array | undefined {
  const eth = parseEthernet(frame);
  return eth.ok && eth.value.ethertype === EtherType.IPV6 ? eth.value.payload : undefined;
}

interface Hop {
  /** The next hop's MTU: larger IPv6 packets from a are dropped and answered with Packet Too Big. */
  mtu: number;
  /** The MTU the Packet Too Big names (default: `mtu`). */
  advertised?: number;
  /** IPv6 packets from a that reached b, as sent. */
  readonly passed: Uint8Array[];
  ptbSent: number;
}

/**
 * Two stacks on a memory wire in virtual time; between them (b's link input) a "router" whose
 * next hop carries `hop.mtu` bytes: a bigger IPv6 packet from a is dropped and a gets a Packet
 * Too Big quoting it, from the wire, as a raw peer would send it.
 */
function narrowPath(ts: TestScheduler, hop: Hop) {
  const [la, lb] = createMemoryWire({ mtu: 1500, scheduler: ts });
  const router = filter((frame: Uint8Array) => {
    const packet = ipv6Of(frame);
    if (packet === undefined || frame[6] !== MAC_A[0] || frame[11] !== MAC_A[5]) return true;
    if (packet.length <= hop.mtu) {
      hop.passed.push(packet.slice());
      return true;
    }
    hop.ptbSent++;
    const ptb = packetTooBig(hop.advertised ?? hop.mtu, packet.slice());
    ts.schedule(() => lb.send(ptb), 1);
    return false;
  });
  const hooksB: StackHooks = { link: { up: router } };
  const a = createStack({ interfaces: [{ name: 'eth0', link: la, mac: '02:00:00:00:00:01', ipv4: ['198.18.0.1/24'], ipv6: [`${A6}/64`] }], ipv6: NO_DAD }, { scheduler: ts });
  const b = createStack({ interfaces: [{ name: 'eth0', link: lb, mac: '02:00:00:00:00:02', ipv4: ['198.18.0.2/24'], ipv6: [`${B6}/64`] }], ipv6: NO_DAD }, { scheduler: ts, hooks: hooksB });
  return { a, b, la, lb, close: () => { a.close(); b.close(); } };
}

/** TCP payload lengths of the packets among `packets`. */
function tcpPayloads(packets: readonly Uint8Array[]): number[] {
  const out: number[] = [];
  for (const p of packets) {
    const ip = parseIpv6Header(p);
    if (!ip.ok || ip.value.nextHeader !== IpProtocol.TCP) continue;
    const t = parseTcp(ip.value.payload, 0, 0, { verifyChecksum: false });
    if (t.ok) out.push(t.value.payload.length);
  }
  return out;
}

/** a connects to an echo-less sink on b and writes `bytes`; returns the connection and what b got. */
function transfer(ts: TestScheduler, p: ReturnType<typeof narrowPath>, bytes: Uint8Array) {
  const got: Uint8Array[] = [];
  const subs: Subscription[] = [p.b.tcp.listen({ port: 9 }).subscribe((c) => c.data$.subscribe((x) => got.push(x.slice())))];
  let conn: TcpConnection | undefined;
  subs.push(p.a.tcp.connect({ address: B6, port: 9 }).subscribe((c) => (conn = c)));
  advance(ts, 10);
  assert.ok(conn, 'connected');
  conn.write(bytes);
  advance(ts, 100); // far below the 1 s initial RTO
  return { conn, got, subs };
}

describe('stack: IPv6 path MTU (RFC 8201, memory wire)', () => {
  it('a Packet Too Big about a TCP segment in flight lowers the MSS to MTU - 60 and resends at once, byte-exact', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const hop: Hop = { mtu: 1400, passed: [], ptbSent: 0 };
    const p = narrowPath(ts, hop);
    const payload = pattern(40_000, 5);
    const { conn, got, subs } = transfer(ts, p, payload);
    try {
      assert.deepEqual(concat(got), payload, 'everything arrived, byte-exact');
      assert.ok(hop.ptbSent >= 1);
      const sizes = tcpPayloads(hop.passed).filter((n) => n > 0);
      // 1400 - 40 (IPv6) - 20 (TCP) - 12 (timestamps)
      assert.equal(Math.max(...sizes), 1400 - 60 - 12, `segments after the PTB fill 1400-byte packets: ${sizes}`);
      assert.equal(conn.counters.pmtuChanges, 1);
      assert.equal(conn.counters.timeouts, 0, 'resent at once, not after a timeout');
      assert.equal(conn.info().pmtu, 1400);
      assert.equal(conn.info().sendMss, 1400 - 60 - 12);
      assert.equal(stat(p.a, 'icmpv6', 'rxPacketTooBig'), hop.ptbSent);
      assert.equal(stat(p.a, 'ipv6', 'pmtuLowered'), 1, 'the destination cache learnt it once');
      assert.deepEqual(p.a.ipv6!.pmtu.entries().map((e) => e.mtu), [1400]);
    } finally {
      for (const s of subs) s.unsubscribe();
      p.close();
    }
  });

  it('a Packet Too Big quoting a sequence number outside SND.UNA..SND.NXT is ignored and counted (RFC 5927 4.1)', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const hop: Hop = { mtu: 1500, passed: [], ptbSent: 0 };
    const p = narrowPath(ts, hop);
    const { conn, got, subs } = transfer(ts, p, pattern(20_000, 2));
    try {
      assert.equal(concat(got).length, 20_000);
      const data = hop.passed.find((x) => tcpPayloads([x])[0] > 1000);
      assert.ok(data);
      // The quote of a segment long acknowledged: its sequence number is behind SND.UNA.
      const before = conn.counters.icmpIgnored;
      p.lb.send(packetTooBig(1300, data));
      // And one moved far ahead of SND.NXT.
      const ahead = data.slice();
      ahead[44] ^= 0x80;
      p.lb.send(packetTooBig(1300, ahead));
      advance(ts, 10);
      assert.equal(stat(p.a, 'icmpv6', 'rxPacketTooBig'), 2);
      assert.equal(conn.counters.icmpIgnored, before + 2);
      assert.equal(conn.counters.pmtuChanges, 0);
      assert.equal(conn.info().pmtu, 1500, 'the interface MTU');
      assert.equal(stat(p.a, 'ipv6', 'pmtuLowered'), 0, 'the cache learnt nothing');
      assert.equal(p.a.ipv6!.pmtu.size, 0);
    } finally {
      for (const s of subs) s.unsubscribe();
      p.close();
    }
  });

  it('a Packet Too Big naming less than 1280 is taken as 1280 (RFC 8201 4)', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const hop: Hop = { mtu: 1280, advertised: 600, passed: [], ptbSent: 0 };
    const p = narrowPath(ts, hop);
    const payload = pattern(30_000, 7);
    const { conn, got, subs } = transfer(ts, p, payload);
    try {
      assert.deepEqual(concat(got), payload);
      assert.equal(conn.info().pmtu, 1280);
      assert.equal(conn.info().sendMss, 1280 - 60 - 12);
      assert.equal(conn.counters.timeouts, 0);
      assert.ok(hop.passed.every((x) => x.length <= 1280));
      assert.deepEqual(p.a.ipv6!.pmtu.entries().map((e) => e.mtu), [1280]);
    } finally {
      for (const s of subs) s.unsubscribe();
      p.close();
    }
  });

  it('UDP: after a Packet Too Big, datagrams to that peer are fragmented to the path MTU; 10 minutes later the link MTU again', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const hop: Hop = { mtu: 1300, passed: [], ptbSent: 0 };
    const p = narrowPath(ts, hop);
    const received: Uint8Array[] = [];
    const server = p.b.udp.bind({ address: B6, port: 53 });
    const sub = server.datagrams$.subscribe((d) => received.push(d.payload.slice()));
    const client = p.a.udp.bind({ address: A6 });
    try {
      const first = pattern(1400, 1);
      client.send(first, { address: B6, port: 53 });
      advance(ts, 10);
      assert.equal(received.length, 0, 'the first datagram died at the narrow hop');
      assert.equal(hop.ptbSent, 1);
      assert.deepEqual(p.a.ipv6!.pmtu.entries().map((e) => e.mtu), [1300]);
      hop.passed.length = 0;
      const second = pattern(1400, 2);
      client.send(second, { address: B6, port: 53 });
      advance(ts, 10);
      assert.deepEqual(received, [second], 'the second came through, fragmented at the source');
      // The datagram's packets only (UDP, or fragments): a's own ICMPv6 (an MLD report behind
      // a hop-by-hop header, a router solicitation; sent after a random delay) may pass the hop
      // in the same window.
      const udpPackets = hop.passed.filter((x) => x[6] === Ipv6NextHeader.FRAGMENT || x[6] === IpProtocol.UDP);
      assert.ok(udpPackets.length === 2 && udpPackets.every((x) => x[6] === Ipv6NextHeader.FRAGMENT && x.length <= 1300), `fragments: ${hop.passed.map((x) => `${x[6]}:${x.length}`)}`);
      assert.equal(stat(p.a, 'ipv6', 'txFragments'), 2);
      // RFC 8201 5.3: aged back to the link MTU after 10 minutes; the next large datagram
      // goes whole (and meets the narrow hop again).
      advance(ts, 600_000);
      hop.passed.length = 0;
      client.send(pattern(1400, 3), { address: B6, port: 53 });
      advance(ts, 10);
      assert.equal(hop.ptbSent, 2, 'sent whole again, answered again');
      assert.equal(stat(p.a, 'ipv6', 'txFragments'), 2);
      assert.equal(stat(p.a, 'ipv6', 'pmtuLowered'), 2);
    } finally {
      sub.unsubscribe();
      server.close();
      client.close();
      p.close();
    }
  });

  it('Packet Too Big about nothing we sent is ignored: a foreign source counted, a UDP port without a socket counted', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const hop: Hop = { mtu: 1500, passed: [], ptbSent: 0 };
    const p = narrowPath(ts, hop);
    const server = p.b.udp.bind({ address: B6, port: 53 });
    const client = p.a.udp.bind({ address: A6 });
    try {
      client.send(pattern(100), { address: B6, port: 53 });
      advance(ts, 10);
      const sent = hop.passed[hop.passed.length - 1];
      // A quote whose source is not ours.
      const foreign = sent.slice();
      foreign[23] ^= 0x55;
      p.lb.send(packetTooBig(1300, foreign));
      // A quote from a port no socket holds.
      const stray = sent.slice();
      stray[40] ^= 0x01;
      p.lb.send(packetTooBig(1300, stray));
      advance(ts, 10);
      assert.equal(stat(p.a, 'icmpv6', 'drops', 'packetTooBigNotOurs'), 1);
      assert.equal(stat(p.a, 'udp', 'icmpErrorsIgnored'), 1);
      assert.equal(p.a.ipv6!.pmtu.size, 0);
    } finally {
      server.close();
      client.close();
      p.close();
    }
  });

  it('an echo request answered with Packet Too Big: the next large ping is fragmented to the path MTU', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const hop: Hop = { mtu: 1280, passed: [], ptbSent: 0 };
    const p = narrowPath(ts, hop);
    const replies: number[] = [];
    const errors: unknown[] = [];
    try {
      p.a.icmp.ping(B6, { count: 2, size: 1400, interval: 100, timeout: 1000 }).subscribe({ next: (r) => replies.push(r.seq), error: (e) => errors.push(e) });
      advance(ts, 300);
      assert.deepEqual(errors, []);
      assert.deepEqual(replies, [1], 'the first died at the narrow hop, the second was answered');
      assert.equal(hop.ptbSent, 1, 'only the first went whole');
      assert.deepEqual(p.a.ipv6!.pmtu.entries().map((e) => e.mtu), [1280]);
      assert.ok(hop.passed.some((x) => x[6] === Ipv6NextHeader.FRAGMENT), 'the second was fragmented');
    } finally {
      p.close();
    }
  });
});
