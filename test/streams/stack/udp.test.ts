import assert from 'node:assert/strict';
import { firstValueFrom, take, timeout, toArray, type Observable } from 'rxjs';
import { memoryPair } from './memory-pair.js';
import { stat } from './raw-peer.js';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import type { Ipv4Datagram } from '../../../streams/stack/ipv4-layer.js';
import type { ReceivedDatagram } from '../../../streams/stack/udp-endpoint.js';
import { udpEchoService } from '../../../streams/services/udp-echo.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { onesSum, pseudoHeaderSum } from '../../../src/wire/checksum.js';
import type { NetstackError } from '../../../src/errors.js';
import { waitUntil } from '../../helpers/wait-for.js';

const A = '198.18.0.1';
const B = '198.18.0.2';
const A_ADDR = 0xc6120001;
const B_ADDR = 0xc6120002;

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (d: { payload: Uint8Array }): string => new TextDecoder().decode(d.payload);

function collect<T>(source$: Observable<T>, n: number, ms = 3000): Promise<T[]> {
  return firstValueFrom(source$.pipe(take(n), toArray(), timeout(ms)));
}

/** A deterministic payload per size, different for every size. */
function pattern(size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + size * 13) & 0xff;
  return b;
}


/** A raw UDP datagram with the header as given (checksum verbatim), sent by a's IPv4 layer. */
function sendRawUdp(stack: Stack, srcPort: number, dstPort: number, payload: Uint8Array, opts: { checksum?: number; length?: number } = {}): void {
  const bytes = new Uint8Array(8 + payload.length);
  const len = opts.length ?? bytes.length;
  bytes.set([srcPort >> 8, srcPort & 0xff, dstPort >> 8, dstPort & 0xff, len >> 8, len & 0xff, 0, 0]);
  bytes.set(payload, 8);
  let c = opts.checksum;
  if (c === undefined) {
    c = ~onesSum(bytes, 0, bytes.length, pseudoHeaderSum(A_ADDR, B_ADDR, 17, bytes.length)) & 0xffff;
    if (c === 0) c = 0xffff;
  }
  bytes[6] = c >> 8;
  bytes[7] = c & 0xff;
  const err = stack.ipv4.send(PacketBuffer.withPayload(bytes), { dst: B_ADDR, protocol: 17 });
  assert.equal(err, undefined);
}

describe('stack: UDP over the memory wire', () => {
  let p: ReturnType<typeof memoryPair>;
  afterEach(() => p?.close());

  it('echoes every size from 1 to 1472 bytes exactly (no fragmentation)', async () => {
    p = memoryPair();
    udpEchoService(p.b, 7);
    const client = p.a.udp.bind();
    // One datagram first so ARP has resolved before the burst (ARP queues only a few packets).
    const warm = collect(client.datagrams$, 1);
    client.send(enc('warm-up'), { address: B, port: 7 });
    assert.equal(text((await warm)[0]), 'warm-up');

    const echoes = collect(client.datagrams$, 1472, 10_000);
    for (let size = 1; size <= 1472; size++) assert.equal(client.send(pattern(size), { address: B, port: 7 }), true);
    const got = await echoes;
    got.sort((x, y) => x.payload.length - y.payload.length);
    for (let size = 1; size <= 1472; size++) {
      const d = got[size - 1];
      assert.equal(d.payload.length, size);
      assert.deepEqual(d.payload, pattern(size), `payload of size ${size}`);
      assert.equal(d.address, B);
      assert.equal(d.port, 7);
    }
    assert.equal(stat(p.b, 'ipv4', 'rxFragments'), 0);
    assert.equal(stat(p.b, 'udp', 'rxDelivered'), 1473);
    assert.equal(stat(p.b, 'udp', 'txDatagrams'), 1473);
  }).timeout(20_000);

  for (const size of [4000, 60_000, 65_507]) {
    it(`echoes a ${size}-byte datagram (fragmented and reassembled both ways)`, async () => {
      p = memoryPair();
      udpEchoService(p.b, 7);
      const client = p.a.udp.bind();
      const echo = collect(client.datagrams$, 1);
      assert.equal(client.send(pattern(size), { address: B, port: 7 }), true);
      const [d] = await echo;
      assert.deepEqual(d.payload, pattern(size));
      assert.ok(stat(p.b, 'ipv4', 'rxReassembled') >= 1, 'b reassembled');
      assert.ok(stat(p.b, 'ipv4', 'txFragments') > 1, 'b fragmented the echo');
      assert.ok(stat(p.a, 'ipv4', 'rxReassembled') >= 1, 'a reassembled the echo');
    });
  }

  it('refuses payloads over 65,507 bytes with EMSGSIZE on errors$ (send returns false)', async () => {
    p = memoryPair();
    const s = p.a.udp.bind();
    const errors = collect(s.errors$, 1);
    assert.equal(s.send(new Uint8Array(65_508), { address: B, port: 7 }), false);
    assert.equal((await errors)[0].code, 'EMSGSIZE');
    assert.equal(stat(p.a, 'udp', 'txErrors'), 1);
  });

  it('two sockets on different ports receive only their own datagrams', async () => {
    p = memoryPair();
    const s1 = p.b.udp.bind({ port: 1001 });
    const s2 = p.b.udp.bind({ port: 1002, address: B });
    const client = p.a.udp.bind();
    const got1 = collect(s1.datagrams$, 3);
    const got2 = collect(s2.datagrams$, 2);
    for (const [port, msg] of [[1001, 'a'], [1002, 'b'], [1001, 'c'], [1002, 'd'], [1001, 'e']] as const) {
      client.send(enc(msg), { address: B, port });
    }
    assert.deepEqual((await got1).map(text), ['a', 'c', 'e']);
    assert.deepEqual((await got2).map(text), ['b', 'd']);
    await waitUntil('b delivered all five', () => stat(p.b, 'udp', 'rxDelivered') === 5);
    assert.equal(s1.stats().rxDatagrams, 3);
    assert.equal(s2.stats().rxDatagrams, 2);
  });

  it('a connected socket gets ECONNREFUSED from a closed port and keeps working', async () => {
    p = memoryPair();
    const s = p.a.udp.bind();
    s.connect({ address: B, port: 4000 });
    assert.deepEqual(s.remoteAddress(), { address: B, family: 'IPv4', port: 4000 });
    const refused = collect(s.errors$, 1);
    assert.equal(s.send(enc('anyone?')), true);
    const [err] = await refused;
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(s.closed, false);
    assert.equal(stat(p.a, 'udp', 'icmpErrorsReported'), 1);

    // Now somebody listens: the same socket talks to it.
    udpEchoService(p.b, 4000);
    const echo = collect(s.datagrams$, 1);
    assert.equal(s.send(enc('now?')), true);
    assert.equal(text((await echo)[0]), 'now?');
  });

  it('a connected socket receives only from its peer; disconnect() opens it again', async () => {
    p = memoryPair();
    const s = p.b.udp.bind({ port: 2000 });
    s.connect({ address: A, port: 3001 });
    const peer = p.a.udp.bind({ port: 3001 });
    const stranger = p.a.udp.bind({ port: 3002 });
    const got = collect(s.datagrams$, 2);
    stranger.send(enc('stranger'), { address: B, port: 2000 });
    peer.send(enc('peer-1'), { address: B, port: 2000 });
    peer.send(enc('peer-2'), { address: B, port: 2000 });
    assert.deepEqual((await got).map(text), ['peer-1', 'peer-2']);
    // The stranger's datagram found no socket: port unreachable, not delivered.
    assert.equal(stat(p.b, 'udp', 'drops', 'noPort'), 1);

    s.disconnect();
    assert.throws(() => s.remoteAddress(), { code: 'ENOTCONN' });
    const next = collect(s.datagrams$, 1);
    stranger.send(enc('stranger again'), { address: B, port: 2000 });
    assert.equal(text((await next)[0]), 'stranger again');
  });

  it('unconnected sockets are not told about ICMP errors', async () => {
    p = memoryPair();
    const s = p.a.udp.bind();
    const errors: NetstackError[] = [];
    s.errors$.subscribe((e) => errors.push(e));
    s.send(enc('x'), { address: B, port: 4000 });
    // The port unreachable has come back and been handled: not passed on.
    await waitUntil('a handled the ICMP error', () => stat(p.a, 'udp', 'icmpErrorsIgnored') === 1);
    assert.deepEqual(errors, []);
    assert.equal(stat(p.b, 'icmp', 'txErrors'), 1);
    assert.equal(stat(p.a, 'udp', 'icmpErrorsIgnored'), 1);
  });

  it('EADDRINUSE: same port, wildcard against specific address, both ways; free again after close', () => {
    p = memoryPair();
    const s = p.b.udp.bind({ port: 1234 });
    assert.throws(() => p.b.udp.bind({ port: 1234 }), { code: 'EADDRINUSE' });
    assert.throws(() => p.b.udp.bind({ port: 1234, address: B }), { code: 'EADDRINUSE' });
    s.close();
    const specific = p.b.udp.bind({ port: 1234, address: B });
    assert.throws(() => p.b.udp.bind({ port: 1234 }), { code: 'EADDRINUSE' });
    specific.close();
    specific.close(); // idempotent
    p.b.udp.bind({ port: 1234 }).close();
    // The same port on the other stack is another host's business.
    p.a.udp.bind({ port: 1234 }).close();
  });

  it('bad arguments throw at once with coded errors', () => {
    p = memoryPair();
    assert.throws(() => p.b.udp.bind({ port: 70000 }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => p.b.udp.bind({ port: 1.5 }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => p.b.udp.bind({ address: 'nope' }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => p.b.udp.bind({ address: '198.18.0.9' }), { code: 'EADDRNOTAVAIL' });
    const s = p.b.udp.bind();
    assert.throws(() => s.send(enc('x'), { address: A, port: 0 }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => s.send(enc('x'), { address: '0.0.0.0', port: 9 }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => s.send(enc('x'), { address: '', port: 9 }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => s.send('x' as unknown as Uint8Array, { address: A, port: 9 }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => s.send(enc('x')), { code: 'ENOTCONN' });
    assert.throws(() => s.disconnect(), { code: 'ENOTCONN' });
    assert.throws(() => s.connect({ address: A, port: 65536 }), { code: 'ERR_INVALID_ARG_VALUE' });
    s.close();
    assert.throws(() => s.send(enc('x'), { address: A, port: 9 }), { code: 'ERR_SOCKET_CLOSED' });
    assert.throws(() => s.connect({ address: A, port: 9 }), { code: 'ERR_SOCKET_CLOSED' });
  });

  it('ephemeral ports come from the configured range; exhausting it is EADDRINUSE', () => {
    const [la, lb] = createMemoryWire();
    const stack = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }], udp: { ephemeralPortRange: [40000, 40002] } });
    try {
      const sockets = [stack.udp.bind(), stack.udp.bind({ port: 0 }), stack.udp.bind({ address: A })];
      const ports = sockets.map((s) => s.address().port).sort();
      assert.deepEqual(ports, [40000, 40001, 40002]);
      assert.deepEqual(sockets[2].address(), { address: A, family: 'IPv4', port: sockets[2].address().port });
      assert.throws(() => stack.udp.bind(), { code: 'EADDRINUSE' });
      // An explicit port outside the range is still fine.
      stack.udp.bind({ port: 40003 }).close();
      sockets[1].close();
      assert.equal(stack.udp.bind().address().port, sockets[1].address().port);
    } finally {
      stack.close();
      lb.close();
    }
  });

  it('default ephemeral ports are in 49152..65535 and distinct', () => {
    p = memoryPair();
    const ports = new Set<number>();
    for (let i = 0; i < 200; i++) ports.add(p.a.udp.bind().address().port);
    assert.equal(ports.size, 200);
    for (const port of ports) assert.ok(port >= 49152 && port <= 65535, `port ${port}`);
  });

  it('broadcast to 198.18.0.255 and 255.255.255.255 reaches a wildcard socket, not one bound to the unicast address, and gets no ICMP', async () => {
    p = memoryPair();
    const wild = p.b.udp.bind({ port: 6000 });
    const unicastOnly = p.b.udp.bind({ port: 6001, address: B });
    const sender = p.a.udp.bind({ broadcast: true });
    const got = collect(wild.datagrams$, 2);
    const unicastGot: ReceivedDatagram[] = [];
    unicastOnly.datagrams$.subscribe((d) => unicastGot.push(d));
    assert.equal(sender.send(enc('directed'), { address: '198.18.0.255', port: 6000 }), true);
    assert.equal(sender.send(enc('limited'), { address: '255.255.255.255', port: 6000 }), true);
    assert.equal(sender.send(enc('not for you'), { address: '198.18.0.255', port: 6001 }), true);
    const d = await got;
    assert.deepEqual(d.map(text), ['directed', 'limited']);
    assert.equal(d[0].address, A);
    await waitUntil('b received all three broadcasts', () => stat(p.b, 'udp', 'rxBroadcast') === 3);
    assert.deepEqual(unicastGot, []);
    assert.equal(stat(p.b, 'udp', 'rxBroadcast'), 3);
    assert.equal(stat(p.b, 'udp', 'drops', 'noPort'), 1);
    assert.equal(stat(p.b, 'icmp', 'txErrors'), 0, 'no ICMP for a broadcast');
  });

  it('sending to a broadcast address without broadcast: true is EACCES; setBroadcast(true) allows it', async () => {
    p = memoryPair();
    const wild = p.b.udp.bind({ port: 6000 });
    const sender = p.a.udp.bind();
    const errors = collect(sender.errors$, 1);
    assert.equal(sender.send(enc('x'), { address: '198.18.0.255', port: 6000 }), false);
    assert.equal((await errors)[0].code, 'EACCES');
    assert.throws(() => sender.connect({ address: '255.255.255.255', port: 6000 }), { code: 'EACCES' });
    sender.setBroadcast(true);
    const got = collect(wild.datagrams$, 1);
    assert.equal(sender.send(enc('now'), { address: '198.18.0.255', port: 6000 }), true);
    assert.equal(text((await got)[0]), 'now');
  });

  it('routing errors go to errors$ and the socket keeps working: ENETUNREACH at once, EHOSTUNREACH after ARP gives up', async () => {
    p = memoryPair();
    const s = p.b.udp.bind(); // b has no default route
    const errors = collect(s.errors$, 2, 10_000);
    assert.equal(s.send(enc('x'), { address: '203.0.113.1', port: 9 }), false);
    assert.throws(() => s.connect({ address: '203.0.113.1', port: 9 }), { code: 'ENETUNREACH' });
    assert.equal(s.send(enc('x'), { address: '198.18.0.77', port: 9 }), true);
    const [e1, e2] = await errors;
    assert.equal(e1.code, 'ENETUNREACH');
    assert.equal(e2.code, 'EHOSTUNREACH');
    assert.equal(s.closed, false);
    const echo = collect(s.datagrams$, 1);
    udpEchoService(p.a, 7);
    s.send(enc('still here'), { address: A, port: 7 });
    assert.equal(text((await echo)[0]), 'still here');
  }).timeout(15_000);

  it('verifies checksums: a bad one is dropped and counted, a zero one (none) is accepted', async () => {
    p = memoryPair();
    const s = p.b.udp.bind({ port: 7000 });
    const got = collect(s.datagrams$, 2);
    sendRawUdp(p.a, 1111, 7000, enc('good'));
    sendRawUdp(p.a, 1111, 7000, enc('bad'), { checksum: 0x1234 });
    sendRawUdp(p.a, 1111, 7000, enc('none'), { checksum: 0 });
    assert.deepEqual((await got).map(text), ['good', 'none']);
    await waitUntil('the bad one dropped', () => stat(p.b, 'udp', 'drops', 'badChecksum') === 1);
    assert.equal(stat(p.b, 'udp', 'drops', 'badChecksum'), 1);
    assert.equal(stat(p.b, 'udp', 'rxDelivered'), 2);
  });

  it('drops datagrams whose length field is wrong, and ignores bytes beyond it', async () => {
    p = memoryPair();
    const s = p.b.udp.bind({ port: 7000 });
    const got = collect(s.datagrams$, 1);
    sendRawUdp(p.a, 1111, 7000, enc('too long'), { length: 100, checksum: 0 });
    sendRawUdp(p.a, 1111, 7000, enc('short'), { length: 7, checksum: 0 });
    // Length 10: two data bytes; the rest is padding the receiver must ignore.
    sendRawUdp(p.a, 1111, 7000, enc('okPADDING'), { length: 10, checksum: 0 });
    assert.deepEqual((await got).map(text), ['ok']);
    await waitUntil('both bad lengths dropped', () => stat(p.b, 'udp', 'drops', 'badLength') === 2);
    assert.equal(stat(p.b, 'udp', 'drops', 'badLength'), 2);
  });

  it('sends a computed checksum of 0 as 0xFFFF', async () => {
    const seen: number[] = [];
    const { tap } = await import('rxjs');
    p = memoryPair({ hooksB: { transport: { up: tap((d: Ipv4Datagram) => d.protocol === 17 && seen.push((d.payload[6] << 8) | d.payload[7])) } } });
    // Two data bytes chosen so that the one's complement sum of everything is 0xFFFF.
    const probe = new Uint8Array([0x50, 0x00, 0x1f, 0x40, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00]); // 20480 -> 8000, len 10
    const s0 = onesSum(probe, 0, 10, pseudoHeaderSum(A_ADDR, B_ADDR, 17, 10));
    const w = ~s0 & 0xffff;
    const server = p.b.udp.bind({ port: 8000 });
    const got = collect(server.datagrams$, 1);
    p.a.udp.bind({ port: 20480 }).send(new Uint8Array([w >> 8, w & 0xff]), { address: B, port: 8000 });
    const [d] = await got;
    assert.deepEqual([...d.payload], [w >> 8, w & 0xff]);
    assert.deepEqual(seen, [0xffff]);
    assert.equal(stat(p.b, 'udp', 'drops', 'badChecksum'), 0);
  });

  it('queues datagrams until the first subscriber, drops beyond the limit, and counts the drops', async () => {
    p = memoryPair();
    const s = p.b.udp.bind({ port: 7000, receiveQueue: { maxDatagrams: 3 } });
    const client = p.a.udp.bind();
    for (const m of ['1', '2', '3', '4', '5']) client.send(enc(m), { address: B, port: 7000 });
    await waitUntil('all five queued or dropped', () => s.stats().queued + s.stats().queueFull === 5);
    assert.equal(s.stats().queued, 3);
    assert.equal(s.stats().queuedBytes, 3);
    assert.equal(s.stats().queueFull, 2);
    assert.equal(stat(p.b, 'udp', 'drops', 'queueFull'), 2);
    const got = collect(s.datagrams$, 4);
    client.send(enc('6'), { address: B, port: 7000 });
    assert.deepEqual((await got).map(text), ['1', '2', '3', '6']);
    assert.equal(s.stats().queued, 0);
  });

  it('the byte limit of the queue still lets one datagram bigger than it into an empty queue', async () => {
    p = memoryPair();
    const s = p.b.udp.bind({ port: 7000, receiveQueue: { maxBytes: 100 } });
    const client = p.a.udp.bind();
    client.send(new Uint8Array(5000), { address: B, port: 7000 });
    client.send(new Uint8Array(1), { address: B, port: 7000 });
    await waitUntil('both queued or dropped', () => s.stats().queued + s.stats().queueFull === 2);
    assert.equal(s.stats().queued, 1);
    assert.equal(s.stats().queuedBytes, 5000);
    assert.equal(s.stats().queueFull, 1);
  });

  it('a second subscriber shares the live datagrams; the queued ones went to the first', async () => {
    p = memoryPair();
    const s = p.b.udp.bind({ port: 7000 });
    const client = p.a.udp.bind();
    client.send(enc('early'), { address: B, port: 7000 });
    await waitUntil('"early" queued', () => s.stats().queued === 1);
    const first = collect(s.datagrams$, 2);
    const second = collect(s.datagrams$, 1);
    client.send(enc('live'), { address: B, port: 7000 });
    assert.deepEqual((await first).map(text), ['early', 'live']);
    assert.deepEqual((await second).map(text), ['live']);
    // Unsubscribing does not unbind: the next datagram is queued again.
    client.send(enc('later'), { address: B, port: 7000 });
    await waitUntil('"later" arrived', () => stat(p.b, 'udp', 'rxDelivered') === 3);
    assert.equal(s.stats().queued, 1);
    assert.equal(text((await collect(s.datagrams$, 1))[0]), 'later');
  });

  it('close() and stack.close() complete datagrams$ and errors$', async () => {
    p = memoryPair();
    const s = p.b.udp.bind({ port: 7000 });
    const t = p.b.udp.bind({ port: 7001 });
    const done = (o: Observable<unknown>) => new Promise<string>((resolve) => o.subscribe({ complete: () => resolve('complete'), error: () => resolve('error') }));
    const sd = done(s.datagrams$);
    const se = done(s.errors$);
    const td = done(t.datagrams$);
    s.close();
    assert.equal(await sd, 'complete');
    assert.equal(await se, 'complete');
    assert.equal(await done(s.datagrams$), 'complete', 'a late subscriber completes at once');
    p.b.close();
    assert.equal(await td, 'complete');
    assert.equal(t.closed, true);
    assert.throws(() => p.b.udp.bind(), { code: 'ERR_SOCKET_CLOSED' });
    assert.equal(stat(p.b, 'udp', 'socketsOpened'), 2);
    assert.equal(stat(p.b, 'udp', 'socketsClosed'), 2);
  });

  it('a socket can send to its own stack (loopback) and to itself', async () => {
    p = memoryPair();
    const s = p.b.udp.bind({ port: 7000 });
    const got = collect(s.datagrams$, 1);
    s.send(enc('me'), { address: B, port: 7000 });
    const [d] = await got;
    assert.equal(text(d), 'me');
    assert.equal(d.address, B);
    assert.equal(d.port, 7000);
  });

  it('port unreachable answers are rate limited by the ICMP layer', async () => {
    p = memoryPair();
    const client = p.a.udp.bind();
    // Resolve ARP first: a's ARP layer queues only a few packets while it resolves.
    client.send(enc('x'), { address: B, port: 4000 });
    await waitUntil('the first one reached b', () => stat(p.b, 'udp', 'drops', 'noPort') === 1);
    for (let i = 1; i < 200; i++) client.send(enc('x'), { address: B, port: 4000 });
    await waitUntil('all 200 reached b', () => stat(p.b, 'udp', 'drops', 'noPort') === 200);
    assert.equal(stat(p.b, 'udp', 'drops', 'noPort'), 200);
    const limited = stat(p.b, 'icmp', 'errorsRateLimited');
    assert.ok(limited > 0, 'some were rate limited');
    assert.equal(stat(p.b, 'icmp', 'txErrors') + limited, 200);
  });

});
