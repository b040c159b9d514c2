import assert from 'node:assert/strict';
import { createTcpRunMerger, mergeTcpRuns, completePartialChecksum, type OutItem } from '../../../streams/links/tso-merge.js';
import { VNET_HDR_LEN, VnetFlags, VnetGso, vnetCsumOffset, vnetCsumStart, vnetGsoSize, vnetGsoType, vnetHdrLen, writeVnetHdr } from '../../../streams/links/virtio-net-hdr.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { emitTcp, TcpFlags, type TcpRepr } from '../../../src/wire/tcp.js';
import { emitIpv4, IpProtocol } from '../../../src/wire/ipv4.js';
import { emitEthernet, EtherType } from '../../../src/wire/ethernet.js';
import { internetChecksum } from '../../../src/wire/checksum.js';
import { parseIpv4 } from '../../../src/ipv4/address.js';

const A = parseIpv4('198.18.0.2')!;
const B = parseIpv4('198.18.0.1')!;
const MAC_A = new Uint8Array([2, 0, 0, 0, 0, 2]);
const MAC_B = new Uint8Array([2, 0, 0, 0, 0, 1]);
const { ACK, PSH, FIN, SYN } = TcpFlags;

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + seed * 7) & 0xff;
  return b;
}

function seg(seq: number, payload: Uint8Array, o: Partial<TcpRepr> & { ident?: number; dstPort?: number } = {}): Uint8Array {
  const repr: TcpRepr = { srcPort: 19, dstPort: o.dstPort ?? 40000, seq, ack: 777, flags: ACK, window: 500, urgent: 0, ...o, payload };
  const pb = PacketBuffer.alloc(payload.length);
  pb.buf.set(payload, pb.head);
  emitTcp(repr, pb, A, B);
  emitIpv4({ src: A, dst: B, protocol: IpProtocol.TCP, ttl: 64, ident: o.ident ?? 100, dontFragment: true, moreFragments: false, fragmentOffset: 0 }, pb);
  emitEthernet({ dst: MAC_B, src: MAC_A, ethertype: EtherType.IPV4 }, pb);
  return pb.bytes().slice();
}

/** A run of `n` segments of `size` bytes (the last `lastSize`), IP IDs counting up as Linux's. */
function run(n: number, size: number, lastSize = size, flagsLast = ACK | PSH, seq0 = 5000): Uint8Array[] {
  const out: Uint8Array[] = [];
  let seq = seq0;
  for (let k = 0; k < n; k++) {
    const len = k === n - 1 ? lastSize : size;
    out.push(seg(seq, bytes(len, k), { ident: 100 + k, flags: k === n - 1 ? flagsLast : ACK }));
    seq += len;
  }
  return out;
}

/** What the kernel does with a TSO frame: cut, fix lengths, IDs, flags and checksums. */
function segmentLikeLinux(parts: Uint8Array[]): Uint8Array[] {
  const whole = Buffer.concat(parts);
  const h = whole.subarray(0, VNET_HDR_LEN);
  const frame = whole.subarray(VNET_HDR_LEN);
  assert.equal(h[0], VnetFlags.NEEDS_CSUM);
  assert.equal(vnetGsoType(h), VnetGso.TCPV4);
  assert.equal(vnetCsumStart(h), 34);
  assert.equal(vnetCsumOffset(h), 16);
  const hdrLen = vnetHdrLen(h);
  const mss = vnetGsoSize(h);
  const header = frame.subarray(0, hdrLen);
  const data = frame.subarray(hdrLen);
  const out: Uint8Array[] = [];
  const seq0 = header.readUInt32BE(38);
  const id0 = header.readUInt16BE(18);
  for (let off = 0, k = 0; off < data.length; off += mss, k++) {
    const piece = data.subarray(off, Math.min(off + mss, data.length));
    const f = Buffer.concat([header, piece]);
    const last = off + mss >= data.length;
    f.writeUInt16BE(hdrLen - 14 + piece.length, 16);
    f.writeUInt16BE((id0 + k) & 0xffff, 18);
    f.writeUInt16BE(0, 24);
    f.writeUInt16BE(internetChecksum(f, 14, 20), 24);
    f.writeUInt32BE((seq0 + off) >>> 0, 38);
    if (!last) f[47] &= ~(PSH | FIN);
    // The partial sum for this segment's length, then the data summed in.
    const tcpLen = f.length - 34;
    const pseudo = ((A >>> 16) + (A & 0xffff) + (B >>> 16) + (B & 0xffff) + 6 + tcpLen);
    let p = pseudo;
    while (p > 0xffff) p = (p & 0xffff) + (p >>> 16);
    f.writeUInt16BE(p, 50);
    completePartialChecksum(f, 34, 16);
    out.push(new Uint8Array(f));
  }
  return out;
}

function merge(frames: Array<Uint8Array | null>): { items: OutItem[]; stats: { merged: number; superFrames: number } } {
  const stats = { merged: 0, superFrames: 0 };
  return { items: mergeTcpRuns(frames, stats), stats };
}

describe('mergeTcpRuns (TSO for a batch of outbound frames)', () => {
  it('merges a run of full-sized segments into one TSO frame the kernel cuts back into the same frames', () => {
    const frames = run(10, 1460, 700);
    const { items, stats } = merge(frames);
    assert.equal(items.length, 1);
    assert.ok(Array.isArray(items[0]));
    assert.deepEqual(stats, { merged: 10, superFrames: 1 });
    const parts = items[0] as Uint8Array[];
    assert.equal(parts.length, 11, 'one header, then a view of each payload (no copy)');
    assert.equal(parts[1].buffer, frames[0].buffer);
    assert.equal(vnetGsoSize(parts[0]), 1460);
    assert.equal(vnetHdrLen(parts[0]), 54);
    assert.deepEqual(segmentLikeLinux(parts), frames);
  });

  it('keeps the PSH and FIN of the last segment only', () => {
    const frames = run(3, 1000, 1000, ACK | PSH | FIN);
    const { items } = merge(frames);
    assert.equal(items.length, 1);
    const parts = items[0] as Uint8Array[];
    assert.equal(parts[0][VNET_HDR_LEN + 47], ACK | PSH | FIN);
    assert.deepEqual(segmentLikeLinux(parts), frames);
  });

  it('leaves single frames, pure ACKs and other frames as they are, in order', () => {
    const ack = seg(1, new Uint8Array(0));
    const syn = seg(1, new Uint8Array(0), { flags: SYN });
    const one = run(1, 100);
    const { items, stats } = merge([ack, null, syn, ...one]);
    assert.deepEqual(items, [ack, syn, one[0]]);
    assert.equal(stats.superFrames, 0);
  });

  it('breaks runs at a gap in sequence, another connection, another ACK number or window, a short middle segment, a FIN', () => {
    const a = run(2, 1000, 1000, ACK, 1000); // 1000..3000
    const gap = seg(3500, bytes(1000, 9));
    assert.equal(merge([...a, gap]).items.length, 2);
    const other = seg(3000, bytes(1000, 9), { dstPort: 40001 });
    assert.equal(merge([...a, other]).items.length, 2);
    const otherAck = seg(3000, bytes(1000, 9), { ack: 778 });
    assert.equal(merge([...a, otherAck]).items.length, 2);
    const otherWindow = seg(3000, bytes(1000, 9), { window: 501 });
    assert.equal(merge([...a, otherWindow]).items.length, 2);
    const short = run(3, 1000, 1000, ACK, 1000);
    const shortMiddle = [short[0], seg(2000, bytes(500, 1)), seg(2500, bytes(1000, 2))];
    const r = merge(shortMiddle);
    assert.equal(r.items.length, 2, 'the short segment ends its run; the next starts a new one');
    const fin = run(2, 1000, 1000, ACK | FIN, 1000);
    assert.equal(merge([...fin, seg(3001, bytes(1000, 3))]).items.length, 2);
  });

  it('never builds a frame over 64 KiB: a long run is split', () => {
    const frames = run(100, 1460);
    const { items, stats } = merge(frames);
    assert.ok(items.length >= 3);
    let total = 0;
    for (const item of items) {
      const parts = Array.isArray(item) ? item : [item];
      const len = parts.reduce((n, p) => n + p.length, 0) - (Array.isArray(item) ? VNET_HDR_LEN : 0);
      assert.ok(len - 14 <= 65535, `IP datagram of ${len - 14} bytes`);
      total += Array.isArray(item) ? segmentLikeLinux(item).length : 1;
    }
    assert.equal(total, 100);
    assert.equal(stats.merged + (items.length - stats.superFrames), 100);
  });

  it('sends a frame with a partial checksum that is not merged behind a NEEDS_CSUM header', () => {
    const ack = seg(1, new Uint8Array(0));
    const one = seg(9000, bytes(100, 1));
    const frames = [ack, one, ...run(2, 1000)];
    const partial = [34 * 256 + 16, -1, 34 * 256 + 16, 34 * 256 + 16];
    const out = mergeTcpRuns(frames, { merged: 0, superFrames: 0 }, partial);
    assert.equal(out.length, 3);
    const [first, second, third] = out;
    assert.ok(Array.isArray(first));
    const [h, f] = first as Uint8Array[];
    assert.equal(f, ack);
    assert.equal(h[0], VnetFlags.NEEDS_CSUM);
    assert.equal(vnetGsoType(h), VnetGso.NONE);
    assert.equal(vnetCsumStart(h), 34);
    assert.equal(vnetCsumOffset(h), 16);
    assert.equal(second, one, 'a frame with a full checksum goes as it is');
    assert.equal(vnetGsoType((third as Uint8Array[])[0]), VnetGso.TCPV4, 'a merged run is a TSO frame either way');
  });

  it('skips nulls (superseded ACKs) inside a run', () => {
    const frames = run(3, 1000);
    const { items } = merge([frames[0], null, frames[1], null, frames[2]]);
    assert.equal(items.length, 1);
    assert.deepEqual(segmentLikeLinux(items[0] as Uint8Array[]), frames);
  });
});

describe("createTcpRunMerger('ip') (TSO for bare IPv4 packets, a TUN link)", () => {
  const mergeIp = createTcpRunMerger('ip');
  const bare = (frames: Uint8Array[]): Uint8Array[] => frames.map((f) => f.subarray(14));
  /** The TSO item of bare packets with the Ethernet header put back, for segmentLikeLinux. */
  const withEthernet = (parts: Uint8Array[], ethernet: Uint8Array): Uint8Array[] => {
    const h = parts[0].slice(0, VNET_HDR_LEN);
    writeVnetHdr(h, 0, {
      flags: h[0], gsoType: vnetGsoType(h), hdrLen: vnetHdrLen(h) + 14, gsoSize: vnetGsoSize(h),
      csumStart: vnetCsumStart(h) + 14, csumOffset: vnetCsumOffset(h),
    });
    return [h, ethernet.subarray(0, 14), parts[0].subarray(VNET_HDR_LEN), ...parts.slice(1)];
  };

  it('merges a run of IPv4 packets into one TSO packet (csum_start counted from the IPv4 header) that cuts back into the same packets', () => {
    const frames = run(10, 1460, 700);
    const stats = { merged: 0, superFrames: 0 };
    const items = mergeIp(bare(frames), stats);
    assert.equal(items.length, 1);
    assert.deepEqual(stats, { merged: 10, superFrames: 1 });
    const parts = items[0] as Uint8Array[];
    assert.equal(vnetCsumStart(parts[0]), 20);
    assert.equal(vnetHdrLen(parts[0]), 40);
    assert.equal(vnetGsoSize(parts[0]), 1460);
    assert.deepEqual(segmentLikeLinux(withEthernet(parts, frames[0])), frames);
  });

  it('breaks runs and leaves other packets alone as the Ethernet merger does', () => {
    const a = bare(run(2, 1000, 1000, ACK, 1000));
    const other = bare([seg(3000, bytes(1000, 9), { dstPort: 40001 })]);
    assert.equal(mergeIp([...a, ...other], { merged: 0, superFrames: 0 }).length, 2);
    const ack = bare([seg(1, new Uint8Array(0))]);
    assert.deepEqual(mergeIp(ack, { merged: 0, superFrames: 0 }), ack);
    // An Ethernet frame is not a bare IPv4 packet (its first byte is a MAC's): left as it is.
    const eth = run(2, 1000);
    assert.deepEqual(mergeIp(eth, { merged: 0, superFrames: 0 }), eth);
  });
});

describe('virtio_net_hdr', () => {
  it('writes and reads every field little-endian', () => {
    const h = new Uint8Array(VNET_HDR_LEN + 2);
    writeVnetHdr(h, 2, { flags: 1, gsoType: 1, hdrLen: 0x0136, gsoSize: 0x05b4, csumStart: 0x22, csumOffset: 0x10 });
    assert.deepEqual([...h.subarray(2)], [1, 1, 0x36, 0x01, 0xb4, 0x05, 0x22, 0x00, 0x10, 0x00]);
    const v = h.subarray(2);
    assert.equal(vnetHdrLen(v), 0x136);
    assert.equal(vnetGsoSize(v), 1460);
    assert.equal(vnetCsumStart(v), 34);
    assert.equal(vnetCsumOffset(v), 16);
  });
});
