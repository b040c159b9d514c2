import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ipv6Addr } from '../../src/ipv6/address.js';
import { Ipv6Reassembler } from '../../src/ipv6/reassembly.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { emitIpv6Header, Ipv6NextHeader } from '../../src/wire/ipv6.js';
import { walkIpv6Chain } from '../../src/wire/ipv6-ext.js';

const SRC = ipv6Addr('fd00::1');
const DST = ipv6Addr('fd00::2');
const UDP = 17;
const HBH = [Ipv6NextHeader.FRAGMENT, 0, 1, 4, 0, 0, 0, 0]; // hop-by-hop, next: fragment, PadN 4

/** The original packet: fixed header, hop-by-hop (unfragmentable), then UDP + data (fragmentable). */
function original(data: Uint8Array, src = SRC): Uint8Array {
  const udp = Uint8Array.from([0x30, 0x39, 0x00, 0x07, (8 + data.length) >>> 8, (8 + data.length) & 0xff, 0, 0, ...data]);
  const pb = PacketBuffer.withPayload(Uint8Array.from([...HBH, ...udp]));
  emitIpv6Header({ src, dst: DST, nextHeader: Ipv6NextHeader.HOP_BY_HOP, hopLimit: 64 }, pb);
  const p = pb.bytes().slice();
  p[40] = UDP; // as sent unfragmented, hop-by-hop names UDP
  return p;
}

/**
 * One fragment of `orig`: its first 48 bytes (fixed + hop-by-hop naming the fragment header),
 * a fragment header, and the fragmentable bytes [start, end).
 */
function fragment(orig: Uint8Array, start: number, end: number, more: boolean, ident: number, next = UDP): Uint8Array {
  const body = orig.subarray(48 + start, 48 + end);
  const out = new Uint8Array(48 + 8 + body.length);
  out.set(orig.subarray(0, 48));
  out[40] = Ipv6NextHeader.FRAGMENT;
  out.set([next, 0, start >>> 8, (start & 0xf8) | (more ? 1 : 0), ident >>> 24, (ident >>> 16) & 0xff, (ident >>> 8) & 0xff, ident & 0xff], 48);
  out.set(body, 56);
  const pl = out.length - 40;
  out[4] = pl >>> 8;
  out[5] = pl & 0xff;
  return out;
}

/** Splits the fragmentable part of `orig` into pieces of `size` bytes (a multiple of 8). */
function fragments(orig: Uint8Array, size: number, ident: number): Uint8Array[] {
  const total = orig.length - 48;
  const out: Uint8Array[] = [];
  for (let s = 0; s < total; s += size) out.push(fragment(orig, s, Math.min(s + size, total), s + size < total, ident));
  return out;
}

function feed(r: Ipv6Reassembler, pkt: Uint8Array, now = 0): ReturnType<Ipv6Reassembler['add']> {
  const w = walkIpv6Chain(pkt);
  assert.equal(w.kind, 'fragment');
  if (w.kind !== 'fragment') throw new Error('not a fragment');
  return r.add(pkt, w.fragment, now);
}

describe('ipv6/reassembly', () => {
  it('rebuilds the original packet, in order or not, and the rebuilt chain walks to UDP', () => {
    const orig = original(new Uint8Array(3000).map((_, i) => i));
    for (const order of [[0, 1, 2], [2, 0, 1], [1, 2, 0]]) {
      const r = new Ipv6Reassembler();
      const frags = fragments(orig, 1232, 7);
      assert.equal(frags.length, 3);
      const results = order.map((i) => feed(r, frags[i]));
      const last = results[2];
      assert.deepEqual(results.slice(0, 2).map((x) => x.kind), ['pending', 'pending']);
      assert.ok(last.kind === 'complete');
      assert.deepEqual(last.packet, orig);
      const w = walkIpv6Chain(last.packet);
      assert.ok(w.kind === 'upper' && w.protocol === UDP && w.offset === 48);
      assert.equal(r.size, 0);
    }
  });

  it('keys datagrams by source, destination and identification, not by the Next Header of later fragments', () => {
    const orig = original(new Uint8Array(100).fill(1));
    const r = new Ipv6Reassembler();
    assert.equal(feed(r, fragment(orig, 0, 56, true, 9)).kind, 'pending');
    assert.equal(feed(r, fragment(original(new Uint8Array(100).fill(1), ipv6Addr('fd00::3')), 56, 108, false, 9)).kind, 'pending'); // another source
    assert.equal(feed(r, fragment(orig, 56, 108, false, 8)).kind, 'pending'); // another ident
    const done = feed(r, fragment(orig, 56, 108, false, 9, 99)); // a different Next Header: only the first fragment's counts
    assert.ok(done.kind === 'complete');
    assert.deepEqual(done.packet, orig);
  });

  it('drops the whole datagram on an overlap (RFC 5722), and ignores exact duplicates', () => {
    const orig = original(new Uint8Array(200).fill(2));
    const r = new Ipv6Reassembler();
    assert.equal(feed(r, fragment(orig, 0, 64, true, 1)).kind, 'pending');
    assert.equal(feed(r, fragment(orig, 0, 64, true, 1)).kind, 'pending');
    assert.equal(r.counters.duplicate, 1);
    assert.deepEqual(feed(r, fragment(orig, 56, 120, true, 1)), { kind: 'dropped', reason: 'overlap', icmp: undefined });
    assert.equal(r.size, 0);
    // What arrives next starts a new datagram that cannot complete from the rest.
    assert.equal(feed(r, fragment(orig, 64, 208, false, 1)).kind, 'pending');
  });

  it('answers a datagram that would exceed 65,535 bytes with code 0 at its fragment offset', () => {
    const orig = original(new Uint8Array(200));
    const r = new Ipv6Reassembler();
    // Data ending at 65,528 fits the walk's check, but with 8 bytes of hop-by-hop the payload
    // length would be 65,536.
    const pkt = fragment(orig, 0, 8, false, 3);
    pkt[50] = 0xff; // offset 65,520
    pkt[51] = 0xf0;
    const w = walkIpv6Chain(pkt);
    assert.ok(w.kind === 'fragment');
    assert.deepEqual(r.add(pkt, w.fragment, 0), { kind: 'dropped', reason: 'tooBig', icmp: { code: 0, pointer: 50 } });
  });

  it('expires after 60 s, handing back the first fragment for Time Exceeded code 1', () => {
    const orig = original(new Uint8Array(100));
    const r = new Ipv6Reassembler();
    const first = fragment(orig, 0, 56, true, 5);
    feed(r, first, 1000);
    feed(r, fragment(orig, 64, 108, false, 6), 2000); // another datagram, no first fragment
    assert.equal(r.config.timeoutMs, 60_000);
    assert.equal(r.nextDeadline(), 61_000);
    assert.deepEqual(r.expire(60_999), []);
    const gone = r.expire(62_000);
    assert.equal(gone.length, 2);
    assert.deepEqual(gone[0].firstPacket, first);
    assert.equal(gone[0].ident, 5);
    assert.equal(gone[1].firstPacket, undefined);
    assert.equal(r.counters.timeout, 2);
  });

  it('reassembles any fragmentation in any order (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 200 }), fc.nat(), (len, units, seed) => {
      const orig = original(new Uint8Array(len).map((_, i) => (i * 7 + seed) & 0xff));
      const frags = fragments(orig, units * 8, seed >>> 0);
      fc.pre(frags.length > 1); // one piece is an atomic fragment, never reassembled
      // A deterministic shuffle from the seed.
      const order = frags.map((_, i) => i).sort((a, b) => ((a * 2654435761 + seed) >>> 0) % 97 - ((b * 2654435761 + seed) >>> 0) % 97);
      const r = new Ipv6Reassembler();
      const results = order.map((i) => feed(r, frags[i]));
      const last = results[results.length - 1];
      assert.ok(results.slice(0, -1).every((x) => x.kind === 'pending'));
      assert.ok(last.kind === 'complete');
      assert.deepEqual(last.packet, orig);
    }), { numRuns: 150 });
  });
});
