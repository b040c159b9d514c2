import assert from 'node:assert/strict';
import { once } from 'node:events';
import { KeepAliveHolder, KeepAliveRef } from '../../streams/net/keep-alive.js';
import { createStackNet } from '../../streams/net/stack-net.js';
import { runExample } from '../examples/run-example.js';
import { netPair, listening, B_IP } from './net-pair.js';

/** Node timers currently keeping the event loop alive. */
const refdTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('stack.net: ref/unref keep the process alive as node:net handles do', () => {
  it('KeepAliveHolder: one ref\'d timer while any hold is taken; releases are idempotent', () => {
    const holder = new KeepAliveHolder();
    const before = refdTimers();
    const r1 = holder.hold();
    const r2 = holder.hold();
    assert.equal(holder.holds, 2);
    assert.equal(refdTimers(), before + 1, 'one timer for any number of holds');
    r1();
    r1();
    assert.equal(holder.holds, 1);
    assert.equal(refdTimers(), before + 1);
    r2();
    assert.equal(holder.holds, 0);
    assert.equal(refdTimers(), before);
  });

  it('KeepAliveRef: holds only while active and ref\'d', () => {
    const holder = new KeepAliveHolder();
    const ref = new KeepAliveRef(holder);
    assert.equal(holder.holds, 0);
    ref.setActive(true);
    assert.equal(holder.holds, 1);
    ref.unref();
    assert.equal(holder.holds, 0);
    ref.ref();
    ref.ref();
    assert.equal(holder.holds, 1);
    ref.setActive(false);
    assert.equal(holder.holds, 0);
  });

  it('servers and sockets take a hold while listening / connected and give it back on close, unref and destroy', async () => {
    const p = netPair();
    try {
      const holdA = new KeepAliveHolder();
      const holdB = new KeepAliveHolder();
      const netA = createStackNet(p.a, holdA);
      const netB = createStackNet(p.b, holdB);
      const server = netB.createServer();
      await listening(server.listen(0, B_IP));
      assert.equal(holdB.holds, 1);
      server.unref();
      assert.equal(holdB.holds, 0);
      server.ref();
      const client = netA.connect(server.address()!.port, B_IP);
      assert.equal(holdA.holds, 1, 'a connecting socket holds');
      const [accepted] = await Promise.all([once(server, 'connection'), once(client, 'connect')]);
      assert.equal(holdA.holds, 1);
      assert.equal(holdB.holds, 2, 'the server and its accepted socket');
      server.close();
      assert.equal(holdB.holds, 1);
      client.unref();
      assert.equal(holdA.holds, 0);
      client.ref();
      assert.equal(holdA.holds, 1);
      accepted[0].destroy();
      assert.equal(holdB.holds, 0);
      client.destroy();
      assert.equal(holdA.holds, 0);
      // A socket that fails to connect gives its hold back too.
      const refused = netA.connect(9, B_IP);
      assert.equal(holdA.holds, 1);
      await once(refused, 'error').catch(() => undefined);
      assert.equal(holdA.holds, 0);
    } finally {
      p.close();
    }
  });

  it('closing the stack gives back every hold, even of a socket with unread bytes and a FIN pending', async () => {
    const p = netPair();
    const holdA = new KeepAliveHolder();
    const holdB = new KeepAliveHolder();
    const netA = createStackNet(p.a, holdA);
    const netB = createStackNet(p.b, holdB);
    const server = netB.createServer({ pauseOnConnect: true });
    await listening(server.listen(0, B_IP));
    const client = netA.connect(server.address()!.port, B_IP);
    const [[accepted]] = await Promise.all([once(server, 'connection'), once(client, 'connect')]);
    client.end('unread');
    await once(client, 'finish');
    assert.equal(holdB.holds, 2, 'the server and the paused socket that never read its bytes');
    p.close();
    assert.equal(holdB.holds, 0, 'the stack is gone: nothing can happen on them any more');
    assert.equal(holdA.holds, 0);
    (accepted as { destroy(): void }).destroy();
    client.destroy();
  });

  it('a program whose server and sockets are unref\'d exits by itself', async () => {
    const run = await runExample('test/net/fixtures/keep-alive-program.ts', ['unref'], 15_000);
    assert.equal(run.stdout, 'connected\n');
    assert.equal(run.code, 0, `exit ${run.code ?? run.signal}; stderr: ${run.stderr}`);
  }).timeout(20_000);

  it('a program with a ref\'d server and sockets stays alive (an unref\'d timer still fires)', async () => {
    const run = await runExample('test/net/fixtures/keep-alive-program.ts', ['ref'], 15_000);
    assert.equal(run.stdout, 'connected\nstill alive\n');
    assert.equal(run.code, 0, `exit ${run.code ?? run.signal}; stderr: ${run.stderr}`);
  }).timeout(20_000);
});
