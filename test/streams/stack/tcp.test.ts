import assert from 'node:assert/strict';
import { firstValueFrom, lastValueFrom, toArray, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { memoryPair } from './memory-pair.js';
import { advance, stat, rawPeer, ipv4Frame, ipv4Packet, icmpMessage, ip, PEER_IP, type RawPeer } from './raw-peer.js';
import { tcpPair, tcpInputTap, pattern, concat, codeOf, enc, dec, A_IP, B_IP, type SeenSegment } from './tcp-helpers.js';
import { TcpFlags } from '../../../src/wire/tcp.js';
import { waitFor } from '../../helpers/wait-for.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import type { Stack } from '../../../streams/stack/create-stack.js';

/** Echo server on `stack`:port: every connection sends back what it reads, then ends. */
function echoOn(stack: Stack, port = 7): Subscription {
  return stack.tcp.listen({ port }).subscribe((c) => {
    c.data$.subscribe({ next: (chunk) => c.write(chunk), complete: () => c.end(), error: () => undefined });
  });
}

/** What a connect Observable did: 'ok' (with the connection) or the error code. */
function outcome(stack: Stack, options: Parameters<Stack['tcp']['connect']>[0]) {
  const o: { result?: string; conn?: TcpConnection } = {};
  stack.tcp.connect(options).subscribe({
    next: (c) => {
      o.result = 'ok';
      o.conn = c;
    },
    error: (err: unknown) => (o.result = codeOf(err)),
  });
  return o;
}

describe('stack: TCP over the memory wire', () => {
  it('connects, echoes bytes, closes both ways', async () => {
    const p = memoryPair();
    const server = echoOn(p.b);
    try {
      const conn = await firstValueFrom(p.a.tcp.connect({ address: B_IP, port: 7 }));
      assert.equal(conn.state, 'ESTABLISHED');
      assert.equal(conn.remoteAddress, B_IP);
      assert.equal(conn.remotePort, 7);
      assert.equal(conn.localAddress, '198.18.0.1');
      assert.ok(conn.localPort >= 49152, 'an ephemeral port');
      const payload = pattern(100_000);
      const received = lastValueFrom(conn.data$.pipe(toArray()));
      conn.write(payload);
      conn.end();
      assert.deepEqual(concat(await received), payload);
      // We closed first: TIME-WAIT (2*MSL) before CLOSED.
      assert.equal(conn.state, 'TIME-WAIT');
    } finally {
      server.unsubscribe();
      p.close();
    }
  });

  it('many concurrent connections each byte-exact', async () => {
    const p = memoryPair();
    const server = echoOn(p.b);
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const conn = await firstValueFrom(p.a.tcp.connect({ address: B_IP, port: 7 }));
          const data = pattern(10_000 + i * 100, i + 7);
          const rx = lastValueFrom(conn.data$.pipe(toArray()));
          conn.write(data);
          conn.end();
          return [concat(await rx), data] as const;
        }),
      );
      for (const [got, want] of results) assert.deepEqual(got, want);
      assert.equal(stat(p.b, 'tcp', 'connectionsAccepted'), 50);
      assert.equal(stat(p.a, 'tcp', 'connectionsOpened'), 50);
    } finally {
      server.unsubscribe();
      p.close();
    }
  });

  it('toSocket() serves node:http', async () => {
    const http = await import('node:http');
    const p = memoryPair();
    const server = http.createServer((req, res) => res.end(`hello ${req.url}`));
    const sub = p.b.tcp.listen({ port: 80 }).subscribe((c) => server.emit('connection', c.toSocket()));
    try {
      const conn = await firstValueFrom(p.a.tcp.connect({ address: B_IP, port: 80 }));
      const rx = lastValueFrom(conn.data$.pipe(toArray()));
      conn.write(enc('GET /x HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n'));
      const text = dec(concat(await rx));
      assert.match(text, /^HTTP\/1\.1 200 OK/);
      assert.match(text, /hello \/x$/);
    } finally {
      sub.unsubscribe();
      server.close();
      p.close();
    }
  });

  it('counts in stats(): layer counters under tcp, per-connection counters summed under tcpConnections', async () => {
    const p = memoryPair();
    const server = echoOn(p.b);
    try {
      const conn = await firstValueFrom(p.a.tcp.connect({ address: B_IP, port: 7 }));
      const rx = lastValueFrom(conn.data$.pipe(toArray()));
      conn.write(pattern(30_000, 3));
      conn.end();
      await rx;
      // b leaves LAST-ACK when our ACK of its FIN arrives, a moment after our data$ completed.
      await waitFor('b to leave LAST-ACK', () => (p.b.tcpLayer.connections().length === 0 ? true : undefined));
      for (const s of [p.a, p.b]) {
        assert.equal(stat(s, 'tcpConnections', 'bytesSent'), 30_000);
        assert.equal(stat(s, 'tcpConnections', 'bytesReceived'), 30_000);
        assert.ok(stat(s, 'tcp', 'rxSegments') > 20);
        assert.ok(stat(s, 'tcp', 'txSegments') > 20);
        assert.equal(stat(s, 'tcp', 'drops', 'badChecksum'), 0);
      }
      assert.equal(stat(p.a, 'tcp', 'connectionsOpened'), 1);
      assert.equal(stat(p.a, 'tcp', 'activeConnections'), 1, 'TIME-WAIT still counts');
      assert.equal(stat(p.b, 'tcp', 'connectionsAccepted'), 1);
      assert.equal(stat(p.b, 'tcp', 'synReceived'), 1);
      assert.equal(stat(p.b, 'tcp', 'connectionsClosed'), 1, 'b closed from LAST-ACK');
      assert.equal(stat(p.b, 'tcp', 'activeConnections'), 0);
      assert.equal(stat(p.b, 'tcp', 'halfOpenConnections'), 0);
    } finally {
      server.unsubscribe();
      p.close();
    }
  });
});

describe('stack: TCP connect and listen errors', () => {
  it('connect to a closed port is refused (RST): ECONNREFUSED', async () => {
    const p = memoryPair();
    try {
      await assert.rejects(firstValueFrom(p.a.tcp.connect({ address: B_IP, port: 9 })), (e: unknown) => codeOf(e) === 'ECONNREFUSED');
      assert.equal(stat(p.b, 'tcp', 'rstSent'), 1);
      assert.equal(stat(p.b, 'tcp', 'drops', 'noEndpoint'), 1);
      assert.equal(stat(p.a, 'tcp', 'connectionsFailed'), 1);
      assert.equal(p.a.tcpLayer.ports.size, 0, 'the ephemeral port is released');
    } finally {
      p.close();
    }
  });

  it('connect to an unused address on the subnet fails with EHOSTUNREACH when ARP gives up', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const p = tcpPair({ scheduler: ts });
    const o = outcome(p.a, { address: '198.18.0.77', port: 80 });
    advance(ts, 500);
    assert.equal(o.result, undefined, 'still resolving');
    advance(ts, 10_000);
    assert.equal(o.result, 'EHOSTUNREACH');
    assert.equal(stat(p.a, 'tcp', 'connectionsFailed'), 1);
    assert.equal(stat(p.a, 'tcp', 'activeConnections'), 0);
    assert.equal(p.a.tcpLayer.ports.size, 0);
    p.close();
  });

  it('connect without a route fails at once with ENETUNREACH; bad options with ERR_INVALID_ARG_VALUE naming each', () => {
    const p = tcpPair({ scheduler: new TestScheduler(() => undefined) });
    // b has no default route.
    assert.equal(outcome(p.b, { address: '10.1.2.3', port: 80 }).result, 'ENETUNREACH');
    const bad: string[] = [];
    p.a.tcp.connect({ address: 'nope', port: 70_000, localPort: 0 }).subscribe({ error: (e: Error) => bad.push(codeOf(e), e.message) });
    assert.equal(bad[0], 'ERR_INVALID_ARG_VALUE');
    assert.match(bad[1], /address: "nope"/);
    assert.match(bad[1], /port: 70000/);
    assert.match(bad[1], /localPort: 0/);
    assert.equal(outcome(p.a, { address: B_IP, port: 80, localAddress: '198.18.0.9' }).result, 'EADDRNOTAVAIL');
    p.close();
  });

  /** Answers the stack's SYN with ICMP destination unreachable `code`, quoting it. */
  function unreachable(peer: RawPeer, code: number): void {
    const syn = peer.seen.find((s) => s.ipv4?.protocol === 6);
    assert.ok(syn, 'the stack sent its SYN');
    const ihl = (syn.frame[14] & 0x0f) * 4;
    const quoted = syn.frame.slice(14, 14 + ihl + 8);
    peer.send(ipv4Frame(ipv4Packet({ protocol: 1 }, icmpMessage({ kind: 'dest-unreachable', code, nextHopMtu: 0, quoted }, quoted))));
  }

  it('an ICMP unreachable answering the SYN fails the connect: port -> ECONNREFUSED, host -> EHOSTUNREACH, net -> ENETUNREACH', () => {
    for (const [code, want] of [[3, 'ECONNREFUSED'], [2, 'ECONNREFUSED'], [1, 'EHOSTUNREACH'], [0, 'ENETUNREACH'], [10, 'EHOSTUNREACH']] as const) {
      const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
      const peer = rawPeer({ scheduler: ts });
      const o = outcome(peer.stack, { address: PEER_IP, port: 80 });
      advance(ts, 1);
      assert.equal(o.result, undefined);
      unreachable(peer, code);
      advance(ts, 1);
      assert.equal(o.result, want, `code ${code}`);
      assert.equal(stat(peer.stack, 'tcp', 'icmpErrors'), 1);
      assert.equal(stat(peer.stack, 'tcp', 'connectionsFailed'), 1);
      peer.close();
    }
  });

  it('an ICMP unreachable for an established connection is ignored (RFC 5927: no blind resets)', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const p = tcpPair({ scheduler: ts });
    echoOn(p.b);
    const o = outcome(p.a, { address: B_IP, port: 7 });
    advance(ts, 1);
    const conn = o.conn as TcpConnection;
    // Forge b's port unreachable about the connection, quoting a segment a sent.
    const quoted = new Uint8Array(28);
    quoted.set([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]);
    quoted.set([conn.localPort >> 8, conn.localPort & 0xff, 0, 7], 20);
    const message = icmpMessage({ kind: 'dest-unreachable', code: 3, nextHopMtu: 0, quoted }, quoted);
    assert.equal(p.b.ipv4.send(PacketBuffer.withPayload(message), { dst: ip(A_IP), protocol: 1 }), undefined);
    advance(ts, 1);
    assert.equal(stat(p.a, 'tcp', 'icmpErrors'), 1, 'the error reached TCP');
    assert.equal(conn.state, 'ESTABLISHED');
    const got: Uint8Array[] = [];
    conn.data$.subscribe((c) => got.push(c.slice()));
    conn.write(enc('alive'));
    advance(ts, 10);
    assert.equal(dec(concat(got)), 'alive');
    p.close();
  });

  it('connect from a local port in use, or onto a 4-tuple in use, is EADDRINUSE', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const p = tcpPair({ scheduler: ts });
    const listening = echoOn(p.b);
    const first = outcome(p.a, { address: B_IP, port: 7, localPort: 40_000 });
    advance(ts, 1);
    assert.equal(first.result, 'ok');
    assert.equal(outcome(p.a, { address: B_IP, port: 7, localPort: 40_000 }).result, 'EADDRINUSE');
    // b's accepted connection holds no port reservation of its own, only its 4-tuple: with the
    // listener gone port 7 is free, but that 4-tuple, connected the other way, is not.
    listening.unsubscribe();
    assert.equal(outcome(p.b, { address: A_IP, port: 40_000, localPort: 7 }).result, 'EADDRINUSE');
    assert.equal(p.b.tcpLayer.ports.size, 0, 'the port reserved for the attempt is released');
    p.close();
  });

  it('listen: EADDRINUSE for a taken port (free again after unsubscribing), EADDRNOTAVAIL for a foreign address, bad options named', async () => {
    const p = memoryPair();
    try {
      const s1 = p.b.tcp.listen({ port: 80 }).subscribe();
      await assert.rejects(firstValueFrom(p.b.tcp.listen({ port: 80 })), (e: unknown) => codeOf(e) === 'EADDRINUSE');
      await assert.rejects(firstValueFrom(p.b.tcp.listen({ address: B_IP, port: 80 })), (e: unknown) => codeOf(e) === 'EADDRINUSE');
      s1.unsubscribe();
      const s2 = p.b.tcp.listen({ port: 80 }).subscribe();
      s2.unsubscribe();
      await assert.rejects(firstValueFrom(p.b.tcp.listen({ address: '198.18.0.9', port: 80 })), (e: unknown) => codeOf(e) === 'EADDRNOTAVAIL');
      await assert.rejects(firstValueFrom(p.b.tcp.listen({ port: 0, backlog: -1 })), (e: unknown) =>
        codeOf(e) === 'ERR_INVALID_ARG_VALUE' && /port: 0/.test(String(e)) && /backlog: -1/.test(String(e)));
    } finally {
      p.close();
    }
  });

  it('unsubscribing a listen stops accepting (new SYNs get RST) while accepted connections live on', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const p = tcpPair({ scheduler: ts });
    const listening = echoOn(p.b);
    const first = outcome(p.a, { address: B_IP, port: 7 });
    advance(ts, 1);
    assert.equal(first.result, 'ok');
    listening.unsubscribe();
    const second = outcome(p.a, { address: B_IP, port: 7 });
    advance(ts, 1);
    assert.equal(second.result, 'ECONNREFUSED');
    const conn = first.conn as TcpConnection;
    const got: Uint8Array[] = [];
    conn.data$.subscribe((c) => got.push(c.slice()));
    conn.write(enc('still here'));
    advance(ts, 100);
    assert.equal(dec(concat(got)), 'still here');
    p.close();
  });
});

describe('stack: TCP listen backlog (half-open connections)', () => {
  /**
   * b listens with `backlog` 2; the handshakes of clients from ports 40001 and 40002 stay half
   * open on b because b loses their final ACKs (until `letAcksThrough`); a third client comes
   * from 40003.
   */
  function halfOpenSetup(synCookies: boolean) {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const toB: SeenSegment[] = [];
    let blocking = true;
    const p = tcpPair({
      scheduler: ts,
      hooksB: {
        transport: { up: tcpInputTap(ts, toB, (s) => blocking && (s.srcPort === 40_001 || s.srcPort === 40_002) && s.flags === TcpFlags.ACK && s.len === 0) },
      },
    });
    const accepted: TcpConnection[] = [];
    p.b.tcp.listen({ port: 7, backlog: 2, synCookies }).subscribe((c) => {
      accepted.push(c);
      c.data$.subscribe({ next: (d) => c.write(d), error: () => undefined });
    });
    const c1 = outcome(p.a, { address: B_IP, port: 7, localPort: 40_001 });
    const c2 = outcome(p.a, { address: B_IP, port: 7, localPort: 40_002 });
    advance(ts, 1);
    return { ts, p, accepted, c1, c2, letAcksThrough: () => (blocking = false) };
  }

  it('holds at most `backlog` half-open connections; with SYN cookies off, further SYNs are dropped and counted', () => {
    const { ts, p, accepted, c1, c2, letAcksThrough } = halfOpenSetup(false);
    assert.equal(c1.result, 'ok', 'a thinks it is connected');
    assert.equal(c2.result, 'ok');
    assert.equal(accepted.length, 0, 'b has not accepted either');
    assert.equal(stat(p.b, 'tcp', 'halfOpenConnections'), 2);
    const c3 = outcome(p.a, { address: B_IP, port: 7, localPort: 40_003 });
    advance(ts, 1);
    assert.equal(c3.result, undefined);
    assert.equal(stat(p.b, 'tcp', 'drops', 'synBacklogFull'), 1);
    assert.equal(stat(p.b, 'tcp', 'synCookiesSent'), 0);
    // b resends its SYN-ACKs after 1 s; a answers, the ACKs get through, the slots free up, and
    // the third client's retransmitted SYN (at 1 s or 3 s) gets in.
    letAcksThrough();
    advance(ts, 5000);
    assert.equal(c3.result, 'ok');
    assert.equal(accepted.length, 3);
    assert.equal(stat(p.b, 'tcp', 'halfOpenConnections'), 0);
    assert.equal(stat(p.b, 'tcp', 'connectionsAccepted'), 3);
    p.close();
  });

  it('answers with SYN cookies once the backlog is full: the third client connects at once and moves data', () => {
    const { ts, p, accepted, letAcksThrough } = halfOpenSetup(true);
    assert.equal(stat(p.b, 'tcp', 'halfOpenConnections'), 2);
    const c3 = outcome(p.a, { address: B_IP, port: 7, localPort: 40_003 });
    advance(ts, 1);
    assert.equal(c3.result, 'ok');
    assert.equal(accepted.length, 1, 'accepted through the cookie, with no state kept before the ACK');
    assert.equal(stat(p.b, 'tcp', 'synCookiesSent'), 1);
    assert.equal(stat(p.b, 'tcp', 'synCookiesAccepted'), 1);
    assert.equal(stat(p.b, 'tcp', 'drops', 'synBacklogFull'), 0);
    const conn = c3.conn as TcpConnection;
    const got: Uint8Array[] = [];
    conn.data$.subscribe((c) => got.push(c.slice()));
    conn.write(pattern(200_000, 6));
    advance(ts, 1000);
    assert.deepEqual(concat(got), pattern(200_000, 6), 'echoed through the cookie connection');
    letAcksThrough();
    advance(ts, 5000);
    assert.equal(accepted.length, 3);
    p.close();
  });

  it('drops half-open connections whose handshake never completes, after the SYN-ACK retries', () => {
    const { ts, p, accepted } = halfOpenSetup(true);
    // synAckRetries 5 with RTOs 1, 2, 4, 8, 16, 32 s: given up after 63 s.
    advance(ts, 62_000);
    assert.equal(stat(p.b, 'tcp', 'halfOpenConnections'), 2);
    advance(ts, 2_000);
    assert.equal(stat(p.b, 'tcp', 'halfOpenConnections'), 0);
    assert.equal(stat(p.b, 'tcp', 'halfOpenFailed'), 2);
    assert.equal(stat(p.b, 'tcp', 'activeConnections'), 0);
    assert.equal(accepted.length, 0);
    p.close();
  });
});
