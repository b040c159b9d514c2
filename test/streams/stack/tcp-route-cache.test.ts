/**
 * A TCP connection's cached route and next hop (streams/stack/route-cache.ts): kept by IPv4 and
 * ARP for its segments, given up when the route table, the addresses or the neighbour table
 * change; not used under segment operators; taps see each segment as it went. And the segments
 * made with exactly their headers' room.
 */
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import type { Subscription } from 'rxjs';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import type { Stack } from '../../../streams/stack/create-stack.js';
import type { Ipv4Outbound } from '../../../streams/stack/ipv4-layer.js';
import type { PacketBuffer } from '../../../src/packet-buffer.js';
import { ipv4Addr } from '../../../src/ipv4/address.js';
import { IpProtocol } from '../../../src/wire/ipv4.js';
import { advance } from './raw-peer.js';
import { B_IP, tcpPair, type TcpPairOptions } from './tcp-helpers.js';

const B = ipv4Addr(B_IP);
const GATEWAY = ipv4Addr('198.18.0.254');
const GATEWAY_MAC = '02:00:00:00:00:fe';
const OTHER_MAC = '02:00:00:00:00:ee';

function macText(frame: Uint8Array): string {
  return [...frame.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function macOf(stack: Stack): string {
  return macText(stack.interfaces[0].link.mac!);
}

/** Frames a TCP segment of a's to B: IPv4 (EtherType 0x0800), protocol 6. */
function isTcpToB(f: Uint8Array): boolean {
  return f[12] === 0x08 && f[13] === 0x00 && f[14 + 9] === IpProtocol.TCP && new DataView(f.buffer, f.byteOffset).getUint32(14 + 16) === B;
}

/** b echoes on port 7; a connected to it; a's frames to B recorded (destination MAC). */
function connected(opts: Omit<TcpPairOptions, 'scheduler' | 'wire'> = {}) {
  const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
  const p = tcpPair({ scheduler: ts, wire: { latencyMs: 1 }, ...opts });
  const subs: Subscription[] = [];
  subs.push(p.b.tcp.listen({ port: 7 }).subscribe((c) => c.data$.subscribe({ next: (d) => c.write(d), error: () => undefined })));
  let conn: TcpConnection | undefined;
  subs.push(p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => (conn = c)));
  advance(ts, 20);
  assert.ok(conn !== undefined, 'connected');
  const echoed: string[] = [];
  subs.push(conn.data$.subscribe((d) => echoed.push(Buffer.from(d).toString())));
  const macs: string[] = [];
  subs.push(p.a.taps.link.down$.subscribe((f) => { if (isTcpToB(f)) macs.push(macText(f)); }));
  const exchange = (text: string, ms = 20): void => {
    conn!.write(Buffer.from(text));
    advance(ts, ms);
  };
  const close = (): void => {
    for (const s of subs) s.unsubscribe();
    p.close();
  };
  return { ts, p, conn, echoed, macs, exchange, close };
}

describe('stack/tcp: a connection\'s cached route and next hop', () => {
  it('is filled by its first segments and used for the next: route, source, link header, the neighbour', () => {
    const t = connected();
    t.exchange('one');
    const c = t.conn.routeCache;
    assert.ok(c !== undefined, 'the connection has a cache');
    assert.equal(c.owner, t.p.a.ipv4);
    assert.equal(c.dst, B);
    assert.equal(c.route?.nextHop, B);
    assert.equal(c.linkHeaderLength, 14, 'Ethernet');
    assert.equal(c.local, false);
    assert.equal(c.neighbours, t.p.a.layers.interfaces[0].arp?.cache);
    assert.equal(c.neighbour?.state, 'reachable');
    const route = c.route;
    t.exchange('two');
    assert.equal(c.route, route, 'the same route object: nothing was looked up again');
    assert.deepEqual(t.echoed.join(''), 'onetwo');
    assert.ok(t.macs.length >= 2 && t.macs.every((m) => m === macOf(t.p.b)));
    t.close();
  });

  it('a route changed mid-connection is followed at the next segment, and again when removed', () => {
    const t = connected();
    t.exchange('before');
    const a = t.p.a;
    a.arp.addStatic('198.18.0.254', GATEWAY_MAC);
    a.ipv4.routes.add({ destination: B, prefixLength: 32, gateway: GATEWAY, interfaceIndex: a.interfaces[0].index });
    t.macs.length = 0;
    t.exchange('via the gateway', 5);
    assert.ok(t.macs.length >= 1, 'the segment was sent');
    assert.deepEqual(new Set(t.macs), new Set([GATEWAY_MAC]), 'to the gateway\'s MAC, as the new route says');
    assert.equal(t.conn.routeCache?.route?.nextHop, GATEWAY);
    assert.deepEqual(t.echoed.join(''), 'before', 'b never saw it');
    assert.equal(a.ipv4.routes.remove({ destination: B, prefixLength: 32, gateway: GATEWAY, interfaceIndex: a.interfaces[0].index }), true);
    t.macs.length = 0;
    advance(t.ts, 1000); // the retransmission, on the route back
    assert.equal(t.echoed.join(''), 'beforevia the gateway', 'delivered once the route is gone');
    assert.equal(t.macs[t.macs.length - 1], macOf(t.p.b));
    assert.equal(t.conn.routeCache?.route?.nextHop, B);
    t.close();
  });

  it('a neighbour changed mid-connection (a static entry replacing the learnt one) is followed', () => {
    const t = connected();
    t.exchange('a');
    const a = t.p.a;
    a.arp.addStatic(B_IP, OTHER_MAC);
    t.macs.length = 0;
    t.exchange('b', 5);
    assert.ok(t.macs.length >= 1);
    assert.deepEqual(new Set(t.macs), new Set([OTHER_MAC]), 'to the new MAC');
    a.arp.addStatic(B_IP, macOf(t.p.b));
    advance(t.ts, 1000);
    assert.equal(t.echoed.join(''), 'ab', 'delivered once the entry names b again');
    assert.equal(t.macs[t.macs.length - 1], macOf(t.p.b));
    t.close();
  });

  it('an address added to the stack makes the route be found again', () => {
    const t = connected();
    t.exchange('x');
    const c = t.conn.routeCache!;
    const before = c.addressGeneration;
    t.p.a.interfaces[0].addAddress(ipv4Addr('198.18.0.3'), 24);
    t.exchange('y');
    assert.notEqual(c.addressGeneration, before, 'found again with the new generation');
    assert.equal(t.echoed.join(''), 'xy');
    t.close();
  });

  it('segment operators: no cache, every segment by the general path', () => {
    const t = connected({ hooksA: { tcp: { down: (s$) => s$ } } });
    t.exchange('hooked');
    assert.equal(t.conn.routeCache, undefined);
    assert.equal(t.echoed.join(''), 'hooked');
    t.close();
  });

  it('the network tap\'s observers get a record of their own for each segment, with the packet as it went, made with exactly its headers\' room', () => {
    const t = connected();
    const records = new Set<object>();
    const seen: Array<{ record: Ipv4Outbound; pb: PacketBuffer; head: number; room: number; length: number }> = [];
    const sub = t.p.a.taps.network.down$.subscribe((o) => {
      const r = o as Ipv4Outbound;
      if (r.dst !== B) return;
      records.add(r);
      seen.push({ record: r, pb: r.pb, head: r.pb.head, room: r.pb.buf.length - r.pb.end, length: r.pb.length });
    });
    t.exchange('tapped');
    t.exchange('twice');
    sub.unsubscribe();
    assert.equal(t.echoed.join(''), 'tappedtwice');
    assert.ok(seen.length >= 2);
    assert.equal(records.size, seen.length, 'no record shown twice');
    for (const s of seen) {
      assert.equal(s.record.pb, s.pb, 'the observer\'s record still holds its packet');
      assert.equal(s.head, 14, 'exactly Ethernet\'s room in front of the IPv4 header');
      assert.equal(s.room, 0, 'nothing behind');
    }
    const data = seen.filter((s) => s.length === 20 + 32 + 6 || s.length === 20 + 32 + 5);
    assert.equal(data.length, 2, 'the two data segments (IPv4, TCP with timestamps, the bytes)');
    t.close();
  });
});
