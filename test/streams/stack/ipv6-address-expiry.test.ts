/**
 * SLAAC addresses that expire (RFC 4862 5.5.4), in virtual time on the memory wire: a
 * deprecated address keeps its connections; once its valid lifetime ends, the TCP connections,
 * listeners and UDP sockets bound to it fail with EADDRNOTAVAIL, and wildcard ones live on.
 */
import assert from 'node:assert/strict';
import type { Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { createStack } from '../../../streams/stack/create-stack.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import { advance } from './raw-peer.js';
import { pattern, concat } from './tcp-helpers.js';
import { EtherType, emitEthernet } from '../../../src/wire/ethernet.js';
import { emitIpv6Header, Ipv6NextHeader } from '../../../src/wire/ipv6.js';
import { emitNdp, ndpMessageLen } from '../../../src/wire/ndp.js';
import { ipv6Addr } from '../../../src/ipv6/address.js';
import { parseMac } from '../../../src/mac.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import type { NetstackError } from '../../../src/errors.js';

const A_MAC = '02:00:00:00:00:01';
const A6 = 'fd00:198:18::1';
const PREFIX = 'fd00:198:18::';

/**
 * A router advertisement (from fe80::1 at a's MAC, router lifetime 0: no default router)
 * whose on-link, autonomous prefix fd00:198:18::/64 lives `valid` seconds, preferred for `preferred`.
 */
function raFrame(valid: number, preferred: number): Uint8Array {
  const src = ipv6Addr('fe80::1');
  const dst = ipv6Addr('ff02::1');
  const repr = {
    kind: 'router-advert', curHopLimit: 64, managed: false, other: false, routerLifetime: 0, reachableTime: 0, retransTimer: 0,
    sourceLinkAddr: parseMac(A_MAC)!,
    prefixes: [{ prefix: ipv6Addr(PREFIX), prefixLength: 64, onLink: true, autonomous: true, validLifetime: valid, preferredLifetime: preferred }],
  } as const;
  const message = PacketBuffer.alloc(0, ndpMessageLen(repr));
  emitNdp(repr, message, { src, dst });
  const pb = PacketBuffer.withPayload(message.bytes());
  emitIpv6Header({ src, dst, nextHeader: Ipv6NextHeader.ICMPV6, hopLimit: 255 }, pb);
  emitEthernet({ dst: parseMac('33:33:00:00:00:01')!, src: parseMac(A_MAC)!, ethertype: EtherType.IPV6 }, pb);
  return pb.bytes().slice();
}

describe('stack: IPv6 addresses that expire (memory wire, virtual time)', () => {
  it('deprecated: connections keep working; expired: its connection, listener and UDP socket fail with EADDRNOTAVAIL', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const [la, lb] = createMemoryWire({ mtu: 1500, scheduler: ts });
    const a = createStack({ interfaces: [{ name: 'eth0', link: la, mac: A_MAC, ipv4: [], ipv6: [`${A6}/64`] }], ipv6: { dadTransmits: 0, acceptRa: false } }, { scheduler: ts });
    // b has no static IPv6 address: only what SLAAC forms from the RA.
    const b = createStack({ interfaces: [{ name: 'eth0', link: lb, mac: '02:00:00:00:00:02', ipv4: [], ipv6: [] }], ipv6: { dadTransmits: 0, slaac: true } }, { scheduler: ts });
    const subs: Subscription[] = [];
    try {
      advance(ts, 10);
      la.send(raFrame(60, 30));
      advance(ts, 10);
      const slaac = b.inet6.addresses().find((x) => x.origin === 'slaac');
      assert.ok(slaac !== undefined && slaac.state === 'preferred', 'b formed an address from the RA');
      const got: Uint8Array[] = [];
      subs.push(a.tcp.listen({ port: 9 }).subscribe((c) => c.data$.subscribe({ next: (x) => got.push(x.slice()), error: () => undefined })));
      let conn: TcpConnection | undefined;
      subs.push(b.tcp.connect({ address: A6, port: 9 }).subscribe((c) => (conn = c)));
      // A listener on the address itself, one on the wildcard, a UDP socket on the address.
      const listenErrors: string[] = [];
      subs.push(b.tcp.listen({ address: slaac.address, port: 80 }).subscribe({ error: (e: NetstackError) => listenErrors.push(e.code) }));
      let wildcardEnded = false;
      subs.push(b.tcp.listen({ port: 81 }).subscribe({ error: () => (wildcardEnded = true), complete: () => (wildcardEnded = true) }));
      const udp = b.udp.bind({ address: slaac.address, port: 53 });
      const udpErrors: string[] = [];
      let udpEnded = false;
      subs.push(udp.errors$.subscribe((e) => udpErrors.push(e.code)));
      subs.push(udp.datagrams$.subscribe({ complete: () => (udpEnded = true) }));
      advance(ts, 100);
      assert.ok(conn !== undefined, 'connected');
      assert.equal(conn.localAddress, slaac.address);
      const connErrors: string[] = [];
      subs.push(conn.closed$.subscribe((e) => connErrors.push(e?.code ?? 'closed')));

      // 40 s: deprecated (preferred lifetime over); the connection still moves data.
      advance(ts, 40_000 - ts.now());
      assert.equal(b.inet6.addresses().find((x) => x.address === slaac.address)?.state, 'deprecated');
      conn.write(pattern(5000, 1));
      advance(ts, 100);
      assert.deepEqual(concat(got), pattern(5000, 1));
      assert.deepEqual([connErrors, listenErrors, udpErrors], [[], [], []]);

      // 60 s: valid lifetime over: removed, and what is bound to it fails.
      advance(ts, 61_000 - ts.now());
      assert.equal(b.inet6.addresses().some((x) => x.address === slaac.address), false, 'the address is gone');
      assert.deepEqual(connErrors, ['EADDRNOTAVAIL']);
      assert.equal(conn.state, 'CLOSED');
      assert.equal(conn.error?.code, 'EADDRNOTAVAIL');
      assert.deepEqual(listenErrors, ['EADDRNOTAVAIL']);
      assert.deepEqual(udpErrors, ['EADDRNOTAVAIL']);
      assert.ok(udpEnded, 'the socket is closed');
      assert.equal(wildcardEnded, false, 'the wildcard listener lives on');
      assert.equal(b.tcpLayer.connections().length, 0);
    } finally {
      for (const s of subs) s.unsubscribe();
      a.close();
      b.close();
    }
  });
});
