/**
 * TapDevice against the real kernel, in namespaces the tests make (test/helpers/netns.ts).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TapDevice } from '../../../streams/links/tap-device.js';
import { waitFor } from '../../helpers/wait-for.js';
import { describeKernelPeer, useKernelPeer, type KernelPeer } from '../../helpers/netns.js';
import { pyArpTrickle } from '../../helpers/py-arp-trickle.js';

/** A 42-byte gratuitous ARP from 198.18.0.2 (02:00:00:00:00:02): harmless for the kernel. */
const GARP = Uint8Array.from(Buffer.from(
  'ffffffffffff' + '020000000002' + '0806' + '0001' + '0800' + '06' + '04' + '0001' +
  '020000000002' + 'c6120002' + '000000000000' + 'c6120002', 'hex'));

/** An ARP request from 198.18.0.2 for the kernel's address (198.18.0.1), and a test for its answer. */
const ARP_REQUEST = Uint8Array.from(Buffer.from(
  'ffffffffffff' + '020000000002' + '0806' + '0001' + '0800' + '06' + '04' + '0001' +
  '020000000002' + 'c6120002' + '000000000000' + 'c6120001', 'hex'));
const isArpReply = (f: Uint8Array): boolean => f.length >= 42 && f[12] === 0x08 && f[13] === 0x06 && f[21] === 2 && f[31] === 1;

const trickle = (count: number, first = 10): string => pyArpTrickle(count, { first });

async function expectCode(fn: () => unknown, code: string, syscall?: string): Promise<Error & { code: string }> {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof Error, `expected an error with code ${code}`);
  const error = caught as Error & { code: string; syscall?: string };
  assert.equal(error.code, code, error.message);
  if (syscall !== undefined) assert.equal(error.syscall, syscall);
  return error;
}

describeKernelPeer('TapDevice: a device we create', () => {
  const peer = useKernelPeer({ createTap: false, tapName: 'rxdev0' });
  const open = (p: KernelPeer, extra: Partial<ConstructorParameters<typeof TapDevice>[0]> = {}): TapDevice =>
    new TapDevice({ name: p.tapName, netns: p.netns, ...extra });

  it('is created inside the namespace, not in the root one, and disappears on close', async () => {
    const device = open(peer());
    try {
      assert.equal(device.created, true);
      assert.equal(device.name, 'rxdev0');
      assert.equal(device.netns, peer().netns);
      assert.equal((await peer().linkInfo())?.name, 'rxdev0');
      const inRoot = await new Promise<number | null>((resolve) => {
        execFile('ip', ['link', 'show', 'dev', 'rxdev0'], (error) => resolve(error === null ? 0 : 1));
      });
      assert.equal(inRoot, 1, 'no device of that name in the root namespace');
    } finally {
      device.close();
    }
    assert.equal(await peer().linkInfo(), undefined);
  });

  it('sets and reads back MTU and MAC, as the kernel reports them', async () => {
    const device = open(peer(), { mtu: 1400, mac: '02:aa:bb:cc:dd:01' });
    try {
      assert.equal(device.mtu, 1400);
      assert.equal(device.mac, '02:aa:bb:cc:dd:01');
      let info = await peer().linkInfo();
      assert.equal(info?.mtu, 1400);
      assert.equal(info?.address, '02:aa:bb:cc:dd:01');
      device.mtu = 9000;
      device.mac = '02:aa:bb:cc:dd:02';
      assert.deepEqual([...device.macBytes], [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x02]);
      info = await peer().linkInfo();
      assert.equal(info?.mtu, 9000);
      assert.equal(info?.address, '02:aa:bb:cc:dd:02');
      await expectCode(() => { device.mtu = 20; }, 'ERR_INVALID_ARG_VALUE');
      await expectCode(() => { device.mac = 'zz:00:00:00:00:00'; }, 'ERR_INVALID_ARG_VALUE');
      // The kernel refuses a multicast MAC: its errno comes through.
      await expectCode(() => { device.mac = '01:00:5e:00:00:01'; }, 'EADDRNOTAVAIL', 'ioctl');
    } finally {
      device.close();
    }
  });

  it('goes up and down, and shows carrier while we hold it', async () => {
    const device = open(peer());
    try {
      assert.equal(device.isUp, false);
      device.up();
      assert.equal(device.isUp, true);
      assert.ok((await peer().linkInfo())?.flags.includes('UP'));
      assert.equal(device.isRunning, true);
      device.down();
      assert.equal(device.isUp, false);
      assert.ok(!(await peer().linkInfo())?.flags.includes('UP'));
      device.isUp = true;
      assert.ok((await peer().linkInfo())?.flags.includes('UP'));
    } finally {
      device.close();
    }
  });

  it('renames the device, and keeps following it when renamed by someone else', async () => {
    const device = open(peer());
    try {
      device.name = 'rxdev1';
      assert.equal(device.name, 'rxdev1');
      assert.equal((await peer().linkInfo('rxdev1'))?.name, 'rxdev1');
      await peer().ip(['link', 'set', 'rxdev1', 'name', 'rxdev2']);
      assert.equal(device.name, 'rxdev2');
      device.mtu = 1300; // ioctls use the current name
      assert.equal((await peer().linkInfo('rxdev2'))?.mtu, 1300);
      await expectCode(() => { device.name = 'x'.repeat(16); }, 'EINVAL', 'ioctl');
    } finally {
      device.close();
    }
  });

  it('writing while the device is down drops the frame and counts it, without throwing', () => {
    const device = open(peer());
    try {
      assert.equal(device.write(GARP), false);
      assert.equal(device.stats().txErrors, 1);
      device.up();
      assert.equal(device.write(GARP), true);
      assert.equal(device.stats().txFrames, 1);
    } finally {
      device.close();
    }
  });

  it('write(frame, vnetHeader) puts the given virtio_net_hdr in front with offload, and is ERR_INVALID_STATE without', async () => {
    const device = open(peer(), { offload: true, up: true });
    try {
      // A header the kernel refuses (GSO type 0x7f) shows the header we pass is the one it reads.
      const bad = new Uint8Array(10);
      bad[1] = 0x7f;
      assert.equal(device.write(GARP, bad), false);
      assert.equal(device.stats().txErrors, 1);
      assert.equal(device.write(GARP, new Uint8Array(10)), true);
      assert.equal(device.stats().txFrames, 1);
      assert.equal(device.stats().txBytes, GARP.length, 'frame bytes only, the header not counted');
    } finally {
      device.close();
    }
    const plain = open(peer(), { up: true });
    try {
      await expectCode(() => plain.write(GARP, new Uint8Array(10)), 'ERR_INVALID_STATE');
    } finally {
      plain.close();
    }
  });

  it('writeSpan(bytes, start, end): the span is header and frame in one piece with offload, the frame alone without; a span outside bytes or shorter than the header is ERR_OUT_OF_RANGE', async () => {
    const device = open(peer(), { offload: true, up: true });
    try {
      // Room in front of the frame, the header written there: a header the kernel refuses (GSO
      // type 0x7f) shows the bytes in front are the ones it reads as the header.
      const buf = new Uint8Array(16 + GARP.length);
      buf.set(GARP, 16);
      buf[6 + 1] = 0x7f;
      assert.equal(device.writeSpan(buf, 6, buf.length), false);
      assert.equal(device.stats().txErrors, 1);
      buf[6 + 1] = 0;
      assert.equal(device.writeSpan(buf, 6, buf.length), true);
      assert.equal(device.stats().txFrames, 1);
      assert.equal(device.stats().txBytes, GARP.length, 'frame bytes only, the header not counted');
      await expectCode(() => device.writeSpan(buf, 6, buf.length + 1), 'ERR_OUT_OF_RANGE');
      await expectCode(() => device.writeSpan(buf, 6, 15), 'ERR_OUT_OF_RANGE');
      await expectCode(() => device.writeSpan(buf, 20, 10), 'ERR_OUT_OF_RANGE');
      assert.equal(device.stats().txFrames, 1, 'nothing written by a refused call');
    } finally {
      device.close();
    }
    const plain = open(peer(), { up: true });
    try {
      const buf = new Uint8Array(4 + GARP.length);
      buf.set(GARP, 4);
      assert.equal(plain.writeSpan(buf, 4, buf.length), true);
      assert.equal(plain.stats().txBytes, GARP.length);
    } finally {
      plain.close();
    }
  });

  it('writeBatch\'s flat form: each frame is the next counts[i] pieces (one writev); counts that do not add up are ERR_INVALID_ARG_VALUE and nothing is written', async () => {
    const device = open(peer(), { up: true });
    try {
      const head = GARP.subarray(0, 14);
      const rest = GARP.subarray(14);
      assert.equal(device.writeBatch([head, rest, GARP, head, rest], new Uint8Array([2, 1, 2])), 3);
      assert.equal(device.stats().txFrames, 3);
      assert.equal(device.stats().txBytes, 3 * GARP.length, 'a frame in pieces is one frame of the whole length');
      await expectCode(() => device.writeBatch([head, rest, GARP], new Uint8Array([2, 2])), 'ERR_INVALID_ARG_VALUE');
      await expectCode(() => device.writeBatch([GARP], new Uint8Array([0, 1])), 'ERR_INVALID_ARG_VALUE');
      assert.equal(device.stats().txFrames, 3, 'a refused batch wrote nothing');
    } finally {
      device.close();
    }
  });

  it('after close: no more frames, a second close is harmless, writing throws ERR_LINK_CLOSED', async () => {
    const device = open(peer(), { up: true });
    await peer().configureHost();
    let batches = 0;
    device.onFrames(() => {
      batches++;
    });
    const sender = peer().python(trickle(40)); // 0.8 s of ARP requests
    await waitFor('a first frame', () => (batches > 0 ? true : undefined));
    device.close();
    const atClose = batches;
    device.close();
    assert.equal(device.closed, true);
    // The kernel goes on sending for the rest of the 0.8 s: none of it may come through.
    await sender;
    assert.equal(batches, atClose, 'no frame delivered after close');
    await expectCode(() => device.write(GARP), 'ERR_LINK_CLOSED');
  });

  it('busy polling (opt-in): batches that arrive within the window are read while the loop spins', async () => {
    // The kernel sends a frame every 20 ms for 0.3 s; with a 100 ms window every batch read
    // within 100 ms of the previous one finds the loop still spinning. Without the option none
    // does. Judged batch by batch from when each came, not by how many hit: on a starved CPU the
    // trickle itself comes in bursts with longer gaps, whose batches rightly miss the window.
    const WINDOW_MS = 100;
    const run = async (busyPollUs: number | undefined): Promise<Array<{ gapMs: number; hit: boolean }>> => {
      const device = open(peer(), busyPollUs === undefined ? { up: true } : { up: true, busyPollUs });
      try {
        await peer().configureHost();
        const batches: Array<{ gapMs: number; hit: boolean }> = [];
        let hits = 0;
        let lastEnd = Number.NEGATIVE_INFINITY;
        device.onFrames(() => {
          // busyPollHits counts this batch before it is delivered; the window opens once this
          // callback has returned, so the gap measured here is never shorter than the real one.
          const hitsNow = device.stats().busyPollHits;
          batches.push({ gapMs: performance.now() - lastEnd, hit: hitsNow > hits });
          hits = hitsNow;
          lastEnd = performance.now();
        });
        await peer().python(trickle(15));
        await waitFor('the trickle to arrive', () => (batches.length >= 5 ? true : undefined));
        return batches;
      } finally {
        device.close();
      }
    };
    const off = await run(undefined);
    assert.deepEqual(off.filter((b) => b.hit), [], 'no busy polling unless asked for');
    const on = await run(WINDOW_MS * 1000);
    const seen = on.map((b) => `${b.gapMs.toFixed(0)} ms ${b.hit ? 'hit' : 'miss'}`).join(', ');
    const inWindow = on.filter((b) => b.gapMs < WINDOW_MS);
    assert.ok(inWindow.length > 0, `some batches came within the window of the one before (${seen})`);
    assert.deepEqual(inWindow.filter((b) => !b.hit), [], `every batch within the window found the loop spinning (${seen})`);
  });

  it('the own wait (ownSleep, as the nat uses it): frames after a wake-up are served from its poll(2); ownSleep(false) from such a delivery ends the wait at once', async () => {
    // The kernel sends a frame every 20 ms. After the first wake-up the handle waits itself until
    // libuv's next timer (none due for 10 s here), so the next frames are served from that wait
    // (ownSleeps). Turned off from inside one of those deliveries, the wait must end there: no
    // further frame served by it and no further wait handed back to libuv, while frames keep
    // coming through libuv's loop.
    const device = open(peer(), { up: true });
    try {
      await peer().configureHost();
      const handle = device.nativeHandle;
      handle.ownSleep(true);
      let atOff: { ownSleeps: number; ownSleepExits: number } | undefined;
      let after = 0;
      let settle!: () => void;
      const done = new Promise<void>((resolve) => (settle = resolve));
      device.onFrames(() => {
        const s = device.stats();
        if (atOff === undefined) {
          if (s.ownSleeps > 0) {
            handle.ownSleep(false);
            atOff = { ownSleeps: s.ownSleeps, ownSleepExits: s.ownSleepExits };
          }
        } else if (++after === 3) settle();
      });
      const guard = setTimeout(() => settle(), 10_000);
      const trickling = peer().python(trickle(20));
      await done;
      clearTimeout(guard);
      assert.ok(atOff !== undefined, 'a frame was served from the own wait');
      assert.equal(after, 3, 'frames kept coming after the wait was turned off');
      const s = device.stats();
      assert.deepEqual({ ownSleeps: s.ownSleeps, ownSleepExits: s.ownSleepExits }, atOff, 'nothing served or waited by the own wait after ownSleep(false)');
      await trickling;
    } finally {
      device.close();
    }
  });

  it('under request/response a wake-up reads one frame, without the read that ends in EAGAIN; a backlog or a frame left unanswered ends it', async () => {
    const device = open(peer(), { up: true });
    try {
      await peer().configureHost();
      /** Per batch: how many of its frames are ARP requests for 198.18.0.100..119 (the burst). */
      const burstPerBatch: number[] = [];
      let frames = 0;
      let answer = true;
      /** How a frame is answered: a write to the device, or (the burst) through another socket. */
      let elsewhere = false;
      /** Called after each batch is handled; false: answer no more. */
      let watch: (() => false | undefined) | undefined;
      device.onFrames((batch) => {
        frames += batch.length;
        burstPerBatch.push(batch.filter((f) => f.length >= 42 && f[12] === 0x08 && f[13] === 0x06 && f[40] === 0 && f[41] >= 100 && f[41] < 120).length);
        // Request/response: every wake-up writes something back before it returns.
        if (answer && elsewhere) device.answeredElsewhere();
        else if (answer) device.write(GARP);
        if (watch?.() === false) answer = false;
      });
      // A frame every 20 ms, each answered: without the cut every batch ends with an empty
      // read; with it only the first four and one probe in eight do.
      await peer().python(trickle(20));
      await waitFor('the trickle to arrive', () => (frames >= 20 ? true : undefined));
      const trickled = device.stats();
      assert.ok(trickled.rxEmptyReads <= trickled.rxBatches / 2, `empty reads ${trickled.rxEmptyReads} for ${trickled.rxBatches} batches`);
      // Each answer is followed by a read for the next request (rxRereads), which here finds
      // nothing: after four such misses only every 16th chance is taken.
      assert.equal(trickled.rxRereads, 0);
      assert.ok(trickled.rxRereadMisses <= 4 + Math.ceil(trickled.rxBatches / 16), `re-reads that missed: ${trickled.rxRereadMisses} for ${trickled.rxBatches} batches`);
      // A backlog: the event loop is blocked while the kernel queues 20 ARP requests, so the
      // next wake-ups find them all waiting. One frame per wake-up would take 20 batches; the
      // probe reads the rest as one batch within eight wake-ups, after its own first frame was
      // handed over: at most nine batches. Answered elsewhere (no write to the device, so no
      // re-read after the answer, which would otherwise serve the backlog one frame at a time
      // whenever its every-16th chance fell on the burst): only the probe can take it.
      const beforeBurst = device.stats();
      elsewhere = true;
      execFileSync('ip', ['netns', 'exec', peer().netns, 'python3', '-c', `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20):
    s.sendto(b'x', ('198.18.0.%d' % (100 + i), 9))`], { timeout: 10_000 });
      await waitFor('the burst to arrive', () => (burstPerBatch.reduce((a, b) => a + b, 0) >= 20 ? true : undefined));
      elsewhere = false;
      const burstBatches = burstPerBatch.filter((n) => n > 0);
      assert.ok(burstBatches.length <= 9, `the 20 waiting frames came in ${burstBatches.length} batches (${burstBatches.join(' ')})`);
      const burst = device.stats();
      assert.ok(burst.rxProbeHits > beforeBurst.rxProbeHits && Math.max(...burstBatches) >= 2, `the probe's batch took the backlog: ${burst.rxProbeHits - beforeBurst.rxProbeHits} probes that found frames`);
      // Back to one frame per wake-up, answered; right after a probe (a batch read to EAGAIN
      // after single reads, made after its wake-up's delivery: seen by the next one) the frames
      // go unanswered: the first such frame ends the single reads, so every later batch is read
      // to EAGAIN (not only the next probe's, 7 wake-ups on).
      let lastEmpty = device.stats().rxEmptyReads;
      let singles = 0;
      let atSwitch: ReturnType<TapDevice['stats']> | undefined;
      watch = () => {
        const s = device.stats();
        const drained = s.rxEmptyReads > lastEmpty;
        lastEmpty = s.rxEmptyReads;
        if (!drained) singles++;
        else if (singles >= 3 && atSwitch === undefined) {
          atSwitch = s;
          return false; // this batch is still answered; the next ones are not
        }
        return undefined;
      };
      await peer().python(trickle(24, 30));
      await waitFor('the last trickle to arrive', () => (atSwitch !== undefined && device.stats().rxBatches >= atSwitch.rxBatches + 8 ? true : undefined));
      const end = device.stats();
      const batches = end.rxBatches - atSwitch!.rxBatches;
      const empty = end.rxEmptyReads - atSwitch!.rxEmptyReads;
      assert.ok(empty >= batches - 1, `unanswered: empty reads ${empty} for ${batches} batches`);
    } finally {
      device.close();
    }
  });

  it('under request/response the probe for a backlog reads after the wake-up\'s frame was answered: its read to EAGAIN is not between the request and the answer', async () => {
    const device = open(peer(), { up: true });
    try {
      await peer().configureHost();
      // Per delivery: the empty reads counted when it starts, and once its wake-up has ended (a
      // macrotask later; the next frame is 20 ms away).
      const atStart: number[] = [];
      const afterWake: number[] = [];
      device.onFrames(() => {
        const i = atStart.push(device.stats().rxEmptyReads) - 1;
        device.write(GARP); // request/response: every wake-up answers before it returns
        setImmediate(() => { afterWake[i] = device.stats().rxEmptyReads; });
      });
      await peer().python(trickle(40));
      await waitFor('the trickle', () => (afterWake.filter((x) => x !== undefined).length >= 40 ? true : undefined));
      // The probes: wake-ups whose read to EAGAIN came after their delivery. Each read one frame
      // before it (no empty read since the wake-up before ended), as the single reads do.
      const probes = [...atStart.keys()].filter((i) => afterWake[i] > atStart[i]);
      const s = device.stats();
      assert.ok(probes.length >= 3, `probes after the answer: ${probes.length} in ${atStart.length} wake-ups (rxProbes ${s.rxProbes})`);
      for (const i of probes) assert.ok(i > 0 && atStart[i] === afterWake[i - 1], `wake-up ${i}: an empty read before its delivery too`);
      assert.equal(s.rxProbes, probes.length, 'each probe made after a delivery');
      assert.equal(s.rxProbeHits, 0, 'spaced frames: the probes found nothing waiting');
      // What the probe decides is kept: it found nothing, so the single reads go on (about one
      // probe per eight wake-ups, not a batch read to EAGAIN before each delivery).
      const before = [...atStart.keys()].filter((i) => i > 0 && atStart[i] > afterWake[i - 1]);
      assert.ok(before.length <= 6, `deliveries after a read to EAGAIN: ${before.length} of ${atStart.length} (${before.join(' ')})`);
    } finally {
      device.close();
    }
  });

  it('a request whose answer, written to the device, draws the next request at once is served in the same wake-up (up to 16 per wake-up)', async () => {
    // ARP requests for the kernel's address: the kernel answers each during our write (its ARP
    // runs in that system call), so the answer is waiting when the write returns. Each answer
    // read draws the next request from the handler: without the re-read, a wake-up per answer.
    const device = open(peer(), { up: true });
    try {
      await peer().configureHost();
      let replies = 0;
      const TOTAL = 48;
      device.onFrames((batch) => {
        for (const f of batch) if (isArpReply(f) && ++replies < TOTAL) device.write(ARP_REQUEST);
      });
      const before = device.stats();
      device.write(ARP_REQUEST);
      await waitFor('the chain of answers', () => (replies >= TOTAL ? true : undefined));
      const s = device.stats();
      const rereads = s.rxRereads - before.rxRereads;
      const wakeups = s.rxBatches - before.rxBatches - rereads - (s.rxProbeHits - before.rxProbeHits);
      // 48 answers in about 3 wake-ups (16 each); allow for stray frames (IPv6, the kernel's own).
      assert.ok(rereads >= TOTAL / 2, `answers read right after the request that drew them: ${rereads} of ${TOTAL}`);
      assert.ok(wakeups <= TOTAL / 4, `wake-ups: ${wakeups} for ${TOTAL} answers`);
    } finally {
      device.close();
    }
  });

  it('the exchanges a wake-up serves after its first share one callback: a microtask of one runs after the next is handed over, and all of them before the wake-up ends', async () => {
    const device = open(peer(), { up: true });
    try {
      await peer().configureHost();
      let replies = 0;
      let pending = 0;
      let rereadsSeen = device.stats().rxRereads;
      /** Re-read deliveries that found the microtask of the delivery before still queued. */
      let sharedScope = 0;
      /** Deliveries of a wake-up's own (not re-reads) that found a microtask still queued. */
      let leftOver = 0;
      const TOTAL = 48;
      device.onFrames((batch) => {
        const rereads = device.stats().rxRereads;
        const reread = rereads > rereadsSeen;
        rereadsSeen = rereads;
        if (pending > 0) {
          if (reread) sharedScope++;
          else leftOver++;
        }
        for (const f of batch) {
          if (!isArpReply(f) || ++replies >= TOTAL) continue;
          device.write(ARP_REQUEST); // answered at once: the next answer is read in this wake-up
          pending++;
          queueMicrotask(() => pending--);
        }
      });
      device.write(ARP_REQUEST);
      await waitFor('the chain of answers', () => (replies >= TOTAL ? true : undefined));
      assert.equal(pending, 0);
      assert.equal(leftOver, 0, 'every microtask ran before the next wake-up');
      assert.ok(sharedScope >= TOTAL / 2, `re-reads handed over in the wake-up's scope: ${sharedScope} of ${TOTAL}`);
    } finally {
      device.close();
    }
  });

  it('an answer written from a microtask still draws the next request into the same wake-up', async () => {
    // The scope is closed at once after a delivery that wrote nothing, so the microtask's write
    // is seen as the exchange's answer, as at the end of a delivery of its own.
    const device = open(peer(), { up: true });
    try {
      await peer().configureHost();
      let replies = 0;
      const TOTAL = 48;
      device.onFrames((batch) => {
        for (const f of batch) {
          if (isArpReply(f) && ++replies < TOTAL) void Promise.resolve().then(() => device.write(ARP_REQUEST));
        }
      });
      const before = device.stats();
      device.write(ARP_REQUEST);
      await waitFor('the chain of answers', () => (replies >= TOTAL ? true : undefined));
      const s = device.stats();
      const rereads = s.rxRereads - before.rxRereads;
      assert.ok(rereads >= TOTAL / 2, `answers read right after the request that drew them: ${rereads} of ${TOTAL}`);
      const wakeups = s.rxBatches - before.rxBatches - rereads - (s.rxProbeHits - before.rxProbeHits);
      assert.ok(wakeups <= TOTAL / 4, `wake-ups: ${wakeups} for ${TOTAL} answers`);
    } finally {
      device.close();
    }
  });

  it('the one-read rule holds when the frame re-read after an answer draws nothing (the peer\'s ACK of it, as under TCP_CRR); leaving it for the next wake-up stops when it comes alone', async () => {
    // Each frame of the trickle (a kernel ARP request) is answered with an ARP request for the
    // kernel's address, which the kernel answers inside our write: the re-read right after the
    // answer finds that reply, and the handler leaves it unanswered, as the stack leaves the
    // ACK of its SYN-ACK, reply or FIN. Before, such a frame ended the rule, so every wake-up
    // was read to EAGAIN; now only the first few (and one probe in eight) are.
    const device = open(peer(), { up: true });
    try {
      await peer().configureHost();
      let requests = 0;
      device.onFrames((batch) => {
        for (const f of batch) {
          const trickled = f.length >= 42 && f[12] === 0x08 && f[13] === 0x06 && f[21] === 1 && f[41] >= 10 && f[41] < 30;
          if (!trickled) continue;
          requests++;
          device.write(ARP_REQUEST);
        }
      });
      const before = device.stats();
      await peer().python(trickle(20));
      await waitFor('the trickle to arrive', () => (requests >= 20 ? true : undefined));
      const s = device.stats();
      const rereads = s.rxRereads - before.rxRereads;
      const wakeups = s.rxBatches - before.rxBatches - rereads - (s.rxProbeHits - before.rxProbeHits);
      const empty = s.rxEmptyReads - before.rxEmptyReads;
      assert.ok(rereads >= 10, `replies read right after the answer that drew them: ${rereads} for ${requests} requests`);
      assert.ok(empty <= wakeups / 2, `empty reads ${empty} for ${wakeups} wake-ups`);
      // The reply is left for the next wake-up after four such re-reads (as TCP_CRR's ACK is,
      // to come with the next request), but here it comes alone each time: after five such
      // wake-ups the share of them stops the deferral (one chance in 32 still defers).
      const deferred = s.rxRereadsDeferred - before.rxRereadsDeferred;
      assert.ok(deferred >= 1 && deferred <= 6, `replies left for the next wake-up: ${deferred}`);
      // Before deferring, pair reads (the reply and a frame behind it) are tried: nothing is
      // behind it here, so after four misses only one chance in 16 tries one.
      const pairMisses = s.rxPairMisses - before.rxPairMisses;
      assert.ok(pairMisses >= 1 && pairMisses <= 4 + Math.ceil(wakeups / 16), `pair reads that missed: ${pairMisses} for ${wakeups} wake-ups`);
      assert.equal(s.rxPairReads - before.rxPairReads, 0);
    } finally {
      device.close();
    }
  });

  it('a re-read that finds the peer\'s silent frame (its ACK) takes the frame queued behind it too, and the exchanges go on in the same wake-up (pair reads)', async () => {
    // TCP_CRR's shape: our answer makes the peer queue two frames before we read again, its
    // ACK (drawing nothing) and its next request. Here each answer is two ARP requests for the
    // kernel's address, which it answers inside our writes: the first from 198.18.0.3 (its reply
    // left unanswered: the "ACK"), then one from 198.18.0.2 (its reply draws the next pair).
    // Without pair reads the re-read took the ACK alone (or, after four, left it to the next
    // wake-up): a poll and a wake-up per exchange.
    const device = open(peer(), { up: true });
    try {
      await peer().configureHost();
      const arpFrom3 = Uint8Array.from(ARP_REQUEST);
      arpFrom3.set([0x02, 0, 0, 0, 0, 0x03], 6); // Ethernet source
      arpFrom3.set([0x02, 0, 0, 0, 0, 0x03], 22); // sender MAC
      arpFrom3[31] = 3; // sender IP 198.18.0.3
      const replyTo = (f: Uint8Array, last: number): boolean => isArpReply(f) && f[38] === 198 && f[39] === 18 && f[40] === 0 && f[41] === last;
      let requests = 0;
      let acks = 0;
      const TOTAL = 64;
      const answer = (): void => {
        device.write(arpFrom3);
        device.write(ARP_REQUEST);
      };
      device.onFrames((batch) => {
        for (const f of batch) {
          if (replyTo(f, 3)) acks++;
          else if (replyTo(f, 2) && ++requests < TOTAL) answer();
        }
      });
      const before = device.stats();
      // The first request alone, as a connection's SYN comes: a wake-up of one exchange.
      device.write(ARP_REQUEST);
      await waitFor('the chain of exchanges', () => (requests >= TOTAL ? true : undefined));
      const s = device.stats();
      const pairs = s.rxPairReads - before.rxPairReads;
      const rereads = s.rxRereads - before.rxRereads;
      const wakeups = s.rxBatches - before.rxBatches - rereads - (s.rxProbeHits - before.rxProbeHits);
      assert.ok(acks >= TOTAL - 2, `silent frames seen: ${acks}`);
      // Four re-reads of the ACK alone teach the rule; from then on pairs, 16 exchanges a wake-up.
      assert.ok(pairs >= TOTAL / 2, `pair reads: ${pairs} for ${TOTAL} exchanges`);
      assert.ok(wakeups <= TOTAL / 4, `wake-ups: ${wakeups} for ${TOTAL} exchanges`);
      assert.ok(s.rxPairMisses - before.rxPairMisses <= 2, `pair reads that missed: ${s.rxPairMisses - before.rxPairMisses}`);
    } finally {
      device.close();
    }
  });

  it('a frame answered elsewhere (answeredElsewhere(), no write to the device) counts as answered for the one-read rule', async () => {
    // The same trickle twice: frames left unanswered are every one read to EAGAIN; frames said
    // to be answered elsewhere (a NAT's host socket) are read one per wake-up after the first four.
    const run = async (mark: boolean): Promise<{ batches: number; empty: number }> => {
      const device = open(peer(), { up: true });
      try {
        await peer().configureHost();
        let frames = 0;
        device.onFrames((batch) => {
          frames += batch.length;
          if (mark) device.answeredElsewhere();
        });
        await peer().python(trickle(20));
        await waitFor('the trickle to arrive', () => (frames >= 20 ? true : undefined));
        const s = device.stats();
        return { batches: s.rxBatches, empty: s.rxEmptyReads };
      } finally {
        device.close();
      }
    };
    const unanswered = await run(false);
    assert.ok(unanswered.empty >= unanswered.batches, `unanswered: empty reads ${unanswered.empty} for ${unanswered.batches} batches`);
    const elsewhere = await run(true);
    assert.ok(elsewhere.empty <= elsewhere.batches / 2, `answered elsewhere: empty reads ${elsewhere.empty} for ${elsewhere.batches} batches`);
  });

  it('recycleBatch(): the next batch is read over the last one (rxSlabReuses), which poisonRecycled fills first; without it, frames stay', async () => {
    // Each batch's first frame is kept as the view the device gave; checked on the next
    // macrotask (after the wake-up's poll callback, before the next), once per batch.
    const run = async (recycle: boolean): Promise<{ reuses: number; poisoned: number; intact: number; offsets: Set<number> }> => {
      const device = open(peer(), { up: true });
      try {
        await peer().configureHost();
        device.poisonRecycled(0x5a);
        let frames = 0;
        let poisoned = 0;
        let intact = 0;
        const offsets = new Set<number>();
        device.onFrames((batch) => {
          frames += batch.length;
          const view = batch[0];
          const copy = view.slice();
          offsets.add(view.byteOffset);
          if (recycle) device.recycleBatch();
          setImmediate(() => {
            if (view.every((b) => b === 0x5a)) poisoned++;
            else if (Buffer.from(view).equals(Buffer.from(copy))) intact++;
          });
        });
        await peer().python(trickle(10));
        await waitFor('the trickle to arrive', () => (frames >= 10 ? true : undefined));
        return { reuses: device.stats().rxSlabReuses, poisoned, intact, offsets };
      } finally {
        device.close();
      }
    };
    const kept = await run(false);
    assert.equal(kept.reuses, 0);
    assert.equal(kept.poisoned, 0);
    assert.ok(kept.intact >= 5, `frames intact: ${kept.intact}`);
    const recycled = await run(true);
    assert.ok(recycled.reuses >= 5, `reuses: ${recycled.reuses}`);
    assert.ok(recycled.poisoned >= 5, `recycled frames poisoned: ${recycled.poisoned}`);
    assert.equal(recycled.offsets.size, 1, 'every batch read into the same place');
  });

  it('recycleBatch() of a batch cut short by its slab\'s end: the next batch starts a fresh slab (rxSlabMoves) instead of that region again', async () => {
    // 60,000-byte datagrams (MTU 65000) to a neighbour behind the device: ~60 KB frames, as the
    // GSO frames of bulk TCP. Batches are kept (not given back) until one ends where the slab
    // has room for one more read only; from then on every batch is given back. Reused in place,
    // that region would take one frame per batch for good.
    const SLAB = 2 << 20;
    const MAX_READ = 65556 + 10; // what one read needs (native/tap-handle.h RX_MAX_READ)
    const device = open(peer(), { up: true, mtu: 65000 });
    try {
      await peer().configureHost();
      await peer().ip(['neigh', 'replace', '198.18.0.77', 'lladdr', '02:00:00:00:00:77', 'dev', peer().tapName, 'nud', 'permanent']);
      const batches: { slab: ArrayBuffer; start: number; frames: number; recycled: boolean }[] = [];
      let giveBack = false;
      device.onFrames((batch, _headers, _time, slab) => {
        const start = batch[0].byteOffset;
        const last = batch[batch.length - 1];
        const room = SLAB - ((last.byteOffset + last.length + 63) & ~63);
        // The batch that leaves room for exactly one read is kept too; those after it are given back.
        const recycled = giveBack;
        if (room >= MAX_READ && room < 2 * MAX_READ) giveBack = true;
        if (recycled) device.recycleBatch();
        batches.push({ slab, start, frames: batch.length, recycled });
      });
      const sender = `import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(60):
    s.sendto(bytes(60000), ('198.18.0.77', 9))
    time.sleep(0.004)`;
      await peer().python(sender);
      await waitFor('the datagrams to arrive', () => (batches.reduce((n, b) => n + b.frames, 0) >= 60 ? true : undefined));
      const first = batches.findIndex((b) => b.recycled);
      assert.ok(first > 0 && first < batches.length - 2, `a batch given back in the slab's last read's room, then more: ${first} of ${batches.length}`);
      const cut = batches[first];
      assert.ok(cut.start > 0 && SLAB - cut.start < 2 * MAX_READ, `it had room for one read: ${cut.start}`);
      const next = batches[first + 1];
      assert.notEqual(next.slab, cut.slab, 'the next batch is read into another slab');
      assert.equal(next.start, 0, 'from its start');
      assert.ok(device.stats().rxSlabMoves >= 1, `rxSlabMoves: ${device.stats().rxSlabMoves}`);
      // The batches after it are read into that slab's start again (given back in place).
      assert.ok(batches.slice(first + 2).every((b) => b.slab === next.slab && b.start === 0), 'later batches at the fresh slab\'s start');
      assert.ok(device.stats().rxSlabReuses >= 1, `rxSlabReuses: ${device.stats().rxSlabReuses}`);
    } finally {
      device.close();
    }
  });

  it('reuseBatchArray(): one array for every batch of one frame; a frame read where a recycled one lay comes in its view again, a kept frame stays valid and is never handed over again', async () => {
    const device = open(peer(), { up: true });
    try {
      await peer().configureHost();
      device.poisonRecycled(0x5a);
      device.reuseBatchArray();
      const arrays = new Set<Uint8Array[]>();
      // A kept frame's view may have come before in recycled batches (its bytes dead then); from
      // the batch that keeps it on, it is that frame's alone.
      const kept: { view: Uint8Array; copy: Uint8Array; after: number }[] = [];
      const seen: Uint8Array[] = [];
      let batches = 0;
      let singles = 0;
      let sameView = 0;
      let last: { view: Uint8Array; recycled: boolean } | undefined;
      device.onFrames((batch) => {
        if (batch.length === 1) {
          arrays.add(batch);
          singles++;
        }
        const view = batch[0];
        if (last?.recycled === true && view === last.view) sameView++;
        for (const frame of batch) seen.push(frame);
        const after = seen.length;
        // Every third batch is kept (its memory not given back), the others recycled.
        const recycled = batches++ % 3 !== 0;
        if (recycled) device.recycleBatch();
        else kept.push({ view, copy: view.slice(), after });
        last = { view, recycled };
      });
      await peer().python(trickle(12));
      await waitFor('the trickle to arrive', () => (batches >= 12 ? true : undefined));
      assert.ok(singles >= 6, `batches of one frame: ${singles}`);
      assert.equal(arrays.size, 1, 'every batch of one frame in the same array');
      assert.ok(sameView >= 3, `frames handed over in a recycled frame's view: ${sameView} of ${batches} batches`);
      assert.ok(kept.length >= 4, `kept: ${kept.length}`);
      for (const { view, copy, after } of kept) {
        assert.deepEqual(view, copy, 'a kept frame is neither overwritten nor poisoned');
        assert.ok(!seen.slice(after).includes(view), 'a kept frame is not handed over again');
      }
    } finally {
      device.close();
    }
  });

  it('busyPollUs outside 0..1000000 or not an integer is ERR_INVALID_ARG_VALUE, and nothing is opened', async () => {
    await expectCode(() => open(peer(), { busyPollUs: -1 }), 'ERR_INVALID_ARG_VALUE');
    await expectCode(() => open(peer(), { busyPollUs: 1_000_001 }), 'ERR_INVALID_ARG_VALUE');
    await expectCode(() => open(peer(), { busyPollUs: 2.5 }), 'ERR_INVALID_ARG_VALUE');
    assert.equal(await peer().linkInfo(), undefined);
  });

  it('sendBuffer outside 1..2147483647 or not an integer is ERR_INVALID_ARG_VALUE, and nothing is opened', async () => {
    for (const sendBuffer of [0, -1, 2 ** 31, 1.5, Number.NaN]) {
      await expectCode(() => open(peer(), { sendBuffer }), 'ERR_INVALID_ARG_VALUE');
    }
    assert.equal(await peer().linkInfo(), undefined);
  });

  it('a busy-polling device does not keep the process alive once unref\'d, nor after close mid-window', async () => {
    const addon = fileURLToPath(new URL('../../../build/Release/rx_tap.node', import.meta.url));
    const netns = peer().netns;
    // The child takes frames with a 1 s busy-poll window that every frame re-opens, for as long as
    // the kernel trickles (3 s). At its first frame it unrefs one device and closes the other:
    // nothing is left that should keep it alive, so it must end at once, not when the trickle stops.
    const script = `
      const { TapHandle } = require(${JSON.stringify(addon)});
      const a = new TapHandle('rxdev0', ${JSON.stringify(netns)}, { busyPollUs: 1000000 });
      const b = new TapHandle('rxdev1', ${JSON.stringify(netns)}, { busyPollUs: 1000000 });
      b.setUp(true);
      b.start(() => {}, () => {});
      a.setUp(true);
      a.start(() => { a.unref(); b.close(); }, () => {});
      console.log('open');`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const opened = Date.now();
    await peer().configureHost();
    // Judged against the trickle, not the clock: a child held by the device ends after the
    // trickle does (within the 1 s window its last frame re-opens); one that ends at its first
    // frame ends while the trickle has seconds to go, however slow the machine is to start
    // python or set the device up.
    let trickled = false;
    const trickling = peer().python(trickle(150)).finally(() => (trickled = true));
    const code = await exited;
    const endedDuringTrickle = !trickled;
    const lasted = Date.now() - opened;
    await trickling;
    assert.equal(code, 0, stderr);
    assert.ok(endedDuringTrickle, `the child ended at its first frame, not with the 3 s trickle (lasted ${lasted} ms)`);
  });

  it('a device deleted under us reports ENODEV through onError and closes', async () => {
    const device = open(peer(), { up: true });
    const failed = new Promise<Error & { code?: string }>((resolve) => device.onError(resolve));
    device.onFrames(() => undefined);
    await peer().ip(['link', 'del', 'rxdev0']);
    const error = await failed;
    assert.equal(error.code, 'ENODEV');
    assert.equal(device.closed, true);
  });

  it('a worker thread ended with the device open releases it without crashing; unref() lets a process exit', async () => {
    const addon = fileURLToPath(new URL('../../../build/Release/rx_tap.node', import.meta.url));
    const netns = peer().netns;
    const script = `
      const { Worker } = require('node:worker_threads');
      const w = new Worker(\`
        const { TapHandle } = require(\${JSON.stringify(${JSON.stringify(addon)})});
        const h = new TapHandle('rxdev0', ${JSON.stringify(netns)});
        h.setUp(true);
        h.start(() => {}, () => {});
        require('node:worker_threads').parentPort.postMessage('open');
      \`, { eval: true });
      w.once('message', () => w.terminate().then(() => {
        const { TapHandle } = require(${JSON.stringify(addon)});
        const h = new TapHandle('rxdev1', ${JSON.stringify(netns)});
        h.setUp(true);
        h.start(() => {}, () => {});
        h.unref(); // nothing else keeps the loop alive: the process must end by itself
        console.log('done');
      }));`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', script], { timeout: 10_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`child failed (${error.code ?? error.signal}): ${stderr}`));
        else resolve(stdout.trim());
      });
    });
    assert.equal(out, 'done');
    assert.equal(await peer().linkInfo('rxdev0'), undefined, 'the worker\'s device was released');
    assert.equal(await peer().linkInfo('rxdev1'), undefined);
  });

  it('the bound writer (sendFrame) writes like write(), and after its handle is closed and collected it throws ERR_LINK_CLOSED instead of touching freed memory', async () => {
    const addon = fileURLToPath(new URL('../../../build/Release/rx_tap.node', import.meta.url));
    const netns = peer().netns;
    const script = `
      const { TapHandle } = require(${JSON.stringify(addon)});
      let h = new TapHandle('rxdev0', ${JSON.stringify(netns)});
      h.setUp(true);
      const send = h.sendFrame;
      const garp = Buffer.from(${JSON.stringify(Buffer.from(GARP).toString('hex'))}, 'hex');
      const results = [send(new Uint8Array(garp)), h.stats().txFrames];
      try { send('not a frame'); } catch (e) { results.push(e.code); }
      h.close();
      h = undefined;
      setImmediate(() => {
        globalThis.gc();
        try { send(new Uint8Array(garp)); } catch (e) { results.push(e.code); }
        console.log(JSON.stringify(results));
      });`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--expose-gc', '-e', script], { timeout: 10_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`child failed (${error.code ?? error.signal}): ${stderr}`));
        else resolve(stdout.trim());
      });
    });
    assert.deepEqual(JSON.parse(out), [0, 1, 'ERR_INVALID_ARG_TYPE', 'ERR_LINK_CLOSED']);
  });

  it('queues writes the kernel cannot take yet, in order, bounded, and flushes them when writable', async () => {
    const device = open(peer(), { up: true, writeQueueLimit: 100 });
    try {
      await peer().configureHost();
      const before = await peer().counters();
      // A TAP fd takes every write at once on Linux (the frame is processed inside write()), so
      // the test holds the queue closed as EAGAIN would, then lets the poll flush it.
      device.holdWrites(true);
      const frames = Array.from({ length: 150 }, (_, i) => {
        const f = GARP.slice();
        f[41] = i; // distinct target IPs 198.18.0.<i>, so each frame is recognisable
        return f;
      });
      assert.equal(device.writeBatch(frames), 100);
      assert.equal(device.write(GARP), false, 'full queue drops');
      let stats = device.stats();
      assert.equal(stats.txQueued, 100);
      assert.equal(stats.txDropped, 51);
      assert.equal(stats.txFrames, 0);
      // A packet socket in the namespace records the order in which the kernel receives them.
      const listener = peer().spawn('python3', ['-c', `import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(('rxdev0', 0))
s.settimeout(5)
print('ready', flush=True)
seen = []
while len(seen) < 100:
    seen.append(s.recv(2048)[41])
print(' '.join(map(str, seen)), flush=True)`]);
      let out = '';
      listener.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      await waitFor('the packet socket', () => (out.startsWith('ready') ? true : undefined));
      device.holdWrites(false);
      await waitFor('the queue to drain', () => (device.stats().txQueued === 0 ? true : undefined));
      stats = device.stats();
      assert.equal(stats.txFrames, 100);
      assert.equal(stats.txQueuedTotal, 100);
      await waitFor('the order seen by the kernel', () => (out.split('\n').length > 2 ? true : undefined));
      assert.equal(out.split('\n')[1], Array.from({ length: 100 }, (_, i) => i).join(' '), 'first in, first out');
      const after = await peer().counters();
      assert.equal(after.rxPackets - before.rxPackets, 100, 'the kernel received the 100 queued frames');
    } finally {
      device.close();
    }
  });
});

describeKernelPeer('TapDevice: a persistent device', () => {
  const peer = useKernelPeer({ tapName: 'rxper0' });

  it('attaches, and on close leaves the device in place with its MTU, MAC and state as found', async () => {
    const found = (await peer().linkInfo())!;
    assert.ok(found.flags.includes('UP'));
    const device = new TapDevice({ name: 'rxper0', netns: peer().netns, mtu: 1280, mac: '02:12:34:56:78:9a', up: false });
    assert.equal(device.created, false);
    assert.equal((await peer().linkInfo())?.mtu, 1280);
    assert.ok(!(await peer().linkInfo())?.flags.includes('UP'));
    device.close();
    const after = (await peer().linkInfo())!;
    assert.equal(after.mtu, found.mtu);
    assert.equal(after.address, found.address);
    assert.ok(after.flags.includes('UP'));
    // The kernel side address set by the harness is untouched.
    assert.match(await peer().ip(['-4', 'addr', 'show', 'dev', 'rxper0']), /198\.18\.0\.1\/24/);
  });

  it('a second holder of a single-queue device gets EBUSY', async () => {
    const first = new TapDevice({ name: 'rxper0', netns: peer().netns });
    try {
      await expectCode(() => new TapDevice({ name: 'rxper0', netns: peer().netns }), 'EBUSY', 'ioctl');
    } finally {
      first.close();
    }
  });
});

describeKernelPeer('TapDevice: opening errors', () => {
  const peer = useKernelPeer({ createTap: false, perTest: false });

  it('a name longer than 15 bytes is EINVAL', async () => {
    const error = await expectCode(() => new TapDevice({ name: 'x'.repeat(16), netns: peer().netns }), 'EINVAL');
    assert.match(error.message, /1 to 15/);
  });

  it('a name the kernel refuses is EINVAL from TUNSETIFF', async () => {
    const error = await expectCode(() => new TapDevice({ name: 'bad/name', netns: peer().netns }), 'EINVAL', 'ioctl');
    assert.match(error.message, /TUNSETIFF/);
  });

  it('a namespace that does not exist is ENOENT, and nothing is created anywhere', async () => {
    const error = await expectCode(() => new TapDevice({ name: 'rxnone0', netns: `${peer().netns}-missing` }), 'ENOENT', 'open');
    assert.match(error.message, /no network namespace/);
    assert.equal(await peer().linkInfo('rxnone0'), undefined);
  });

  it('a namespace name that is a path is EINVAL', async () => {
    await expectCode(() => new TapDevice({ name: 'rxnone0', netns: '../../proc/1/ns/net' }), 'EINVAL', 'setns');
  });

  it('without privileges it is EPERM, as an error and not a crash', async function () {
    // A child process as user nobody (65534) loads the addon and tries to enter our namespace.
    const addon = fileURLToPath(new URL('../../../build/Release/rx_tap.node', import.meta.url));
    const script = `
      const { TapHandle } = require(${JSON.stringify(addon)});
      try { new TapHandle('rxnope0', ${JSON.stringify(peer().netns)}); console.log('opened'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, syscall: e.syscall, errno: e.errno })); }`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', script], { uid: 65534, gid: 65534, timeout: 10_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`child failed: ${stderr || error.message}`));
        else resolve(stdout.trim());
      });
    });
    assert.deepEqual(JSON.parse(out), { code: 'EPERM', syscall: 'setns', errno: -1 });
  });
});
