import assert from 'node:assert/strict';
import { ipv6Addr } from '../../../src/ipv6/address.js';
import { parseIpv4 as parseAddr } from '../../../src/ipv4/address.js';
import { EtherType } from '../../../src/wire/ethernet.js';
import { IpProtocol } from '../../../src/wire/ipv4.js';
import { ipv6UpperChecksumOk } from '../../../src/wire/ipv6.js';
import { parseTcp, TcpFlags } from '../../../src/wire/tcp.js';
import { framesInOneBuffer, runTcpCoalescer as run, streamByte as byteAt, streamFrames, streamPayload } from '../../helpers/coalescer-runs.js';
import { tcpIpv4Frame, tcpIpv6Frame } from '../../helpers/tcp-ip-frames.js';

const SRC = ipv6Addr('fd00:198:18::1');
const DST = ipv6Addr('fd00:198:18::2');
const LINK = { src: new Uint8Array([2, 0, 0, 0, 0, 1]), dst: new Uint8Array([2, 0, 0, 0, 0, 2]) };

interface SegOptions {
  seq: number;
  len: number;
  flags?: number;
  srcPort?: number;
  ethernet?: boolean;
  /** Traffic class (DSCP and ECN). */
  trafficClass?: number;
  flowLabel?: number;
  hopLimit?: number;
}

/** One frame of the stream from [fd00:198:18::1]:5001 (payload bytes by stream offset from seq 1000). */
function frame(o: SegOptions): Uint8Array {
  const tc = o.trafficClass ?? 0;
  return tcpIpv6Frame({
    srcPort: o.srcPort ?? 5001, dstPort: 40000, seq: o.seq, ack: 77, flags: o.flags ?? TcpFlags.ACK, window: 1000, urgent: 0,
    timestamp: { tsVal: 5, tsEcr: 6 }, payload: streamPayload(o.seq, o.len),
  }, { src: SRC, dst: DST, hopLimit: o.hopLimit ?? 64, dscp: tc >>> 2, ecn: tc & 3, flowLabel: o.flowLabel ?? 0x12345 }, o.ethernet === false ? null : LINK);
}

/** The TCP segment of an IPv6 frame, its checksum (over IPv6's pseudo-header) verified. */
function segOf(f: Uint8Array, ethernet = true) {
  const ip = ethernet ? f.subarray(14) : f;
  assert.equal(ip[0] >>> 4, 6);
  const payloadLength = (ip[4] << 8) | ip[5];
  assert.equal(ip.length, 40 + payloadLength, 'the payload length covers the segment exactly');
  const message = ip.subarray(40, 40 + payloadLength);
  assert.ok(ipv6UpperChecksumOk(ip, message, IpProtocol.TCP), 'TCP checksum over the IPv6 pseudo-header');
  const tcp = parseTcp(message, 0, 0, { verifyChecksum: false });
  assert.ok(tcp.ok);
  return { seg: tcp.value, header: ip.subarray(0, 40) };
}

const stream = (count: number, size: number, from?: number, extra?: Partial<SegOptions>): Uint8Array[] => streamFrames(frame, count, size, from, extra);

describe('createTcpCoalescer over IPv6', () => {
  it('makes one segment of a run: payload byte-exact, payload length and checksum redone, the rest of the header kept', () => {
    const frames = [...stream(6, 1428), frame({ seq: 1000 + 6 * 1428, len: 301, flags: TcpFlags.ACK | TcpFlags.PSH })];
    const { out, stats, verified } = run(frames);
    assert.equal(out.length, 1);
    assert.deepEqual(stats, { coalesced: 7, runs: 1 });
    assert.ok(verified.has(out[0]));
    const { seg, header } = segOf(out[0]);
    assert.equal(seg.seq, 1000);
    assert.equal(seg.flags, TcpFlags.ACK | TcpFlags.PSH, 'PSH of the last');
    assert.equal(seg.payload.length, 6 * 1428 + 301);
    for (let i = 0; i < seg.payload.length; i++) if (seg.payload[i] !== byteAt(i)) assert.fail(`byte ${i}`);
    const first = frames[0].subarray(14, 54);
    for (const at of [0, 1, 2, 3, 6, 7]) assert.equal(header[at], first[at], `header byte ${at}`);
    assert.deepEqual(header.subarray(8, 40), first.subarray(8, 40), 'addresses');
  });

  it('frames of one device batch (one buffer) are coalesced in place, odd sizes too', () => {
    for (const size of [1428, 1427]) {
      const separate = [...stream(5, size), frame({ seq: 1000 + 5 * size, len: 9 })];
      const { buffer, batch } = framesInOneBuffer(separate);
      const { out } = run(batch);
      assert.equal(out.length, 1);
      assert.equal(out[0].buffer, buffer.buffer, 'built in the batch buffer');
      const { seg } = segOf(out[0]);
      assert.equal(seg.payload.length, 5 * size + 9);
      for (let i = 0; i < seg.payload.length; i++) if (seg.payload[i] !== byteAt(i)) assert.fail(`size ${size}: byte ${i}`);
    }
  });

  it('ends a run at another traffic class, flow label, hop limit or port, and leaves a bad checksum alone', () => {
    const a = stream(2, 1000);
    const ecn = frame({ seq: 3000, len: 1000, trafficClass: 1 });
    const flow = frame({ seq: 3000, len: 1000, flowLabel: 7 });
    const hop = frame({ seq: 3000, len: 1000, hopLimit: 63 });
    const port = frame({ seq: 3000, len: 1000, srcPort: 6000 });
    for (const odd of [ecn, flow, hop, port]) {
      const { out, stats } = run([...a, odd]);
      assert.equal(stats.runs, 1);
      assert.equal(out.length, 2);
      assert.equal(out[1], odd, 'unchanged, the same object');
    }
    const bad = frame({ seq: 3000, len: 1000 });
    bad[bad.length - 1] ^= 0xff;
    const { out, stats } = run([...a, bad, frame({ seq: 4000, len: 1000 })]);
    assert.equal(stats.coalesced, 2, 'the run ends before the segment that fails its checksum');
    assert.equal(out[1], bad);
  });

  it('IPv4 and IPv6 flows in one batch: each run of its own', () => {
    const src4 = parseAddr('198.18.0.1')!;
    const dst4 = parseAddr('198.18.0.2')!;
    const v4 = Array.from({ length: 3 }, (_, k) => {
      const payload = new Uint8Array(1000).fill(k);
      return tcpIpv4Frame({ srcPort: 5001, dstPort: 40000, seq: 9000 + k * 1000, ack: 1, flags: TcpFlags.ACK, window: 1000, urgent: 0, payload },
        { src: src4, dst: dst4, ident: k, dontFragment: true }, LINK);
    });
    const v6 = stream(3, 1000);
    const { out, stats } = run([...v6, ...v4]);
    assert.deepEqual(stats, { coalesced: 6, runs: 2 });
    assert.equal(out.length, 2);
    assert.equal(segOf(out[0]).seg.payload.length, 3000);
    assert.equal((out[1][12] << 8) | out[1][13], EtherType.IPV4);
  });

  it('stops before 65,535 bytes of IPv6 payload', () => {
    const frames = stream(60, 1428);
    const { out } = run(frames);
    assert.ok(out.length >= 2);
    let total = 0;
    for (const f of out) total += segOf(f).seg.payload.length;
    assert.equal(total, 60 * 1428);
  });

  it("'ip' layer: bare IPv6 packets (a TUN link)", () => {
    const { out } = run(stream(4, 1428, 1000, { ethernet: false }), 'ip');
    assert.equal(out.length, 1);
    assert.equal(segOf(out[0], false).seg.payload.length, 4 * 1428);
  });
});
