/**
 * Large segments (TSO): a core whose path segments (`gsoMaxBytes`) sends new data in segments
 * of several MSS, sized as tso-size.ts says, and retransmits MSS-sized pieces; without it every
 * segment is at most one MSS. Two cores over an in-test network that cuts each large segment
 * into MSS-sized ones as a TSO device would (PSH/FIN on the last piece) and then loses pieces,
 * in virtual time.
 */

import assert from 'node:assert/strict';
import { createRandom } from '../../src/random.js';
import { resolveTcpConfig, type TcpConfig } from '../../src/tcp/config.js';
import { TcpConnectionCore, type TcpHost } from '../../src/tcp/connection.js';
import { tsoSegmentBytes } from '../../src/tcp/tso-size.js';
import { TcpFlags, type TcpRepr } from '../../src/wire/tcp.js';
import { seqLt, seqAdd } from '../../src/tcp/seq.js';

const streamByte = (i: number): number => ((i * 2654435761) >>> 9) & 0xff;

interface Result {
  a: TcpConnectionCore;
  /** Payload lengths of A's segments carrying new data, and of its retransmissions. */
  fresh: number[];
  /** A's large segments whose payload was a copy, not a view of the send buffer. */
  copied: number;
  resent: number[];
  received: number;
  now: number;
}

/** A sends `bytes` to B; `cut` splits A's segments into MSS pieces (a TSO link); `loss` per piece. */
function transfer(options: { bytes: number; gsoMaxBytes: number; loss: number; seed: number; delay?: number; config?: Partial<TcpConfig> }): Result {
  const rng = createRandom(options.seed);
  const config = resolveTcpConfig({ delayedAckTimeout: 40, msl: 1000, ...options.config });
  const queue: { at: number; to: 'a' | 'b'; seg: TcpRepr }[] = [];
  const delay = options.delay ?? 5;
  let now = 0;
  let highest: number | undefined;
  const fresh: number[] = [];
  const resent: number[] = [];
  let copied = 0;
  let received = 0;
  let written = 0;
  let finished = false;

  const deliver = (to: 'a' | 'b', seg: TcpRepr): void => {
    if (rng.next() < options.loss) return;
    queue.push({ at: now + delay, to, seg: { ...seg, payload: seg.payload.slice() } });
  };
  const aHost: TcpHost = {
    send: (conn, seg) => {
      if (seg.payload.length > 0) {
        const end = seqAdd(seg.seq, seg.payload.length);
        if (highest !== undefined && seqLt(seg.seq, highest)) resent.push(seg.payload.length);
        else fresh.push(seg.payload.length);
        if (highest === undefined || seqLt(highest, end)) highest = end;
      }
      const mss = conn.sndMss;
      // A copy (SendBuffer.peek across the ring's end) is an array of its own, exactly as long.
      if (seg.payload.length > mss && seg.payload.buffer.byteLength === seg.payload.length) copied++;
      if (seg.payload.length <= mss) {
        deliver('b', seg);
        return;
      }
      // The link's TSO: pieces of one MSS, PSH and FIN only on the last.
      for (let off = 0; off < seg.payload.length; off += mss) {
        const last = off + mss >= seg.payload.length;
        const flags = last ? seg.flags : seg.flags & ~(TcpFlags.PSH | TcpFlags.FIN);
        deliver('b', { ...seg, seq: seqAdd(seg.seq, off), flags, payload: seg.payload.subarray(off, Math.min(off + mss, seg.payload.length)) });
      }
    },
    onEstablished: () => pump(),
    onWritable: () => pump(),
  };
  const bHost: TcpHost = {
    send: (_c, seg) => deliver('a', seg),
    onReadable: () => {
      for (;;) {
        const chunk = b.read(1 << 20);
        if (chunk === undefined) break;
        for (let i = 0; i < chunk.length; i++) if (chunk[i] !== streamByte(received + i)) assert.fail(`byte ${received + i} differs`);
        received += chunk.length;
      }
    },
  };
  const a = new TcpConnectionCore({ localAddr: 1, localPort: 1000, remoteAddr: 2, remotePort: 2000, iss: 0xffff_0000, host: aHost, config });
  const b = new TcpConnectionCore({ localAddr: 2, localPort: 2000, remoteAddr: 1, remotePort: 1000, iss: 77, host: bHost, config });
  a.gsoMaxBytes = options.gsoMaxBytes;
  function pump(): void {
    while (written < options.bytes && a.writableLength > 0) {
      const n = Math.min(options.bytes - written, a.writableLength, 256 * 1024);
      const chunk = new Uint8Array(n);
      for (let i = 0; i < n; i++) chunk[i] = streamByte(written + i);
      written += a.write(chunk, now);
    }
    if (written === options.bytes && !finished) {
      finished = true;
      a.shutdown(now);
    }
  }
  b.listen();
  a.connect(now);
  while (!(received === options.bytes && b.readEnded)) {
    let next = queue.length > 0 ? queue[0].at : Infinity;
    for (const c of [a, b]) {
      const d = c.nextDeadline();
      if (d !== undefined && d < next) next = d;
    }
    assert.ok(next !== Infinity && next < 600_000, `stalled at ${now} ms with ${received} bytes`);
    now = Math.max(now, next);
    while (queue.length > 0 && queue[0].at <= now) {
      const item = queue.shift()!;
      (item.to === 'a' ? a : b).handleSegment(item.seg, now);
    }
    for (const c of [a, b]) if ((c.nextDeadline() ?? Infinity) <= now) c.handleTimer(now);
  }
  return { a, fresh, resent, copied, received, now };
}

const MiB = 1024 * 1024;

describe('tcp: large segments (TSO)', function () {
  this.timeout(60_000);

  it('sends new data in segments of several MSS, whole MSS pieces but the last, when the path segments', () => {
    // A sub-millisecond path (a TAP device): the segments are the largest the link takes.
    const r = transfer({ bytes: 4 * MiB, gsoMaxBytes: 65535, loss: 0, seed: 1, delay: 0.05 });
    const mss = r.a.sndMss;
    const large = r.fresh.filter((n) => n > mss);
    assert.ok(large.length > 0, 'some segments are larger than the MSS');
    assert.ok(r.fresh.length < (4 * MiB) / mss / 10, `${r.fresh.length} data segments for 4 MiB`);
    assert.ok(Math.max(...r.fresh) <= 65535 - 80, 'no segment beyond what an IPv4 packet holds');
    // Every large segment is whole MSS pieces, except one carrying the last byte then queued.
    const ragged = large.filter((n) => n % mss !== 0).length;
    assert.ok(ragged <= r.fresh.length / 10, `${ragged} large segments not a multiple of the MSS`);
    assert.equal(r.a.counters.largeSegmentsSent, large.length);
    assert.ok(r.a.counters.segmentsSent >= (4 * MiB) / mss, 'segmentsSent counts the pieces on the wire');
    assert.equal(r.received, 4 * MiB);
  });

  it('a large segment stops at the send buffer ring\'s end: its payload is always a view, never a copy', () => {
    // 16 MiB through a send buffer of at most 1 MiB: the ring wraps some 16 times or more.
    const r = transfer({ bytes: 16 * MiB, gsoMaxBytes: 65535, loss: 0, seed: 4, delay: 0.05, config: { sendBufferMax: 1 * MiB } });
    const mss = r.a.sndMss;
    assert.ok(r.fresh.filter((n) => n > mss).length > 200, 'large segments were sent');
    assert.equal(r.copied, 0, `${r.copied} large segments copied`);
    // One shorter segment a lap at most: still mostly whole MSS pieces.
    const ragged = r.fresh.filter((n) => n > mss && n % mss !== 0).length;
    assert.ok(ragged <= r.fresh.length / 10, `${ragged} large segments not a multiple of the MSS`);
    assert.equal(r.received, 16 * MiB);
  });

  it('sends segments of at most one MSS without gsoMaxBytes', () => {
    const r = transfer({ bytes: 1 * MiB, gsoMaxBytes: 0, loss: 0, seed: 1 });
    assert.ok(r.fresh.every((n) => n <= r.a.sndMss));
    assert.equal(r.a.counters.largeSegmentsSent, 0);
    assert.equal(r.received, 1 * MiB);
  });

  for (const seed of [3, 4, 5]) {
    it(`2% loss of the pieces (seed ${seed}): byte-exact, and every retransmission is at most one MSS`, () => {
      const r = transfer({ bytes: 4 * MiB, gsoMaxBytes: 65535, loss: 0.02, seed });
      assert.equal(r.received, 4 * MiB);
      assert.ok(r.resent.length > 0, 'losses were repaired');
      assert.ok(r.fresh.some((n) => n > r.a.sndMss), 'large segments were sent');
      assert.ok(r.resent.every((n) => n <= r.a.sndMss), `retransmissions: ${r.resent.filter((n) => n > r.a.sndMss).join(', ')}`);
    });
  }

  it('a loss of the tail of a large segment is repaired (no SACK: timeout and go-back-N in MSS pieces)', () => {
    const r = transfer({ bytes: 1 * MiB, gsoMaxBytes: 65535, loss: 0.05, seed: 11, config: { sack: false } });
    assert.equal(r.received, 1 * MiB);
    assert.ok(r.resent.every((n) => n <= r.a.sndMss));
  });
});

describe('tsoSegmentBytes (the size of a large segment, as tcp_tso_autosize)', () => {
  const mss = 1448;
  const max = 65535 - 80;
  it('is the largest whole number of MSS before an RTT sample', () => {
    assert.equal(tsoSegmentBytes(mss, max, 14480, 0, 0, Infinity, true), Math.floor(max / mss) * mss);
  });
  it('is the largest on a sub-millisecond path (the 64 KiB bonus)', () => {
    assert.equal(tsoSegmentBytes(mss, max, 14480, 0, 0.1, 0.1, true), Math.floor(max / mss) * mss);
  });
  it('follows the pacing rate on a slower path: about 1 ms of data, at least 2 MSS', () => {
    // cwnd 100 MSS, SRTT 50 ms, congestion avoidance: 1.2 * 144800 / 50 = 3475 bytes per ms.
    assert.equal(tsoSegmentBytes(mss, max, 100 * mss, 0, 50, 50, false), 2 * mss);
    // Slow start doubles the rate: 200 MSS over 20 ms is 28960 bytes per ms.
    assert.equal(tsoSegmentBytes(mss, max, 200 * mss, 0, 20, 20, true), 19 * mss);
    assert.equal(tsoSegmentBytes(mss, max, 10 * mss, 0, 100, 100, true), 2 * mss);
  });
  it('is one MSS when the link takes no more than one', () => {
    assert.equal(tsoSegmentBytes(mss, mss + 10, 14480, 0, 0, Infinity, true), mss);
  });
});
