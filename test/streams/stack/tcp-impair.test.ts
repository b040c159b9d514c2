import assert from 'node:assert/strict';
import { VirtualTimeScheduler, type SchedulerLike } from 'rxjs';
import { tcpPair, pattern, B_IP, type TcpPair } from './tcp-helpers.js';
import { stat } from './raw-peer.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import type { ImpairOptions } from '../../../streams/operators/impair.js';
import type { TcpConfig } from '../../../src/tcp/config.js';

const MiB = 1024 * 1024;

/** What one side of a transfer saw. */
interface SideResult {
  received: number;
  /** Index of the first byte that differed from what the peer sent, or -1. */
  firstMismatch: number;
  ended: boolean;
  error: unknown;
}

/**
 * Sends `send` on `conn` (in 64 KiB writes, waiting for drain$ when write() says so, then end())
 * while checking what arrives against `expect` byte by byte as it comes (no copy of 32 MiB kept).
 */
function transfer(conn: TcpConnection, send: Uint8Array, expect: Uint8Array, done: (r: SideResult) => void): void {
  const r: SideResult = { received: 0, firstMismatch: -1, ended: false, error: undefined };
  conn.data$.subscribe({
    next: (chunk) => {
      if (r.firstMismatch < 0) {
        for (let i = 0; i < chunk.length; i++) {
          if (chunk[i] !== expect[r.received + i]) {
            r.firstMismatch = r.received + i;
            break;
          }
        }
      }
      r.received += chunk.length;
    },
    complete: () => {
      r.ended = true;
      done(r);
    },
    error: (err: unknown) => {
      r.error = err;
      done(r);
    },
  });
  let offset = 0;
  const pump = (): void => {
    while (offset < send.length) {
      const chunk = send.subarray(offset, Math.min(offset + 64 * 1024, send.length));
      offset += chunk.length;
      if (!conn.write(chunk)) return; // the rest of this chunk waits in the connection; drain$ says when
    }
    conn.end();
  };
  conn.drain$.subscribe(pump);
  pump();
}

interface RunOptions {
  readonly size: number;
  readonly scheduler?: SchedulerLike;
  readonly impairAtoB: ImpairOptions;
  readonly impairBtoA: ImpairOptions;
  readonly tcp?: Partial<TcpConfig>;
}

/** Both directions at once over an impaired pair; calls back with both sides' results. */
function bothWays(opts: RunOptions, finished: (p: TcpPair, client: SideResult, server: SideResult) => void): TcpPair {
  const p = tcpPair({ scheduler: opts.scheduler, impairAtoB: opts.impairAtoB, impairBtoA: opts.impairBtoA, tcpA: opts.tcp, tcpB: opts.tcp });
  const fromA = pattern(opts.size, 11);
  const fromB = pattern(opts.size, 22);
  let client: SideResult | undefined;
  let server: SideResult | undefined;
  const check = (): void => {
    if (client !== undefined && server !== undefined) finished(p, client, server);
  };
  const listening = p.b.tcp.listen({ port: 5001 }).subscribe((c) => {
    listening.unsubscribe();
    transfer(c, fromB, fromA, (r) => {
      server = r;
      check();
    });
  });
  p.a.tcp.connect({ address: B_IP, port: 5001 }).subscribe({
    next: (c) =>
      transfer(c, fromA, fromB, (r) => {
        client = r;
        check();
      }),
    error: (err: unknown) => {
      client = { received: 0, firstMismatch: -1, ended: false, error: err };
      server = client;
      check();
    },
  });
  return p;
}

function assertExact(r: SideResult, size: number, who: string): void {
  assert.equal(r.error, undefined, `${who}: ${String(r.error)}`);
  assert.equal(r.firstMismatch, -1, `${who}: byte ${r.firstMismatch} differs`);
  assert.equal(r.received, size, `${who}: received ${r.received} of ${size} bytes`);
  assert.ok(r.ended, `${who}: data$ completed on the peer's FIN`);
}

/** 5% loss, 2% one-place reordering, 1% duplication, each direction with its own seed. */
const impairment = (seed: number): ImpairOptions => ({ loss: 0.05, reorder: 0.02, duplicate: 0.01, seed });

describe('stack: TCP over an impaired memory wire', () => {
  it('moves 32 MiB each way at once, byte-exact, through 5% loss, reordering and duplication (virtual time)', function () {
    // Virtual time: the wire, the impairment and every TCP timer run on one VirtualTimeScheduler,
    // so the ~25 s of retransmission timeouts that 5% loss costs NewReno (no SACK) take no wall
    // time, and a seed gives the same run every time.
    this.timeout(120_000);
    const size = 32 * MiB;
    const scheduler = new VirtualTimeScheduler();
    let outcome: { client: SideResult; server: SideResult; at: number } | undefined;
    const p = bothWays({ size, scheduler, impairAtoB: impairment(1), impairBtoA: impairment(2) }, (pair, client, server) => {
      outcome = { client, server, at: scheduler.now() };
      guard.unsubscribe();
      pair.close();
    });
    // A stalled transfer must fail the test, not hang it: give up after 10 virtual minutes.
    const guard = scheduler.schedule(() => p.close(), 600_000);
    scheduler.flush();
    assert.ok(outcome !== undefined, `the transfers did not finish in 10 virtual minutes (stats: ${JSON.stringify(p.a.stats().tcpConnections)})`);
    assertExact(outcome.client, size, 'a (client)');
    assertExact(outcome.server, size, 'b (server)');
    assert.ok(outcome.at < 120_000, `took ${outcome.at} ms of virtual time`);
    checkCounters(p);

    function checkCounters(pair: TcpPair): void {
      // The impairment really happened, and TCP really recovered from it.
      for (const s of [pair.a, pair.b]) {
        const segments = size / 1460;
        assert.ok(stat(s, 'tcpConnections', 'retransmits') > segments * 0.04, 'about 5% of the segments were resent');
        assert.ok(stat(s, 'tcpConnections', 'fastRetransmits') > 100);
        // SACK and RACK (the defaults) find the losses; with RACK there is no NewReno partial-ACK rule.
        assert.ok(stat(s, 'tcpConnections', 'sackRecoveries') > 10, 'SACK recoveries');
        assert.ok(stat(s, 'tcpConnections', 'rackLosses') > 10, 'losses found by RACK');
        assert.ok(stat(s, 'tcpConnections', 'outOfOrderSegments') > 100);
        assert.ok(stat(s, 'tcpConnections', 'duplicateSegments') > 10);
        assert.equal(stat(s, 'tcpConnections', 'outOfOrderDropped'), 0);
        assert.equal(stat(s, 'tcpConnections', 'bytesReceived'), size);
      }
    }
  });

  it('moves 2 MiB each way byte-exact through 5% loss in real time (asyncScheduler, rtoMin 20 ms)', function (done) {
    // The same wiring on the real clock: DeadlineTimer on asyncScheduler, the wire on setImmediate.
    this.timeout(60_000);
    const size = 2 * MiB;
    bothWays({ size, impairAtoB: impairment(3), impairBtoA: impairment(4), tcp: { rtoMin: 20 } }, (pair, client, server) => {
      try {
        assertExact(client, size, 'a (client)');
        assertExact(server, size, 'b (server)');
        assert.ok(stat(pair.a, 'tcpConnections', 'retransmits') > 0);
        done();
      } catch (err) {
        done(err);
      } finally {
        pair.close();
      }
    });
  });
});
