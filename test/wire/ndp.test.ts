import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatIpv6, ipv6Addr, solicitedNodeAddress, Ipv6Addresses } from '../../src/ipv6/address.js';
import { formatMac, parseMac } from '../../src/mac.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { parseIcmpv6 } from '../../src/wire/icmpv6.js';
import { NDP_HOP_LIMIT, emitNdp, ndpMessageLen, parseNdp, type NdpContext, type NdpRepr } from '../../src/wire/ndp.js';
import { referenceChecksum } from '../helpers/icmpv6-checksum.js';

const ROUTER_LL = ipv6Addr('fe80::1');
const HOST = ipv6Addr('fd00:198:18::2');
const PEER = ipv6Addr('fd00:198:18::1');
const MAC = parseMac('02:00:00:00:00:01')!;

// A neighbour solicitation from fd00:198:18::1 (02:00:00:00:00:01) for fd00:198:18::2, sent to
// the target's solicited-node group ff02::1:ff00:2.
const NS = new Uint8Array([
  0x87, 0x00, 0x00, 0x00, // type 135, code 0, checksum (filled below)
  0x00, 0x00, 0x00, 0x00, // reserved
  0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0x00, 0x00, // target fd00:198:18::2
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
  0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // option 1 (source link-layer address), length 1, the MAC
]);
const NS_DST = solicitedNodeAddress(HOST);
const sum = referenceChecksum(PEER, NS_DST, NS);
NS[2] = sum >>> 8;
NS[3] = sum & 0xff;
const NS_CTX: NdpContext = { src: PEER, dst: NS_DST, hopLimit: 255 };

// A router advertisement: hop limit 64, M clear, O set, lifetime 1800 s, reachable 30 s,
// retransmit 1 s, the router's MAC, MTU 1500, and prefix fd00:198:18::/64 for SLAAC.
const RA = new Uint8Array([
  0x86, 0x00, 0x00, 0x00, // type 134, code 0, checksum (not checked here)
  0x40, 0x40, 0x07, 0x08, // cur hop limit 64, flags O, router lifetime 1800
  0x00, 0x00, 0x75, 0x30, // reachable time 30000 ms
  0x00, 0x00, 0x03, 0xe8, // retrans timer 1000 ms
  0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source link-layer address
  0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0xdc, // MTU 1500
  0x03, 0x04, 0x40, 0xc0, // prefix information, length 4, /64, L and A
  0x00, 0x27, 0x8d, 0x00, // valid lifetime 2592000 s
  0x00, 0x09, 0x3a, 0x80, // preferred lifetime 604800 s
  0x00, 0x00, 0x00, 0x00, // reserved
  0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0x00, 0x00, // prefix fd00:198:18::
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x19, 0x03, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x10, // RDNSS (type 25, unknown to us: skipped)
  0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
]);
const RA_REPR: NdpRepr = {
  kind: 'router-advert', curHopLimit: 64, managed: false, other: true, routerLifetime: 1800, reachableTime: 30000,
  retransTimer: 1000, sourceLinkAddr: MAC, mtu: 1500,
  prefixes: [{ prefixLength: 64, onLink: true, autonomous: true, validLifetime: 2592000, preferredLifetime: 604800, prefix: ipv6Addr('fd00:198:18::') }],
};
const RA_CTX: NdpContext = { src: ROUTER_LL, dst: Ipv6Addresses.ALL_NODES, hopLimit: 255 };

/** Views to copies, so deepEqual compares values. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return [...v];
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function emitted(repr: NdpRepr, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const pb = PacketBuffer.alloc(0, ndpMessageLen(repr));
  emitNdp(repr, pb, { src, dst });
  return pb.bytes();
}

describe('wire/ndp', () => {
  it('parses a neighbour solicitation (through parseIcmpv6, checksum verified)', () => {
    const icmp = parseIcmpv6(NS, NS_CTX);
    assert.ok(icmp.ok && icmp.value.kind === 'other');
    const r = parseNdp(icmp.value.message, NS_CTX);
    assert.ok(r.ok && r.value.kind === 'neighbor-solicit');
    assert.equal(formatIpv6(r.value.target), 'fd00:198:18::2');
    assert.equal(formatMac(r.value.sourceLinkAddr!), '02:00:00:00:00:01');
  });

  it('emits the same NS bytes, checksum included', () => {
    assert.deepEqual(emitted({ kind: 'neighbor-solicit', target: HOST, sourceLinkAddr: MAC }, PEER, NS_DST), NS);
  });

  it('parses a router advertisement with MTU and prefix options, skipping unknown options', () => {
    const r = parseNdp(RA, RA_CTX);
    assert.ok(r.ok);
    assert.deepEqual(plain(r.value), plain(RA_REPR));
  });

  it('emits the RA it parsed, option for option (the unknown RDNSS aside)', () => {
    const bytes = emitted(RA_REPR, ROUTER_LL, Ipv6Addresses.ALL_NODES);
    assert.deepEqual(bytes.subarray(4), RA.subarray(4, RA.length - 24));
    assert.equal(bytes[2] * 256 + bytes[3], referenceChecksum(ROUTER_LL, Ipv6Addresses.ALL_NODES, bytes));
  });

  it('round-trips NA, RS and redirect', () => {
    const cases: Array<[NdpRepr, NdpContext]> = [
      [{ kind: 'neighbor-advert', router: true, solicited: true, override: false, target: HOST, targetLinkAddr: MAC }, { src: HOST, dst: PEER, hopLimit: 255 }],
      [{ kind: 'neighbor-advert', router: false, solicited: false, override: true, target: HOST }, { src: HOST, dst: Ipv6Addresses.ALL_NODES, hopLimit: 255 }],
      [{ kind: 'router-solicit', sourceLinkAddr: MAC }, { src: ipv6Addr('fe80::2'), dst: Ipv6Addresses.ALL_ROUTERS, hopLimit: 255 }],
      [{ kind: 'router-solicit' }, { src: Ipv6Addresses.UNSPECIFIED, dst: Ipv6Addresses.ALL_ROUTERS, hopLimit: 255 }],
      [{ kind: 'redirect', target: ipv6Addr('fe80::9'), destination: ipv6Addr('2001:db8::5'), targetLinkAddr: MAC, redirectedHeader: new Uint8Array(48).fill(6) },
        { src: ROUTER_LL, dst: HOST, hopLimit: 255 }],
    ];
    for (const [repr, ctx] of cases) {
      const bytes = emitted(repr, ctx.src, ctx.dst);
      const icmp = parseIcmpv6(bytes, ctx);
      assert.ok(icmp.ok && icmp.value.kind === 'other', repr.kind);
      const r = parseNdp(icmp.value.message, ctx);
      assert.ok(r.ok, repr.kind);
      assert.deepEqual(plain(r.value), plain(repr));
    }
  });

  describe('validity checks of RFC 4861', () => {
    const ns = (over: Partial<NdpContext>, msg = NS): ReturnType<typeof parseNdp> => parseNdp(msg, { ...NS_CTX, ...over });

    it('a hop limit below 255 means the packet crossed a router', () => {
      assert.deepEqual(ns({ hopLimit: 254 }), { ok: false, reason: 'badHopLimit' });
      assert.equal(NDP_HOP_LIMIT, 255);
    });

    it('the code must be 0, the message long enough, every option non-empty and inside it', () => {
      const code = NS.slice();
      code[1] = 1;
      assert.deepEqual(ns({}, code), { ok: false, reason: 'badCode' });
      assert.deepEqual(ns({}, NS.subarray(0, 20)), { ok: false, reason: 'truncated' });
      const zero = NS.slice();
      zero[25] = 0;
      assert.deepEqual(ns({}, zero), { ok: false, reason: 'badOptionLength' });
      const past = NS.slice();
      past[25] = 2;
      assert.deepEqual(ns({}, past), { ok: false, reason: 'badOptionLength' });
    });

    it('targets are never multicast', () => {
      const m = NS.slice();
      m[8] = 0xff;
      assert.deepEqual(ns({}, m), { ok: false, reason: 'multicastTarget' });
    });

    it('a DAD probe (from ::) goes to a solicited-node group and carries no link-layer address', () => {
      assert.deepEqual(ns({ src: Ipv6Addresses.UNSPECIFIED }), { ok: false, reason: 'badDadProbe' });
      const probe = emitted({ kind: 'neighbor-solicit', target: HOST }, Ipv6Addresses.UNSPECIFIED, NS_DST);
      assert.ok(parseNdp(probe, { src: Ipv6Addresses.UNSPECIFIED, dst: NS_DST, hopLimit: 255 }).ok);
      assert.deepEqual(parseNdp(probe, { src: Ipv6Addresses.UNSPECIFIED, dst: HOST, hopLimit: 255 }), { ok: false, reason: 'badDadProbe' });
    });

    it('a solicited NA never goes to a multicast group', () => {
      const na = emitted({ kind: 'neighbor-advert', router: false, solicited: true, override: true, target: HOST }, HOST, Ipv6Addresses.ALL_NODES);
      assert.deepEqual(parseNdp(na, { src: HOST, dst: Ipv6Addresses.ALL_NODES, hopLimit: 255 }), { ok: false, reason: 'solicitedToMulticast' });
    });

    it('router advertisements and redirects come from link-local sources', () => {
      assert.deepEqual(parseNdp(RA, { ...RA_CTX, src: PEER }), { ok: false, reason: 'badSource' });
      const rd = emitted({ kind: 'redirect', target: PEER, destination: ipv6Addr('2001:db8::5') }, ROUTER_LL, HOST);
      assert.deepEqual(parseNdp(rd, { src: ROUTER_LL, dst: HOST, hopLimit: 255 }), { ok: false, reason: 'badSource' }); // target neither link-local nor the destination
    });
  });

  it('never throws on random messages (property)', () => {
    const type = fc.integer({ min: 133, max: 137 });
    const addr = fc.constantFrom(PEER, ROUTER_LL, Ipv6Addresses.UNSPECIFIED, NS_DST, Ipv6Addresses.ALL_NODES);
    fc.assert(fc.property(type, fc.uint8Array({ maxLength: 120 }), addr, addr, (t, rest, src, dst) => {
      const msg = Uint8Array.from([t, 0, 0, 0, ...rest]);
      parseNdp(msg, { src, dst, hopLimit: 255 });
    }), { numRuns: 2000 });
  });
});
