/**
 * The TCP timers of an established connection, end to end in virtual time: two stacks on the
 * memory wire (10 ms each way), every timer on a TestScheduler, what crosses the wire checked
 * with marbles. b's input can turn into a black hole (`blackHole = true`) to starve a's timers
 * of answers.
 *
 * The timeline every test shares: b announces itself at 0, a learns its MAC at 10 and sends the
 * SYN, the SYN-ACK reaches a at 30 (ESTABLISHED there), a's ACK reaches b at 40. RTT 20 ms, so
 * the RTO is at its 200 ms floor.
 */
import assert from 'node:assert/strict';
import { Subject, filter, map, switchMap, tap, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { tcpPair, tcpInputTap, B_IP, type SeenSegment } from './tcp-helpers.js';
import type { TcpConfig } from '../../../src/tcp/config.js';
import { TcpFlags } from '../../../src/wire/tcp.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}

interface Bench {
  /** Segments b received from a (all of them, black-holed or not) and a from b, as they arrive. */
  readonly atB: Subject<SeenSegment>;
  readonly atA: Subject<SeenSegment>;
  /** a's connection to b:80, once established (at 30). */
  readonly conn$: Observable<TcpConnection>;
  readonly server: () => TcpConnection | undefined;
  blackHole: boolean;
  close(): void;
}

/** The pair, b listening on 80 (reading what arrives unless `read` is false), a connecting. */
function bench(ts: TestScheduler, tcpA: Partial<TcpConfig>, read = true, tcpB?: Partial<TcpConfig>): Bench {
  const atB = new Subject<SeenSegment>();
  const atA = new Subject<SeenSegment>();
  const seenB: SeenSegment[] = [];
  const seenA: SeenSegment[] = [];
  let server: TcpConnection | undefined;
  const b: Bench = {
    atB,
    atA,
    blackHole: false,
    server: () => server,
    conn$: undefined as unknown as Observable<TcpConnection>,
    close: () => {
      p.close();
      atA.complete();
      atB.complete();
    },
  };
  const p = tcpPair({
    scheduler: ts,
    wire: { latencyMs: 10 },
    tcpA,
    tcpB,
    hooksB: { transport: { up: tcpInputTap(ts, seenB, (s) => (atB.next(s), b.blackHole)) } },
    hooksA: { transport: { up: tcpInputTap(ts, seenA, (s) => (atA.next(s), false)) } },
  });
  p.b.tcp.listen({ port: 80 }).subscribe((c) => {
    server = c;
    if (read) c.data$.subscribe();
  });
  (b as { conn$: Observable<TcpConnection> }).conn$ = p.a.tcp.connect({ address: B_IP, port: 80 });
  return b;
}

const hasData = (s: SeenSegment) => s.len > 0;
const pureAck = (s: SeenSegment) => s.len === 0 && s.flags === TcpFlags.ACK;

describe('stack: TCP timers of an established connection in virtual time (marbles)', () => {
  it('data RTO: a tail loss probe at the RTO\'s time, then resent after 200, 400, 800 ms, then ETIMEDOUT after dataRetries (3)', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      const t = bench(ts, { dataRetries: 3 });
      const seqs: number[] = [];
      const data$ = t.atB.pipe(
        filter(hasData),
        tap((s) => seqs.push(s.seq)),
        map(() => 'd'),
      );
      // Written at 100, arriving at 110. The tail loss probe (RFC 8985 7.3) would come at 2 SRTT
      // + 200 ms, after the RTO, so it goes out at the RTO's time instead (300, as Linux) and
      // restarts the RTO; the timeouts then resend at 500, 900, 1700 (RTO 200, doubled); the
      // fourth timeout, at 1700 + 1600, ends it.
      const failed$ = t.conn$.pipe(
        tap((c) => ts.schedule(() => ((t.blackHole = true), c.write(new Uint8Array(100))), 100 - ts.now())),
        switchMap((c) => c.closed$),
        map((e) => e?.code),
      );
      expectObservable(data$, '^ 5s !').toBe('110ms d 199ms d 199ms d 399ms d 799ms d');
      expectObservable(failed$).toBe('3300ms (e|)', { e: 'ETIMEDOUT' });
      ts.schedule(() => {
        assert.equal(new Set(seqs).size, 1, 'the same bytes every time');
        t.close();
      }, 6000);
    });
  });

  it('delayed ACK: a lone small segment is acknowledged 40 ms later, every second full-sized one at once', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      // b does not read: no window update can hide the delayed ACK; quickAckStart off, or b
      // would ACK its first segments at once (a start).
      const t = bench(ts, {}, false, { quickAckStart: false });
      let base = 0;
      t.conn$.subscribe((c) => {
        base = c.core.sndNxt;
        ts.schedule(() => c.write(new Uint8Array(100)), 100 - ts.now());
        ts.schedule(() => c.write(new Uint8Array(2 * c.core.sndMss)), 500 - ts.now());
      });
      const acks$ = t.atA.pipe(
        filter((s) => pureAck(s) && s.at >= 100),
        map((s) => s.ack - base),
      );
      // The 100 bytes reach b at 110: ACK at 150 (delayedAckTimeout 40), at a at 160. Two full
      // segments reach b at 510: ACK at once, at a at 520.
      expectObservable(acks$, '^ 1000ms !').toBe('160ms a 359ms b', { a: 100, b: 100 + 2 * 1448 });
      ts.schedule(() => t.close(), 2000);
    });
  });

  it('keepalive: probes after keepaliveIdle while answered, then every keepaliveInterval, ETIMEDOUT after keepaliveProbes', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      const t = bench(ts, { keepalive: true, keepaliveIdle: 10_000, keepaliveInterval: 1000, keepaliveProbes: 3 });
      let iss = -1;
      const probes$ = t.atB.pipe(
        tap((s) => {
          if ((s.flags & TcpFlags.SYN) !== 0) iss = s.seq;
        }),
        filter((s) => pureAck(s) && s.at > 1000),
        tap((s) => assert.equal(s.seq, iss, 'a probe carries SND.UNA - 1, so the peer must answer')),
        map(() => 'p'),
      );
      const answers$ = t.atA.pipe(filter((s) => pureAck(s) && s.at > 1000), map(() => 'a'));
      const failed$ = t.conn$.pipe(switchMap((c) => c.closed$), map((e) => e?.code));
      // Last activity at 30 (the SYN-ACK): probes at 10030, 20050, 30070 (10 s after each
      // answer), reaching b 10 ms later. b goes silent at 35000: probes at 40090, 41090, 42090,
      // and the connection fails when the next would be due, at 43090.
      ts.schedule(() => (t.blackHole = true), 35_000);
      expectObservable(probes$, '^ 50s !').toBe('10040ms p 10019ms p 10019ms p 10019ms p 999ms p 999ms p');
      expectObservable(answers$, '^ 50s !').toBe('10050ms a 10019ms a 10019ms a');
      expectObservable(failed$).toBe('43090ms (e|)', { e: 'ETIMEDOUT' });
      ts.schedule(() => t.close(), 60_000);
    });
  });

  it('FIN-WAIT-2 timeout: closed by the user, a waits finWait2Timeout for the FIN that never comes, then CLOSED silently', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      const t = bench(ts, { finWait2Timeout: 5000 });
      const states$ = t.conn$.pipe(
        tap((c) => ts.schedule(() => c.close(), 100 - ts.now())),
        switchMap((c) => c.state$),
      );
      const fromA$ = t.atB.pipe(filter((s) => s.at >= 100), map((s) => (s.flags & TcpFlags.FIN ? 'f' : 'x')));
      // FIN at 100 (reaches b at 110), b's ACK back at 120: FIN-WAIT-2; b never closes.
      expectObservable(states$).toBe('30ms e 69ms 1 19ms 2 4999ms (c|)', { e: 'ESTABLISHED', 1: 'FIN-WAIT-1', 2: 'FIN-WAIT-2', c: 'CLOSED' });
      expectObservable(fromA$, '^ 9s !').toBe('110ms f');
      ts.schedule(() => {
        assert.equal(t.server()?.state, 'CLOSE-WAIT', 'b still waits for its user');
        t.close();
      }, 10_000);
    });
  });

  it('user timeout (RFC 5482): data unacknowledged for userTimeout ends the connection with ETIMEDOUT, between retransmissions', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      const t = bench(ts, { userTimeout: 2000 });
      const data$ = t.atB.pipe(filter(hasData), map(() => 'd'));
      const failed$ = t.conn$.pipe(
        tap((c) => ts.schedule(() => ((t.blackHole = true), c.write(new Uint8Array(100))), 100 - ts.now())),
        switchMap((c) => c.closed$),
        map((e) => e?.code),
      );
      // Probed at 300 and resent at 500, 900, 1700 as above; 2000 ms after the write (at 2100),
      // before the RTO due at 3300, it gives up.
      expectObservable(data$, '^ 5s !').toBe('110ms d 199ms d 199ms d 399ms d 799ms d');
      expectObservable(failed$).toBe('2100ms (e|)', { e: 'ETIMEDOUT' });
      ts.schedule(() => t.close(), 6000);
    });
  });
});
