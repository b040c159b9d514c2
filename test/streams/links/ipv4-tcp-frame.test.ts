import assert from 'node:assert/strict';
import { ipTotalLength, isPlainIpv4Tcp, readU32, tcpFlags, tcpHeaderLength } from '../../../streams/links/ipv4-tcp-frame.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { emitTcp, TcpFlags, type TcpRepr } from '../../../src/wire/tcp.js';
import { emitIpv4, IpProtocol, type Ipv4Repr } from '../../../src/wire/ipv4.js';
import { emitEthernet, EtherType } from '../../../src/wire/ethernet.js';
import { emitUdp } from '../../../src/wire/udp.js';
import { parseIpv4 } from '../../../src/ipv4/address.js';

const A = parseIpv4('198.18.0.2')!;
const B = parseIpv4('198.18.0.1')!;
const MAC_A = new Uint8Array([2, 0, 0, 0, 0, 2]);
const MAC_B = new Uint8Array([2, 0, 0, 0, 0, 1]);
const IP: Ipv4Repr = { src: A, dst: B, protocol: IpProtocol.TCP, ttl: 64, ident: 1, dontFragment: true, moreFragments: false, fragmentOffset: 0 };

function tcpFrame(seg: Partial<TcpRepr> = {}, ip: Partial<Ipv4Repr> = {}, vlan = false): Uint8Array {
  const payload = seg.payload ?? new Uint8Array(0);
  const pb = PacketBuffer.alloc(payload.length);
  pb.buf.set(payload, pb.head);
  emitTcp({ srcPort: 9, dstPort: 40000, seq: 1, ack: 2, flags: TcpFlags.ACK, window: 1000, urgent: 0, ...seg, payload }, pb, A, B);
  emitIpv4({ ...IP, ...ip }, pb);
  emitEthernet({ dst: MAC_B, src: MAC_A, ethertype: EtherType.IPV4, vlan: vlan ? { id: 5, pcp: 0, dei: false } : undefined }, pb);
  return pb.bytes().slice();
}

describe('links/ipv4-tcp-frame', () => {
  it('reads the TCP header length, flags and IPv4 total length of a plain frame', () => {
    const f = tcpFrame({ flags: TcpFlags.ACK | TcpFlags.PSH, timestamp: { tsVal: 1, tsEcr: 2 }, payload: new Uint8Array(100) });
    assert.equal(isPlainIpv4Tcp(f), true);
    assert.equal(tcpHeaderLength(f), 32);
    assert.equal(tcpFlags(f), TcpFlags.ACK | TcpFlags.PSH);
    assert.equal(ipTotalLength(f), 20 + 32 + 100);
    assert.equal(readU32(f, 26), A, 'the IPv4 source address');
  });

  it('takes only untagged IPv4 without options, not a fragment, carrying TCP, 54 bytes at least', () => {
    assert.equal(isPlainIpv4Tcp(tcpFrame({}, { dontFragment: false })), true, 'DF clear is fine');
    assert.equal(isPlainIpv4Tcp(tcpFrame({}, { moreFragments: true })), false, 'MF');
    assert.equal(isPlainIpv4Tcp(tcpFrame({}, { dontFragment: false, fragmentOffset: 8 })), false, 'an offset');
    assert.equal(isPlainIpv4Tcp(tcpFrame({}, { options: new Uint8Array([1, 1, 1, 1]) })), false, 'IPv4 options');
    assert.equal(isPlainIpv4Tcp(tcpFrame({}, {}, true)), false, 'a VLAN tag');
    assert.equal(isPlainIpv4Tcp(tcpFrame().subarray(0, 53)), false, 'too short');
    const udp = PacketBuffer.alloc(0);
    emitUdp({ srcPort: 1, dstPort: 2, payload: new Uint8Array(0) }, udp, A, B);
    emitIpv4({ ...IP, protocol: IpProtocol.UDP }, udp);
    emitEthernet({ dst: MAC_B, src: MAC_A, ethertype: EtherType.IPV4 }, udp);
    const padded = new Uint8Array(60);
    padded.set(udp.bytes());
    assert.equal(isPlainIpv4Tcp(padded), false, 'UDP');
    const arp = new Uint8Array(60);
    arp[12] = 0x08;
    arp[13] = 0x06;
    assert.equal(isPlainIpv4Tcp(arp), false, 'ARP');
  });
});
