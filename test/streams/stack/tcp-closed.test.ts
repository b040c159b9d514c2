/** When `closed$` fires: once the connection is finished for its user, not after TIME-WAIT. */
import assert from 'node:assert/strict';
import { map, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { tcpPair, codeOf, B_IP } from './tcp-helpers.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}

const why = (err: unknown) => (err === undefined ? 'clean' : codeOf(err));

describe('stack: TCP closed$ timing (marbles)', () => {
  it('the side that closes first: closed$ when TIME-WAIT begins; TIME-WAIT still holds the 4-tuple for 2*MSL', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      const p = tcpPair({ scheduler: ts });
      const closedA = new Subject<string>();
      const closedB = new Subject<string>();
      const states = new Subject<string>();
      let client: TcpConnection | undefined;
      // b answers our FIN with its own at once (after the data$ end).
      p.b.tcp.listen({ port: 7 }).subscribe((c) => {
        c.closed$.pipe(map(why)).subscribe(closedB);
        c.data$.subscribe({ complete: () => c.end() });
      });
      p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => {
        client = c;
        c.closed$.pipe(map(why)).subscribe(closedA);
        c.state$.subscribe(states);
        ts.schedule(() => c.end(), 10);
      });
      // On the zero-latency wire the whole close happens at 10 ms.
      expectObservable(closedA).toBe('10ms (a|)', { a: 'clean' });
      expectObservable(closedB).toBe('10ms (a|)', { a: 'clean' });
      // Default MSL 30 s: TIME-WAIT ends 60 s later; state$ shows it.
      expectObservable(states).toBe('a 9ms (bcd) 59995ms (e|)', {
        a: 'ESTABLISHED', b: 'FIN-WAIT-1', c: 'FIN-WAIT-2', d: 'TIME-WAIT', e: 'CLOSED',
      });
      ts.schedule(() => {
        assert.equal(client?.state, 'TIME-WAIT');
        assert.equal(p.a.tcpLayer.connections().length, 1, 'the TIME-WAIT connection is still in the table');
        // A late subscriber to closed$ gets it at once.
        let late: string | undefined;
        client?.closed$.subscribe((err) => (late = why(err)));
        assert.equal(late, 'clean');
      }, 30_000);
      ts.schedule(() => {
        assert.equal(p.a.tcpLayer.connections().length, 0);
        p.close();
      }, 61_000);
    });
  });

  it('a reset: closed$ at once with ECONNRESET; destroy(): closed$ with undefined', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      const p = tcpPair({ scheduler: ts });
      const closedA = new Subject<string>();
      const closedB = new Subject<string>();
      p.b.tcp.listen({ port: 7 }).subscribe((c) => {
        c.closed$.pipe(map(why)).subscribe(closedB);
        c.data$.subscribe({ error: () => undefined });
      });
      p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => {
        c.closed$.pipe(map(why)).subscribe(closedA);
        ts.schedule(() => c.destroy(), 5);
      });
      expectObservable(closedA).toBe('5ms (a|)', { a: 'clean' });
      expectObservable(closedB).toBe('5ms (a|)', { a: 'ECONNRESET' });
      ts.schedule(() => p.close(), 100);
    });
  });

  it('a half-close is not finished: closed$ waits for the other direction', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      const p = tcpPair({ scheduler: ts });
      const closedA = new Subject<string>();
      let server: TcpConnection | undefined;
      p.b.tcp.listen({ port: 7 }).subscribe((c) => {
        server = c;
        c.data$.subscribe();
      });
      p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => {
        c.closed$.pipe(map(why)).subscribe(closedA);
        c.data$.subscribe();
        c.end(); // a is done sending; b goes on until 1 s
      });
      ts.schedule(() => server?.end(), 1000);
      expectObservable(closedA).toBe('1000ms (a|)', { a: 'clean' });
      ts.schedule(() => p.close(), 2000);
    });
  });
});
