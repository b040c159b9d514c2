import assert from 'node:assert/strict';
import { firstValueFrom, lastValueFrom, toArray, filter } from 'rxjs';
import { memoryPair } from './memory-pair.js';

describe('stack: ARP + IPv4 + ICMP over the memory wire', () => {
  it('a pings b: replies come back with RTTs, ARP learned both ways', async () => {
    const p = memoryPair();
    try {
      const replies = await lastValueFrom(p.a.icmp.ping('198.18.0.2', { count: 3, interval: 1, timeout: 1000 }).pipe(toArray()));
      assert.equal(replies.length, 3);
      assert.deepEqual(replies.map((r) => r.seq), [0, 1, 2]);
      for (const r of replies) {
        assert.equal(r.from, '198.18.0.2');
        assert.equal(r.bytes, 56);
        assert.ok(r.rttMs >= 0);
      }
      assert.ok(p.a.arp.entries().some((e) => e.ip === '198.18.0.2' && e.mac !== undefined));
      assert.ok(p.b.arp.entries().some((e) => e.ip === '198.18.0.1' && e.mac !== undefined));
      const sb = p.b.stats() as any;
      assert.equal(sb.icmp.rxEchoRequests, 3);
      assert.equal(sb.icmp.txEchoReplies, 3);
    } finally {
      p.close();
    }
  });

  for (const size of [1472, 4000, 8000, 65507]) {
    it(`echoes a ${size}-byte payload (fragmented both ways when large)`, async () => {
      const p = memoryPair();
      try {
        const r = await firstValueFrom(p.a.icmp.ping('198.18.0.2', { size, timeout: 2000 }));
        assert.equal(r.bytes, size);
        const sb = p.b.stats() as any;
        if (size > 1472) {
          assert.ok(sb.ipv4.rxReassembled >= 1, 'b reassembled the request');
          assert.ok(sb.ipv4.txFragments > 1, 'b fragmented the reply');
        } else {
          assert.equal(sb.ipv4.rxFragments, 0);
        }
      } finally {
        p.close();
      }
    });
  }

  it('ping to an address nobody answers fails with EHOSTUNREACH after ARP gives up', async () => {
    const p = memoryPair();
    try {
      await assert.rejects(firstValueFrom(p.a.icmp.ping('198.18.0.77', { timeout: 10_000 })), (err: any) => err.code === 'EHOSTUNREACH');
    } finally {
      p.close();
    }
  }).timeout(8000);

  it('off-subnet ping goes to the gateway MAC (and fails when no gateway answers)', async () => {
    const p = memoryPair();
    try {
      const requests: number[] = [];
      const sub = p.b.ethernetProtocol$(0x9999).subscribe(); // claim something unrelated: must not interfere
      const err = await firstValueFrom(p.a.icmp.ping('203.0.113.9', { timeout: 10_000 })).catch((e) => e);
      sub.unsubscribe();
      assert.equal(err.code, 'EHOSTUNREACH');
      const entries = p.a.arp.entries();
      assert.ok(!entries.some((e) => e.ip === '203.0.113.9'), 'never ARPs for an off-link address');
      assert.ok((p.a.stats() as any)['arp:eth0'].txRequests >= 1);
      void requests;
    } finally {
      p.close();
    }
  }).timeout(8000);

  it('a user hook at IPv4 input can drop by source (firewall)', async () => {
    const p = memoryPair({ hooksB: { ipv4Input: filter((d) => d.src !== 0xc6120001) } });
    try {
      await assert.rejects(firstValueFrom(p.a.icmp.ping('198.18.0.2', { timeout: 200 })), (err: any) => err.code === 'ETIMEDOUT');
      assert.equal((p.b.stats() as any).icmp.rxEchoRequests, 0);
    } finally {
      p.close();
    }
  });

  it('a datagram for an unknown protocol gets protocol unreachable', async () => {
    const p = memoryPair();
    try {
      // Claim ICMP errors for protocol 200 on a, send a protocol-200 datagram to b.
      const reports: any[] = [];
      p.a.icmpLayer.errorHandlers.set(200, (r) => reports.push(r));
      const { PacketBuffer } = await import('../../../src/packet-buffer.js');
      const err = p.a.ipv4.send(PacketBuffer.withPayload(new Uint8Array(16)), { dst: 0xc6120002, protocol: 200 });
      assert.equal(err, undefined);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(reports.length, 1);
      assert.equal(reports[0].type, 3);
      assert.equal(reports[0].code, 2);
    } finally {
      p.close();
    }
  });
});
