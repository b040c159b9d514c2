/**
 * TCP path features against the Linux kernel (issue 10): path MTU discovery from an ICMP
 * "fragmentation needed" sent from the namespace, and ECN negotiated both ways with the kernel
 * (net.ipv4.tcp_ecn=1 in the test's namespace), with CE marks set on the way in. Our stack on a TAP
 * device (198.18.0.2), the kernel at 198.18.0.1, in a namespace of the test's own.
 */
import assert from 'node:assert/strict';
import { filter, firstValueFrom, lastValueFrom, map, toArray } from 'rxjs';
import type { Ipv4Datagram } from '../../streams/stack/ipv4-layer.js';
import type { NetworkOutbound } from '../../streams/stack/create-stack.js';
import { TcpFlags } from '../../src/wire/tcp.js';
import { createStack, type Stack, type StackOptions } from '../../streams/stack/create-stack.js';
import type { TcpConfig } from '../../src/tcp/config.js';
import { echoService } from '../../streams/services/echo.js';
import { describeKernelPeer, useKernelPeer, type KernelPeer } from '../helpers/netns.js';
import { useCloseAfterEach } from '../helpers/close-after-each.js';
import { startPython, pyListen } from '../helpers/python.js';

const STACK_IP = '198.18.0.2';
const HOST_IP = '198.18.0.1';

/** `n` bytes of a pattern both sides compute (PY_PATTERN). */
function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 131 + seed * 7 + (i >> 10)) & 0xff;
  return out;
}
const PY_PATTERN = `
def pattern(n, seed):
    return bytes((i * 131 + seed * 7 + (i >> 10)) & 0xff for i in range(n))
`;

/** A stack on the peer's TAP device, with operators at its boundaries. */
function stackOn(peer: KernelPeer, tcp: Partial<TcpConfig>, offload: boolean, options: StackOptions = {}): Stack {
  const link = peer.attach({ mac: '02:00:00:00:00:02', offload });
  return createStack({ interfaces: [{ name: 'eth0', link, ipv4: [`${STACK_IP}/24`] }], tcp }, options);
}

/** tcp_info's tcpi_options bits (linux/tcp.h). */
const PY_TCP_INFO = `
TCPI_OPT_ECN, TCPI_OPT_ECN_SEEN = 8, 16
def tcpi_options(s):
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)[5]
`;

describeKernelPeer('kernel peer: TCP path MTU and ECN', () => {
  const peer = useKernelPeer();
  const closeAfterTest = useCloseAfterEach<Stack>();

  it('an ICMP fragmentation needed (MTU 1000) from the namespace shrinks the stack\'s segments; every segment carries DF', async () => {
    const size = 2 * 1024 * 1024;
    // The stack's side of the wire plays a hop with a 1000-byte MTU that drops bigger packets
    // (DF); the kernel side plays its router: it answers with frag-needed quoting the lost
    // segment (the first data byte, ISS + 1, learnt from the SYN it watched). Without offload, so
    // the frames on the wire are the stack's segments (with offload, runs of them go out as one
    // TSO frame the kernel cuts).
    let dropped = 0;
    const narrowHop = filter((o: NetworkOutbound) => {
      if (o.pb.length <= 1000) return true;
      dropped++;
      return false;
    });
    const stack = closeAfterTest(stackOn(peer(), {}, false, { hooks: { network: { down: narrowHop } } }));
    const server = await startPython(peer(), `${PY_PATTERN}
import socket, struct, threading, time
def checksum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
${pyListen(HOST_IP, 5001)}
sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
sniff.bind(('${peer().tapName}', 0))
sniff.settimeout(1)
icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
print('ready', flush=True)
def frames():
    while True:
        try:
            frame = sniff.recv(65535)
        except socket.timeout:
            yield None
            continue
        ip = frame[14:]
        if len(ip) >= 40 and ip[9] == 6 and ip[12:16] == socket.inet_aton('${STACK_IP}'):
            yield ip
iss = None
for ip in frames():
    if ip is not None and ip[20 + 13] & 0x02:
        iss = struct.unpack('!I', ip[24:28])[0]
        break
c, _ = ls.accept()
c.settimeout(30)
got = bytearray()
def read():
    while True:
        chunk = c.recv(1 << 20)
        if not chunk:
            break
        got.extend(chunk)
t = threading.Thread(target=read)
t.start()
# The stack's first full segment (1500 bytes, DF) died at the hop: quote it.
time.sleep(0.3)
lost = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 1500, 0, 0x4000, 64, 6, 0, socket.inet_aton('${STACK_IP}'), socket.inet_aton('${HOST_IP}'))
lost += struct.pack('!HHI', c.getpeername()[1], 5001, (iss + 1) & 0xffffffff)
body = struct.pack('!BBHHH', 3, 4, 0, 0, 1000) + lost
body = body[:2] + struct.pack('!H', checksum(body)) + body[4:]
icmp.sendto(body, ('${STACK_IP}', 0))
sizes, no_df = [], 0
deadline = time.monotonic() + 40
for ip in frames():
    if not t.is_alive() or time.monotonic() > deadline:
        break
    if ip is None:
        continue
    ihl = (ip[0] & 15) * 4
    total = struct.unpack('!H', ip[2:4])[0]
    data = total - ihl - (ip[ihl + 12] >> 4) * 4
    if not ip[6] & 0x40:
        no_df += 1
    if data > 0:
        sizes.append(data)
t.join(30)
print('received', 'ok' if bytes(got) == pattern(${size}, 5) else 'mismatch', len(got))
print('no_df', no_df)
print('data', len(sizes), 'max', max(sizes) if sizes else 0)`, 90_000);
    const conn = await firstValueFrom(stack.tcp.connect({ address: HOST_IP, port: 5001 }));
    const ended = lastValueFrom(conn.data$.pipe(toArray()));
    conn.write(pattern(size, 5));
    conn.end();
    await ended;
    const out = await server.done;
    assert.match(out, new RegExp(`^received ok ${size}$`, 'm'), out);
    assert.match(out, /^no_df 0$/m, `every segment carries DF: ${out}`);
    const data = /^data (\d+) max (\d+)$/m.exec(out);
    assert.ok(data !== null && Number(data[1]) > 1000, out);
    // 1000 less 20 (IPv4) and 20 (TCP), and 12 for the timestamp option Linux and the stack agree on.
    const fit = 1000 - 40 - (conn.info().options.timestamps ? 12 : 0);
    assert.equal(Number(data[2]), fit, `the segments that got through fit the 1000-byte MTU: ${out}`);
    assert.ok(dropped > 0, 'the first full-sized segments were lost at the hop');
    assert.equal(conn.counters.pmtuChanges, 1);
    assert.equal(conn.core.pmtu, 1000);
    assert.equal(conn.core.sndMss, fit);
  }).timeout(90_000);

  it('ECN both ways with Linux (tcp_ecn=1): the kernel asks and we answer; we ask and it answers; data is ECT; our ECE makes Linux answer with CWR', async () => {
    const p = peer();
    await p.run('sysctl', ['-qw', 'net.ipv4.tcp_ecn=1']);
    // A router under load on the way in: every 10th data datagram from the kernel that is ECT
    // gets CE (this machine's kernel has no netem to do it on the kernel side).
    let ect = 0;
    let marked = 0;
    let cwrSeen = 0;
    const codepoints = [0, 0, 0, 0];
    const router = (d: Ipv4Datagram): Ipv4Datagram => {
      if (d.protocol !== 6) return d;
      if ((d.payload[13] & TcpFlags.CWR) !== 0 && (d.payload[13] & TcpFlags.SYN) === 0) cwrSeen++;
      const dataLength = d.payload.length - ((d.payload[12] >> 4) << 2);
      if (dataLength > 0) codepoints[d.header[1] & 3]++;
      if (dataLength > 0 && (d.header[1] & 3) === 2 && ++ect % 10 === 0) {
        d.header[1] |= 3;
        marked++;
      }
      return d;
    };
    const stack = closeAfterTest(stackOn(p, { ecn: 'on' }, true, { hooks: { transport: { up: map(router) } } }));
    echoService(stack, 7);
    const size = 4 * 1024 * 1024;
    // 1: the kernel connects (an ECN-setup SYN) to our echo service.
    const out = await p.python(`${PY_PATTERN}${PY_TCP_INFO}
import socket, threading
data = pattern(${size}, 9)
s = socket.create_connection(('${STACK_IP}', 7), timeout=30)
negotiated = bool(tcpi_options(s) & TCPI_OPT_ECN)
t = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
t.start()
got = bytearray()
while True:
    chunk = s.recv(1 << 20)
    if not chunk:
        break
    got.extend(chunk)
t.join()
print('ecn', negotiated, 'seen', bool(tcpi_options(s) & TCPI_OPT_ECN_SEEN))
print('echo', 'ok' if bytes(got) == data else 'mismatch', len(got))`, [], { timeoutMs: 60_000 });
    assert.match(out, /^ecn True seen True$/m, `the kernel negotiated ECN and saw our ECT data: ${out}`);
    assert.match(out, new RegExp(`^echo ok ${size}$`, 'm'), out);
    const totals = stack.stats().tcpConnections;
    assert.ok(marked > 0, `the kernel's data was ECT(0): data datagrams by ECN codepoint ${codepoints}`);
    assert.equal(totals.ecnCeReceived, marked);
    assert.ok(cwrSeen > 0, 'Linux reduced its window and said so with CWR');
    // 2: we connect with ecn 'on' to a kernel listener.
    const server = await startPython(p, `${PY_TCP_INFO}
import socket
${pyListen(HOST_IP, 5002)}
print('ready', flush=True)
c, _ = ls.accept()
n = 0
while True:
    chunk = c.recv(1 << 20)
    if not chunk:
        break
    n += len(chunk)
print('ecn', bool(tcpi_options(c) & TCPI_OPT_ECN), 'seen', bool(tcpi_options(c) & TCPI_OPT_ECN_SEEN), 'bytes', n)
c.close()`, 30_000);
    const conn = await firstValueFrom(stack.tcp.connect({ address: HOST_IP, port: 5002 }));
    assert.equal(conn.core.ecnActive, true, 'the kernel answered our ECN-setup SYN');
    const ended = lastValueFrom(conn.data$.pipe(toArray()));
    conn.write(pattern(100_000, 1));
    conn.end();
    await ended;
    assert.match(await server.done, /^ecn True seen True bytes 100000$/m);
  }).timeout(90_000);
});
