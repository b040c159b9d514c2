import assert from 'node:assert/strict';
import { firstValueFrom, take, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { forwardPair, CLIENT_IP, FAR_IP } from './forward-pair.js';
import { advance, stat } from './raw-peer.js';
import { codeOf } from './tcp-helpers.js';
import { waitFor } from '../../helpers/wait-for.js';
import type { UdpForwardSession } from '../../../streams/stack/udp-forwarder.js';
import { IpProtocol } from '../../../src/wire/ipv4.js';
import { formatIpv4, type Ipv4Addr } from '../../../src/ipv4/address.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const ipAt = (b: Uint8Array, at: number) => (((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0) as Ipv4Addr;

describe('stack: UDP forwarder', () => {
  it('groups a flow into one session and answers from the original destination', async () => {
    const p = forwardPair();
    const sessions: UdpForwardSession[] = [];
    // Upper-case echo, per session.
    const fwd = p.gateway.udp.forward().subscribe((s) => {
      sessions.push(s);
      s.datagrams$.subscribe((d) => s.send(enc(dec(d).toUpperCase())));
    });
    const sock = p.client.udp.bind({ port: 5353 });
    try {
      const replies = firstValueFrom(sock.datagrams$.pipe(take(3), toArray()));
      sock.send(enc('one'), { address: FAR_IP, port: 53 });
      sock.send(enc('two'), { address: FAR_IP, port: 53 });
      sock.send(enc('three'), { address: '198.18.0.201', port: 9 });
      const got = await replies;
      assert.deepEqual(got.map((d) => `${d.address}:${d.port} ${dec(d.payload)}`).sort(), [
        `${FAR_IP}:53 ONE`, `${FAR_IP}:53 TWO`, '198.18.0.201:9 THREE',
      ]);
      assert.equal(sessions.length, 2, 'one session per flow');
      const s = sessions.find((x) => x.localPort === 53)!;
      assert.deepEqual([s.localAddress, s.remoteAddress, s.remotePort, s.interface], [FAR_IP, CLIENT_IP, 5353, 'eth0']);
      assert.equal(stat(p.gateway, 'udpForward', 'sessionsOpened'), 2);
      assert.equal(stat(p.gateway, 'udpForward', 'rxDatagrams'), 3);
      assert.equal(stat(p.gateway, 'udpForward', 'txDatagrams'), 3);
      assert.equal(stat(p.gateway, 'udp', 'drops', 'noPort'), 0);
    } finally {
      sock.close();
      fwd.unsubscribe();
      p.close();
    }
  });

  it('interleaved flows each reach their own session; a closed session is not found again for its flow', async () => {
    const p = forwardPair();
    const got: string[] = [];
    const sessions: UdpForwardSession[] = [];
    const fwd = p.gateway.udp.forward().subscribe((s) => {
      sessions.push(s);
      s.datagrams$.subscribe((d) => got.push(`${sessions.indexOf(s)}:${s.localPort}<${s.remotePort} ${dec(d)}`));
    });
    const a = p.client.udp.bind({ port: 7001 });
    const b = p.client.udp.bind({ port: 7002 });
    try {
      // The same flow twice in a row (the second from the remembered session), then others
      // differing in one field each: the client's port, the destination's port, its address.
      a.send(enc('1'), { address: FAR_IP, port: 9 });
      a.send(enc('2'), { address: FAR_IP, port: 9 });
      b.send(enc('3'), { address: FAR_IP, port: 9 });
      a.send(enc('4'), { address: FAR_IP, port: 10 });
      a.send(enc('5'), { address: '198.18.0.201', port: 9 });
      a.send(enc('6'), { address: FAR_IP, port: 9 });
      await waitFor('six datagrams in sessions', () => (got.length === 6 ? true : undefined));
      assert.deepEqual(got, ['0:9<7001 1', '0:9<7001 2', '1:9<7002 3', '2:10<7001 4', '3:9<7001 5', '0:9<7001 6']);
      assert.equal(sessions[3].localAddress, '198.18.0.201');
      // The flow's session, the last one used, ends: its next datagram opens a new one.
      sessions[0].close();
      a.send(enc('7'), { address: FAR_IP, port: 9 });
      await waitFor('the seventh datagram in a session', () => (got.length === 7 ? true : undefined));
      assert.equal(got[6], '4:9<7001 7');
      assert.equal(stat(p.gateway, 'udpForward', 'sessionsOpened'), 5);
    } finally {
      a.close();
      b.close();
      fwd.unsubscribe();
      p.close();
    }
  });

  it('holds the first datagrams until datagrams$ is subscribed', async () => {
    const p = forwardPair();
    const sessions: UdpForwardSession[] = [];
    const fwd = p.gateway.udp.forward({ queueLimit: 2 }).subscribe((s) => sessions.push(s));
    const sock = p.client.udp.bind({ port: 6000 });
    try {
      for (const m of ['a', 'b', 'c']) sock.send(enc(m), { address: FAR_IP, port: 7 });
      await waitFor('three datagrams forwarded', () => (stat(p.gateway, 'udpForward', 'rxDatagrams') === 3 ? true : undefined));
      assert.equal(sessions.length, 1);
      const held: string[] = [];
      sessions[0].datagrams$.subscribe((d) => held.push(dec(d)));
      assert.deepEqual(held, ['a', 'b'], 'the queue holds queueLimit datagrams');
      assert.equal(stat(p.gateway, 'udpForward', 'drops', 'queueFull'), 1);
    } finally {
      sock.close();
      fwd.unsubscribe();
      p.close();
    }
  });

  it('ends an idle session after idleTimeoutMs (within a quarter more), and activity either way keeps it (virtual time)', () => {
    const ts = new TestScheduler(() => undefined);
    const p = forwardPair({ scheduler: ts });
    const ended: string[] = [];
    const sessions: UdpForwardSession[] = [];
    const fwd = p.gateway.udp.forward({ idleTimeoutMs: 10_000 }).subscribe((s) => {
      sessions.push(s);
      s.datagrams$.subscribe({ complete: () => ended.push(`${s.localPort}@${ts.now()}`) });
    });
    const sock = p.client.udp.bind({ port: 7000 });
    try {
      sock.send(enc('x'), { address: FAR_IP, port: 1 });
      sock.send(enc('y'), { address: FAR_IP, port: 2 });
      advance(ts, 100);
      assert.equal(sessions.length, 2);
      // Session 2 answers at 6 s: its idle time runs from then. The timer ticks every 2.5 s and
      // ends a session at its fourth quiet tick in a row: the tick at 7.5 s saw the answer.
      advance(ts, 5900);
      assert.ok(sessions[1].send(enc('reply')));
      advance(ts, 4100); // t = 10.1 s
      assert.deepEqual(ended, ['1@10000'], 'a session nothing crossed after its first datagram ends at idleTimeoutMs');
      assert.equal(stat(p.gateway, 'udpForward', 'sessions'), 1);
      advance(ts, 6000); // t = 16.1 s: idle 10.1 s, not yet the fourth quiet tick
      assert.deepEqual(ended, ['1@10000']);
      advance(ts, 1500); // t = 17.6 s
      assert.deepEqual(ended, ['1@10000', '2@17500'], 'ended within a quarter of idleTimeoutMs after its last datagram');
      assert.equal(stat(p.gateway, 'udpForward', 'sessionsExpired'), 2);
      assert.equal(sessions[0].send(enc('late')), false, 'an ended session sends nothing');
      // The flow comes back: a new session.
      sock.send(enc('again'), { address: FAR_IP, port: 1 });
      advance(ts, 100);
      assert.equal(sessions.length, 3);
    } finally {
      sock.close();
      fwd.unsubscribe();
      p.close();
    }
  });

  it('setActivityProbe: a flow relayed elsewhere keeps its session while the probe says so (virtual time)', () => {
    const ts = new TestScheduler(() => undefined);
    const p = forwardPair({ scheduler: ts });
    const ended: number[] = [];
    let elsewhere = true;
    let asked = 0;
    const fwd = p.gateway.udp.forward({ idleTimeoutMs: 10_000 }).subscribe((s) => {
      s.setActivityProbe(() => {
        asked++;
        return elsewhere;
      });
      s.datagrams$.subscribe({ complete: () => ended.push(ts.now()) });
    });
    const sock = p.client.udp.bind({ port: 7001 });
    try {
      sock.send(enc('x'), { address: FAR_IP, port: 1 });
      advance(ts, 30_000);
      assert.deepEqual(ended, [], 'kept alive by the probe alone');
      assert.ok(asked >= 10);
      elsewhere = false; // quiet from t = 30 s: the fourth quiet tick ends it
      advance(ts, 10_100);
      assert.deepEqual(ended, [40_000]);
    } finally {
      sock.close();
      fwd.unsubscribe();
      p.close();
    }
  });

  it('bounds sessions (drops.sessionLimit); one subscriber; unsubscribing ends the sessions; bad options named', async () => {
    const ts = new TestScheduler(() => undefined);
    const p = forwardPair({ scheduler: ts });
    const sessions: UdpForwardSession[] = [];
    let completed = 0;
    const fwd = p.gateway.udp.forward({ maxSessions: 2 }).subscribe((s) => {
      sessions.push(s);
      s.datagrams$.subscribe({ complete: () => completed++ });
    });
    const sock = p.client.udp.bind({ port: 8000 });
    try {
      for (let port = 1; port <= 3; port++) sock.send(enc('x'), { address: FAR_IP, port });
      advance(ts, 100);
      assert.equal(sessions.length, 2);
      assert.equal(stat(p.gateway, 'udpForward', 'drops', 'sessionLimit'), 1);
      let second = '';
      p.gateway.udp.forward().subscribe({ error: (e: unknown) => (second = codeOf(e)) });
      assert.equal(second, 'EADDRINUSE');
      let bad: Error | undefined;
      p.gateway.udp.forward({ maxSessions: 0, idleTimeoutMs: 0, queueLimit: -1 }).subscribe({ error: (e: Error) => (bad = e) });
      assert.match(bad!.message, /maxSessions.*idleTimeoutMs.*queueLimit/);
      fwd.unsubscribe();
      assert.equal(completed, 2);
      assert.equal(stat(p.gateway, 'udpForward', 'sessions'), 0);
    } finally {
      sock.close();
      fwd.unsubscribe();
      p.close();
    }
  });

  it('refuse(): an ICMP error from the original destination quoting the last datagram; the client socket gets ECONNREFUSED', async () => {
    const p = forwardPair();
    const sessions: UdpForwardSession[] = [];
    const fwd = p.gateway.udp.forward().subscribe((s) => {
      sessions.push(s);
      s.datagrams$.subscribe();
    });
    const sock = p.client.udp.bind({ port: 9000 });
    // The gateway's ICMP errors as sent (Ethernet, IPv4 without options, ICMP, the quote).
    const reports: { from: string; type: number; code: number; quoted: string }[] = [];
    const icmp = p.gateway.taps.link.down$.subscribe((f) => {
      if (f[12] !== 0x08 || f[13] !== 0x00 || f[14 + 9] !== IpProtocol.ICMP) return;
      const q = 14 + 20 + 8;
      reports.push({ from: formatIpv4(ipAt(f, 14 + 12)), type: f[34], code: f[35], quoted: dec(f.subarray(q + 20 + 8)) });
    });
    try {
      sock.connect({ address: FAR_IP, port: 53 });
      const refused = firstValueFrom(sock.errors$);
      sock.send(enc('first'));
      sock.send(enc('the second, longer'));
      await waitFor('two datagrams forwarded', () => (stat(p.gateway, 'udpForward', 'rxDatagrams') === 2 ? true : undefined));
      assert.equal(sessions.length, 1);
      assert.equal(sessions[0].refuse(), true);
      const err = await refused;
      assert.equal(codeOf(err), 'ECONNREFUSED');
      // Port unreachable (3/3), from the original destination, quoting the last datagram (its UDP length).
      assert.deepEqual(reports, [{ from: FAR_IP, type: 3, code: 3, quoted: 'the second, longer' }]);
      assert.equal(stat(p.gateway, 'udpForward', 'refused'), 1);
      assert.equal(stat(p.gateway, 'icmp', 'txErrors'), 1);
      // The session stays open: the flow goes on.
      assert.equal(sessions[0].send(enc('still here')), true);
      // Host unreachable is a soft error for a UDP socket (as on Linux): counted by the client, not reported.
      assert.equal(sessions[0].refuse('host-unreachable'), true);
      await waitFor('the second error reached the client', () => (reports.length === 2 ? true : undefined));
      assert.deepEqual([reports[1].type, reports[1].code], [3, 1]);
      await waitFor('the client counted it', () => (stat(p.client, 'udp', 'icmpErrors') === 2 ? true : undefined));
      assert.equal(stat(p.client, 'udp', 'icmpErrorsIgnored'), 1);
      assert.throws(() => sessions[0].refuse('rst' as never), (e: unknown) => codeOf(e) === 'ERR_INVALID_ARG_VALUE');
      sessions[0].close();
      assert.equal(sessions[0].refuse('net-unreachable'), false, 'an ended session refuses nothing');
      assert.equal(stat(p.gateway, 'udpForward', 'refused'), 2);
    } finally {
      icmp.unsubscribe();
      sock.close();
      fwd.unsubscribe();
      p.close();
    }
  });

  it('refuse() goes through the ICMP error rate limit', async () => {
    const ts = new TestScheduler(() => undefined);
    const p = forwardPair({ scheduler: ts });
    const sessions: UdpForwardSession[] = [];
    const fwd = p.gateway.udp.forward().subscribe((s) => sessions.push(s));
    const sock = p.client.udp.bind({ port: 9001 });
    try {
      sock.send(enc('x'), { address: FAR_IP, port: 9 });
      advance(ts, 10);
      assert.equal(sessions.length, 1);
      for (let i = 0; i < 500; i++) sessions[0].refuse();
      advance(ts, 10);
      const sent = stat(p.gateway, 'icmp', 'txErrors');
      assert.ok(sent > 0 && sent < 500, `some sent (${sent}), the rest rate limited`);
      assert.equal(sent + stat(p.gateway, 'icmp', 'errorsRateLimited'), 500);
      assert.equal(stat(p.gateway, 'udpForward', 'refused'), 500);
    } finally {
      sock.close();
      fwd.unsubscribe();
      p.close();
    }
  });
});
