/**
 * Receive checksum offload, without root: a fake link vouches (Link.checksumVerified) for the
 * transport checksum of some of the frames it delivers, as the TAP link does for the kernel's own
 * packets, whose TCP/UDP checksum is often only partial (the pseudo-header sum, the device never
 * finished it). The stack must accept those without verifying, verify everything else as usual,
 * and never extend the trust to the IPv4 header or to a frame an operator replaced by a copy.
 */
import assert from 'node:assert/strict';
import { Subject, map, type Observable } from 'rxjs';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import type { Link } from '../../../streams/links/link.js';
import { tcpFrame, udpFrame } from '../../../streams/testing/frames.js';
import { parseIpv4 } from '../../../src/ipv4/address.js';
import { pseudoHeaderSum } from '../../../src/wire/checksum.js';
import { IpProtocol } from '../../../src/wire/ipv4.js';
import { stat } from './raw-peer.js';

const PEER = '198.18.0.1';
const STACK = '198.18.0.2';
const ETH = { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' };
const IP = { src: PEER, dst: STACK };
/** Offsets in a frame with a 20-byte IPv4 header: the UDP and TCP checksum fields. */
const UDP_CSUM = 14 + 20 + 6;
const TCP_CSUM = 14 + 20 + 16;

/** A link that delivers what the test pushes and vouches for the frames the test says. */
function trustingLink(): Link & { deliver(frame: Uint8Array, vouched: boolean): void; sent: Uint8Array[]; asked: number } {
  const inbound = new Subject<Uint8Array>();
  const vouched = new WeakSet<Uint8Array>();
  const link = {
    name: 'offload0',
    mtu: 1500,
    sent: [] as Uint8Array[],
    asked: 0,
    frames$: inbound.asObservable() as Observable<Uint8Array>,
    send: (frame: Uint8Array) => void link.sent.push(frame.slice()),
    checksumVerified(frame: Uint8Array): boolean {
      link.asked++;
      return vouched.has(frame);
    },
    deliver(frame: Uint8Array, vouch: boolean): void {
      if (vouch) vouched.add(frame);
      inbound.next(frame);
    },
    close: () => inbound.complete(),
  };
  return link;
}

/** Replaces the transport checksum with the partial one a kernel leaves: the pseudo-header sum. */
function partialChecksum(frame: Uint8Array, protocol: number, at: number): Uint8Array {
  const f = frame.slice();
  const length = f.length - 34;
  const sum = pseudoHeaderSum(parseIpv4(PEER)!, parseIpv4(STACK)!, protocol, length) % 0xffff || 0xffff;
  f[at] = sum >>> 8;
  f[at + 1] = sum & 0xff;
  return f;
}

function stackOn(link: Link, hooks = {}): Stack {
  const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: [`${STACK}/24`], mac: ETH.dst }] }, { hooks });
  stack.arp.addStatic(PEER, ETH.src);
  return stack;
}

const udp = (text: string) =>
  partialChecksum(udpFrame({ eth: ETH, ip: IP, udp: { srcPort: 5000, dstPort: 7000 }, payload: text }), IpProtocol.UDP, UDP_CSUM);

const syn = (srcPort: number) =>
  partialChecksum(tcpFrame({ eth: ETH, ip: IP, tcp: { srcPort, dstPort: 80, seq: 1000, flags: 'SYN', mss: 1460 } }), IpProtocol.TCP, TCP_CSUM);

const synAcks = (link: { sent: Uint8Array[] }) => link.sent.filter((f) => f[23] === IpProtocol.TCP && (f[47] & 0x12) === 0x12);

describe('stack: receive checksum offload (a link that vouches for checksums)', () => {
  it('UDP: a vouched datagram with a partial checksum is delivered; the same bytes unvouched are dropped as badChecksum', () => {
    const link = trustingLink();
    const stack = stackOn(link);
    try {
      const socket = stack.udp.bind({ port: 7000 });
      const got: string[] = [];
      socket.datagrams$.subscribe((d) => got.push(new TextDecoder().decode(d.payload)));
      link.deliver(udp('trusted'), true);
      link.deliver(udp('not trusted'), false);
      assert.deepEqual(got, ['trusted']);
      assert.equal(stat(stack, 'udp', 'drops', 'badChecksum'), 1);
      assert.equal(link.asked, 2, 'the link was asked about each frame');
    } finally {
      stack.close();
    }
  });

  it('TCP: a vouched SYN with a partial checksum is answered; unvouched it is dropped as badChecksum', () => {
    const link = trustingLink();
    const stack = stackOn(link);
    const listener = stack.tcp.listen({ port: 80 }).subscribe();
    try {
      link.deliver(syn(40001), false);
      assert.equal(synAcks(link).length, 0);
      assert.equal(stat(stack, 'tcp', 'drops', 'badChecksum'), 1);
      link.deliver(syn(40002), true);
      const answers = synAcks(link);
      assert.equal(answers.length, 1);
      assert.equal((answers[0][36] << 8) | answers[0][37], 40002, 'the SYN-ACK goes to the vouched SYN');
      assert.equal(stat(stack, 'tcp', 'drops', 'badChecksum'), 1);
    } finally {
      listener.unsubscribe();
      stack.close();
    }
  });

  it('the trust covers the transport checksum only: a bad IPv4 header checksum is dropped even when vouched', () => {
    const link = trustingLink();
    const stack = stackOn(link);
    try {
      const socket = stack.udp.bind({ port: 7000 });
      const got: unknown[] = [];
      socket.datagrams$.subscribe((d) => got.push(d));
      const frame = udp('bad header');
      frame[24] ^= 0x5a; // the IPv4 header checksum
      link.deliver(frame, true);
      assert.deepEqual(got, []);
      assert.equal(stat(stack, 'ipv4', 'drops', 'badChecksum'), 1);
    } finally {
      stack.close();
    }
  });

  it('a frame replaced by a copy on its way up (a link hook) is verified as usual: the trust does not follow the bytes', () => {
    const link = trustingLink();
    const stack = stackOn(link, { link: { up: map((f: Uint8Array) => f.slice()) } });
    try {
      const socket = stack.udp.bind({ port: 7000 });
      const got: unknown[] = [];
      socket.datagrams$.subscribe((d) => got.push(d));
      link.deliver(udp('copied'), true);
      assert.deepEqual(got, []);
      assert.equal(stat(stack, 'udp', 'drops', 'badChecksum'), 1);
    } finally {
      stack.close();
    }
  });
});
