// Checks shared by the tests of the fused way out (udp-fused-out*.test.ts, tcp-fused-out.test.ts): the packet counted
// where the long way enters IPv4, and the bytes compared and checksummed wherever the IPv4
// header starts (14 behind Ethernet, 0 on a link of bare IP packets).
import assert from 'node:assert/strict';
import type { Stack } from '../../../streams/stack/create-stack.js';
import type { Sink } from '../../../streams/pipeline/boundary.js';
import type { Ipv4Send } from '../../../streams/stack/ipv4-layer.js';
import { onesSum, pseudoHeaderSum } from '../../../src/wire/checksum.js';
import { IpProtocol } from '../../../src/wire/ipv4.js';

/**
 * Counts the packets `protocol` (UDP by default) hands down through IPv4's transport boundary
 * (the long way's entry). IPv4 gives every protocol the same `down` sink today, so this counts
 * what any transport sends the long way; naming the protocol keeps the test right if that changes.
 */
export function countLongWay(stack: Stack, protocol: number = IpProtocol.UDP): { count: number } {
  const seen = { count: 0 };
  const down = stack.ipv4.protocol(protocol).down as Sink<Ipv4Send> & { next(s: Ipv4Send): void };
  const next = down.next.bind(down);
  down.next = (s: Ipv4Send) => {
    seen.count++;
    next(s);
  };
  return seen;
}

/** The bytes with the IPv4 ID and header checksum zeroed (the ID differs from datagram to datagram). */
export function withoutIpv4Id(bytes: Uint8Array, ipAt: number): number[] {
  const copy = [...bytes];
  copy[ipAt + 4] = copy[ipAt + 5] = copy[ipAt + 10] = copy[ipAt + 11] = 0;
  return copy;
}

/** Checks the IPv4 header checksum and the UDP checksum of an IPv4 + UDP datagram at `ipAt` (no options). */
export function assertUdpChecksumsOk(bytes: Uint8Array, ipAt: number, src: number, dst: number): void {
  assert.equal(onesSum(bytes, ipAt, 20, 0), 0xffff, 'IPv4 header checksum');
  const len = bytes.length - ipAt - 20;
  assert.equal(onesSum(bytes, ipAt + 20, len, pseudoHeaderSum(src, dst, IpProtocol.UDP, len)), 0xffff, 'UDP checksum');
}
