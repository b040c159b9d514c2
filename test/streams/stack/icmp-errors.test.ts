/**
 * ICMP errors at the wire: what the stack generates (protocol unreachable, with RFC 1122's
 * "never in answer to" rules and the rate limit), what it does with the errors it receives
 * (hands them to the transport named by the quote), and what it never answers.
 */
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { IcmpType } from '../../../src/wire/icmp.js';
import { parseIpv4 } from '../../../src/wire/ipv4.js';
import type { IcmpErrorReport } from '../../../streams/stack/icmp-layer.js';
import {
  rawPeer, advance, ip, ipv4Frame, ipv4Packet, icmpMessage, fragmentFrames, stat,
  STACK_IP, PEER_IP, type RawPeer,
} from './raw-peer.js';

function setup(opts: Parameters<typeof rawPeer>[0] = {}): { ts: TestScheduler; p: RawPeer } {
  const ts = new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
  const p = rawPeer({ scheduler: ts, ...opts });
  advance(ts, 0);
  return { ts, p };
}

/** A datagram of protocol 254 (nobody speaks it) from the peer, `size` payload bytes. */
const unknownProtocol = (size = 8, repr: Parameters<typeof ipv4Packet>[0] = { protocol: 254 }) =>
  ipv4Frame(ipv4Packet(repr, new Uint8Array(size).map((_, i) => i)));

/** An ICMP error from the peer quoting a datagram we sent (protocol 253, "ports" 1000 -> 2000). */
function errorFrame(type: 'dest-unreachable' | 'time-exceeded', code: number, opts: { nextHopMtu?: number; quoteLength?: number } = {}): Uint8Array {
  const transport = new Uint8Array(8);
  transport.set([0x03, 0xe8, 0x07, 0xd0, 0x89, 0xab, 0xcd, 0xef]); // 1000, 2000, then a TCP sequence number 0x89abcdef
  const quote = ipv4Packet({ protocol: 253, src: ip(STACK_IP), dst: ip(PEER_IP) }, transport).subarray(0, opts.quoteLength ?? 28);
  const repr = type === 'dest-unreachable'
    ? { kind: type, code, nextHopMtu: opts.nextHopMtu ?? 0, quoted: quote }
    : { kind: type, code, quoted: quote };
  return ipv4Frame(ipv4Packet({ protocol: 1 }, icmpMessage(repr, quote)));
}

describe('stack: ICMP errors at the wire', () => {
  it('answers a datagram of an unknown protocol with protocol unreachable quoting it', () => {
    const { ts, p } = setup();
    const frame = unknownProtocol(100);
    p.send(frame);
    advance(ts, 1);
    const u = p.icmp(IcmpType.DEST_UNREACHABLE);
    assert.equal(u.length, 1);
    assert.equal(u[0].ipv4?.src, ip(STACK_IP));
    assert.equal(u[0].ipv4?.dst, ip(PEER_IP));
    const icmp = u[0].icmp;
    assert.ok(icmp?.kind === 'dest-unreachable');
    assert.equal(icmp.code, 2);
    assert.deepEqual(icmp.quoted, frame.subarray(14), 'a short datagram is quoted whole');
    p.close();
  });

  it('an error never exceeds 576 bytes: a large datagram is quoted in part', () => {
    const { ts, p } = setup();
    const frame = unknownProtocol(1400);
    p.send(frame);
    advance(ts, 1);
    const u = p.icmp(IcmpType.DEST_UNREACHABLE);
    assert.equal(u.length, 1);
    assert.equal(u[0].ipv4?.payload.length, 576 - 20);
    assert.ok(u[0].icmp?.kind === 'dest-unreachable');
    assert.deepEqual(u[0].icmp.quoted, frame.subarray(14, 14 + 576 - 28));
    p.close();
  });

  it('a reassembled datagram is quoted from its first fragment', () => {
    const { ts, p } = setup();
    const payload = new Uint8Array(64).map((_, i) => i);
    for (const f of fragmentFrames(payload, [[32, 32], [0, 32]], { protocol: 254 })) p.send(f);
    advance(ts, 1);
    const u = p.icmp(IcmpType.DEST_UNREACHABLE);
    assert.equal(u.length, 1);
    assert.ok(u[0].icmp?.kind === 'dest-unreachable');
    const quotedHeader = parseIpv4(u[0].icmp.quoted, { verifyChecksum: false });
    assert.ok(quotedHeader.ok);
    assert.equal(quotedHeader.value.fragmentOffset, 0);
    assert.deepEqual(u[0].icmp.quoted.subarray(20, 28), payload.subarray(0, 8));
    p.close();
  });

  it('no error for a datagram from 0.0.0.0', () => {
    const { ts, p } = setup();
    p.send(unknownProtocol(8, { protocol: 254, src: 0 }));
    advance(ts, 100);
    assert.equal(p.icmp(IcmpType.DEST_UNREACHABLE).length, 0);
    assert.equal(stat(p.stack, 'icmp', 'errorsSuppressed'), 1);
    p.close();
  });

  it('rate-limits errors with a token bucket (burst, then the refill rate)', () => {
    const { ts, p } = setup({ config: { icmp: { errorBurst: 2, errorRatePerSecond: 1 } } });
    for (let i = 0; i < 5; i++) p.send(unknownProtocol());
    advance(ts, 10);
    assert.equal(p.icmp(IcmpType.DEST_UNREACHABLE).length, 2);
    assert.equal(stat(p.stack, 'icmp', 'errorsRateLimited'), 3);
    advance(ts, 1000);
    for (let i = 0; i < 3; i++) p.send(unknownProtocol());
    advance(ts, 10);
    assert.equal(p.icmp(IcmpType.DEST_UNREACHABLE).length, 3, 'one token came back in one second');
    assert.equal(stat(p.stack, 'icmp', 'errorsRateLimited'), 5);
    p.close();
  });

  it('hands a received error to the transport named by the quote, and never answers it', () => {
    const { ts, p } = setup();
    const reports: IcmpErrorReport[] = [];
    p.stack.icmpLayer.errors$(253).subscribe((r) => reports.push(r));
    p.send(errorFrame('dest-unreachable', 4, { nextHopMtu: 1280 }));
    p.send(errorFrame('time-exceeded', 0));
    advance(ts, 100);
    assert.deepEqual(reports, [
      { protocol: 253, type: 3, code: 4, from: ip(PEER_IP), localAddress: ip(STACK_IP), localPort: 1000, remoteAddress: ip(PEER_IP), remotePort: 2000, nextHopMtu: 1280, quotedSequence: 0x89abcdef },
      { protocol: 253, type: 11, code: 0, from: ip(PEER_IP), localAddress: ip(STACK_IP), localPort: 1000, remoteAddress: ip(PEER_IP), remotePort: 2000, nextHopMtu: 0, quotedSequence: 0x89abcdef },
    ]);
    assert.equal(stat(p.stack, 'icmp', 'rxErrors'), 2);
    assert.equal(p.seen.filter((s) => s.ipv4).length, 0, 'no ICMP (or anything) in answer');
    p.close();
  });

  it('drops errors nobody claims and errors with a short quote, answering neither', () => {
    const { ts, p } = setup();
    p.send(errorFrame('dest-unreachable', 3)); // protocol 253: no handler registered
    p.send(errorFrame('dest-unreachable', 3, { quoteLength: 24 })); // header + 4 bytes: too short
    advance(ts, 100);
    assert.equal(stat(p.stack, 'icmp', 'drops', 'noListener'), 1);
    assert.equal(stat(p.stack, 'icmp', 'drops', 'badQuote'), 1);
    assert.equal(p.seen.filter((s) => s.ipv4).length, 0);
    p.close();
  });

  it('does not answer ICMP types it does not implement (timestamp, info) and counts them', () => {
    const { ts, p } = setup();
    p.send(ipv4Frame(ipv4Packet({ protocol: 1 }, icmpMessage({ kind: 'other', type: IcmpType.TIMESTAMP, code: 0, rest: 0x00010001, data: new Uint8Array(12) }, new Uint8Array(12)))));
    p.send(ipv4Frame(ipv4Packet({ protocol: 1 }, icmpMessage({ kind: 'other', type: 15, code: 0, rest: 0, data: new Uint8Array(0) }))));
    advance(ts, 100);
    assert.equal(p.seen.filter((s) => s.ipv4).length, 0);
    assert.equal(stat(p.stack, 'icmp', 'drops', 'unknownType'), 2);
    p.close();
  });

  it('drops a truncated ICMP message', () => {
    const { ts, p } = setup();
    p.send(ipv4Frame(ipv4Packet({ protocol: 1 }, new Uint8Array([8, 0, 0xf7]))));
    advance(ts, 100);
    assert.equal(stat(p.stack, 'icmp', 'drops', 'truncated'), 1);
    assert.equal(p.seen.filter((s) => s.ipv4).length, 0);
    p.close();
  });
});
