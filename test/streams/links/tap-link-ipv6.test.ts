/**
 * IPv6 on the TAP and TUN links, without a kernel (two devices back to back, see
 * test/helpers/fake-tap-device.ts): virtio_net_hdr GSO TCPV6 for the stack's large IPv6 TCP
 * segments (checksum offsets from the IPv6 header), received IPv6 GSO segments taken whole with
 * their checksums vouched for, a TUN link carrying both families by the version nibble, and
 * without offload IPv6 TCP coalesced on receipt (gro.ts) and its pure ACKs on sending
 * (ack-coalescer.ts). With offload, every large segment leaves gathered (headers + a view of the
 * send buffer in one write, `txGathered`), and is copied only where it is kept: a packet waiting
 * for Neighbour Discovery, a packet or frame an observer of a tap holds.
 */
import assert from 'node:assert/strict';
import { firstValueFrom, lastValueFrom, toArray, type Subscription } from 'rxjs';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import { deviceLink, type TapLink } from '../../../streams/links/tap-link.js';
import {
  completePartialChecksum, gsoHeader, VnetFlags, VnetGso, vnetCsumOffset, vnetCsumStart, vnetFlags, vnetGsoSize, vnetGsoType, vnetHdrLen,
} from '../../../streams/links/virtio-net-hdr.js';
import { ipv6UpperChecksumOk, Ipv6Packet } from '../../../src/wire/ipv6.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { parseIpv6 } from '../../../src/ipv6/address.js';
import { isIpv6Outbound } from '../../../streams/stack/ipv6-layer.js';
import { IpProtocol } from '../../../src/wire/ipv4.js';
import { fakeDevicePair, type FakeDevice } from '../../helpers/fake-tap-device.js';
import { pattern } from '../../helpers/pattern.js';
import { concatBytes } from '../../helpers/bytes.js';

const NO_DAD = { dadTransmits: 0, acceptRa: false } as const;
const A6 = 'fd00:198:18::1';
const B6 = 'fd00:198:18::2';

interface Pair {
  readonly a: Stack;
  readonly b: Stack;
  readonly la: TapLink;
  readonly lb: TapLink;
  readonly da: FakeDevice;
  readonly db: FakeDevice;
  close(): void;
}

function pair(layer: 'ethernet' | 'ip', offload: boolean, tcp: { sendBufferMax?: number } = {}): Pair {
  const [da, db] = fakeDevicePair({ offload });
  const la = deviceLink(da.asTapDevice(), { mac: undefined, coalesceAcks: layer === 'ethernet', layer });
  const lb = deviceLink(db.asTapDevice(), { mac: undefined, coalesceAcks: layer === 'ethernet', layer });
  const mac = (n: number) => (layer === 'ethernet' ? { mac: `02:00:00:00:00:0${n}` } : {});
  const a = createStack({ interfaces: [{ name: 'if0', link: la, ...mac(1), ipv4: ['198.18.0.1/24'], ipv6: [`${A6}/64`] }], ipv6: NO_DAD, tcp });
  const b = createStack({ interfaces: [{ name: 'if0', link: lb, ...mac(2), ipv4: ['198.18.0.2/24'], ipv6: [`${B6}/64`] }], ipv6: NO_DAD });
  return { a, b, la, lb, da, db, close: () => { a.close(); b.close(); } };
}

/** An echo server on `stack`:7. */
function echo(stack: Stack): Subscription {
  return stack.tcp.listen({ port: 7 }).subscribe((c) => {
    c.data$.subscribe({ next: (chunk) => c.write(chunk), complete: () => c.end(), error: () => undefined });
  });
}

async function roundTrip(stack: Stack, address: string, bytes: Uint8Array): Promise<Uint8Array> {
  const conn = await firstValueFrom(stack.tcp.connect({ address, port: 7 }));
  const chunks = lastValueFrom(conn.data$.pipe(toArray()));
  conn.write(bytes);
  conn.end();
  return concatBytes(await chunks);
}

describe('TAP/TUN links: IPv6 offloads', () => {
  describe('gsoHeader', () => {
    /** A frame with `version` in the IP header's first nibble at `ipAt`, TCP (20-byte header) at `csumStart`. */
    function frame(ipAt: number, version: number, csumStart: number, tcpFlags = 0x10): Uint8Array {
      const f = new Uint8Array(csumStart + 20 + 100);
      f[ipAt] = version << 4;
      f[csumStart + 12] = 5 << 4; // data offset: 5 words
      f[csumStart + 13] = tcpFlags;
      return f;
    }

    it('says TCPV6 for IPv6 (after Ethernet: TCP at 54; on a TUN link: at 40) and TCPV4 for IPv4', () => {
      const cases = [
        { ipAt: 14, version: 6, start: 54, type: VnetGso.TCPV6 },
        { ipAt: 0, version: 6, start: 40, type: VnetGso.TCPV6 },
        { ipAt: 14, version: 4, start: 34, type: VnetGso.TCPV4 },
        { ipAt: 0, version: 4, start: 20, type: VnetGso.TCPV4 },
      ];
      for (const c of cases) {
        const h = gsoHeader(frame(c.ipAt, c.version, c.start), c.start, 16, 1440, c.ipAt);
        assert.equal(vnetGsoType(h), c.type, `IPv${c.version} at ${c.ipAt}`);
        assert.equal(vnetFlags(h), VnetFlags.NEEDS_CSUM);
        assert.equal(vnetCsumStart(h), c.start);
        assert.equal(vnetCsumOffset(h), 16);
        assert.equal(vnetHdrLen(h), c.start + 20, 'headers up to the end of TCP\'s');
        assert.equal(vnetGsoSize(h), 1440);
      }
    });

    it('keeps the ECN bit for a segment carrying CWR over IPv6', () => {
      const h = gsoHeader(frame(14, 6, 54, 0x10 | 0x80), 54, 16, 1440, 14);
      assert.equal(vnetGsoType(h), VnetGso.TCPV6 | VnetGso.ECN);
    });
  });

  for (const layer of ['ethernet', 'ip'] as const) {
    const ipAt = layer === 'ethernet' ? 14 : 0;
    const tcpAt = ipAt + 40;

    it(`${layer === 'ethernet' ? 'TAP' : 'TUN'} with offload: IPv6 TCP leaves as GSO TCPV6 frames (checksum offsets from the IPv6 header) and is taken whole, byte-exact (1 MiB)`, async function () {
      this.timeout(20_000);
      const p = pair(layer, true);
      const sub = echo(p.b);
      try {
        const data = pattern(1 << 20, 6);
        const got = await roundTrip(p.a, B6, data);
        assert.equal(got.length, data.length);
        assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'the echo is byte-exact');
        // What A wrote: large IPv6 TCP segments with GSO TCPV6 headers.
        const gso = p.da.written.filter((w) => (vnetGsoType(w.header) & ~VnetGso.ECN) !== VnetGso.NONE);
        assert.ok(gso.length > 0, 'some segments left as GSO frames');
        for (const w of gso) {
          assert.equal(vnetGsoType(w.header) & ~VnetGso.ECN, VnetGso.TCPV6);
          assert.equal(w.frame[ipAt] >>> 4, 6, 'an IPv6 packet');
          assert.equal(vnetCsumStart(w.header), tcpAt, 'TCP right after the 40-byte IPv6 header');
          assert.equal(vnetCsumOffset(w.header), 16);
          // Each piece (the headers again, gsoSize bytes of payload) fills the 1500-byte MTU: the
          // IPv6 MSS (1440) less the timestamps option (12).
          const tcpHeaderLen = vnetHdrLen(w.header) - tcpAt;
          assert.equal(40 + tcpHeaderLen + vnetGsoSize(w.header), 1500, 'pieces of one IPv6 MTU');
          assert.ok(w.frame.length - tcpAt > vnetGsoSize(w.header) + 20, 'longer than one MSS');
          // The partial checksum completed over the frame is IPv6's TCP checksum.
          const f = w.frame.slice();
          completePartialChecksum(f, vnetCsumStart(w.header), vnetCsumOffset(w.header));
          assert.ok(ipv6UpperChecksumOk(f.subarray(ipAt), f.subarray(tcpAt), IpProtocol.TCP), 'checksum right once completed');
        }
        // B took them whole, and did not mistake their partial checksums for bad ones.
        assert.ok(p.lb.stats().rxSuperFrames > 0, 'B received GSO frames');
        assert.equal(p.lb.stats().rxGsoDropped, 0);
        assert.equal(p.b.tcpLayer.counters.drops['badChecksum'], 0);
        assert.equal(p.a.tcpLayer.counters.drops['badChecksum'], 0);
        // Every large segment, either way, left as headers + a view of the send buffer (one
        // write, the payload never copied into a packet), and so did full-sized ones.
        for (const [who, link] of [['A', p.la], ['B', p.lb]] as const) {
          const st = link.stats();
          assert.ok(st.txSuperFrames > 0, `${who} wrote GSO frames`);
          assert.ok(st.txGathered >= st.txSuperFrames, `${who}: ${st.txGathered} frames gathered, ${st.txSuperFrames} GSO frames`);
        }
      } finally {
        sub.unsubscribe();
        p.close();
      }
    });
  }

  it('a packet whose payload is only lent (PacketBuffer.tail, a large TCP segment\'s) is copied when it waits for Neighbour Discovery: it leaves with the bytes it had', async () => {
    const p = pair('ethernet', true);
    try {
      const arrived = firstValueFrom(p.b.ipv6Protocol(253).up$); // RFC 3692 experimentation
      const lent = new Uint8Array([7, 8, 9, 10]);
      const pb = PacketBuffer.alloc(0);
      pb.tail = lent;
      const err = p.a.ipv6!.send({ pb, dst: parseIpv6(B6)!, protocol: 253 });
      assert.equal(err, undefined);
      const entry = p.a.layers.interfaces[0].ndp!.entries().find((e) => e.state === 'incomplete');
      assert.ok(entry !== undefined, 'the packet waits: B\'s entry is being resolved');
      lent.fill(0xee); // the lender reuses its bytes once the send returned
      const d = await arrived;
      assert.deepEqual([...d.payload], [7, 8, 9, 10]);
    } finally {
      p.close();
    }
  });

  it('an observer of the network tap may keep the large IPv6 packets it sees: their bytes stay those written', async function () {
    this.timeout(20_000);
    // A small send buffer: its ring is reused many times while the observer holds the packets.
    const p = pair('ethernet', true, { sendBufferMax: 128 * 1024 });
    const sub = echo(p.b);
    const kept: PacketBuffer[] = [];
    const tap = p.a.taps.network.down$.subscribe((o) => {
      if (isIpv6Outbound(o) && o.pb.gsoSize > 0) kept.push(o.pb);
    });
    try {
      const data = pattern(2 << 20, 11);
      const got = await roundTrip(p.a, B6, data);
      assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'the echo is byte-exact');
      const written = p.da.written.filter((w) => vnetGsoType(w.header) !== VnetGso.NONE);
      assert.ok(kept.length > 10, `${kept.length} large packets kept`);
      assert.equal(kept.length, written.length);
      for (let i = 0; i < kept.length; i++) assert.ok(Buffer.from(kept[i].bytes()).equals(Buffer.from(written[i].frame)), `packet ${i} as kept = as written`);
      assert.equal(p.la.stats().txGathered, 0, 'observed: made whole for the observer, then written whole');
    } finally {
      tap.unsubscribe();
      sub.unsubscribe();
      p.close();
    }
  });

  it('an observer of the link tap sees whole IPv6 frames as written; unobserved, the same link gathers again', async function () {
    this.timeout(20_000);
    const p = pair('ethernet', true);
    const sub = echo(p.b);
    const seen: Uint8Array[] = [];
    const tap = p.a.taps.link.down$.subscribe((f) => {
      if (f.length > 1514) seen.push(f); // kept beyond the call, on purpose
    });
    try {
      const data = pattern(1 << 20, 12);
      const got = await roundTrip(p.a, B6, data);
      assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'the echo is byte-exact');
      const written = p.da.written.filter((w) => vnetGsoType(w.header) !== VnetGso.NONE);
      assert.ok(seen.length > 5, `${seen.length} large frames observed`);
      assert.equal(seen.length, written.length);
      for (let i = 0; i < seen.length; i++) {
        assert.ok(Buffer.from(seen[i]).equals(Buffer.from(written[i].frame)), `frame ${i} as observed = as written`);
        assert.equal(new Ipv6Packet().reset(seen[i].subarray(14)).check(), undefined, 'an IPv6 packet');
      }
      assert.equal(p.la.stats().txGathered, 0, 'observed: frames go whole');
      tap.unsubscribe();
      const again = await roundTrip(p.a, B6, data);
      assert.ok(Buffer.from(again).equals(Buffer.from(data)), 'byte-exact again');
      assert.ok(p.la.stats().txGathered > 5, `${p.la.stats().txGathered} frames gathered once unobserved`);
    } finally {
      tap.unsubscribe();
      sub.unsubscribe();
      p.close();
    }
  });

  it('a large IPv6 segment to one of our own addresses is cut in software by IPv6 (loopback), byte-exact', async function () {
    this.timeout(20_000);
    const p = pair('ethernet', true);
    const sub = echo(p.a);
    try {
      const data = pattern(300_000, 8);
      const got = await roundTrip(p.a, A6, data);
      assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'byte-exact');
      assert.ok(p.a.ipv6!.counters.txSegmented > 0, 'large segments were cut by IPv6');
      assert.equal(p.da.written.filter((w) => vnetGsoType(w.header) !== VnetGso.NONE).length, 0, 'none reached the link');
      assert.equal(p.a.tcpLayer.counters.drops['badChecksum'], 0);
    } finally {
      sub.unsubscribe();
      p.close();
    }
  });

  it('TAP without offload: IPv6 TCP segments of a batch are coalesced on receipt, pure ACKs few (per batch, or merged by the link), byte-exact (1 MiB)', async function () {
    this.timeout(20_000);
    const p = pair('ethernet', false);
    const sub = echo(p.b);
    try {
      const data = pattern(1 << 20, 9);
      const got = await roundTrip(p.a, B6, data);
      assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'the echo is byte-exact');
      assert.ok(p.da.written.every((w) => w.frame.length <= 1514), 'MTU-sized frames only, no GSO');
      assert.ok(p.da.written.some((w) => w.frame[12] === 0x86 && w.frame[13] === 0xdd && w.frame[20] === IpProtocol.TCP), 'IPv6 TCP crossed the link');
      // Receive coalescing: runs of IPv6 segments reached B's stack as one segment each.
      const rx = p.lb.stats();
      assert.ok(rx.rxSegmentsCoalesced > 0 && rx.rxCoalescedFrames > 0, `B coalesced IPv6 segments (${rx.rxSegmentsCoalesced} in ${rx.rxCoalescedFrames} runs)`);
      assert.ok(p.b.tcpLayer.counters.rxSegments < p.da.written.length, 'B\'s TCP saw fewer segments than A wrote frames');
      // Few pure ACKs: the stack builds an owed ACK (and a read's window update) once per
      // inbound batch, and the link's coalescer (its IPv6 rules: ack-coalescer-ipv6.test.ts)
      // drops one superseded within a batch; either way far fewer than one per data segment.
      const frames = [...p.da.written, ...p.db.written].map((w) => w.frame).filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[20] === IpProtocol.TCP);
      const payload = (f: Uint8Array) => ((f[18] << 8) | f[19]) - (f[54 + 12] >> 4) * 4;
      const pureAcks = frames.filter((f) => payload(f) === 0 && f[54 + 13] === 0x10).length;
      const dataFrames = frames.filter((f) => payload(f) > 0).length;
      assert.ok(pureAcks * 2 < dataFrames, `${pureAcks} pure ACKs for ${dataFrames} data segments`);
      assert.equal(p.b.tcpLayer.counters.drops['badChecksum'], 0);
      assert.equal(p.a.tcpLayer.counters.drops['badChecksum'], 0);
    } finally {
      sub.unsubscribe();
      p.close();
    }
  });

  it('TUN without offload: IPv6 and IPv4 over one link, dispatched by the version nibble (TCP echo over both)', async function () {
    this.timeout(20_000);
    const p = pair('ip', false);
    const sub = echo(p.b);
    try {
      const data = pattern(200_000, 7);
      const [v6, v4] = await Promise.all([roundTrip(p.a, B6, data), roundTrip(p.a, '198.18.0.2', data)]);
      assert.ok(Buffer.from(v6).equals(Buffer.from(data)), 'IPv6 echo byte-exact');
      assert.ok(Buffer.from(v4).equals(Buffer.from(data)), 'IPv4 echo byte-exact');
      const versions = new Set(p.da.written.map((w) => w.frame[0] >>> 4));
      assert.deepEqual([...versions].sort(), [4, 6], 'both families crossed the link as bare packets');
      assert.equal(p.da.written.every((w) => vnetGsoType(w.header) === VnetGso.NONE), true, 'no GSO without offload');
      assert.ok(p.b.ipv6!.counters.rxDelivered > 0);
      assert.equal(p.b.ipv4.counters.drops['badVersion'], 0, 'IPv4 never saw an IPv6 packet');
    } finally {
      sub.unsubscribe();
      p.close();
    }
  });

  it('TUN: a packet of neither version is counted by IPv4 as badVersion, and IPv6 stays up', async () => {
    const p = pair('ip', false);
    try {
      const bogus = new Uint8Array(60);
      bogus[0] = 0x50; // version 5
      p.da.asTapDevice().writeBatch([bogus]);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(p.b.ipv4.counters.drops['badVersion'], 1);
      assert.equal(p.b.ipv6!.counters.rxPackets, 0);
    } finally {
      p.close();
    }
  });
});
