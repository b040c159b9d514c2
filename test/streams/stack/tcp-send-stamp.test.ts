/**
 * The stack stamps the segments a task built when the task's frames leave (send-stamps.ts), so
 * the RTT a connection measures is the path's, not the path's plus the sender's own task. Real
 * clock (the stack's default scheduler) over the memory wire: the writer spins in the task that
 * built its segments, as a long batch of work would.
 */
import assert from 'node:assert/strict';
import { firstValueFrom, type Subscription } from 'rxjs';
import { memoryPair } from './memory-pair.js';
import { pattern, B_IP } from './tcp-helpers.js';
import type { Stack } from '../../../streams/stack/create-stack.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';

/**
 * How long the writing task runs after building its segments, ms. Long enough that a stall of
 * the test process on a loaded machine (a few ms, sometimes over ten) in one sample does not
 * carry the smoothed RTT past half of it, and rounds enough that, without the stamps, the
 * smoothed RTT would have converged well past that half.
 */
const SPIN_MS = 40;
const ROUNDS = 6;

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: the task goes on while its frames wait for the flush at its end
  }
}

/** Echo server on `stack`:port. */
function echoOn(stack: Stack, port: number): Subscription {
  return stack.tcp.listen({ port }).subscribe((c) => {
    c.data$.subscribe({ next: (chunk) => c.write(chunk), error: () => undefined });
  });
}

/** Resolves once `n` more bytes came back on `conn`. */
function echoed(conn: TcpConnection, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const sub = conn.data$.subscribe({
      next: (chunk) => {
        got += chunk.length;
        if (got >= n) {
          sub.unsubscribe();
          resolve();
        }
      },
      error: reject,
    });
  });
}

describe('stack: TCP send times are when the frames leave', () => {
  it(`a task that runs ${SPIN_MS} ms after building its segments is not in the RTT (info().minRttMs, rttMs)`, async () => {
    const p = memoryPair();
    const server = echoOn(p.b, 7);
    try {
      const conn = await firstValueFrom(p.a.tcp.connect({ address: B_IP, port: 7 }));
      for (let round = 0; round < ROUNDS; round++) {
        const back = echoed(conn, 20_000);
        conn.write(pattern(20_000, round));
        spin(SPIN_MS); // the segments were built at the start of this task; they leave at its end
        await back;
      }
      const info = conn.info();
      assert.equal(info.bytesAcked, ROUNDS * 20_000);
      // Measured from the start of the task, every sample of the data was at least SPIN_MS.
      assert.ok(info.minRttMs > 0 && info.minRttMs < SPIN_MS / 2, `min RTT ${info.minRttMs} ms`);
      assert.ok(info.rttMs < SPIN_MS / 2, `smoothed RTT ${info.rttMs} ms`);
      // The tail loss probe (armed ~2 SRTT after the build) waits from the stamp too: it did not
      // fire as the frames left and resend the last of them.
      assert.equal(info.retransmits, 0);
    } finally {
      server.unsubscribe();
      p.close();
    }
  });
});
