import assert from 'node:assert/strict';
import { map, type Subscription } from 'rxjs';
import { createStack, type Stack, type StackHooks } from '../../../streams/stack/create-stack.js';
import { PacketSubject } from '../../../streams/pipeline/packet-subject.js';
import { subjectDeliveries } from '../../helpers/subject-deliveries.js';
import { useCloseAfterEach } from '../../helpers/close-after-each.js';
import { ipv4Frame, tcpFrame } from '../../../streams/testing/frames.js';
import { TcpFlags } from '../../../src/wire/tcp.js';

// On the plain stack a TCP segment goes from IPv4's checks straight to TCP's input (the direct
// way in, as UDP's and ICMP's: DirectIn in streams/pipeline/up-stream.ts). These tests pin what
// it must keep: the same answers and counters as the long way for good, odd and malformed
// segments, and every tap observer, observe$ subscriber and operator still seeing every item.

const OUR_MAC = '02:00:00:00:00:02';
const PEER_MAC = '02:00:00:00:00:01';
const OUR = '198.18.0.2';
const PEER = '198.18.0.1';
const eth = { src: PEER_MAC, dst: OUR_MAC };
const ip = { src: PEER, dst: OUR };

const syn = (dstPort: number, srcPort = 4000): Uint8Array => tcpFrame({ eth, ip, tcp: { srcPort, dstPort, seq: 1000, flags: 'SYN', mss: 1460 } });

/** Good, odd and malformed TCP frames, each answered (or dropped and counted) its own way. */
function mixedFrames(): Uint8Array[] {
  const good = syn(80);
  const badChecksum = good.slice();
  badChecksum[badChecksum.length - 1] ^= 0x01;
  const whole = good.slice(34);
  return [
    good,
    syn(80, 4001),
    syn(81), // no listener: RST
    tcpFrame({ eth, ip, tcp: { srcPort: 4002, dstPort: 80, seq: 5, ack: 77, flags: 'ACK' } }), // no connection: RST
    tcpFrame({ eth, ip: { ...ip, options: new Uint8Array([1, 1, 1, 0]) }, tcp: { srcPort: 4003, dstPort: 80, seq: 1, flags: 'SYN' } }),
    badChecksum,
    ipv4Frame({ eth, ip, protocol: 6, payload: new Uint8Array([0, 1, 0, 80, 0, 0]) }), // shorter than a TCP header
    ipv4Frame({ eth, ip: { ...ip, ident: 9, moreFragments: true }, protocol: 6, payload: whole.subarray(0, 16) }),
    ipv4Frame({ eth, ip: { ...ip, ident: 9, fragmentOffset: 16 }, protocol: 6, payload: whole.subarray(16) }),
    tcpFrame({ eth, ip: { src: PEER, dst: '198.18.0.255' }, tcp: { srcPort: 4004, dstPort: 80, seq: 1, flags: 'SYN' } }), // broadcast: dropped
  ];
}

interface Run {
  readonly stack: Stack;
  readonly frames: PacketSubject<Uint8Array>;
  /** The TCP flags of every segment the stack sent, with its ports. */
  readonly answers: string[];
}

/** A stack on a link fed by hand, the peer a static neighbour, a listener on port 80. */
function stackWith(hooks?: StackHooks): Run {
  const frames = new PacketSubject<Uint8Array>();
  const answers: string[] = [];
  const send = (frame: Uint8Array): void => {
    if (frame[23] !== 6) return;
    const t = frame.subarray(34);
    const f = t[13];
    answers.push(`${(t[0] << 8) | t[1]}>${(t[2] << 8) | t[3]} ${f & TcpFlags.SYN ? 'S' : ''}${f & TcpFlags.RST ? 'R' : ''}${f & TcpFlags.ACK ? 'A' : ''}`);
  };
  const link = { name: 'in0', mtu: 1500, mac: new Uint8Array([2, 0, 0, 0, 0, 2]), frames$: frames.asObservable(), send, close(): void {} };
  const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: [`${OUR}/24`] }] }, { hooks });
  stack.arp.addStatic(PEER, PEER_MAC);
  stack.tcp.listen({ port: 80 }).subscribe();
  return { stack, frames, answers };
}

/** Feeds the frames; what the stack answered and its layers' counters. */
function feed(run: Run, frames: Uint8Array[]): { answers: string[]; stats: unknown } {
  for (const f of frames) run.frames.next(f);
  const s = run.stack.stats() as unknown as Record<string, unknown>;
  return { answers: run.answers, stats: JSON.parse(JSON.stringify({ ipv4: s.ipv4, tcp: s.tcp, tcpListeners: s.tcpListeners })) };
}

describe('stack: the direct way in for TCP over IPv4 (segments past IPv4’s Subject while nothing observes them)', () => {
  const closeAfterTest = useCloseAfterEach<Stack>();
  const make = (hooks?: StackHooks): Run => {
    const run = stackWith(hooks);
    closeAfterTest(run.stack);
    return run;
  };

  it('takes a segment from the link to TCP without IPv4’s Subject on the plain stack, and the long way while observed', () => {
    const run = make();
    assert.equal(subjectDeliveries(() => run.frames.next(syn(80, 5000))), 1, 'only the link’s Subject: the direct way');
    const sub = run.stack.taps.transport.up$.subscribe(() => {});
    assert.equal(subjectDeliveries(() => run.frames.next(syn(80, 5001))), 2, 'observed: through IPv4’s Subject');
    sub.unsubscribe();
    assert.equal(subjectDeliveries(() => run.frames.next(syn(80, 5002))), 1, 'unobserved again: the direct way');
    assert.deepEqual(run.answers, ['80>5000 SA', '80>5001 SA', '80>5002 SA']);
  });

  it('gives the same answers and counters as the long way for good, odd and malformed segments', () => {
    const direct = feed(make(), mixedFrames());
    const observedRun = make();
    let seen = 0;
    const subs: Subscription[] = [observedRun.stack.taps.transport.up$.subscribe(() => seen++)];
    const long = feed(observedRun, mixedFrames());
    for (const s of subs) s.unsubscribe();
    assert.deepEqual(direct.answers, ['80>4000 SA', '80>4001 SA', '81>4000 RA', '80>4002 R', '80>4003 SA', '80>4000 SA']);
    assert.deepEqual(long.answers, direct.answers);
    assert.deepEqual(long.stats, direct.stats);
    // Every datagram IPv4 delivers: the reassembled SYN once, the short one and the broadcast
    // too (TCP drops those).
    assert.equal(seen, 9);
    const s = direct.stats as { tcp: { drops: Record<string, number> } };
    assert.equal(s.tcp.drops.badChecksum, 1);
  });

  it('shows every segment to observe$ subscribers and to a transport operator, with the same answers and counters', () => {
    const direct = feed(make(), mixedFrames());
    const observing = make();
    let ipv4Seen = 0;
    const sub = observing.stack.ipv4.observe$(6).subscribe(() => ipv4Seen++);
    const observed = feed(observing, mixedFrames());
    sub.unsubscribe();
    assert.equal(ipv4Seen, 9);
    assert.deepEqual(observed.answers, direct.answers);
    assert.deepEqual(observed.stats, direct.stats);
    let transportOp = 0;
    const hooked = feed(make({ transport: { up: map((d) => (transportOp++, d)) } }), mixedFrames());
    assert.equal(transportOp, 9);
    assert.deepEqual(hooked.answers, direct.answers);
    assert.deepEqual(hooked.stats, direct.stats);
  });
});
