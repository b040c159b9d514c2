import assert from 'node:assert/strict';
import { firstValueFrom, take, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { forwardPair, CLIENT_IP, FAR_IP } from './forward-pair.js';
import { advance, stat } from './raw-peer.js';
import { codeOf } from './tcp-helpers.js';
import { waitFor } from '../../helpers/wait-for.js';
import type { UdpForwardSession } from '../../../streams/stack/udp-forwarder.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

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

  it('ends an idle session after idleTimeoutMs, and activity either way keeps it (virtual time)', () => {
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
      // Session 2 answers at 6 s: its idle timer runs from then.
      advance(ts, 5900);
      assert.ok(sessions[1].send(enc('reply')));
      advance(ts, 4100); // t = 10.1 s
      assert.deepEqual(ended, ['1@10000']);
      assert.equal(stat(p.gateway, 'udpForward', 'sessions'), 1);
      advance(ts, 6000); // t = 16.1 s
      assert.deepEqual(ended, ['1@10000', '2@16000']);
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
});
