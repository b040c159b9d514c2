import assert from 'node:assert/strict';
import { VirtualTimeScheduler } from 'rxjs';
import { firstValueFrom } from 'rxjs';
import { tcpPair, pattern, B_IP } from './tcp-helpers.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import type { CongestionControlChoice, CongestionControlParams } from '../../../streams/index.js';
import { NewReno } from '../../../src/tcp/congestion/newreno.js';
import type { TcpConfig } from '../../../src/tcp/config.js';
import { NetstackError } from '../../../src/errors.js';

const SIZE = 4 * 1024 * 1024;

interface Outcome {
  server: TcpConnection;
  client: TcpConnection;
  received: Uint8Array;
  at: number;
}

/**
 * a connects to b and sends SIZE bytes over a memory wire with 2% loss and a 10 ms delay each
 * way, in virtual time; b collects them. Returns both connections and what b received.
 */
function run(
  opts: { tcpA?: Partial<TcpConfig>; tcpB?: Partial<TcpConfig>; listen?: CongestionControlChoice; connect?: CongestionControlChoice },
): Outcome {
  const scheduler = new VirtualTimeScheduler();
  const impair = (seed: number) => ({ loss: 0.02, delay: 10, seed });
  const p = tcpPair({ scheduler, tcpA: opts.tcpA, tcpB: opts.tcpB, impairAtoB: impair(5), impairBtoA: impair(6) });
  const data = pattern(SIZE, 7);
  const received = new Uint8Array(SIZE);
  let got = 0;
  let server: TcpConnection | undefined;
  let client: TcpConnection | undefined;
  let at = -1;
  p.b.tcp.listen({ port: 5001, ...(opts.listen !== undefined ? { congestionControl: opts.listen } : {}) }).subscribe((c) => {
    server = c;
    c.data$.subscribe({
      next: (chunk) => {
        received.set(chunk, got);
        got += chunk.length;
      },
      complete: () => {
        at = scheduler.now();
        c.end();
      },
    });
  });
  p.a.tcp.connect({ address: B_IP, port: 5001, ...(opts.connect !== undefined ? { congestionControl: opts.connect } : {}) }).subscribe((c) => {
    client = c;
    let offset = 0;
    const pump = (): void => {
      while (offset < SIZE) {
        const chunk = data.subarray(offset, Math.min(offset + 65536, SIZE));
        offset += chunk.length;
        if (!c.write(chunk)) return;
      }
      c.end();
    };
    c.drain$.subscribe(pump);
    pump();
  });
  const guard = scheduler.schedule(() => p.close(), 600_000);
  scheduler.flush();
  guard.unsubscribe();
  p.close();
  assert.ok(server !== undefined && client !== undefined, 'connected');
  assert.ok(at >= 0, `transfer did not finish: ${got} of ${SIZE} bytes`);
  assert.equal(got, SIZE);
  assert.deepEqual(Buffer.from(received).equals(Buffer.from(data)), true, 'byte-exact');
  return { server, client, received, at };
}

describe('stack: TCP congestion control selection', () => {
  it('CUBIC by default: a transfer through loss is byte-exact and the sender ran CUBIC', function () {
    this.timeout(60_000);
    const o = run({});
    assert.equal(o.client.core.congestionControl, 'cubic');
    assert.equal(o.server.core.congestionControl, 'cubic');
    assert.ok(o.client.counters.fastRetransmits > 0, 'losses were recovered');
  });

  it('NewReno from the stack config: the same transfer byte-exact with NewReno', function () {
    this.timeout(60_000);
    const o = run({ tcpA: { congestionControl: 'newreno' }, tcpB: { congestionControl: 'newreno' } });
    assert.equal(o.client.core.congestionControl, 'newreno');
    assert.equal(o.server.core.congestionControl, 'newreno');
    assert.ok(o.client.counters.fastRetransmits > 0);
  });

  it('per listen() and per connect(): the option overrides the stack config for that socket only', function () {
    this.timeout(60_000);
    const o = run({ tcpA: { congestionControl: 'newreno' }, listen: 'newreno', connect: 'cubic' });
    assert.equal(o.client.core.congestionControl, 'cubic', 'connect option over tcpA newreno');
    assert.equal(o.server.core.congestionControl, 'newreno', 'listen option over the cubic default');
  });

  it('a factory gets the params and its algorithm drives the connection', function () {
    this.timeout(60_000);
    const seen: CongestionControlParams[] = [];
    let acks = 0;
    class Counting extends NewReno {
      override readonly name = 'counting';
      override onAck(acked: number, ack: number, flightBefore: number, sndMax: number, now: number) {
        acks++;
        return super.onAck(acked, ack, flightBefore, sndMax, now);
      }
    }
    const o = run({
      tcpA: { initialCwndSegments: 4 },
      connect: (params) => {
        seen.push(params);
        return new Counting(params.initialWindowSegments);
      },
    });
    assert.equal(o.client.core.congestionControl, 'counting');
    assert.equal(o.server.core.congestionControl, 'cubic');
    assert.equal(seen.length, 1);
    assert.equal(seen[0].initialWindowSegments, 4);
    assert.equal(seen[0].counters?.hystartExits, 0, "the connection's counters");
    assert.ok(acks > 100, `the factory's algorithm saw the ACKs (${acks})`);
  });

  it('a bad congestionControl fails listen() and connect() with ERR_INVALID_ARG_VALUE naming the field', async () => {
    const p = tcpPair();
    try {
      for (const attempt of [
        () => firstValueFrom(p.b.tcp.listen({ port: 5002, congestionControl: 'vegas' as never })),
        () => firstValueFrom(p.a.tcp.connect({ address: B_IP, port: 5002, congestionControl: 42 as never })),
      ]) {
        await assert.rejects(attempt(), (err: unknown) => {
          assert.ok(err instanceof NetstackError);
          assert.equal(err.code, 'ERR_INVALID_ARG_VALUE');
          assert.match(err.message, /congestionControl: .* is not 'cubic', 'newreno' or a factory function/);
          return true;
        });
      }
    } finally {
      p.close();
    }
  });
});
