/**
 * Ipv6Layer.send keeps the route of the last destination and the proof of the last source
 * (keyed by their bytes, checked by a stamp of routes and address lists, the address states
 * read per packet):
 * every change that alters a route or the addresses must show on the very next packet.
 */
import assert from 'node:assert/strict';
import type { Subscription } from 'rxjs';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import { isIpv6Outbound } from '../../../streams/stack/ipv6-layer.js';
import { formatIpv6, ipv6Addr } from '../../../src/ipv6/address.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import type { NetstackError } from '../../../src/errors.js';

const NO_DAD = { dadTransmits: 0, acceptRa: false } as const;
/** An experimental protocol number (RFC 3692): the packets mean nothing to anyone. */
const EXPERIMENTAL = 253;

describe('Ipv6Layer: the route cache follows every change', () => {
  let stack: Stack;
  let sub: Subscription;
  /** The next hop of each packet that went down to the link, in order. */
  let hops: string[];

  beforeEach(() => {
    const [la] = createMemoryWire({ mtu: 1500 });
    stack = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'], ipv6: ['fd00:198:18::1/64'] }], ipv6: NO_DAD });
    hops = [];
    sub = stack.taps.network.down$.subscribe((o) => {
      if (isIpv6Outbound(o) && o.protocol === EXPERIMENTAL) hops.push(formatIpv6(o.nextHop));
    });
  });

  afterEach(() => {
    sub.unsubscribe();
    stack.close();
  });

  /** Sends one packet to `dst` (from `src` when given). */
  function send(dst: Uint8Array, src?: Uint8Array): NetstackError | undefined {
    const pb = PacketBuffer.withPayload(new Uint8Array(8));
    return stack.ipv6!.send({ pb, dst, src, protocol: EXPERIMENTAL });
  }

  it('routes added, narrowed and removed between packets to one destination', () => {
    const ipv6 = stack.ipv6!;
    const dst = ipv6Addr('fd00:198:99::5');
    assert.equal(send(dst)?.code, 'ENETUNREACH');
    ipv6.routes.add({ destination: ipv6Addr('fd00:198:99::'), prefixLength: 64, gateway: ipv6Addr('fd00:198:18::9'), interfaceIndex: 0, origin: 'static' });
    assert.equal(send(dst), undefined);
    assert.equal(send(dst), undefined);
    ipv6.routes.add({ destination: dst, prefixLength: 128, gateway: ipv6Addr('fd00:198:18::7'), interfaceIndex: 0, origin: 'static' });
    assert.equal(send(dst), undefined);
    assert.deepEqual(hops, ['fd00:198:18::9', 'fd00:198:18::9', 'fd00:198:18::7']);
    ipv6.routes.remove(() => true);
    assert.equal(send(dst)?.code, 'ENETUNREACH', 'no route any more');
  });

  it('a source removed, made tentative, then preferred again', () => {
    const iface = stack.interfaces[0];
    const src = ipv6Addr('fd00:198:18::1');
    const dst = ipv6Addr('fd00:198:18::2');
    // A second address on the prefix keeps it on-link while the first comes and goes.
    iface.addIpv6Address(ipv6Addr('fd00:198:18::3'), 64);
    assert.equal(send(dst, src), undefined);
    iface.removeIpv6Address(src);
    assert.equal(send(dst, src)?.code, 'EADDRNOTAVAIL', 'removed');
    const entry = iface.addIpv6Address(src, 64, 'static', 'tentative');
    assert.equal(send(dst, src)?.code, 'EADDRNOTAVAIL', 'tentative (RFC 4862 5.4)');
    entry.state = 'preferred'; // as the autoconfiguration does after DAD
    assert.equal(send(dst, src), undefined);
    entry.state = 'duplicate';
    assert.equal(send(dst, src)?.code, 'EADDRNOTAVAIL', 'a state change alone, no address added or removed');
  });

  it('keys by the address bytes, not the array: one array rewritten in place, or a fresh copy of the same address', () => {
    const dst = ipv6Addr('fd00:198:18::5');
    assert.equal(send(dst), undefined);
    dst.set(ipv6Addr('fd00:198:77::5')); // off-link, no route
    assert.equal(send(dst)?.code, 'ENETUNREACH', 'the rewritten bytes are routed, not the array');
    dst.set(ipv6Addr('fd00:198:18::6'));
    assert.equal(send(dst), undefined);
    assert.equal(send(ipv6Addr('fd00:198:18::6')), undefined, 'a copy of the cached address');
    assert.deepEqual(hops, ['fd00:198:18::5', 'fd00:198:18::6', 'fd00:198:18::6'], 'on-link: the next hop is the packet\'s own destination');
    const src = ipv6Addr('fd00:198:18::1');
    assert.equal(send(dst, src), undefined);
    src.set(ipv6Addr('fd00:198:18::99'));
    assert.equal(send(dst, src)?.code, 'EADDRNOTAVAIL', 'a source rewritten in place is checked again');
  });

  it('a destination that becomes one of our addresses is looped back from the next packet on', () => {
    const iface = stack.interfaces[0];
    const dst = ipv6Addr('fd00:198:18::42');
    assert.equal(send(dst), undefined);
    assert.equal(hops.length, 1, 'to the link');
    iface.addIpv6Address(dst, 64);
    const before = stack.ipv6!.counters.txPackets;
    assert.equal(send(dst), undefined);
    assert.equal(hops.length, 1, 'not to the link');
    assert.equal(stack.ipv6!.counters.txPackets, before + 1, 'sent: looped back');
    iface.removeIpv6Address(dst);
    assert.equal(send(dst), undefined);
    assert.equal(hops.length, 2, 'to the link again');
  });
});
