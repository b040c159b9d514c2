/**
 * relayTo and pacedConcatMap: a relay reads its source connection only as fast as the target
 * takes the bytes, so a far side that never reads costs the relay a bounded amount of memory
 * (the two connections' buffers), and the sender's window closes. Two stacks on the memory wire
 * in virtual time.
 *
 *   proxy:  sender (a) ──► b:8 [in ─relay─► out] ──► a:9 far side, never reads
 *   echo:   client (a) ──► b:7 [conn ─relay─► conn] ──► back to the client, which never reads
 */
import assert from 'node:assert/strict';
import { concatMap, interval, map, mergeMap, Observable, of, Subject, take, toArray, type OperatorFunction } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { tcpPair, pattern, concat, codeOf, A_IP, B_IP } from '../stack/tcp-helpers.js';
import { advance } from '../stack/raw-peer.js';
import { relayTo } from '../../../streams/operators/relay-to.js';
import { pacedConcatMap, isPaced } from '../../../streams/operators/paced-concat-map.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';

const BUF = 16_384;
const MSS = 1460;
/** What a relay may hold: its source's receive buffer, its target's send buffer, one chunk. */
const BOUND = BUF + BUF + MSS;
const SENT = 1024 * 1024;

/** A relay from `from` to `to`: the operator under test, or the naive one it replaces. */
type Relay = (to: TcpConnection) => OperatorFunction<Uint8Array, unknown>;
const paced: Relay = (to) => relayTo(to);
const naive: Relay = (to) => concatMap((chunk: Uint8Array) => to.write$(chunk));

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}

/** Small, fixed buffers (no auto-tuning) on b (the relay's stack) and on a (the far side and the sender). */
const small = { receiveBufferSize: BUF, sendBufferSize: BUF, receiveBufferMax: BUF, sendBufferMax: BUF };

/**
 * The proxy set-up: returns a probe of what the proxy holds (bytes its inbound connection
 * received minus bytes the far side received) sampled every 500 ms, and the connections.
 */
function proxyScenario(ts: TestScheduler, relay: Relay) {
  const p = tcpPair({ scheduler: ts, tcpA: small, tcpB: small });
  const conns: { sender?: TcpConnection; inbound?: TcpConnection; outbound?: TcpConnection; far?: TcpConnection } = {};
  // The far side accepts and never reads.
  p.a.tcp.listen({ port: 9 }).subscribe((c) => (conns.far = c));
  // The proxy: each connection on b:8 is relayed to a:9.
  p.b.tcp
    .listen({ port: 8 })
    .pipe(
      mergeMap((inbound) => {
        conns.inbound = inbound;
        return p.b.tcp.connect({ address: A_IP, port: 9 }).pipe(
          mergeMap((outbound) => {
            conns.outbound = outbound;
            return inbound.data$.pipe(relay(outbound));
          }),
        );
      }),
    )
    .subscribe({ error: () => undefined }); // p.close() resets everything at the end
  // The sender writes 1 MiB at once (what does not fit waits in its own connection).
  p.a.tcp.connect({ address: B_IP, port: 8 }).subscribe((c) => {
    conns.sender = c;
    c.write(pattern(SENT, 4));
  });
  const held = (): number => (conns.inbound?.counters.bytesReceived ?? 0) - (conns.far?.counters.bytesReceived ?? 0);
  return { p, conns, held };
}

/** The echo set-up: the client writes 1 MiB and never reads the echoes. */
function echoScenario(ts: TestScheduler, relay: Relay) {
  const p = tcpPair({ scheduler: ts, tcpA: small, tcpB: small });
  const conns: { client?: TcpConnection; server?: TcpConnection } = {};
  p.b.tcp
    .listen({ port: 7 })
    .pipe(mergeMap((c) => ((conns.server = c), c.data$.pipe(relay(c)))))
    .subscribe({ error: () => undefined });
  p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => {
    conns.client = c;
    c.write(pattern(SENT, 5));
  });
  // Everything the server received and the client has not: unread, queued or unacknowledged.
  const held = (): number => (conns.server?.counters.bytesReceived ?? 0) - (conns.client?.counters.bytesReceived ?? 0);
  return { p, conns, held };
}

/** 'b' (bounded) or 'X' for `held()` every 500 ms, six times. */
const samples = (ts: TestScheduler, held: () => number) => interval(500, ts).pipe(map(() => (held() <= BOUND ? 'b' : 'X')), take(6));

describe('operators: relayTo (bounded relays)', () => {
  it('a proxy whose far side never reads holds at most its two buffers; the sender\'s window closes', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      const { p, conns, held } = proxyScenario(ts, paced);
      let peak = 0;
      interval(10, ts).pipe(take(300)).subscribe(() => (peak = Math.max(peak, held())));
      expectObservable(samples(ts, held)).toBe('500ms b 499ms b 499ms b 499ms b 499ms b 499ms (b|)');
      ts.schedule(() => {
        const { sender, inbound, outbound, far } = conns;
        assert.ok(sender && inbound && outbound && far, 'all connected');
        assert.ok(peak <= BOUND, `peak ${peak} <= ${BOUND}`);
        assert.ok(far.counters.bytesReceived > 0, 'bytes reached the far side before it filled up');
        assert.equal(inbound.core.rcvWnd, 0, "the proxy's inbound window is closed");
        assert.equal(sender.core.sndWnd, 0, 'the sender was offered a zero window');
        assert.ok(sender.bufferedLength > SENT - 3 * BOUND, `the sender still holds ${sender.bufferedLength}`);
        assert.ok(outbound.bufferedLength <= BUF + MSS, `outbound holds ${outbound.bufferedLength}`);
        p.close();
      }, 3100);
    });
  });

  it('the same proxy with concatMap(write$) instead grows with what the sender writes (the test can fail)', () => {
    const ts = newScheduler();
    ts.run(() => {
      const { p, held } = proxyScenario(ts, naive);
      let peak = 0;
      interval(10, ts).pipe(take(300)).subscribe(() => (peak = Math.max(peak, held())));
      ts.schedule(() => {
        assert.ok(peak > 10 * BOUND, `peak ${peak} grows past ${10 * BOUND}`);
        p.close();
      }, 3100);
    });
  });

  it('an echo whose client never reads holds at most its two buffers; with concatMap(write$) it grows', () => {
    for (const [relay, bounded] of [[paced, true], [naive, false]] as const) {
      const ts = newScheduler();
      ts.run(({ expectObservable }) => {
        const { p, conns, held } = echoScenario(ts, relay);
        let peak = 0;
        interval(10, ts).pipe(take(300)).subscribe(() => (peak = Math.max(peak, held())));
        if (bounded) expectObservable(samples(ts, held)).toBe('500ms b 499ms b 499ms b 499ms b 499ms b 499ms (b|)');
        ts.schedule(() => {
          if (bounded) {
            assert.ok(peak <= BOUND, `paced: peak ${peak} <= ${BOUND}`);
            assert.equal(conns.client?.core.sndWnd, 0, "the client's window closed");
          } else assert.ok(peak > 10 * BOUND, `naive: peak ${peak} grows`);
          p.close();
        }, 3100);
      });
    }
  });

  it('once the far side reads, everything arrives in order; the source\'s FIN ends the target', () => {
    const ts = newScheduler();
    ts.run(() => {
      const { p, conns } = proxyScenario(ts, paced);
      const got: Uint8Array[] = [];
      let ended = false;
      ts.schedule(() => {
        conns.far!.data$.subscribe({ next: (c) => got.push(c.slice()), complete: () => (ended = true) });
        conns.sender!.end();
      }, 1000);
      ts.schedule(() => {
        assert.ok(ended, "the far side saw the proxy's FIN");
        assert.deepEqual(concat(got), pattern(SENT, 4));
        p.close();
      }, 20_000);
    });
  });

  it('{ end: false } leaves the target open; errors of the source reach the subscriber', () => {
    const ts = newScheduler();
    const p = tcpPair({ scheduler: ts });
    let server: TcpConnection | undefined;
    let client: TcpConnection | undefined;
    const results: string[] = [];
    p.b.tcp.listen({ port: 7 }).subscribe((c) => {
      server = c;
      c.data$.pipe(relayTo(c, { end: false })).subscribe({ complete: () => results.push('complete'), error: (e) => results.push(codeOf(e)) });
    });
    p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => (client = c));
    advance(ts, 10);
    client!.write(pattern(100));
    client!.end();
    advance(ts, 100);
    assert.deepEqual(results, ['complete']);
    assert.equal(server!.state, 'CLOSE-WAIT', 'not ended by the relay');
    // A second relay on a reset source errors with the reset.
    const p2 = tcpPair({ scheduler: ts });
    p2.b.tcp.listen({ port: 7 }).subscribe((c) => c.data$.pipe(relayTo(c)).subscribe({ error: (e) => results.push(codeOf(e)) }));
    p2.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => c.destroy());
    advance(ts, 100);
    assert.deepEqual(results, ['complete', 'ECONNRESET']);
    p.close();
    p2.close();
  });
});

describe('operators: pacedConcatMap', () => {
  it('on a paced source reads the next value only after the inner Observable completed', () => {
    const ts = newScheduler();
    // Without the timestamp option a full segment carries 1460 bytes, the size the test counts in.
    const p = tcpPair({ scheduler: ts, tcpA: { timestamps: false } });
    let server: TcpConnection | undefined;
    let client: TcpConnection | undefined;
    p.b.tcp.listen({ port: 7 }).subscribe((c) => (server = c));
    p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => (client = c));
    advance(ts, 10);
    assert.ok(isPaced(server!.data$), 'data$ is paced');
    client!.write(pattern(3 * 1460));
    advance(ts, 10);
    const inners: string[] = [];
    // Each chunk's inner Observable completes 100 ms later: while it runs, the rest stays unread.
    server!.data$
      .pipe(pacedConcatMap((chunk, i) => new Observable<string>((s) => ts.schedule(() => (s.next(`${i}:${chunk.length}`), s.complete()), 100))))
      .subscribe((v) => inners.push(v));
    assert.deepEqual(inners, []);
    assert.equal(server!.core.readableLength, 2 * 1460, 'one chunk taken, two still in the receive buffer');
    advance(ts, 100);
    assert.equal(server!.core.readableLength, 1460);
    advance(ts, 200);
    assert.deepEqual(inners, ['0:1460', '1:1460', '2:1460']);
    p.close();
  });

  it('a second reader of data$ gets EBUSY; on a plain Observable it is concatMap', () => {
    const ts = newScheduler();
    const p = tcpPair({ scheduler: ts });
    let server: TcpConnection | undefined;
    p.b.tcp.listen({ port: 7 }).subscribe((c) => (server = c));
    p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe();
    advance(ts, 10);
    const errors: string[] = [];
    server!.data$.subscribe();
    server!.data$.pipe(pacedConcatMap(() => of(1))).subscribe({ error: (e) => errors.push(codeOf(e)) });
    assert.deepEqual(errors, ['EBUSY']);
    p.close();
    let out: number[] = [];
    of(1, 2, 3).pipe(pacedConcatMap((x) => of(x * 10)), toArray()).subscribe((v) => (out = v));
    assert.deepEqual(out, [10, 20, 30]);
  });

  it('relaying into a connection lets its source lend small payloads (the core\'s readerCopies); a plain data$ reader does not', () => {
    const ts = newScheduler();
    const p = tcpPair({ scheduler: ts });
    let server: TcpConnection | undefined;
    p.b.tcp.listen({ port: 7 }).subscribe((c) => (server = c));
    let client: TcpConnection | undefined;
    p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => (client = c));
    advance(ts, 10);
    const plain = server!.data$.subscribe();
    assert.equal(server!.core.readerCopies, false);
    plain.unsubscribe();
    const echo = server!.data$.pipe(relayTo(server!)).subscribe();
    assert.equal(server!.core.readerCopies, true);
    const back: number[] = [];
    client!.data$.subscribe((c) => back.push(...c));
    client!.write(pattern(5));
    advance(ts, 20);
    assert.deepEqual(back, [...pattern(5)], 'echoed');
    echo.unsubscribe();
    assert.equal(server!.core.readerCopies, false, 'the reader left');
    p.close();
  });

  it('writes to a connection directly (no write$ per chunk), waits on drain$ when write says false, ends it on the FIN', () => {
    const ts = newScheduler();
    const p = tcpPair({ scheduler: ts, tcpB: small });
    let server: TcpConnection | undefined;
    p.b.tcp.listen({ port: 7 }).subscribe((c) => (server = c));
    let client: TcpConnection | undefined;
    p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => (client = c));
    advance(ts, 10);
    // A target that writes like a connection but whose write$ must never be used.
    const written: number[] = [];
    let room = true;
    const drain = new Subject<void>();
    let ended = false;
    const target = {
      write: (b: Uint8Array) => (written.push(b.length), room),
      drain$: drain.asObservable(),
      write$: (): Observable<void> => {
        throw new Error('write$ used');
      },
      end: () => (ended = true),
    };
    let completed = false;
    server!.data$.pipe(relayTo(target)).subscribe({ complete: () => (completed = true) });
    room = false;
    client!.write(pattern(3 * MSS));
    advance(ts, 50);
    assert.equal(written.length, 1, 'one chunk taken; write said false: reading waits');
    room = true;
    drain.next();
    advance(ts, 50);
    assert.ok(written.length >= 2 && written.reduce((a, b) => a + b, 0) === 3 * MSS, 'the rest after drain$');
    client!.end();
    advance(ts, 50);
    assert.ok(ended && completed, 'the FIN ends the target and completes the relay');
    p.close();
  });
});

