import assert from 'node:assert/strict';
import { ETHERNET_IPV6_READER, ipv6TcpReader } from '../../../streams/links/ipv6-tcp-frame.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { emitTcp, TcpFlags, type TcpRepr } from '../../../src/wire/tcp.js';
import { emitIpv6Header, fillIpv6UpperChecksum } from '../../../src/wire/ipv6.js';
import { IpProtocol } from '../../../src/wire/ipv4.js';
import { emitEthernet, EtherType } from '../../../src/wire/ethernet.js';
import { ipv6Addr } from '../../../src/ipv6/address.js';

const A = ipv6Addr('fd00:198:18::2');
const B = ipv6Addr('fd00:198:18::1');

/** An IPv6 TCP packet, behind an Ethernet header unless `bare`; `nextHeader` other than TCP for the negative cases. */
function packet(seg: Partial<TcpRepr> = {}, opts: { bare?: boolean; nextHeader?: number; ethertype?: number } = {}): Uint8Array {
  const payload = seg.payload ?? new Uint8Array(0);
  const pb = PacketBuffer.alloc(payload.length);
  pb.buf.set(payload, pb.head);
  emitTcp({ srcPort: 9, dstPort: 40000, seq: 1, ack: 2, flags: TcpFlags.ACK, window: 1000, urgent: 0, ...seg, payload }, pb, 0, 0);
  fillIpv6UpperChecksum(pb.buf, pb.head, pb.length, 16, A, B, IpProtocol.TCP);
  emitIpv6Header({ src: A, dst: B, nextHeader: opts.nextHeader ?? IpProtocol.TCP, hopLimit: 64 }, pb);
  if (opts.bare !== true) emitEthernet({ dst: new Uint8Array([2, 0, 0, 0, 0, 1]), src: new Uint8Array([2, 0, 0, 0, 0, 2]), ethertype: opts.ethertype ?? EtherType.IPV6 }, pb);
  return pb.bytes().slice();
}

describe('links/ipv6-tcp-frame', () => {
  for (const layer of ['ethernet', 'ip'] as const) {
    const r = layer === 'ethernet' ? ETHERNET_IPV6_READER : ipv6TcpReader('ip');
    const bare = layer === 'ip';

    it(`${layer}: reads the TCP header length, flags and IPv6 length of a plain packet`, () => {
      assert.equal(r.ipAt, bare ? 0 : 14);
      assert.equal(r.tcpAt, bare ? 40 : 54);
      const f = packet({ flags: TcpFlags.ACK | TcpFlags.PSH, timestamp: { tsVal: 1, tsEcr: 2 }, payload: new Uint8Array(100) }, { bare });
      assert.equal(r.isPlainIpv6Tcp(f), true);
      assert.equal(r.tcpHeaderLength(f), 32);
      assert.equal(r.tcpFlags(f), TcpFlags.ACK | TcpFlags.PSH);
      assert.equal(r.ipTotalLength(f), 40 + 32 + 100, 'the fixed header and the payload length');
      assert.equal(f.length, r.ipAt + r.ipTotalLength(f));
    });

    it(`${layer}: takes only IPv6 whose fixed header names TCP, long enough for both headers`, () => {
      assert.equal(r.isPlainIpv6Tcp(packet({}, { bare, nextHeader: 0 })), false, 'a hop-by-hop header first');
      assert.equal(r.isPlainIpv6Tcp(packet({}, { bare, nextHeader: IpProtocol.UDP })), false, 'UDP');
      const f = packet({}, { bare });
      assert.equal(r.isPlainIpv6Tcp(f.subarray(0, f.length - 1)), false, 'one byte short of the TCP header');
      const v4 = f.slice();
      v4[r.ipAt] = 0x45;
      assert.equal(r.isPlainIpv6Tcp(v4), false, 'version 4');
    });
  }

  it('ethernet: the EtherType must be IPv6', () => {
    assert.equal(ETHERNET_IPV6_READER.isPlainIpv6Tcp(packet({}, { ethertype: EtherType.IPV4 })), false);
    assert.equal(ipv6TcpReader('ip').isPlainIpv6Tcp(packet()), false, 'an Ethernet frame read as a bare packet');
  });
});
