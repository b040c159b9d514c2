/**
 * tapLink with offloads (IFF_VNET_HDR, TUN_F_CSUM | TUN_F_TSO4) against the kernel: the kernel's
 * TCP arrives as GSO segments of up to 64 KiB with partial checksums, ours leaves as TSO frames
 * the kernel cuts; both directions byte-exact. UDP from the kernel (partial checksum too) and
 * ICMP work as well. The plain path (offload: false) is what the other kernel tests also run.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { firstValueFrom, type Subscription } from 'rxjs';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import type { TapLink } from '../../../streams/links/tap-link.js';
import { udpEchoService } from '../../../streams/services/udp-echo.js';
import { echoService } from '../../../streams/services/echo.js';
import { describeKernelPeer, useKernelPeer, type KernelPeer } from '../../helpers/netns.js';
import { waitFor } from '../../helpers/wait-for.js';
import { pySendHashed, sha256Sink } from '../../helpers/sha256-sink.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { parseIpv4 } from '../../../src/ipv4/address.js';
import { pseudoHeaderSum } from '../../../src/wire/checksum.js';
import { emitIpv4, IpProtocol } from '../../../src/wire/ipv4.js';

const SIZE = 4 * 1024 * 1024;
const PY_DATA = `data = bytes((i * 31 + 7) & 0xff for i in range(${SIZE}))`;

function pattern(): Uint8Array {
  const b = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

function stackOn(peer: KernelPeer, offload: boolean): { link: TapLink; stack: Stack } {
  const link = peer.attach({ mac: '02:00:00:00:00:02', offload });
  return { link, stack: createStack({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.2/24'] }] }) };
}

/**
 * Serves `total` bytes on port 5002 to one connection from the kernel side, which hashes what
 * it reads; asserts the hash. 1 MiB blocks of a pattern that differs from block to block (stale
 * bytes of an earlier block would not match), written from one buffer the writer refills at
 * once (the send buffer copies).
 */
async function sendBlocksToKernel(stack: Stack, kernel: KernelPeer, total: number): Promise<void> {
  const block = new Uint8Array(1024 * 1024);
  const fill = (k: number): Uint8Array => {
    for (let i = 0; i < block.length; i++) block[i] = (i * 131 + (i >>> 11) + k * 7) & 0xff;
    return block;
  };
  const expected = createHash('sha256');
  for (let k = 0; k < total / block.length; k++) expected.update(fill(k));
  const listening = stack.tcp.listen({ port: 5002 }).subscribe((c) => {
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const k = sent / block.length;
        sent += block.length;
        if (!c.write(fill(k))) return;
      }
      c.end();
    };
    c.drain$.subscribe(pump);
    pump();
  });
  try {
    const out = await kernel.python(`import socket, hashlib
s = socket.create_connection(('198.18.0.2', 5002), timeout=60)
h = hashlib.sha256()
n = 0
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    h.update(b)
    n += len(b)
print(n, h.hexdigest())`, [], { timeoutMs: 60_000 });
    assert.equal(out.trim(), `${total} ${expected.digest('hex')}`);
  } finally {
    listening.unsubscribe();
  }
}

describeKernelPeer('tapLink with checksum and segmentation offload', function () {
  this.timeout(60_000);
  const peer = useKernelPeer({ tapName: 'rxoff0' });
  let stack: Stack | undefined;
  let sub: Subscription | undefined;
  afterEach(() => {
    sub?.unsubscribe();
    stack?.close();
    sub = undefined;
    stack = undefined;
  });

  it('receives the kernel\'s TCP as GSO segments, byte-exact (4 MiB)', async () => {
    const s = stackOn(peer(), true);
    stack = s.stack;
    assert.equal(s.link.device.offload, true);
    const sink = sha256Sink(stack, 9);
    sub = sink.subscription;
    // What the link vouches for, asked later than the stack asks (by where the frame starts in
    // its receive slab, not a mark per frame): the large TCP frames it delivered and views of
    // the same bytes, never a copy, nor a view that does not start where a frame does.
    const link = s.link;
    const vouching = { frames: 0, views: 0, copies: 0, shifted: 0 };
    const kept: Uint8Array[] = [];
    const watch = link.frames$.subscribe((frame) => {
      if (frame.length > 10_000 && kept.length < 64) kept.push(frame);
    });
    const sent = (await peer().python(pySendHashed(PY_DATA, '198.18.0.2', 9, 20), [], { timeoutMs: 30_000 })).trim();
    await waitFor('the FIN', () => (sink.finished ? true : undefined));
    watch.unsubscribe();
    const vouched = (frame: Uint8Array): boolean => link.checksumVerified?.(frame) === true;
    for (const frame of kept) {
      if (vouched(frame)) vouching.frames++;
      if (vouched(new Uint8Array(frame.buffer, frame.byteOffset, frame.length))) vouching.views++;
      if (vouched(frame.slice())) vouching.copies++;
      if (vouched(frame.subarray(20))) vouching.shifted++;
    }
    assert.ok(kept.length > 0, 'large frames were seen');
    assert.deepEqual(vouching, { frames: kept.length, views: kept.length, copies: 0, shifted: 0 });
    assert.equal(sink.received, SIZE);
    assert.equal(sink.hash.digest('hex'), sent);
    const st = s.link.stats();
    assert.ok(st.rxSuperFrames > 0, 'some frames were GSO segments');
    assert.ok(st.rxFrames < SIZE / 1460 / 2, `${st.rxFrames} frames for ${SIZE} bytes`);
    assert.equal(stack.tcpLayer.counters.drops['badChecksum'], 0, 'partial checksums were not mistaken for bad ones');
  });

  it('sends TSO frames the kernel cuts, byte-exact (4 MiB), when the stack connects out', async () => {
    const s = stackOn(peer(), true);
    stack = s.stack;
    const server = peer().spawn('python3', ['-u', '-c', `import socket, hashlib
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('198.18.0.1', 5001))
l.listen(1)
print('ready', flush=True)
c, _ = l.accept()
h = hashlib.sha256()
n = 0
while True:
    b = c.recv(262144)
    if not b:
        break
    h.update(b)
    n += len(b)
print(n, h.hexdigest(), flush=True)
c.close()`]);
    let out = '';
    server.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await waitFor('the server', () => (out.includes('ready') ? true : undefined));
    const conn = await firstValueFrom(stack.tcp.connect({ address: '198.18.0.1', port: 5001 }));
    const data = pattern();
    await firstValueFrom(conn.write$(data), { defaultValue: undefined });
    conn.end();
    const line = await waitFor('the server\'s digest', () => out.split('\n').find((l) => /^\d+ [0-9a-f]{64}$/.test(l)), { timeoutMs: 20_000 });
    const [n, digest] = line.split(' ');
    assert.equal(Number(n), SIZE);
    assert.equal(digest, createHash('sha256').update(data).digest('hex'));
    const st = s.link.stats();
    assert.ok(st.txSuperFrames > 0, 'TCP sent large segments the kernel cut');
    assert.ok(st.txFrames < SIZE / 1448 / 2, `${st.txFrames} frames for ${SIZE} bytes`);
  });

  it('64 MiB from the stack to the kernel: byte-exact, in large segments written as GSO frames gathered from the send buffer', async () => {
    const s = stackOn(peer(), true);
    stack = s.stack;
    const BIG = 64 * 1024 * 1024;
    await sendBlocksToKernel(s.stack, peer(), BIG);
    const st = s.link.stats();
    const tcp = stack.stats().tcpConnections;
    assert.ok(st.txSuperFrames > BIG / 65536 / 2, `${st.txSuperFrames} GSO frames for 64 MiB`);
    assert.ok(tcp.largeSegmentsSent >= st.txSuperFrames, 'each GSO frame is one large segment of TCP');
    assert.ok(st.txFrames < BIG / 1448 / 4, `${st.txFrames} frames written for 64 MiB`);
    // Every large segment left as headers + a view of the send buffer (one writev, no copy).
    assert.ok(st.txSuperFrames > 0 && st.txGathered >= st.txSuperFrames, `${st.txGathered} frames gathered, ${st.txSuperFrames} GSO frames`);
  });

  it('without offload, 16 MiB from the stack to the kernel: byte-exact, full-sized segments written as a header + a view of the send buffer (no payload copy)', async () => {
    const s = stackOn(peer(), false);
    stack = s.stack;
    const SIZE16 = 16 * 1024 * 1024;
    await sendBlocksToKernel(s.stack, peer(), SIZE16);
    const st = s.link.stats();
    assert.equal(st.txSuperFrames, 0, 'no GSO without offload');
    // Nearly every data segment is full-sized and leaves gathered; ACKs and the handshake whole.
    assert.ok(st.txGathered > SIZE16 / 1448 * 0.9, `${st.txGathered} of ${st.txFrames} frames gathered for 16 MiB`);
    assert.ok(st.txFrames > st.txGathered, 'the handshake and the FIN leave whole');
  });

  it('sendGathered: a frame the device cannot take yet is queued as a copy when the link writes it (the end of the task), so the lent payload may change after that', async () => {
    const link = peer().attach({ mac: '02:00:00:00:00:02', offload: true });
    const listener = peer().spawn('python3', ['-c', `import socket, hashlib
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(('198.18.0.1', 9999))
u.settimeout(10)
print('ready', flush=True)
print(hashlib.sha256(u.recvfrom(65536)[0]).hexdigest(), flush=True)`]);
    let out = '';
    listener.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await waitFor('the UDP socket', () => (out.startsWith('ready') ? true : undefined));
    // A UDP datagram to the kernel, its payload lent as the TCP send buffer's would be.
    const payload = new Uint8Array(1000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 13 + 1) & 0xff;
    const expected = createHash('sha256').update(payload).digest('hex');
    const src = parseIpv4('198.18.0.2')!;
    const dst = parseIpv4('198.18.0.1')!;
    const pb = PacketBuffer.alloc(0);
    const u = pb.prepend(8);
    const udpLength = 8 + payload.length;
    const pseudo = pseudoHeaderSum(src, dst, IpProtocol.UDP, udpLength); // the device finishes it
    pb.buf.set([40000 >>> 8, 40000 & 0xff, 9999 >>> 8, 9999 & 0xff, udpLength >>> 8, udpLength & 0xff, pseudo >>> 8, pseudo & 0xff], u);
    pb.tail = payload;
    emitIpv4({ src, dst, protocol: IpProtocol.UDP, ttl: 64, ident: 1, dontFragment: true, moreFragments: false, fragmentOffset: 0 }, pb);
    const e = pb.prepend(14);
    pb.buf.set(link.device.macBytes, e);
    pb.buf.set([2, 0, 0, 0, 0, 2, 0x08, 0x00], e + 6);
    const head = pb.buf.subarray(pb.head, pb.end);
    link.device.holdWrites(true); // as if the kernel said EAGAIN
    link.sendGathered!(head, payload, 34, 6, 0);
    assert.equal(link.device.stats().txQueued, 0, 'batched with the task\'s other frames (the payload is unchanged until the task ends)');
    await new Promise((done) => setImmediate(done));
    assert.equal(link.device.stats().txQueued, 1, 'the frame waits in the device queue');
    payload.fill(0xee); // the lender reuses its bytes at once (the send buffer after an ACK)
    head.fill(0);
    link.device.holdWrites(false);
    await waitFor('the datagram', () => (out.split('\n').length > 2 ? true : undefined), { timeoutMs: 15_000 });
    assert.equal(out.split('\n')[1], expected, 'the kernel got the bytes as they were when sent');
    assert.equal(link.stats().txGathered, 1);
  });

  it('without offload, the kernel\'s MTU-sized segments are coalesced per read batch (GRO-like), byte-exact (16 MiB)', async () => {
    const s = stackOn(peer(), false);
    stack = s.stack;
    const BIG = 16 * 1024 * 1024;
    const sink = sha256Sink(stack, 9);
    sub = sink.subscription;
    const sent = (await peer().python(pySendHashed('data = bytes((i * 131 + (i >> 11)) & 0xff for i in range(1 << 20)) * 16', '198.18.0.2', 9, 30), [], { timeoutMs: 60_000 })).trim();
    await waitFor('the FIN', () => (sink.finished ? true : undefined));
    assert.equal(sink.received, BIG);
    assert.equal(sink.hash.digest('hex'), sent);
    const st = s.link.stats();
    assert.equal(st.rxSuperFrames, 0, 'plain frames from the kernel');
    assert.ok(st.rxCoalescedFrames > 0 && st.rxSegmentsCoalesced > st.rxCoalescedFrames, `${st.rxSegmentsCoalesced} segments in ${st.rxCoalescedFrames} coalesced`);
    assert.ok(stack.stats().tcpConnections.segmentsReceived < st.rxFrames, 'TCP saw fewer segments than the link read');
    assert.equal(stack.tcpLayer.counters.drops['badChecksum'], 0);
  });

  it('request/response from the kernel: each reply written as one piece (its virtio_net_hdr in the packet\'s headroom), TCP and UDP, and the kernel takes them', async () => {
    const s = stackOn(peer(), true);
    stack = s.stack;
    const device = s.link.device;
    const writeSpan = device.writeSpan.bind(device);
    let spans = 0;
    // Counted on the instance: the link calls the device's method per frame.
    (device as { writeSpan: typeof writeSpan }).writeSpan = (bytes, start, end) => {
      spans++;
      return writeSpan(bytes, start, end);
    };
    const tcp = echoService(stack, 7);
    sub = udpEchoService(stack, 7);
    try {
      const out = await peer().python(`import socket
t = socket.create_connection(('198.18.0.2', 7), timeout=3)
t.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(3)
ok = 0
for i in range(50):
    msg = bytes([i, 1, 2])
    t.sendall(msg)
    got = b''
    while len(got) < 3:
        got += t.recv(3 - len(got))
    u.sendto(msg, ('198.18.0.2', 7))
    ok += (got == msg) + (u.recvfrom(100)[0] == msg)
print(ok)`, [], { timeoutMs: 20_000 });
      assert.equal(out.trim(), '100');
    } finally {
      tcp.unsubscribe();
    }
    assert.ok(spans >= 90, `replies written as one piece: ${spans}`);
    assert.equal(s.link.stats().txErrors, 0);
  });

  it('UDP from the kernel (partial checksums) and ping work over the offloaded link', async () => {
    const s = stackOn(peer(), true);
    stack = s.stack;
    sub = udpEchoService(stack, 7);
    // Asked after the stack has handled each frame (this subscriber comes after the stack's);
    // unfragmented datagrams only (the kernel sums fragmented ones itself).
    const vouched: Array<[number, boolean]> = [];
    const frames = s.link.frames$.subscribe((f) => {
      if (f[23] === IpProtocol.UDP && (f[20] & 0x3f) === 0 && f[21] === 0) vouched.push([f.length, s.link.checksumVerified!(f)]);
    });
    const out = await peer().python(`import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(3)
ok = 0
for size in (1, 100, 1472, 3000):
    msg = bytes((i * 5) & 0xff for i in range(size))
    u.sendto(msg, ('198.18.0.2', 7))
    got, _ = u.recvfrom(65536)
    ok += got == msg
print(ok)`, [], { timeoutMs: 20_000 });
    frames.unsubscribe();
    assert.equal(out.trim(), '4');
    assert.equal(stack.udpLayer.counters.drops['badChecksum'], 0);
    // Every datagram's checksum was the kernel's partial one, finished or vouched for by the
    // link, small ones included (completed, then vouched for: the transport does not sum again).
    assert.ok(vouched.some(([n]) => n < 100), 'a small datagram came');
    assert.deepEqual(vouched.filter(([, v]) => !v), [], 'each UDP frame vouched for');
    const reply = await firstValueFrom(stack.icmp.ping('198.18.0.1', { count: 1 }));
    assert.equal(reply.from, '198.18.0.1');
    assert.ok(Number.isFinite(reply.rttMs) && reply.rttMs >= 0 && reply.rttMs <= 2000, `rtt ${reply.rttMs} within the ping's default timeout (2 s)`);
  });

  it('offload: false opens the device without the virtio header and takes plain frames', async () => {
    const s = stackOn(peer(), false);
    stack = s.stack;
    assert.equal(s.link.device.offload, false);
    sub = udpEchoService(stack, 7);
    const out = await peer().python(`import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(3)
u.sendto(b'plain', ('198.18.0.2', 7))
print(u.recvfrom(100)[0].decode())`, [], { timeoutMs: 20_000 });
    assert.equal(out.trim(), 'plain');
    assert.equal(s.link.stats().rxSuperFrames, 0);
  });
});
