import assert from 'node:assert/strict';
import { map } from 'rxjs';
import { createStack, type Stack, type StackHooks } from '../../../streams/stack/create-stack.js';
import { PacketSubject } from '../../../streams/pipeline/packet-subject.js';
import type { UdpForwardSession } from '../../../streams/stack/udp-forwarder.js';
import type { UdpSocket } from '../../../streams/stack/udp-socket.js';
import { writeUdpHeader } from '../../../src/wire/udp.js';
import { IpProtocol } from '../../../src/wire/ipv4.js';
import { ipv4Packet, stat } from './raw-peer.js';
import { assertUdpChecksumsOk, countLongWay, withoutIpv4Id } from './fused-out-checks.js';

// On a link of bare IP packets (TUN) a datagram to IPv4 leaves by the fused way too (IPv4's
// WholeOut over the point-to-point boundary's PacketOut): one packet written by IPv4 and UDP,
// no packet object or record handed through the layers. What it must keep, as on Ethernet
// (udp-fused-out.test.ts): the bytes, the counters, and every observer and operator seeing
// every datagram. And the UDP forwarder's answers (the nat's, into its namespace) take it.

const PEER = '198.18.0.1';
const PEER_ADDR = 0xc6120001;
const OUR_ADDR = 0xc6120002;
/** Nobody's address (198.18.0.200): the forwarder answers from it. */
const FAR_ADDR = 0xc61200c8;

interface TunStack {
  readonly stack: Stack;
  /** Copies of the packets written to the link. */
  readonly sent: Uint8Array[];
  /** Where packets from the peer come in. */
  readonly inbound: PacketSubject<Uint8Array>;
}

/** A stack on a link of bare IPv4 packets that keeps what it is given. */
function stackOnRecordingTun(hooks?: StackHooks, ipv6 = false): TunStack {
  const sent: Uint8Array[] = [];
  const inbound = new PacketSubject<Uint8Array>();
  const link = { name: 'tun0', layer: 'ip' as const, mtu: 1500, frames$: inbound.asObservable(), send: (p: Uint8Array) => void sent.push(p.slice()), close(): void {} };
  const stack = createStack(
    { interfaces: [{ name: 'tun0', link, ipv4: ['198.18.0.2/24'], ...(ipv6 ? { ipv6: ['fd00:198:18::2/64'] } : {}) }], ...(ipv6 ? { ipv6: { dadTransmits: 0, acceptRa: false } } : {}) },
    { hooks },
  );
  sent.length = 0;
  return { stack, sent, inbound };
}

/** The packet with its IPv4 ID and header checksum zeroed (the ID differs from datagram to datagram). */
function withoutId(packet: Uint8Array): number[] {
  return withoutIpv4Id(packet, 0);
}

/** Checks the IPv4 header checksum and the UDP checksum of an IPv4 + UDP packet. */
function assertChecksumsOk(packet: Uint8Array, src = OUR_ADDR, dst = PEER_ADDR): void {
  assert.equal(packet[0], 0x45, 'IPv4, no options, from the first byte');
  assertUdpChecksumsOk(packet, 0, src, dst);
}

/** A UDP datagram from the peer (port 5353) to `dst`:`port`, as an IPv4 packet. */
function udpFromPeer(dst: number, port: number, payload: Uint8Array): Uint8Array {
  const udp = new Uint8Array(8 + payload.length);
  udp.set(payload, 8);
  writeUdpHeader(udp, 0, 5353, port, udp.length, PEER_ADDR, dst);
  return ipv4Packet({ protocol: IpProtocol.UDP, dst }, udp);
}

describe('stack: UDP datagrams to IPv4 by the fused way out, on a link of bare IP packets (TUN)', () => {
  let stack: Stack | undefined;
  afterEach(() => stack?.close());

  function bound(hooks?: StackHooks): TunStack & { socket: UdpSocket } {
    const r = stackOnRecordingTun(hooks);
    stack = r.stack;
    return { ...r, socket: r.stack.udp.bind({ port: 7 }) };
  }

  it('leaves without a record through IPv4 while nothing observes, with the bytes the long way writes', () => {
    const r = bound();
    const longWay = countLongWay(r.stack);
    const payload = new Uint8Array([1, 2, 3, 4, 5]);
    assert.equal(r.socket.send(payload, { address: PEER, port: 4000 }), true);
    assert.equal(longWay.count, 0, 'the fused way was taken');
    // An observer at the transport taps: the same datagram the long way.
    const seen: unknown[] = [];
    const sub = r.stack.taps.transport.down$.subscribe((s) => seen.push(s));
    assert.equal(r.socket.send(payload, { address: PEER, port: 4000 }), true);
    sub.unsubscribe();
    assert.equal(longWay.count, 1);
    assert.equal(seen.length, 1);
    assert.equal(r.sent.length, 2);
    const [fused, long] = r.sent;
    assert.equal(fused.length, 20 + 8 + 5, 'no link header');
    assert.deepEqual(withoutId(fused), withoutId(long));
    assertChecksumsOk(fused);
    assertChecksumsOk(long);
    // Consecutive IDs for one destination, drawn the same way on either path.
    assert.notEqual((fused[4] << 8) | fused[5], (long[4] << 8) | long[5]);
    // The observer gone, the fused way again.
    assert.equal(r.socket.send(payload, { address: PEER, port: 4000 }), true);
    assert.equal(longWay.count, 1);
  });

  it('counts what it sends as the long way does', () => {
    const r = bound();
    const before = stat(r.stack, 'ipv4', 'txPackets');
    for (let i = 0; i < 3; i++) r.socket.send(new Uint8Array(10), { address: PEER, port: 4000 });
    assert.equal(stat(r.stack, 'udp', 'txDatagrams'), 3);
    assert.equal(stat(r.stack, 'udp', 'txBytes'), 30);
    assert.equal(stat(r.stack, 'ipv4', 'txPackets') - before, 3);
    assert.equal(r.sent.length, 3);
    assert.ok(r.sent.every((p) => p.length === 20 + 8 + 10));
  });

  it('shows every datagram to observers of the network taps, and every packet to those of the link taps', () => {
    const r = bound();
    const longWay = countLongWay(r.stack);
    const network: unknown[] = [];
    const link: Uint8Array[] = [];
    const subs = [r.stack.taps.network.down$.subscribe((o) => network.push(o)), r.stack.taps.link.down$.subscribe((f) => link.push(f.slice()))];
    r.socket.send(new Uint8Array([9]), { address: PEER, port: 4000 });
    assert.equal(network.length, 1, 'the network tap saw the datagram');
    assert.equal(link.length, 1, 'the link tap saw the packet');
    assert.equal(longWay.count, 1);
    subs[0].unsubscribe();
    // Only the link taps observed: the fused packet still crosses the link boundary, and they see it.
    r.socket.send(new Uint8Array([9]), { address: PEER, port: 4000 });
    assert.equal(longWay.count, 1);
    assert.equal(link.length, 2);
    assert.deepEqual(withoutId(link[1]), withoutId(r.sent[1]));
    subs[1].unsubscribe();
  });

  for (const where of ['udp', 'transport', 'network', 'link'] as const) {
    it(`gives every datagram to a ${where} down operator`, () => {
      let seen = 0;
      const hooks = { [where]: { down: map((d: unknown) => (seen++, d)) } } as StackHooks;
      const r = bound(hooks);
      r.socket.send(new Uint8Array([1, 2]), { address: PEER, port: 4000 });
      assert.equal(seen, 1);
      assert.equal(r.sent.length, 1);
      assertChecksumsOk(r.sent[0]);
    });
  }

  it('takes it with IPv6 beside IPv4 on the link (the packets split by version)', () => {
    const r = stackOnRecordingTun(undefined, true);
    stack = r.stack;
    const socket = r.stack.udp.bind({ port: 7 });
    const longWay = countLongWay(r.stack);
    assert.equal(socket.send(new Uint8Array([7, 7]), { address: PEER, port: 4000 }), true);
    assert.equal(longWay.count, 0);
    assert.equal(r.sent.length, 1);
    assertChecksumsOk(r.sent[0]);
  });

  describe('the UDP forwarder', () => {
    /** A forwarding stack (default route out of tun0) whose sessions answer each datagram with `answer`. */
    function forwarding(hooks?: StackHooks): TunStack & { sessions: UdpForwardSession[]; answer: Uint8Array } {
      const r = stackOnRecordingTun(hooks);
      stack = r.stack;
      const sessions: UdpForwardSession[] = [];
      const answer = new Uint8Array([0xaa, 0xbb, 0xcc]);
      r.stack.udp.forward().subscribe((s) => {
        sessions.push(s);
        s.datagrams$.subscribe(() => s.send(answer));
      });
      return { ...r, sessions, answer };
    }

    it('answers from the original destination by the fused way, with the bytes the long way writes', () => {
      const r = forwarding();
      const longWay = countLongWay(r.stack);
      r.inbound.next(udpFromPeer(FAR_ADDR, 53, new Uint8Array([1])));
      assert.equal(r.sessions.length, 1);
      assert.equal(longWay.count, 0, 'the fused way was taken');
      const seen: unknown[] = [];
      const sub = r.stack.taps.transport.down$.subscribe((s) => seen.push(s));
      r.inbound.next(udpFromPeer(FAR_ADDR, 53, new Uint8Array([2])));
      sub.unsubscribe();
      assert.equal(longWay.count, 1);
      assert.equal(seen.length, 1);
      assert.equal(r.sent.length, 2);
      const [fused, long] = r.sent;
      assert.deepEqual(withoutId(fused), withoutId(long));
      assertChecksumsOk(fused, FAR_ADDR, PEER_ADDR);
      // From FAR:53 to the peer's 5353, the answer's bytes.
      assert.deepEqual([...fused.subarray(20, 24)], [0, 53, 0x14, 0xe9]);
      assert.deepEqual([...fused.subarray(28)], [...r.answer]);
      assert.equal(stat(r.stack, 'udpForward', 'txDatagrams'), 2);
      assert.equal(stat(r.stack, 'udp', 'txDatagrams'), 2);
      assert.equal(stat(r.stack, 'ipv4', 'txPackets'), 2);
    });

    it('gives every answer to a transport down operator', () => {
      let seen = 0;
      const r = forwarding({ transport: { down: map((d) => (seen++, d)) } });
      r.inbound.next(udpFromPeer(FAR_ADDR, 53, new Uint8Array([1])));
      assert.equal(seen, 1);
      assert.equal(r.sent.length, 1);
      assertChecksumsOk(r.sent[0], FAR_ADDR, PEER_ADDR);
    });
  });
});
