import assert from 'node:assert/strict';
import { firstValueFrom, mergeMap, type SchedulerLike, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { checkForwardedEcho, forwardPair, CLIENT_IP, FAR_IP, GATEWAY_IP } from './forward-pair.js';
import { advance, stat } from './raw-peer.js';
import { waitFor } from '../../helpers/wait-for.js';
import { codeOf } from './tcp-helpers.js';
import type { TcpForwardRequest } from '../../../streams/stack/tcp-forwarder.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import type { TcpRepr } from '../../../src/wire/tcp.js';

describe('stack: TCP forwarder', () => {
  it('accepts a connection to an address that is not the stack\'s, as that address, and relays byte-exact', async () => {
    const p = forwardPair();
    try {
      await checkForwardedEcho(p, FAR_IP, CLIENT_IP, 'ipv4');
    } finally {
      p.close();
    }
  });

  it('the accepted connection\'s local side is the original destination', async () => {
    const p = forwardPair();
    const accepted: TcpConnection[] = [];
    const fwd = p.gateway.tcp.forward().pipe(mergeMap((req) => req.accept())).subscribe((c) => accepted.push(c));
    try {
      const conn = await firstValueFrom(p.client.tcp.connect({ address: '198.18.0.131', port: 4433 }));
      await waitFor('the accepted connection', () => (accepted.length > 0 ? true : undefined));
      assert.equal(accepted.length, 1);
      assert.equal(accepted[0].localAddress, '198.18.0.131');
      assert.equal(accepted[0].localPort, 4433);
      assert.equal(accepted[0].remoteAddress, CLIENT_IP);
      assert.equal(accepted[0].remotePort, conn.localPort);
      conn.destroy();
    } finally {
      fwd.unsubscribe();
      p.close();
    }
  });

  it('refuse("rst") gives the client ECONNREFUSED, refuse("unreachable") EHOSTUNREACH', async () => {
    const p = forwardPair();
    const fwd = p.gateway.tcp.forward().subscribe((req) => req.refuse(req.localPort === 81 ? 'rst' : 'unreachable'));
    try {
      const refused = await firstValueFrom(p.client.tcp.connect({ address: FAR_IP, port: 81 })).then(() => 'ok', codeOf);
      assert.equal(refused, 'ECONNREFUSED');
      const unreachable = await firstValueFrom(p.client.tcp.connect({ address: FAR_IP, port: 82 })).then(() => 'ok', codeOf);
      assert.equal(unreachable, 'EHOSTUNREACH');
      assert.equal(stat(p.gateway, 'tcpForward', 'refusedRst'), 1);
      assert.equal(stat(p.gateway, 'tcpForward', 'refusedUnreachable'), 1);
      assert.equal(stat(p.gateway, 'tcpForward', 'inFlight'), 0);
    } finally {
      fwd.unsubscribe();
      p.close();
    }
  });

  it('without a subscriber, a SYN to a foreign address is not for us (dropped), and one to ours gets RST', async () => {
    const p = forwardPair();
    try {
      const fwd = p.gateway.tcp.forward().subscribe((req) => req.refuse('drop'));
      fwd.unsubscribe();
      const own = await firstValueFrom(p.client.tcp.connect({ address: GATEWAY_IP, port: 80 })).then(() => 'ok', codeOf);
      assert.equal(own, 'ECONNREFUSED');
      const before = stat(p.gateway, 'ipv4', 'drops', 'notForUs');
      const far = p.client.tcp.connect({ address: FAR_IP, port: 80 }).subscribe({ error: () => undefined });
      await waitFor('the SYN dropped as not for us', () => (stat(p.gateway, 'ipv4', 'drops', 'notForUs') > before ? true : undefined));
      far.unsubscribe();
      assert.equal(stat(p.gateway, 'tcpForward', 'requests'), 0);
    } finally {
      p.close();
    }
  });

  it('a second forward() subscriber errors with EADDRINUSE; bad options with ERR_INVALID_ARG_VALUE naming each', async () => {
    const p = forwardPair();
    const first = p.gateway.tcp.forward().subscribe();
    try {
      const second = await firstValueFrom(p.gateway.tcp.forward()).then(() => 'ok', codeOf);
      assert.equal(second, 'EADDRINUSE');
      const bad = await firstValueFrom(p.gateway.tcp.forward({ maxInFlight: 0, decisionTimeoutMs: -1 })).catch((e: Error) => e);
      assert.ok(bad instanceof Error);
      assert.equal((bad as { code?: string }).code, 'ERR_INVALID_ARG_VALUE');
      assert.match(bad.message, /maxInFlight/);
      assert.match(bad.message, /decisionTimeoutMs/);
    } finally {
      first.unsubscribe();
      p.close();
    }
  });

  it('a pending request keeps its own SYN, timestamps included, while later segments arrive', () => {
    const ts = new TestScheduler(() => undefined);
    const p = forwardPair({ scheduler: ts });
    // The request's SYN as the forwarder keeps it (the accepting connection is built from it).
    const synOf = (req: TcpForwardRequest): TcpRepr => (req as unknown as { syn: TcpRepr }).syn;
    const requests: TcpForwardRequest[] = [];
    const seen: string[] = [];
    const fwd = p.gateway.tcp.forward().subscribe((req) => {
      requests.push(req);
      seen.push(JSON.stringify({ ...synOf(req), payload: undefined }));
    });
    const conns: Subscription[] = [];
    try {
      for (let i = 0; i < 3; i++) conns.push(p.client.tcp.connect({ address: FAR_IP, port: 80 + i }).subscribe({ error: () => undefined }));
      advance(ts, 100);
      assert.equal(requests.length, 3);
      assert.deepEqual(requests.map((r) => synOf(r).dstPort), [80, 81, 82]);
      assert.ok(synOf(requests[0]).timestamp !== undefined, 'the SYN had timestamps');
      // Every field, the timestamps' too, as when each request was made.
      assert.deepEqual(requests.map((r) => JSON.stringify({ ...synOf(r), payload: undefined })), seen);
      assert.notEqual(synOf(requests[0]).timestamp, synOf(requests[1]).timestamp);
    } finally {
      for (const c of conns) c.unsubscribe();
      fwd.unsubscribe();
      p.close();
    }
  });

  it('a request decided within its offer sets no decision timer; one decided later has its timer and quotes its own SYN when refused', () => {
    const ts = new TestScheduler(() => undefined);
    // The decision timers are the only actions scheduled 7,777 ms ahead.
    let decisionTimers = 0;
    const counting: SchedulerLike = {
      now: () => ts.now(),
      schedule: ((...args: Parameters<TestScheduler['schedule']>) => {
        if (args[1] === 7777) decisionTimers++;
        return ts.schedule(...args);
      }) as SchedulerLike['schedule'],
    };
    const p = forwardPair({ scheduler: counting });
    const later: TcpForwardRequest[] = [];
    const fwd = p.gateway.tcp.forward({ decisionTimeoutMs: 7777 }).subscribe((req) => {
      if (req.localPort === 80) req.refuse('unreachable');
      else later.push(req);
    });
    const errors: string[] = [];
    const conns: Subscription[] = [];
    try {
      for (const port of [80, 81]) conns.push(p.client.tcp.connect({ address: FAR_IP, port }).subscribe({ error: (e: unknown) => errors.push(`${port} ${codeOf(e)}`) }));
      advance(ts, 100);
      assert.deepEqual(errors, ['80 EHOSTUNREACH']);
      assert.equal(later.length, 1);
      assert.equal(decisionTimers, 1, 'a timer for the request that waits, none for the one refused at once');
      // More frames through the gateway meanwhile (another connection, refused at once), then the late refusal.
      conns.push(p.client.tcp.connect({ address: FAR_IP, port: 80 }).subscribe({ error: (e: unknown) => errors.push(`80 ${codeOf(e)}`) }));
      advance(ts, 100);
      later[0].refuse('unreachable');
      advance(ts, 100);
      assert.deepEqual(errors, ['80 EHOSTUNREACH', '80 EHOSTUNREACH', '81 EHOSTUNREACH']);
      assert.equal(stat(p.gateway, 'tcpForward', 'timeouts'), 0);
      assert.equal(stat(p.gateway, 'tcpForward', 'inFlight'), 0);
    } finally {
      for (const c of conns) c.unsubscribe();
      fwd.unsubscribe();
      p.close();
    }
  });

  it('bounds handshakes in flight, counts what it drops, and times out undecided requests (virtual time)', () => {
    const ts = new TestScheduler(() => undefined);
    const p = forwardPair({ scheduler: ts });
    const requests: TcpForwardRequest[] = [];
    const fwd = p.gateway.tcp.forward({ maxInFlight: 2, decisionTimeoutMs: 5000 }).subscribe((req) => requests.push(req));
    const conns: Subscription[] = [];
    try {
      for (let i = 0; i < 3; i++) conns.push(p.client.tcp.connect({ address: FAR_IP, port: 80 + i }).subscribe({ error: () => undefined }));
      advance(ts, 100);
      assert.equal(requests.length, 2, 'two requests, the third SYN dropped');
      assert.equal(stat(p.gateway, 'tcpForward', 'drops', 'inFlightFull'), 1);
      assert.equal(stat(p.gateway, 'tcpForward', 'inFlight'), 2);
      // The client retransmits its SYNs (1 s): duplicates of pending requests are dropped.
      advance(ts, 1500);
      assert.ok(stat(p.gateway, 'tcpForward', 'drops', 'duplicateSyn') >= 2);
      // Nobody decides: both expire at 5 s and free their slots; the third client's retry then gets through.
      advance(ts, 5000);
      assert.equal(stat(p.gateway, 'tcpForward', 'timeouts'), 2);
      advance(ts, 4000);
      assert.ok(requests.length >= 3, `a retried SYN made a new request (${requests.length})`);
      const late = requests[0].accept();
      let code = '';
      late.subscribe({ error: (e: unknown) => (code = codeOf(e)) });
      assert.equal(code, 'ERR_INVALID_STATE');
    } finally {
      for (const c of conns) c.unsubscribe();
      fwd.unsubscribe();
      p.close();
    }
  });
});
