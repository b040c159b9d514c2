/**
 * A connection's small IPv4 segments leave by IPv4's fused way out (WholeOut): the TCP layer
 * writes the header and payload straight into the frame IPv4 makes (over TUN the packet, over
 * TAP the Ethernet frame), no packet object or record handed through the layers, while nothing
 * observes the boundaries it skips. What it must keep: the data byte-exact, the bytes the long
 * way writes (DF and ID 0, the checksum partial where the link finishes it), the counters, and
 * every observer and operator seeing every segment. Two stacks on fake devices
 * (test/helpers/fake-tap-device.ts), with and without checksum offload.
 */
import assert from 'node:assert/strict';
import { firstValueFrom, map } from 'rxjs';
import { deviceLink } from '../../../streams/links/tap-link.js';
import { VnetFlags, VnetOffset } from '../../../streams/links/virtio-net-hdr.js';
import { createStack, type Stack, type StackHooks } from '../../../streams/stack/create-stack.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import { onesSum, pseudoHeaderSum } from '../../../src/wire/checksum.js';
import { IpProtocol } from '../../../src/wire/ipv4.js';
import { TcpOffset } from '../../../src/wire/tcp.js';
import { fakeDevicePair, type FakeDevice } from '../../helpers/fake-tap-device.js';
import { countLongWay } from './fused-out-checks.js';
import { stat } from './raw-peer.js';

const CLIENT_ADDR = 0xc6120001;
const SERVER_ADDR = 0xc6120002;

interface Pair {
  readonly client: Stack;
  readonly server: Stack;
  readonly clientDev: FakeDevice;
  readonly serverDev: FakeDevice;
  readonly conn: TcpConnection;
  /** Bytes the server echoed back so far, as the client read them. */
  readonly echoed: number[];
  /** IPv4's header offset in the frames (14 behind Ethernet, 0 on TUN). */
  readonly ipAt: number;
}

/** A client and an echo server (port 7) on two fake devices, connected. */
async function echoPair(layer: 'ip' | 'ethernet', offload: boolean, clientHooks?: StackHooks): Promise<Pair> {
  const [cd, sd] = fakeDevicePair({ offload });
  const cl = deviceLink(cd.asTapDevice(), { mac: undefined, coalesceAcks: false, layer });
  const sl = deviceLink(sd.asTapDevice(), { mac: undefined, coalesceAcks: false, layer });
  const eth = layer === 'ethernet';
  const client = createStack({ interfaces: [{ name: 'if0', link: cl, ...(eth ? { mac: '02:00:00:00:00:01' } : {}), ipv4: ['198.18.0.1/24'] }] }, { hooks: clientHooks });
  const server = createStack({ interfaces: [{ name: 'if0', link: sl, ...(eth ? { mac: '02:00:00:00:00:02' } : {}), ipv4: ['198.18.0.2/24'] }] });
  server.tcp.listen({ port: 7 }).subscribe((c) => c.data$.subscribe({ next: (d) => void c.write(d.slice()), error: () => undefined }));
  const conn = await firstValueFrom(client.tcp.connect({ address: '198.18.0.2', port: 7 }));
  const echoed: number[] = [];
  conn.data$.subscribe({ next: (d) => echoed.push(...d), error: () => undefined });
  return { client, server, clientDev: cd, serverDev: sd, conn, echoed, ipAt: eth ? 14 : 0 };
}

/** Writes `data` and waits (bounded) until all of it came back. */
async function echo(p: Pair, data: Uint8Array): Promise<void> {
  const want = p.echoed.length + data.length;
  p.conn.write(data);
  for (let i = 0; i < 200 && p.echoed.length < want; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(p.echoed.length, want, 'the echo came back');
  assert.deepEqual(p.echoed.slice(want - data.length), [...data], 'byte-exact');
}

function message(n: number, seed: number): Uint8Array {
  const m = new Uint8Array(n);
  for (let i = 0; i < n; i++) m[i] = (i * 31 + seed) & 0xff;
  return m;
}

/** The client's data segments written since `from`: frames whose TCP payload is not empty. */
function dataFrames(p: Pair, from: number): Array<{ header: Uint8Array; frame: Uint8Array }> {
  return p.clientDev.written.slice(from).filter(({ frame }) => {
    const ip = frame.subarray(p.ipAt);
    const total = (ip[2] << 8) | ip[3];
    return total > 20 + (ip[20 + TcpOffset.DATA_OFFSET] >>> 4) * 4;
  });
}

/** Checks the IPv4 header and the TCP checksum (completed here first when the header says it is partial). */
function assertChecksums(p: Pair, offload: boolean, { header, frame }: { header: Uint8Array; frame: Uint8Array }): void {
  const ip = frame.subarray(p.ipAt).slice();
  assert.equal(onesSum(ip, 0, 20, 0), 0xffff, 'IPv4 header checksum');
  assert.equal(ip[6] & 0x40, 0x40, 'DF');
  assert.equal((ip[4] << 8) | ip[5], 0, 'ID 0 (atomic datagram)');
  const len = ip.length - 20;
  if (offload) {
    // As the long way leaves it: partial, the device told where (NEEDS_CSUM).
    assert.equal(header[VnetOffset.FLAGS] & VnetFlags.NEEDS_CSUM, VnetFlags.NEEDS_CSUM);
    assert.equal(header[VnetOffset.CSUM_START] | (header[VnetOffset.CSUM_START + 1] << 8), p.ipAt + 20);
    assert.equal(header[VnetOffset.CSUM_OFFSET] | (header[VnetOffset.CSUM_OFFSET + 1] << 8), TcpOffset.CHECKSUM);
    const partial = (ip[20 + TcpOffset.CHECKSUM] << 8) | ip[21 + TcpOffset.CHECKSUM];
    assert.equal(partial, pseudoHeaderSum(CLIENT_ADDR, SERVER_ADDR, IpProtocol.TCP, len), 'the pseudo-header sum');
    const c = ~onesSum(ip, 20, len, 0) & 0xffff;
    ip[20 + TcpOffset.CHECKSUM] = c >>> 8;
    ip[21 + TcpOffset.CHECKSUM] = c & 0xff;
  }
  assert.equal(onesSum(ip, 20, len, pseudoHeaderSum(CLIENT_ADDR, SERVER_ADDR, IpProtocol.TCP, len)), 0xffff, 'TCP checksum');
}

/** A frame with what differs from segment to segment zeroed: IP checksum; TCP seq, ack, window, checksum, timestamps. */
function shape(p: Pair, frame: Uint8Array): number[] {
  const c = [...frame];
  const t = p.ipAt + 20;
  c[p.ipAt + 10] = c[p.ipAt + 11] = 0;
  for (let i = 4; i < 12; i++) c[t + i] = 0;
  c[t + 14] = c[t + 15] = c[t + 16] = c[t + 17] = 0;
  // The timestamps option (NOP NOP 8 10 tsval tsecr), first in an ACK's options.
  assert.deepEqual(c.slice(t + 20, t + 24), [1, 1, 8, 10]);
  for (let i = 24; i < 32; i++) c[t + i] = 0;
  return c;
}

for (const layer of ['ip', 'ethernet'] as const) {
  for (const offload of [true, false]) {
    describe(`stack: TCP segments by the fused way out (${layer === 'ip' ? 'TUN' : 'TAP'}, offload ${offload ? 'on' : 'off'})`, () => {
      let pair: Pair | undefined;
      afterEach(() => {
        pair?.conn.destroy();
        pair?.client.close();
        pair?.server.close();
        pair = undefined;
      });

      it('takes it for small segments while unobserved: data byte-exact, counters and checksums as the long way', async () => {
        const p = (pair = await echoPair(layer, offload));
        const clientLong = countLongWay(p.client, IpProtocol.TCP);
        const serverLong = countLongWay(p.server, IpProtocol.TCP);
        const seg0 = stat(p.client, 'tcp', 'txSegments');
        const pkt0 = stat(p.client, 'ipv4', 'txPackets');
        const w0 = p.clientDev.written.length;
        for (let i = 0; i < 20; i++) await echo(p, message(1 + i * 47, i));
        assert.equal(clientLong.count, 0, "the client's segments took the fused way");
        assert.equal(serverLong.count, 0, "the server's segments took the fused way");
        const written = p.clientDev.written.length - w0;
        assert.ok(written >= 20);
        assert.equal(stat(p.client, 'tcp', 'txSegments') - seg0, written, 'txSegments: every frame written');
        assert.equal(stat(p.client, 'ipv4', 'txPackets') - pkt0, written, 'txPackets: every frame written');
        for (const f of dataFrames(p, w0)) assertChecksums(p, offload, f);
        assert.equal(stat(p.server, 'tcp', 'drops', 'badChecksum'), 0);
        // A payload of GATHER_MIN bytes or more keeps the long way (its payload gathered, not copied).
        await echo(p, message(3000, 7));
        assert.ok(clientLong.count > 0);
      });

      it('takes it for a listener\'s SYN-ACK and for a reset to a closed port, checksums complete or partial as the link takes them', async () => {
        const p = (pair = await echoPair(layer, offload));
        const serverLong = countLongWay(p.server, IpProtocol.TCP);
        const w0 = p.serverDev.written.length;
        const second = await firstValueFrom(p.client.tcp.connect({ address: '198.18.0.2', port: 7 }));
        await assert.rejects(firstValueFrom(p.client.tcp.connect({ address: '198.18.0.2', port: 9 })), { code: 'ECONNREFUSED' });
        second.destroy();
        assert.equal(serverLong.count, 0, "the server's SYN-ACK and reset took the fused way");
        const written = p.serverDev.written.slice(w0);
        const flags = written.map(({ frame }) => frame[p.ipAt + 20 + TcpOffset.FLAGS]);
        assert.ok(flags.some((f) => (f & 0x12) === 0x12), 'a SYN-ACK written');
        assert.ok(flags.some((f) => (f & 0x04) !== 0), 'a reset written');
        for (const { header, frame } of written) {
          const ip = frame.subarray(p.ipAt).slice();
          assert.equal(onesSum(ip, 0, 20, 0), 0xffff, 'IPv4 header checksum');
          const len = ip.length - 20;
          const pseudo = pseudoHeaderSum(SERVER_ADDR, CLIENT_ADDR, IpProtocol.TCP, len);
          if ((header[VnetOffset.FLAGS] & VnetFlags.NEEDS_CSUM) !== 0) {
            assert.ok(offload, 'a partial checksum only where the link finishes it');
            assert.equal((ip[20 + TcpOffset.CHECKSUM] << 8) | ip[21 + TcpOffset.CHECKSUM], pseudo, 'the pseudo-header sum');
            const c = ~onesSum(ip, 20, len, 0) & 0xffff;
            ip[20 + TcpOffset.CHECKSUM] = c >>> 8;
            ip[21 + TcpOffset.CHECKSUM] = c & 0xff;
          }
          assert.equal(onesSum(ip, 20, len, pseudo), 0xffff, 'TCP checksum');
        }
      });

      it('gives every segment to an observer of the transport taps, with the bytes the fused way writes', async () => {
        const p = (pair = await echoPair(layer, offload));
        const longWay = countLongWay(p.client, IpProtocol.TCP);
        const w0 = p.clientDev.written.length;
        await echo(p, message(5, 1));
        assert.equal(longWay.count, 0);
        const seen: unknown[] = [];
        const sub = p.client.taps.transport.down$.subscribe((s) => seen.push(s));
        const w1 = p.clientDev.written.length;
        await echo(p, message(5, 1));
        sub.unsubscribe();
        const observed = p.clientDev.written.length - w1;
        assert.ok(observed >= 1);
        assert.equal(seen.length, observed, 'the observer saw every segment');
        assert.equal(longWay.count, observed, 'all of them the long way');
        const [fused] = dataFrames(p, w0);
        const [long] = dataFrames(p, w1);
        assert.deepEqual(shape(p, fused.frame), shape(p, long.frame), 'the same bytes but for seq, ack, window, timestamps, checksums');
        assert.deepEqual(fused.header, long.header, 'the same virtio_net_hdr');
        assertChecksums(p, offload, fused);
        assertChecksums(p, offload, long);
        // The observer gone, the fused way again.
        const before = longWay.count;
        await echo(p, message(9, 2));
        assert.equal(longWay.count, before);
      });

      it('shows every frame to an observer of the link taps (the fused frame crosses the link boundary)', async () => {
        const p = (pair = await echoPair(layer, offload));
        const longWay = countLongWay(p.client, IpProtocol.TCP);
        const link: Uint8Array[] = [];
        const sub = p.client.taps.link.down$.subscribe((f) => link.push(f.slice()));
        const w0 = p.clientDev.written.length;
        await echo(p, message(40, 3));
        sub.unsubscribe();
        assert.equal(longWay.count, 0, 'the link taps are below the fused way');
        assert.equal(link.length, p.clientDev.written.length - w0);
      });

      for (const where of ['tcp', 'transport', 'network', 'link'] as const) {
        it(`gives every segment to a ${where} down operator`, async () => {
          let seen = 0;
          const hooks = { [where]: { down: map((d: unknown) => (seen++, d)) } } as StackHooks;
          const p = (pair = await echoPair(layer, offload, hooks));
          const s0 = seen;
          const w0 = p.clientDev.written.length;
          for (let i = 0; i < 5; i++) await echo(p, message(10 + i, i));
          assert.equal(seen - s0, p.clientDev.written.length - w0, 'the operator saw every segment written');
          assert.equal(stat(p.server, 'tcp', 'drops', 'badChecksum'), 0);
        });
      }
    });
  }
}
