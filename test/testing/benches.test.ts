import assert from 'node:assert/strict';
import { AssertionError } from 'node:assert';
import { catchError, concatMap, filter, firstValueFrom, map, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  createStackAndPeer, createStackPair, isTcp, nextFrame$, waitFor, waitForState, waitForState$,
} from '../../streams/testing/index.js';

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}

const codeOf = (err: unknown): string => (err as { code?: string }).code ?? String(err);

describe('testing kit: benches in virtual and real time', () => {
  it('marbles: the peer sees an unanswered SYN at 0, 1, 3, 7, 15, 31, 63 s; connect fails with ETIMEDOUT at 123 s', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      const { stack, peer, close } = createStackAndPeer({ scheduler: ts });
      const syns$ = peer.frames$.pipe(filter(isTcp({ flags: 'SYN', dst: '198.18.0.1', dstPort: 80 })), map(() => 's'));
      const result$ = stack.tcp.connect({ address: '198.18.0.1', port: 80 }).pipe(
        map((c) => c.state),
        catchError((err: unknown) => of(codeOf(err))),
      );
      expectObservable(syns$, '^ 150s !').toBe('s 999ms s 1999ms s 3999ms s 7999ms s 15999ms s 31999ms s');
      expectObservable(result$).toBe('123s (e|)', { e: 'ETIMEDOUT' });
      ts.schedule(() => close(), 200_000);
    });
  });

  it('marbles: nextFrame$ and waitForState$ in run mode; a SYN-ACK from the peer establishes the connection', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      const { stack, peer, close } = createStackAndPeer({ scheduler: ts, wire: { latencyMs: 5 } });
      const state$ = stack.tcp.connect({ address: '198.18.0.1', port: 80 }).pipe(concatMap((c) => waitForState$(c, 'ESTABLISHED')));
      // The peer answers the SYN 20 ms after it arrived.
      nextFrame$(peer, isTcp({ flags: 'SYN' })).subscribe((syn) =>
        ts.schedule(() => peer.sendTcp({ srcPort: 80, dstPort: syn.tcp.srcPort, seq: 7000, ack: syn.tcp.seq + 1, flags: 'SYN|ACK' }), 20),
      );
      // ARP request and reply 5 ms each way, SYN 5 ms, 20 ms wait, SYN-ACK 5 ms: 40 ms.
      expectObservable(state$).toBe('40ms (e|)', { e: 'ESTABLISHED' });
      ts.schedule(() => close(), 1000);
    });
  });

  it('marbles: a wait that times out errors at its deadline in virtual time', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      const { peer, close } = createStackAndPeer({ scheduler: ts });
      const wait$ = nextFrame$(peer, isTcp(), { timeoutMs: 250 }).pipe(
        map(() => 'frame'),
        catchError((err: unknown) => of(err instanceof AssertionError ? 'timeout' : String(err))),
      );
      expectObservable(wait$).toBe('250ms (t|)', { t: 'timeout' });
      ts.schedule(() => close(), 300);
    });
  });

  it('marbles: inside run(), waitForState$ times out in virtual time without being given the scheduler', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      const { a, b, close } = createStackPair({ scheduler: ts });
      b.tcp.listen({ port: 7 }).subscribe();
      const wait$ = a.tcp.connect({ address: '198.18.0.2', port: 7 }).pipe(
        // Nobody closes: CLOSE-WAIT never comes, and the wait gives up 300 virtual ms later.
        concatMap((c) => waitForState$(c, 'CLOSE-WAIT', { timeoutMs: 300 })),
        catchError((err: unknown) => of(err instanceof AssertionError && /^no CLOSE-WAIT on \d+->7 \(states: ESTABLISHED\) within 300 ms/.test(err.message) ? 'timeout' : String(err))),
      );
      expectObservable(wait$).toBe('300ms (t|)', { t: 'timeout' });
      ts.schedule(() => close(), 1000);
    });
  });

  it('real time: two stacks, an echo server on b, a client on a', async () => {
    const { a, b, links, close } = createStackPair();
    try {
      const server = b.tcp.listen({ port: 7 }).subscribe((c) => c.data$.subscribe({ next: (chunk) => c.write(chunk.slice()), complete: () => c.end() }));
      const conn = await firstValueFrom(a.tcp.connect({ address: '198.18.0.2', port: 7 }));
      assert.equal(await waitForState(conn, 'ESTABLISHED', { timeoutMs: 2000 }), 'ESTABLISHED');
      const echoed = waitFor(conn.data$, () => true, { timeoutMs: 2000, what: 'echoed bytes' });
      conn.write(new TextEncoder().encode('ping'));
      assert.equal(new TextDecoder().decode(await echoed), 'ping');
      conn.end();
      await waitForState(conn, 'TIME-WAIT', { timeoutMs: 2000 });
      assert.ok(links[0].stats.txFrames > 0 && links[1].stats.txFrames > 0);
      server.unsubscribe();
    } finally {
      close();
    }
  });

  it('real time: waitFor fails after its timeout, naming what it waited for', async () => {
    const { a, close } = createStackPair();
    try {
      // A real timer of 40 ms armed first fires before the wait gives up: it counted real time.
      let realTimerFired = false;
      const realTimer = setTimeout(() => (realTimerFired = true), 40);
      await assert.rejects(waitFor(a.tcp.listen({ port: 9 }), () => true, { timeoutMs: 50, what: 'a connection on port 9' }), (err: unknown) => {
        assert.ok(err instanceof AssertionError);
        assert.match(err.message, /^no a connection on port 9 within 50 ms/);
        return true;
      });
      clearTimeout(realTimer);
      assert.equal(realTimerFired, true, 'waited in real time');
    } finally {
      close();
    }
  });

  it('a bad configuration of either stack throws ERR_INVALID_CONFIG naming the field', () => {
    assert.throws(() => createStackPair({ configB: { tcp: { mss: -1 } } }), { code: 'ERR_INVALID_CONFIG', message: /tcp\.mss/ });
    assert.throws(() => createStackAndPeer({ addresses: ['198.18.0.300/24'] }), { code: 'ERR_INVALID_CONFIG', message: /ipv4/ });
  });
});
