import assert from 'node:assert/strict';
import { isPureAck } from '../../../streams/links/ack-coalescer.js';
import { TcpFlags, type TcpRepr } from '../../../src/wire/tcp.js';
import { parseIpv4 } from '../../../src/ipv4/address.js';
import { runAckCoalescer as run } from '../../helpers/coalescer-runs.js';
import { tcpIpv4Frame } from '../../helpers/tcp-ip-frames.js';

const A = parseIpv4('198.18.0.2')!;
const B = parseIpv4('198.18.0.1')!;
const LINK = { src: new Uint8Array([2, 0, 0, 0, 0, 2]), dst: new Uint8Array([2, 0, 0, 0, 0, 1]) };

function frame(seg: Partial<TcpRepr> & { ack: number }, opts: { dstPort?: number; fragment?: boolean } = {}): Uint8Array {
  const repr: TcpRepr = { srcPort: 9, dstPort: opts.dstPort ?? 40000, seq: 1000, flags: TcpFlags.ACK, window: 1000, urgent: 0, ...seg, payload: seg.payload ?? new Uint8Array(0) };
  return tcpIpv4Frame(repr, { src: A, dst: B, ident: 1, dontFragment: !opts.fragment, moreFragments: opts.fragment ?? false }, LINK);
}

describe('AckCoalescer', () => {
  it('recognises pure ACKs only', () => {
    assert.equal(isPureAck(frame({ ack: 5 })), true);
    assert.equal(isPureAck(frame({ ack: 5, timestamp: { tsVal: 1, tsEcr: 2 } })), true);
    assert.equal(isPureAck(frame({ ack: 5, payload: new Uint8Array([1]) })), false, 'data');
    assert.equal(isPureAck(frame({ ack: 5, flags: TcpFlags.ACK | TcpFlags.FIN })), false, 'FIN');
    assert.equal(isPureAck(frame({ ack: 5, flags: TcpFlags.ACK | TcpFlags.PSH })), false, 'other flags');
    assert.equal(isPureAck(frame({ ack: 5, sackBlocks: [[10, 20]] })), false, 'SACK');
    assert.equal(isPureAck(frame({ ack: 5 }, { fragment: true })), false, 'a fragment');
    const arp = new Uint8Array(60);
    arp[12] = 0x08;
    arp[13] = 0x06;
    assert.equal(isPureAck(arp), false);
  });

  it('a later pure ACK of the same connection supersedes the one waiting; order is kept', () => {
    const a1 = frame({ ack: 1000 });
    const data = frame({ ack: 1500, payload: new Uint8Array(10) });
    const a2 = frame({ ack: 2000 });
    const a3 = frame({ ack: 3000 });
    const { kept, coalesced } = run([a1, data, a2, a3]);
    assert.deepEqual(kept, [data, a3]);
    assert.equal(coalesced, 2);
  });

  it('keeps duplicate ACKs (same ACK number) and ACKs of other connections', () => {
    const a1 = frame({ ack: 1000 });
    const dup = frame({ ack: 1000 });
    const other = frame({ ack: 5000 }, { dstPort: 40001 });
    const a2 = frame({ ack: 1200 });
    const { kept } = run([a1, dup, other, a2]);
    assert.deepEqual(kept, [a1, dup, other, a2], 'a duplicate ACK is never dropped');
    const a3 = frame({ ack: 1400 });
    assert.deepEqual(run([a1, dup, a2, a3]).kept, [a1, dup, a3], 'after the duplicate, a new chain starts');
  });

  it('never replaces an ACK by an older one, across the sequence-number wrap too', () => {
    const a1 = frame({ ack: 0xffffff00 });
    const older = frame({ ack: 0xfffffe00 });
    assert.deepEqual(run([a1, older]).kept, [a1, older]);
    const newer = frame({ ack: 0x00000100 }); // after a1 modulo 2^32
    assert.deepEqual(run([a1, newer]).kept, [newer]);
  });

  it('a later data or FIN segment acknowledging as much carries a waiting pure ACK along', () => {
    const ack = frame({ ack: 1000 });
    const fin = frame({ ack: 1000, flags: TcpFlags.ACK | TcpFlags.FIN });
    assert.deepEqual(run([ack, fin]).kept, [fin], 'ACK of the peer\'s FIN, then our FIN: one segment');
    const data = frame({ ack: 1200, payload: new Uint8Array(5) });
    assert.deepEqual(run([ack, data]).kept, [data]);
    const older = frame({ ack: 900, payload: new Uint8Array(5) });
    assert.deepEqual(run([ack, older]).kept, [ack, older], 'a segment acknowledging less does not');
    const other = frame({ ack: 5000, flags: TcpFlags.ACK | TcpFlags.FIN }, { dstPort: 40001 });
    assert.deepEqual(run([ack, other]).kept, [ack, other], 'another connection does not');
    const rst = frame({ ack: 1000, flags: TcpFlags.ACK | TcpFlags.RST });
    assert.deepEqual(run([ack, rst]).kept, [ack, rst], 'an RST does not');
    const dup = frame({ ack: 1000 });
    assert.deepEqual(run([ack, dup, fin]).kept, [ack, dup, fin], 'a duplicate ACK is never dropped');
    // After the piggyback, a later pure ACK starts afresh (nothing of the old chain to drop).
    const later = frame({ ack: 1500 });
    assert.deepEqual(run([ack, fin, later]).kept, [fin, later]);
  });

  it('starts a new chain after maxSpan bytes, so the sender hears from us that often', () => {
    const acks = [0, 1, 2, 3, 4, 5].map((k) => frame({ ack: 10_000 + k * 1000 }));
    const { kept } = run(acks, 2500);
    // Chain 10000..12000 (span 2000), then 13000 starts a new one: 13000..15000.
    assert.deepEqual(kept, [acks[2], acks[5]]);
  });

  it('by default spans 1 MiB: a batch of 64 KiB segments gets one ACK per 16 of them', () => {
    // The ACKs a stack makes for a batch of 20 GSO segments of 45 full-sized segments each.
    const step = 45 * 1448;
    const acks = Array.from({ length: 20 }, (_, k) => frame({ ack: 10_000 + (k + 1) * step }));
    const { kept, coalesced } = run(acks);
    // 16 steps (1,042,560 bytes) fit in 1 MiB; the 17th starts a new chain that ends the batch.
    assert.deepEqual(kept, [acks[16], acks[19]]);
    assert.equal(coalesced, 18);
  });
});
