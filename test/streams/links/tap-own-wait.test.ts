/**
 * The TAP handle's own wait (ownSleep; native/tap-own-wait.c) with the addon's host sockets and
 * with its busy-poll window, over a real TAP device in a namespace of the test's own. The host
 * sockets are DatagramSockets on 127.0.0.1 answered by a UDP echo in a worker thread (its own
 * event loop, so its answers come while this thread waits in the handle's poll(2)); what wakes
 * the handle first is a datagram the kernel peer sends every 20 ms (each makes the kernel send
 * an ARP request on the device).
 *
 * Checked: with more watched sockets than the wait polls one by one (8), the wait is still the
 * handle's own, through the sockets' epoll set polled as one fd (ownSetWakes, ownSleeps) and
 * every answer served once; as sockets are closed (their places in the kept poll list taken by
 * others) the remaining ones are polled by their own fds (hostDirectDispatches), and a socket
 * closed by another's callback in the middle of a wait is never served again; with more than 8,
 * the socket served last is polled by its own fd beside the set (ownHotWakes), the others still
 * served through the set; the handle's
 * busy-poll window (the open option busyPollUs) makes the own wait find frames without sleeping;
 * ownSleep takes no second argument (the busy-poll window it once set is the open option).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { TapDevice } from '../../../streams/links/tap-device.js';
import { loadTapAddon, type NativeDatagramSocket } from '../../../streams/links/tap-native.js';
import { describeKernelPeer, useKernelPeer, type KernelPeer } from '../../helpers/netns.js';
import { pyArpTrickle } from '../../helpers/py-arp-trickle.js';
import { waitFor } from '../../helpers/wait-for.js';

const LOOPBACK = 0x7f000001;

const trickle = (count: number): string => pyArpTrickle(count);

/** A UDP echo on 127.0.0.1 in a worker thread; posting it any message closes it. */
async function workerEcho(): Promise<{ echo: Worker; port: number }> {
  const echo = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const s = require('node:dgram').createSocket('udp4');
     s.on('message', (m, r) => s.send(m, r.port, r.address));
     s.bind(0, '127.0.0.1', () => parentPort.postMessage(s.address().port));
     parentPort.on('message', () => { s.close(); parentPort.close(); });`,
    { eval: true },
  );
  const [port] = (await once(echo, 'message')) as [number];
  return { echo, port };
}

/**
 * `sockets` filled with `count` DatagramSockets connected to the echo on `port`; each answer calls
 * `onAnswer` with the socket's index (a socket's error fails the test).
 */
function connectSockets<S extends NativeDatagramSocket | undefined>(
  sockets: S[], count: number, port: number, onAnswer: (index: number, socket: NativeDatagramSocket) => void,
): void {
  const addon = loadTapAddon();
  for (let i = 0; i < count; i++) {
    const index = i;
    const s: NativeDatagramSocket = new addon.DatagramSocket('udp', () => onAnswer(index, s), (errno) => assert.fail(`socket ${index}: errno ${errno}`));
    assert.equal(s.connect(LOOPBACK, port), 0);
    sockets.push(s as S);
  }
}

/** The own wait's counters a round compares. */
const OWN_WAIT_COUNTERS = ['ownSleeps', 'ownSetWakes', 'ownHotWakes', 'hostDirectDispatches', 'ownSleepExits'] as const;

/**
 * One round: at the device's first delivery in it (an ARP request from the peer's trickle),
 * `ask` makes sockets send, from inside the delivery, so their answers come while the handle
 * waits in its own poll(2). `arm` is handed the round's end, for the sockets' callbacks to call
 * once every answer came (a 10 s guard ends it otherwise: the caller's counts then fail).
 * Resolves with the own wait's counters' change over the round.
 */
async function ownWaitRound(
  device: TapDevice, trickling: () => Promise<unknown>, ask: () => void, arm: (end: () => void) => void,
): Promise<Record<string, number>> {
  const handle = device.nativeHandle;
  const before = handle.stats();
  let end!: () => void;
  const done = new Promise<void>((resolve) => (end = resolve));
  arm(end);
  let sent = false;
  device.onFrames(() => {
    if (sent) return;
    sent = true;
    ask();
  });
  const guard = setTimeout(end, 10_000);
  const trickle = trickling();
  await done;
  clearTimeout(guard);
  await trickle;
  const after = handle.stats();
  const d: Record<string, number> = {};
  for (const key of OWN_WAIT_COUNTERS) d[key] = after[key] - before[key];
  return d;
}

describeKernelPeer('TapHandle: the own wait with host sockets and the busy-poll window', function () {
  this.timeout(60_000);
  const peer = useKernelPeer({ createTap: false, tapName: 'rxdev0' });
  const open = (p: KernelPeer, extra: Partial<ConstructorParameters<typeof TapDevice>[0]> = {}): TapDevice =>
    new TapDevice({ name: p.tapName, netns: p.netns, up: true, ...extra });

  it('more than 8 host sockets: served from the own wait through their epoll set; as sockets close, by their own fds; a socket closed mid-wait is not served', async () => {
    const { echo, port } = await workerEcho();
    const device = open(peer());
    const sockets: Array<NativeDatagramSocket | undefined> = [];
    const served: number[] = [];
    // Set per round: the sockets that ask, and which socket's callback closes which other one.
    let closeFrom: { by: number; victim: number } | undefined;
    let closedAt = -1;
    let answers = 0;
    let roundDone: (() => void) | undefined;
    let expected = 0;
    try {
      await peer().configureHost();
      const handle = device.nativeHandle;
      handle.ownSleep(true);
      connectSockets(sockets, 12, port, (index) => {
        served[index] = (served[index] ?? 0) + 1;
        answers++;
        if (closeFrom?.by === index && sockets[closeFrom.victim] !== undefined) {
          sockets[closeFrom.victim]!.close();
          sockets[closeFrom.victim] = undefined;
          closedAt = served[closeFrom.victim] ?? 0;
        }
        if (answers === expected) roundDone?.();
      });

      /** One round: at the first TAP delivery every open socket sends; waits for `want` answers. */
      const round = (want: number): Promise<Record<string, number>> => {
        answers = 0;
        expected = want;
        return ownWaitRound(device, () => peer().python(trickle(10)), () => {
          for (const s of sockets) if (s !== undefined) assert.equal(s.send(new Uint8Array([1, 2, 3])), 0);
        }, (end) => (roundDone = end));
      };

      // 12 sockets watched: more than the wait polls one by one. Whether the answers come while
      // the handle is in its own wait is timing: the wait hands back to libuv's loop when
      // anything of libuv's is ready (the python child's pipes, the worker's messages), and libuv
      // then serves the set itself. So up to ROUNDS rounds, each answered right, until one had
      // its answers through the set from the own wait (on a quiet machine the first).
      const ROUNDS = 6;
      const firsts: Record<string, number>[] = [];
      for (let r = 0; r < ROUNDS && !firsts.some((d) => d.ownSetWakes >= 1); r++) {
        served.fill(0);
        const first = await round(12);
        assert.equal(answers, 12, 'every socket answered');
        assert.deepEqual(served, new Array(12).fill(1), 'each socket served once');
        assert.ok(first.ownSleeps >= first.ownSetWakes, JSON.stringify(first));
        // More than 8 watched: only the two sockets served last are polled by their own fds.
        assert.ok(first.hostDirectDispatches <= 2 * first.ownHotWakes, JSON.stringify(first));
        firsts.push(first);
      }
      assert.ok(firsts.some((d) => d.ownSetWakes >= 1), `the answers came through the set polled by the own wait in one of ${ROUNDS} rounds: ${JSON.stringify(firsts)}`);

      // Close six, from the front, the middle and the end of the poll list: 6 left, polled by
      // their own fds from the list as watch and forget left it.
      for (const i of [0, 3, 5, 6, 9, 11]) {
        sockets[i]!.close();
        sockets[i] = undefined;
      }
      served.fill(0);
      // Socket 1's callback closes socket 10 (whose answer is on its way, or already waiting).
      closeFrom = { by: 1, victim: 10 };
      const second = await round(5);
      assert.ok(closedAt >= 0, 'socket 1 was served and closed socket 10');
      assert.equal(served[10] ?? 0, closedAt, 'socket 10 was not served after it was closed');
      for (const i of [2, 4, 7, 8]) assert.equal(served[i], 1, `socket ${i} served once`);
      assert.equal(second.ownSetWakes, 0, 'with 6 sockets, no set poll');
      closeFrom = undefined;
      // As above: until a round had answers dispatched from the own poll(2) by their own fds.
      const seconds = [second];
      for (let r = 1; r < ROUNDS && !seconds.some((d) => d.hostDirectDispatches >= 1); r++) {
        served.fill(0);
        const again = await round(5);
        for (const i of [1, 2, 4, 7, 8]) assert.equal(served[i], 1, `socket ${i} served once`);
        assert.equal(served[10] ?? 0, 0, 'socket 10, closed, not served');
        assert.equal(again.ownSetWakes, 0, 'with 5 sockets, no set poll');
        seconds.push(again);
      }
      assert.ok(seconds.some((d) => d.hostDirectDispatches >= 1), `answers dispatched from the own poll(2) by their own fds in one of ${ROUNDS} rounds: ${JSON.stringify(seconds)}`);
    } finally {
      for (const s of sockets) s?.close();
      device.close();
      echo.postMessage('close');
    }
  });

  it('more than 8 host sockets, one of them busy: its answers served by its own fd beside the set (no epoll_wait of the set); the others\' answers still served, each once', async () => {
    const { echo, port } = await workerEcho();
    const device = open(peer());
    const sockets: NativeDatagramSocket[] = [];
    const served: number[] = new Array(12).fill(0);
    const EXCHANGES = 40;
    let roundDone: (() => void) | undefined;
    let total = 0;
    let want = 0;
    try {
      await peer().configureHost();
      const handle = device.nativeHandle;
      handle.ownSleep(true);
      connectSockets(sockets, 12, port, (index, s) => {
        served[index]++;
        total++;
        // Socket 0 ping-pongs with the echo from inside its callback (the own wait's turn);
        // at its 10th answer the idle sockets 5..11 ask once each, beside it.
        if (index === 0 && served[0] < EXCHANGES) assert.equal(s.send(new Uint8Array([0])), 0);
        if (index === 0 && served[0] === 10) for (let j = 5; j < 12; j++) assert.equal(sockets[j].send(new Uint8Array([j])), 0);
        if (total === want) roundDone?.();
      });
      // Every socket asked once first (libuv or the own wait serves them), so all 12 watch.
      const round = (first: () => void, expect: number): Promise<Record<string, number>> => {
        served.fill(0);
        total = 0;
        want = expect;
        return ownWaitRound(device, () => peer().python(trickle(10)), first, (end) => (roundDone = end));
      };
      // Whether the answers come while the handle is in its own wait is timing (it hands back to
      // libuv when the python child's pipes or the worker's messages are ready, and libuv then
      // serves the set): up to six rounds, each answered right, until one shows the path.
      const rounds: Record<string, number>[] = [];
      for (let r = 0; r < 6 && !rounds.some((d) => d.hostDirectDispatches >= EXCHANGES / 4); r++) {
        const d = await round(() => assert.equal(sockets[0].send(new Uint8Array([0])), 0), EXCHANGES + 7);
        assert.equal(served[0], EXCHANGES, 'the busy socket: every answer served once');
        assert.deepEqual(served.slice(5), new Array(7).fill(1), 'each of the others that asked served once');
        assert.deepEqual(served.slice(1, 5), [0, 0, 0, 0]);
        assert.ok(d.hostDirectDispatches >= d.ownHotWakes, JSON.stringify(d));
        rounds.push(d);
        if (process.env.OWN_WAIT_VERBOSE === '1') console.log(d);
      }
      assert.ok(rounds.some((d) => d.ownHotWakes >= EXCHANGES / 4 && d.hostDirectDispatches >= EXCHANGES / 4 && d.ownSetWakes < d.ownHotWakes),
        `the busy socket's answers served by its own fd, the set fetched less often: ${JSON.stringify(rounds)}`);
    } finally {
      for (const s of sockets) s.close();
      device.close();
      echo.postMessage('close');
    }
  });

  it('the busy-poll window (open option busyPollUs) with the own wait: frames found by its polls without sleeping', async () => {
    // A frame every 20 ms; a 100 ms window re-opened after each batch covers the next one.
    const run = async (busyPollUs: number | undefined): Promise<{ ownBusyHits: number; busyPollHits: number; ownSleeps: number }> => {
      const device = open(peer(), busyPollUs === undefined ? {} : { busyPollUs });
      try {
        await peer().configureHost();
        const handle = device.nativeHandle;
        handle.ownSleep(true);
        let frames = 0;
        device.onFrames(() => void frames++);
        await peer().python(trickle(8));
        const s = handle.stats();
        assert.ok(frames >= 4, `frames delivered: ${frames}`);
        return { ownBusyHits: s.ownBusyHits, busyPollHits: s.busyPollHits, ownSleeps: s.ownSleeps };
      } finally {
        device.close();
      }
    };
    const off = await run(undefined);
    assert.deepEqual({ own: off.ownBusyHits, batches: off.busyPollHits }, { own: 0, batches: 0 }, 'no busy poll unless asked for');
    const on = await run(100_000);
    assert.ok(on.ownBusyHits >= 1, `frames found by the own wait's polls without sleeping: ${JSON.stringify(on)}`);
    assert.ok(on.busyPollHits >= 1, `batches read in the window: ${JSON.stringify(on)}`);
  });

  it('ownSleep(on) takes a boolean and nothing else: a busy-poll argument is a TypeError (ERR_INVALID_ARG_VALUE) that changes nothing', async () => {
    const device = open(peer());
    try {
      const handle = device.nativeHandle;
      const call = handle.ownSleep as unknown as (...args: unknown[]) => void;
      for (const second of [50, 0, -1, '50', null]) {
        assert.throws(() => call.call(handle, true, second), (e: unknown) => {
          assert.ok(e instanceof TypeError, String(e));
          assert.equal((e as { code?: string }).code, 'ERR_INVALID_ARG_VALUE');
          assert.match((e as Error).message, /busyPollUs/, 'the message names the open option');
          return true;
        }, String(second));
      }
      assert.throws(() => call.call(handle, 'yes'), (e: unknown) => e instanceof TypeError && (e as { code?: string }).code === 'ERR_INVALID_ARG_TYPE');
      // The refused calls turned nothing on: no own wait, no window (a trickle's frames come
      // through libuv's wait, none from the own one, no batch inside a busy-poll window).
      await peer().configureHost();
      let frames = 0;
      device.onFrames(() => void frames++);
      await peer().python(trickle(4));
      await waitFor('the trickle', () => (frames >= 3 ? true : undefined));
      const s = handle.stats();
      assert.deepEqual({ ownSleeps: s.ownSleeps, busyPollHits: s.busyPollHits }, { ownSleeps: 0, busyPollHits: 0 });
      handle.ownSleep(true);
      handle.ownSleep(false);
    } finally {
      device.close();
    }
  });
});
