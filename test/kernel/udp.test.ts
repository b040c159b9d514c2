/**
 * UDP against the Linux kernel: our stack on a TAP device (198.18.0.2, its own MAC), the kernel
 * on the other side (198.18.0.1), in a namespace of the test's own (test/helpers/netns.ts).
 * The kernel side is python3 with the standard library.
 */
import assert from 'node:assert/strict';
import { firstValueFrom, take, timeout, toArray } from 'rxjs';
import { createStack, type Stack } from '../../streams/stack/create-stack.js';
import { udpEchoService } from '../../streams/services/udp-echo.js';
import { stat } from '../streams/stack/raw-peer.js';
import { describeKernelPeer, useKernelPeer, type KernelPeer } from '../helpers/netns.js';
import { useCloseAfterEach } from '../helpers/close-after-each.js';
import { startPython } from '../helpers/python.js';

const STACK_IP = '198.18.0.2';
const HOST_IP = '198.18.0.1';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (d: { payload: Uint8Array }): string => new TextDecoder().decode(d.payload);

const PY_PATTERN = `def pattern(size):
    return bytes(((j * 7 + size * 13) & 0xff) for j in range(size))
`;

function stackOn(peer: KernelPeer): Stack {
  const link = peer.attach({ mac: '02:00:00:00:00:02' });
  return createStack({ interfaces: [{ name: 'eth0', link, ipv4: [`${STACK_IP}/24`] }] });
}

/** The kernel-side programs answer within their own 10 s socket timeouts; killed after 20 s. */
const PYTHON_MS = 20_000;

describeKernelPeer('kernel peer: UDP', () => {
  const peer = useKernelPeer();
  const closeAfterTest = useCloseAfterEach<Stack>();

  it('echoes 1,000 datagrams of sizes 1..1472 from a kernel socket exactly', async () => {
    const stack = closeAfterTest(stackOn(peer()));
    udpEchoService(stack, 7);
    const out = await peer().python(`${PY_PATTERN}
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect(('${STACK_IP}', 7))
sizes = set()
for i in range(1000):
    size = 1 + (i * 1471) // 999
    sizes.add(size)
    data = pattern(size)
    s.send(data)
    back = s.recv(65535)
    if back != data:
        print('mismatch at', i, 'size', size, 'got', len(back))
        sys.exit(1)
print('ok', 1000, min(sizes), max(sizes))`, [], { timeoutMs: 60_000 });
    assert.equal(out.trim(), 'ok 1000 1 1472');
    assert.equal(stat(stack, 'udp', 'rxDelivered'), 1000);
    assert.equal(stat(stack, 'udp', 'txDatagrams'), 1000);
    assert.equal(stat(stack, 'udp', 'drops', 'badChecksum'), 0, 'the kernel checksums verify');
  }).timeout(90_000);

  it('echoes a 4,000 and a 60,000-byte datagram (fragmented both ways)', async () => {
    const stack = closeAfterTest(stackOn(peer()));
    udpEchoService(stack, 7);
    const out = await peer().python(`${PY_PATTERN}
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(('${STACK_IP}', 7))
for size in (4000, 60000):
    data = pattern(size)
    s.send(data)
    back = s.recv(65535)
    if back != data:
        print('mismatch size', size, 'got', len(back))
        sys.exit(1)
    print('ok', size)`);
    assert.equal(out.trim(), 'ok 4000\nok 60000');
    const reassembled = stat(stack, 'ipv4', 'rxReassembled');
    const fragments = stat(stack, 'ipv4', 'txFragments');
    assert.ok(reassembled >= 2, `we reassembled ${reassembled}`);
    assert.ok(fragments >= 3 + 41, `we fragmented into ${fragments}`);
  }).timeout(30_000);

  it('a connected kernel socket sending to a closed port gets ECONNREFUSED', async () => {
    const stack = closeAfterTest(stackOn(peer()));
    const out = await peer().python(`import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect(('${STACK_IP}', 9999))
s.send(b'anyone there?')
try:
    s.recv(100)
    print('answered')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')`);
    assert.equal(out.trim(), 'refused');
    assert.equal(stat(stack, 'udp', 'drops', 'noPort'), 1);
    assert.equal(stat(stack, 'icmp', 'txErrors'), 1);
  });

  it('two stack sockets on different ports receive only their own traffic', async () => {
    const stack = closeAfterTest(stackOn(peer()));
    const s1 = stack.udp.bind({ port: 1001 });
    const s2 = stack.udp.bind({ port: 1002, address: STACK_IP });
    const got1 = firstValueFrom(s1.datagrams$.pipe(take(3), toArray(), timeout(5000)));
    const got2 = firstValueFrom(s2.datagrams$.pipe(take(2), toArray(), timeout(5000)));
    await peer().python(`import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${HOST_IP}', 4321))
for port, msg in ((1001, b'a'), (1002, b'b'), (1001, b'c'), (1002, b'd'), (1001, b'e')):
    s.sendto(msg, ('${STACK_IP}', port))`);
    const d1 = await got1;
    const d2 = await got2;
    assert.deepEqual(d1.map(text), ['a', 'c', 'e']);
    assert.deepEqual(d2.map(text), ['b', 'd']);
    for (const d of [...d1, ...d2]) {
      assert.equal(d.address, HOST_IP);
      assert.equal(d.port, 4321);
      assert.equal(d.interface, 'eth0');
    }
  });

  it('a stack socket sends to a kernel socket and gets its answer (small and fragmented)', async () => {
    const stack = closeAfterTest(stackOn(peer()));
    const server = await startPython(peer(), `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${HOST_IP}', 5555))
s.settimeout(10)
print('ready')
for i in range(3):
    data, addr = s.recvfrom(65535)
    s.sendto(data.upper(), addr)
    print('served', addr[0], addr[1], len(data))`, PYTHON_MS);
    const socket = stack.udp.bind();
    const answers = firstValueFrom(socket.datagrams$.pipe(take(3), toArray(), timeout(8000)));
    const big = 'q'.repeat(30_000);
    socket.send(enc('hello kernel'), { address: HOST_IP, port: 5555 });
    socket.send(enc('x'.repeat(4000)), { address: HOST_IP, port: 5555 });
    socket.send(enc(big), { address: HOST_IP, port: 5555 });
    const got = await answers;
    assert.deepEqual(got.map(text), ['HELLO KERNEL', 'X'.repeat(4000), big.toUpperCase()]);
    for (const d of got) {
      assert.equal(d.address, HOST_IP);
      assert.equal(d.port, 5555);
    }
    const log = await server.done;
    const port = socket.address().port;
    assert.equal(log.trim(), ['ready', `served ${STACK_IP} ${port} 12`, `served ${STACK_IP} ${port} 4000`, `served ${STACK_IP} ${port} 30000`].join('\n'));
  }).timeout(30_000);

  it('a connected stack socket gets ECONNREFUSED from the kernel and keeps working', async () => {
    const stack = closeAfterTest(stackOn(peer()));
    const socket = stack.udp.bind();
    socket.connect({ address: HOST_IP, port: 6666 });
    const refused = firstValueFrom(socket.errors$.pipe(timeout(5000)));
    socket.send(enc('nobody'));
    assert.equal((await refused).code, 'ECONNREFUSED');
    assert.equal(socket.closed, false);

    const server = await startPython(peer(), `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${HOST_IP}', 6666))
s.settimeout(10)
print('ready')
data, addr = s.recvfrom(100)
s.sendto(data[::-1], addr)`, PYTHON_MS);
    const answer = firstValueFrom(socket.datagrams$.pipe(timeout(5000)));
    socket.send(enc('olleh'));
    assert.equal(text(await answer), 'hello');
    await server.done;
  }).timeout(30_000);

  it('a kernel broadcast to 198.18.0.255 reaches a wildcard stack socket', async () => {
    const stack = closeAfterTest(stackOn(peer()));
    const wild = stack.udp.bind({ port: 7777 });
    const got = firstValueFrom(wild.datagrams$.pipe(timeout(5000)));
    await peer().python(`import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.sendto(b'to everyone', ('198.18.0.255', 7777))`);
    const d = await got;
    assert.equal(text(d), 'to everyone');
    assert.equal(d.address, HOST_IP);
    assert.equal(stat(stack, 'udp', 'rxBroadcast'), 1);
  });
});
