import assert from 'node:assert/strict';
import { map, type Observable, type Subscription } from 'rxjs';
import { createStack, type Stack, type StackHooks } from '../../../streams/stack/create-stack.js';
import { PacketSubject } from '../../../streams/pipeline/packet-subject.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { internetChecksum } from '../../../src/wire/checksum.js';
import { icmpEchoFrame, ipv4Frame, udpFrame } from '../../../streams/testing/frames.js';

// On the plain stack an echo request comes to ICMP by the direct way in (past IPv4's Subject,
// the transport tap and the protocol demux) and its reply leaves by IPv4's fused way out (one
// frame written by ICMP, no PacketBuffer, no route/neighbour records). These tests pin what it
// must keep: the same reply bytes and counters as the long way, for good, odd and malformed
// requests, and the long way whenever a tap, observe$ subscriber or operator is there.

const OUR_MAC = '02:00:00:00:00:02';
const PEER_MAC = '02:00:00:00:00:01';
const OUR = '198.18.0.2';
const SECOND = '198.18.0.3';
const PEER = '198.18.0.1';
const eth = { src: PEER_MAC, dst: OUR_MAC };
const ip = { src: PEER, dst: OUR };
const ICMP_AT = 34;

/** `frame` (an echo in Ethernet, no IP options) with `change` made to its ICMP bytes and the ICMP checksum made good again. */
function rewritten(frame: Uint8Array, change: (icmp: Uint8Array) => void): Uint8Array {
  const f = frame.slice();
  const icmp = f.subarray(ICMP_AT);
  change(icmp);
  icmp[2] = 0;
  icmp[3] = 0;
  const sum = internetChecksum(icmp, 0, icmp.length);
  icmp[2] = sum >>> 8;
  icmp[3] = sum & 0xff;
  return f;
}

/** Echo requests good, odd and malformed, and other ICMP, each handled its own way. */
function requests(): Uint8Array[] {
  const ping = icmpEchoFrame({ eth, ip, ident: 0x1234, seq: 1 });
  const badChecksum = ping.slice();
  badChecksum[ping.length - 1] ^= 0x01;
  const bigData = Uint8Array.from({ length: 2000 }, (_, i) => (i * 7) & 0xff);
  const big = icmpEchoFrame({ eth, ip, ident: 7, seq: 9, data: bigData }).subarray(ICMP_AT);
  return [
    ping,
    // The reply's words (ident, seq, data) summing to -0 and to +0: checksum 0x0000 and 0xffff.
    icmpEchoFrame({ eth, ip, ident: 0, seq: 0xffff, data: new Uint8Array(0) }),
    icmpEchoFrame({ eth, ip, ident: 0, seq: 0, data: new Uint8Array(2) }),
    icmpEchoFrame({ eth, ip, ident: 0xffff, seq: 2, data: 'odd' }),
    icmpEchoFrame({ eth, ip, ident: 3, seq: 3, data: new Uint8Array(1472).fill(0xab) }),
    icmpEchoFrame({ eth, ip: { ...ip, dscp: 46, ecn: 1 }, ident: 4, seq: 4 }),
    icmpEchoFrame({ eth, ip: { ...ip, ttl: 1, dontFragment: true, ident: 99 }, ident: 5, seq: 5 }),
    icmpEchoFrame({ eth, ip: { ...ip, options: new Uint8Array([1, 1, 1, 0]) }, ident: 6, seq: 6 }),
    rewritten(ping, (icmp) => (icmp[1] = 5)), // a code other than 0: answered, code 0
    // To our second address: answered from it, not from the route's source (the long way out).
    icmpEchoFrame({ eth, ip: { src: PEER, dst: SECOND }, ident: 8, seq: 8 }),
    badChecksum,
    icmpEchoFrame({ eth: { src: PEER_MAC, dst: 'ff:ff:ff:ff:ff:ff' }, ip: { src: PEER, dst: '198.18.0.255' }, ident: 9, seq: 9 }),
    icmpEchoFrame({ eth, ip: { src: PEER, dst: '198.18.0.77' }, ident: 10, seq: 10 }),
    ipv4Frame({ eth, ip: { ...ip, ident: 42, moreFragments: true }, protocol: 1, payload: big.subarray(0, 1480) }),
    ipv4Frame({ eth, ip: { ...ip, ident: 42, fragmentOffset: 1480 }, protocol: 1, payload: big.subarray(1480) }),
    ipv4Frame({ eth, ip, protocol: 1, payload: ping.subarray(ICMP_AT, ICMP_AT + 4) }),
    ipv4Frame({ eth, ip, protocol: 1, payload: new Uint8Array(0) }),
    icmpEchoFrame({ eth, ip, kind: 'reply', ident: 11, seq: 11 }),
    rewritten(ping, (icmp) => (icmp[0] = 42)),
    udpFrame({ eth, ip, udp: { srcPort: 4000, dstPort: 9 }, payload: 'not ICMP' }),
    ping,
  ];
}

interface Run {
  readonly stack: Stack;
  readonly frames: PacketSubject<Uint8Array>;
  /** IPv4 frames the link was given to send. */
  readonly sent: Uint8Array[];
}

/**
 * A stack (two addresses) on a link fed by hand, the peer a static neighbour; the link records
 * the IPv4 frames it sends. `room`: the link takes frames with room in front (sendInRoom), as a
 * TAP device with offload does.
 */
function stackWith(room: boolean, hooks?: StackHooks): Run {
  const frames = new PacketSubject<Uint8Array>();
  const sent: Uint8Array[] = [];
  const keep = (f: Uint8Array): void => {
    if (f[12] === 0x08 && f[13] === 0x00) sent.push(f.slice());
  };
  const link = {
    name: 'in0', mtu: 1500, mac: new Uint8Array([2, 0, 0, 0, 0, 2]), frames$: frames.asObservable(), close(): void {},
    send: keep,
    ...(room
      ? {
        frameRoom: 10,
        sendInRoom(buf: Uint8Array, head: number, end: number, csumStart: number): void {
          assert.ok(head >= 10, 'room in front of the frame');
          assert.equal(csumStart, -1, 'an echo reply goes out with its checksum complete');
          keep(buf.subarray(head, end));
        },
      }
      : {}),
  };
  const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: [`${OUR}/24`, `${SECOND}/24`] }] }, { hooks });
  stack.arp.addStatic(PEER, PEER_MAC);
  return { stack, frames, sent };
}

/**
 * The reply frames with what differs between two stacks by design (the IPv4 ID, random per
 * stack, and so the header checksum) zeroed, after checking that checksum; and every counter.
 */
function feed(run: Run, frames: Uint8Array[]): { replies: string[]; stats: unknown } {
  for (const f of frames) run.frames.next(f);
  const replies = run.sent.map((f) => {
    const header = f.subarray(14, 14 + ((f[14] & 0x0f) << 2));
    assert.equal(internetChecksum(header, 0, header.length), 0, 'the IPv4 header checksum');
    const g = f.slice();
    g[18] = g[19] = g[24] = g[25] = 0;
    return Buffer.from(g).toString('hex');
  });
  return { replies, stats: JSON.parse(JSON.stringify(run.stack.stats())) };
}

/** How many times `fn` makes a PacketBuffer with a payload (the long way's reply) and delivers by a PacketSubject (the link's, and IPv4's on the long way in). */
function ways(fn: () => void): { buffers: number; subjects: number } {
  const pbClass = PacketBuffer as unknown as { withPayload(...args: unknown[]): unknown };
  const withPayload = pbClass.withPayload;
  const proto = PacketSubject.prototype as unknown as { next(v: unknown): void };
  const next = proto.next;
  const n = { buffers: 0, subjects: 0 };
  pbClass.withPayload = function (this: unknown, ...args: unknown[]) {
    n.buffers++;
    return withPayload.apply(this, args);
  };
  proto.next = function (this: unknown, v: unknown) {
    n.subjects++;
    next.call(this, v);
  };
  try {
    fn();
  } finally {
    pbClass.withPayload = withPayload;
    proto.next = next;
  }
  return n;
}

describe('stack: the echo request’s way (direct in to ICMP, the reply by the fused way out)', () => {
  const stacks: Stack[] = [];
  afterEach(() => {
    for (const s of stacks.splice(0)) s.close();
  });
  const make = (room: boolean, hooks?: StackHooks): Run => {
    const run = stackWith(room, hooks);
    stacks.push(run.stack);
    return run;
  };

  it('on a link of bare IP packets (TUN): the fused way out while unobserved, the same replies as the long way', () => {
    const tun = (observe: boolean): { replies: string[]; stats: unknown; buffers: number } => {
      const inbound = new PacketSubject<Uint8Array>();
      const sent: Uint8Array[] = [];
      const link = { name: 'tun0', layer: 'ip' as const, mtu: 1500, frames$: inbound.asObservable(), send: (p: Uint8Array) => void sent.push(p.slice()), close(): void {} };
      const stack = createStack({ interfaces: [{ name: 'tun0', link, ipv4: [`${OUR}/24`, `${SECOND}/24`] }] });
      stacks.push(stack);
      const sub = observe ? stack.taps.transport.down$.subscribe(() => {}) : undefined;
      const { buffers } = ways(() => {
        for (const f of requests()) if (f[12] === 0x08 && f[13] === 0x00) inbound.next(f.slice(14));
      });
      sub?.unsubscribe();
      const replies = sent.map((p) => {
        assert.equal(internetChecksum(p, 0, (p[0] & 0x0f) << 2), 0, 'the IPv4 header checksum');
        const g = p.slice();
        g[4] = g[5] = g[10] = g[11] = 0;
        return Buffer.from(g).toString('hex');
      });
      return { replies, stats: JSON.parse(JSON.stringify(stack.stats())), buffers };
    };
    const direct = tun(false);
    const long = tun(true);
    assert.equal(direct.replies.length, 14);
    assert.deepEqual(long.replies, direct.replies);
    assert.deepEqual(long.stats, direct.stats);
    // The long way's PacketBuffers: one per echo reply and the port unreachable's; the fused
    // way makes them only for the replies it cannot take (too big, from the second address).
    assert.ok(direct.buffers < long.buffers - 8, `${direct.buffers} PacketBuffers against ${long.buffers}`);
  });

  for (const room of [false, true]) {
    describe(room ? 'a link with room in front (sendInRoom)' : 'a link of plain frames', () => {
      it('answers by the direct way in and the fused way out while unobserved, the long way while observed', () => {
        const run = make(room);
        const ping = icmpEchoFrame({ eth, ip, ident: 1, seq: 1 });
        assert.deepEqual(ways(() => run.frames.next(ping)), { buffers: 0, subjects: 1 }, 'only the link’s Subject, no PacketBuffer');
        for (const tap of ['up$', 'down$'] as const) {
          const sub = (run.stack.taps.transport[tap] as Observable<unknown>).subscribe(() => {});
          const n = ways(() => run.frames.next(ping));
          sub.unsubscribe();
          // Observing what goes up closes the way in only; what goes down, the way out only.
          assert.equal(n.buffers, tap === 'up$' ? 0 : 1, `the transport tap's ${tap} observed: the way out`);
          assert.equal(n.subjects, tap === 'up$' ? 2 : 1, `the transport tap's ${tap} observed: the way in`);
        }
        const sub = run.stack.ipv4.observe$(1).subscribe(() => {});
        assert.equal(ways(() => run.frames.next(ping)).subjects, 2, 'observe$(1): through IPv4’s Subject');
        sub.unsubscribe();
        const down = run.stack.taps.network.down$.subscribe(() => {});
        assert.equal(ways(() => run.frames.next(ping)).buffers, 1, 'the network tap’s down$ observed: the long way out');
        down.unsubscribe();
        assert.deepEqual(ways(() => run.frames.next(ping)), { buffers: 0, subjects: 1 }, 'unobserved again');
        assert.equal(run.sent.length, 6);
        assert.equal(run.stack.stats().icmp.txEchoReplies, 6);
      });

      it('sends the same replies, byte for byte, and keeps the same counters as the long way for good, odd and malformed requests', () => {
        const direct = feed(make(room), requests());
        const observedRun = make(room);
        const seen = { up: 0, down: 0 };
        const subs: Subscription[] = [
          observedRun.stack.taps.transport.up$.subscribe(() => seen.up++),
          observedRun.stack.taps.transport.down$.subscribe(() => seen.down++),
        ];
        const long = feed(observedRun, requests());
        for (const s of subs) s.unsubscribe();
        assert.deepEqual(long.replies, direct.replies);
        assert.deepEqual(long.stats, direct.stats);
        // Answered: the twelve requests to us (the reassembled one once, its reply in two
        // fragments), not the broadcast, the foreign, the bad or short ones; and UDP's port
        // unreachable for the datagram to port 9.
        assert.equal(seen.down, 13, 'what the transport tap saw go down');
        assert.equal(direct.replies.length, 14, 'frames: the 2,008-byte reply in two');
        const s = direct.stats as { icmp: Record<string, number> & { drops: Record<string, number> }; ipv4: { drops: Record<string, number> } };
        assert.equal(s.icmp.rxEchoRequests, 13);
        assert.equal(s.icmp.txEchoReplies, 12);
        assert.equal(s.icmp.drops.badChecksum, 1);
        assert.equal(s.icmp.drops.truncated, 2);
        assert.equal(s.icmp.drops.broadcastEcho, 1);
        assert.equal(s.icmp.drops.noListener, 1);
        assert.equal(s.icmp.drops.unknownType, 1);
        assert.equal(s.ipv4.drops.notForUs, 1);

        const reply = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));
        // The first: a reply to the ping, ICMP as the request with type 0, the addresses swapped, no options.
        const first = reply(direct.replies[0]);
        const req = requests()[0];
        assert.deepEqual([...first.subarray(0, 6)], [2, 0, 0, 0, 0, 1]);
        assert.equal(first[14], 0x45);
        assert.equal(first[22], 64, 'the default TTL');
        assert.equal(first[23], 1);
        assert.deepEqual([...first.subarray(26, 30)], [198, 18, 0, 2]);
        assert.deepEqual([...first.subarray(30, 34)], [198, 18, 0, 1]);
        assert.equal(first[ICMP_AT], 0);
        assert.deepEqual([...first.subarray(ICMP_AT + 4)], [...req.subarray(ICMP_AT + 4)], 'ident, seq and data');
        assert.equal(internetChecksum(first, ICMP_AT, first.length - ICMP_AT), 0, 'the ICMP checksum');
        // -0 and +0: the checksums a sum over the reply gives (0x0000, 0xffff).
        assert.deepEqual([...reply(direct.replies[1]).subarray(ICMP_AT, ICMP_AT + 4)], [0, 0, 0, 0]);
        assert.deepEqual([...reply(direct.replies[2]).subarray(ICMP_AT, ICMP_AT + 4)], [0, 0, 0xff, 0xff]);
        // The DSCP kept, the ECN not; a code other than 0 answered with code 0; the options not returned.
        assert.equal(reply(direct.replies[5])[15], 46 << 2);
        assert.equal(reply(direct.replies[7])[14], 0x45);
        assert.equal(reply(direct.replies[8])[ICMP_AT + 1], 0);
        // From the address pinged (the second one, not the route's).
        assert.deepEqual([...reply(direct.replies[9]).subarray(26, 30)], [198, 18, 0, 3]);
      });

      it('sends the same reply checksums as a sum over the reply for 500 requests of random contents', () => {
        let seed = 12345;
        const random = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
        const many = Array.from({ length: 500 }, () => {
          const data = Uint8Array.from({ length: random() % 70 }, () => random() & 0xff);
          return icmpEchoFrame({ eth, ip, ident: random() & 0xffff, seq: random() & 0xffff, data });
        });
        const direct = feed(make(room), many);
        const sub = (r: Run): Subscription => r.stack.taps.transport.down$.subscribe(() => {});
        const observedRun = make(room);
        const s = sub(observedRun);
        const long = feed(observedRun, many);
        s.unsubscribe();
        assert.equal(direct.replies.length, 500);
        assert.deepEqual(long.replies, direct.replies);
      });

      it('takes the long way for operators at the transport boundary, which see each reply', () => {
        const direct = feed(make(room), requests());
        let up = 0;
        let down = 0;
        const hooked = feed(make(room, { transport: { up: map((d) => (up++, d)), down: map((s) => (down++, s)) } }), requests());
        assert.equal(up, 19, 'every datagram IPv4 delivered (the reassembled one once)');
        assert.equal(down, 13);
        assert.deepEqual(hooked.replies, direct.replies);
        assert.deepEqual(hooked.stats, direct.stats);
      });
    });
  }
});
