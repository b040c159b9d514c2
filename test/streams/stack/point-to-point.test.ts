import assert from 'node:assert/strict';
import { Subject, firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { createStack } from '../../../streams/stack/create-stack.js';
import type { Link } from '../../../streams/links/link.js';
import { pattern, concat } from './tcp-helpers.js';

/** Two links of bare IPv4 packets joined back to back (what two TUN devices would carry). */
function ipPair(): [Link & { sent: Uint8Array[] }, Link & { sent: Uint8Array[] }] {
  const make = (name: string, inbox: Subject<Uint8Array>, outbox: Subject<Uint8Array>) => {
    const sent: Uint8Array[] = [];
    return {
      name, layer: 'ip' as const, mtu: 1500, sent, frames$: inbox.asObservable(),
      send: (packet: Uint8Array) => {
        sent.push(packet);
        setImmediate(() => outbox.next(packet));
      },
      close: () => inbox.complete(),
    };
  };
  const ab = new Subject<Uint8Array>();
  const ba = new Subject<Uint8Array>();
  return [make('ip-a', ba, ab), make('ip-b', ab, ba)];
}

describe('stack: IPv4 straight on a link of IP packets (pointToPoint)', () => {
  it('pings and carries TCP byte-exact with no Ethernet header and no ARP', async () => {
    const [la, lb] = ipPair();
    const a = createStack({ interfaces: [{ name: 'tun0', link: la, ipv4: ['198.18.0.1/32'] }], routes: [{ destination: '0.0.0.0/0', interface: 'tun0' }] });
    const b = createStack({ interfaces: [{ name: 'tun0', link: lb, ipv4: ['198.18.0.2/32'] }], routes: [{ destination: '0.0.0.0/0', interface: 'tun0' }] });
    const server = b.tcp.listen({ port: 7 }).subscribe((c) => c.data$.subscribe({ next: (d) => c.write(d), complete: () => c.end() }));
    try {
      assert.equal((await firstValueFrom(a.icmp.ping('198.18.0.2'))).from, '198.18.0.2');
      const conn = await firstValueFrom(a.tcp.connect({ address: '198.18.0.2', port: 7 }));
      const payload = pattern(50_000, 3);
      const back = lastValueFrom(conn.data$.pipe(toArray()));
      conn.write(payload);
      conn.end();
      assert.deepEqual(concat(await back), payload);
      // Every packet written is IPv4 from its first byte (version 4), none an ARP or Ethernet frame.
      assert.ok(la.sent.length > 0 && la.sent.every((p) => p[0] >> 4 === 4));
      assert.equal(Object.keys(a.stats()).some((k) => k.startsWith('eth:') || k.startsWith('arp:')), false);
      assert.deepEqual(a.arp.entries(), []);
      assert.throws(() => a.ethernetProtocol(0x88b5), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.equal(b.stats().tcp.drops.badChecksum, 0);
    } finally {
      server.unsubscribe();
      a.close();
      b.close();
    }
  });

  it('UDP datagrams go out as whole IPv4 packets (made with room for IPv4 and UDP only: every byte written)', async () => {
    const [la, lb] = ipPair();
    const a = createStack({ interfaces: [{ name: 'tun0', link: la, ipv4: ['198.18.0.1/32'] }], routes: [{ destination: '0.0.0.0/0', interface: 'tun0' }] });
    const b = createStack({ interfaces: [{ name: 'tun0', link: lb, ipv4: ['198.18.0.2/32'] }], routes: [{ destination: '0.0.0.0/0', interface: 'tun0' }] });
    const echo = b.udp.bind({ port: 7 });
    echo.datagrams$.subscribe((d) => echo.send(d.payload, d));
    const client = a.udp.bind({});
    try {
      const back = firstValueFrom(client.datagrams$);
      client.send(new Uint8Array([1, 2, 3]), { address: '198.18.0.2', port: 7 });
      assert.deepEqual([...(await back).payload], [1, 2, 3]);
      for (const p of [...la.sent, ...lb.sent]) {
        assert.equal(p[0], 0x45, 'IPv4 from the first byte');
        assert.equal(p.length, 20 + 8 + 3);
        assert.equal((p[2] << 8) | p[3], p.length, 'total length');
      }
      assert.equal(lb.sent.length, 1);
      assert.equal(a.stats().udp.drops.badChecksum, 0);
      assert.equal(b.stats().udp.drops.badChecksum, 0);
      assert.equal(a.stats().ipv4.drops.badChecksum + b.stats().ipv4.drops.badChecksum, 0);
    } finally {
      echo.close();
      client.close();
      a.close();
      b.close();
    }
  });
});
