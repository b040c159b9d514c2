import assert from 'node:assert/strict';
import { parseIpv4 } from '../../src/ipv4/address.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { emitTcp, parseTcp, TcpFlags, type TcpRepr } from '../../src/wire/tcp.js';
import { segmentTcp } from '../../src/wire/tcp-segmenter.js';

const SRC = parseIpv4('198.18.0.2')!;
const DST = parseIpv4('198.18.0.1')!;

function large(payloadLength: number, flags: number, partial: boolean): PacketBuffer {
  const payload = new Uint8Array(payloadLength);
  for (let i = 0; i < payloadLength; i++) payload[i] = (i * 7 + 3) & 0xff;
  const seg: TcpRepr = {
    srcPort: 5001, dstPort: 40000, seq: 0xffff_f000, ack: 1234, flags, window: 500, urgent: 0,
    mss: undefined, windowScale: undefined, sackPermitted: undefined, sackBlocks: undefined,
    timestamp: { tsVal: 111, tsEcr: 222 }, payload,
  };
  const pb = PacketBuffer.withPayload(payload);
  emitTcp(seg, pb, SRC, DST, partial ? { partialChecksum: true } : undefined);
  return pb;
}

describe('segmentTcp (software TCP segmentation)', () => {
  for (const partialIn of [false, true]) {
    it(`cuts a large segment into MSS pieces the codec accepts, checksums valid (input checksum ${partialIn ? 'partial' : 'complete'})`, () => {
      const mss = 1448;
      const total = 10 * mss + 500;
      const pb = large(total, TcpFlags.ACK | TcpFlags.PSH | TcpFlags.FIN | TcpFlags.CWR, partialIn);
      const pieces: PacketBuffer[] = [];
      const n = segmentTcp(pb, mss, SRC, DST, false, (p) => pieces.push(p));
      assert.equal(n, 11);
      assert.equal(pieces.length, 11);
      let offset = 0;
      for (let k = 0; k < pieces.length; k++) {
        assert.equal(pieces[k].csumStart, -1, 'complete checksum');
        const r = parseTcp(pieces[k].bytes(), SRC, DST);
        assert.ok(r.ok, `piece ${k}: ${r.ok ? '' : r.reason}`);
        const s = r.value;
        assert.equal(s.seq, (0xffff_f000 + offset) >>> 0, 'sequence advanced (across 2^32)');
        assert.equal(s.ack, 1234);
        assert.deepEqual(s.timestamp, { tsVal: 111, tsEcr: 222 });
        const last: boolean = k === pieces.length - 1;
        assert.equal(s.payload.length, last ? 500 : mss);
        assert.equal((s.flags & TcpFlags.PSH) !== 0, last, 'PSH only on the last');
        assert.equal((s.flags & TcpFlags.FIN) !== 0, last, 'FIN only on the last');
        assert.equal((s.flags & TcpFlags.CWR) !== 0, k === 0, 'CWR only on the first');
        for (let i = 0; i < s.payload.length; i++) if (s.payload[i] !== (((offset + i) * 7 + 3) & 0xff)) assert.fail(`piece ${k} byte ${i}`);
        offset += s.payload.length;
      }
      assert.equal(offset, total);
    });
  }

  it('leaves each piece\'s checksum partial when asked: completing it gives a valid segment', () => {
    const pb = large(5000, TcpFlags.ACK, true);
    const pieces: PacketBuffer[] = [];
    segmentTcp(pb, 1000, SRC, DST, true, (p) => pieces.push(p));
    assert.equal(pieces.length, 5);
    for (const p of pieces) {
      assert.ok(p.csumStart >= 0);
      assert.equal(parseTcp(p.bytes(), SRC, DST).ok, false, 'partial is not yet valid');
      p.completeChecksum();
      assert.ok(parseTcp(p.bytes(), SRC, DST).ok);
    }
  });

  it('cuts nothing out of a segment without payload', () => {
    const pb = large(0, TcpFlags.ACK, false);
    assert.equal(segmentTcp(pb, 1448, SRC, DST, false, () => assert.fail('no piece')), 0);
  });

  it('reads a gathered payload (PacketBuffer.tail) where it is: the same pieces as from a contiguous segment', () => {
    const mss = 1448;
    const total = 7 * mss + 99;
    const whole = large(total, TcpFlags.ACK | TcpFlags.PSH, true);
    // The same segment with its payload gathered: the header alone in the buffer, the payload lent.
    const hl = (whole.buf[whole.head + 12] >>> 4) << 2;
    const split = PacketBuffer.alloc(0, 60);
    const at = split.prepend(hl);
    split.buf.set(whole.buf.subarray(whole.head, whole.head + hl), at);
    split.tail = whole.buf.slice(whole.head + hl, whole.end);
    split.csumStart = at;
    split.csumOffset = whole.csumOffset;
    const fromWhole: number[][] = [];
    const fromSplit: number[][] = [];
    segmentTcp(whole, mss, SRC, DST, false, (p) => fromWhole.push([...p.bytes()]));
    segmentTcp(split, mss, SRC, DST, false, (p) => fromSplit.push([...p.bytes()]));
    assert.equal(fromSplit.length, 8);
    assert.deepEqual(fromSplit, fromWhole);
    assert.notEqual(split.tail, undefined, 'the packet itself was only read');
  });
});
