import assert from 'node:assert/strict';
import { catchError, map, of, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { tcpPair, tcpInputTap, pattern, concat, codeOf, flagNames, B_IP, type SeenSegment } from './tcp-helpers.js';
import { stat } from './raw-peer.js';
import { TcpFlags } from '../../../src/wire/tcp.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}

const isSyn = (s: SeenSegment) => (s.flags & (TcpFlags.SYN | TcpFlags.ACK)) === TcpFlags.SYN;

describe('stack: TCP timers in virtual time (marbles)', () => {
  it('retransmits an unanswered SYN at 1, 3, 7, 15, 31, 63 s and fails with ETIMEDOUT at 123 s', () => {
    const ts = newScheduler();
    const seen: SeenSegment[] = [];
    const syns = new Subject<string>();
    ts.run(({ expectObservable }) => {
      // b answers ARP but every TCP segment it receives vanishes: a black hole for SYNs.
      const p = tcpPair({
        scheduler: ts,
        hooksB: {
          transport: { up: tcpInputTap(ts, seen, (s) => {
            if (isSyn(s)) syns.next(flagNames(s.flags));
            return true;
          }) },
        },
      });
      const result = p.a.tcp.connect({ address: B_IP, port: 80 }).pipe(
        map((c) => c.state),
        catchError((err: unknown) => of(codeOf(err))),
      );
      // Default rtoInitial 1 s, doubling, capped at rtoMax 60 s; synRetries 6.
      expectObservable(syns, '^ 150s !').toBe('a 999ms a 1999ms a 3999ms a 7999ms a 15999ms a 31999ms a', { a: 'SYN' });
      expectObservable(result).toBe('123s (e|)', { e: 'ETIMEDOUT' });
      ts.schedule(() => {
        assert.equal(seen.length, 7, 'nothing but the 7 SYNs reached b');
        // Every copy is the same SYN: same sequence number, same port.
        assert.equal(new Set(seen.map((s) => `${s.seq}/${s.srcPort}`)).size, 1);
        assert.equal(stat(p.a, 'tcpConnections', 'synRetransmits'), 6);
        assert.equal(stat(p.a, 'tcp', 'connectionsFailed'), 1);
        assert.equal(stat(p.a, 'tcp', 'activeConnections'), 0);
        assert.equal(p.a.tcpLayer.connections().length, 0);
        assert.equal(p.a.tcpLayer.ports.size, 0, 'the ephemeral port is released');
        p.close();
        syns.complete();
      }, 200_000);
    });
  });

  it('the SYN schedule follows the configured rtoInitial and synRetries', () => {
    const ts = newScheduler();
    const syns = new Subject<number>();
    const seen: SeenSegment[] = [];
    ts.run(({ expectObservable }) => {
      const p = tcpPair({
        scheduler: ts,
        tcpA: { rtoInitial: 250, synRetries: 3 },
        hooksB: { transport: { up: tcpInputTap(ts, seen, (s) => (isSyn(s) && syns.next(s.at), true)) } },
      });
      const result = p.a.tcp.connect({ address: B_IP, port: 80 }).pipe(catchError((err: unknown) => of(codeOf(err))));
      // 0, 250, 750, 1750; gives up one more RTO (2 s) later, at 3750.
      expectObservable(syns, '^ 5s !').toBe('a 249ms b 499ms c 999ms d', { a: 0, b: 250, c: 750, d: 1750 });
      expectObservable(result).toBe('3750ms (e|)', { e: 'ETIMEDOUT' });
      ts.schedule(() => {
        p.close();
        syns.complete();
      }, 10_000);
    });
  });

  it('probes a zero window with backed-off persist probes until the reader frees space; nothing is lost', () => {
    const ts = newScheduler();
    const toB: SeenSegment[] = [];
    const toA: SeenSegment[] = [];
    const probes = new Subject<number>();
    const windows = new Subject<number>();
    const payload = pattern(10_000, 3);
    const received: Uint8Array[] = [];
    ts.run(({ expectObservable }) => {
      const p = tcpPair({
        scheduler: ts,
        // quickAckStart off: the times below are of the delayed ACKs from b's first segment on.
        tcpB: { receiveBufferSize: 8192, receiveBufferMax: 8192, quickAckStart: false },
        // A one-byte segment from a is a zero-window probe (the last window b offered was 0).
        hooksB: { transport: { up: tcpInputTap(ts, toB, (s) => (s.len === 1 && probes.next(s.at), false)) } },
        hooksA: { transport: { up: tcpInputTap(ts, toA, (s) => ((s.flags & TcpFlags.SYN) === 0 && windows.next(s.window), false)) } },
      });
      let server: TcpConnection | undefined;
      // b accepts but nobody reads: the bytes wait in b's receive buffer and its window closes.
      p.b.tcp.listen({ port: 9 }).subscribe((c) => (server = c));
      p.a.tcp.connect({ address: B_IP, port: 9 }).subscribe((c) => {
        c.write(payload);
        c.end();
      });
      ts.schedule(() => {
        assert.equal(server?.state, 'ESTABLISHED', 'the FIN waits behind the closed window');
        server?.data$.subscribe({ next: (chunk) => received.push(chunk.slice()), complete: () => received.push(new Uint8Array(0)) });
      }, 5000);
      // RTO 200 ms on this zero-latency wire. The SWS-held tail (952 bytes) goes at 240 ms by
      // the persist timer; then b offers a zero window and a's probes back off: 400, 800, 1600 ms.
      expectObservable(probes, '^ 4999ms !').toBe('680ms a 799ms b 1599ms c', { a: 680, b: 1480, c: 3080 });
      // b's advertised window shrinks as unread bytes pile up (an ACK every second segment, the
      // fifth segment's by the 40 ms delayed-ACK timer), and stays 0 in answer to each probe.
      // Segments carry 1460 - 12 bytes: the timestamps option takes the rest.
      const seg = 1460 - 12;
      expectObservable(windows, '^ 4999ms !').toBe('(ab) 36ms c 239ms z 399ms z 799ms z 1599ms z', {
        a: 8192 - 2 * seg, b: 8192 - 4 * seg, c: 8192 - 5 * seg, z: 0,
      });
      ts.schedule(() => {
        const got = concat(received);
        assert.equal(received.at(-1)?.length, 0, 'data$ completed');
        assert.deepEqual(got, payload);
        assert.equal(stat(p.a, 'tcpConnections', 'zeroWindowProbes'), 3);
        assert.equal(stat(p.b, 'tcpConnections', 'zeroWindowProbesReceived'), 3);
        assert.ok(stat(p.b, 'tcpConnections', 'windowUpdates') >= 1, 'reading sent a window update');
        p.close();
        probes.complete();
        windows.complete();
      }, 10_000);
    });
  });

  it('the side that closes first stays in TIME-WAIT for 2*MSL, then CLOSED; its 4-tuple and port are released', () => {
    const ts = newScheduler();
    const states = new Subject<string>();
    const events = new Subject<string>();
    ts.run(({ expectObservable }) => {
      const p = tcpPair({ scheduler: ts });
      // b closes its side when a's FIN arrives (and shrugs off the RST of the last connection).
      p.b.tcp.listen({ port: 7 }).subscribe((c) => c.data$.subscribe({ complete: () => c.end(), error: () => undefined }));
      const connect = (tag: string) =>
        p.a.tcp.connect({ address: B_IP, port: 7, localPort: 40_000 }).subscribe({
          next: (c) => {
            events.next(`${tag}:ok`);
            c.destroy();
          },
          error: (err: unknown) => events.next(`${tag}:${codeOf(err)}`),
        });
      p.a.tcp.connect({ address: B_IP, port: 7, localPort: 40_000 }).subscribe((c) => {
        c.state$.subscribe({ next: (s) => states.next(s), complete: () => states.complete() });
        ts.schedule(() => c.end(), 10);
      });
      ts.schedule(() => connect('during'), 30_000);
      ts.schedule(() => {
        assert.equal(p.a.tcpLayer.connections().length, 1, 'the TIME-WAIT connection is still in the table');
        assert.equal(p.a.tcpLayer.ports.isReserved(p.a.interfaces[0].addresses[0].address, 40_000), true);
      }, 60_009);
      ts.schedule(() => {
        assert.equal(p.a.tcpLayer.connections().length, 0);
        assert.equal(p.a.tcpLayer.ports.size, 0);
        connect('after');
      }, 60_011);
      // Default MSL 30 s: TIME-WAIT lasts 60 s from the moment b's FIN arrived (10 ms).
      expectObservable(states).toBe('a 9ms (bcd) 59995ms (e|)', {
        a: 'ESTABLISHED', b: 'FIN-WAIT-1', c: 'FIN-WAIT-2', d: 'TIME-WAIT', e: 'CLOSED',
      });
      expectObservable(events, '^ 70s !').toBe('30s a 30010ms b', { a: 'during:EADDRINUSE', b: 'after:ok' });
      ts.schedule(() => {
        assert.equal(stat(p.a, 'tcp', 'connectionsClosed'), 2);
        assert.equal(stat(p.a, 'tcp', 'connectionsFailed'), 0);
        p.close();
        events.complete();
      }, 80_000);
    });
  });

  it('TIME-WAIT follows the configured msl, and a retransmitted FIN restarts it', () => {
    const ts = newScheduler();
    const states = new Subject<string>();
    ts.run(({ expectObservable }) => {
      const toB: SeenSegment[] = [];
      const toA: SeenSegment[] = [];
      let dropped = 0;
      const isFin = (s: SeenSegment) => (s.flags & TcpFlags.FIN) !== 0;
      const p = tcpPair({
        scheduler: ts,
        tcpA: { msl: 500 },
        // b loses a's ACK of b's FIN (the first pure ACK after a's FIN): b sends its FIN again
        // one RTO (200 ms) later, and a, in TIME-WAIT, acknowledges it and starts 2*MSL anew.
        hooksB: { transport: { up: tcpInputTap(ts, toB, (s) => s.len === 0 && (s.flags & (TcpFlags.FIN | TcpFlags.SYN)) === 0 && toB.some(isFin) && dropped++ === 0) } },
        hooksA: { transport: { up: tcpInputTap(ts, toA) } },
      });
      p.b.tcp.listen({ port: 7 }).subscribe((c) => c.data$.subscribe({ complete: () => c.end() }));
      p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => {
        c.state$.subscribe({ next: (s) => states.next(s), complete: () => states.complete() });
        c.end();
      });
      expectObservable(states).toBe('(abcd) 1194ms (e|)', {
        a: 'ESTABLISHED', b: 'FIN-WAIT-1', c: 'FIN-WAIT-2', d: 'TIME-WAIT', e: 'CLOSED',
      });
      ts.schedule(() => {
        assert.deepEqual(toA.filter(isFin).map((s) => s.at), [0, 200], "b's FIN, and its retransmission");
        assert.equal(stat(p.a, 'tcpConnections', 'duplicateSegments'), 1);
        assert.equal(stat(p.b, 'tcp', 'activeConnections'), 0, 'b closed on the second ACK');
        p.close();
      }, 10_000);
    });
  });
});
