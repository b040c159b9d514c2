/**
 * The nat's JavaScript per TCP_RR transaction, without its system calls: `rx-netstack nat`'s
 * stack and TCP relay (bin/nat-tcp.ts, bin/splice.ts) on a fake TUN device with offload
 * (test/helpers/fake-tap-device.ts), a client stack on the device's other end, and the addon's
 * TcpSocket replaced by a fake whose `writeAndRead` answers at once with what it was given (the
 * host's echo server read right after the send, as pinned on one CPU it nearly always is). What
 * is left is the JavaScript of both stacks (the client's too) and no kernel: on this machine a
 * nat-cost.ts run moves by 5-10 % from one run to the next (42 us per transaction, half of it
 * system calls and context switches), so a cut of a few hundred nanoseconds of JavaScript is
 * measured here, alternating trees:
 *
 *   node --import tsx bench/nat-rr-js.ts [TRANSACTIONS] [ROUNDS]
 *       prints CPU us per transaction (user + system of this process) for each round, the median,
 *       and `nat`: the wall-clock us per transaction spent inside the nat's device callback
 *
 * The tree measured is the one this file is in: copy it into another checkout for an A/B, and
 * alternate the two, pinned (`taskset -c 1`), under the bench lock. Or, in one process:
 *
 *   node dist/bench/nat-rr-js.js [TRANSACTIONS] [ROUNDS] --ab DIR
 *       DIR another checkout with this file compiled into DIR/dist/bench/ (as below): both trees'
 *       stacks set up side by side in this process, and each round runs TRANSACTIONS through
 *       this tree, DIR's, DIR's, this tree's (ABBA), so a phase of a shared machine falls on
 *       both; prints each tree's CPU us per transaction per round and the median of the
 *       rounds' ratios (this / DIR). Session 14: two processes of one tree moved by 20-70 %
 *       from one run to the next on a busy machine; the ratio within a round far less.
 *       Session 15: the ratio leans towards the process's own tree coming out slower (A/A runs
 *       from one tree 0.99-1.33, from the other 0.96-1.04): run it from each tree against the
 *       other and take the geometric mean of the first ratio and the inverse of the second. Compiled (tsc, and esbuild
 * for this file and test/helpers/fake-tap-device.ts + bytes.ts into dist/) it runs without the
 * TypeScript loader. Session 12: about 17 us per transaction on one CPU (both stacks and the
 * fake devices), rounds of one tree within about 7 %; the nat's part 4.4-5.8 us (a busy
 * machine moves it by 15 %: read medians of many alternating runs). Not repeatable under cachegrind: the
 * stacks' timers run on the wall clock, which valgrind slows 50-fold (80,000 to 166,000
 * instructions per transaction for two runs of one tree).
 *
 *   node dist/bench/nat-rr-js.js [TRANSACTIONS] [ROUNDS] --cold BYTES [--median-callback]
 *       the nat's callback cold (see NatRrOptions below: the caches and the TLB emptied before
 *       each of its two wake-ups, as the client, the server and the kernel leave them pinned on
 *       one CPU; 262144 is what session 16 used); `--median-callback`: `nat` is the median
 *       callback's wall us instead of the mean per transaction (a callback another process
 *       preempted falls in the tail). Session 16, in one phase: hot 3.2-3.3 us, cold 4.5-5.2; the cold cost is
 *       the TLB's (a system call alone +1.3 us, 256 KiB of lines in 64 pages +0.2, 4,096 pages
 *       one line each +2.9), so it counts the distinct pages of code and data a transaction
 *       touches. Compare trees with separate processes, alternating, ten or more each (the
 *       median of each tree's): in one process (`--ab`) the two trees' code and objects lie
 *       where they lie, and cold an A/A gave 0.85-1.12; alternating processes, 1.005.
 */
import { firstValueFrom } from 'rxjs';
import { deviceLink } from '../streams/links/tap-link.js';
import { loadTapAddon, type NativeTcpSocket, type NativeTcpSocketCallbacks } from '../streams/links/tap-native.js';
import { createStack } from '../streams/stack/create-stack.js';
import { relayTcp } from '../bin/nat-tcp.js';
import { fakeDevicePair } from '../test/helpers/fake-tap-device.js';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const WARMUP = 5000;

/** One tree's nat, client and fake host, connected, ready for `exchange`. */
export interface NatRr {
  /** Runs `n` request/response transactions (one byte each way) to the end. */
  exchange(n: number): Promise<void>;
  /** Wall-clock ms spent inside the nat's device callback so far. */
  natMs(): number;
  /**
   * The median of the nat's callbacks' wall us since the last call (evictions excluded): a
   * callback that another process preempted or an interrupt lengthened falls in the tail, which
   * the mean per transaction (`natMs`) takes in whole.
   */
  natMedianUs(): number;
  drops(): unknown;
  close(): void;
}

/**
 * `--cold BYTES`: what the other processes leave of the caches and the TLB, made before each of
 * the nat's two wake-ups of a pinned transaction (the request from the client, the answer from
 * the server inside the `send`): write one byte per 64-byte line of a BYTES buffer (larger than
 * the L2 cache evicts the nat's lines from it; larger than the last-level cache, from all) and
 * make one system call (getrusage: with PTI and no PCID, as on this machine, each entry to the
 * kernel empties the TLB of user pages). Its time is not counted in `natMs`.
 */
export interface NatRrOptions {
  coldBytes?: number;
}

function evictor(bytes: number): () => number {
  if (bytes <= 0) return () => 0;
  const buf = new Uint8Array(bytes);
  const stride = Number(process.env.COLD_STRIDE ?? '64');
  const syscall = process.env.COLD_SYSCALL !== '0';
  let v = 0;
  return (): number => {
    const t = performance.now();
    v = (v + 1) & 0xff;
    for (let i = 0; i < bytes; i += stride) buf[i] = v;
    if (syscall) process.cpuUsage();
    return performance.now() - t;
  };
}

export async function setupNatRr(options: NatRrOptions = {}): Promise<NatRr> {
  const evict = evictor(options.coldBytes ?? 0);
  let evictMs = 0;
  const addon = loadTapAddon();
  const readBuffer = new Uint8Array(addon.tcpReadBuffer);
  const readLength = addon.tcpRead;

  /** The host's connection: connected at once; every write answered at once with its own bytes. */
  class EchoSocket implements NativeTcpSocket {
    closed = false;
    #reading = true;
    constructor(readonly cb: NativeTcpSocketCallbacks) {}
    connect(): number {
      return 1; // connected within connect(2)
    }
    write(data: Uint8Array): boolean {
      return this.writeAndRead(data);
    }
    writeAndRead(data: Uint8Array): boolean {
      if (this.closed) return false;
      if (this.#reading) {
        evictMs += evict();
        readBuffer.set(data, 0);
        readLength[0] = data.length;
        this.cb.onData();
      }
      return true;
    }
    end(): void {}
    endAndRead(): void {
      this.cb.onEnd();
    }
    pause(): void {
      this.#reading = false;
    }
    resume(): void {
      this.#reading = true;
    }
    close(): void {
      this.closed = true;
    }
  }
  Object.defineProperty(addon, 'TcpSocket', { value: EchoSocket, configurable: true, writable: true });

  const [natDev, clientDev] = fakeDevicePair({ offload: true });
  // The addon's one-read rule is not modelled: the mark is a store into its batch array.
  Object.assign(natDev, { answeredElsewhere: (): void => undefined });
  // The nat's share: everything the nat does for a transaction happens inside its device's batch
  // callback (the request up, the relay, the fake host's answer, the reply written at the batch's
  // end), timed here (two clock reads per batch).
  let natMs = 0;
  const natSamples = new Float64Array(1 << 20);
  let natSampled = 0;
  const natOnFrames = natDev.asTapDevice().onFrames.bind(natDev.asTapDevice());
  Object.assign(natDev, {
    onFrames(callback: Parameters<typeof natOnFrames>[0]): void {
      natOnFrames((...args: Parameters<typeof callback>) => {
        evict();
        evictMs = 0;
        const t = performance.now();
        try {
          callback(...args);
        } finally {
          const ms = performance.now() - t - evictMs;
          natMs += ms;
          if (natSampled < natSamples.length) natSamples[natSampled++] = ms;
        }
      });
    },
  });
  const natLink = deviceLink(natDev.asTapDevice(), { mac: undefined, coalesceAcks: false, layer: 'ip' });
  const clientLink = deviceLink(clientDev.asTapDevice(), { mac: undefined, coalesceAcks: false, layer: 'ip' });
  const nat = createStack({ interfaces: [{ name: 'tun0', link: natLink, ipv4: ['198.18.0.2/25'] }] });
  const client = createStack({
    interfaces: [{ name: 'tun0', link: clientLink, ipv4: ['198.18.0.100/25'] }],
    routes: [{ destination: '0.0.0.0/0', gateway: '198.18.0.2' }],
  });
  const relay = relayTcp(nat, { gateway: '198.18.0.2', hostLoopback: false, refused: [], answeredElsewhere: () => natLink.answeredElsewhere() });

  const conn = await firstValueFrom(client.tcp.connect({ address: '198.18.0.200', port: 7 }));
  let waiting: (() => void) | undefined;
  conn.data$.subscribe(() => {
    const w = waiting;
    waiting = undefined;
    w?.();
  });
  const request = new Uint8Array([0x2a]);
  async function exchange(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const back = new Promise<void>((resolve) => (waiting = resolve));
      conn.write(request);
      await back;
      // The fake devices record every frame written: forgotten, so the heap does not grow.
      if (natDev.written.length > 64) (natDev.written as unknown[]).length = (clientDev.written as unknown[]).length = 0;
    }
  }
  await exchange(WARMUP);
  return {
    exchange,
    natMs: () => natMs,
    natMedianUs(): number {
      const sorted = natSamples.slice(0, natSampled).sort();
      natSampled = 0;
      return sorted.length === 0 ? 0 : sorted[sorted.length >> 1] * 1000;
    },
    drops: () => nat.stats().tcp.drops,
    close(): void {
      relay.unsubscribe();
      conn.destroy();
      nat.close();
      client.close();
    },
  };
}

const median = (xs: number[]): number => Number([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(3));
const fixed = (xs: number[]): number[] => xs.map((x) => Number(x.toFixed(3)));

/** `--median-callback`: the `nat` figures are the median callback's us, not the mean per transaction. */
let medianCallback = false;

/** CPU us per transaction (user + system of this process) of `n` transactions through `t`, and the nat's callback's wall us per transaction. */
async function cpuPer(t: NatRr, n: number): Promise<[number, number]> {
  t.natMedianUs(); // starts the round's samples
  const ms0 = t.natMs();
  const before = process.cpuUsage();
  await t.exchange(n);
  const used = process.cpuUsage(before);
  return [(used.user + used.system) / n, medianCallback ? t.natMedianUs() : ((t.natMs() - ms0) * 1000) / n];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const abAt = args.indexOf('--ab');
  const abDir = abAt >= 0 ? args.splice(abAt, 2)[1] : undefined;
  const coldAt = args.indexOf('--cold');
  const coldBytes = coldAt >= 0 ? Number(args.splice(coldAt, 2)[1]) : 0;
  const medianAt = args.indexOf('--median-callback');
  if (medianAt >= 0) {
    args.splice(medianAt, 1);
    medianCallback = true;
  }
  const transactions = Number(args[0] ?? '20000');
  const rounds = Number(args[1] ?? '5');
  const here = await setupNatRr({ coldBytes });
  if (abDir !== undefined) {
    const other = (await import(pathToFileURL(resolve(abDir, 'dist/bench/nat-rr-js.js')).href)) as { setupNatRr(o?: NatRrOptions): Promise<NatRr> };
    const there = await other.setupNatRr({ coldBytes });
    const a: number[] = [];
    const b: number[] = [];
    const ratios: number[] = [];
    const natA: number[] = [];
    const natB: number[] = [];
    const natRatios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const a1 = await cpuPer(here, transactions);
      const b1 = await cpuPer(there, transactions);
      const b2 = await cpuPer(there, transactions);
      const a2 = await cpuPer(here, transactions);
      a.push((a1[0] + a2[0]) / 2);
      b.push((b1[0] + b2[0]) / 2);
      ratios.push((a1[0] + a2[0]) / (b1[0] + b2[0]));
      natA.push((a1[1] + a2[1]) / 2);
      natB.push((b1[1] + b2[1]) / 2);
      natRatios.push((a1[1] + a2[1]) / (b1[1] + b2[1]));
    }
    // With --cold the process's CPU includes the evictions: read `nat*` (the callback, evictions excluded).
    console.log(
      JSON.stringify({
        transactions,
        rounds,
        coldBytes,
        this: fixed(a),
        other: fixed(b),
        ratios: fixed(ratios),
        median: median(ratios),
        thisMedian: median(a),
        otherMedian: median(b),
        natThis: fixed(natA),
        natOther: fixed(natB),
        natRatios: fixed(natRatios),
        natMedian: median(natRatios),
      }),
    );
    there.close();
    here.close();
    return;
  }
  const perRound: number[] = [];
  const natPerRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const [cpu, natUs] = await cpuPer(here, transactions);
    perRound.push(cpu);
    natPerRound.push(natUs);
  }
  // `median`: the process's CPU us per transaction (with --cold, the evictions too); `nat`: wall us inside the nat's batch callback (evictions excluded).
  console.log(JSON.stringify({ transactions, coldBytes, rounds: fixed(perRound), median: median(perRound), natRounds: fixed(natPerRound), nat: median(natPerRound), natDrops: here.drops() }));
  here.close();
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
