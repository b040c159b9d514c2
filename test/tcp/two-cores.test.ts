/**
 * Two TcpConnectionCores talking through an in-test network that loses, duplicates and reorders
 * segments (seeded, so a failure replays exactly). Virtual time: the loop jumps to the next
 * delivery or timer deadline, so megabytes move in well under a second of real time.
 */

import assert from 'node:assert/strict';
import { createRandom, type Random } from '../../src/random.js';
import { resolveTcpConfig, type TcpConfig } from '../../src/tcp/config.js';
import { TcpConnectionCore, type TcpHost } from '../../src/tcp/connection.js';
import type { TcpRepr } from '../../src/wire/tcp.js';

interface Impairment {
  loss: number;
  duplicate: number;
  /** One-way delay: base + uniform jitter (jitter reorders). */
  delay: number;
  jitter: number;
}

interface InFlight {
  at: number;
  order: number;
  to: Side;
  seg: TcpRepr;
}

/** The stream byte at offset i for a direction (different per direction). */
function streamByte(dir: number, i: number): number {
  return ((i * 2654435761) >>> (8 + dir)) & 0xff;
}

class Side {
  conn!: TcpConnectionCore;
  sentUpTo = 0;
  received = 0;
  gotFin = false;
  closedError: string | undefined;
  closed = false;
  finished = false;
  constructor(readonly name: string, readonly dir: number, readonly total: number, readonly readChunk: number | undefined) {}

  /** Writes as much of its stream as the send buffer takes; shuts down when all is written. */
  pump(now: number): void {
    while (this.sentUpTo < this.total && this.conn.writableLength > 0) {
      const n = Math.min(this.total - this.sentUpTo, this.conn.writableLength, 64 * 1024);
      const chunk = new Uint8Array(n);
      for (let i = 0; i < n; i++) chunk[i] = streamByte(this.dir, this.sentUpTo + i);
      this.sentUpTo += this.conn.write(chunk, now);
    }
    if (this.sentUpTo === this.total && !this.finished) {
      this.finished = true;
      this.conn.shutdown(now);
    }
  }

  /** Reads (everything, or one chunk when modelling a slow reader) and checks every byte. */
  drain(limit = Number.POSITIVE_INFINITY): void {
    let budget = limit;
    while (budget > 0) {
      const chunk = this.conn.read(budget);
      if (chunk === undefined) break;
      const other = 1 - this.dir;
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] !== streamByte(other, this.received + i)) {
          assert.fail(`${this.name}: byte ${this.received + i} differs`);
        }
      }
      this.received += chunk.length;
      budget -= chunk.length;
    }
  }
}

function run(options: {
  seed: number;
  bytes: number;
  impairment: Impairment;
  config?: Partial<TcpConfig>;
  /** When set, B reads only this many bytes every `readEveryMs` (a slow reader: the window closes). */
  slowReader?: number;
  readEveryMs?: number;
  maxVirtualMs?: number;
  /** Sees every segment a side sends (before the network decides its fate) and every delivery. */
  trace?: { sent?(from: 'A' | 'B', seg: TcpRepr, now: number): void; delivered?(to: 'A' | 'B', seg: TcpRepr, now: number): void };
}): { a: Side; b: Side; now: number; aConn: TcpConnectionCore; bConn: TcpConnectionCore } {
  const rng: Random = createRandom(options.seed);
  const config = resolveTcpConfig({ delayedAckTimeout: 40, msl: 1000, ...options.config });
  const queue: InFlight[] = [];
  let order = 0;
  let now = 0;
  const imp = options.impairment;

  const a = new Side('A', 0, options.bytes, undefined);
  const b = new Side('B', 1, options.bytes, options.slowReader);

  const transmit = (to: Side, seg: TcpRepr): void => {
    options.trace?.sent?.(to === b ? 'A' : 'B', seg, now);
    if (rng.next() < imp.loss) return;
    const copies = rng.next() < imp.duplicate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      const item: InFlight = { at: now + imp.delay + rng.next() * imp.jitter, order: order++, to, seg: { ...seg, payload: seg.payload.slice() } };
      // Keep the queue sorted by time (then by order): insertion from the back.
      let i = queue.length;
      while (i > 0 && (queue[i - 1].at > item.at || (queue[i - 1].at === item.at && queue[i - 1].order > item.order))) i--;
      queue.splice(i, 0, item);
    }
  };

  const hostFor = (self: Side, peer: Side): TcpHost => ({
    send: (_c, seg) => transmit(peer, seg),
    onEstablished: () => self.pump(now),
    onWritable: () => self.pump(now),
    onReadable: () => {
      if (self.readChunk === undefined) self.drain();
    },
    onPeerFin: () => {
      self.gotFin = true;
    },
    onClosed: (_c, err) => {
      self.closed = true;
      self.closedError = err?.code;
    },
  });

  a.conn = new TcpConnectionCore({ localAddr: 1, localPort: 1000, remoteAddr: 2, remotePort: 2000, iss: 0xffff_f000, host: hostFor(a, b), config });
  b.conn = new TcpConnectionCore({ localAddr: 2, localPort: 2000, remoteAddr: 1, remotePort: 1000, iss: 0x7fff_ff00, host: hostFor(b, a), config });
  b.conn.listen();
  a.conn.connect(now);

  const limit = options.maxVirtualMs ?? 600_000;
  let nextRead = 5;
  const done = (): boolean =>
    a.received === options.bytes && b.received === options.bytes && a.gotFin && b.gotFin &&
    (a.conn.state === 'CLOSED' || a.conn.state === 'TIME-WAIT') && (b.conn.state === 'CLOSED' || b.conn.state === 'TIME-WAIT');

  while (!done()) {
    let next = queue.length > 0 ? queue[0].at : Number.POSITIVE_INFINITY;
    const da = a.conn.nextDeadline();
    const db = b.conn.nextDeadline();
    if (da !== undefined && da < next) next = da;
    if (db !== undefined && db < next) next = db;
    if (options.slowReader !== undefined && nextRead < next) next = nextRead;
    assert.ok(next !== Number.POSITIVE_INFINITY, `stalled at ${now} ms: A ${a.conn.state} got ${a.received}, B ${b.conn.state} got ${b.received}`);
    assert.ok(next <= limit, `not done after ${limit} virtual ms: A got ${a.received}, B got ${b.received}`);
    now = Math.max(now, next);
    while (queue.length > 0 && queue[0].at <= now) {
      const item = queue.shift() as InFlight;
      options.trace?.delivered?.(item.to === a ? 'A' : 'B', item.seg, now);
      item.to.conn.handleSegment(item.seg, now);
    }
    if ((a.conn.nextDeadline() ?? Infinity) <= now) a.conn.handleTimer(now);
    if ((b.conn.nextDeadline() ?? Infinity) <= now) b.conn.handleTimer(now);
    if (options.slowReader !== undefined && nextRead <= now) {
      b.drain(options.slowReader);
      nextRead = now + (options.readEveryMs ?? 5);
    }
  }
  return { a, b, now, aConn: a.conn, bConn: b.conn };
}

const MiB = 1024 * 1024;

describe('tcp: two cores over a lossy, reordering network', function () {
  this.timeout(120_000);

  it('a clean network moves 4 MiB each way byte-exact, without retransmissions', () => {
    const { aConn, bConn } = run({ seed: 1, bytes: 4 * MiB, impairment: { loss: 0, duplicate: 0, delay: 5, jitter: 0 } });
    assert.equal(aConn.counters.retransmits + bConn.counters.retransmits, 0);
    assert.equal(aConn.counters.bytesAcked, 4 * MiB);
  });

  it('5% loss, 1% duplication and reordering: 4 MiB each way byte-exact, then both close', () => {
    const { aConn, bConn } = run({ seed: 42, bytes: 4 * MiB, impairment: { loss: 0.05, duplicate: 0.01, delay: 10, jitter: 10 } });
    const total = (k: 'retransmits' | 'fastRetransmits' | 'outOfOrderSegments' | 'duplicateSegments') => aConn.counters[k] + bConn.counters[k];
    assert.ok(total('retransmits') > 0);
    assert.ok(total('fastRetransmits') > 0, 'loss recovered by fast retransmit');
    assert.ok(total('outOfOrderSegments') > 0, 'reordering exercised reassembly');
    assert.ok(total('duplicateSegments') > 0);
    assert.equal(aConn.counters.bytesAcked, 4 * MiB);
  });

  for (const seed of [7, 8, 9]) {
    it(`small buffers, no window scaling, heavy loss (seed ${seed}): 1 MiB each way`, () => {
      run({
        seed,
        bytes: 1 * MiB,
        impairment: { loss: 0.1, duplicate: 0.02, delay: 3, jitter: 6 },
        config: { receiveBufferSize: 16 * 1024, sendBufferSize: 16 * 1024, windowScaling: false, mss: 536 },
      });
    });
  }

  it('a slow reader: the window closes and reopens (zero-window probes), data stays exact', () => {
    // What A sends while the last window it got from B was zero: probes only.
    let aSeesZero = false;
    let zeroAdvertised = 0;
    const whileClosed: { at: number; seq: number; len: number }[] = [];
    const { aConn, bConn } = run({
      seed: 5,
      bytes: 128 * 1024,
      slowReader: 8000,
      readEveryMs: 1000,
      impairment: { loss: 0.02, duplicate: 0, delay: 2, jitter: 1 },
      config: { receiveBufferSize: 32 * 1024 },
      trace: {
        delivered: (to, seg) => {
          if (to !== 'A') return;
          aSeesZero = seg.window === 0;
          if (aSeesZero) zeroAdvertised++;
        },
        sent: (from, seg, now) => {
          if (from === 'A' && aSeesZero && (seg.flags & 0x01) === 0) whileClosed.push({ at: now, seq: seg.seq, len: seg.payload.length });
        },
      },
    });
    assert.ok(zeroAdvertised > 0, 'B advertised a zero window');
    assert.ok(aConn.counters.zeroWindowProbes > 0, 'A probed the closed window');
    assert.ok(bConn.counters.windowUpdates > 0, 'B reopened it with window updates');
    const probes = whileClosed.filter((s) => s.len > 0);
    assert.ok(probes.length > 0, 'probes carried data into the closed window');
    for (const s of probes) assert.equal(s.len, 1, `A sent ${s.len} bytes at ${s.at} ms into a zero window: only 1-byte probes may go`);
    // A probe that goes unanswered is repeated on the persist timer, never in a burst.
    for (let i = 1; i < probes.length; i++) {
      if (probes[i].seq !== probes[i - 1].seq) continue;
      assert.ok(probes[i].at - probes[i - 1].at >= 200, `probes of byte ${probes[i].seq} at ${probes[i - 1].at} and ${probes[i].at} ms`);
    }
  });

  it('sequence numbers wrap during the transfer (ISS 0xfffff000)', () => {
    const { aConn } = run({ seed: 3, bytes: 64 * 1024, impairment: { loss: 0.02, duplicate: 0, delay: 1, jitter: 2 } });
    assert.ok(aConn.sndUna < 0x10000, 'A sequence space wrapped past 2^32');
  });
});
