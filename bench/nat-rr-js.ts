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
  drops(): unknown;
  close(): void;
}

export async function setupNatRr(): Promise<NatRr> {
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
  const natOnFrames = natDev.asTapDevice().onFrames.bind(natDev.asTapDevice());
  Object.assign(natDev, {
    onFrames(callback: Parameters<typeof natOnFrames>[0]): void {
      natOnFrames((...args: Parameters<typeof callback>) => {
        const t = performance.now();
        try {
          callback(...args);
        } finally {
          natMs += performance.now() - t;
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

/** CPU us per transaction (user + system of this process) of `n` transactions through `t`. */
async function cpuPer(t: NatRr, n: number): Promise<number> {
  const before = process.cpuUsage();
  await t.exchange(n);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / n;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const abAt = args.indexOf('--ab');
  const abDir = abAt >= 0 ? args.splice(abAt, 2)[1] : undefined;
  const transactions = Number(args[0] ?? '20000');
  const rounds = Number(args[1] ?? '5');
  const here = await setupNatRr();
  if (abDir !== undefined) {
    const other = (await import(pathToFileURL(resolve(abDir, 'dist/bench/nat-rr-js.js')).href)) as { setupNatRr(): Promise<NatRr> };
    const there = await other.setupNatRr();
    const a: number[] = [];
    const b: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const a1 = await cpuPer(here, transactions);
      const b1 = await cpuPer(there, transactions);
      const b2 = await cpuPer(there, transactions);
      const a2 = await cpuPer(here, transactions);
      a.push((a1 + a2) / 2);
      b.push((b1 + b2) / 2);
      ratios.push((a1 + a2) / (b1 + b2));
    }
    console.log(JSON.stringify({ transactions, rounds, this: fixed(a), other: fixed(b), ratios: fixed(ratios), median: median(ratios), thisMedian: median(a), otherMedian: median(b) }));
    there.close();
    here.close();
    return;
  }
  const perRound: number[] = [];
  const natPerRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const ms0 = here.natMs();
    perRound.push(await cpuPer(here, transactions));
    natPerRound.push(((here.natMs() - ms0) * 1000) / transactions);
  }
  // `median`: the process's CPU us per transaction; `nat`: wall us inside the nat's batch callback.
  console.log(JSON.stringify({ transactions, rounds: fixed(perRound), median: median(perRound), natRounds: fixed(natPerRound), nat: median(natPerRound), natDrops: here.drops() }));
  here.close();
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
