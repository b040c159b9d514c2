/**
 * UDP from the stack over a TAP device with offload: datagrams sent by the fused way out leave
 * their checksum partial (NEEDS_CSUM) for the kernel to finish. A kernel that delivers such a
 * datagram locally trusts it without summing, so the bytes are checked here as a device would
 * finish them: a packet socket with PACKET_VNET_HDR on the kernel side of the TAP gets each
 * frame with the virtio_net_hdr the kernel made from ours (where to finish, as it parsed it); the
 * Python side finishes the checksum there and verifies it from scratch against the
 * pseudo-header, and the payload against the pattern sent.
 */
import assert from 'node:assert/strict';
import { createStack, type Stack } from '../../streams/stack/create-stack.js';
import { stat } from '../streams/stack/raw-peer.js';
import { describeKernelPeer, useKernelPeer } from '../helpers/netns.js';
import { useCloseAfterEach } from '../helpers/close-after-each.js';
import { startPython } from '../helpers/python.js';

const STACK_IP = '198.18.0.2';
const HOST_IP = '198.18.0.1';
const PORT = 9999;
/** Sizes 1..1472 (odd and even lengths, the largest that fits one frame). */
const SIZES = Array.from({ length: 60 }, (_, i) => 1 + Math.floor((i * 1471) / 59));

const pattern = (size: number): Uint8Array => Uint8Array.from({ length: size }, (_, j) => (j * 7 + size * 13) & 0xff);

describeKernelPeer('kernel peer: UDP with checksum offload (TAP)', () => {
  const peer = useKernelPeer();
  const closeAfterTest = useCloseAfterEach<Stack>();

  it('sends datagrams with NEEDS_CSUM whose checksums, finished as a device does, are right', async () => {
    const p = peer();
    const link = p.attach({ mac: '02:00:00:00:00:02', offload: true });
    const stack = closeAfterTest(createStack({ interfaces: [{ name: 'eth0', link, ipv4: [`${STACK_IP}/24`] }] }));
    const capture = await startPython(p, `import socket, struct, sys
SOL_PACKET, PACKET_VNET_HDR = 263, 15
ps = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
ps.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
ps.bind(('${p.tapName}', 0x0800))
ps.settimeout(10)
us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
us.bind(('${HOST_IP}', ${PORT}))
def ones(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s > 0xffff: s = (s & 0xffff) + (s >> 16)
    return s
print('ready')
partial = 0
for n in range(${SIZES.length}):
    while True:
        buf = ps.recv(70000)
        frame = buf[10:]
        if frame[23] == 17 and frame[36:38] == struct.pack('!H', ${PORT}): break
    flags, gso, hlen, gsize, start, off = struct.unpack('<BBHHHH', buf[:10])
    f = bytearray(frame)
    if flags & 1:
        partial += 1
        if (start, off) != (34, 6): print('bad place', start, off); sys.exit(1)
        c = (~ones(bytes(f[start:]))) & 0xffff or 0xffff
        f[start + off:start + off + 2] = struct.pack('!H', c)
    ulen = struct.unpack('!H', f[38:40])[0]
    pseudo = f[26:34] + struct.pack('!BBH', 0, 17, ulen)
    if ones(bytes(pseudo) + bytes(f[34:34 + ulen])) != 0xffff: print('bad checksum at', n, 'length', ulen); sys.exit(1)
    size = ulen - 8
    want = bytes(((j * 7 + size * 13) & 0xff) for j in range(size))
    if bytes(f[42:42 + size]) != want: print('bad payload at', n); sys.exit(1)
print('ok', ${SIZES.length}, 'partial', partial)`, 30_000);
    // The kernel side's MAC known, so every datagram can take the fused way.
    const info = await p.linkInfo();
    assert.ok(info !== undefined);
    stack.arp.addStatic(HOST_IP, info.address);
    const socket = stack.udp.bind();
    for (const size of SIZES) socket.send(pattern(size), { address: HOST_IP, port: PORT });
    const out = (await capture.done).trim().split('\n').pop() ?? '';
    const m = /^ok (\d+) partial (\d+)$/.exec(out);
    assert.ok(m !== null, out);
    assert.equal(Number(m[1]), SIZES.length);
    // Every one by the fused way, partial.
    assert.equal(Number(m[2]), SIZES.length);
    assert.equal(stat(stack, 'udp', 'txDatagrams'), SIZES.length);
  }).timeout(60_000);
});
