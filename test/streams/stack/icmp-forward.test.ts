import assert from 'node:assert/strict';
import { firstValueFrom, timer, map, Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { forwardPair, CLIENT_IP, FAR_IP, GATEWAY_IP } from './forward-pair.js';
import { advance, stat } from './raw-peer.js';
import { codeOf } from './tcp-helpers.js';
import type { EchoForwardRequest } from '../../../streams/stack/icmp-echo-forwarder.js';

describe('stack: ICMP echo forwarding', () => {
  it('answers pings to foreign addresses as the responder decides, from the pinged address', async () => {
    const p = forwardPair();
    const asked: EchoForwardRequest[] = [];
    const fwd = p.gateway.icmp.forwardEcho((r) => {
      asked.push(r);
      return r.to === FAR_IP ? Promise.resolve(true) : false;
    }).subscribe();
    try {
      const reply = await firstValueFrom(p.client.icmp.ping(FAR_IP, { size: 100 }));
      assert.equal(reply.from, FAR_IP);
      assert.equal(reply.bytes, 100);
      assert.equal(asked[0].from, CLIENT_IP);
      assert.equal(asked[0].data.length, 100);
      const silent = await firstValueFrom(p.client.icmp.ping('198.18.0.201', { timeout: 200 })).then(() => 'ok', codeOf);
      assert.equal(silent, 'ETIMEDOUT');
      // The stack's own address is still answered by the stack itself.
      assert.equal((await firstValueFrom(p.client.icmp.ping(GATEWAY_IP))).from, GATEWAY_IP);
      assert.equal(asked.length, 2);
      assert.equal(stat(p.gateway, 'icmpForward', 'replied'), 1);
      assert.equal(stat(p.gateway, 'icmpForward', 'unanswered'), 1);
    } finally {
      fwd.unsubscribe();
      p.close();
    }
  });

  it("the responder's first value decides and ends its Observable (its timers and waits are torn down then)", () => {
    const ts = new TestScheduler(() => undefined);
    const p = forwardPair({ scheduler: ts });
    let tornDown = 0;
    // Answers after 100 ms, and would go on emitting: only the first value counts.
    const fwd = p.gateway.icmp.forwardEcho(() => new Observable<boolean>((subscriber) => {
      const t = ts.schedule(() => { subscriber.next(true); subscriber.next(false); }, 100);
      return () => { tornDown++; t.unsubscribe(); };
    })).subscribe();
    const replies: number[] = [];
    try {
      p.client.icmp.ping(FAR_IP, { timeout: 1000 }).subscribe({ next: (r) => replies.push(r.seq), error: () => undefined });
      advance(ts, 50);
      assert.equal(tornDown, 0);
      advance(ts, 100);
      assert.deepEqual(replies, [0]);
      assert.equal(tornDown, 1, 'torn down once the answer is in, not at the stack\'s close');
      assert.equal(stat(p.gateway, 'icmpForward', 'replied'), 1);
      assert.equal(stat(p.gateway, 'icmpForward', 'inFlight'), 0);
    } finally {
      fwd.unsubscribe();
      p.close();
    }
  });

  it('bounds requests waiting for the responder; without a responder foreign pings are not for us', () => {
    const ts = new TestScheduler(() => undefined);
    const p = forwardPair({ scheduler: ts });
    // A slow responder: answers after 500 ms.
    const fwd = p.gateway.icmp.forwardEcho(() => timer(500, ts).pipe(map(() => true)), { maxInFlight: 1 }).subscribe();
    const replies: number[] = [];
    const errors: string[] = [];
    try {
      p.client.icmp.ping(FAR_IP, { count: 2, interval: 100, timeout: 1000 }).subscribe({ next: (r) => replies.push(r.seq), error: (e: unknown) => errors.push(codeOf(e)) });
      advance(ts, 700);
      assert.deepEqual(replies, [0]);
      assert.equal(stat(p.gateway, 'icmpForward', 'drops', 'inFlightFull'), 1);
      fwd.unsubscribe();
      const before = stat(p.gateway, 'ipv4', 'drops', 'notForUs');
      p.client.icmp.ping(FAR_IP, { timeout: 100 }).subscribe({ error: () => undefined });
      advance(ts, 200);
      assert.equal(stat(p.gateway, 'ipv4', 'drops', 'notForUs'), before + 1);
      let second = '';
      const a = p.gateway.icmp.forwardEcho(() => true).subscribe();
      p.gateway.icmp.forwardEcho(() => true).subscribe({ error: (e: unknown) => (second = codeOf(e)) });
      assert.equal(second, 'EADDRINUSE');
      let completed = false;
      a.add(() => (completed = true));
      p.gateway.close();
      assert.ok(completed, 'closing the stack completes forwardEcho');
    } finally {
      fwd.unsubscribe();
      p.close();
    }
  });
});
