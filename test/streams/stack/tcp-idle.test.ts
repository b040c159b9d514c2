/**
 * What an idle established connection keeps scheduled: nothing of its handshake. The SYN and
 * SYN-ACK arm a retransmission wake-up a second ahead; once the connection is established it is
 * cleared rather than left to run out (10,000 idle connections would each hold a timer for it).
 */
import assert from 'node:assert/strict';
import type { SchedulerAction, SchedulerLike, Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { DeadlineTimer } from '../../../streams/stack/deadline-timer.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import { advance } from './raw-peer.js';
import { B_IP, tcpPair } from './tcp-helpers.js';

interface Scheduled {
  readonly sub: Subscription;
  readonly due: number;
  readonly state: unknown;
}

describe('stack/tcp idle connection timers', () => {
  it('an established connection holds no wake-up left from its handshake', () => {
    const ts = new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
    const scheduled: Scheduled[] = [];
    const counting: SchedulerLike = {
      now: () => ts.now(),
      schedule<T>(work: (this: SchedulerAction<T>, state: T) => void, delay = 0, state?: T): Subscription {
        const sub = ts.schedule(work as (this: SchedulerAction<T>, state?: T) => void, delay, state);
        scheduled.push({ sub, due: ts.now() + delay, state });
        return sub;
      },
    };
    const p = tcpPair({ scheduler: counting as TestScheduler, wire: { latencyMs: 5 } });
    const server: TcpConnection[] = [];
    p.b.tcp.listen({ port: 80 }).subscribe((c) => server.push(c));
    let client: TcpConnection | undefined;
    const synAt = ts.now();
    p.a.tcp.connect({ address: B_IP, port: 80 }).subscribe((c) => (client = c));
    advance(ts, 200); // handshake done, delayed ACKs run out; the handshake's RTO (1 s) not yet
    assert.equal(client?.state, 'ESTABLISHED');
    assert.equal(server[0]?.state, 'ESTABLISHED');
    // Timer wake-ups still scheduled for the handshake's retransmission time: the SYN left once
    // ARP had resolved (a round trip, 10 ms, after synAt) and the SYN-ACK 5 ms later, so theirs
    // were due at synAt + 1,010 and 1,015 (ARP's own retry wake-up, armed at synAt, is at 1,000).
    const stale = scheduled.filter((s) => !s.sub.closed && s.state instanceof DeadlineTimer && s.due > synAt + 1000 && s.due <= synAt + 1100);
    assert.deepEqual(stale.map((s) => s.due), []);
    // And the connection still times what it sends afterwards: data to a peer that went away is retransmitted.
    client!.write(new Uint8Array([1, 2, 3]));
    const sent = client!.core.counters.segmentsSent;
    p.b.close();
    advance(ts, 2000);
    assert.ok(client!.core.counters.retransmits > 0, `retransmits after ${sent} segments sent`);
    p.close();
  });
});
