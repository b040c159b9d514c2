/**
 * Transmit checksum offload: TCP segments leave the TCP layer with a partial checksum
 * (PacketBuffer.csumStart). A link with `sendPartial` (the TAP link with offloads) gets them
 * that way and its device finishes them; every other way out gets a finished checksum: a link
 * without `sendPartial`, an egress hook, an IPv4 output hook, loopback.
 */
import assert from 'node:assert/strict';
import { Subject, map, tap, type Observable } from 'rxjs';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import type { Link } from '../../../streams/links/link.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { emitTcp, parseTcp, TcpFlags, type TcpRepr } from '../../../src/wire/tcp.js';
import { emitIpv4, IpProtocol } from '../../../src/wire/ipv4.js';
import { emitEthernet, EtherType } from '../../../src/wire/ethernet.js';
import { onesSum, foldChecksum } from '../../../src/wire/checksum.js';
import { parseIpv4 } from '../../../src/ipv4/address.js';
import { parseMac } from '../../../src/mac.js';
import { firstValueFrom } from 'rxjs';

const PEER = parseIpv4('198.18.0.1')!;
const STACK = parseIpv4('198.18.0.2')!;
const PEER_MAC = parseMac('02:00:00:00:00:01')!;
const STACK_MAC = parseMac('02:00:00:00:00:02')!;

interface Sent {
  frame: Uint8Array;
  partial?: { start: number; offset: number };
}

function fakeLink(withPartial: boolean): Link & { inbound: Subject<Uint8Array>; sent: Sent[] } {
  const inbound = new Subject<Uint8Array>();
  const sent: Sent[] = [];
  const link = {
    name: 'fake0',
    mtu: 1500,
    inbound,
    sent,
    frames$: inbound.asObservable() as Observable<Uint8Array>,
    send(frame: Uint8Array): void {
      sent.push({ frame: frame.slice() });
    },
    close(): void {
      inbound.complete();
    },
  };
  if (!withPartial) return link;
  return Object.assign(link, {
    sendPartial(frame: Uint8Array, start: number, offset: number): void {
      sent.push({ frame: frame.slice(), partial: { start, offset } });
    },
  });
}

function syn(): Uint8Array {
  const repr: TcpRepr = { srcPort: 40000, dstPort: 7, seq: 1000, ack: 0, flags: TcpFlags.SYN, window: 65535, urgent: 0, mss: 1460, payload: new Uint8Array(0) };
  const pb = PacketBuffer.alloc(0);
  emitTcp(repr, pb, PEER, STACK);
  emitIpv4({ src: PEER, dst: STACK, protocol: IpProtocol.TCP, ttl: 64, ident: 1, dontFragment: true, moreFragments: false, fragmentOffset: 0 }, pb);
  emitEthernet({ dst: STACK_MAC, src: PEER_MAC, ethertype: EtherType.IPV4 }, pb);
  return pb.bytes().slice();
}

/** The TCP segment in an Ethernet frame, checksum verified. */
function tcpOf(frame: Uint8Array) {
  const r = parseTcp(frame.subarray(34), STACK, PEER);
  assert.ok(r.ok, `the TCP checksum verifies (${r.ok ? '' : r.reason})`);
  return r.value;
}

function stackOn(link: Link, hooks = {}): Stack {
  const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.2/24'], mac: '02:00:00:00:00:02' }] }, { hooks });
  stack.arp.addStatic('198.18.0.1', '02:00:00:00:00:01');
  return stack;
}

describe('TCP transmit checksum offload', () => {
  it('emitTcp partialChecksum: the pseudo-header sum in the field; completeChecksum gives the full checksum', () => {
    const repr: TcpRepr = { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TcpFlags.ACK, window: 5, urgent: 0, payload: new Uint8Array(0) };
    const data = Uint8Array.from({ length: 333 }, (_, i) => (i * 11) & 0xff);
    const full = PacketBuffer.withPayload(data);
    emitTcp(repr, full, PEER, STACK);
    const part = PacketBuffer.withPayload(data);
    emitTcp(repr, part, PEER, STACK, { partialChecksum: true });
    assert.equal(part.csumStart, part.head);
    assert.equal(part.csumOffset, 16);
    assert.notDeepEqual(part.bytes(), full.bytes());
    // The field holds the folded pseudo-header sum: summing the rest in and complementing it
    // is exactly what a device does.
    const b = part.bytes();
    assert.equal(foldChecksum(onesSum(b, 0, b.length)), (full.bytes()[16] << 8) | full.bytes()[17]);
    part.completeChecksum();
    assert.equal(part.csumStart, -1);
    assert.deepEqual(part.bytes(), full.bytes());
    part.completeChecksum(); // nothing left to do
    assert.deepEqual(part.bytes(), full.bytes());
  });

  it('a link with sendPartial gets the SYN-ACK with its checksum partial, at the right offsets', () => {
    const link = fakeLink(true);
    const stack = stackOn(link);
    const sub = stack.tcp.listen({ port: 7 }).subscribe();
    try {
      link.inbound.next(syn());
      const out = link.sent.filter((s) => s.frame[23] === IpProtocol.TCP);
      assert.equal(out.length, 1);
      const { frame, partial } = out[0];
      assert.deepEqual(partial, { start: 34, offset: 16 });
      assert.throws(() => tcpOf(frame), 'not verifiable as it is');
      // Finish it as the device would: sum from csumStart to the end, complement, store.
      const c = foldChecksum(onesSum(frame, 34, frame.length - 34));
      frame[50] = c >>> 8;
      frame[51] = c & 0xff;
      assert.equal(tcpOf(frame).flags, TcpFlags.SYN | TcpFlags.ACK);
    } finally {
      sub.unsubscribe();
      stack.close();
    }
  });

  it('a link without sendPartial, and any link behind an egress hook, get finished checksums', () => {
    for (const [withPartial, hooks] of [
      [false, {}],
      [true, { link: { down: tap<Uint8Array>(() => undefined) } }],
    ] as const) {
      const link = fakeLink(withPartial);
      const stack = stackOn(link, hooks);
      const sub = stack.tcp.listen({ port: 7 }).subscribe();
      try {
        link.inbound.next(syn());
        const out = link.sent.filter((s) => s.frame[23] === IpProtocol.TCP);
        assert.equal(out.length, 1);
        assert.equal(out[0].partial, undefined);
        assert.equal(tcpOf(out[0].frame).flags, TcpFlags.SYN | TcpFlags.ACK);
      } finally {
        sub.unsubscribe();
        stack.close();
      }
    }
  });

  it('an IPv4 output hook sees finished checksums', () => {
    const link = fakeLink(true);
    const seen: boolean[] = [];
    const stack = stackOn(link, {
      network: { down: map((o: { pb: PacketBuffer }) => {
        const b = o.pb.bytes();
        seen.push(parseTcp(b.subarray(20), STACK, PEER).ok);
        return o;
      }) },
    });
    const sub = stack.tcp.listen({ port: 7 }).subscribe();
    try {
      link.inbound.next(syn());
      assert.deepEqual(seen, [true]);
    } finally {
      sub.unsubscribe();
      stack.close();
    }
  });

  it('loopback: a connection to our own address works (the looped packet is finished)', async () => {
    const link = fakeLink(true);
    const stack = stackOn(link);
    const sub = stack.tcp.listen({ port: 7 }).subscribe((c) => c.data$.subscribe((d) => c.write(d)));
    try {
      const conn = await firstValueFrom(stack.tcp.connect({ address: '198.18.0.2', port: 7 }));
      const echoed = firstValueFrom(conn.data$);
      conn.write(new Uint8Array([1, 2, 3]));
      assert.deepEqual([...(await echoed)], [1, 2, 3]);
      assert.equal(stack.tcpLayer.counters.drops['badChecksum'], 0);
      conn.destroy();
    } finally {
      sub.unsubscribe();
      stack.close();
    }
  });
});
