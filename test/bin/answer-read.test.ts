/**
 * The addon's host sockets read the peer's answer right after a send (DatagramSocket
 * sendAndReceive, TcpSocket writeAndRead): what is already waiting is handed to onMessage /
 * onData before the call returns; after four such reads in a row found nothing, the read is
 * skipped except on every 16th call. Deterministic: the peer is an echo server on a worker
 * thread (127.0.0.1, ephemeral ports) that says through a shared counter when its answer is
 * with the kernel, and the main thread waits for that (Atomics.wait) without returning to the
 * event loop, so the poll cannot read the answer first.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { constants } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DATAGRAM_READ, loadTapAddon } from '../../streams/links/tap-native.js';

const LOOPBACK = 0x7f000001;

/**
 * The worker's servers: 'A' is echoed, 'T' answered with 'late', anything else ignored; each
 * answer adds one to the shared counter once the kernel has it (the send's callback).
 */
const SERVER = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const net = require('node:net');
const counter = new Int32Array(workerData);
const answered = () => { Atomics.add(counter, 0, 1); Atomics.notify(counter, 0); };
const answer = (text) => text.includes('T') ? 'late' : text.includes('A') ? 'A' : undefined;
const finish = (s) => s.end(answered); // 'F': the server closes its side first
const udp = dgram.createSocket('udp4');
udp.on('message', (m, r) => { const a = answer(m.toString()); if (a !== undefined) udp.send(a, r.port, r.address, answered); });
const tcp = net.createServer((s) => s.on('error', () => undefined).on('data', (d) => {
  if (d.toString().includes('F')) return finish(s);
  const a = answer(d.toString());
  if (a !== undefined) s.write(a, answered);
}));
udp.bind(0, '127.0.0.1', () => tcp.listen(0, '127.0.0.1', () => parentPort.postMessage({ udp: udp.address().port, tcp: tcp.address().port })));
parentPort.on('message', () => { udp.close(); tcp.close(); parentPort.close(); });
`;

describe('addon host sockets: the answer read right after a send', function () {
  this.timeout(20_000);
  let worker: Worker;
  let counter: Int32Array;
  let ports: { udp: number; tcp: number };
  /** Blocks this thread (bounded) until the worker has answered `n` times in all. */
  const answeredTimes = (n: number): void => {
    for (let i = 0; i < 100 && Atomics.load(counter, 0) < n; i++) Atomics.wait(counter, 0, Atomics.load(counter, 0), 50);
    assert.ok(Atomics.load(counter, 0) >= n, `the worker answered ${Atomics.load(counter, 0)} times, not ${n}`);
  };

  beforeEach(async () => {
    const shared = new SharedArrayBuffer(4);
    counter = new Int32Array(shared);
    worker = new Worker(SERVER, { eval: true, workerData: shared });
    [ports] = (await once(worker, 'message')) as [{ udp: number; tcp: number }];
  });
  afterEach(async () => {
    worker.postMessage('stop');
    await once(worker, 'exit');
  });

  it('DatagramSocket.sendAndReceive: a waiting answer goes to onMessage before it returns; after 4 empty reads only every 16th call reads', () => {
    const addon = loadTapAddon();
    const bytes = new Uint8Array(addon.datagramReadBuffer);
    const read = addon.datagramRead;
    const got: string[] = [];
    const socket = new addon.DatagramSocket(
      'udp',
      () => void got.push(Buffer.from(bytes.subarray(read[DATAGRAM_READ.offset], read[DATAGRAM_READ.offset] + read[DATAGRAM_READ.length])).toString()),
      () => undefined,
    );
    try {
      assert.equal(socket.connect(LOOPBACK, ports.udp), 0);
      assert.equal(socket.send(Buffer.from('A')), 0);
      answeredTimes(1);
      assert.equal(socket.sendAndReceive(Buffer.from('q0')), 0);
      assert.deepEqual(got, ['A'], 'the waiting answer, read by the call');
      for (let i = 1; i <= 4; i++) socket.sendAndReceive(Buffer.from(`q${i}`)); // nothing waiting: four misses
      assert.equal(socket.send(Buffer.from('T')), 0);
      answeredTimes(2);
      for (let i = 5; i <= 19; i++) {
        socket.sendAndReceive(Buffer.from(`q${i}`));
        assert.deepEqual(got, ['A'], `call ${i}: skipped, 'late' stays waiting`);
      }
      socket.sendAndReceive(Buffer.from('q20'));
      assert.deepEqual(got, ['A', 'late'], 'the 16th call since the misses reads again');
      assert.throws(() => socket.sendAndReceive('x' as unknown as Uint8Array), { code: 'ERR_INVALID_ARG_TYPE' });
    } finally {
      socket.close();
    }
  });

  it("TcpSocket.connect(..., settle): to a server on this host the connect is done within the call (1, no onConnect); a closed port is ECONNREFUSED at once", async () => {
    const addon = loadTapAddon();
    const connects: number[] = [];
    const callbacks = {
      onConnect: (errno: number) => void connects.push(errno),
      onData: () => 65536,
      onEnd: () => undefined,
      onError: () => undefined,
      onDrain: () => undefined,
    };
    const socket = new addon.TcpSocket(callbacks);
    const refused = new addon.TcpSocket(callbacks);
    try {
      assert.equal(socket.connect(LOOPBACK, ports.tcp, true), 1);
      // Connected: the echo works without any onConnect.
      assert.equal(socket.write(Buffer.from('A')), true);
      answeredTimes(1);
      // A port nobody listens on (the UDP server's number: TCP on it is closed).
      assert.equal(refused.connect(LOOPBACK, ports.udp, true), -constants.errno.ECONNREFUSED);
      await new Promise((resolve) => setTimeout(resolve, 20)); // a wrongly queued onConnect would come by now
      assert.deepEqual(connects, []);
    } finally {
      socket.close(true);
      refused.close(true);
    }
  });

  it("TcpSocket.endAndRead: the peer's FIN already waiting goes to onEnd before it returns (end() leaves it to the poll)", async () => {
    const addon = loadTapAddon();
    const run = async (how: 'end' | 'endAndRead'): Promise<{ atOnce: boolean; later: boolean }> => {
      let ended = 0;
      let connected: (errno: number) => void = () => undefined;
      const connect = new Promise<number>((resolve) => (connected = resolve));
      const socket = new addon.TcpSocket({
        onConnect: (errno) => connected(errno),
        onData: () => 65536,
        onEnd: () => void ended++,
        onError: () => undefined,
        onDrain: () => undefined,
      });
      try {
        const before = Atomics.load(counter, 0);
        assert.equal(socket.connect(LOOPBACK, ports.tcp), 0);
        assert.equal(await connect, 0);
        assert.equal(socket.write(Buffer.from('F')), true);
        answeredTimes(before + 1); // the server's FIN is with the kernel: waiting in our socket
        socket[how]();
        const atOnce = ended === 1;
        await new Promise((resolve) => setTimeout(resolve, 50));
        return { atOnce, later: ended === 1 };
      } finally {
        socket.close();
      }
    };
    assert.deepEqual(await run('endAndRead'), { atOnce: true, later: true });
    assert.deepEqual(await run('end'), { atOnce: false, later: true });
  });

  it('TcpSocket.writeAndRead: a waiting answer goes to onData before it returns; after 4 empty reads only every 16th call reads', async () => {
    const addon = loadTapAddon();
    const bytes = new Uint8Array(addon.tcpReadBuffer);
    const got: string[] = [];
    let connected: (errno: number) => void = () => undefined;
    const connect = new Promise<number>((resolve) => (connected = resolve));
    const socket = new addon.TcpSocket({
      onConnect: (errno) => connected(errno),
      onData: () => {
        got.push(Buffer.from(bytes.subarray(0, addon.tcpRead[0])).toString());
        return 65536;
      },
      onEnd: () => undefined,
      onError: () => undefined,
      onDrain: () => undefined,
    });
    try {
      assert.equal(socket.connect(LOOPBACK, ports.tcp), 0);
      assert.equal(await connect, 0);
      assert.equal(socket.write(Buffer.from('A')), true);
      answeredTimes(1);
      assert.equal(socket.writeAndRead(Buffer.from('q0')), true);
      assert.deepEqual(got, ['A'], 'the waiting answer, read by the call');
      for (let i = 1; i <= 4; i++) socket.writeAndRead(Buffer.from(`q${i}`));
      assert.equal(socket.write(Buffer.from('T')), true);
      answeredTimes(2);
      for (let i = 5; i <= 19; i++) {
        socket.writeAndRead(Buffer.from(`q${i}`));
        assert.deepEqual(got, ['A'], `call ${i}: skipped, 'late' stays waiting`);
      }
      socket.writeAndRead(Buffer.from('q20'));
      assert.deepEqual(got, ['A', 'late'], 'the 16th call since the misses reads again');
    } finally {
      socket.close(true);
    }
  });
});
