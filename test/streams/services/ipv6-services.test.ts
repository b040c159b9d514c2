/**
 * Every service of `rx-netstack serve --services` over IPv6 (and IPv4 beside it) on a
 * dual-stack stack: the services on b, clients on a, the memory wire between them.
 */
import assert from 'node:assert/strict';
import { filter, firstValueFrom, lastValueFrom, take, timeout, toArray, type Subscription } from 'rxjs';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { lcgBytes as pattern } from '../../helpers/bytes.js';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import { CHARGEN_CYCLE, HTTP_SERVICE_BODY, startServices, udpEchoService } from '../../../streams/services/index.js';

const NO_DAD = { dadTransmits: 0, acceptRa: false } as const;
const B4 = '198.18.0.2';
const B6 = 'fd00:198:18::2';
const A6 = 'fd00:198:18::1';

const concat = (chunks: readonly Uint8Array[]): Buffer => Buffer.concat(chunks.map((c) => Buffer.from(c)));
const connect = (s: Stack, address: string, port: number): Promise<TcpConnection> => firstValueFrom(s.tcp.connect({ address, port }));

describe('services over IPv6 (memory wire, dual stack)', () => {
  let a: Stack;
  let b: Stack;
  let services: Subscription;
  beforeEach(() => {
    const [la, lb] = createMemoryWire({ mtu: 1500 });
    a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'], ipv6: [`${A6}/64`] }], ipv6: NO_DAD });
    b = createStack({ interfaces: [{ name: 'eth0', link: lb, ipv4: [`${B4}/24`], ipv6: [`${B6}/64`] }], ipv6: NO_DAD });
    services = startServices(b, [{ name: 'echo', port: 7 }, { name: 'discard', port: 9 }, { name: 'chargen', port: 19 }, { name: 'http', port: 80 }, { name: 'udp-echo', port: 7 }]);
  });
  afterEach(() => {
    services.unsubscribe();
    a.close();
    b.close();
  });

  it('echo: 1 MiB byte-exact over IPv6, and over IPv4 from the same listener', async () => {
    for (const [address, seed] of [[B6, 1], [B4, 2]] as const) {
      const conn = await connect(a, address, 7);
      assert.equal(conn.remoteAddress, address);
      const back = lastValueFrom(conn.data$.pipe(toArray()));
      const data = pattern(1024 * 1024, seed);
      conn.write(data);
      conn.end();
      assert.ok(concat(await back).equals(Buffer.from(data)), `byte-exact over ${address}`);
    }
  });

  it('discard takes everything over IPv6 and sends nothing', async () => {
    const conn = await connect(a, B6, 9);
    const back = lastValueFrom(conn.data$.pipe(toArray()));
    conn.write(pattern(200_000, 3));
    conn.end();
    assert.deepEqual(await back, []);
    assert.equal(conn.counters.bytesAcked, 200_000);
  });

  it('chargen sends its cycle in order over IPv6', async () => {
    const conn = await connect(a, B6, 19);
    let position = 0;
    let mismatches = 0;
    await firstValueFrom(conn.data$.pipe(filter((chunk) => {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] !== CHARGEN_CYCLE[(position + i) % CHARGEN_CYCLE.length]) mismatches++;
      position += chunk.length;
      return position >= 100_000;
    })));
    conn.destroy();
    assert.equal(mismatches, 0);
  });

  it('http answers GET / over IPv6', async () => {
    const conn = await connect(a, B6, 80);
    const back = lastValueFrom(conn.data$.pipe(toArray()));
    conn.write(new TextEncoder().encode('GET / HTTP/1.0\r\nHost: b\r\n\r\n'));
    const reply = new TextDecoder().decode(concat(await back));
    assert.match(reply, /^HTTP\/1\.[01] 200 /);
    assert.ok(reply.endsWith(HTTP_SERVICE_BODY), reply);
  });

  it('udp-echo answers over IPv6 and over IPv4 (bound dual stack by default)', async () => {
    for (const [bind, address] of [['::', B6], ['0.0.0.0', B4]] as const) {
      const client = a.udp.bind({ address: bind });
      const echo = firstValueFrom(client.datagrams$.pipe(take(1), timeout(3000)));
      client.send(new Uint8Array([1, 2, 3]), { address, port: 7 });
      const d = await echo;
      assert.deepEqual([...d.payload], [1, 2, 3]);
      assert.equal(d.address, address);
      client.close();
    }
  });

  it('udp-echo on a stack without IPv6 binds 0.0.0.0, and an explicit address is kept', () => {
    const [l1] = createMemoryWire();
    const v4 = createStack({ interfaces: [{ name: 'eth0', link: l1, ipv4: ['198.18.0.9/24'] }] });
    try {
      const s = udpEchoService(v4, 7);
      assert.equal(v4.udpLayer.counters.socketsOpened, 1);
      s.unsubscribe();
      assert.throws(() => udpEchoService(b, 8, { address: 'fd00::99' }), (e: { code?: string }) => e.code === 'EADDRNOTAVAIL');
    } finally {
      v4.close();
    }
  });
});
