/**
 * IPv4 input and output of the stack at the wire: hand-built frames go in one end of the memory
 * wire, and what the stack answers (or does not) is read at that end. Virtual time throughout.
 */
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { createStack } from '../../../streams/stack/create-stack.js';
import { ReceivedIpv4, type Ipv4Datagram } from '../../../streams/stack/ipv4-layer.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { formatMac } from '../../../src/mac.js';
import { EtherType } from '../../../src/wire/ethernet.js';
import { ArpOp } from '../../../src/wire/arp.js';
import { IcmpType } from '../../../src/wire/icmp.js';
import type { NetstackError } from '../../../src/errors.js';
import { map } from 'rxjs';
import { TcpFlags, emitTcp, parseTcp } from '../../../src/wire/tcp.js';
import {
  rawPeer, advance, ethFrame, ip, ipv4Frame, ipv4Packet, pingFrame, echoRequest, fragmentFrames, stat,
  STACK_IP, STACK_MAC, PEER_IP, PEER_MAC, type RawPeer,
} from './raw-peer.js';

function setup(opts: Parameters<typeof rawPeer>[0] = {}): { ts: TestScheduler; p: RawPeer } {
  const ts = new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
  const p = rawPeer({ scheduler: ts, ...opts });
  advance(ts, 0); // the gratuitous ARP
  return { ts, p };
}

const replies = (p: RawPeer) => p.icmp(IcmpType.ECHO_REPLY);

describe('stack: IPv4 at the wire', () => {
  it('answers a plain ping (the baseline the drop tests compare with)', () => {
    const { ts, p } = setup();
    p.send(pingFrame(7, 1));
    advance(ts, 1);
    const r = replies(p);
    assert.equal(r.length, 1);
    assert.equal(r[0].ipv4?.src, ip(STACK_IP));
    assert.equal(r[0].ipv4?.dst, ip(PEER_IP));
    assert.equal(r[0].ipv4?.ttl, 64);
    assert.equal(formatMac(r[0].eth.dst), PEER_MAC);
    const echo = r[0].icmp;
    assert.ok(echo?.kind === 'echo-reply');
    assert.equal(echo.ident, 7);
    assert.equal(echo.seq, 1);
    assert.deepEqual(echo.data, echoRequest(7, 1).subarray(8));
    p.close();
  });

  it('a ping with a bad header checksum gets no reply and is counted', () => {
    const { ts, p } = setup();
    const frame = pingFrame(7, 1);
    frame[14 + 10] ^= 0xff; // IPv4 header checksum
    p.send(frame);
    advance(ts, 100);
    assert.equal(replies(p).length, 0);
    assert.equal(stat(p.stack, 'ipv4', 'drops', 'badChecksum'), 1);
    assert.equal(stat(p.stack, 'icmp', 'rxMessages'), 0);
    p.close();
  });

  it('a ping with a bad ICMP checksum gets no reply and is counted', () => {
    const { ts, p } = setup();
    const frame = pingFrame(7, 1);
    frame[14 + 20 + 2] ^= 0xff; // ICMP checksum
    p.send(frame);
    advance(ts, 100);
    assert.equal(replies(p).length, 0);
    assert.equal(stat(p.stack, 'icmp', 'drops', 'badChecksum'), 1);
    p.close();
  });

  it('accepts and answers a datagram with IP options (skipped safely)', () => {
    const { ts, p } = setup();
    // NOP, NOP, then a 12-byte timestamp option (type 68, len 12, pointer 5, flags 0) and EOL padding.
    const options = new Uint8Array([1, 1, 68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    p.send(pingFrame(9, 3, { options }));
    advance(ts, 1);
    const r = replies(p);
    assert.equal(r.length, 1);
    const echo = r[0].icmp;
    assert.ok(echo?.kind === 'echo-reply');
    assert.equal(echo.seq, 3);
    assert.deepEqual(echo.data, echoRequest(9, 3).subarray(8), 'the data starts after the options');
    p.close();
  });

  it('hands a datagram up as received: header and payload read from the frame on first use (options and padding honoured)', () => {
    const { ts, p } = setup();
    const got: Ipv4Datagram[] = [];
    const sub = p.stack.ipv4.protocol(253).up$.subscribe((d) => got.push(d));
    const options = new Uint8Array([1, 1, 1, 0]); // NOP NOP NOP EOL: a 24-byte header
    const packet = ipv4Packet({ protocol: 253, options }, new Uint8Array([5, 6, 7]));
    const padded = new Uint8Array(46).fill(0xee);
    padded.set(packet);
    p.send(ipv4Frame(padded));
    advance(ts, 1);
    assert.equal(got.length, 1);
    const d = got[0];
    assert.ok(d instanceof ReceivedIpv4, 'no operator above IPv4: the received record, no views made');
    assert.equal(d.header.length, 24);
    assert.deepEqual([...d.payload], [5, 6, 7], 'the payload ends at the total length, not at the padding');
    assert.deepEqual([...d.header], [...packet.subarray(0, 24)]);
    assert.equal(d.payload, d.payload, 'a view is made once');
    assert.equal(d.reassembled, false);
    sub.unsubscribe();
    p.close();
  });

  it('with a transport operator above IPv4, datagrams are plain records: a spread copy keeps header and payload', () => {
    const { ts, p } = setup({ hooks: { transport: { up: map((d) => ({ ...d, ttl: d.ttl - 1 })) } } });
    const got: Ipv4Datagram[] = [];
    const sub = p.stack.ipv4.protocol(253).up$.subscribe((d) => got.push(d));
    const packet = ipv4Packet({ protocol: 253 }, new Uint8Array([1, 2, 3, 4]));
    p.send(ipv4Frame(packet));
    advance(ts, 1);
    assert.equal(got.length, 1);
    assert.equal(got[0].ttl, 63);
    assert.deepEqual([...got[0].payload], [1, 2, 3, 4]);
    assert.deepEqual([...got[0].header], [...packet.subarray(0, 20)]);
    sub.unsubscribe();
    p.close();
  });

  it('TCP reads a segment in place behind IP options: a SYN in a 28-byte header is answered with a SYN-ACK', () => {
    const { ts, p } = setup();
    const sub = p.stack.tcp.listen({ port: 80 }).subscribe();
    const pb = PacketBuffer.withPayload(new Uint8Array(0), 100);
    emitTcp({ srcPort: 40000, dstPort: 80, seq: 1000, ack: 0, flags: TcpFlags.SYN, window: 65535, urgent: 0, mss: 1460, payload: new Uint8Array(0) }, pb, ip(PEER_IP), ip(STACK_IP));
    const options = new Uint8Array([1, 1, 1, 1, 1, 1, 1, 0]); // a 28-byte IPv4 header
    p.send(ipv4Frame(ipv4Packet({ protocol: 6, options }, pb.bytes().slice())));
    advance(ts, 1);
    const synAcks = p.seen.filter((s) => s.ipv4?.protocol === 6).map((s) => parseTcp(s.ipv4!.payload, s.ipv4!.src, s.ipv4!.dst));
    assert.equal(synAcks.length, 1);
    const r = synAcks[0];
    assert.ok(r.ok);
    assert.equal(r.value.flags, TcpFlags.SYN | TcpFlags.ACK);
    assert.equal(r.value.ack, 1001);
    assert.equal(r.value.dstPort, 40000);
    assert.equal(stat(p.stack, 'tcp', 'drops', 'badChecksum'), 0);
    sub.unsubscribe();
    p.close();
  });

  it('ignores Ethernet padding after the IPv4 total length', () => {
    const { ts, p } = setup();
    const packet = ipv4Packet({ protocol: 1 }, echoRequest(1, 1, 4)); // 20 + 12 = 32 bytes
    const padded = new Uint8Array(46).fill(0xee);
    padded.set(packet);
    p.send(ipv4Frame(padded));
    advance(ts, 1);
    const r = replies(p);
    assert.equal(r.length, 1);
    assert.equal(r[0].ipv4?.payload.length, 12);
    p.close();
  });

  it('drops malformed headers by reason: version, IHL, total length', () => {
    const { ts, p } = setup();
    const version = pingFrame(1, 1);
    version[14] = 0x65;
    const ihl = pingFrame(1, 2);
    ihl[14] = 0x44;
    const total = pingFrame(1, 3);
    total[14 + 2] = 0x05; // 1280+ bytes claimed, 84 present
    const runt = ethFrame(STACK_MAC, PEER_MAC, EtherType.IPV4, new Uint8Array(10));
    for (const f of [version, ihl, total, runt]) p.send(f);
    advance(ts, 1);
    assert.equal(replies(p).length, 0);
    assert.equal(stat(p.stack, 'ipv4', 'drops', 'badVersion'), 1);
    assert.equal(stat(p.stack, 'ipv4', 'drops', 'badIhl'), 1);
    assert.equal(stat(p.stack, 'ipv4', 'drops', 'badTotalLength'), 1);
    assert.equal(stat(p.stack, 'ipv4', 'drops', 'truncated'), 1);
    p.close();
  });

  it('drops TTL 0, answers TTL 1', () => {
    const { ts, p } = setup();
    p.send(pingFrame(1, 1, { ttl: 0 }));
    p.send(pingFrame(1, 2, { ttl: 1 }));
    advance(ts, 1);
    const r = replies(p);
    assert.deepEqual(r.map((s) => (s.icmp?.kind === 'echo-reply' ? s.icmp.seq : -1)), [2]);
    assert.equal(stat(p.stack, 'ipv4', 'drops', 'ttlZero'), 1);
    p.close();
  });

  it('ignores broadcast and multicast pings (limited, directed, all-hosts, link broadcast)', () => {
    const { ts, p } = setup();
    p.send(pingFrame(1, 1, { dst: ip('255.255.255.255') }, 56, 'ff:ff:ff:ff:ff:ff'));
    p.send(pingFrame(1, 2, { dst: ip('198.18.0.255') }, 56, 'ff:ff:ff:ff:ff:ff'));
    p.send(pingFrame(1, 3, { dst: ip('198.18.0.255') })); // directed broadcast in a unicast frame
    p.send(pingFrame(1, 4, { dst: ip('224.0.0.1') }, 56, '01:00:5e:00:00:01'));
    p.send(pingFrame(1, 5, {}, 56, 'ff:ff:ff:ff:ff:ff')); // our address, link broadcast
    advance(ts, 100);
    assert.equal(replies(p).length, 0);
    assert.equal(stat(p.stack, 'icmp', 'drops', 'broadcastEcho'), 5);
    assert.equal(stat(p.stack, 'icmp', 'rxEchoRequests'), 5);
    p.close();
  });

  it('delivers a directed broadcast to the transport as broadcast, and never answers it with an ICMP error', () => {
    const { ts, p } = setup();
    const got: Ipv4Datagram[] = [];
    const sub = p.stack.ipv4.protocol(253).up$.subscribe((d) => got.push(d));
    p.send(ipv4Frame(ipv4Packet({ protocol: 253, dst: ip('198.18.0.255') }, new Uint8Array([1, 2, 3, 4])), 'ff:ff:ff:ff:ff:ff'));
    // Nobody speaks protocol 254: a unicast datagram gets protocol unreachable, a broadcast one nothing.
    p.send(ipv4Frame(ipv4Packet({ protocol: 254, dst: ip('198.18.0.255') }, new Uint8Array(8)), 'ff:ff:ff:ff:ff:ff'));
    p.send(ipv4Frame(ipv4Packet({ protocol: 254, dst: ip('255.255.255.255') }, new Uint8Array(8)), 'ff:ff:ff:ff:ff:ff'));
    advance(ts, 100);
    assert.equal(got.length, 1);
    assert.equal(got[0].broadcast, true);
    assert.equal(got[0].dst, ip('198.18.0.255'));
    assert.deepEqual([...got[0].payload], [1, 2, 3, 4]);
    assert.equal(p.icmp(IcmpType.DEST_UNREACHABLE).length, 0);
    assert.equal(stat(p.stack, 'icmp', 'errorsSuppressed'), 2);
    // The same unknown protocol sent unicast is answered.
    p.send(ipv4Frame(ipv4Packet({ protocol: 254 }, new Uint8Array(8))));
    advance(ts, 100);
    const unreach = p.icmp(IcmpType.DEST_UNREACHABLE);
    assert.equal(unreach.length, 1);
    assert.ok(unreach[0].icmp?.kind === 'dest-unreachable' && unreach[0].icmp.code === 2);
    sub.unsubscribe();
    p.close();
  });

  it('drops frames for other MACs (and unjoined multicast groups) and counts them', () => {
    const { ts, p } = setup();
    p.send(pingFrame(1, 1, {}, 56, '02:00:00:00:00:99'));
    p.send(pingFrame(1, 2, {}, 56, '01:00:5e:00:00:fb'));
    advance(ts, 100);
    assert.equal(replies(p).length, 0);
    assert.equal(stat(p.stack, 'eth:eth0', 'drops', 'notForUs'), 2);
    assert.equal(stat(p.stack, 'ipv4', 'rxPackets'), 0);
    p.close();
  });

  it('a host does not forward: a datagram for another address is dropped as notForUs', () => {
    const { ts, p } = setup({ config: { routes: [{ destination: '0.0.0.0/0', gateway: PEER_IP }] } });
    p.send(pingFrame(1, 1, { dst: ip('198.18.0.3') }));
    p.send(pingFrame(1, 2, { dst: ip('203.0.113.5') }));
    advance(ts, 100);
    assert.equal(p.seen.filter((s) => s.ipv4).length, 0, 'nothing sent on');
    assert.equal(stat(p.stack, 'ipv4', 'drops', 'notForUs'), 2);
    p.close();
  });

  it('drops datagrams from a broadcast or multicast source', () => {
    const { ts, p } = setup();
    p.send(pingFrame(1, 1, { src: ip('255.255.255.255') }));
    p.send(pingFrame(1, 2, { src: ip('198.18.0.255') }));
    p.send(pingFrame(1, 3, { src: ip('224.0.0.5') }));
    advance(ts, 100);
    assert.equal(replies(p).length, 0);
    assert.equal(stat(p.stack, 'ipv4', 'drops', 'badSource'), 3);
    p.close();
  });

  it('weak host model: an address of another interface is answered on the interface it came in by', () => {
    const ts = new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
    const [peer0, stack0] = createMemoryWire({ scheduler: ts, macs: [PEER_MAC, STACK_MAC] });
    const [peer1, stack1] = createMemoryWire({ scheduler: ts, macs: ['02:00:00:00:01:01', '02:00:00:00:01:02'] });
    const at0: Uint8Array[] = [];
    const at1: Uint8Array[] = [];
    peer0.frames$.subscribe((f) => {
      at0.push(f);
      // Answer the stack's ARP request for the peer.
      if (f[12] === 0x08 && f[13] === 0x06 && f[21] === 1 && f[41] === 1) {
        const reply = f.slice();
        reply.set(f.subarray(6, 12), 0);
        reply.set([2, 0, 0, 0, 0, 1], 6);
        reply[21] = 2;
        reply.set([2, 0, 0, 0, 0, 1], 22);
        reply.set([198, 18, 0, 1], 28);
        reply.set(f.subarray(22, 28), 32);
        reply.set(f.subarray(28, 32), 38);
        peer0.send(reply);
      }
    });
    peer1.frames$.subscribe((f) => at1.push(f));
    const stack = createStack({
      interfaces: [
        { name: 'eth0', link: stack0, mac: STACK_MAC, ipv4: ['198.18.0.2/24'] },
        { name: 'eth1', link: stack1, mac: '02:00:00:00:01:02', ipv4: ['198.18.1.2/24'] },
      ],
    }, { scheduler: ts });
    advance(ts, 0);
    at1.length = 0;
    peer0.send(pingFrame(5, 5, { dst: ip('198.18.1.2') }));
    advance(ts, 1);
    const ipv4At0 = at0.filter((f) => f[12] === 0x08 && f[13] === 0x00);
    assert.equal(ipv4At0.length, 1, 'the reply leaves by eth0, where the route to the asker points');
    assert.deepEqual([...ipv4At0[0].subarray(14 + 12, 14 + 16)], [198, 18, 1, 2], 'from the address that was pinged');
    assert.equal(ipv4At0[0][14 + 20], 0, 'an echo reply');
    assert.equal(at1.length, 0);
    stack.close();
  });

  it('sends off-subnet datagrams to the gateway MAC, resolving the gateway (not the destination)', () => {
    const { ts, p } = setup({ config: { routes: [{ destination: '0.0.0.0/0', gateway: PEER_IP }] } });
    const err = p.stack.ipv4.send(PacketBuffer.withPayload(new Uint8Array(4)), { dst: ip('203.0.113.9'), protocol: 253 });
    assert.equal(err, undefined);
    advance(ts, 1);
    const asked = p.arp(ArpOp.REQUEST).filter((s) => s.arp?.senderIp !== s.arp?.targetIp).map((s) => s.arp?.targetIp);
    assert.deepEqual(asked, [ip(PEER_IP)]);
    const out = p.seen.filter((s) => s.ipv4?.protocol === 253);
    assert.equal(out.length, 1);
    assert.equal(formatMac(out[0].eth.dst), PEER_MAC);
    assert.equal(out[0].ipv4?.dst, ip('203.0.113.9'));
    p.close();
  });

  it('routeFor answers a repeated destination from its cache, and a route or an address added later is seen at once', () => {
    const { p } = setup({ config: { routes: [{ destination: '0.0.0.0/0', gateway: PEER_IP }] } });
    const v4 = p.stack.ipv4;
    const dst = ip('203.0.113.9');
    const first = v4.routeFor(dst);
    assert.ok('iface' in first);
    assert.equal(first.nextHop, ip(PEER_IP));
    assert.equal(v4.routeFor(dst), first, 'the same destination again: the cached route, nothing new allocated');
    // A more specific route: the next lookup must take it (the cache is keyed by the table's version).
    const iface = v4.interfaces[0];
    v4.routes.add({ destination: ip('203.0.113.0'), prefixLength: 24, gateway: ip('198.18.0.77'), interfaceIndex: iface.index });
    const second = v4.routeFor(dst);
    assert.ok('iface' in second);
    assert.equal(second.nextHop, ip('198.18.0.77'));
    // The destination becomes one of our addresses: no more TSO towards it (maxGsoBytes 0 for a local one).
    iface.addAddress(dst, 32);
    const third = v4.routeFor(dst);
    assert.notEqual(third, second);
    assert.ok(v4.isLocal(dst));
    p.close();
  });

  it('without a route: ENETUNREACH at once', () => {
    const { p } = setup();
    const err = p.stack.ipv4.send(PacketBuffer.withPayload(new Uint8Array(4)), { dst: ip('203.0.113.9'), protocol: 253 });
    assert.equal(err?.code, 'ENETUNREACH');
    p.close();
  });

  it('fragments a datagram larger than the MTU, never with DF (EMSGSIZE)', () => {
    const { ts, p } = setup();
    const big = new Uint8Array(3000).map((_, i) => i & 0xff);
    const df: NetstackError | undefined = p.stack.ipv4.send(PacketBuffer.withPayload(big), { dst: ip(PEER_IP), protocol: 253, dontFragment: true });
    assert.equal(df?.code, 'EMSGSIZE');
    assert.equal(p.stack.ipv4.send(PacketBuffer.withPayload(big), { dst: ip(PEER_IP), protocol: 253 }), undefined);
    advance(ts, 1);
    const frags = p.seen.filter((s) => s.ipv4?.protocol === 253).map((s) => s.ipv4!);
    assert.deepEqual(frags.map((f) => [f.fragmentOffset, f.payload.length, f.moreFragments]), [[0, 1480, true], [1480, 1480, true], [2960, 40, false]]);
    assert.ok(frags.every((f) => f.ident === frags[0].ident && !f.dontFragment));
    for (const f of frags) assert.deepEqual(f.payload, big.subarray(f.fragmentOffset, f.fragmentOffset + f.payload.length));
    for (const s of p.seen.filter((x) => x.ipv4?.protocol === 253)) assert.ok(s.frame.length <= 1514);
    p.close();
  });

  describe('reassembly at the wire', () => {
    const message = echoRequest(3, 4, 56); // 64 bytes of ICMP

    it('out of order with an exact duplicate: reassembled and answered', () => {
      const { ts, p } = setup();
      for (const f of fragmentFrames(message, [[32, 32], [0, 16], [0, 16], [16, 16]], { protocol: 1 })) p.send(f);
      advance(ts, 1);
      assert.equal(replies(p).length, 1);
      assert.equal(stat(p.stack, 'reassembly', 'duplicate'), 1);
      assert.equal(stat(p.stack, 'ipv4', 'rxReassembled'), 1);
      assert.equal(p.stack.ipv4.reassembler.bytesHeld, 0);
      p.close();
    });

    it('overlapping fragments drop the whole datagram: no reply even once every byte came', () => {
      const { ts, p } = setup();
      // [0,32) then [16,48) overlaps: the datagram is dropped; [32,64) starts a new one that never completes.
      for (const f of fragmentFrames(message, [[0, 32], [16, 32], [32, 32]], { protocol: 1 })) p.send(f);
      advance(ts, 1);
      assert.equal(replies(p).length, 0);
      assert.equal(stat(p.stack, 'reassembly', 'overlap'), 1);
      assert.equal(stat(p.stack, 'ipv4', 'drops', 'fragmentDropped'), 1);
      assert.equal(p.stack.ipv4.reassembler.size, 1, 'only the piece after the overlap is held');
      p.close();
    });

    it('a fragment reaching past 65,535 bytes drops the datagram', () => {
      const { ts, p } = setup();
      p.send(fragmentFrames(message, [[0, 32]], { protocol: 1 })[0]);
      p.send(ipv4Frame(ipv4Packet({ protocol: 1, ident: 0x4242, fragmentOffset: 65_520, moreFragments: false }, new Uint8Array(16))));
      advance(ts, 1);
      assert.equal(stat(p.stack, 'reassembly', 'tooBig'), 1);
      assert.equal(p.stack.ipv4.reassembler.size, 0);
      assert.equal(p.stack.ipv4.reassembler.bytesHeld, 0);
      p.close();
    });
  });
});
