import assert from 'node:assert/strict';
import fc from 'fast-check';
import { firstValueFrom, lastValueFrom, filter, tap, toArray, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { createStack, type Stack, type StackHooks } from '../../../streams/stack/create-stack.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import type { TcpSegmentIn } from '../../../streams/stack/tcp-layer.js';
import { advance, stat } from './raw-peer.js';
import { pattern, concat, codeOf } from './tcp-helpers.js';
import { waitFor } from '../../helpers/wait-for.js';
import { EtherType, emitEthernet, parseEthernet } from '../../../src/wire/ethernet.js';
import { emitIpv6Header, fillIpv6UpperChecksum, parseIpv6Header, Ipv6NextHeader } from '../../../src/wire/ipv6.js';
import { emitUdp } from '../../../src/wire/udp.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { parseMac } from '../../../src/mac.js';
import { parseIcmpv6, Icmpv6Type } from '../../../src/wire/icmpv6.js';
import { parseTcp, TcpFlags } from '../../../src/wire/tcp.js';
import { IpProtocol } from '../../../src/wire/ipv4.js';
import { formatIpv6, ipv6Addr } from '../../../src/ipv6/address.js';
import { IPV6_ID_BASE } from '../../../src/ip/address-book.js';

/** Addresses usable at once: no duplicate address detection, no router advertisements (not what these tests are about). */
const NO_DAD = { dadTransmits: 0, acceptRa: false } as const;

const A4 = '198.18.0.1';
const B4 = '198.18.0.2';
const A6 = 'fd00:198:18::1';
const B6 = 'fd00:198:18::2';

/** Two dual-stack stacks on the memory wire, with every frame each one receives recorded. */
function dualPair(opts: { scheduler?: TestScheduler; hooksB?: StackHooks; mtu?: number } = {}) {
  const [la, lb] = createMemoryWire({ mtu: opts.mtu ?? 1500, scheduler: opts.scheduler });
  const toA: Uint8Array[] = [];
  const toB: Uint8Array[] = [];
  const subs: Subscription[] = [la.frames$.subscribe((f) => toA.push(f.slice())), lb.frames$.subscribe((f) => toB.push(f.slice()))];
  const a = createStack({ interfaces: [{ name: 'eth0', link: la, mac: '02:00:00:00:00:01', ipv4: [`${A4}/24`], ipv6: [`${A6}/64`] }], ipv6: NO_DAD }, { scheduler: opts.scheduler });
  const b = createStack({ interfaces: [{ name: 'eth0', link: lb, mac: '02:00:00:00:00:02', ipv4: [`${B4}/24`], ipv6: [`${B6}/64`] }], ipv6: NO_DAD }, { scheduler: opts.scheduler, hooks: opts.hooksB });
  return { a, b, toA, toB, wireA: la, close: () => { for (const s of subs) s.unsubscribe(); a.close(); b.close(); } };
}

/** An echo server: every connection sends back what it reads, then ends. Reports accepted connections. */
function echo(stack: Stack, options: Parameters<Stack['tcp']['listen']>[0], accepted: TcpConnection[] = []): Subscription {
  return stack.tcp.listen(options).subscribe((c) => {
    accepted.push(c);
    c.data$.subscribe({ next: (chunk) => c.write(chunk), complete: () => c.end(), error: () => undefined });
  });
}

/** Sends `bytes` over a new connection and collects what comes back until the peer ends. */
async function roundTrip(stack: Stack, address: string, port: number, bytes: Uint8Array): Promise<{ conn: TcpConnection; got: Uint8Array }> {
  const conn = await firstValueFrom(stack.tcp.connect({ address, port }));
  const chunks = lastValueFrom(conn.data$.pipe(toArray()));
  conn.write(bytes);
  conn.end();
  return { conn, got: concat(await chunks) };
}

/** IPv6 packets among `frames`, parsed. */
function ipv6Packets(frames: readonly Uint8Array[]) {
  const out = [];
  for (const f of frames) {
    const eth = parseEthernet(f);
    if (!eth.ok || eth.value.ethertype !== EtherType.IPV6) continue;
    const ip = parseIpv6Header(eth.value.payload);
    if (ip.ok) out.push(ip.value);
  }
  return out;
}

describe('stack: TCP and UDP over IPv6 (memory wire)', () => {
  it('TCP echo over IPv6 both ways: 1 MiB byte-exact, addresses and family IPv6, MSS = MTU - 60 on the SYN', async () => {
    const p = dualPair();
    const acceptedA: TcpConnection[] = [];
    const acceptedB: TcpConnection[] = [];
    const subs = [echo(p.a, { address: A6, port: 7 }, acceptedA), echo(p.b, { address: B6, port: 7 }, acceptedB)];
    try {
      const mib = pattern(1 << 20, 3);
      const ab = await roundTrip(p.a, B6, 7, mib);
      assert.equal(ab.got.length, mib.length);
      assert.deepEqual(ab.got, mib);
      assert.equal(ab.conn.remoteAddress, B6);
      assert.equal(ab.conn.localAddress, A6);
      assert.equal(ab.conn.family, 'IPv6');
      assert.equal(acceptedB[0].remoteAddress, A6);
      assert.equal(acceptedB[0].family, 'IPv6');
      const ba = await roundTrip(p.b, A6, 7, mib.subarray(0, 300_000));
      assert.deepEqual(ba.got, mib.subarray(0, 300_000));
      assert.equal(acceptedA[0].remoteAddress, B6);
      // The SYN b received offered MSS 1440 (1500 - 40 - 20) and came over IPv6.
      const syns = ipv6Packets(p.toB).filter((ip) => ip.nextHeader === IpProtocol.TCP)
        .map((ip) => parseTcp(ip.payload, 0, 0, { verifyChecksum: false }))
        .filter((t) => t.ok && t.value.flags === TcpFlags.SYN);
      assert.equal(syns.length, 1);
      assert.equal(syns[0].ok && syns[0].value.mss, 1440);
      assert.equal(stat(p.b, 'tcp', 'drops', 'badChecksum'), 0);
      assert.ok(stat(p.b, 'ipv6', 'rxDelivered') > 700, 'the data came over IPv6');
    } finally {
      for (const s of subs) s.unsubscribe();
      p.close();
    }
  });

  it('a listener on :: (and one with no address) accepts IPv4 and IPv6 peers; each reports its own family', async () => {
    const p = dualPair();
    const accepted: TcpConnection[] = [];
    const subs = [echo(p.b, { address: '::', port: 80 }, accepted), echo(p.b, { port: 81 }, accepted)];
    try {
      for (const port of [80, 81]) {
        const v6 = await roundTrip(p.a, B6, port, pattern(5000, port));
        assert.deepEqual(v6.got, pattern(5000, port));
        const v4 = await roundTrip(p.a, B4, port, pattern(7000, port + 1));
        assert.deepEqual(v4.got, pattern(7000, port + 1));
        assert.equal(v4.conn.family, 'IPv4');
      }
      assert.deepEqual(accepted.map((c) => [c.remoteAddress, c.family]), [[A6, 'IPv6'], [A4, 'IPv4'], [A6, 'IPv6'], [A4, 'IPv4']]);
    } finally {
      for (const s of subs) s.unsubscribe();
      p.close();
    }
  });

  it('ipv6Only: a listener on :: refuses IPv4 (RST: ECONNREFUSED) and a 0.0.0.0 listener may share its port', async () => {
    const p = dualPair();
    const subs = [echo(p.b, { address: '::', port: 80, ipv6Only: true })];
    try {
      await assert.rejects(firstValueFrom(p.a.tcp.connect({ address: B4, port: 80 })), { code: 'ECONNREFUSED' });
      subs.push(echo(p.b, { address: '0.0.0.0', port: 80 }));
      assert.deepEqual((await roundTrip(p.a, B4, 80, pattern(100))).got, pattern(100));
      assert.deepEqual((await roundTrip(p.a, B6, 80, pattern(100))).got, pattern(100));
    } finally {
      for (const s of subs) s.unsubscribe();
      p.close();
    }
  });

  it('EADDRINUSE as on Linux: a dual-stack :: conflicts with either family on its port; the families are apart otherwise', async () => {
    const p = dualPair();
    const errorOf = (o: Parameters<Stack['tcp']['listen']>[0]): Promise<string> =>
      new Promise((resolve) => {
        const sub = p.b.tcp.listen(o).subscribe({ error: (e: unknown) => resolve(codeOf(e)) });
        setTimeout(() => {
          sub.unsubscribe();
          resolve('ok');
        }, 0);
      });
    const held = p.b.tcp.listen({ address: '::', port: 90 }).subscribe();
    try {
      assert.equal(await errorOf({ address: '0.0.0.0', port: 90 }), 'EADDRINUSE');
      assert.equal(await errorOf({ address: B4, port: 90 }), 'EADDRINUSE');
      assert.equal(await errorOf({ address: B6, port: 90 }), 'EADDRINUSE');
      assert.equal(await errorOf({ address: '::', port: 90, ipv6Only: true }), 'EADDRINUSE');
      assert.equal(await errorOf({ address: '::', port: 91, ipv6Only: true }), 'ok');
      const v4 = p.b.tcp.listen({ address: B4, port: 92 }).subscribe();
      assert.equal(await errorOf({ address: '::', port: 92 }), 'EADDRINUSE');
      assert.equal(await errorOf({ address: B6, port: 92 }), 'ok', 'an IPv6 address beside an IPv4 one');
      v4.unsubscribe();
      // UDP follows the same rules.
      const u = p.b.udp.bind({ address: '::', port: 53 });
      assert.throws(() => p.b.udp.bind({ address: '0.0.0.0', port: 53 }), { code: 'EADDRINUSE' });
      assert.throws(() => p.b.udp.bind({ address: B6, port: 53 }), { code: 'EADDRINUSE' });
      u.close();
      const u4 = p.b.udp.bind({ address: '0.0.0.0', port: 53 });
      const u6 = p.b.udp.bind({ address: '::', port: 53, ipv6Only: true });
      assert.throws(() => p.b.udp.bind({ address: '::', port: 53 }), { code: 'EADDRINUSE' });
      u4.close();
      u6.close();
      // Bad addresses are named; one of another stack is not ours.
      assert.equal(await errorOf({ address: 'fd00::zz', port: 93 }), 'ERR_INVALID_ARG_VALUE');
      assert.equal(await errorOf({ address: A6, port: 93 }), 'EADDRNOTAVAIL');
    } finally {
      held.unsubscribe();
      p.close();
    }
  });

  it('UDP echo over IPv6 with string addresses; a dual-stack socket serves both families; the checksum is mandatory', async () => {
    const p = dualPair();
    const server = p.b.udp.bind({ address: '::', port: 7 });
    assert.deepEqual(server.address(), { address: '::', family: 'IPv6', port: 7 });
    server.datagrams$.subscribe((d) => server.send(d.payload, { address: d.address, port: d.port }));
    const client6 = p.a.udp.bind({ address: A6 });
    const client4 = p.a.udp.bind();
    try {
      assert.equal(client6.address().family, 'IPv6');
      const got6 = firstValueFrom(client6.datagrams$);
      client6.send(new TextEncoder().encode('over six'), { address: B6, port: 7 });
      const d6 = await got6;
      assert.equal(new TextDecoder().decode(d6.payload), 'over six');
      assert.equal(d6.address, B6);
      const got4 = firstValueFrom(client4.datagrams$);
      client4.send(new TextEncoder().encode('over four'), { address: B4, port: 7 });
      const d4 = await got4;
      assert.equal(new TextDecoder().decode(d4.payload), 'over four');
      assert.equal(d4.address, B4);
      // A socket bound to an IPv4 address cannot send to IPv6 (and the other way).
      const errs: string[] = [];
      client4.errors$.subscribe((e) => errs.push(e.code));
      assert.equal(client4.send(new Uint8Array(1), { address: B6, port: 7 }), false);
      assert.deepEqual(errs, ['EAFNOSUPPORT']);
      // Every UDP datagram a sent over IPv6 had a non-zero checksum.
      const udp6 = ipv6Packets(p.toB).filter((ip) => ip.nextHeader === IpProtocol.UDP);
      assert.ok(udp6.length >= 1);
      for (const ip of udp6) assert.notEqual((ip.payload[6] << 8) | ip.payload[7], 0);
      // Connected over IPv6: send() without a destination, remoteAddress() says IPv6.
      client6.connect({ address: B6, port: 7 });
      assert.deepEqual(client6.remoteAddress(), { address: B6, family: 'IPv6', port: 7 });
      const again = firstValueFrom(client6.datagrams$);
      client6.send(new Uint8Array([9, 9]));
      assert.deepEqual((await again).payload, new Uint8Array([9, 9]));
    } finally {
      client6.close();
      client4.close();
      server.close();
      p.close();
    }
    // Nothing is left interned for the peers once the sockets are gone.
    assert.equal(p.a.udpLayer.book.size <= 3, true, `book size ${p.a.udpLayer.book.size}`);
  });

  it('a UDP datagram over IPv6 with a zero checksum is dropped and counted (RFC 8200 8.1); the same with its checksum is delivered', async () => {
    const p = dualPair();
    const sock = p.b.udp.bind({ address: '::', port: 7 });
    const got: string[] = [];
    sock.datagrams$.subscribe((d) => got.push(`${d.address} ${d.payload.length}`));
    try {
      const frame = (checksummed: boolean): Uint8Array => {
        const pb = PacketBuffer.withPayload(new Uint8Array([1, 2, 3, 4]));
        emitUdp({ srcPort: 5000, dstPort: 7, payload: new Uint8Array(0) }, pb, 0, 0);
        if (checksummed) fillIpv6UpperChecksum(pb.buf, pb.head, pb.length, 6, ipv6Addr(A6), ipv6Addr(B6), IpProtocol.UDP);
        else pb.buf[pb.head + 6] = pb.buf[pb.head + 7] = 0;
        emitIpv6Header({ src: ipv6Addr(A6), dst: ipv6Addr(B6), nextHeader: IpProtocol.UDP, hopLimit: 64 }, pb);
        emitEthernet({ dst: parseMac('02:00:00:00:00:02')!, src: parseMac('02:00:00:00:00:01')!, ethertype: EtherType.IPV6 }, pb);
        return pb.bytes().slice();
      };
      p.wireA.send(frame(false));
      await waitFor('the drop', () => (stat(p.b, 'udp', 'drops', 'badChecksum') === 1 ? true : undefined));
      assert.deepEqual(got, []);
      p.wireA.send(frame(true));
      await waitFor('the delivery', () => (got.length === 1 ? true : undefined));
      assert.deepEqual(got, [`${A6} 4`]);
    } finally {
      sock.close();
      p.close();
    }
  });

  it('a UDP datagram to a closed port is answered with ICMPv6 port unreachable (code 4), rate limited', async () => {
    const p = dualPair();
    const client = p.a.udp.bind({ address: A6 });
    try {
      client.send(new Uint8Array([1, 2, 3]), { address: B6, port: 9999 });
      await waitFor('the unreachable', () => (stat(p.b, 'icmpv6', 'txErrors') >= 1 ? true : undefined));
      await waitFor('it reached a', () => (ipv6Packets(p.toA).some((ip) => ip.nextHeader === Ipv6NextHeader.ICMPV6 && ip.payload[0] === Icmpv6Type.DEST_UNREACHABLE) ? true : undefined));
      const unreachable = ipv6Packets(p.toA).find((ip) => ip.nextHeader === Ipv6NextHeader.ICMPV6 && ip.payload[0] === Icmpv6Type.DEST_UNREACHABLE)!;
      const m = parseIcmpv6(unreachable.payload, unreachable);
      assert.ok(m.ok && m.value.kind === 'dest-unreachable');
      assert.equal(m.ok && m.value.kind === 'dest-unreachable' && m.value.code, 4);
      assert.equal(formatIpv6(unreachable.dst), A6);
      assert.equal(stat(p.b, 'udp', 'drops', 'noPort'), 1);
      // A burst beyond the bucket (50) is cut by ICMPv6's rate limiter.
      for (let i = 0; i < 80; i++) client.send(new Uint8Array([i]), { address: B6, port: 9999 });
      await waitFor('the burst', () => (stat(p.b, 'udp', 'drops', 'noPort') === 81 ? true : undefined));
      assert.ok(stat(p.b, 'icmpv6', 'errorsRateLimited') > 0);
      assert.ok(stat(p.b, 'icmpv6', 'txErrors') <= 51);
    } finally {
      client.close();
      p.close();
    }
  });

  it('ICMPv6 errors reach the transports: a connected UDP socket hears ECONNREFUSED, a connect fails with EHOSTUNREACH', async () => {
    // b answers SYNs to port 5555 with ICMPv6 address unreachable (code 3) instead of taking them.
    let bStack: Stack | undefined;
    const refuse = filter((s: TcpSegmentIn) => {
      if (s.segment.dstPort !== 5555) return true;
      bStack?.icmpv6Layer?.sendUnreachable(s.datagram.header, false, 3);
      return false;
    });
    const p = dualPair({ hooksB: { tcp: { up: refuse } } });
    bStack = p.b;
    const client = p.a.udp.bind({ address: A6 });
    try {
      client.connect({ address: B6, port: 9999 });
      const err = firstValueFrom(client.errors$);
      client.send(new Uint8Array([1]));
      const e = await err;
      assert.equal(e.code, 'ECONNREFUSED');
      assert.match(e.message, new RegExp(`from ${B6}`));
      assert.equal(stat(p.a, 'udp', 'icmpErrorsReported'), 1);
      await assert.rejects(firstValueFrom(p.a.tcp.connect({ address: B6, port: 5555 })), { code: 'EHOSTUNREACH' });
      assert.equal(stat(p.a, 'tcp', 'icmpErrors'), 1);
    } finally {
      client.close();
      p.close();
    }
  });

  it('SYN cookies over IPv6: with the backlog full, a third client connects through a cookie and moves data', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    let blocking = true;
    // b loses the final ACKs of the first two handshakes, so they stay half open.
    const dropAcks = filter((s: TcpSegmentIn) => !(blocking && s.datagram.dst >= IPV6_ID_BASE && (s.segment.srcPort === 40_001 || s.segment.srcPort === 40_002)
      && s.segment.flags === TcpFlags.ACK && s.segment.payload.length === 0));
    const p = dualPair({ scheduler: ts, hooksB: { tcp: { up: dropAcks } } });
    const accepted: TcpConnection[] = [];
    echo(p.b, { address: '::', port: 7, backlog: 2 }, accepted);
    const outcome = (localPort: number) => {
      const o: { result?: string; conn?: TcpConnection } = {};
      p.a.tcp.connect({ address: B6, port: 7, localPort }).subscribe({ next: (c) => { o.result = 'ok'; o.conn = c; }, error: (e: unknown) => (o.result = codeOf(e)) });
      return o;
    };
    outcome(40_001);
    outcome(40_002);
    advance(ts, 1);
    assert.equal(stat(p.b, 'tcp', 'halfOpenConnections'), 2);
    const c3 = outcome(40_003);
    advance(ts, 1);
    assert.equal(c3.result, 'ok');
    assert.equal(accepted.length, 1);
    assert.equal(accepted[0].remoteAddress, A6);
    assert.equal(stat(p.b, 'tcp', 'synCookiesSent'), 1);
    assert.equal(stat(p.b, 'tcp', 'synCookiesAccepted'), 1);
    const conn = c3.conn as TcpConnection;
    const got: Uint8Array[] = [];
    conn.data$.subscribe((c) => got.push(c.slice()));
    conn.write(pattern(100_000, 4));
    advance(ts, 1000);
    assert.deepEqual(concat(got), pattern(100_000, 4));
    blocking = false;
    advance(ts, 5000);
    assert.equal(accepted.length, 3);
    p.close();
  });

  it('a stranger\'s address is interned only while its segment is handled: RSTs to closed ports leave the book as it was', async () => {
    const p = dualPair();
    try {
      await assert.rejects(firstValueFrom(p.a.tcp.connect({ address: B6, port: 1 })), { code: 'ECONNREFUSED' });
      assert.equal(stat(p.b, 'tcp', 'drops', 'noEndpoint'), 1);
      assert.equal(stat(p.b, 'tcp', 'rstSent'), 1);
      // b holds its own address (interned for good on first use), not the stranger's.
      assert.notEqual(p.b.tcpLayer.book.idOf(ipv6Addr(B6)), undefined);
      assert.equal(p.b.tcpLayer.book.idOf(ipv6Addr(A6)), undefined);
      assert.equal(p.b.tcpLayer.book.size, 2);
      // And a's connection, gone, gave its reference on b's address back.
      assert.equal(p.a.tcpLayer.book.idOf(ipv6Addr(B6)), undefined);
    } finally {
      p.close();
    }
  });

  it('TCP and UDP hooks see both families; stack.formatAddress prints their IpAddr addresses', async () => {
    const seen = new Set<string>();
    const record = tap((s: TcpSegmentIn) => seen.add(`${p.b.formatAddress(s.datagram.src)} > ${p.b.formatAddress(s.datagram.dst)}`));
    const p = dualPair({ hooksB: { tcp: { up: record } } });
    const sub = echo(p.b, { port: 7 });
    try {
      await roundTrip(p.a, B6, 7, pattern(10));
      await roundTrip(p.a, B4, 7, pattern(10));
      assert.deepEqual([...seen].sort(), [`${A4} > ${B4}`, `${A6} > ${B6}`]);
    } finally {
      sub.unsubscribe();
      p.close();
    }
  });

  it('random TCP and UDP packets over IPv6 from random sources (right checksums) never throw, and leave nothing interned (property)', async () => {
    const p = dualPair();
    const listen = echo(p.b, { port: 7 });
    const sock = p.b.udp.bind({ address: '::', port: 7 });
    try {
      const samples = fc.sample(fc.record({
        udp: fc.boolean(),
        src: fc.uint8Array({ minLength: 16, maxLength: 16 }),
        body: fc.uint8Array({ minLength: 0, maxLength: 80 }),
        port: fc.constantFrom(7, 9, 80),
      }), 300);
      const before = stat(p.b, 'ipv6', 'rxPackets');
      for (const x of samples) {
        const proto = x.udp ? IpProtocol.UDP : IpProtocol.TCP;
        const header = new Uint8Array(x.udp ? 8 : 20);
        header[2] = 0;
        header[3] = x.port;
        if (!x.udp) header[12] = 0x50; // data offset 5
        const msg = new Uint8Array([...header, ...x.body]);
        if (x.udp) { msg[4] = msg.length >>> 8; msg[5] = msg.length & 0xff; }
        x.src[0] = 0xfd; // unicast, not ours
        const pb = PacketBuffer.withPayload(msg);
        fillIpv6UpperChecksum(pb.buf, pb.head, pb.length, x.udp ? 6 : 16, x.src, ipv6Addr(B6), proto);
        emitIpv6Header({ src: x.src, dst: ipv6Addr(B6), nextHeader: proto, hopLimit: 64 }, pb);
        emitEthernet({ dst: parseMac('02:00:00:00:00:02')!, src: parseMac('02:00:00:00:00:01')!, ethertype: EtherType.IPV6 }, pb);
        p.wireA.send(pb.bytes().slice());
      }
      await waitFor('every packet', () => (stat(p.b, 'ipv6', 'rxPackets') - before >= samples.length ? true : undefined));
      // Once the packets are handled the book holds :: and b's own address, plus one peer per
      // connection the random SYNs opened (each holds its peer until it is gone).
      const held = p.b.tcpLayer.book.size;
      assert.ok(held <= 2 + stat(p.b, 'tcp', 'halfOpenConnections') + stat(p.b, 'tcp', 'activeConnections'), `book holds ${held}`);
      assert.ok(stat(p.b, 'tcp', 'rxSegments') + stat(p.b, 'udp', 'rxDatagrams') >= samples.length);
    } finally {
      listen.unsubscribe();
      sock.close();
      p.close();
    }
  });

  it('an IPv4-only stack: IPv6 addresses are EAFNOSUPPORT, listen without an address stays 0.0.0.0', async () => {
    const [la, lb] = createMemoryWire({ mtu: 1500 });
    const s = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: [`${A4}/24`] }] });
    const t = createStack({ interfaces: [{ name: 'eth0', link: lb, ipv4: [`${B4}/24`] }] });
    try {
      await assert.rejects(firstValueFrom(s.tcp.connect({ address: B6, port: 7 })), { code: 'EAFNOSUPPORT' });
      assert.throws(() => s.udp.bind({ address: '::' }), { code: 'EAFNOSUPPORT' });
      const sub = echo(t, { port: 7 });
      assert.deepEqual([...t.tcpLayer.ports.entries()].map((e) => [e.addr, e.dualStack]), [[0, false]], 'held on 0.0.0.0 only');
      assert.deepEqual((await roundTrip(s, B4, 7, pattern(10))).got, pattern(10));
      sub.unsubscribe();
    } finally {
      s.close();
      t.close();
    }
  });
});
