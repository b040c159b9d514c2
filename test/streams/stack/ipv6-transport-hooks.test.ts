import assert from 'node:assert/strict';
import { concatMap, delay, filter, firstValueFrom, map, of, tap, type MonoTypeOperatorFunction, type Subscription } from 'rxjs';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { createStack, type Stack, type StackHooks } from '../../../streams/stack/create-stack.js';
import type { IpDatagram, IpSend } from '../../../streams/stack/ip-network.js';
import { pattern, echoed } from './tcp-helpers.js';
import { waitFor } from '../../helpers/wait-for.js';
import { adjustChecksum } from '../../../src/wire/checksum.js';
import { IpProtocol } from '../../../src/wire/ipv4.js';
import { Ipv6NextHeader } from '../../../src/wire/ipv6.js';
import { formatIpv6, parseIpv6 } from '../../../src/ipv6/address.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { IPV6_ID_BASE, type IpAddr } from '../../../src/ip/address-book.js';

const NO_DAD = { dadTransmits: 0, acceptRa: false } as const;
const A4 = '198.18.0.1';
const B4 = '198.18.0.2';
const A6 = 'fd00:198:18::1';
const B6 = 'fd00:198:18::2';
/** Where b's TCP believes the client a is (a NAT's inside address for it). */
const MAPPED4 = '10.1.0.1';
const MAPPED6 = 'fd00:10::1';

function pair(hooksB?: (b: () => Stack) => StackHooks) {
  const [la, lb] = createMemoryWire({ mtu: 1500 });
  const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: [`${A4}/24`], ipv6: [`${A6}/64`] }], ipv6: NO_DAD });
  // The hooks look the stack up lazily (its ids are made on the first packet, once it exists).
  let made: Stack | undefined;
  const b = createStack({ interfaces: [{ name: 'eth0', link: lb, ipv4: [`${B4}/24`], ipv6: [`${B6}/64`] }], ipv6: NO_DAD }, { hooks: hooksB?.(() => made!) });
  made = b;
  return { a, b };
}

/** The 32-bit words of an address: IPv4's one, IPv6's four (what the pseudo-header sums). */
function wordsOf(text: string): number[] {
  const v6 = parseIpv6(text);
  if (v6 === undefined) return [text.split('.').reduce((n, x) => n * 256 + Number(x), 0)];
  const view = new DataView(v6.buffer, v6.byteOffset, 16);
  return [0, 4, 8, 12].map((i) => view.getUint32(i));
}

/** The checksum at `bytes[at]` after the pseudo-header's address changed from `from` to `to` (RFC 1624, per 32-bit word). */
function fix(bytes: Uint8Array, at: number, from: string, to: string): void {
  const f = wordsOf(from);
  const t = wordsOf(to);
  let sum = (bytes[at] << 8) | bytes[at + 1];
  for (let i = 0; i < f.length; i++) sum = adjustChecksum(sum, f[i], t[i]);
  bytes[at] = sum >>> 8;
  bytes[at + 1] = sum & 0xff;
}

function echoServer(stack: Stack, remotes: string[]): Subscription {
  return stack.tcp.listen({ port: 7 }).subscribe((c) => {
    remotes.push(c.remoteAddress);
    c.data$.subscribe({ next: (x) => c.write(x), complete: () => c.end() });
  });
}

describe('stack: the transport hook and tap over IPv6 (memory wire)', () => {
  it('a NAT-like rewrite sees and rewrites both families: TCP sees the client at its mapped address, byte-exact echo', async () => {
    // b's TCP sees a (A4, A6) as MAPPED4, MAPPED6; the checksums follow the pseudo-header.
    const { a, b } = pair((stack) => {
      let ids: { real4: IpAddr; mapped4: IpAddr; real6: IpAddr; mapped6: IpAddr } | undefined;
      const addr = () => (ids ??= { real4: stack().ipAddr(A4), mapped4: stack().ipAddr(MAPPED4), real6: stack().ipAddr(A6), mapped6: stack().ipAddr(MAPPED6) });
      const mapSource = (d: IpDatagram): IpDatagram => {
        const { real4, mapped4, real6, mapped6 } = addr();
        if (d.protocol !== IpProtocol.TCP || (d.src !== real4 && d.src !== real6)) return d;
        const v6 = d.src === real6;
        const payload = d.payload.slice();
        fix(payload, 16, v6 ? A6 : A4, v6 ? MAPPED6 : MAPPED4);
        return { ...d, src: v6 ? mapped6 : mapped4, payload };
      };
      const unmapDestination = (s: IpSend): IpSend => {
        const { real4, mapped4, real6, mapped6 } = addr();
        if (s.protocol !== IpProtocol.TCP || (s.dst !== mapped4 && s.dst !== mapped6)) return s;
        const v6 = s.dst === mapped6;
        fix(s.pb.buf, s.pb.head + 16, v6 ? MAPPED6 : MAPPED4, v6 ? A6 : A4);
        return { ...s, dst: v6 ? real6 : real4 };
      };
      return { transport: { up: map(mapSource), down: map(unmapDestination) } };
    });
    const remotes: string[] = [];
    const server = echoServer(b, remotes);
    try {
      assert.deepEqual(await echoed(a, B6, pattern(20_000, 1)), pattern(20_000, 1));
      assert.deepEqual(await echoed(a, B4, pattern(5000, 2)), pattern(5000, 2));
      assert.deepEqual(remotes, [MAPPED6, MAPPED4]);
      assert.equal(b.stats().tcp.drops['badChecksum'], 0);
      assert.equal(a.stats().tcp.drops['badChecksum'], 0);
      assert.equal(b.stats().ipv6!.unresolvedAddress, 0);
    } finally {
      server.unsubscribe();
      a.close();
      b.close();
    }
  });

  it('the tap shows IPv6 datagrams and sends as records (ids the stack formats) beside IPv4, without operators', async () => {
    const { a, b } = pair();
    const up: string[] = [];
    const down: string[] = [];
    const subs = [
      b.taps.transport.up$.subscribe((d) => up.push(`${d.protocol} ${b.formatAddress(d.src)} > ${b.formatAddress(d.dst)}`)),
      b.taps.transport.down$.subscribe((s) => down.push(`${s.protocol} ${b.formatAddress(s.src ?? 0)} > ${b.formatAddress(s.dst)}`)),
      echoServer(b, []),
    ];
    try {
      assert.deepEqual(await echoed(a, B6, pattern(100, 3)), pattern(100, 3));
      await firstValueFrom(a.icmp.ping(B6));
      assert.deepEqual(await echoed(a, B4, pattern(100, 4)), pattern(100, 4));
      assert.ok(up.includes(`6 ${A6} > ${B6}`), up.join('\n'));
      assert.ok(up.includes(`${Ipv6NextHeader.ICMPV6} ${A6} > ${B6}`), 'the echo request');
      assert.ok(up.includes(`6 ${A4} > ${B4}`));
      assert.ok(down.includes(`6 ${B6} > ${A6}`), down.join('\n'));
      assert.ok(down.includes(`${Ipv6NextHeader.ICMPV6} ${B6} > ${A6}`), 'the echo reply');
      assert.ok(down.includes(`6 ${B4} > ${A4}`));
    } finally {
      for (const s of subs) s.unsubscribe();
      a.close();
      b.close();
    }
  });

  it('operators that delay every IPv6 item: TCP, UDP and ICMPv6 (ND included) still work, and the ids outlive the delay', async () => {
    const slow = <T>(): MonoTypeOperatorFunction<T> => concatMap((x: T) => of(x).pipe(delay(2)));
    const seen = { up: 0, down: 0 };
    const { a, b } = pair(() => ({ transport: { up: (s) => s.pipe(tap(() => seen.up++), slow()), down: (s) => s.pipe(tap(() => seen.down++), slow()) } }));
    const subs = [echoServer(b, [])];
    try {
      await firstValueFrom(a.icmp.ping(B6));
      assert.deepEqual(await echoed(a, B6, pattern(30_000, 5)), pattern(30_000, 5));
      const got: string[] = [];
      const socket = b.udp.bind({ address: '::', port: 9000 });
      subs.push(socket.datagrams$.subscribe((d) => {
        got.push(`${d.address} ${d.payload[0]}`);
        socket.send(d.payload, d);
      }));
      const client = a.udp.bind({ address: '::' });
      const answers: number[] = [];
      subs.push(client.datagrams$.subscribe((d) => answers.push(d.payload[0])));
      client.send(new Uint8Array([7]), { address: B6, port: 9000 });
      await waitFor('the UDP answer', () => (answers.length > 0 ? true : undefined));
      assert.deepEqual(got, [`${A6} 7`]);
      assert.deepEqual(answers, [7]);
      assert.ok(seen.up > 10 && seen.down > 10);
      assert.equal(b.stats().ipv6!.unresolvedAddress, 0);
      client.close();
      socket.close();
    } finally {
      for (const s of subs) s.unsubscribe();
      a.close();
      b.close();
    }
  });

  it('an operator that drops IPv6 TCP up: no RST comes back, IPv4 passes; an id not held is dropped and counted', async () => {
    let dropped = 0;
    const { a, b } = pair(() => ({
      transport: {
        up: filter((d: IpDatagram) => {
          const drop = d.dst >= IPV6_ID_BASE && d.protocol === IpProtocol.TCP;
          if (drop) dropped++;
          return !drop;
        }),
        // UDP to port 9001 leaves with a destination id nobody holds: it cannot become bytes.
        down: map((s: IpSend) => (s.protocol === IpProtocol.UDP && s.dst >= IPV6_ID_BASE && ((s.pb.buf[s.pb.head + 2] << 8) | s.pb.buf[s.pb.head + 3]) === 9001 ? { ...s, dst: 2 ** 36 } : s)),
      },
    }));
    const subs = [echoServer(b, [])];
    try {
      const before = b.stats().tcp;
      let connected = false;
      const connecting = a.tcp.connect({ address: B6, port: 7 }).subscribe(() => (connected = true));
      await waitFor('the SYN dropped', () => (dropped > 0 ? true : undefined));
      connecting.unsubscribe();
      assert.equal(connected, false);
      assert.equal(b.stats().tcp.rxSegments, before.rxSegments, 'the IPv6 SYN never reached TCP');
      assert.equal(b.stats().tcp.rstSent, before.rstSent, 'so no RST answered it');
      assert.deepEqual(await echoed(a, B4, pattern(100, 6)), pattern(100, 6));
      const socket = b.udp.bind({ address: '::' });
      socket.send(new Uint8Array([1]), { address: A6, port: 9001 });
      await waitFor('the count', () => (b.stats().ipv6!.unresolvedAddress === 1 ? true : undefined));
      socket.close();
    } finally {
      for (const s of subs) s.unsubscribe();
      a.close();
      b.close();
    }
  });

  it('with operators, a protocol of your own still gets IPv6 datagrams (addresses as bytes), and an unclaimed one a Parameter Problem', async () => {
    const protocols: number[] = [];
    const { a, b } = pair(() => ({ transport: { up: tap((d: IpDatagram) => protocols.push(d.protocol)) } }));
    try {
      await firstValueFrom(a.icmp.ping(B6)); // neighbours resolved both ways
      const mine = firstValueFrom(b.ipv6Protocol(253).up$);
      const send = (protocol: number) => {
        const pb = PacketBuffer.withPayload(new Uint8Array([1, 2, 3, 4]));
        a.ipv6Protocol(protocol).down.next({ pb, dst: parseIpv6(B6)!, protocol });
      };
      send(253);
      const d = await mine;
      assert.deepEqual([formatIpv6(d.src), formatIpv6(d.dst), d.protocol, d.nextHeaderAt, [...d.payload]], [A6, B6, 253, 6, [1, 2, 3, 4]]);
      const before = b.stats().icmpv6!.txErrors;
      send(254);
      await waitFor('the Parameter Problem', () => (b.stats().icmpv6!.txErrors > before ? true : undefined));
      assert.ok(protocols.includes(253) && protocols.includes(254) && protocols.includes(Ipv6NextHeader.ICMPV6));
    } finally {
      a.close();
      b.close();
    }
  });
});

