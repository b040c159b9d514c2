/**
 * Reassembly limits of the stack in virtual time: partial datagrams expire (freeing their
 * memory, with ICMP time exceeded only when the first fragment had come), and the memory and
 * count caps evict the oldest.
 */
import assert from 'node:assert/strict';
import { defer, filter, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { IcmpType } from '../../../src/wire/icmp.js';
import { parseEthernet } from '../../../src/wire/ethernet.js';
import { parseIpv4 } from '../../../src/wire/ipv4.js';
import { rawPeer, advance, echoRequest, fragmentFrames, icmpMessage, ipv4Packet, ip, stat, STACK_IP, PEER_IP, type RawPeer } from './raw-peer.js';

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
}

/** ICMP messages the stack sends, as `type/code`. */
function icmpKinds(p: () => RawPeer) {
  return defer(() => p().link.frames$).pipe(
    map((f) => {
      const e = parseEthernet(f);
      const v = e.ok ? parseIpv4(e.value.payload) : undefined;
      return v?.ok && v.value.protocol === 1 ? `${v.value.payload[0]}/${v.value.payload[1]}` : '';
    }),
    filter((k) => k !== ''),
  );
}

const message = echoRequest(3, 4, 56); // 64 bytes of ICMP

describe('stack: IPv4 reassembly in virtual time', () => {
  it('an incomplete datagram expires after the default 30 s: memory freed, time exceeded (11/1) sent then', () => {
    const ts = newScheduler();
    let peer: RawPeer | undefined;
    const held: [number, number][] = [];
    ts.run(({ expectObservable }) => {
      ts.schedule(() => (peer = rawPeer({ scheduler: ts })), 0);
      expectObservable(icmpKinds(() => peer as RawPeer), '^ 59999ms !').toBe('30000ms t', { t: '11/1' });
      // The first half of an echo request; the second half never comes.
      ts.schedule(() => peer?.send(fragmentFrames(message, [[0, 32]], { protocol: 1 })[0]), 0);
      for (const at of [1, 29_999, 30_001]) ts.schedule(() => held.push([ts.now(), (peer as RawPeer).stack.ipv4.reassembler.bytesHeld]), at);
    });
    assert.deepEqual(held, [[1, 32 + 64], [29_999, 32 + 64], [30_001, 0]], 'payload + per-fragment overhead, then nothing');
    const p = peer as RawPeer;
    const te = p.icmp(IcmpType.TIME_EXCEEDED);
    assert.equal(te.length, 1);
    assert.equal(te[0].ipv4?.src, ip(STACK_IP));
    assert.equal(te[0].ipv4?.dst, ip(PEER_IP));
    const quoted = te[0].icmp?.kind === 'time-exceeded' ? te[0].icmp.quoted : new Uint8Array(0);
    const sent = ipv4Packet({ protocol: 1, ident: 0x4242, moreFragments: true }, message.subarray(0, 32));
    assert.deepEqual(quoted.subarray(0, 20), sent.subarray(0, 20), 'quotes the first fragment’s header');
    assert.deepEqual(quoted.subarray(20, 28), message.subarray(0, 8), 'and at least its first 8 data bytes');
    assert.equal(stat(p.stack, 'ipv4', 'reassemblyTimeouts'), 1);
    assert.equal(stat(p.stack, 'reassembly', 'timeout'), 1);
    p.close();
  });

  it('without the first fragment the datagram expires silently (no ICMP)', () => {
    const ts = newScheduler();
    let peer: RawPeer | undefined;
    ts.run(({ expectObservable }) => {
      ts.schedule(() => (peer = rawPeer({ scheduler: ts })), 0);
      expectObservable(icmpKinds(() => peer as RawPeer), '^ 59999ms !').toBe('');
      ts.schedule(() => peer?.send(fragmentFrames(message, [[32, 32]], { protocol: 1 })[0]), 0);
    });
    const p = peer as RawPeer;
    assert.equal(p.stack.ipv4.reassembler.bytesHeld, 0);
    assert.equal(stat(p.stack, 'reassembly', 'timeout'), 1);
    assert.equal(stat(p.stack, 'icmp', 'txErrors'), 0);
    p.close();
  });

  it('honours ipv4.reassembly.timeoutMs, counted from the first fragment (later ones do not extend it)', () => {
    const ts = newScheduler();
    let peer: RawPeer | undefined;
    ts.run(({ expectObservable }) => {
      ts.schedule(() => (peer = rawPeer({ scheduler: ts, config: { ipv4: { reassembly: { timeoutMs: 5_000 } } } })), 0);
      expectObservable(icmpKinds(() => peer as RawPeer), '^ 19999ms !').toBe('5000ms t', { t: '11/1' });
      const [first, second] = fragmentFrames(message, [[0, 16], [16, 16]], { protocol: 1 });
      ts.schedule(() => peer?.send(first), 0);
      ts.schedule(() => peer?.send(second), 4_000);
    });
    assert.equal((peer as RawPeer).stack.ipv4.reassembler.bytesHeld, 0);
    (peer as RawPeer).close();
  });

  it('never answers an ICMP error with an ICMP error: a fragmented error that expires gets no time exceeded', () => {
    const ts = newScheduler();
    let peer: RawPeer | undefined;
    ts.run(({ expectObservable }) => {
      ts.schedule(() => (peer = rawPeer({ scheduler: ts })), 0);
      expectObservable(icmpKinds(() => peer as RawPeer), '^ 59999ms !').toBe('');
      // A destination unreachable quoting some datagram of ours, 64 bytes, of which only the first 32 arrive.
      const quote = ipv4Packet({ protocol: 17, src: ip(STACK_IP), dst: ip(PEER_IP) }, new Uint8Array(36));
      const error = icmpMessage({ kind: 'dest-unreachable', code: 3, nextHopMtu: 0, quoted: quote }, quote);
      ts.schedule(() => peer?.send(fragmentFrames(error, [[0, 32]], { protocol: 1 })[0]), 0);
    });
    const p = peer as RawPeer;
    assert.equal(stat(p.stack, 'reassembly', 'timeout'), 1);
    assert.equal(stat(p.stack, 'icmp', 'errorsSuppressed'), 1);
    p.close();
  });

  it('a partial datagram sent to a broadcast address (IP or link level) expires without an ICMP error', () => {
    const ts = newScheduler();
    let peer: RawPeer | undefined;
    ts.run(({ expectObservable }) => {
      ts.schedule(() => (peer = rawPeer({ scheduler: ts })), 0);
      expectObservable(icmpKinds(() => peer as RawPeer), '^ 59999ms !').toBe('');
      ts.schedule(() => peer?.send(fragmentFrames(message, [[0, 32]], { protocol: 1, dst: ip('198.18.0.255') })[0]), 0);
      // Our unicast address, but in a link-level broadcast frame (RFC 1122 3.2.2: no error either).
      const linkBroadcast = fragmentFrames(message, [[0, 32]], { protocol: 1, ident: 0x4343 })[0];
      linkBroadcast.fill(0xff, 0, 6);
      ts.schedule(() => peer?.send(linkBroadcast), 0);
    });
    const p = peer as RawPeer;
    assert.equal(stat(p.stack, 'reassembly', 'timeout'), 2);
    assert.equal(stat(p.stack, 'icmp', 'txErrors'), 0);
    assert.equal(stat(p.stack, 'icmp', 'errorsSuppressed'), 2);
    p.close();
  });

  it('the memory cap evicts the oldest partial datagram', () => {
    const ts = newScheduler();
    // Each first fragment costs 800 + 64 bytes: two fit under 2000, a third evicts the oldest.
    const p = rawPeer({ scheduler: ts, config: { ipv4: { reassembly: { maxBytes: 2000 } } } });
    const msg = echoRequest(9, 9, 832); // 840 bytes of ICMP: 800 + 40
    const first = (ident: number) => fragmentFrames(msg, [[0, 800]], { protocol: 1, ident })[0];
    const rest = (ident: number) => fragmentFrames(msg, [[800, 40]], { protocol: 1, ident })[0];
    p.send(first(1));
    advance(ts, 10);
    p.send(first(2));
    advance(ts, 10);
    assert.equal(p.stack.ipv4.reassembler.bytesHeld, 2 * 864);
    p.send(first(3));
    advance(ts, 10);
    assert.equal(stat(p.stack, 'reassembly', 'evicted'), 1);
    assert.equal(p.stack.ipv4.reassembler.size, 2);
    assert.equal(p.stack.ipv4.reassembler.bytesHeld, 2 * 864);
    // Datagrams 2 and 3 complete; 1 is gone: its last piece starts a new partial datagram.
    p.send(rest(3));
    p.send(rest(2));
    p.send(rest(1));
    advance(ts, 10);
    assert.deepEqual(p.seen.filter((s) => s.icmp?.kind === 'echo-reply').map((s) => s.ipv4?.payload.length), [840, 840], 'datagrams 2 and 3 were answered');
    assert.equal(p.stack.ipv4.reassembler.size, 1, 'the orphaned piece of datagram 1');
    assert.equal(p.stack.ipv4.reassembler.bytesHeld, 40 + 64);
    assert.equal(stat(p.stack, 'reassembly', 'evicted'), 1);
    p.close();
  });

  it('a datagram that alone would exceed the memory cap is dropped', () => {
    const ts = newScheduler();
    const p = rawPeer({ scheduler: ts, config: { ipv4: { reassembly: { maxBytes: 1000 } } } });
    const big = echoRequest(9, 9, 1592);
    for (const f of fragmentFrames(big, [[0, 800], [800, 800]], { protocol: 1 })) p.send(f);
    advance(ts, 10);
    assert.equal(p.icmp(IcmpType.ECHO_REPLY).length, 0);
    assert.equal(stat(p.stack, 'reassembly', 'memory'), 1);
    assert.ok(p.stack.ipv4.reassembler.bytesHeld <= 1000);
    p.close();
  });

  it('the count cap evicts the oldest partial datagram', () => {
    const ts = newScheduler();
    const p = rawPeer({ scheduler: ts, config: { ipv4: { reassembly: { maxDatagrams: 2 } } } });
    for (const ident of [1, 2, 3]) p.send(fragmentFrames(message, [[0, 32]], { protocol: 1, ident })[0]);
    advance(ts, 10);
    assert.equal(p.stack.ipv4.reassembler.size, 2);
    assert.equal(stat(p.stack, 'reassembly', 'evicted'), 1);
    // Newest first: the second half of the evicted datagram 1 would otherwise evict another.
    for (const ident of [3, 2, 1]) p.send(fragmentFrames(message, [[32, 32]], { protocol: 1, ident })[0]);
    advance(ts, 10);
    assert.equal(p.icmp(IcmpType.ECHO_REPLY).length, 2, 'the two newest completed');
    assert.equal(p.stack.ipv4.reassembler.size, 1, 'the orphaned half of datagram 1');
    p.close();
  });
});
