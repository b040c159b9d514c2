import assert from 'node:assert/strict';
import { map } from 'rxjs';
import { createStack, type Stack, type StackHooks } from '../../../streams/stack/create-stack.js';
import { PacketSubject } from '../../../streams/pipeline/packet-subject.js';
import type { UdpSocket } from '../../../streams/stack/udp-socket.js';
import { stat } from './raw-peer.js';
import { assertUdpChecksumsOk, countLongWay, withoutIpv4Id } from './fused-out-checks.js';

// A datagram to IPv4 on the plain stack leaves by the fused way (udp-layer.ts #emitFused, IPv4's
// WholeOut, ARP's FrameOut): one frame written by IPv4 and UDP, no packet or record handed
// through the layers. These tests pin what it must keep: the bytes on the wire, the counters,
// and every tap observer and operator still seeing every datagram (they take the long way).

const OUR_MAC = new Uint8Array([2, 0, 0, 0, 0, 2]);
const PEER_MAC = new Uint8Array([2, 0, 0, 0, 0, 1]);
const PEER = '198.18.0.1';
const PEER_ADDR = 0xc6120001;
const OUR_ADDR = 0xc6120002;

/** A stack on a link that keeps what it is given; the peer a static neighbour. */
function stackOnRecordingLink(hooks?: StackHooks): { stack: Stack; sent: Uint8Array[]; socket: UdpSocket } {
  const sent: Uint8Array[] = [];
  const frames = new PacketSubject<Uint8Array>();
  const link = { name: 'rec0', mtu: 1500, mac: OUR_MAC, frames$: frames.asObservable(), send: (f: Uint8Array) => void sent.push(f.slice()), close(): void {} };
  const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.2/24'] }] }, { hooks });
  stack.arp.addStatic(PEER, '02:00:00:00:00:01');
  sent.length = 0; // the gratuitous ARP
  const socket = stack.udp.bind({ port: 7 });
  return { stack, sent, socket };
}

/** The frame with its IPv4 ID and header checksum zeroed. */
function withoutId(frame: Uint8Array): number[] {
  return withoutIpv4Id(frame, 14);
}

/** Checks the IPv4 header checksum and the UDP checksum of an Ethernet + IPv4 + UDP frame. */
function assertChecksumsOk(frame: Uint8Array): void {
  assertUdpChecksumsOk(frame, 14, OUR_ADDR, PEER_ADDR);
}

describe('stack: UDP datagrams to IPv4 by the fused way out', () => {
  let stack: Stack | undefined;
  afterEach(() => stack?.close());

  it('leaves without a record through IPv4 while nothing observes, with the bytes the long way writes', () => {
    const r = stackOnRecordingLink();
    stack = r.stack;
    const longWay = countLongWay(stack);
    const payload = new Uint8Array([1, 2, 3, 4, 5]);
    assert.equal(r.socket.send(payload, { address: PEER, port: 4000 }), true);
    assert.equal(longWay.count, 0, 'the fused way was taken');
    // An observer at the transport taps: the same datagram the long way.
    const seen: unknown[] = [];
    const sub = stack.taps.transport.down$.subscribe((s) => seen.push(s));
    assert.equal(r.socket.send(payload, { address: PEER, port: 4000 }), true);
    sub.unsubscribe();
    assert.equal(longWay.count, 1);
    assert.equal(seen.length, 1);
    assert.equal(r.sent.length, 2);
    const [fused, long] = r.sent;
    assert.equal(fused.length, 14 + 20 + 8 + 5);
    assert.deepEqual(withoutId(fused), withoutId(long));
    assert.deepEqual([...fused.subarray(0, 6)], [...PEER_MAC]);
    assert.deepEqual([...fused.subarray(6, 12)], [...OUR_MAC]);
    assertChecksumsOk(fused);
    assertChecksumsOk(long);
    // Consecutive IDs for one destination, drawn the same way on either path.
    assert.notEqual((fused[18] << 8) | fused[19], (long[18] << 8) | long[19]);
    // The observer gone, the fused way again.
    assert.equal(r.socket.send(payload, { address: PEER, port: 4000 }), true);
    assert.equal(longWay.count, 1);
  });

  it('counts what it sends in every layer as the long way does', () => {
    const r = stackOnRecordingLink();
    stack = r.stack;
    const before = { ip: stat(stack, 'ipv4', 'txPackets'), frames: stat(stack, 'eth:eth0', 'txFrames'), bytes: stat(stack, 'eth:eth0', 'txBytes') };
    for (let i = 0; i < 3; i++) r.socket.send(new Uint8Array(10), { address: PEER, port: 4000 });
    assert.equal(stat(stack, 'udp', 'txDatagrams'), 3);
    assert.equal(stat(stack, 'ipv4', 'txPackets') - before.ip, 3);
    assert.equal(stat(stack, 'eth:eth0', 'txFrames') - before.frames, 3);
    assert.equal(stat(stack, 'eth:eth0', 'txBytes') - before.bytes, 3 * (14 + 20 + 8 + 10));
    assert.equal(r.sent.length, 3);
  });

  it('shows every datagram to observers of the network taps, and every frame to those of the link taps', () => {
    const r = stackOnRecordingLink();
    stack = r.stack;
    const longWay = countLongWay(stack);
    const network: unknown[] = [];
    const link: Uint8Array[] = [];
    const subs = [stack.taps.network.down$.subscribe((o) => network.push(o)), stack.taps.link.down$.subscribe((f) => link.push(f))];
    r.socket.send(new Uint8Array([9]), { address: PEER, port: 4000 });
    assert.equal(network.length, 1, 'the network tap saw the datagram');
    assert.equal(link.length, 1, 'the link tap saw the frame');
    assert.equal(longWay.count, 1);
    subs[0].unsubscribe();
    // Only the link taps observed: the fused frame still crosses the link boundary, and they see it.
    r.socket.send(new Uint8Array([9]), { address: PEER, port: 4000 });
    assert.equal(longWay.count, 1);
    assert.equal(link.length, 2);
    assert.deepEqual(withoutId(link[1]), withoutId(r.sent[1]));
    subs[1].unsubscribe();
  });

  for (const [where, hooks] of [
    ['udp', { udp: { down: map((d) => d) } }],
    ['transport', { transport: { down: map((d) => d) } }],
    ['network', { network: { down: map((d) => d) } }],
    ['link', { link: { down: map((d) => d) } }],
  ] as const) {
    it(`gives every datagram to a ${where} down operator`, () => {
      let seen = 0;
      const counting = (h: StackHooks): StackHooks => {
        const key = Object.keys(h)[0] as keyof StackHooks;
        return { [key]: { down: map((d: unknown) => (seen++, d)) } } as StackHooks;
      };
      const r = stackOnRecordingLink(counting(hooks as StackHooks));
      stack = r.stack;
      seen = 0; // (a link operator saw the gratuitous ARP)
      r.socket.send(new Uint8Array([1, 2]), { address: PEER, port: 4000 });
      assert.equal(seen, 1);
      assert.equal(r.sent.length, 1);
      assertChecksumsOk(r.sent[0]);
    });
  }

  it('takes the long way for a next hop not yet resolved (the datagram waits for ARP)', () => {
    const r = stackOnRecordingLink();
    stack = r.stack;
    const longWay = countLongWay(stack);
    r.socket.send(new Uint8Array([1]), { address: '198.18.0.9', port: 4000 });
    assert.equal(longWay.count, 1);
    assert.equal(r.sent.length, 1);
    assert.deepEqual([r.sent[0][12], r.sent[0][13]], [0x08, 0x06], 'an ARP request, the datagram queued');
  });

  describe('on a link that writes its header in front of the frame (TAP with offload)', () => {
    const ROOM = 10;
    /** A stack on a link with room for its header in front of each frame and, with `partial`, checksum offload. */
    function stackOnRoomLink(partial: boolean): { stack: Stack; sent: Array<{ frame: Uint8Array; csumStart: number; csumOffset: number }>; socket: UdpSocket } {
      const sent: Array<{ frame: Uint8Array; csumStart: number; csumOffset: number }> = [];
      const frames = new PacketSubject<Uint8Array>();
      const link = {
        name: 'room0', mtu: 1500, mac: OUR_MAC, frames$: frames.asObservable(), close(): void {},
        send: (f: Uint8Array) => void sent.push({ frame: f.slice(), csumStart: -1, csumOffset: 0 }),
        frameRoom: ROOM,
        sendInRoom: (buf: Uint8Array, head: number, end: number, csumStart: number, csumOffset: number) => {
          assert.ok(head >= ROOM, 'the room is there');
          sent.push({ frame: buf.slice(head, end), csumStart, csumOffset });
        },
        sendPartial: partial ? (f: Uint8Array, csumStart: number, csumOffset: number) => void sent.push({ frame: f.slice(), csumStart, csumOffset }) : undefined,
      };
      const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.2/24'] }] });
      stack.arp.addStatic(PEER, '02:00:00:00:00:01');
      sent.length = 0;
      return { stack, sent, socket: stack.udp.bind({ port: 7 }) };
    }

    /** Finishes a partial checksum as the device does: the sum from csumStart to the end, complemented. */
    function finish(frame: Uint8Array, csumStart: number, csumOffset: number): Uint8Array {
      const f = frame.slice();
      let sum = 0;
      for (let i = csumStart; i < f.length; i += 2) sum += (f[i] << 8) | (i + 1 < f.length ? f[i + 1] : 0);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      const c = ~sum & 0xffff || 0xffff;
      f[csumStart + csumOffset] = c >>> 8;
      f[csumStart + csumOffset + 1] = c & 0xff;
      return f;
    }

    it('leaves the UDP checksum partial for the device to finish: finished, the bytes the long way writes', () => {
      const r = stackOnRoomLink(true);
      stack = r.stack;
      const longWay = countLongWay(stack);
      const payload = new Uint8Array([9, 8, 7]);
      r.socket.send(payload, { address: PEER, port: 4000 });
      assert.equal(longWay.count, 0, 'the fused way was taken');
      const sub = stack.taps.transport.down$.subscribe(() => undefined);
      r.socket.send(payload, { address: PEER, port: 4000 });
      sub.unsubscribe();
      assert.equal(longWay.count, 1);
      const [fused, long] = r.sent;
      // NEEDS_CSUM's place: UDP's checksum field after Ethernet and a 20-byte IPv4 header.
      assert.equal(fused.csumStart, 14 + 20);
      assert.equal(fused.csumOffset, 6);
      assert.equal(long.csumStart, -1, 'the long way (UDP emits complete checksums) unchanged');
      // The field holds the pseudo-header's sum, not a finished checksum...
      assert.throws(() => assertChecksumsOk(fused.frame));
      // ...which, finished, is right, and the frame is the one the long way writes.
      const finished = finish(fused.frame, fused.csumStart, fused.csumOffset);
      assertChecksumsOk(finished);
      assertChecksumsOk(long.frame);
      assert.deepEqual(withoutId(finished), withoutId(long.frame));
    });

    it('writes a complete checksum when the link cannot finish one', () => {
      const r = stackOnRoomLink(false);
      stack = r.stack;
      const longWay = countLongWay(stack);
      r.socket.send(new Uint8Array([1, 2, 3, 4, 5]), { address: PEER, port: 4000 });
      assert.equal(longWay.count, 0, 'the fused way was taken');
      assert.equal(r.sent.length, 1);
      assert.equal(r.sent[0].csumStart, -1);
      assertChecksumsOk(r.sent[0].frame);
    });
  });
});
