import assert from 'node:assert/strict';
import { catchError, map, of, Subject, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { memoryPair } from './memory-pair.js';
import { stat } from './raw-peer.js';
import type { NetstackError } from '../../../src/errors.js';
import type { Ipv4Datagram } from '../../../streams/stack/ipv4-layer.js';

const B = '198.18.0.2';
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (d: { payload: Uint8Array }): string => new TextDecoder().decode(d.payload);

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}

/** ICMP messages a receives, as "type/code/quoted destination port". */
function icmpTap(into: Subject<string>) {
  return tap((d: Ipv4Datagram) => {
    if (d.protocol !== 1) return;
    const p = d.payload;
    // ICMP header 8 bytes, then the quoted IPv4 header (IHL from its first byte), then UDP ports.
    const q = 8 + (p[8] & 0x0f) * 4;
    into.next(`${p[0]}/${p[1]}/${(p[q + 2] << 8) | p[q + 3]}`);
  });
}

describe('stack: UDP demux in virtual time (marbles)', () => {
  it('routes each datagram to the socket bound to its port, and only there', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const p = memoryPair({ scheduler: ts });
      const s1 = p.b.udp.bind({ port: 1001 });
      const s2 = p.b.udp.bind({ port: 1002 });
      const wild = p.b.udp.bind({ address: '0.0.0.0', port: 1003 });
      const client = p.a.udp.bind({ port: 5000 });
      const sends = cold('a 9ms b 9ms c 9ms d 9ms e|', {
        a: { port: 1001, msg: 'one' },
        b: { port: 1002, msg: 'two' },
        c: { port: 1001, msg: 'three' },
        d: { port: 1003, msg: 'four' },
        e: { port: 1002, msg: 'five' },
      });
      sends.subscribe(({ port, msg }) => client.send(enc(msg), { address: B, port }));
      const sender = (d: { address: string; port: number; interface: string }) => `${d.address}:${d.port}@${d.interface}`;
      expectObservable(s1.datagrams$.pipe(map(text)), '^ 100ms !').toBe('a 19ms c', { a: 'one', c: 'three' });
      expectObservable(s2.datagrams$.pipe(map(text)), '^ 100ms !').toBe('10ms b 29ms e', { b: 'two', e: 'five' });
      expectObservable(wild.datagrams$.pipe(map(text)), '^ 100ms !').toBe('30ms d', { d: 'four' });
      expectObservable(s1.datagrams$.pipe(map(sender)), '^ 100ms !').toBe('a 19ms a', { a: '198.18.0.1:5000@eth0' });
      expectSubscriptions(sends.subscriptions).toBe('^ 40ms !');
      ts.schedule(() => p.close(), 200);
    });
  });

  it('answers a datagram for an unbound port with ICMP port unreachable, and a connected sender sees ECONNREFUSED', () => {
    const ts = newScheduler();
    const icmp = new Subject<string>();
    ts.run(({ cold, expectObservable }) => {
      const p = memoryPair({ scheduler: ts, hooksA: { transport: { up: icmpTap(icmp) } } });
      const bound = p.b.udp.bind({ port: 1001 });
      const client = p.a.udp.bind({ port: 5000 });
      const connected = p.a.udp.bind({ port: 5001 });
      connected.connect({ address: B, port: 4444 });
      cold('a 9ms b 9ms c|').subscribe((k) => {
        if (k === 'a') client.send(enc('to nobody'), { address: B, port: 4443 });
        if (k === 'b') client.send(enc('to someone'), { address: B, port: 1001 });
        if (k === 'c') connected.send(enc('to nobody, connected'));
      });
      expectObservable(icmp, '^ 100ms !').toBe('a 19ms c', { a: '3/3/4443', c: '3/3/4444' });
      expectObservable(bound.datagrams$.pipe(map(text)), '^ 100ms !').toBe('10ms b', { b: 'to someone' });
      // The unconnected client hears nothing; the connected one gets the error and stays open.
      expectObservable(client.errors$.pipe(map((e) => e.code)), '^ 100ms !').toBe('');
      expectObservable(connected.errors$.pipe(map((e) => e.code)), '^ 100ms !').toBe('20ms e', { e: 'ECONNREFUSED' });
      ts.schedule(() => {
        assert.equal(connected.closed, false);
        assert.equal(stat(p.b, 'udp', 'drops', 'noPort'), 2);
        p.close();
      }, 200);
    });
  });

  it('closing frees the key: the same port can be bound again, and meanwhile datagrams get ICMP', () => {
    const ts = newScheduler();
    const icmp = new Subject<string>();
    ts.run(({ cold, expectObservable }) => {
      const p = memoryPair({ scheduler: ts, hooksA: { transport: { up: icmpTap(icmp) } } });
      const first = p.b.udp.bind({ port: 1001 });
      const client = p.a.udp.bind({ port: 5000 });
      const rebound = new Subject<string>();
      cold('a 9ms b 9ms c 9ms d|').subscribe((k) => client.send(enc(k), { address: B, port: 1001 }));
      ts.schedule(() => first.close(), 5);
      ts.schedule(() => {
        const second = p.b.udp.bind({ port: 1001 });
        second.datagrams$.pipe(map(text)).subscribe(rebound);
      }, 15);
      expectObservable(first.datagrams$.pipe(map(text))).toBe('a 4ms |', { a: 'a' });
      expectObservable(rebound, '^ 100ms !').toBe('20ms c 9ms d', { c: 'c', d: 'd' });
      expectObservable(icmp, '^ 100ms !').toBe('10ms x', { x: '3/3/1001' });
      ts.schedule(() => p.close(), 200);
    });
  });

  it('bind$ binds on subscribe and frees the port on unsubscribe', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const p = memoryPair({ scheduler: ts });
      const client = p.a.udp.bind({ port: 5000 });
      const ports: string[] = [];
      cold('a 9ms b 9ms c|').subscribe(() => client.send(enc('x'), { address: B, port: 1001 }));
      const sub = p.b.udp.bind$({ port: 1001 }).subscribe((s) => s.datagrams$.subscribe(() => ports.push(`${ts.now()}`)));
      ts.schedule(() => {
        assert.throws(() => p.b.udp.bind({ port: 1001 }), { code: 'EADDRINUSE' });
        sub.unsubscribe();
        // The port is free again: a new socket gets the next datagram.
        p.b.udp.bind({ port: 1001 }).datagrams$.subscribe(() => ports.push(`again ${ts.now()}`));
      }, 15);
      // A second bind$ while the first holds the port errors at once.
      const second$ = p.b.udp.bind$({ port: 1001 }).pipe(map(() => 'bound'), catchError((e: NetstackError) => of(e.code)));
      expectObservable(second$, '^ 5ms !').toBe('(e|)', { e: 'EADDRINUSE' });
      ts.schedule(() => {
        assert.deepEqual(ports, ['0', '10', 'again 20']);
        p.close();
      }, 200);
    });
  });
});
