import assert from 'node:assert/strict';
import { parseIpv4 as parseAddr } from '../../../src/ipv4/address.js';
import { parseIpv4 } from '../../../src/wire/ipv4.js';
import { parseTcp, TcpFlags } from '../../../src/wire/tcp.js';
import { framesInOneBuffer, runTcpCoalescer as run, streamByte as byteAt, streamFrames, streamPayload } from '../../helpers/coalescer-runs.js';
import { tcpIpv4Frame } from '../../helpers/tcp-ip-frames.js';

const SRC = parseAddr('198.18.0.1')!;
const DST = parseAddr('198.18.0.2')!;
const LINK = { src: new Uint8Array([2, 0, 0, 0, 0, 1]), dst: new Uint8Array([2, 0, 0, 0, 0, 2]) };

interface SegOptions {
  seq: number;
  len: number;
  flags?: number;
  srcPort?: number;
  tsVal?: number;
  ethernet?: boolean;
}

/** One frame of the stream from 198.18.0.1:5001 (payload bytes by stream offset from seq 1000). */
function frame(o: SegOptions): Uint8Array {
  return tcpIpv4Frame({
    srcPort: o.srcPort ?? 5001, dstPort: 40000, seq: o.seq, ack: 77, flags: o.flags ?? TcpFlags.ACK, window: 1000, urgent: 0,
    timestamp: { tsVal: o.tsVal ?? 5, tsEcr: 6 }, payload: streamPayload(o.seq, o.len),
  }, { src: SRC, dst: DST, ident: o.seq & 0xffff, dontFragment: true }, o.ethernet === false ? null : LINK);
}

/** The TCP segment of a frame, both checksums verified. */
function segOf(f: Uint8Array, ethernet = true) {
  const ip = parseIpv4(ethernet ? f.subarray(14) : f);
  assert.ok(ip.ok, `IPv4: ${ip.ok ? '' : ip.reason}`);
  const tcp = parseTcp(ip.value.payload, ip.value.src, ip.value.dst);
  assert.ok(tcp.ok, `TCP: ${tcp.ok ? '' : tcp.reason}`);
  return tcp.value;
}

const stream = (count: number, size: number, from?: number, extra?: Partial<SegOptions>): Uint8Array[] => streamFrames(frame, count, size, from, extra);

describe('createTcpCoalescer (receive coalescing of a batch, GRO-like)', () => {
  it('makes one segment of a run: payload byte-exact, checksums valid, vouched for', () => {
    const frames = [...stream(9, 1448), frame({ seq: 1000 + 9 * 1448, len: 700, flags: TcpFlags.ACK | TcpFlags.PSH })];
    const { out, stats, verified } = run(frames);
    assert.equal(out.length, 1);
    assert.deepEqual(stats, { coalesced: 10, runs: 1 });
    assert.ok(verified.has(out[0]));
    const s = segOf(out[0]);
    assert.equal(s.seq, 1000);
    assert.equal(s.ack, 77);
    assert.equal(s.flags, TcpFlags.ACK | TcpFlags.PSH, 'PSH of the last');
    assert.deepEqual(s.timestamp, { tsVal: 5, tsEcr: 6 });
    assert.equal(s.payload.length, 9 * 1448 + 700);
    for (let i = 0; i < s.payload.length; i++) if (s.payload[i] !== byteAt(i)) assert.fail(`byte ${i}`);
  });

  it('frames read one after the other into one buffer (a device batch) are coalesced in place, byte-exact', () => {
    for (const size of [1448, 1447]) {
      const separate = [...stream(7, size), frame({ seq: 1000 + 7 * size, len: 11, flags: TcpFlags.ACK | TcpFlags.PSH })];
      const { buffer, batch } = framesInOneBuffer(separate);
      const { out } = run(batch);
      assert.equal(out.length, 1);
      assert.equal(out[0].buffer, buffer.buffer, 'built in the batch buffer');
      assert.equal(out[0].byteOffset, 0);
      const s = segOf(out[0]);
      assert.equal(s.payload.length, 7 * size + 11);
      assert.equal(s.flags, TcpFlags.ACK | TcpFlags.PSH, 'the last segment\'s flags');
      for (let i = 0; i < s.payload.length; i++) if (s.payload[i] !== byteAt(i)) assert.fail(`size ${size}: byte ${i}`);
    }
  });

  it('odd segment sizes (pieces at odd offsets): the checksum is still right', () => {
    const frames = [...stream(5, 1447), frame({ seq: 1000 + 5 * 1447, len: 3 })];
    const { out } = run(frames);
    assert.equal(out.length, 1);
    const s = segOf(out[0]);
    assert.equal(s.payload.length, 5 * 1447 + 3);
    for (let i = 0; i < s.payload.length; i++) if (s.payload[i] !== byteAt(i)) assert.fail(`byte ${i}`);
  });

  it('ends a run at a gap, another flow, other options, a short segment, and leaves FIN, pure ACKs and bad checksums alone', () => {
    const a = stream(3, 1000);
    const gap = frame({ seq: 5000, len: 1000 }); // 4000..4999 missing
    const other = frame({ seq: 7000, len: 1000, srcPort: 6000 });
    const ts = frame({ seq: 7000, len: 1000, tsVal: 9 });
    const fin = frame({ seq: 6000, len: 1000, flags: TcpFlags.ACK | TcpFlags.FIN });
    const pureAck = frame({ seq: 7000, len: 0 });
    const bad = frame({ seq: 7000, len: 1000 });
    bad[bad.length - 1] ^= 0xff;
    const after = frame({ seq: 8000, len: 1000 });
    const frames = [...a, gap, frame({ seq: 6000, len: 1000 }), other, ts, fin, pureAck, bad, after];
    const { out, stats } = run(frames);
    // [a0 a1 a2] [gap 6000] other ts fin pureAck bad after
    assert.equal(stats.runs, 2);
    assert.equal(stats.coalesced, 5);
    assert.equal(out.length, 2 + 6);
    assert.equal(segOf(out[0]).payload.length, 3000);
    assert.equal(segOf(out[1]).seq, 5000);
    assert.equal(segOf(out[1]).payload.length, 2000);
    assert.deepEqual(out.slice(2), [other, ts, fin, pureAck, bad, after], 'unchanged, the same objects');
  });

  it('a segment longer than the first ends the run before it; nothing to do returns the batch itself', () => {
    const frames = [frame({ seq: 1000, len: 500 }), frame({ seq: 1500, len: 1000 })];
    const { out, stats } = run(frames);
    assert.equal(out, frames);
    assert.equal(stats.runs, 0);
  });

  it('stops at 64 KiB', () => {
    const frames = stream(60, 1448);
    const { out } = run(frames);
    assert.ok(out.length >= 2);
    let total = 0;
    for (const f of out) {
      const s = segOf(f);
      assert.ok(20 + 32 + s.payload.length <= 65535);
      total += s.payload.length;
    }
    assert.equal(total, 60 * 1448);
  });

  it("'ip' layer: bare IPv4 packets (a TUN link)", () => {
    const frames = stream(4, 1448, 1000, { ethernet: false });
    const { out } = run(frames, 'ip');
    assert.equal(out.length, 1);
    const s = segOf(out[0], false);
    assert.equal(s.payload.length, 4 * 1448);
  });
});
