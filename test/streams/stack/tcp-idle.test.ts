/**
 * What an idle established connection keeps scheduled: nothing of its handshake. The SYN and
 * SYN-ACK queue a retransmission deadline a second ahead; once the connection is established it
 * is taken out of the layer's timer queue rather than left to run out (10,000 idle connections
 * would each hold an entry for it).
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
    // No connection's timer stays queued for the handshake's retransmission time (the SYN's and
    // SYN-ACK's, due about 1 s after synAt): the connections' timers share one wake-up per TCP
    // layer (timer-queue.ts), and an established, idle connection has no deadline in it.
    for (const stack of [p.a, p.b]) assert.equal(stack.tcpLayer.timers.size, 0);
    // At most that one shared wake-up per stack is left to run out (none per connection).
    const stale = scheduled.filter((s) => !s.sub.closed && s.state instanceof DeadlineTimer && s.due > synAt + 1000 && s.due <= synAt + 1100);
    assert.ok(stale.length <= 2, `${stale.length} wake-ups left`);
    // And the connection still times what it sends afterwards: data to a peer that went away is retransmitted.
    client!.write(new Uint8Array([1, 2, 3]));
    const sent = client!.core.counters.segmentsSent;
    p.b.close();
    advance(ts, 2000);
    assert.ok(client!.core.counters.retransmits > 0, `retransmits after ${sent} segments sent`);
    p.close();
  });
});
