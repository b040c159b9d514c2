import assert from 'node:assert/strict';
import { map } from 'rxjs';
import { memoryPair } from './memory-pair.js';
import type { Ipv4Datagram } from '../../../streams/stack/ipv4-layer.js';
import { waitUntil } from '../../helpers/wait-for.js';

// On the plain stack IPv4 hands its own transports a datagram whose header view is made when
// first read (ipv4-layer.ts ReceivedIpv4: an accessor). Whoever may copy a datagram with a
// spread (a transport operator, an observer of observe$ or of the transport taps) gets every
// field as a plain property, so `{ ...d }` keeps the header.

const B = '198.18.0.2';

/** The 20-byte IPv4 header a sends b: version/IHL 0x45, protocol 17, a's and b's addresses. */
function assertUdpHeaderFromA(header: Uint8Array): void {
  assert.equal(header.length, 20);
  assert.equal(header[0], 0x45);
  assert.equal(header[9], 17);
  assert.deepEqual([...header.subarray(12, 20)], [198, 18, 0, 1, 198, 18, 0, 2]);
}

describe('IPv4: the received datagram record', () => {
  let p: ReturnType<typeof memoryPair> | undefined;
  afterEach(() => p?.close());

  it('a spread copy from observe$ and from the transport taps keeps header and payload', async () => {
    p = memoryPair();
    const socket = p.b.udp.bind({ port: 9 });
    const copies: Ipv4Datagram[] = [];
    const subs = [
      p.b.ipv4.observe$(17).subscribe((d) => copies.push({ ...d })),
      p.b.taps.transport.up$.subscribe((d) => copies.push({ ...(d as Ipv4Datagram) })),
    ];
    const got: Uint8Array[] = [];
    socket.datagrams$.subscribe((d) => got.push(d.payload));
    p.a.udp.bind().send(new Uint8Array([1, 2, 3]), { address: B, port: 9 });
    await waitUntil('the datagram', () => got.length === 1);
    assert.equal(copies.length, 2);
    for (const c of copies) {
      assertUdpHeaderFromA(c.header);
      assert.deepEqual([...c.payload.subarray(8)], [1, 2, 3]);
    }
    for (const s of subs) s.unsubscribe();
  });

  it('a transport operator that spreads each datagram (as docs/pipelines.md does) still delivers, header intact', async () => {
    const headers: Uint8Array[] = [];
    p = memoryPair({ hooksB: { transport: { up: map((d) => ({ ...d })) } } });
    p.b.ipv4.observe$(17).subscribe((d) => headers.push(d.header));
    const socket = p.b.udp.bind({ port: 9 });
    const got: Uint8Array[] = [];
    socket.datagrams$.subscribe((d) => got.push(d.payload));
    p.a.udp.bind().send(new Uint8Array([4, 5]), { address: B, port: 9 });
    await waitUntil('the datagram', () => got.length === 1);
    assert.deepEqual([...got[0]], [4, 5]);
    assertUdpHeaderFromA(headers[0]);
  });

  it('the header a datagram to a closed port is quoted from reaches the sender in the ICMP error', async () => {
    p = memoryPair();
    const client = p.a.udp.bind();
    client.connect({ address: B, port: 4444 });
    const errors: string[] = [];
    client.errors$.subscribe((e) => errors.push(e.code));
    client.send(new Uint8Array([1]));
    await waitUntil('the ICMP error', () => errors.length === 1);
    assert.deepEqual(errors, ['ECONNREFUSED']);
  });
});
