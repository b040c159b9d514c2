import assert from 'node:assert/strict';
import { filter, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { advance, stat, icmpMessage, ip } from './raw-peer.js';
import { tcpPair, pattern, concat, A_IP, B_IP } from './tcp-helpers.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import type { Ipv4Datagram } from '../../../streams/stack/ipv4-layer.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';

/** What b saw of one TCP datagram from a. */
interface Seen {
  readonly df: boolean;
  readonly len: number;
}

describe('stack: TCP path MTU discovery', () => {
  it('sends with DF; an ICMP fragmentation needed about a dropped segment shrinks the segments at once, no RTO', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const seen: Seen[] = [];
    const ICMP_MTU = 1000;
    let sentIcmp = 0;
    // b's input plays a router with a 1000-byte next hop: bigger datagrams from a are dropped and
    // answered (once per datagram, like a router) with fragmentation needed quoting them.
    const narrowHop = filter((d: Ipv4Datagram) => {
      if (d.protocol !== 6 || d.src !== ip(A_IP)) return true;
      const size = d.header.length + d.payload.length;
      seen.push({ df: (d.header[6] & 0x40) !== 0, len: d.payload.length - ((d.payload[12] >> 4) << 2) });
      if (size <= ICMP_MTU) return true;
      const quoted = new Uint8Array(d.header.length + 8);
      quoted.set(d.header);
      quoted.set(d.payload.subarray(0, 8), d.header.length);
      const message = icmpMessage({ kind: 'dest-unreachable', code: 4, nextHopMtu: ICMP_MTU, quoted }, quoted);
      sentIcmp++;
      ts.schedule(() => p.b.ipv4.send(PacketBuffer.withPayload(message), { dst: ip(A_IP), protocol: 1 }));
      return false;
    });
    const p = tcpPair({ scheduler: ts, hooksB: { transport: { up: narrowHop } } });
    const got: Uint8Array[] = [];
    const subs: Subscription[] = [p.b.tcp.listen({ port: 9 }).subscribe((c) => c.data$.subscribe((x) => got.push(x.slice())))];
    let conn: TcpConnection | undefined;
    subs.push(p.a.tcp.connect({ address: B_IP, port: 9 }).subscribe((c) => (conn = c)));
    advance(ts, 10);
    assert.ok(conn);
    const payload = pattern(30_000);
    conn.write(payload);
    advance(ts, 100); // far below the 1 s initial RTO
    assert.deepEqual(concat(got), payload, 'everything arrived, byte-exact');
    assert.ok(sentIcmp >= 1);
    assert.ok(seen.every((s) => s.df), 'every segment carries DF');
    const after = seen.filter((s) => s.len > 0).slice(sentIcmp);
    assert.ok(after.length > 0 && after.every((s) => s.len <= ICMP_MTU - 40), `segments after the ICMP fit 1000 bytes: ${after.map((s) => s.len)}`);
    const counters = conn.counters;
    assert.equal(counters.pmtuChanges, 1);
    assert.equal(counters.timeouts, 0, 'resent at once, not after a timeout');
    assert.equal(stat(p.a, 'tcpConnections', 'pmtuChanges'), 1);
    for (const s of subs) s.unsubscribe();
    p.close();
  });
});
