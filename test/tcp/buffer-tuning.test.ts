/**
 * Buffer auto-tuning: the receive buffer (and the window) grows with the delivery per RTT when
 * the reader keeps up, not when it is slow; never beyond its cap; the right edge never moves
 * left; an explicit size turns it off; the send buffer grows with cwnd. Two cores over a
 * fixed-delay path in virtual time, plus the tuner's arithmetic on its own.
 */

import assert from 'node:assert/strict';
import { DEFAULT_TCP_CONFIG, fixedBufferProblems, receiveBufferLimit, resolveTcpConfig, windowScaleFor, withFixedBuffers, type TcpConfig } from '../../src/tcp/config.js';
import { DeliveryMeter, ReceiveBufferTuner, sendBufferTarget, sendBufferTargetFor } from '../../src/tcp/buffer-tuning.js';
import { TcpConnectionCore, type TcpHost } from '../../src/tcp/connection.js';
import { tcpInfo } from '../../src/tcp/info.js';
import { seqDiff } from '../../src/tcp/seq.js';
import { TcpFlags, type TcpRepr } from '../../src/wire/tcp.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('tcp/buffer-tuning: ReceiveBufferTuner', () => {
  it('starts sized for an initial window of 10 segments (or the buffer, if smaller)', () => {
    assert.equal(new ReceiveBufferTuner(1000, 64 * KiB).space, 10_000);
    assert.equal(new ReceiveBufferTuner(1000, 4000).space, 4000);
  });

  it('window-based RTT: data beyond the edge advertised when the measure began ends it; the smallest sample is kept', () => {
    const t = new ReceiveBufferTuner(1000, 64 * KiB);
    t.onWindowData(1000, 10_000, 0); // measure: right edge at 11000
    t.onWindowData(11_000, 10_000, 30); // at the edge, not beyond: the peer could send it without a new ACK
    assert.equal(t.rttMs, 0);
    t.onWindowData(12_000, 20_000, 52); // beyond: one sample, 52 ms; next edge 32000
    assert.equal(t.rttMs, 52);
    t.onWindowData(33_000, 20_000, 52 + 80); // slower this time (cwnd-limited): min kept
    assert.equal(t.rttMs, 52);
    t.onWindowData(54_000, 20_000, 132 + 50);
    assert.equal(t.rttMs, 50);
  });

  it('timestamp RTT: one sample per echo, smoothed with gain 1/8', () => {
    const t = new ReceiveBufferTuner(1000, 64 * KiB);
    t.onTimestampSample(100, 40);
    assert.equal(t.rttMs, 40);
    t.onTimestampSample(100, 90); // the same echo again: a later segment of the same burst
    assert.equal(t.rttMs, 40);
    t.onTimestampSample(140, 48);
    assert.equal(t.rttMs, 41);
  });

  it('grows once per RTT, only when the reader took more than the last growth was for', () => {
    const t = new ReceiveBufferTuner(1000, 64 * KiB);
    t.onTimestampSample(1, 50);
    t.onData(0, 0);
    assert.equal(t.onRead(30_000, 40), 0, 'less than an RTT since the measure began');
    // 30000 read in the first RTT vs 10000 assumed: 2 * 30000 + 16 segments, plus slow-start
    // room (delivery at least doubled: twice as much again).
    assert.equal(t.onRead(30_000, 50), (2 * 30_000 + 16_000) * 3);
    assert.equal(t.space, 30_000);
    // Next RTT: 45000 read (1.5x): headroom 2 * 0.5.
    assert.equal(t.onRead(75_000, 100), (2 * 45_000 + 16_000) * 2);
    // A steady reader (45000 again) asks for nothing more, nor does a slower one.
    assert.equal(t.onRead(120_000, 150), 0);
    assert.equal(t.onRead(130_000, 200), 0);
    assert.equal(t.space, 45_000);
  });

  it('without an RTT estimate nothing grows', () => {
    const t = new ReceiveBufferTuner(1000, 64 * KiB);
    t.onData(0, 0);
    assert.equal(t.onRead(10 * MiB, 10_000), 0);
  });

  it('send target: twice cwnd, at least twice the initial window', () => {
    assert.equal(sendBufferTarget(100_000, 1000, 10), 200_000);
    assert.equal(sendBufferTarget(4000, 1000, 10), 20_000);
  });
});

describe('tcp/buffer-tuning: configuration', () => {
  it('defaults: on, capped at 6 MiB receive and 4 MiB send (Linux tcp_rmem / tcp_wmem maxima)', () => {
    assert.equal(DEFAULT_TCP_CONFIG.receiveBufferMax, 6 * MiB);
    assert.equal(DEFAULT_TCP_CONFIG.sendBufferMax, 4 * MiB);
    assert.equal(receiveBufferLimit(DEFAULT_TCP_CONFIG), 6 * MiB);
  });

  it('rejects bad caps, naming each field', () => {
    assert.throws(
      () => resolveTcpConfig({ receiveBufferMax: 0, sendBufferMax: 1.5 }),
      (e: Error & { code?: string }) => e.code === 'ERR_INVALID_CONFIG' && /receiveBufferMax: expected/.test(e.message) && /sendBufferMax: expected/.test(e.message),
    );
    assert.throws(() => resolveTcpConfig({ receiveBufferMax: 2 ** 31 }), /receiveBufferMax/);
  });

  it('a cap not above the initial size turns tuning off, and the window scale follows the larger', () => {
    const off = resolveTcpConfig({ receiveBufferSize: 8 * MiB });
    assert.equal(receiveBufferLimit(off), 8 * MiB);
    assert.equal(receiveBufferLimit(resolveTcpConfig({ receiveBufferSize: 64 * KiB })), 6 * MiB);
  });

  it('an explicit per-connection size fixes that buffer; bad sizes are named', () => {
    const fixed = withFixedBuffers(DEFAULT_TCP_CONFIG, { receiveBufferSize: 100_000 });
    assert.equal(fixed.receiveBufferSize, 100_000);
    assert.equal(fixed.receiveBufferMax, 100_000);
    assert.equal(fixed.sendBufferMax, DEFAULT_TCP_CONFIG.sendBufferMax, 'the other buffer keeps tuning');
    const problems: string[] = [];
    fixedBufferProblems({ receiveBufferSize: -1, sendBufferSize: 'x' as unknown as number }, problems);
    assert.equal(problems.length, 2);
    assert.match(problems[0], /^receiveBufferSize: /);
    assert.match(problems[1], /^sendBufferSize: /);
  });
});

// ---------------------------------------------------------------------------------------------
// Two cores over a path of fixed one-way delay (no loss, no rate limit: the windows and buffers
// are all that bound the rate).

interface Transfer {
  a: TcpConnectionCore;
  b: TcpConnectionCore;
  /** Bytes B's reader took, by virtual time: [ms, total]. */
  progress: [number, number][];
  /** B's ACKs: the right edge (ack + scaled window) of each, in order, as distances from the first. */
  rightEdges: number[];
  bSyn: TcpRepr | undefined;
}

function transfer(options: {
  bytes: number;
  oneWayMs: number;
  aConfig?: Partial<TcpConfig>;
  bConfig?: Partial<TcpConfig>;
  /** B reads at most this many bytes every `readEveryMs` (a slow reader); default all at once. */
  readBytes?: number;
  readEveryMs?: number;
  /** B's reader stops for good at this time. */
  stopReadingAt?: number;
  /** A bottleneck from A to B (bytes per ms, 40 header bytes counted per segment); default none. */
  bottleneckBytesPerMs?: number;
  untilMs: number;
}): Transfer {
  const queue: { at: number; to: 'a' | 'b'; seg: TcpRepr }[] = [];
  let now = 0;
  let written = 0;
  let read = 0;
  const progress: [number, number][] = [];
  const rightEdges: number[] = [];
  let firstEdge: number | undefined;
  let bSyn: TcpRepr | undefined;
  const payload = new Uint8Array(64 * KiB);

  const pump = (): void => {
    while (written < options.bytes && a.writableLength > 0) {
      written += a.write(payload.subarray(0, Math.min(payload.length, options.bytes - written)), now);
    }
  };
  const drain = (budget: number): void => {
    while (budget > 0) {
      const c = b.read(budget, now);
      if (c === undefined) break;
      read += c.length;
      budget -= c.length;
    }
    progress.push([now, read]);
  };
  const link = (to: 'a' | 'b') => (_c: TcpConnectionCore, seg: TcpRepr): void => {
    if (to === 'a') {
      if ((seg.flags & TcpFlags.SYN) !== 0) bSyn = { ...seg, payload: new Uint8Array(0) };
      else {
        const edge = (seg.ack + (seg.window << b.rcvWndScale)) >>> 0;
        firstEdge ??= edge;
        rightEdges.push(seqDiff(edge, firstEdge));
      }
    }
    // One fixed delay per direction, and behind the bottleneck the time to serialize the segment.
    let at = now + options.oneWayMs;
    const rate = options.bottleneckBytesPerMs;
    if (rate !== undefined && to === 'b') {
      linkFree = Math.max(linkFree, now) + (seg.payload.length + 40) / rate;
      at = linkFree + options.oneWayMs;
    }
    // Deliveries stay in time order (stable: same-time segments in the order sent).
    let i = queue.length;
    while (i > 0 && queue[i - 1].at > at) i--;
    queue.splice(i, 0, { at, to, seg: { ...seg, payload: seg.payload.slice() } });
  };
  let linkFree = 0;
  const aHost: TcpHost = { send: link('b'), onEstablished: () => pump(), onWritable: () => pump() };
  const bHost: TcpHost = { send: link('a'), onReadable: () => { if (options.readBytes === undefined && now < (options.stopReadingAt ?? Infinity)) drain(Infinity); } };
  const base = { delayedAckTimeout: 40, congestionControl: 'newreno' as const };
  const a = new TcpConnectionCore({ localAddr: 1, localPort: 1000, remoteAddr: 2, remotePort: 2000, iss: 1, host: aHost, config: resolveTcpConfig({ ...base, ...options.aConfig }) });
  const b = new TcpConnectionCore({ localAddr: 2, localPort: 2000, remoteAddr: 1, remotePort: 1000, iss: 7, host: bHost, config: resolveTcpConfig({ ...base, ...options.bConfig }) });
  b.listen();
  a.connect(now);
  let nextRead = options.readEveryMs ?? Infinity;
  while (now < options.untilMs) {
    let next = queue.length > 0 ? queue[0].at : Infinity;
    for (const d of [a.nextDeadline(), b.nextDeadline(), nextRead]) if (d !== undefined && d < next) next = d;
    if (next === Infinity || next > options.untilMs) break;
    now = next;
    while (queue.length > 0 && queue[0].at <= now) {
      const item = queue.shift() as (typeof queue)[number];
      (item.to === 'a' ? a : b).handleSegment(item.seg, now);
    }
    if ((a.nextDeadline() ?? Infinity) <= now) a.handleTimer(now);
    if ((b.nextDeadline() ?? Infinity) <= now) b.handleTimer(now);
    if (nextRead <= now) {
      drain(options.readBytes as number);
      nextRead = now + (options.readEveryMs as number);
    }
  }
  return { a, b, progress, rightEdges, bSyn };
}

/** Bytes read between virtual times `from` and `to`, per second. */
function goodput(t: Transfer, from: number, to: number): number {
  const at = (ms: number): number => {
    let v = 0;
    for (const [time, total] of t.progress) if (time <= ms) v = total;
    return v;
  };
  return ((at(to) - at(from)) * 1000) / (to - from);
}

const RTT = 50;
const INITIAL = 64 * KiB;
/** A's send buffer is fixed and large, so B's window is what limits. */
const BIG_SENDER = { sendBufferSize: 16 * MiB, sendBufferMax: 16 * MiB };

describe('tcp/buffer-tuning: the receive window follows the reader (50 ms RTT, virtual time)', function () {
  this.timeout(60_000);

  for (const timestamps of [true, false]) {
    it(`a reader that keeps up: the buffer grows past the initial window up to the cap (timestamps ${timestamps ? 'on' : 'off'})`, () => {
      const cap = 2 * MiB;
      const t = transfer({
        bytes: 1024 * MiB, oneWayMs: RTT / 2, untilMs: 3000,
        aConfig: { ...BIG_SENDER, timestamps },
        bConfig: { receiveBufferSize: INITIAL, receiveBufferMax: cap, timestamps },
      });
      assert.ok(t.b.counters.receiveBufferGrown >= 2, `grew ${t.b.counters.receiveBufferGrown} times`);
      assert.equal(t.b.receiveBufferSize, cap, 'grew to the cap, not beyond');
      const rtt = t.b.receiveRtt;
      assert.ok(rtt >= RTT && rtt < 2 * RTT, `the receiver's RTT estimate ${rtt} ms is about the path's`);
      // The initial window allows INITIAL per RTT; the last second moved far more.
      const limit = (INITIAL * 1000) / RTT;
      const late = goodput(t, 2000, 3000);
      assert.ok(late > 8 * limit, `goodput ${Math.round(late)} B/s vs ${Math.round(limit)} B/s with the initial window`);
      assert.ok(late <= (cap * 1000) / RTT * 1.01, 'and no more than the cap allows');
      // The window scale was chosen for the cap at SYN time.
      assert.equal(t.bSyn?.windowScale, windowScaleFor(cap));
      const info = tcpInfo(t.b);
      assert.equal(info.receiveBuffer, cap);
      assert.ok(info.receiveSpace > INITIAL);
    });
  }

  it('the right edge of the advertised window never moves left while it grows', () => {
    const t = transfer({
      bytes: 32 * MiB, oneWayMs: RTT / 2, untilMs: 2000,
      aConfig: BIG_SENDER,
      bConfig: { receiveBufferSize: INITIAL, receiveBufferMax: 4 * MiB },
    });
    assert.ok(t.b.counters.receiveBufferGrown > 0);
    assert.ok(t.rightEdges.length > 100);
    for (let i = 1; i < t.rightEdges.length; i++) {
      assert.ok(t.rightEdges[i] >= t.rightEdges[i - 1], `edge moved left at ACK ${i}: ${t.rightEdges[i - 1]} -> ${t.rightEdges[i]}`);
    }
    assert.ok(t.rightEdges[t.rightEdges.length - 1] > 4 * INITIAL);
  });

  it('a reader that stops after the buffer grew: the window closes within the buffer (scale rounding does not creep past it)', () => {
    const t = transfer({
      bytes: 1024 * MiB, oneWayMs: RTT / 2, untilMs: 4000, stopReadingAt: 1500,
      aConfig: BIG_SENDER,
      bConfig: { receiveBufferSize: INITIAL, receiveBufferMax: 2 * MiB },
    });
    assert.equal(t.b.receiveBufferSize, 2 * MiB);
    assert.equal(t.b.rcvWndScale, 6);
    assert.ok(t.b.readableLength > 2 * MiB - 1000, `the buffer filled: ${t.b.readableLength}`);
    assert.ok(t.b.readableLength <= t.b.receiveBufferSize, `${t.b.readableLength} unread in a ${t.b.receiveBufferSize}-byte buffer`);
  });

  it('a slow reader (less than the initial window per RTT) does not grow the buffer', () => {
    const t = transfer({
      bytes: 8 * MiB, oneWayMs: RTT / 2, untilMs: 3000,
      aConfig: BIG_SENDER,
      bConfig: { receiveBufferSize: INITIAL, receiveBufferMax: 4 * MiB },
      readBytes: 4 * KiB, readEveryMs: 25, // 8 KiB per RTT
    });
    assert.ok(t.b.readableLength > 0, 'the reader is the bottleneck: data waits unread');
    assert.equal(t.b.counters.receiveBufferGrown, 0);
    assert.equal(t.b.receiveBufferSize, INITIAL);
    assert.ok(t.b.rcvWnd <= INITIAL);
  });

  it('an explicit size (tuning off) keeps the window at the initial size, and the scale fits it', () => {
    const t = transfer({
      bytes: 16 * MiB, oneWayMs: RTT / 2, untilMs: 2000,
      aConfig: BIG_SENDER,
      bConfig: withFixedBuffers(resolveTcpConfig({ receiveBufferMax: 4 * MiB }), { receiveBufferSize: INITIAL }),
    });
    assert.equal(t.b.counters.receiveBufferGrown, 0);
    assert.equal(t.b.receiveBufferSize, INITIAL);
    assert.equal(t.bSyn?.windowScale, windowScaleFor(INITIAL));
    const late = goodput(t, 1000, 2000);
    assert.ok(late <= (INITIAL * 1000) / RTT * 1.01, `goodput ${Math.round(late)} B/s stays within the fixed window's`);
  });
});

describe('tcp/buffer-tuning: the send buffer follows cwnd', function () {
  this.timeout(60_000);
  const SMALL = 32 * KiB;
  const BIG_RECEIVER = { receiveBufferSize: 8 * MiB, receiveBufferMax: 8 * MiB };

  it('a writer held back by a small buffer: it grows to about 2 x cwnd, capped, and write() takes more', () => {
    const cap = 1 * MiB;
    const t = transfer({
      bytes: 64 * MiB, oneWayMs: RTT / 2, untilMs: 3000,
      aConfig: { sendBufferSize: SMALL, sendBufferMax: cap },
      bConfig: BIG_RECEIVER,
    });
    assert.ok(t.a.counters.sendBufferGrown > 0);
    assert.equal(t.a.sendBufferSize, cap);
    assert.equal(tcpInfo(t.a).sendBuffer, cap);
    assert.ok(t.a.bufferedLength > SMALL, 'more than the initial size is held unacknowledged');
    const limit = (SMALL * 1000) / RTT;
    const late = goodput(t, 2000, 3000);
    assert.ok(late > 8 * limit, `goodput ${Math.round(late)} B/s vs ${Math.round(limit)} B/s with the initial buffer`);
  });

  it('with send tuning off the buffer stays, and so does the rate', () => {
    const t = transfer({
      bytes: 64 * MiB, oneWayMs: RTT / 2, untilMs: 2000,
      aConfig: { sendBufferSize: SMALL, sendBufferMax: SMALL },
      bConfig: BIG_RECEIVER,
    });
    assert.equal(t.a.counters.sendBufferGrown, 0);
    assert.equal(t.a.sendBufferSize, SMALL);
    assert.ok(goodput(t, 1000, 2000) <= (SMALL * 1000) / RTT * 1.01);
  });
});

describe('tcp/buffer-tuning: the send buffer follows what the path delivers, not cwnd alone', () => {
  it('DeliveryMeter: bytes per minimum RTT over windows of at least one RTT (and 1 ms), the larger of the last two', () => {
    const m = new DeliveryMeter();
    m.onAck(0, 0, Number.POSITIVE_INFINITY);
    assert.equal(m.bdp, 0, 'no RTT sample yet: nothing measured');
    m.onAck(0, 0, 0.05);
    m.onAck(1_000_000, 0.5, 0.05); // shorter than 1 ms: not a window yet
    assert.equal(m.bdp, 0);
    m.onAck(1_250_000, 1, 0.05); // 1.25 MB in 1 ms, 50 us RTT: 62.5 kB per RTT
    assert.equal(m.bdp, 62_500);
    m.onAck(1_750_000, 2, 0.05); // slower window: the larger of the last two stays
    assert.equal(m.bdp, 62_500);
    m.onAck(2_250_000, 3, 0.05);
    assert.equal(m.bdp, 25_000);
  });

  it('sendBufferTargetFor: 2 x cwnd, capped at 4 BDP + the initial window in whole bytes once a BDP is known', () => {
    assert.equal(sendBufferTargetFor(1_000_000, 1448, 10, 0), 2_000_000, 'no BDP yet: Linux\'s 2 x cwnd');
    assert.equal(sendBufferTargetFor(1_000_000, 1448, 10, 62_500.3), 250_001 + 14_480);
    assert.equal(sendBufferTargetFor(50_000, 1448, 10, 1_000_000), 100_000, 'a large BDP: cwnd limits');
  });

  for (const sack of [true, false]) {
    it(`a sub-millisecond path with timestamps (SACK ${sack ? 'on, RACK' : 'off, no RACK'}): the BDP is measured, the buffer stays near it, not 2 x cwnd`, () => {
      // 1 Gbit/s, 40 us of propagation: about 10 kB per RTT. A timestamp echo measures 0 or 1 ms
      // here; the buffer's bound needs the RTT at the clock's resolution (RACK's, or the timed
      // segments' without RACK), else it follows cwnd, which grows while the queue builds.
      const t = transfer({
        bytes: 48 * MiB, oneWayMs: 0.02, bottleneckBytesPerMs: 125_000, untilMs: 300,
        aConfig: { sack, sendBufferSize: 32 * KiB, sendBufferMax: 4 * MiB },
        bConfig: { sack, receiveBufferSize: 8 * MiB, receiveBufferMax: 8 * MiB },
      });
      const info = tcpInfo(t.a);
      assert.equal(info.options.sack, sack);
      assert.ok(info.options.timestamps);
      assert.ok(t.a.counters.sendBufferGrown > 0, 'the buffer grew from its initial 32 KiB');
      assert.ok(info.sendBuffer < 256 * KiB, `send buffer ${info.sendBuffer} (cwnd ${info.cwnd})`);
      assert.ok(2 * info.cwnd > 512 * KiB, `cwnd ${info.cwnd}: 2 x cwnd would have made the buffer larger`);
      assert.ok(goodput(t, 100, 300) > 0.9 * 125_000_000 * (1448 / 1488), `goodput ${Math.round(goodput(t, 100, 300))} B/s`);
    });
  }

  it('with the cap, a bulk sender on a 50 ms path still grows its buffer to megabytes (the path delivers that much per RTT)', () => {
    const long = transfer({ bytes: 24 * MiB, oneWayMs: 25, aConfig: { sendBufferSize: INITIAL, receiveBufferSize: INITIAL }, bConfig: { receiveBufferSize: INITIAL }, untilMs: 20_000 });
    assert.ok(tcpInfo(long.a).sendBuffer > 2 * MiB, `50 ms: send buffer ${tcpInfo(long.a).sendBuffer}`);
    assert.ok(Number.isInteger(tcpInfo(long.a).sendBuffer));
  });
});
