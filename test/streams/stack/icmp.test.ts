import assert from 'node:assert/strict';
import { catchError, firstValueFrom, lastValueFrom, toArray, filter, map, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { memoryPair } from './memory-pair.js';
import { createStackPair } from '../../../streams/testing/setups.js';
import { rawPeer, advance, stat, ip, PEER_IP } from './raw-peer.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { ArpOp } from '../../../src/wire/arp.js';
import type { IcmpErrorReport } from '../../../streams/stack/icmp-layer.js';
import type { NetstackError } from '../../../src/errors.js';

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}

describe('stack: ARP + IPv4 + ICMP over the memory wire', () => {
  it('the RTT of a ping is the path\'s round trip (virtual time, 7 ms each way)', () => {
    const ts = new TestScheduler((a, e) => assert.deepStrictEqual(a, e));
    ts.run(({ expectObservable }) => {
      const p = createStackPair({ scheduler: ts, wire: { latencyMs: 7 } });
      // The first echo waits for b's MAC (b's gratuitous ARP from its start arrives after one
      // way, 7 ms): three one-way trips. The second, at 100, goes at once: one round trip.
      const rtts$ = p.a.icmp.ping('198.18.0.2', { count: 2, interval: 100, timeout: 1000 }).pipe(map((r) => r.rttMs));
      expectObservable(rtts$).toBe('21ms a 92ms (b|)', { a: 21, b: 14 });
      ts.schedule(() => p.close(), 500);
    });
  });

  it('a pings b: replies come back with RTTs, ARP learned both ways', async () => {
    const p = memoryPair();
    try {
      const replies = await lastValueFrom(p.a.icmp.ping('198.18.0.2', { count: 3, interval: 1, timeout: 1000 }).pipe(toArray()));
      assert.equal(replies.length, 3);
      assert.deepEqual(replies.map((r) => r.seq), [0, 1, 2]);
      for (const r of replies) {
        assert.equal(r.from, '198.18.0.2');
        assert.equal(r.bytes, 56);
        assert.equal(r.ttl, 64);
        // Real time here (the exact RTT is checked in virtual time below): a number, and within
        // the ping's timeout (a later reply would have been reported as lost).
        assert.ok(Number.isFinite(r.rttMs) && r.rttMs >= 0 && r.rttMs <= 1000, `rtt ${r.rttMs}`);
      }
      assert.ok(p.a.arp.entries().some((e) => e.ip === '198.18.0.2' && e.mac !== undefined));
      assert.ok(p.b.arp.entries().some((e) => e.ip === '198.18.0.1' && e.mac !== undefined));
      assert.equal(stat(p.b, 'icmp', 'rxEchoRequests'), 3);
      assert.equal(stat(p.b, 'icmp', 'txEchoReplies'), 3);
    } finally {
      p.close();
    }
  });

  for (const size of [0, 1472, 1473, 4000, 8000, 65507]) {
    it(`echoes a ${size}-byte payload (fragmented both ways when large)`, async () => {
      const p = memoryPair();
      try {
        const r = await firstValueFrom(p.a.icmp.ping('198.18.0.2', { size, timeout: 2000 }));
        assert.equal(r.bytes, size);
        if (size > 1472) {
          assert.ok(stat(p.b, 'ipv4', 'rxReassembled') >= 1, 'b reassembled the request');
          assert.ok(stat(p.b, 'ipv4', 'txFragments') > 1, 'b fragmented the reply');
          assert.equal(stat(p.a, 'ipv4', 'rxReassembled'), 1, 'a reassembled the reply');
        } else {
          assert.equal(stat(p.b, 'ipv4', 'rxFragments'), 0);
        }
        assert.equal(p.a.ipv4.reassembler.bytesHeld, 0);
        assert.equal(p.b.ipv4.reassembler.bytesHeld, 0);
      } finally {
        p.close();
      }
    });
  }

  describe('ping() in virtual time', () => {
    // The first request waits for ARP: b's gratuitous ARP reaches a at 5 ms and resolves a's
    // pending entry (merge rule), so it leaves at 5 and its reply arrives at 15.
    it('count 3, interval 1 s over a 5 ms wire: replies at 15 (after ARP), 1010, 2010 ms', () => {
      const ts = newScheduler();
      ts.run(({ expectObservable }) => {
        const p = memoryPair({ scheduler: ts, wire: { latencyMs: 5 } });
        const rtts$ = p.a.icmp.ping('198.18.0.2', { count: 3, interval: 1000 }).pipe(map((r) => `${r.seq}:${r.rttMs}`));
        expectObservable(rtts$).toBe('15ms a 994ms b 999ms (c|)', { a: '0:15', b: '1:10', c: '2:10' });
        ts.schedule(() => p.close(), 5000);
      });
    });

    it('errors with ETIMEDOUT when a reply is `timeout` ms late', () => {
      const ts = newScheduler();
      ts.run(({ expectObservable }) => {
        // The raw peer answers ARP but not pings.
        const p = rawPeer({ scheduler: ts });
        expectObservable(p.stack.icmp.ping(PEER_IP, { timeout: 1500 }).pipe(catchError((e: NetstackError) => of(e.code))))
          .toBe('1500ms (e|)', { e: 'ETIMEDOUT' });
        ts.schedule(() => p.close(), 5000);
      });
    });

    it('fails with EHOSTUNREACH when ARP gives up on the destination (3 s)', () => {
      const ts = newScheduler();
      ts.run(({ expectObservable }) => {
        const p = memoryPair({ scheduler: ts });
        expectObservable(p.a.icmp.ping('198.18.0.77', { timeout: 10_000 }).pipe(catchError((e: NetstackError) => of(e.code))))
          .toBe('3000ms (e|)', { e: 'EHOSTUNREACH' });
        ts.schedule(() => p.close(), 5000);
      });
    });

    it('unsubscribing stops the requests and frees the identifier', () => {
      const ts = newScheduler();
      const p = rawPeer({ scheduler: ts });
      const sub = p.stack.icmp.ping(PEER_IP, { count: 10, interval: 100, timeout: 10_000 }).subscribe({ error: () => undefined });
      advance(ts, 250);
      sub.unsubscribe();
      advance(ts, 2000);
      assert.equal(p.seen.filter((s) => s.icmp?.kind === 'echo-request').length, 3, 'at 0, 100 and 200 ms');
      assert.equal(stat(p.stack, 'icmp', 'txEchoRequests'), 3);
      p.close();
    });

    it('rejects bad options at subscription, naming each', async () => {
      const p = rawPeer();
      try {
        await assert.rejects(firstValueFrom(p.stack.icmp.ping('nope', { count: 0, size: 70000 })), (err: NetstackError) =>
          err.code === 'ERR_INVALID_ARG_VALUE' && /address/.test(err.message) && /count/.test(err.message) && /size/.test(err.message));
      } finally {
        p.close();
      }
    });
  });

  it('off-subnet ping goes to the gateway (ARP for the gateway, never the destination) and fails when no gateway answers', () => {
    const ts = newScheduler();
    // a's default route points at 198.18.0.254, which nobody has.
    const p = memoryPair({ scheduler: ts });
    let err: NetstackError | undefined;
    p.a.icmp.ping('203.0.113.9', { timeout: 10_000 }).subscribe({ error: (e: NetstackError) => (err = e) });
    advance(ts, 10_000);
    assert.equal(err?.code, 'EHOSTUNREACH');
    assert.ok(!p.a.arp.entries().some((e) => e.ip === '203.0.113.9'), 'never ARPs for an off-link address');
    assert.equal(stat(p.a, 'arp:eth0', 'txRequests'), 3);
    assert.equal(stat(p.b, 'arp:eth0', 'rxRequests'), 3 + 1, 'three for the gateway, plus a’s gratuitous ARP');
    p.close();
  });

  it('off-subnet ping goes out to the gateway MAC when a gateway answers', () => {
    const ts = newScheduler();
    const p = rawPeer({ scheduler: ts, config: { routes: [{ destination: '0.0.0.0/0', gateway: PEER_IP }] } });
    p.stack.icmp.ping('203.0.113.9', { timeout: 100 }).subscribe({ error: () => undefined });
    advance(ts, 200);
    const req = p.seen.filter((s) => s.icmp?.kind === 'echo-request');
    assert.equal(req.length, 1);
    assert.equal(req[0].ipv4?.dst, ip('203.0.113.9'));
    assert.deepEqual(req[0].eth.dst, p.link.mac, 'the gateway’s MAC');
    assert.deepEqual(p.arp(ArpOp.REQUEST).filter((s) => s.arp?.senderIp !== s.arp?.targetIp).map((s) => s.arp?.targetIp), [ip(PEER_IP)]);
    p.close();
  });

  it('a user hook at IPv4 input can drop by source (firewall)', async () => {
    const p = memoryPair({ hooksB: { transport: { up: filter((d) => d.src !== ip('198.18.0.1')) } } });
    try {
      await assert.rejects(firstValueFrom(p.a.icmp.ping('198.18.0.2', { timeout: 200 })), (err: NetstackError) => err.code === 'ETIMEDOUT');
      assert.equal(stat(p.b, 'icmp', 'rxEchoRequests'), 0);
    } finally {
      p.close();
    }
  });

  it('a datagram for an unknown protocol gets protocol unreachable, reported to the sender’s transport', () => {
    const ts = newScheduler();
    const p = memoryPair({ scheduler: ts });
    const reports: IcmpErrorReport[] = [];
    p.a.icmpLayer.errors$(200).subscribe((r) => reports.push(r));
    const err = p.a.ipv4.send(PacketBuffer.withPayload(new Uint8Array(16)), { dst: ip('198.18.0.2'), protocol: 200 });
    assert.equal(err, undefined);
    advance(ts, 10);
    assert.equal(reports.length, 1);
    assert.equal(reports[0].type, 3);
    assert.equal(reports[0].code, 2);
    assert.equal(reports[0].from, ip('198.18.0.2'));
    p.close();
  });
});
