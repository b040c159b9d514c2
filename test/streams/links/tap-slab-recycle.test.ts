/**
 * A receive batch's memory reused for the next batch (TapDevice.recycleBatch, streams/frame-lease.ts)
 * only when nothing keeps a view of its frames: two stacks over TAP links back to back without a
 * kernel (test/helpers/fake-tap-device.ts), with offload, whose devices deliver batches as views
 * into one slab and fill a recycled batch's memory with a poison byte before reusing it. Every
 * view the user or the stack kept must still read the bytes that were sent.
 */
import assert from 'node:assert/strict';
import { firstValueFrom, map, Observable, toArray, type MonoTypeOperatorFunction, type Subscription } from 'rxjs';
import { internetChecksum } from '../../../src/wire/checksum.js';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import { deviceLink, type TapLink } from '../../../streams/links/tap-link.js';
import { discardService } from '../../../streams/services/discard.js';
import { relayTo } from '../../../streams/operators/relay-to.js';
import { isPaced, pacedRead } from '../../../streams/operators/paced-concat-map.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import { fakeDevicePair, type FakeDevice } from '../../helpers/fake-tap-device.js';
import { pattern } from '../../helpers/pattern.js';
import { concatBytes } from '../../helpers/bytes.js';
import { waitUntil } from '../../helpers/wait-for.js';

const POISON = 0xa5;
const SIZE = 3 << 20;

interface Pair {
  readonly client: Stack;
  readonly server: Stack;
  /** The server's device (what the client sends arrives there). */
  readonly serverDevice: FakeDevice;
  readonly clientDevice: FakeDevice;
  readonly serverLink: TapLink;
  close(): void;
}

type Hooks = NonNullable<Parameters<typeof createStack>[1]>['hooks'];

function pair(serverHooks?: Hooks, clientHooks?: Hooks): Pair {
  const [da, db] = fakeDevicePair({ offload: true });
  da.poisonRecycled(POISON);
  db.poisonRecycled(POISON);
  const la = deviceLink(da.asTapDevice(), { mac: undefined, coalesceAcks: undefined, layer: 'ethernet' });
  const lb = deviceLink(db.asTapDevice(), { mac: undefined, coalesceAcks: undefined, layer: 'ethernet' });
  const client = createStack({ interfaces: [{ name: 'if0', link: la, mac: '02:00:00:00:00:01', ipv4: ['198.18.0.1/24'] }] }, { hooks: clientHooks });
  const server = createStack({ interfaces: [{ name: 'if0', link: lb, mac: '02:00:00:00:00:02', ipv4: ['198.18.0.2/24'] }] }, { hooks: serverHooks });
  return {
    client,
    server,
    serverDevice: db,
    clientDevice: da,
    serverLink: lb,
    close: () => {
      client.close();
      server.close();
    },
  };
}

/** Reads everything `conn` receives into one array (copying each chunk) until the peer's FIN. */
function readAll(conn: TcpConnection): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  return new Promise((resolve, reject) => {
    conn.data$.subscribe({ next: (c) => chunks.push(c.slice()), complete: () => resolve(concatBytes(chunks)), error: reject });
  });
}

/** Sends `bytes` from the client to `port` on the server, then FIN; resolves with what came back. */
async function exchange(p: Pair, port: number, bytes: Uint8Array): Promise<Uint8Array> {
  const conn = await firstValueFrom(p.client.tcp.connect({ address: '198.18.0.2', port }));
  const back = readAll(conn);
  conn.write(bytes);
  conn.end();
  const got = await back;
  assertNoneCorrupt(p.server);
  return got;
}

/**
 * No frame reached the server's IPv4 or TCP with bytes changed: a frame overwritten while still
 * in use fails a checksum there (TCP would then recover by retransmission, hiding it from the
 * bytes compared).
 */
function assertNoneCorrupt(stack: Stack): void {
  const ipDrops = Object.values(stack.ipv4.counters.drops as Record<string, number>).reduce((a, b) => a + b, 0);
  assert.equal(ipDrops, 0, 'no IPv4 datagram dropped');
  assert.equal(stack.tcpLayer.counters.drops['badChecksum'], 0, 'no TCP checksum failed');
}

/** A server on `port` whose connections are handled by `handle`. */
function serve(stack: Stack, port: number, handle: (conn: TcpConnection) => void): Subscription {
  return stack.tcp.listen({ port }).subscribe(handle);
}

describe('TAP link: a receive batch reused while in cache', () => {
  it('echo (relayTo into the connection): every byte comes back, and the server reused its batches', async () => {
    const p = pair();
    const s = p.server.tcp.listen({ port: 7 }).subscribe((c) => c.data$.pipe(relayTo(c)).subscribe());
    try {
      const sent = pattern(SIZE, 3);
      const back = await exchange(p, 7, sent);
      assert.ok(Buffer.from(back).equals(Buffer.from(sent)), 'the echo is the bytes sent');
      assert.ok(p.serverDevice.reuses > 0, `the server recycled batches (${p.serverDevice.reuses})`);
    } finally {
      s.unsubscribe();
      p.close();
    }
  });

  it('discard keeps nothing: its batches are reused', async () => {
    const p = pair();
    const s = discardService(p.server, 9);
    try {
      const back = await exchange(p, 9, pattern(SIZE, 4));
      assert.equal(back.length, 0);
      assert.ok(p.serverDevice.reuses > 0, `the server recycled batches (${p.serverDevice.reuses})`);
    } finally {
      s.unsubscribe();
      p.close();
    }
  });

  it('a data$ subscriber that keeps its chunks: they still hold the bytes sent, no batch reused', async () => {
    const p = pair();
    const kept: Uint8Array[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const s = serve(p.server, 9, (c) => c.data$.subscribe({ next: (chunk) => kept.push(chunk), complete: () => { c.end(); done(); } }));
    try {
      const sent = pattern(SIZE, 5);
      await exchange(p, 9, sent);
      await finished;
      assert.ok(Buffer.from(concatBytes(kept)).equals(Buffer.from(sent)), 'the kept chunks are the bytes sent');
      assert.equal(p.serverDevice.reuses, 0);
    } finally {
      s.unsubscribe();
      p.close();
    }
  });

  it('a reader that copies but pauses (data left unread in the receive buffer): every byte arrives intact', async () => {
    const p = pair();
    const received: Uint8Array[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const s = serve(p.server, 9, (c) => {
      const data$ = c.data$;
      assert.ok(isPaced(data$));
      let n = 0;
      const sub = data$[pacedRead]({
        copies: true,
        next: (chunk) => {
          received.push(chunk.slice());
          // Every third chunk: stop, and resume on a later macrotask (bytes wait unread meanwhile).
          if (++n % 3 !== 0) return true;
          setImmediate(() => sub.resume());
          return false;
        },
        complete: () => {
          c.end();
          done();
        },
        error: (err) => assert.fail(err as Error),
      });
    });
    try {
      const sent = pattern(SIZE, 6);
      await exchange(p, 9, sent);
      await finished;
      assert.ok(Buffer.from(concatBytes(received)).equals(Buffer.from(sent)), 'the bytes read are the bytes sent');
    } finally {
      s.unsubscribe();
      p.close();
    }
  });

  it('out-of-order segments (held in the reassembly queue) are not overwritten before they are read', async () => {
    // The client's link holds back every 7th large frame and sends it a few milliseconds later
    // (the reordering itself, not a synchronisation): the server reads the frames after the
    // hole in earlier batches than the one that fills it, and keeps them out of order meanwhile.
    const reorder: MonoTypeOperatorFunction<Uint8Array> = (source) =>
      new Observable<Uint8Array>((subscriber) => {
        let n = 0;
        let holding = false;
        return source.subscribe({
          next: (frame) => {
            if (frame.length > 1000 && !holding && ++n % 7 === 0) {
              const held = frame.slice();
              holding = true;
              setTimeout(() => {
                holding = false;
                subscriber.next(held);
              }, 5);
              return;
            }
            subscriber.next(frame);
          },
          error: (e) => subscriber.error(e),
          complete: () => subscriber.complete(),
        });
      });
    const p = pair(undefined, { link: { down: reorder } });
    let outOfOrder = 0;
    const s = p.server.tcp.listen({ port: 7 }).subscribe((c) => {
      c.data$.pipe(relayTo(c)).subscribe({ complete: () => (outOfOrder = c.counters.outOfOrderSegments) });
    });
    try {
      const sent = pattern(SIZE, 7);
      const back = await exchange(p, 7, sent);
      assert.ok(Buffer.from(back).equals(Buffer.from(sent)), 'the echo is the bytes sent');
      assert.ok(outOfOrder > 0, `segments arrived out of order (${outOfOrder})`);
      assert.ok(p.serverDevice.reuses > 0, 'in-order batches were still reused');
    } finally {
      s.unsubscribe();
      p.close();
    }
  });

  it('a link tap observed mid-stream: the frames it kept are intact, and nothing is reused while it observes', async () => {
    const p = pair();
    const s = p.server.tcp.listen({ port: 7 }).subscribe((c) => c.data$.pipe(relayTo(c)).subscribe());
    const kept: Array<{ view: Uint8Array; copy: Uint8Array }> = [];
    let tap: Subscription | undefined;
    try {
      const conn = await firstValueFrom(p.client.tcp.connect({ address: '198.18.0.2', port: 7 }));
      const back = readAll(conn);
      const first = pattern(SIZE, 8);
      conn.write(first.subarray(0, SIZE / 2));
      // Observe once recycling is under way.
      await waitUntil('a batch reused', () => p.serverDevice.reuses > 0);
      const reusesBefore = p.serverDevice.reuses;
      tap = p.server.taps.link.up$.subscribe((frame) => kept.push({ view: frame, copy: frame.slice() }));
      conn.write(first.subarray(SIZE / 2));
      conn.end();
      const echoed = await back;
      assert.ok(Buffer.from(echoed).equals(Buffer.from(first)), 'the echo is the bytes sent');
      assert.ok(kept.length > 0, 'the tap saw frames');
      for (const k of kept) assert.ok(Buffer.from(k.view).equals(Buffer.from(k.copy)), 'a frame the tap kept still holds its bytes');
      assert.equal(p.serverDevice.reuses, reusesBefore, 'no batch reused while the tap observes');
    } finally {
      tap?.unsubscribe();
      s.unsubscribe();
      p.close();
    }
  });

  it("an observe$ subscriber of the Ethernet demux that keeps TCP's frames: they are intact, and no batch is reused", async () => {
    const p = pair();
    const kept: Array<{ view: Uint8Array; copy: Uint8Array }> = [];
    const observer = p.server.layers.interfaces[0].ethernet!.observe$(0x0800).subscribe((frame) => kept.push({ view: frame, copy: frame.slice() }));
    const s = p.server.tcp.listen({ port: 7 }).subscribe((c) => c.data$.pipe(relayTo(c)).subscribe());
    try {
      const sent = pattern(SIZE, 12);
      const back = await exchange(p, 7, sent);
      assert.ok(Buffer.from(back).equals(Buffer.from(sent)), 'the echo is the bytes sent');
      assert.ok(kept.length > 0, 'the observer saw frames');
      for (const k of kept) assert.ok(Buffer.from(k.view).equals(Buffer.from(k.copy)), 'a frame the observer kept still holds its bytes');
      assert.equal(p.serverDevice.reuses, 0);
    } finally {
      observer.unsubscribe();
      s.unsubscribe();
      p.close();
    }
  });

  it("a second subscriber of the link's frames$ that keeps them: they are intact, and no batch is reused", async () => {
    const p = pair();
    const kept: Array<{ view: Uint8Array; copy: Uint8Array }> = [];
    const capture = p.serverLink.frames$.subscribe((frame) => kept.push({ view: frame, copy: frame.slice() }));
    const s = p.server.tcp.listen({ port: 7 }).subscribe((c) => c.data$.pipe(relayTo(c)).subscribe());
    try {
      const sent = pattern(SIZE, 12);
      const back = await exchange(p, 7, sent);
      assert.ok(Buffer.from(back).equals(Buffer.from(sent)), 'the echo is the bytes sent');
      assert.ok(kept.length > 0);
      for (const k of kept) assert.ok(Buffer.from(k.view).equals(Buffer.from(k.copy)), 'a frame the capture kept still holds its bytes');
      assert.equal(p.serverDevice.reuses, 0);
    } finally {
      capture.unsubscribe();
      s.unsubscribe();
      p.close();
    }
  });

  it('an operator on the link that hands up a frame it held from an earlier emit: the frame it holds meanwhile is intact', async () => {
    // Between the link and the stack: every 5th large frame is kept (its view, not a copy) and
    // handed up during the emit of the next such frame, in its place. So while the link emits
    // one frame, the stack consumes another: releasing the one it consumed must not release the
    // one being emitted, which the operator keeps.
    const swap: MonoTypeOperatorFunction<Uint8Array> = (source) =>
      new Observable<Uint8Array>((subscriber) => {
        let n = 0;
        let held: Uint8Array | undefined;
        return source.subscribe({
          next: (frame) => {
            if (frame.length > 1000 && ++n % 5 === 0) {
              const previous = held;
              held = frame;
              if (previous !== undefined) subscriber.next(previous);
              return;
            }
            subscriber.next(frame);
          },
          error: (e) => subscriber.error(e),
          complete: () => subscriber.complete(),
        });
      });
    const [da, db] = fakeDevicePair({ offload: true });
    da.poisonRecycled(POISON);
    db.poisonRecycled(POISON);
    const la = deviceLink(da.asTapDevice(), { mac: undefined, coalesceAcks: undefined, layer: 'ethernet' });
    const lb = deviceLink(db.asTapDevice(), { mac: undefined, coalesceAcks: undefined, layer: 'ethernet' });
    const swapped = { ...lb, frames$: lb.frames$.pipe(swap) };
    const client = createStack({ interfaces: [{ name: 'if0', link: la, mac: '02:00:00:00:00:01', ipv4: ['198.18.0.1/24'] }] });
    const server = createStack({ interfaces: [{ name: 'if0', link: swapped, mac: '02:00:00:00:00:02', ipv4: ['198.18.0.2/24'] }] });
    const s = server.tcp.listen({ port: 7 }).subscribe((c) => c.data$.pipe(relayTo(c)).subscribe());
    try {
      const sent = pattern(SIZE, 13);
      const back = await exchange({ client, server, serverDevice: db, clientDevice: da, serverLink: lb, close: () => undefined }, 7, sent);
      assert.ok(Buffer.from(back).equals(Buffer.from(sent)), 'the echo is the bytes sent');
    } finally {
      s.unsubscribe();
      client.close();
      server.close();
    }
  });

  it("a subscriber of the link's frames$ that comes during a batch: the frames it kept are intact", async () => {
    const p = pair();
    const kept: Array<{ view: Uint8Array; copy: Uint8Array }> = [];
    let capture: Subscription | undefined;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    let received = 0;
    const s = serve(p.server, 9, (c) => {
      const data$ = c.data$;
      assert.ok(isPaced(data$));
      data$[pacedRead]({
        copies: true,
        next: (chunk) => {
          received += chunk.length;
          // Half way, from inside a frame's handling: a capture subscribes to the link.
          if (capture === undefined && received >= SIZE / 2) {
            capture = p.serverLink.frames$.subscribe((frame) => kept.push({ view: frame, copy: frame.slice() }));
          }
          return true;
        },
        complete: () => {
          c.end();
          done();
        },
        error: (err) => assert.fail(err as Error),
      });
    });
    try {
      await exchange(p, 9, pattern(SIZE, 14));
      await finished;
      assert.ok(kept.length > 0, 'the capture saw frames');
      for (const k of kept) assert.ok(Buffer.from(k.view).equals(Buffer.from(k.copy)), 'a frame the capture kept still holds its bytes');
    } finally {
      capture?.unsubscribe();
      s.unsubscribe();
      p.close();
    }
  });

  it('a transport hook that keeps payloads: they are intact, and no batch is reused', async () => {
    const kept: Array<{ view: Uint8Array; copy: Uint8Array }> = [];
    const keep: MonoTypeOperatorFunction<{ payload: Uint8Array }> = map((d) => {
      kept.push({ view: d.payload, copy: d.payload.slice() });
      return d;
    });
    const p = pair({ transport: { up: keep as never } });
    const s = p.server.tcp.listen({ port: 7 }).subscribe((c) => c.data$.pipe(relayTo(c)).subscribe());
    try {
      const sent = pattern(SIZE, 9);
      const back = await exchange(p, 7, sent);
      assert.ok(Buffer.from(back).equals(Buffer.from(sent)), 'the echo is the bytes sent');
      for (const k of kept) assert.ok(Buffer.from(k.view).equals(Buffer.from(k.copy)), 'a payload the hook kept still holds its bytes');
      assert.equal(p.serverDevice.reuses, 0);
    } finally {
      s.unsubscribe();
      p.close();
    }
  });

  it('UDP datagrams queued unread while TCP bulk arrives in the same batches: they are intact when read', async () => {
    const p = pair();
    const s = discardService(p.server, 9);
    const udp = p.server.udp.bind({ port: 5000 });
    const sender = p.client.udp.bind({ port: 5001 });
    try {
      const conn = await firstValueFrom(p.client.tcp.connect({ address: '198.18.0.2', port: 9 }));
      const closed = firstValueFrom(conn.closed$);
      const datagrams: Uint8Array[] = [];
      for (let i = 0; i < 20; i++) {
        const d = pattern(1000, 100 + i);
        datagrams.push(d);
        sender.send(d, { address: '198.18.0.2', port: 5000 });
        conn.write(pattern(128 << 10, i));
      }
      conn.end();
      await closed;
      assert.ok(p.serverDevice.reuses > 0, 'batches of TCP alone were reused');
      // Read the queued datagrams only now.
      const got: Uint8Array[] = [];
      udp.datagrams$.subscribe((d) => got.push(d.payload)).unsubscribe();
      assert.equal(got.length, datagrams.length);
      for (let i = 0; i < got.length; i++) assert.ok(Buffer.from(got[i]).equals(Buffer.from(datagrams[i])), `datagram ${i} intact`);
    } finally {
      udp.close();
      sender.close();
      s.unsubscribe();
      p.close();
    }
  });

  it('stack.net sockets keep their chunks: every chunk a server socket emitted still holds the bytes sent', async () => {
    const p = pair();
    const kept: Buffer[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const server = p.server.net.createServer((socket) => {
      socket.on('data', (chunk: Buffer) => kept.push(chunk));
      socket.on('end', () => {
        socket.end();
        done();
      });
    });
    await new Promise<void>((r) => server.listen(9, r));
    try {
      const sent = pattern(SIZE, 10);
      await exchange(p, 9, sent);
      await finished;
      assert.ok(Buffer.concat(kept).equals(Buffer.from(sent)), 'the kept chunks are the bytes sent');
      assert.equal(p.serverDevice.reuses, 0);
    } finally {
      server.close();
      p.close();
    }
  });

  it('an observe$ subscriber of the Ethernet demux that keeps the frames: they are intact, no batch reused', async () => {
    const p = pair();
    const kept: Uint8Array[] = [];
    const s = p.server.layers.interfaces[0].ethernet!.observe$(0x0800).subscribe((f) => kept.push(f));
    try {
      await firstValueFrom(p.client.icmp.ping('198.18.0.2', { count: 8, interval: 1, size: 200 }).pipe(toArray()));
      assert.equal(kept.length, 8);
      const copies = kept.map((f) => f.slice());
      // The kept frames still hold the requests: ICMP's checksum over each checks, none poisoned.
      for (const f of copies) assert.equal(internetChecksum(f, 34, f.length - 34), 0, 'an intact echo request');
      assert.equal(p.serverDevice.reuses, 0);
    } finally {
      s.unsubscribe();
      p.close();
    }
  });

  it('recycleSlabs false: never reused', async () => {
    const [da, db] = fakeDevicePair({ offload: true });
    const la = deviceLink(da.asTapDevice(), { mac: undefined, coalesceAcks: undefined, layer: 'ethernet' });
    const lb = deviceLink(db.asTapDevice(), { mac: undefined, coalesceAcks: undefined, recycleSlabs: false, layer: 'ethernet' });
    const client = createStack({ interfaces: [{ name: 'if0', link: la, mac: '02:00:00:00:00:01', ipv4: ['198.18.0.1/24'] }] });
    const server = createStack({ interfaces: [{ name: 'if0', link: lb, mac: '02:00:00:00:00:02', ipv4: ['198.18.0.2/24'] }] });
    const s = discardService(server, 9);
    try {
      await exchange({ client, server, serverDevice: db, clientDevice: da, serverLink: lb, close: () => undefined }, 9, pattern(1 << 20, 11));
      assert.equal(db.reuses, 0);
    } finally {
      s.unsubscribe();
      client.close();
      server.close();
    }
  });
});
