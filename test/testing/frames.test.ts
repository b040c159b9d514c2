import assert from 'node:assert/strict';
import { wire } from '../../src/index.js';
import {
  arpReplyFrame, arpRequestFrame, decodeFrame, describeFrame, ethernetFrame, icmpEchoFrame, ipv4Frame, isArp, isIcmp, isIpv4, isTcp, isUdp,
  allOf, formatTcpFlags, tcpFlagBits, tcpFrame, udpFrame,
} from '../../streams/testing/index.js';

const eth = { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' } as const;
const ip = { src: '198.18.0.1', dst: '198.18.0.2' } as const;

describe('testing kit: frame builders and decoding', () => {
  it('builds a TCP SYN with options that the wire codec parses back field by field, checksums right', () => {
    const frame = tcpFrame({
      eth, ip: { ...ip, ttl: 63, ident: 7, dontFragment: true },
      tcp: { srcPort: 40000, dstPort: 80, seq: 0xfffffff0, flags: 'SYN', window: 29200, mss: 1460, windowScale: 7, sackPermitted: true, timestamp: { tsVal: 1, tsEcr: 0 } },
    });
    // Independently of decodeFrame: the core's parsers, checksums verified.
    const e = wire.parseEthernet(frame);
    assert.ok(e.ok);
    assert.equal(e.value.ethertype, wire.EtherType.IPV4);
    const p = wire.parseIpv4(e.value.payload);
    assert.ok(p.ok, 'IPv4 header checksum verifies');
    assert.equal(p.value.ttl, 63);
    assert.equal(p.value.dontFragment, true);
    const t = wire.parseTcp(p.value.payload, p.value.src, p.value.dst);
    assert.ok(t.ok, 'TCP checksum verifies');
    assert.equal(t.value.flags, wire.TcpFlags.SYN);
    assert.equal(t.value.seq, 0xfffffff0);
    assert.equal(t.value.mss, 1460);
    assert.equal(t.value.windowScale, 7);
    assert.equal(t.value.sackPermitted, true);
    assert.deepEqual(t.value.timestamp, { tsVal: 1, tsEcr: 0 });

    const f = decodeFrame(frame);
    assert.equal(f.malformed, undefined);
    assert.deepEqual(f.eth, { src: eth.src, dst: eth.dst, ethertype: 0x0800, vlan: undefined });
    assert.equal(f.ipv4?.src, '198.18.0.1');
    assert.equal(f.tcp?.flagNames, 'SYN');
    assert.equal(describeFrame(f), '198.18.0.1:40000 > 198.18.0.2:80 TCP [SYN] seq=4294967280 ack=0 win=29200 len=0 mss=1460 wscale=7 sackOK ts=1/0');
  });

  it('puts a payload (bytes or UTF-8 text) behind TCP and UDP headers', () => {
    const t = decodeFrame(tcpFrame({ eth, ip, tcp: { srcPort: 1, dstPort: 2, seq: 5, ack: 9, flags: 'PSH|ACK' }, payload: 'héllo' }));
    assert.equal(new TextDecoder().decode(t.tcp?.payload), 'héllo');
    assert.equal(t.tcp?.payload.length, 6);
    assert.equal(t.tcp?.ack, 9);
    const u = decodeFrame(udpFrame({ eth, ip, udp: { srcPort: 5353, dstPort: 53 }, payload: new Uint8Array([1, 2, 3]) }));
    assert.deepEqual([...(u.udp?.payload ?? [])], [1, 2, 3]);
    assert.equal(u.udp?.dstPort, 53);
    assert.ok(isUdp({ dstPort: 53, payload: new Uint8Array([1, 2, 3]) })(u));
    assert.ok(!isUdp({ payload: new Uint8Array([1, 2]) })(u));
  });

  it('builds ICMP echo, ARP request/reply, plain IPv4 and raw Ethernet frames', () => {
    const ping = decodeFrame(icmpEchoFrame({ eth, ip, ident: 7, seq: 3 }));
    assert.deepEqual(ping.icmp && { kind: ping.icmp.kind, ...('ident' in ping.icmp ? { ident: ping.icmp.ident, seq: ping.icmp.seq, len: ping.icmp.data.length } : {}) },
      { kind: 'echo-request', ident: 7, seq: 3, len: 56 });
    assert.ok(isIcmp({ kind: 'echo-request', ident: 7, seq: 3 })(ping));
    assert.ok(!isIcmp({ kind: 'echo-reply' })(ping));

    const req = decodeFrame(arpRequestFrame({ senderMac: eth.src, senderIp: ip.src, targetIp: ip.dst }));
    assert.equal(req.eth?.dst, 'ff:ff:ff:ff:ff:ff');
    assert.deepEqual(req.arp, { op: 'request', senderMac: eth.src, senderIp: ip.src, targetMac: '00:00:00:00:00:00', targetIp: ip.dst });
    const rep = decodeFrame(arpReplyFrame({ senderMac: eth.dst, senderIp: ip.dst, targetMac: eth.src, targetIp: ip.src }));
    assert.equal(rep.eth?.dst, eth.src);
    assert.ok(isArp({ op: 'reply', senderIp: ip.dst })(rep));
    assert.ok(!isArp({ op: 'request' })(rep));

    const raw = decodeFrame(ipv4Frame({ eth, ip: { ...ip, moreFragments: true, ident: 9 }, protocol: 17, payload: new Uint8Array(16) }));
    assert.equal(raw.ipv4?.moreFragments, true);
    assert.equal(raw.udp, undefined, 'a fragment is not parsed as UDP');
    assert.ok(isIpv4({ protocol: 17, dst: ip.dst })(raw));
    assert.equal(describeFrame(raw), '198.18.0.1 > 198.18.0.2 proto 17 len=16 frag@0+');

    const custom = decodeFrame(ethernetFrame({ eth: { ...eth, vlan: { id: 5 } }, ethertype: 0x88b5, payload: 'x' }));
    assert.equal(custom.eth?.ethertype, 0x88b5);
    assert.equal(custom.eth?.vlan?.id, 5);
  });

  it('reports a corrupted frame as malformed instead of throwing', () => {
    const frame = tcpFrame({ eth, ip, tcp: { srcPort: 1, dstPort: 2, seq: 0, flags: 'ACK' }, payload: 'data' });
    frame[frame.length - 1] ^= 0xff;
    const f = decodeFrame(frame);
    assert.equal(f.malformed, 'tcp: badChecksum');
    assert.equal(f.tcp, undefined);
    assert.ok(!isTcp()(f));
    assert.equal(decodeFrame(new Uint8Array(5)).malformed, 'ethernet: truncated');
  });

  it('flags: names in, names out; matchers compare exactly or as a subset', () => {
    assert.equal(tcpFlagBits('syn, ack'), wire.TcpFlags.SYN | wire.TcpFlags.ACK);
    assert.equal(tcpFlagBits('FIN|PSH|ACK'), 0x19);
    assert.equal(formatTcpFlags(0x14), 'RST|ACK');
    assert.throws(() => tcpFlagBits('SYN|AKC'), { code: 'ERR_INVALID_ARG_VALUE', message: /unknown flag "AKC"/ });
    const rstAck = decodeFrame(tcpFrame({ eth, ip, tcp: { srcPort: 1, dstPort: 2, seq: 0, flags: 'RST|ACK' } }));
    assert.ok(isTcp({ hasFlags: 'RST' })(rstAck));
    assert.ok(!isTcp({ flags: 'RST' })(rstAck));
    assert.ok(isTcp({ flags: 'ACK|RST', srcPort: 1, src: '198.18.0.1' })(rstAck));
    assert.ok(allOf(isTcp(), (f) => f.ipv4.ttl === 64)(rstAck));
    assert.ok(!allOf(isTcp(), (f) => f.tcp.dstPort === 3)(rstAck));
    assert.equal(isTcp({ flags: 'SYN|ACK', dstPort: 40000 }).description, 'TCP [SYN|ACK] to port 40000');
  });

  it('a typo in an address is an ERR_INVALID_ARG_VALUE naming the field', () => {
    assert.throws(() => tcpFrame({ eth: { ...eth, dst: '02:00:00:00:00' }, ip, tcp: { srcPort: 1, dstPort: 2, seq: 0, flags: 'SYN' } }),
      { code: 'ERR_INVALID_ARG_VALUE', message: /eth\.dst: "02:00:00:00:00" is not a MAC/ });
    assert.throws(() => udpFrame({ eth, ip: { ...ip, src: '198.18.0.256' }, udp: { srcPort: 1, dstPort: 2 } }),
      { code: 'ERR_INVALID_ARG_VALUE', message: /ip\.src: "198\.18\.0\.256" is not an IPv4 address/ });
  });
});
