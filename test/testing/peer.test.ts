import assert from 'node:assert/strict';
import { AssertionError } from 'node:assert';
import { TestScheduler } from 'rxjs/testing';
import type { TcpConnection } from '../../streams/index.js';
import {
  advance, createStackAndPeer, expectNoFrame, isArp, isIcmp, isTcp, isUdp, nextFrame, waitFor, waitForState,
} from '../../streams/testing/index.js';

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}

/** Lets promise callbacks run after `advance`. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('testing kit: a stack and a raw peer', () => {
  it('the peer sees the gratuitous ARP and answers the stack\'s ARP requests for its address', async () => {
    const ts = newScheduler();
    const { stack, peer, close } = createStackAndPeer({ scheduler: ts });
    try {
      const sub = stack.icmp.ping('198.18.0.1', { count: 1 }).subscribe({ error: () => undefined });
      advance(ts, 1);
      const announce = peer.take(isArp({ op: 'request', senderIp: '198.18.0.2', targetIp: '198.18.0.2' }));
      assert.ok(announce !== undefined, 'gratuitous ARP');
      assert.equal(announce.at, 0);
      const who = await nextFrame(peer, isArp({ op: 'request', targetIp: '198.18.0.1' }));
      assert.equal(who.arp.senderMac, '02:00:00:00:00:02');
      // The peer answered, so the echo request went out to the peer's MAC.
      const ping = await nextFrame(peer, isIcmp({ kind: 'echo-request', dst: '198.18.0.1' }));
      assert.equal(ping.eth?.dst, '02:00:00:00:00:01');
      sub.unsubscribe();
    } finally {
      close();
    }
  });

  it('walks a passive open frame by frame: SYN in, SYN-ACK out, ACK in, ESTABLISHED, data in, ACK out', async () => {
    const ts = newScheduler();
    const { stack, peer, close } = createStackAndPeer({ scheduler: ts });
    try {
      let conn: TcpConnection | undefined;
      stack.tcp.listen({ port: 80 }).subscribe((c) => (conn = c));
      peer.sendTcp({ srcPort: 40000, dstPort: 80, seq: 1000, flags: 'SYN', mss: 1000, window: 8192 });
      const synAckP = nextFrame(peer, isTcp({ flags: 'SYN|ACK', dstPort: 40000 }));
      advance(ts, 0);
      const synAck = await synAckP;
      assert.equal(synAck.tcp.ack, 1001);
      assert.ok(synAck.tcp.mss !== undefined && synAck.tcp.mss > 0, 'the SYN-ACK carries an MSS');
      const iss = synAck.tcp.seq;
      peer.sendTcp({ srcPort: 40000, dstPort: 80, seq: 1001, ack: iss + 1, flags: 'ACK', window: 8192 });
      advance(ts, 0);
      assert.ok(conn !== undefined, 'listen emitted the connection');
      assert.equal(await waitForState(conn, 'ESTABLISHED', { scheduler: ts }), 'ESTABLISHED');

      const got: string[] = [];
      conn.data$.subscribe((chunk) => got.push(new TextDecoder().decode(chunk)));
      peer.sendTcp({ srcPort: 40000, dstPort: 80, seq: 1001, ack: iss + 1, flags: 'PSH|ACK', window: 8192, payload: 'hello' });
      const ackP = nextFrame(peer, isTcp({ hasFlags: 'ACK', ack: 1006, payloadLength: 0 }));
      advance(ts, 500); // the delayed ACK fires within 500 ms
      const ack = await ackP;
      assert.deepEqual(got, ['hello']);
      assert.ok(ack.at <= 500);
    } finally {
      close();
    }
  });

  it('nextFrame fails in virtual time with what it waited for and what came instead', async () => {
    const ts = newScheduler();
    const { peer, close } = createStackAndPeer({ scheduler: ts });
    try {
      const wait = nextFrame(peer, isUdp({ dstPort: 53 }), { timeoutMs: 1000 });
      const outcome = wait.then(() => 'resolved', (err: unknown) => err);
      advance(ts, 999);
      await settle();
      assert.equal(await Promise.race([outcome, Promise.resolve('pending')]), 'pending', 'still waiting at 999 ms');
      advance(ts, 1);
      const err = await outcome;
      assert.ok(err instanceof AssertionError, String(err));
      assert.match(err.message, /^no frame matching UDP to port 53 \(pending: t=0 ARP who-has 198\.18\.0\.2 tell 198\.18\.0\.2 .*\) within 1000 ms \(waited from t=0 to t=1000\)$/);
    } finally {
      close();
    }
  });

  it('expectNoFrame passes on silence and fails on a matching frame', async () => {
    const ts = newScheduler();
    const { peer, close } = createStackAndPeer({ scheduler: ts });
    try {
      const quiet = expectNoFrame(peer, isTcp({ hasFlags: 'RST' }), 100);
      advance(ts, 100);
      await quiet;
      // A SYN to a closed port is answered with RST|ACK.
      const noisy = expectNoFrame(peer, isTcp({ hasFlags: 'RST' }), 100).then(() => undefined, (err: unknown) => err);
      peer.sendTcp({ srcPort: 40001, dstPort: 81, seq: 5, flags: 'SYN' });
      advance(ts, 100);
      const err = await noisy;
      assert.ok(err instanceof AssertionError);
      assert.match(err.message, /^expected no frame matching TCP with RST for 100 ms, got t=100 198\.18\.0\.2:81 > 198\.18\.0\.1:40001 TCP \[RST\|ACK\]/);
    } finally {
      close();
    }
  });

  it('waitForState fails clearly when the connection closes without reaching the state', async () => {
    const ts = newScheduler();
    const { stack, peer, close } = createStackAndPeer({ scheduler: ts });
    try {
      let conn: TcpConnection | undefined;
      stack.tcp.listen({ port: 80 }).subscribe((c) => (conn = c));
      peer.sendTcp({ srcPort: 40000, dstPort: 80, seq: 1000, flags: 'SYN' });
      advance(ts, 0);
      const synAck = peer.take(isTcp({ flags: 'SYN|ACK' }));
      assert.ok(synAck);
      peer.sendTcp({ srcPort: 40000, dstPort: 80, seq: 1001, ack: synAck.tcp.seq + 1, flags: 'ACK' });
      advance(ts, 0);
      assert.ok(conn);
      const waiting = waitForState(conn, 'CLOSE-WAIT', { scheduler: ts }).then(() => undefined, (err: unknown) => err);
      peer.sendTcp({ srcPort: 40000, dstPort: 80, seq: 1001, flags: 'RST' });
      advance(ts, 0);
      const err = await waiting;
      assert.ok(err instanceof AssertionError, String(err));
      assert.match(err.message, /closed \(ECONNRESET\) without reaching CLOSE-WAIT; states: ESTABLISHED -> CLOSED$/);
    } finally {
      close();
    }
  });

  it('nextFrame and waitFor fail clearly when what they watch ends first', async () => {
    const ts = newScheduler();
    const { stack, peer, close } = createStackAndPeer({ scheduler: ts });
    const frame = nextFrame(peer, isUdp({ dstPort: 53 })).then(() => undefined, (err: unknown) => err);
    const conn = waitFor(stack.tcp.listen({ port: 80 }), () => true, { scheduler: ts, what: 'a connection' }).then(() => undefined, (err: unknown) => err);
    close();
    const [e1, e2] = await Promise.all([frame, conn]);
    assert.ok(e1 instanceof AssertionError);
    assert.equal(e1.message, 'the link closed before a frame matching UDP to port 53 arrived');
    assert.ok(e2 instanceof AssertionError);
    assert.equal(e2.message, 'the source completed without a connection');
  });

  it('two waiters for the same kind of frame get one frame each', async () => {
    const ts = newScheduler();
    const { peer, close } = createStackAndPeer({ scheduler: ts });
    try {
      const first = nextFrame(peer, isTcp({ hasFlags: 'RST' }));
      const second = nextFrame(peer, isTcp({ hasFlags: 'RST' }));
      peer.sendTcp({ srcPort: 1, dstPort: 81, seq: 5, flags: 'SYN' });
      peer.sendTcp({ srcPort: 2, dstPort: 81, seq: 5, flags: 'SYN' });
      advance(ts, 0);
      assert.deepEqual([(await first).tcp.dstPort, (await second).tcp.dstPort], [1, 2]);
      assert.equal(peer.take(isTcp()), undefined, 'both taken');
      assert.equal(peer.received.filter((f) => f.tcp !== undefined).length, 2, 'received keeps them');
    } finally {
      close();
    }
  });
});
