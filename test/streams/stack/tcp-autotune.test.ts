/**
 * Buffer auto-tuning between two stacks on the memory wire: a 50 ms path at 1 Gbit/s, in
 * virtual time (a TestScheduler drives the timers and the wire's latency), one bulk transfer
 * from a to b. With a 64 KiB initial receive buffer the window allows at most 64 KiB per RTT,
 * 1.3 MB/s; auto-tuning must take the transfer far beyond that, and a listener that fixes its
 * buffer (as SO_RCVBUF does) must stay within it.
 */

import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { createStack } from '../../../streams/stack/create-stack.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import type { TcpInfo } from '../../../src/tcp/info.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const RTT_MS = 50;
const INITIAL = 64 * KiB;

interface Outcome {
  /** Bytes delivered to b's reader per virtual second, from the connection to the last byte. */
  bytesPerSecond: number;
  receiver: TcpInfo;
  sender: TcpInfo;
  receiverGrown: number;
  senderGrown: number;
}

function run(bytes: number, fixedReceiveBuffer: boolean): Outcome {
  const ts = new TestScheduler(() => undefined);
  const [la, lb] = createMemoryWire({ scheduler: ts, latencyMs: RTT_MS / 2, bandwidthBitsPerSecond: 1e9, queueLimit: 4096 });
  // Small initial buffers on both sides; the caps are the defaults (6 MiB receive, 4 MiB send).
  const tcp = { receiveBufferSize: INITIAL, sendBufferSize: INITIAL };
  const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }], tcp }, { scheduler: ts });
  const b = createStack({ interfaces: [{ name: 'eth0', link: lb, ipv4: ['198.18.0.2/24'] }], tcp }, { scheduler: ts });
  try {
    let received = 0;
    let doneAt: number | undefined;
    let receiver: TcpConnection | undefined;
    b.tcp.listen({ port: 9, ...(fixedReceiveBuffer ? { receiveBufferSize: INITIAL } : {}) }).subscribe((conn) => {
      receiver = conn;
      conn.data$.subscribe((chunk) => {
        received += chunk.length;
        if (received >= bytes && doneAt === undefined) doneAt = ts.now();
      });
    });
    let sender: TcpConnection | undefined;
    let startedAt = 0;
    const data = new Uint8Array(bytes);
    a.tcp.connect({ address: '198.18.0.2', port: 9 }).subscribe((conn) => {
      sender = conn;
      startedAt = ts.now();
      let offset = 0;
      // Writes in 64 KiB pieces, waiting for drain$ when write() says the buffer is full.
      const pump = (): void => {
        while (offset < bytes) {
          const piece = data.subarray(offset, Math.min(offset + 64 * KiB, bytes));
          offset += piece.length;
          if (!conn.write(piece)) return;
        }
      };
      conn.drain$.subscribe(pump);
      pump();
    });
    for (let t = 0; t < 120_000 && doneAt === undefined; t += 100) {
      ts.schedule(() => undefined, 100);
      ts.maxFrames = ts.now() + 100;
      ts.flush();
    }
    assert.ok(doneAt !== undefined && sender !== undefined && receiver !== undefined, `transfer not done: ${received} of ${bytes} bytes`);
    return {
      bytesPerSecond: (bytes * 1000) / (doneAt - startedAt),
      receiver: receiver.info(),
      sender: sender.info(),
      receiverGrown: receiver.counters.receiveBufferGrown,
      senderGrown: sender.counters.sendBufferGrown,
    };
  } finally {
    a.close();
    b.close();
  }
}

describe('stack: TCP buffer auto-tuning on a 50 ms path (memory wire, virtual time)', function () {
  this.timeout(120_000);
  /** What the initial window allows: one buffer per round trip. */
  const initialRate = (INITIAL * 1000) / RTT_MS;

  it('a transfer starting from 64 KiB buffers goes far beyond 64 KiB per RTT', () => {
    const r = run(24 * MiB, false);
    assert.ok(r.receiverGrown > 0 && r.senderGrown > 0, `grown: receiver ${r.receiverGrown}, sender ${r.senderGrown}`);
    assert.ok(r.receiver.receiveBuffer > 16 * INITIAL, `receive buffer ${r.receiver.receiveBuffer}`);
    assert.ok(r.receiver.receiveBuffer <= 6 * MiB, 'within the default cap');
    assert.ok(r.sender.sendBuffer > 16 * INITIAL && r.sender.sendBuffer <= 4 * MiB, `send buffer ${r.sender.sendBuffer}`);
    assert.ok(r.receiver.receiveRttMs >= RTT_MS && r.receiver.receiveRttMs < 2 * RTT_MS, `receiver RTT ${r.receiver.receiveRttMs}`);
    // Including slow start from 10 segments, the whole transfer averages over 5x the initial window's rate.
    assert.ok(r.bytesPerSecond > 5 * initialRate, `${Math.round(r.bytesPerSecond)} B/s vs ${Math.round(initialRate)} B/s`);
  });

  it('listen / connect name each bad buffer size (ERR_INVALID_ARG_VALUE)', () => {
    const ts = new TestScheduler(() => undefined);
    const [la] = createMemoryWire({ scheduler: ts });
    const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }] }, { scheduler: ts });
    try {
      const errors: { code?: string; message: string }[] = [];
      a.tcp.listen({ port: 9, receiveBufferSize: 0, sendBufferSize: 1.5 }).subscribe({ error: (e: { code?: string; message: string }) => errors.push(e) });
      a.tcp.connect({ address: '198.18.0.2', port: 9, receiveBufferSize: -1 }).subscribe({ error: (e: { code?: string; message: string }) => errors.push(e) });
      assert.equal(errors.length, 2);
      assert.equal(errors[0].code, 'ERR_INVALID_ARG_VALUE');
      assert.match(errors[0].message, /receiveBufferSize: .*; sendBufferSize: /);
      assert.equal(errors[1].code, 'ERR_INVALID_ARG_VALUE');
      assert.match(errors[1].message, /connect: receiveBufferSize: /);
    } finally {
      a.close();
    }
  });

  it('a listener that fixes its receive buffer keeps the window, and the rate, of its initial size', () => {
    const r = run(4 * MiB, true);
    assert.equal(r.receiverGrown, 0);
    assert.equal(r.receiver.receiveBuffer, INITIAL);
    assert.ok(r.bytesPerSecond <= initialRate, `${Math.round(r.bytesPerSecond)} B/s vs ${Math.round(initialRate)} B/s`);
  });
});
