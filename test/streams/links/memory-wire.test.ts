import assert from 'node:assert/strict';
import { firstValueFrom, take, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { NetstackError } from '../../../src/errors.js';
import { formatMac } from '../../../src/mac.js';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}

/** A frame of `length` bytes whose first byte is `id` (EtherType 0x0800 unless `etherType`). */
function frame(id: number, length = 64, etherType = 0x0800): Uint8Array {
  const f = new Uint8Array(length);
  f[0] = id;
  f[12] = etherType >> 8;
  f[13] = etherType & 0xff;
  return f;
}

describe('streams/links/memory-wire', () => {
  it('delivers in order both ways, asynchronously, the same frame objects', async () => {
    const [a, b] = createMemoryWire();
    const atB = firstValueFrom(b.frames$.pipe(take(3), toArray()));
    const atA = firstValueFrom(a.frames$.pipe(take(2), toArray()));
    const toB = [frame(1), frame(2), frame(3)];
    const toA = [frame(7), frame(8)];
    let syncDelivered = false;
    const probe = b.frames$.subscribe(() => (syncDelivered = true));
    for (const f of toB) a.send(f);
    for (const f of toA) b.send(f);
    assert.equal(syncDelivered, false, 'send never delivers inside the sender’s call');
    probe.unsubscribe();
    const [gotB, gotA] = await Promise.all([atB, atA]);
    assert.equal(gotB.length, 3);
    gotB.forEach((f, i) => assert.equal(f, toB[i]));
    gotA.forEach((f, i) => assert.equal(f, toA[i]));
    assert.equal(a.stats.txFrames, 3);
    assert.equal(b.stats.rxFrames, 3);
    assert.equal(b.stats.rxBytes, 3 * 64);
    a.close();
  });

  it('a reply sent from inside delivery goes out in a later flush (no re-entrance, no starvation)', async () => {
    const [a, b] = createMemoryWire();
    const order: string[] = [];
    b.frames$.subscribe((f) => {
      order.push(`b got ${f[0]}`);
      b.send(frame(f[0] + 100));
      order.push(`b sent ${f[0] + 100}`);
    });
    const replies = firstValueFrom(a.frames$.pipe(take(2), toArray()));
    a.send(frame(1));
    a.send(frame(2));
    const got = await replies;
    assert.deepEqual(got.map((f) => f[0]), [101, 102]);
    assert.deepEqual(order, ['b got 1', 'b sent 101', 'b got 2', 'b sent 102']);
    a.close();
  });

  it('with a scheduler and no timing, delivers at the same virtual instant in one batch', () => {
    const ts = newScheduler();
    const got: Array<[number, number]> = [];
    ts.run(() => {
      const [a, b] = createMemoryWire({ scheduler: ts });
      b.frames$.subscribe((f) => got.push([ts.now(), f[0]]));
      ts.schedule(() => {
        a.send(frame(1));
        a.send(frame(2));
        got.push([ts.now(), -1]); // marks the end of the sender's call
      }, 5);
    });
    assert.deepEqual(got, [[5, -1], [5, 1], [5, 2]]);
  });

  it('serialises frames at the given bandwidth, in order, plus latency (virtual time)', () => {
    const ts = newScheduler();
    const got: Array<[number, number]> = [];
    ts.run(() => {
      // 1000-byte frames at 8 Mbit/s take exactly 1 ms each.
      const [a, b] = createMemoryWire({ scheduler: ts, bandwidthBitsPerSecond: 8_000_000, latencyMs: 5 });
      b.frames$.subscribe((f) => got.push([ts.now(), f[0]]));
      ts.schedule(() => {
        a.send(frame(1, 1000));
        a.send(frame(2, 1000));
        a.send(frame(3, 500)); // half a millisecond
      }, 0);
      ts.schedule(() => a.send(frame(4, 1000)), 10);
    });
    assert.deepEqual(got, [
      [6, 1],
      [7, 2],
      [7.5, 3],
      [16, 4],
    ]);
  });

  it('latency alone delays every frame by the same amount', () => {
    const ts = newScheduler();
    const got: Array<[number, number]> = [];
    ts.run(() => {
      const [a, b] = createMemoryWire({ scheduler: ts, latencyMs: 3 });
      a.frames$.subscribe((f) => got.push([ts.now(), f[0]]));
      ts.schedule(() => b.send(frame(1)), 1);
      ts.schedule(() => b.send(frame(2)), 2);
    });
    assert.deepEqual(got, [[4, 1], [5, 2]]);
  });

  it('tail-drops beyond queueLimit frames waiting for serialisation', () => {
    const ts = newScheduler();
    const got: number[] = [];
    let stats = { droppedQueueFull: -1, txFrames: -1 };
    ts.run(() => {
      const [a, b] = createMemoryWire({ scheduler: ts, bandwidthBitsPerSecond: 8_000_000, queueLimit: 2 });
      b.frames$.subscribe((f) => got.push(f[0]));
      ts.schedule(() => {
        for (let i = 1; i <= 5; i++) a.send(frame(i, 1000));
      }, 0);
      // At t=1 the first frame is through: room for one more.
      ts.schedule(() => a.send(frame(6, 1000)), 1);
      ts.schedule(() => (stats = { ...a.stats }), 10);
    });
    assert.deepEqual(got, [1, 2, 6]);
    assert.equal(stats.droppedQueueFull, 3);
    assert.equal(stats.txFrames, 3);
  });

  it('drops and counts frames over mtu + 14 (+4 with an 802.1Q tag) and runts', async () => {
    const [a, b] = createMemoryWire({ mtu: 100 });
    const got = firstValueFrom(b.frames$.pipe(take(2), toArray()));
    a.send(frame(1, 115));
    a.send(frame(2, 114));
    a.send(frame(3, 119, 0x8100));
    a.send(frame(4, 118, 0x8100));
    a.send(new Uint8Array(13));
    assert.deepEqual((await got).map((f) => [f[0], f.length]), [[2, 114], [4, 118]]);
    assert.equal(a.stats.droppedOversize, 2);
    assert.equal(a.stats.droppedRunt, 1);
    assert.equal(a.stats.txFrames, 2);
    a.close();
  });

  it('close on one end completes both frames$, loses frames in flight and drops later sends', () => {
    const ts = newScheduler();
    const got: number[] = [];
    const completedAt: number[] = [];
    let bStats = { droppedClosed: -1 };
    ts.run(() => {
      const [a, b] = createMemoryWire({ scheduler: ts, latencyMs: 5 });
      a.frames$.subscribe({ next: (f) => got.push(f[0]), complete: () => completedAt.push(ts.now()) });
      b.frames$.subscribe({ next: (f) => got.push(f[0]), complete: () => completedAt.push(ts.now()) });
      ts.schedule(() => b.send(frame(1)), 0);
      ts.schedule(() => b.send(frame(2)), 4);
      ts.schedule(() => a.close(), 6);
      ts.schedule(() => {
        b.send(frame(3));
        a.send(frame(4));
        a.close(); // idempotent
      }, 7);
      ts.schedule(() => (bStats = { ...b.stats }), 20);
    });
    assert.deepEqual(got, [1], 'frame 2 was still on the wire');
    assert.deepEqual(completedAt, [6, 6]);
    assert.equal(bStats.droppedClosed, 1);
  });

  it('counts frames that arrive while nobody listens', async () => {
    const [a, b] = createMemoryWire();
    a.send(frame(1));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(b.stats.droppedNoListener, 1);
    assert.equal(b.stats.rxFrames, 0);
    a.close();
  });

  it('gives each end a name, the MTU and a MAC (random locally administered unicast, or given)', () => {
    const [a, b] = createMemoryWire();
    for (const end of [a, b]) {
      assert.equal(end.mac.length, 6);
      assert.equal(end.mac[0] & 0x03, 0x02, 'locally administered, unicast');
      assert.equal(end.mtu, 1500);
    }
    assert.notEqual(a.name, b.name);
    const [c, d] = createMemoryWire({ names: ['left', 'right'], macs: ['02:00:00:00:00:01', new Uint8Array([2, 0, 0, 0, 0, 2])], mtu: 9000 });
    assert.equal(c.name, 'left');
    assert.equal(d.name, 'right');
    assert.equal(formatMac(c.mac), '02:00:00:00:00:01');
    assert.equal(formatMac(d.mac), '02:00:00:00:00:02');
    assert.equal(c.mtu, 9000);
    for (const end of [a, c]) end.close();
  });

  it('rejects bad options naming every one', () => {
    assert.throws(
      () => createMemoryWire({ mtu: 10, bandwidthBitsPerSecond: 0, latencyMs: -1, queueLimit: 0, macs: ['nope', 'x'] as unknown as [string, string] }),
      (err: unknown) => {
        assert.ok(err instanceof NetstackError);
        assert.equal(err.code, 'ERR_INVALID_ARG_VALUE');
        for (const word of ['mtu', 'bandwidthBitsPerSecond', 'latencyMs', 'queueLimit', 'macs']) assert.ok(err.message.includes(word), word);
        return true;
      },
    );
  });
});
