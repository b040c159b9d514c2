import assert from 'node:assert/strict';
import { ipv6, wire } from '../src/index.js';

describe('rx-netstack/core', () => {
  it('exposes the header field tables under wire, for code that reads raw frames', () => {
    assert.equal(wire.EthernetOffset.TYPE, 12);
    assert.equal(wire.Ipv4Offset.PROTOCOL, 9);
    assert.equal(wire.Ipv4FlagsFrag.MF, 0x2000);
    assert.equal(wire.IPV4_VERSION, 4);
    assert.equal(wire.TcpOffset.FLAGS, 13);
    assert.equal(wire.TcpOptionLen.TIMESTAMPS, 10);
    assert.equal(wire.UdpOffset.CHECKSUM, 6);
    // Composed as the TAP link composes them: the TCP flags of an untagged IPv4 frame without options.
    assert.equal(wire.ETHERNET_HEADER_LEN + wire.IPV4_MIN_HEADER_LEN + wire.TcpOffset.FLAGS, 47);
  });

  it('exposes IPv6: addresses, reassembly and the neighbour cache under ipv6, the codecs under wire', () => {
    assert.equal(ipv6.formatIpv6(ipv6.ipv6Addr('FD00:0:0::2')), 'fd00::2');
    assert.equal(typeof ipv6.Ipv6Reassembler, 'function');
    assert.equal(typeof ipv6.Ipv6NeighborCache, 'function');
    assert.equal(wire.Ipv6Offset.NEXT_HEADER, 6);
    assert.equal(wire.Icmpv6Type.NEIGHBOR_SOLICIT, 135);
    assert.equal(typeof wire.walkIpv6Chain, 'function');
    assert.equal(typeof wire.emitMldReport, 'function');
  });
});
