/**
 * A writeBatch's frames through io_uring, several per system call (native/tap-uring.h), against
 * the real kernel in namespaces the tests make: the frames reach the kernel in order with the
 * counters plain writes keep, a failing write is counted as before, a device that answers EAGAIN
 * (a small send buffer and a bridge port that holds the frames) queues what it refused and sends
 * every frame once, the option and RX_NETSTACK_TAP_URING=0 give plain writes, and a bulk transfer
 * from the stack writes several frames per submission.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { TapDevice } from '../../../streams/links/tap-device.js';
import { createStack } from '../../../streams/stack/create-stack.js';
import { chargenService } from '../../../streams/services/chargen.js';
import { waitFor } from '../../helpers/wait-for.js';
import { describeKernelPeer, useKernelPeer, type KernelPeer } from '../../helpers/netns.js';

/** A 42-byte gratuitous ARP from 198.18.0.2; byte 41 (the target address's last byte) tells frames apart. */
const GARP = Uint8Array.from(Buffer.from(
  'ffffffffffff' + '020000000002' + '0806' + '0001' + '0800' + '06' + '04' + '0001' +
  '020000000002' + 'c6120002' + '000000000000' + 'c6120002', 'hex'));

/** The all-zero virtio_net_hdr (no offload) a frame carries on a device opened with offload. */
const NO_OFFLOAD = new Uint8Array(10);

/** Whether this kernel lets a process use io_uring at all (kernel.io_uring_disabled, 6.6+). */
function uringAllowed(): boolean {
  try {
    return readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim() === '0';
  } catch {
    return true; // an older kernel: no such switch
  }
}

/**
 * A packet socket on the device inside the namespace that prints the numbers of the first `n`
 * ARP frames, in order: byte 41, or with `wide` bytes 40-41.
 */
function arpOrder(peer: KernelPeer, name: string, n: number, { wide = false, timeoutMs = 10_000 } = {}): { ready: Promise<true>; order: Promise<number[]>; child: ChildProcess } {
  const child = peer.spawn('python3', ['-c', `import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(('${name}', 0))
s.settimeout(${Math.ceil(timeoutMs / 2000)})
print('ready', flush=True)
seen = []
while len(seen) < ${n}:
    f = s.recv(2048)
    seen.append(${wide ? 'f[40] * 256 + f[41]' : 'f[41]'})
print(' '.join(map(str, seen)), flush=True)`]);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const ready = waitFor('the packet socket', () => (out.startsWith('ready') ? true : undefined));
  const order = waitFor('the order seen by the kernel', () => (out.split('\n').length > 2 ? out.split('\n')[1].split(' ').map(Number) : undefined), { timeoutMs });
  return { ready, order, child };
}

const numbered = (count: number): Uint8Array[] =>
  Array.from({ length: count }, (_, i) => {
    const f = GARP.slice();
    f[41] = i;
    return f;
  });

describeKernelPeer('TapDevice: several frames per system call (io_uring)', () => {
  const peer = useKernelPeer({ createTap: false, tapName: 'rxur0' });
  const open = (extra: Partial<ConstructorParameters<typeof TapDevice>[0]> = {}): TapDevice =>
    new TapDevice({ name: peer().tapName, netns: peer().netns, up: true, ...extra });

  for (const offload of [false, true]) {
    it(`writeBatch's frames reach the kernel in order, 64 per system call, counted as plain writes are (offload ${offload ? 'on' : 'off'})`, async () => {
      const device = open({ offload });
      try {
        assert.equal(device.stats().txUring, uringAllowed() ? 1 : 0);
        const frames = numbered(150);
        const { ready, order } = arpOrder(peer(), peer().tapName, 150);
        await ready;
        // The flat form as the link writes it: with offload, bare frames (the addon puts the
        // all-zero header in front) and frames behind their own header, mixed.
        const pieces: Uint8Array[] = [];
        const counts: number[] = [];
        frames.forEach((f, i) => {
          if (offload && i % 2 === 1) {
            pieces.push(NO_OFFLOAD, f);
            counts.push(2);
          } else {
            pieces.push(f);
            counts.push(1);
          }
        });
        assert.equal(device.writeBatch(pieces, Uint8Array.from(counts)), 150);
        const s = device.stats();
        assert.equal(s.txFrames, 150);
        assert.equal(s.txBytes, 150 * GARP.length, 'frame bytes, the virtio_net_hdr not counted');
        assert.equal(s.txQueuedTotal, 0);
        assert.equal(s.txErrors, 0);
        if (s.txUring === 1) {
          assert.equal(s.txSubmits, 3, '64 + 64 + 22 frames');
          assert.equal(s.txUringFrames, 150);
        }
        assert.deepEqual(await order, Array.from({ length: 150 }, (_, i) => i), 'first in, first out');
      } finally {
        device.close();
      }
    });
  }

  it('writeBatch of arrays (gathered frames among plain ones) goes the same way, and one frame is one plain write', async () => {
    const device = open();
    try {
      const frames = numbered(5);
      const { ready, order } = arpOrder(peer(), peer().tapName, 6);
      await ready;
      assert.equal(device.writeBatch([frames[0], [frames[1].subarray(0, 14), frames[1].subarray(14)], frames[2], frames[3], frames[4]]), 5);
      assert.equal(device.writeBatch([numbered(6)[5]]), 1);
      const s = device.stats();
      assert.equal(s.txFrames, 6);
      if (s.txUring === 1) {
        assert.equal(s.txSubmits, 1, 'the batch of one frame was a plain write');
        assert.equal(s.txUringFrames, 5);
      }
      assert.deepEqual(await order, [0, 1, 2, 3, 4, 5]);
    } finally {
      device.close();
    }
  });

  it('a write the kernel refuses (the device is down: EIO) is counted per frame, as with plain writes', () => {
    const device = open({ up: false });
    try {
      assert.equal(device.writeBatch(numbered(3)), 0, 'none accepted');
      const s = device.stats();
      assert.equal(s.txErrors, 3);
      assert.equal(s.txFrames, 0);
      if (s.txUring === 1) assert.equal(s.txSubmits, 1);
    } finally {
      device.close();
    }
  });

  it('frames of a batch wait behind frames already queued, in order (the queue goes first: no io_uring then)', async () => {
    const device = open({ writeQueueLimit: 100 });
    try {
      device.holdWrites(true);
      const frames = numbered(20);
      assert.equal(device.writeBatch(frames.slice(0, 10)), 10);
      assert.equal(device.stats().txQueued, 10);
      const { ready, order } = arpOrder(peer(), peer().tapName, 20);
      await ready;
      // Writable again, but the poll has not flushed the queue yet: the next batch must wait behind it.
      device.holdWrites(false);
      assert.equal(device.writeBatch(frames.slice(10)), 10);
      assert.equal(device.stats().txQueued, 20);
      await waitFor('the queue to drain', () => (device.stats().txQueued === 0 ? true : undefined));
      const s = device.stats();
      assert.equal(s.txFrames, 20);
      assert.equal(s.txQueuedTotal, 20);
      assert.equal(s.txSubmits, 0);
      assert.equal(s.txReordered, 0);
      assert.deepEqual(await order, Array.from({ length: 20 }, (_, i) => i));
    } finally {
      device.close();
    }
  });

  // tun's own send buffer is effectively unlimited and the kernel consumes a frame inside write(),
  // so a real EAGAIN needs both a small send buffer (TUNSETSNDBUF) and frames the kernel holds
  // on to: a bridge forwards our unicast frames (the very skbs we wrote, still charged to the
  // device's socket) into a slow token bucket on another port, which lets them go at 8 Mbit/s.
  for (const uring of [true, false]) {
    it(`a device that answers EAGAIN for real (small send buffer, a slow bridge port): every frame queued and sent once, none dropped (${uring ? 'io_uring' : 'plain writes'})`, async () => {
      const p = peer();
      const device = open({ uring, writeQueueLimit: 1000, sendBuffer: 16_384 });
      try {
        await p.ip(['link', 'add', 'rxurbr', 'type', 'bridge']);
        await p.ip(['link', 'add', 'rxurv0', 'type', 'veth', 'peer', 'name', 'rxurv1']);
        for (const port of [p.tapName, 'rxurv0']) await p.ip(['link', 'set', port, 'master', 'rxurbr']);
        for (const dev of ['rxurbr', 'rxurv0', 'rxurv1']) await p.ip(['link', 'set', dev, 'up']);
        await p.run('tc', ['qdisc', 'add', 'dev', 'rxurv0', 'root', 'tbf', 'rate', '8mbit', 'burst', '1600', 'limit', '4000000']);
        const far = '02:00:00:00:00:99';
        await p.run('bridge', ['fdb', 'add', far, 'dev', 'rxurv0', 'master', 'static']);
        const count = 300;
        // 1,000-byte frames to the far address; bytes 40-41 number them.
        const frames = Array.from({ length: count }, (_, i) => {
          const f = new Uint8Array(1000);
          f.set(GARP);
          f.set([0x02, 0, 0, 0, 0, 0x99], 0);
          f[40] = i >> 8;
          f[41] = i & 0xff;
          return f;
        });
        const { ready, order } = arpOrder(p, 'rxurv1', count, { wide: true, timeoutMs: 15_000 });
        await ready;
        let accepted = 0;
        for (let i = 0; i < count; i += 60) accepted += device.writeBatch(frames.slice(i, i + 60));
        assert.equal(accepted, count, 'every frame accepted (written or queued)');
        const held = device.stats();
        assert.ok(held.txQueuedTotal > 0, `the device said EAGAIN and frames were queued (${JSON.stringify(held)})`);
        if (uring && held.txUring === 1) assert.ok(held.txSubmits > 0, 'batches went through io_uring');
        const seen = await order;
        const s = device.stats();
        assert.equal(s.txQueued, 0, 'the queue drained when the device became writable');
        assert.equal(s.txFrames, count);
        assert.equal(s.txDropped, 0);
        assert.equal(s.txErrors, 0);
        assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: count }, (_, i) => i), 'each frame once');
        // Only a frame that io_uring wrote after an earlier one of its call was queued may overtake.
        if (s.txReordered === 0) assert.deepEqual(seen, Array.from({ length: count }, (_, i) => i), 'first in, first out');
        else assert.ok(uring, 'plain writes never reorder');
      } finally {
        device.close();
        await p.ip(['link', 'del', 'rxurv0']).catch(() => undefined);
        await p.ip(['link', 'del', 'rxurbr']).catch(() => undefined);
      }
    }).timeout(30_000);
  }

  it('uring: false, or RX_NETSTACK_TAP_URING=0 when the option is not given, writes one frame per system call', async () => {
    const saved = process.env.RX_NETSTACK_TAP_URING;
    for (const how of ['option', 'env'] as const) {
      if (how === 'env') process.env.RX_NETSTACK_TAP_URING = '0';
      let device: TapDevice | undefined;
      try {
        device = how === 'option' ? open({ uring: false }) : open();
        const { ready, order } = arpOrder(peer(), peer().tapName, 10);
        await ready;
        assert.equal(device.writeBatch(numbered(10)), 10);
        const s = device.stats();
        assert.equal(s.txUring, 0, how);
        assert.equal(s.txSubmits, 0, how);
        assert.equal(s.txFrames, 10, how);
        assert.deepEqual(await order, Array.from({ length: 10 }, (_, i) => i), how);
      } finally {
        device?.close();
        if (saved === undefined) delete process.env.RX_NETSTACK_TAP_URING;
        else process.env.RX_NETSTACK_TAP_URING = saved;
      }
    }
  });
});

describeKernelPeer('kernel peer: bulk from the stack, several frames per system call', () => {
  const peer = useKernelPeer();

  it('chargen to a kernel reader: 16 MiB byte-exact, and the link wrote several frames per io_uring submission', async () => {
    const link = peer().attach({ mac: '02:00:00:00:00:02' });
    const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.2/24'] }] });
    try {
      chargenService(stack, 19);
      const out = await peer().python(`import socket
cycle = b''.join(bytes(32 + (line + i) % 95 for i in range(72)) + b'\\r\\n' for line in range(95))
c = socket.create_connection(('198.18.0.2', 19), timeout=10)
got = bytearray()
while len(got) < (16 << 20):
    chunk = c.recv(1 << 16)
    if not chunk:
        break
    got += chunk
want = (cycle * (len(got) // len(cycle) + 1))[:len(got)]
print('ok' if bytes(got) == want else 'mismatch')
c.close()`, [], { timeoutMs: 30_000 });
      assert.equal(out.trim(), 'ok');
      const s = link.device.stats();
      assert.equal(s.txReordered, 0);
      if (!uringAllowed()) {
        // io_uring disabled on this kernel: plain writes, decided at open.
        assert.equal(s.txUring, 0);
        assert.equal(s.txSubmits, 0);
        return;
      }
      assert.equal(s.txUring, 1);
      assert.ok(s.txSubmits > 0, 'some flushes carried several frames');
      assert.ok(s.txUringFrames >= 2 * s.txSubmits, `${s.txUringFrames} frames in ${s.txSubmits} submissions`);
    } finally {
      stack.close();
    }
  }).timeout(40_000);
});
