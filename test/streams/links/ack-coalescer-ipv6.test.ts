import assert from 'node:assert/strict';
import { isPureAck, isPureAck6 } from '../../../streams/links/ack-coalescer.js';
import { TcpFlags, type TcpRepr } from '../../../src/wire/tcp.js';
import { ipv6Addr } from '../../../src/ipv6/address.js';
import { parseIpv4 } from '../../../src/ipv4/address.js';
import { runAckCoalescer as run } from '../../helpers/coalescer-runs.js';
import { tcpIpv4Frame, tcpIpv6Frame } from '../../helpers/tcp-ip-frames.js';

const A = ipv6Addr('fd00:198:18::2');
const B = ipv6Addr('fd00:198:18::1');
const C = ipv6Addr('fd00:198:18::3');
const LINK = { src: new Uint8Array([2, 0, 0, 0, 0, 2]), dst: new Uint8Array([2, 0, 0, 0, 0, 1]) };

/** A pure ACK from fd00:198:18::2 port 9 to fd00:198:18::1 port 40000, ACK 3000, as the stack sends it. */
const PURE_ACK_V6 = new Uint8Array([
  0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // Ethernet destination 02:00:00:00:00:01
  0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // Ethernet source 02:00:00:00:00:02
  0x86, 0xdd, //                         EtherType IPv6
  0x60, 0x00, 0x00, 0x00, //             version 6, traffic class 0, flow label 0
  0x00, 0x14, //                         payload length 20 (the TCP header)
  0x06, //                               next header TCP
  0x40, //                               hop limit 64
  0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, // source fd00:198:18::2
  0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // destination fd00:198:18::1
  0x00, 0x09, //                         source port 9
  0x9c, 0x40, //                         destination port 40000
  0x00, 0x00, 0x03, 0xe8, //             sequence number 1000
  0x00, 0x00, 0x0b, 0xb8, //             acknowledgment number 3000
  0x50, //                               data offset 5 words
  0x10, //                               flags: ACK
  0x03, 0xe8, //                         window 1000
  0x02, 0x9f, //                         checksum (over the IPv6 pseudo-header)
  0x00, 0x00, //                         urgent pointer
]);

function frame6(seg: Partial<TcpRepr> & { ack: number }, opts: { dstPort?: number; dst?: Uint8Array } = {}): Uint8Array {
  const repr: TcpRepr = { srcPort: 9, dstPort: opts.dstPort ?? 40000, seq: 1000, flags: TcpFlags.ACK, window: 1000, urgent: 0, ...seg, payload: seg.payload ?? new Uint8Array(0) };
  return tcpIpv6Frame(repr, { src: A, dst: opts.dst ?? B, hopLimit: 64 }, LINK);
}

/** An IPv4 pure ACK with the same ports (another flow: another IP version). */
function frame4(ack: number): Uint8Array {
  return tcpIpv4Frame({ srcPort: 9, dstPort: 40000, seq: 1000, ack, flags: TcpFlags.ACK, window: 1000, urgent: 0, payload: new Uint8Array(0) },
    { src: parseIpv4('198.18.0.2')!, dst: parseIpv4('198.18.0.1')!, ident: 1, dontFragment: true }, LINK);
}

describe('AckCoalescer over IPv6', () => {
  it('the byte vector is what the codecs build, and a pure ACK', () => {
    assert.deepEqual(frame6({ ack: 3000 }), PURE_ACK_V6);
    assert.equal(isPureAck6(PURE_ACK_V6), true);
    assert.equal(isPureAck(PURE_ACK_V6), false, 'not an IPv4 frame');
  });

  it('recognises IPv6 pure ACKs only', () => {
    assert.equal(isPureAck6(frame6({ ack: 5, timestamp: { tsVal: 1, tsEcr: 2 } })), true, 'timestamps in the usual layout');
    assert.equal(isPureAck6(frame6({ ack: 5, payload: new Uint8Array([1]) })), false, 'data');
    assert.equal(isPureAck6(frame6({ ack: 5, flags: TcpFlags.ACK | TcpFlags.FIN })), false, 'FIN');
    assert.equal(isPureAck6(frame6({ ack: 5, sackBlocks: [[10, 20]] })), false, 'SACK');
    const hopByHop = PURE_ACK_V6.slice();
    hopByHop[20] = 0; // next header: hop-by-hop options, not TCP
    assert.equal(isPureAck6(hopByHop), false, 'an extension header in front of TCP');
    const longer = PURE_ACK_V6.slice();
    longer[19] = 0x18; // the payload length says 24 bytes: there is more than the header
    assert.equal(isPureAck6(longer), false, 'payload length beyond the TCP header');
    assert.equal(isPureAck6(PURE_ACK_V6.subarray(0, 70)), false, 'truncated');
    const version4 = PURE_ACK_V6.slice();
    version4[14] = 0x40;
    assert.equal(isPureAck6(version4), false, 'version nibble not 6');
  });

  it('a later pure ACK of the same IPv6 connection supersedes the one waiting; order is kept', () => {
    const a1 = frame6({ ack: 1000 });
    const data = frame6({ ack: 1500, payload: new Uint8Array(10) });
    const a2 = frame6({ ack: 2000 });
    const a3 = PURE_ACK_V6; // ack 3000
    const { kept, coalesced } = run([a1, data, a2, a3]);
    assert.deepEqual(kept, [data, a3]);
    assert.equal(coalesced, 2);
  });

  it('flows differ by any address byte, a port or the IP version; duplicates are kept', () => {
    const a1 = frame6({ ack: 1000 });
    const otherAddr = frame6({ ack: 2000 }, { dst: C });
    const otherPort = frame6({ ack: 2000 }, { dstPort: 40001 });
    const v4 = frame4(2000);
    assert.deepEqual(run([a1, otherAddr, otherPort, v4]).kept, [a1, otherAddr, otherPort, v4]);
    const dup = frame6({ ack: 1000 });
    const a2 = frame6({ ack: 1200 });
    assert.deepEqual(run([a1, dup, a2]).kept, [a1, dup, a2], 'a duplicate ACK is never dropped');
    // Both families in one batch, each coalesced on its own.
    const v4later = frame4(2500);
    assert.deepEqual(run([a1, v4, a2, v4later]).kept, [a2, v4later]);
  });

  it('a later data or FIN segment of the connection acknowledging as much carries a waiting pure ACK along', () => {
    const ack = frame6({ ack: 1000 });
    const fin = frame6({ ack: 1000, flags: TcpFlags.ACK | TcpFlags.FIN });
    assert.deepEqual(run([ack, fin]).kept, [fin]);
    const older = frame6({ ack: 900, payload: new Uint8Array(5) });
    assert.deepEqual(run([ack, older]).kept, [ack, older], 'one acknowledging less does not');
    const rst = frame6({ ack: 1000, flags: TcpFlags.ACK | TcpFlags.RST });
    assert.deepEqual(run([ack, rst]).kept, [ack, rst], 'an RST does not');
  });

  it('starts a new chain after maxSpan bytes', () => {
    const acks = [0, 1, 2, 3, 4, 5].map((k) => frame6({ ack: 10_000 + k * 1000 }));
    assert.deepEqual(run(acks, 2500).kept, [acks[2], acks[5]]);
  });
});
