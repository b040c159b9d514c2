/**
 * The TAP link's frames given with room in front (Link.sendInRoom, offload only): the link writes
 * the frame's virtio_net_hdr into that room and the device takes header and frame as one span
 * (one `write` of one piece), instead of the header as a piece of its own. Over fake devices
 * (test/helpers/fake-tap-device.ts), which record every frame written and count the spans.
 */
import assert from 'node:assert/strict';
import { firstValueFrom } from 'rxjs';
import { deviceLink } from '../../../streams/links/tap-link.js';
import { VNET_HDR_LEN, VnetFlags, VnetOffset } from '../../../streams/links/virtio-net-hdr.js';
import { createStack } from '../../../streams/stack/create-stack.js';
import { relayTo } from '../../../streams/index.js';
import { TcpFlags, TcpOffset, type TcpRepr } from '../../../src/wire/tcp.js';
import { parseIpv4 } from '../../../src/ipv4/address.js';
import { fakeDevicePair } from '../../helpers/fake-tap-device.js';
import { tcpIpv4Frame } from '../../helpers/tcp-ip-frames.js';

const A = parseIpv4('198.18.0.2')!;
const B = parseIpv4('198.18.0.1')!;
const LINK = { src: new Uint8Array([2, 0, 0, 0, 0, 2]), dst: new Uint8Array([2, 0, 0, 0, 0, 1]) };
/** Where the TCP header starts in these frames (Ethernet + a 20-byte IPv4 header). */
const TCP_AT = 14 + 20;
const ROOM = 24;

function segment(ack: number, payload = new Uint8Array(0)): Uint8Array {
  const repr: TcpRepr = { srcPort: 9, dstPort: 40000, seq: 1000, flags: TcpFlags.ACK, window: 1000, urgent: 0, ack, payload };
  return tcpIpv4Frame(repr, { src: A, dst: B, ident: 1, dontFragment: true, moreFragments: false }, LINK);
}

/** `frame` copied behind `room` bytes of 0xee (which the link may overwrite), as a packet's buffer. */
function withRoom(frame: Uint8Array, room = ROOM): Uint8Array {
  const buf = new Uint8Array(room + frame.length).fill(0xee, 0, room);
  buf.set(frame, room);
  return buf;
}

const u16le = (b: Uint8Array, at: number): number => b[at] | (b[at + 1] << 8);

/** Resolves after the microtasks of the current task (the link's end-of-task flush) ran. */
const endOfTask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Two stacks (client 198.18.0.1, server 198.18.0.2) on a pair of fake TAP devices with offload. */
function stacksOnFakeTaps(): { da: ReturnType<typeof fakeDevicePair>[0]; db: ReturnType<typeof fakeDevicePair>[1]; client: ReturnType<typeof createStack>; server: ReturnType<typeof createStack> } {
  const [da, db] = fakeDevicePair({ offload: true });
  const la = deviceLink(da.asTapDevice(), { mac: undefined, coalesceAcks: undefined, layer: 'ethernet' });
  const lb = deviceLink(db.asTapDevice(), { mac: undefined, coalesceAcks: undefined, layer: 'ethernet' });
  const client = createStack({ interfaces: [{ name: 'if0', link: la, mac: '02:00:00:00:00:01', ipv4: ['198.18.0.1/24'] }] });
  const server = createStack({ interfaces: [{ name: 'if0', link: lb, mac: '02:00:00:00:00:02', ipv4: ['198.18.0.2/24'] }] });
  return { da, db, client, server };
}

describe('TAP link: a frame with room in front written as one piece', () => {
  it('is offered with offload only, asking for the virtio_net_hdr room', () => {
    const [plain] = fakeDevicePair({ offload: false });
    const [offloaded] = fakeDevicePair({ offload: true });
    const a = deviceLink(plain.asTapDevice(), { mac: undefined, coalesceAcks: true, layer: 'ethernet' });
    const b = deviceLink(offloaded.asTapDevice(), { mac: undefined, coalesceAcks: true, layer: 'ethernet' });
    assert.equal(a.sendInRoom, undefined);
    assert.equal(a.frameRoom, undefined);
    assert.equal(typeof b.sendInRoom, 'function');
    assert.equal(b.frameRoom, VNET_HDR_LEN);
    a.close();
    b.close();
  });

  it('a complete frame alone: one span, an all-zero header in the room, the frame unchanged', async () => {
    const [dev] = fakeDevicePair({ offload: true });
    const link = deviceLink(dev.asTapDevice(), { mac: undefined, coalesceAcks: true, layer: 'ethernet' });
    const frame = segment(100, new Uint8Array([1, 2, 3]));
    const buf = withRoom(frame);
    link.sendInRoom!(buf, ROOM, buf.length, -1, 0);
    assert.equal(dev.written.length, 0, 'written at the end of the task');
    await endOfTask();
    assert.equal(dev.spans, 1);
    assert.equal(dev.written.length, 1);
    assert.deepEqual(dev.written[0].header, new Uint8Array(VNET_HDR_LEN));
    assert.deepEqual(dev.written[0].frame, frame);
    assert.deepEqual(buf.subarray(0, ROOM - VNET_HDR_LEN), new Uint8Array(ROOM - VNET_HDR_LEN).fill(0xee), 'nothing written before the header');
    link.close();
  });

  it('a partial checksum alone: one span behind a NEEDS_CSUM header naming the field', async () => {
    const [dev] = fakeDevicePair({ offload: true });
    const link = deviceLink(dev.asTapDevice(), { mac: undefined, coalesceAcks: true, layer: 'ethernet' });
    const buf = withRoom(segment(100, new Uint8Array([9])));
    link.sendInRoom!(buf, ROOM, buf.length, TCP_AT, TcpOffset.CHECKSUM);
    await endOfTask();
    assert.equal(dev.spans, 1);
    const h = dev.written[0].header;
    assert.equal(h[VnetOffset.FLAGS], VnetFlags.NEEDS_CSUM);
    assert.equal(u16le(h, VnetOffset.CSUM_START), TCP_AT);
    assert.equal(u16le(h, VnetOffset.CSUM_OFFSET), TcpOffset.CHECKSUM);
    link.close();
  });

  it('behind or ahead of other frames of the task: in order, each with its own header', async () => {
    const [dev] = fakeDevicePair({ offload: true });
    const link = deviceLink(dev.asTapDevice(), { mac: undefined, coalesceAcks: true, layer: 'ethernet' });
    const first = segment(100, new Uint8Array([1]));
    const second = segment(200, new Uint8Array([2]));
    const third = segment(300, new Uint8Array([3]));
    const b2 = withRoom(second);
    link.send(first);
    link.sendInRoom!(b2, ROOM, b2.length, TCP_AT, TcpOffset.CHECKSUM);
    const b3 = withRoom(third);
    link.sendInRoom!(b3, ROOM, b3.length, -1, 0);
    await endOfTask();
    assert.deepEqual(dev.written.map((w) => w.frame), [first, second, third]);
    assert.equal(dev.written[1].header[VnetOffset.FLAGS], VnetFlags.NEEDS_CSUM);
    assert.deepEqual(dev.written[2].header, new Uint8Array(VNET_HDR_LEN));
    // Held alone first, then moved to the lists by a frame sent after it.
    const b4 = withRoom(segment(400, new Uint8Array([4])));
    link.sendInRoom!(b4, ROOM, b4.length, -1, 0);
    link.send(first);
    await endOfTask();
    assert.deepEqual(dev.written.slice(3).map((w) => w.frame), [b4.subarray(ROOM), first]);
    link.close();
  });

  it('a pure ACK held with its room is still superseded by a later one of the same task', async () => {
    const [dev] = fakeDevicePair({ offload: true });
    const link = deviceLink(dev.asTapDevice(), { mac: undefined, coalesceAcks: true, layer: 'ethernet' });
    const b = withRoom(segment(1000));
    link.sendInRoom!(b, ROOM, b.length, -1, 0);
    link.send(segment(2000));
    await endOfTask();
    assert.deepEqual(dev.written.map((w) => w.frame), [segment(2000)]);
    assert.equal(link.stats().txAcksCoalesced, 1);
    link.close();
  });

  it('refuses a frame without the room, and close() writes the one held', () => {
    const [dev] = fakeDevicePair({ offload: true });
    const link = deviceLink(dev.asTapDevice(), { mac: undefined, coalesceAcks: true, layer: 'ethernet' });
    const short = withRoom(segment(5), VNET_HDR_LEN - 1);
    assert.throws(() => link.sendInRoom!(short, VNET_HDR_LEN - 1, short.length, -1, 0), RangeError);
    const b = withRoom(segment(7, new Uint8Array([7])));
    link.sendInRoom!(b, ROOM, b.length, -1, 0);
    link.close();
    assert.deepEqual(dev.written.map((w) => w.frame), [b.subarray(ROOM)]);
  });

  it('a TCP echo between two stacks: the segments go as spans, every byte comes back, no checksum fails', async () => {
    const { da, db, client, server } = stacksOnFakeTaps();
    const s = server.tcp.listen({ port: 7 }).subscribe((c) => c.data$.pipe(relayTo(c)).subscribe());
    try {
      const conn = await firstValueFrom(client.tcp.connect({ address: '198.18.0.2', port: 7 }));
      for (let i = 0; i < 20; i++) {
        const back = firstValueFrom(conn.data$);
        conn.write(new Uint8Array([i, i + 1, i + 2]));
        assert.deepEqual(Array.from(await back), [i, i + 1, i + 2]);
      }
      assert.ok(db.spans >= 20, `the server's replies went as spans (${db.spans})`);
      assert.ok(da.spans >= 20, `the client's requests went as spans (${da.spans})`);
      assert.equal(server.tcpLayer.counters.drops['badChecksum'], 0);
      assert.equal(client.tcpLayer.counters.drops['badChecksum'], 0);
      conn.end();
    } finally {
      s.unsubscribe();
      client.close();
      server.close();
    }
  });

  it('UDP by the fused way out: the datagrams go as spans, and arrive whole', async () => {
    const { da, client, server } = stacksOnFakeTaps();
    client.arp.addStatic('198.18.0.2', '02:00:00:00:00:02');
    server.arp.addStatic('198.18.0.1', '02:00:00:00:00:01');
    try {
      const rx = server.udp.bind({ port: 9 });
      const tx = client.udp.bind({ port: 4000 });
      const got: number[][] = [];
      const all = new Promise<void>((resolve) => {
        rx.datagrams$.subscribe((m) => {
          got.push(Array.from(m.payload));
          if (got.length === 10) resolve();
        });
      });
      const before = da.spans;
      // One a task (the frame of a task written alone); the first takes the long way (IPv4's
      // route cache is cold), whose packet has exactly its headers' room: no span.
      for (let i = 0; i < 10; i++) {
        assert.equal(tx.send(new Uint8Array([i, 7, i]), { address: '198.18.0.2', port: 9 }), true);
        await endOfTask();
      }
      await all;
      assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => [i, 7, i]));
      assert.equal(da.spans - before, 9, 'each datagram by the fused way one span');
      assert.equal(server.udpLayer.counters.drops.badChecksum, 0);
    } finally {
      client.close();
      server.close();
    }
  });

  it('an observer of the link tap sees each frame as written, and the frames still go as spans', async () => {
    const { db, client, server } = stacksOnFakeTaps();
    const s = server.tcp.listen({ port: 7 }).subscribe((c) => c.data$.pipe(relayTo(c)).subscribe());
    try {
      const conn = await firstValueFrom(client.tcp.connect({ address: '198.18.0.2', port: 7 }));
      const seen: Uint8Array[] = [];
      const tap = server.taps.link.down$.subscribe((f) => seen.push(f.slice()));
      const written = db.written.length;
      const spans = db.spans;
      for (let i = 0; i < 5; i++) {
        const back = firstValueFrom(conn.data$);
        conn.write(new Uint8Array([i]));
        await back;
      }
      tap.unsubscribe();
      await endOfTask();
      assert.ok(db.spans - spans >= 5, 'the replies went as spans while observed');
      assert.deepEqual(seen, db.written.slice(written).map((w) => w.frame), 'the observer saw each frame written');
      conn.end();
    } finally {
      s.unsubscribe();
      client.close();
      server.close();
    }
  });
});
