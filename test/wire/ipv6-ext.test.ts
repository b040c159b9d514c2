import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ipv6Addr } from '../../src/ipv6/address.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { emitIpv6Header, Ipv6NextHeader } from '../../src/wire/ipv6.js';
import { Icmpv6ParamProblemCode, walkIpv6Chain } from '../../src/wire/ipv6-ext.js';

const { HOP_BY_HOP: HBH, ROUTING, FRAGMENT, DESTINATION_OPTIONS: DST_OPTS, ICMPV6, NO_NEXT_HEADER } = Ipv6NextHeader;
const TCP = 6;
const UDP = 17;
const SRC = ipv6Addr('fd00::1');
const UNICAST = ipv6Addr('fd00::2');
const MULTICAST = ipv6Addr('ff02::1');

/** An IPv6 packet: the fixed header, then `rest` (extension headers and upper layer) as given. */
function packet(nextHeader: number, rest: number[], dst = UNICAST): Uint8Array {
  const pb = PacketBuffer.withPayload(Uint8Array.from(rest));
  emitIpv6Header({ src: SRC, dst, nextHeader, hopLimit: 64 }, pb);
  return pb.bytes();
}

/** An options header (hop-by-hop or destination) holding `options`, padded to 8 bytes with PadN/Pad1. */
function optionsHeader(next: number, options: number[]): number[] {
  const body = [next, 0, ...options];
  const pad = (8 - (body.length % 8)) % 8;
  if (pad === 1) body.push(0);
  else if (pad > 1) body.push(1, pad - 2, ...new Array(pad - 2).fill(0));
  body[1] = body.length / 8 - 1;
  return body;
}

const UDP_HEADER = [0x30, 0x39, 0x00, 0x07, 0x00, 0x08, 0x00, 0x00]; // 12345 -> 7, length 8
const ICMP_ECHO = [0x80, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]; // echo request, id 1, seq 1
const ROUTER_ALERT_MLD = [0x05, 0x02, 0x00, 0x00]; // router alert, length 2, value 0 (MLD)

describe('wire/ipv6-ext', () => {
  it('returns the upper layer right after the fixed header when there are no extension headers', () => {
    assert.deepEqual(walkIpv6Chain(packet(TCP, new Array(20).fill(0))), {
      kind: 'upper', protocol: TCP, offset: 40, nextHeaderAt: 6, routerAlert: undefined, atomicFragment: false, headers: 0,
    });
  });

  it('walks hop-by-hop (router alert, PadN) to ICMPv6, as MLD reports are sent', () => {
    // 3a 00 | 05 02 00 00 | 01 00: next ICMPv6, length 0 (8 bytes), router alert MLD, PadN of 2
    const hbh = optionsHeader(ICMPV6, ROUTER_ALERT_MLD);
    assert.deepEqual(hbh, [0x3a, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00]);
    const r = walkIpv6Chain(packet(HBH, [...hbh, ...ICMP_ECHO], MULTICAST));
    assert.deepEqual(r, { kind: 'upper', protocol: ICMPV6, offset: 48, nextHeaderAt: 40, routerAlert: 0, atomicFragment: false, headers: 1 });
  });

  it('walks destination options and a routing header with no segments left', () => {
    // Routing: next UDP, length 2 (24 bytes), type 4, segments left 0, 20 more bytes.
    const routing = [UDP, 2, 4, 0, ...new Array(20).fill(0)];
    const r = walkIpv6Chain(packet(DST_OPTS, [...optionsHeader(ROUTING, []), ...routing, ...UDP_HEADER]));
    assert.equal(r.kind, 'upper');
    if (r.kind === 'upper') {
      assert.equal(r.protocol, UDP);
      assert.equal(r.offset, 40 + 8 + 24);
      assert.equal(r.nextHeaderAt, 48);
      assert.equal(r.headers, 2);
    }
  });

  it('answers a routing header with segments left with code 0 at the routing type', () => {
    const routing = [UDP, 0, 0, 1, 0, 0, 0, 0];
    assert.deepEqual(walkIpv6Chain(packet(ROUTING, [...routing, ...UDP_HEADER])),
      { kind: 'drop', reason: 'unknownRoutingType', icmp: { code: 0, pointer: 42 } });
  });

  it('refuses hop-by-hop anywhere but first, pointing at the Next Header that named it', () => {
    const r = walkIpv6Chain(packet(DST_OPTS, [...optionsHeader(HBH, []), ...optionsHeader(UDP, []), ...UDP_HEADER]));
    assert.deepEqual(r, { kind: 'drop', reason: 'hopByHopNotFirst', icmp: { code: Icmpv6ParamProblemCode.UNRECOGNIZED_NEXT_HEADER, pointer: 40 } });
  });

  describe('unknown options by their two high-order bits (RFC 8200 4.2)', () => {
    const withOption = (type: number, dst: Uint8Array): ReturnType<typeof walkIpv6Chain> =>
      walkIpv6Chain(packet(DST_OPTS, [...optionsHeader(UDP, [type, 2, 0xaa, 0xbb]), ...UDP_HEADER], dst));

    it('00: skips the option', () => {
      assert.equal(withOption(0x1e, UNICAST).kind, 'upper');
    });
    it('01: discards silently', () => {
      assert.deepEqual(withOption(0x5e, UNICAST), { kind: 'drop', reason: 'unknownOption', icmp: undefined });
    });
    it('10: discards and answers code 2 at the option type, even to multicast', () => {
      const expected = { kind: 'drop', reason: 'unknownOption', icmp: { code: 2, pointer: 42 } };
      assert.deepEqual(withOption(0x9e, UNICAST), expected);
      assert.deepEqual(withOption(0x9e, MULTICAST), expected);
    });
    it('11: discards, and answers code 2 only when the destination is not multicast', () => {
      assert.deepEqual(withOption(0xde, UNICAST), { kind: 'drop', reason: 'unknownOption', icmp: { code: 2, pointer: 42 } });
      assert.deepEqual(withOption(0xde, MULTICAST), { kind: 'drop', reason: 'unknownOption', icmp: undefined });
    });
  });

  it('drops runs of padding over 7 bytes and too many options', () => {
    // PadN of 8 data bytes (10 in all) in a 16-byte header.
    const pad = [UDP, 1, 0x01, 0x08, ...new Array(8).fill(0), 0x01, 0x02, 0, 0];
    assert.deepEqual(walkIpv6Chain(packet(DST_OPTS, [...pad, ...UDP_HEADER])), { kind: 'drop', reason: 'excessPadding', icmp: undefined });
    const many = optionsHeader(UDP, new Array(9).fill([0x1e, 0x00]).flat());
    const r = walkIpv6Chain(packet(DST_OPTS, [...many, ...UDP_HEADER]));
    assert.deepEqual(r, { kind: 'drop', reason: 'tooManyOptions', icmp: { code: Icmpv6ParamProblemCode.TOO_MANY_OPTIONS, pointer: 42 + 16 } });
  });

  it('drops an option running past its header', () => {
    const bad = [UDP, 0, 0x1e, 0x07, 0, 0, 0, 0];
    assert.deepEqual(walkIpv6Chain(packet(DST_OPTS, [...bad, ...UDP_HEADER])), { kind: 'drop', reason: 'truncated', icmp: undefined });
  });

  describe('fragment headers', () => {
    /** A fragment header: next header, reserved, offset (bytes, a multiple of 8) | M, identification. */
    const frag = (next: number, offset: number, more: boolean, ident = 0x01020304): number[] => [
      next, 0, offset >>> 8, (offset & 0xf8) | (more ? 1 : 0),
      ident >>> 24, (ident >>> 16) & 0xff, (ident >>> 8) & 0xff, ident & 0xff,
    ];

    it('processes an atomic fragment in isolation (RFC 6946)', () => {
      const r = walkIpv6Chain(packet(FRAGMENT, [...frag(UDP, 0, false), ...UDP_HEADER]));
      assert.deepEqual(r, { kind: 'upper', protocol: UDP, offset: 48, nextHeaderAt: 40, routerAlert: undefined, atomicFragment: true, headers: 1 });
    });

    it('hands a first fragment with its whole chain to reassembly', () => {
      const r = walkIpv6Chain(packet(FRAGMENT, [...frag(UDP, 0, true), ...UDP_HEADER, ...new Array(8).fill(7)]));
      assert.deepEqual(r, {
        kind: 'fragment', routerAlert: undefined, headers: 1,
        fragment: { headerAt: 40, nextHeaderAt: 6, nextHeader: UDP, offset: 0, more: true, ident: 0x01020304, dataAt: 48 },
      });
    });

    it('checks only the shape of the chain inside a first fragment: its options wait for reassembly', () => {
      // Destination options with an option whose action is "discard": not acted on here.
      const r = walkIpv6Chain(packet(FRAGMENT, [...frag(DST_OPTS, 0, true), ...optionsHeader(UDP, [0x5e, 0]), ...UDP_HEADER]));
      assert.equal(r.kind, 'fragment');
      if (r.kind === 'fragment') assert.equal(r.headers, 2);
    });

    it('hands a later fragment to reassembly without looking inside', () => {
      const r = walkIpv6Chain(packet(FRAGMENT, [...frag(UDP, 1232, false, 0xfffffffe), 1, 2, 3]));
      assert.equal(r.kind, 'fragment');
      if (r.kind === 'fragment') assert.deepEqual(r.fragment, { headerAt: 40, nextHeaderAt: 6, nextHeader: UDP, offset: 1232, more: false, ident: 0xfffffffe, dataAt: 48 });
    });

    it('refuses a first fragment whose chain does not reach the upper layer (RFC 7112)', () => {
      // The fragment ends inside a destination options header...
      const r1 = walkIpv6Chain(packet(FRAGMENT, [...frag(DST_OPTS, 0, true), UDP, 1, 0, 0, 0, 0, 0, 0]));
      const expected = { kind: 'drop', reason: 'incompleteChain', icmp: { code: Icmpv6ParamProblemCode.INCOMPLETE_HEADER_CHAIN, pointer: 0 } };
      assert.deepEqual(r1, expected);
      // ...or inside the TCP header.
      assert.deepEqual(walkIpv6Chain(packet(FRAGMENT, [...frag(TCP, 0, true), ...new Array(16).fill(0)])), expected);
    });

    it('refuses a non-last fragment whose data is not a multiple of 8, pointing at the payload length', () => {
      assert.deepEqual(walkIpv6Chain(packet(FRAGMENT, [...frag(UDP, 8, true), 1, 2, 3])),
        { kind: 'drop', reason: 'badFragmentLength', icmp: { code: 0, pointer: 4 } });
    });

    it('refuses a fragment ending past 65,535 bytes, pointing at its offset', () => {
      assert.deepEqual(walkIpv6Chain(packet(FRAGMENT, [...frag(UDP, 65528, false), ...new Array(8).fill(0)])),
        { kind: 'drop', reason: 'fragmentTooLong', icmp: { code: 0, pointer: 42 } });
    });

    it('refuses a second fragment header in a first fragment', () => {
      assert.deepEqual(walkIpv6Chain(packet(FRAGMENT, [...frag(FRAGMENT, 0, true), ...frag(UDP, 0, true), ...UDP_HEADER])),
        { kind: 'drop', reason: 'nestedFragment', icmp: undefined });
    });
  });

  it('bounds the chain: header count and bytes', () => {
    const nine: number[] = [];
    for (let i = 0; i < 9; i++) nine.push(...optionsHeader(i === 8 ? UDP : DST_OPTS, []));
    assert.deepEqual(walkIpv6Chain(packet(DST_OPTS, [...nine, ...UDP_HEADER])),
      { kind: 'drop', reason: 'tooManyHeaders', icmp: { code: Icmpv6ParamProblemCode.TOO_MANY_EXTENSION_HEADERS, pointer: 40 + 64 } });
    const big = [UDP, 9, 0x1e, 78, ...new Array(78).fill(0)]; // 80 bytes
    assert.deepEqual(walkIpv6Chain(packet(DST_OPTS, [...big, ...UDP_HEADER]), { maxHeaders: 8, maxChainBytes: 64, maxOptions: 8 }),
      { kind: 'drop', reason: 'chainTooLong', icmp: { code: Icmpv6ParamProblemCode.EXTENSION_HEADER_CHAIN_TOO_LONG, pointer: 40 } });
  });

  it('reports No Next Header as the upper layer and a chain past the packet as truncated', () => {
    const r = walkIpv6Chain(packet(DST_OPTS, optionsHeader(NO_NEXT_HEADER, [])));
    assert.equal(r.kind === 'upper' && r.protocol, NO_NEXT_HEADER);
    assert.deepEqual(walkIpv6Chain(packet(DST_OPTS, [UDP, 1, 0, 0, 0, 0, 0, 0])), { kind: 'drop', reason: 'truncated', icmp: undefined });
  });

  it('never throws on random chains, and upper offsets stay inside the packet (property)', () => {
    const next = fc.constantFrom(HBH, ROUTING, FRAGMENT, DST_OPTS, UDP, TCP, ICMPV6, 59, 99);
    fc.assert(fc.property(next, fc.uint8Array({ maxLength: 200 }), fc.boolean(), (nh, rest, mc) => {
      const p = packet(nh, [...rest], mc ? MULTICAST : UNICAST);
      const r = walkIpv6Chain(p);
      if (r.kind === 'upper') assert.ok(r.offset <= p.length && r.nextHeaderAt < r.offset);
      if (r.kind === 'fragment') assert.ok(r.fragment.dataAt <= p.length);
      if (r.kind === 'drop' && r.icmp) assert.ok(r.icmp.pointer < p.length);
    }), { numRuns: 2000 });
  });
});
