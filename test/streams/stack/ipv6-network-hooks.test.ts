import assert from 'node:assert/strict';
import { filter, tap, type Subscription } from 'rxjs';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { createStack, type NetworkOutbound } from '../../../streams/stack/create-stack.js';
import { isIpv6Outbound } from '../../../streams/stack/ipv6-layer.js';
import { pattern, echoed } from './tcp-helpers.js';
import { formatIpv6 } from '../../../src/ipv6/address.js';
import { formatIpv4 } from '../../../src/ipv4/address.js';
import { EtherType } from '../../../src/wire/ethernet.js';
import { IpProtocol } from '../../../src/wire/ipv4.js';
import { waitFor } from '../../helpers/wait-for.js';

const NO_DAD = { dadTransmits: 0, acceptRa: false } as const;
const A4 = '198.18.0.1';
const B4 = '198.18.0.2';
const A6 = 'fd00:198:18::1';
const B6 = 'fd00:198:18::2';

/** The EtherType of a frame. */
const ethertypeOf = (f: Uint8Array): number => (f[12] << 8) | f[13];

describe('stack: the network hook and tap over IPv6 (memory wire)', () => {
  it('see IPv6 frames up and Ipv6Outbound packets down beside IPv4; an operator drops IPv6 UDP to one port', async () => {
    const upTypes = new Set<number>();
    const down: string[] = [];
    // b's firewall: IPv6 UDP to port 9999 does not leave; everything else passes.
    const firewall = filter((o: NetworkOutbound) => {
      if (!isIpv6Outbound(o) || o.protocol !== IpProtocol.UDP) return true;
      const udp = o.pb.bytes().subarray(40);
      return ((udp[2] << 8) | udp[3]) !== 9999;
    });
    const record = tap((o: NetworkOutbound) => {
      if (o.protocol !== IpProtocol.TCP) return;
      down.push(isIpv6Outbound(o) ? `6 ${o.iface.name} ${formatIpv6(o.src)} > ${formatIpv6(o.dst)} via ${formatIpv6(o.nextHop)}` : `4 ${formatIpv4(o.src)} > ${formatIpv4(o.dst)}`);
    });
    const [la, lb] = createMemoryWire({ mtu: 1500 });
    const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: [`${A4}/24`], ipv6: [`${A6}/64`] }], ipv6: NO_DAD });
    const b = createStack(
      { interfaces: [{ name: 'eth0', link: lb, ipv4: [`${B4}/24`], ipv6: [`${B6}/64`] }], ipv6: NO_DAD },
      { hooks: { network: { up: tap((f: Uint8Array) => upTypes.add(ethertypeOf(f))), down: (src) => src.pipe(firewall, record) } } },
    );
    const tapped: number[] = [];
    const subs: Subscription[] = [b.taps.network.down$.subscribe((o) => tapped.push(isIpv6Outbound(o) ? 6 : 4))];
    subs.push(a.tcp.listen({ port: 7 }).subscribe((c) => c.data$.subscribe({ next: (x) => c.write(x), complete: () => c.end() })));
    try {
      assert.deepEqual(await echoed(b, A6, pattern(3000, 1)), pattern(3000, 1));
      assert.deepEqual(await echoed(b, A4, pattern(3000, 2)), pattern(3000, 2));
      assert.ok(upTypes.has(EtherType.IPV6) && upTypes.has(EtherType.IPV4), 'the up operator saw both families');
      assert.ok(down.includes(`6 eth0 ${B6} > ${A6} via ${A6}`), down.join('\n'));
      assert.ok(down.includes(`4 ${B4} > ${A4}`));
      assert.ok(tapped.includes(6) && tapped.includes(4), 'the tap saw both families');

      // UDP: the IPv6 datagram to 9999 is dropped by the operator, the one to 9998 and the IPv4 one pass.
      const got: string[] = [];
      const s1 = a.udp.bind({ address: '::', port: 9999 });
      const s2 = a.udp.bind({ address: '::', port: 9998 });
      subs.push(s1.datagrams$.subscribe((d) => got.push(`9999 ${d.address}`)), s2.datagrams$.subscribe((d) => got.push(`9998 ${d.address}`)));
      const c6 = b.udp.bind({ address: '::' });
      c6.send(new Uint8Array([1]), { address: A6, port: 9999 });
      c6.send(new Uint8Array([2]), { address: A6, port: 9998 });
      c6.send(new Uint8Array([3]), { address: A4, port: 9999 });
      await waitFor('two datagrams', () => (got.length >= 2 ? true : undefined));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(got.sort(), [`9998 ${B6}`, `9999 ${B4}`]);
      s1.close();
      s2.close();
      c6.close();
    } finally {
      for (const s of subs) s.unsubscribe();
      a.close();
      b.close();
    }
  });
  it('a tap observer that keeps what it sees gets a record of its own per packet (IPv6 lends one record below it otherwise)', async () => {
    const [la, lb] = createMemoryWire({ mtu: 1500 });
    const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: [`${A4}/24`], ipv6: [`${A6}/64`] }], ipv6: NO_DAD });
    const b = createStack({ interfaces: [{ name: 'eth0', link: lb, ipv4: [`${B4}/24`], ipv6: [`${B6}/64`] }], ipv6: NO_DAD });
    const kept: NetworkOutbound[] = [];
    const sub = b.taps.network.down$.subscribe((o) => {
      if (isIpv6Outbound(o) && o.protocol === IpProtocol.UDP) kept.push(o);
    });
    const server = a.udp.bind({ address: '::', port: 9000 });
    const got: number[] = [];
    const s2 = server.datagrams$.subscribe((d) => got.push(d.payload[0]));
    const c6 = b.udp.bind({ address: '::' });
    try {
      for (let i = 1; i <= 3; i++) c6.send(new Uint8Array([i]), { address: A6, port: 9000 });
      await waitFor('three datagrams', () => (got.length >= 3 ? true : undefined));
      assert.equal(kept.length, 3);
      assert.equal(new Set(kept).size, 3, 'three records, not one refilled');
      // Each still names its own packet (its one payload byte last; the link's header may have been prepended since).
      assert.deepEqual(kept.map((o) => o.pb.bytes()[o.pb.length - 1]), [1, 2, 3]);
      assert.deepEqual(kept.map((o) => (isIpv6Outbound(o) ? formatIpv6(o.dst) : '')), [A6, A6, A6]);
    } finally {
      sub.unsubscribe();
      s2.unsubscribe();
      server.close();
      c6.close();
      a.close();
      b.close();
    }
  });
});
