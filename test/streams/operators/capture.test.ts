import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, from, Subject, take, toArray, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { LinkType, readPcap } from '../../../src/wire/pcap.js';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { capture, captureLink } from '../../../streams/operators/capture.js';
import type { Link } from '../../../streams/links/link.js';
import { concatBytes } from '../../helpers/bytes.js';

function frame(id: number, length: number): Uint8Array {
  const f = new Uint8Array(length);
  for (let i = 0; i < length; i++) f[i] = (id * 13 + i * 7) & 0xff;
  f[0] = id;
  return f;
}

/** A clock that says 1000.5, 1001.5, ... ms: each record gets a known timestamp. */
function steppingClock(startMs: number): SchedulerLike {
  let t = startMs - 1;
  const ts = new TestScheduler(() => undefined);
  return { now: () => ++t, schedule: ts.schedule.bind(ts) };
}

describe('streams/operators/capture', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rx-netstack-capture-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a pcap file that readPcap reads back byte-exact, passing frames on unchanged', async () => {
    const path = join(dir, 'out.pcap');
    const frames = [frame(1, 60), frame(2, 1514), frame(3, 42)];
    const passed: Uint8Array[] = [];
    const closed = new Promise<Error | undefined>((resolve) => {
      from(frames)
        .pipe(capture(path, { scheduler: steppingClock(1000.5), onClose: resolve }))
        .subscribe((f) => passed.push(f));
    });
    assert.equal(await closed, undefined);
    passed.forEach((f, i) => assert.equal(f, frames[i], 'same object passed on'));

    const file = readPcap(new Uint8Array(await readFile(path)));
    assert.ok(file.ok, file.ok ? '' : file.reason);
    assert.equal(file.linkType, LinkType.ETHERNET);
    assert.equal(file.linkType, 1);
    assert.equal(file.records.length, 3);
    file.records.forEach((r, i) => {
      assert.deepEqual(r.data, frames[i]);
      assert.equal(r.origLength, frames[i].length);
      assert.equal(r.timestampUs, 1_000_500 + i * 1000);
    });
  });

  it('closes the file on unsubscribe, with the frames seen so far', async () => {
    const path = join(dir, 'partial.pcap');
    const source = new Subject<Uint8Array>();
    let onClose!: (e?: Error) => void;
    const closed = new Promise<Error | undefined>((resolve) => (onClose = resolve));
    const sub = source.pipe(capture(path, { onClose })).subscribe();
    source.next(frame(1, 60));
    source.next(frame(2, 60));
    sub.unsubscribe();
    source.next(frame(3, 60));
    assert.equal(await closed, undefined);
    const file = readPcap(new Uint8Array(await readFile(path)));
    assert.ok(file.ok);
    assert.deepEqual(file.records.map((r) => r.data[0]), [1, 2]);
  });

  it('writes to any byte sink, truncating to snaplen, with virtual-time stamps', () => {
    const ts = new TestScheduler((a, e) => assert.deepStrictEqual(a, e));
    const chunks: Uint8Array[] = [];
    ts.run(({ cold, expectObservable }) => {
      const values = { a: frame(1, 100), b: frame(2, 30) };
      const source = cold('a 9ms b|', values);
      expectObservable(source.pipe(capture({ write: (b: Uint8Array) => chunks.push(b) }, { snaplen: 64, scheduler: ts }))).toBe('a 9ms b|', values);
    });
    const file = readPcap(concatBytes(chunks));
    assert.ok(file.ok);
    assert.equal(file.snaplen, 64);
    assert.deepEqual(
      file.records.map((r) => [r.timestampUs, r.data.length, r.origLength]),
      [
        [0, 64, 100],
        [10_000, 30, 30],
      ],
    );
    assert.deepEqual(file.records[0].data, frame(1, 100).subarray(0, 64));
  });

  it('stamps records by default with the wall clock to the microsecond, not whole milliseconds', () => {
    const chunks: Uint8Array[] = [];
    const before = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    const source = new Subject<Uint8Array>();
    source.pipe(capture({ write: (b: Uint8Array) => chunks.push(b) })).subscribe();
    for (let i = 0; i < 8; i++) {
      // About 0.1 ms apart: a millisecond clock would give most of them the same stamp.
      const until = performance.now() + 0.1;
      while (performance.now() < until);
      source.next(frame(i, 60));
    }
    const after = Math.ceil((performance.timeOrigin + performance.now()) * 1000);
    const file = readPcap(concatBytes(chunks));
    assert.ok(file.ok);
    const stamps = file.records.map((r) => r.timestampUs);
    assert.equal(stamps.length, 8);
    for (const t of stamps) assert.ok(t >= before && t <= after, `stamp ${t} outside [${before}, ${after}]`);
    // Eight stamps ~100 us apart: with millisecond stamps at most two distinct values appear.
    assert.ok(new Set(stamps).size >= 4, `stamps ${stamps.join(', ')}`);
    assert.ok(stamps.some((t) => t % 1000 !== 0), 'every stamp is a whole millisecond');
  });

  it('a failing file does not stop the frames: onError, then onClose with the error', async () => {
    const path = join(dir, 'no-such-dir', 'x.pcap');
    const errors: Error[] = [];
    const passed: number[] = [];
    let onClose!: (e?: Error) => void;
    const closed = new Promise<Error | undefined>((resolve) => (onClose = resolve));
    let onError!: (e: Error) => void;
    const failed = new Promise<void>((resolve) => (onError = (e) => (errors.push(e), resolve())));
    const source = new Subject<Uint8Array>();
    const completed = new Promise<void>((resolve) => {
      source.pipe(capture(path, { onError, onClose })).subscribe({ next: (f) => passed.push(f[0]), complete: resolve });
    });
    source.next(frame(1, 60));
    await failed;
    source.next(frame(2, 60)); // after the open failed
    source.complete();
    const err = await closed;
    await completed;
    assert.equal((err as NodeJS.ErrnoException | undefined)?.code, 'ENOENT');
    assert.equal(errors.length, 1);
    assert.deepEqual(passed, [1, 2]);
  });

  it('captureLink records both directions of a link into one pcap, in order', async () => {
    const path = join(dir, 'link.pcap');
    const [a, b] = createMemoryWire();
    let onClose!: (e?: Error) => void;
    const closed = new Promise<Error | undefined>((resolve) => (onClose = resolve));
    const tapped = captureLink(b, path, { onClose });
    const received: number[] = [];
    tapped.frames$.subscribe((f) => {
      received.push(f[0]);
      tapped.send(frame(f[0] + 100, 60)); // answer each frame
    });
    const answers = firstValueFrom(a.frames$.pipe(take(2), toArray()));
    a.send(frame(1, 60));
    a.send(frame(2, 64));
    assert.deepEqual((await answers).map((f) => f[0]), [101, 102]);
    tapped.close();
    assert.equal(await closed, undefined);
    assert.deepEqual(received, [1, 2]);
    const file = readPcap(new Uint8Array(await readFile(path)));
    assert.ok(file.ok);
    assert.deepEqual(file.records.map((r) => r.data[0]), [1, 101, 2, 102]);
    assert.deepEqual(file.records[1].data, frame(101, 60));
  });

  it('captureLink keeps the checksum offload of the link below (sendPartial), recording those frames too', async () => {
    const path = join(dir, 'partial.pcap');
    const partials: Array<[number, number, number]> = [];
    const plain: number[] = [];
    const below: Link = {
      name: 'fake0',
      mtu: 1500,
      frames$: new Subject<Uint8Array>(),
      send: (f) => plain.push(f[0]),
      sendPartial: (f, start, offset) => partials.push([f[0], start, offset]),
      close: () => undefined,
    };
    let onClose!: (e?: Error) => void;
    const closed = new Promise<Error | undefined>((resolve) => (onClose = resolve));
    const tapped = captureLink(below, path, { onClose });
    assert.equal(typeof tapped.sendPartial, 'function');
    tapped.sendPartial!(frame(7, 80), 34, 16);
    tapped.send(frame(8, 60));
    tapped.close();
    assert.equal(await closed, undefined);
    assert.deepEqual(partials, [[7, 34, 16]]);
    assert.deepEqual(plain, [8]);
    const file = readPcap(new Uint8Array(await readFile(path)));
    assert.ok(file.ok);
    assert.deepEqual(file.records.map((r) => r.data[0]), [7, 8]);
    // Without sendPartial below, none above: the stack then finishes every checksum itself.
    const [a] = createMemoryWire();
    const plainCapture = captureLink(a, join(dir, 'plain.pcap'));
    assert.equal(plainCapture.sendPartial, undefined);
    plainCapture.close();
  });
});
