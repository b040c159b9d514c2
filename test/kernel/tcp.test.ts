/**
 * TCP against the Linux kernel: our stack in this process on a TAP device (198.18.0.2, its own
 * MAC), the kernel on the other side (198.18.0.1), in a namespace of the test's own
 * (test/helpers/netns.ts). The kernel side is python3 with the standard library, and curl.
 *
 * Transfers send and receive at once (a sending thread while the main thread reads), so neither
 * side can deadlock on full buffers, and every payload is compared byte for byte with the
 * pattern both sides compute (`pattern` here, `pattern` in PY_PATTERN).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { createStack, type Stack } from '../../streams/stack/create-stack.js';
import type { Link } from '../../streams/links/link.js';
import type { TcpConnection } from '../../streams/stack/tcp-connection.js';
import type { TcpState } from '../../src/tcp/state.js';
import { impairLink } from '../../streams/operators/impair.js';
import { echoConnection, echoService } from '../../streams/services/echo.js';
import { discardService } from '../../streams/services/discard.js';
import { chargenService } from '../../streams/services/chargen.js';
import { waitFor } from '../helpers/wait-for.js';
import { httpService, HTTP_SERVICE_BODY } from '../../streams/services/http.js';
import { describeKernelPeer, useKernelPeer, type KernelPeer } from '../helpers/netns.js';
import { useCloseAfterEach } from '../helpers/close-after-each.js';
import { startPython, pyListen, PY_READ_TO_EOF } from '../helpers/python.js';
import { pattern, PY_PATTERN } from '../helpers/pattern.js';

const STACK_IP = '198.18.0.2';
const HOST_IP = '198.18.0.1';
const MIB = 1024 * 1024;

/**
 * Python: `echo_once(n, seed)` sends `n` bytes to the echo port from a thread (then half-closes)
 * while the main thread reads to EOF; returns (byte-exact?, bytes back, seconds).
 */
const PY_ECHO = `${PY_PATTERN}
${PY_READ_TO_EOF}import socket, sys, threading, time
def echo_once(n, seed, timeout=60, sock=None):
    data = pattern(n, seed)
    s = sock or socket.create_connection(('${STACK_IP}', 7), timeout=timeout)
    errors = []
    def send():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except Exception as e:
            errors.append(e)
    t = threading.Thread(target=send)
    start = time.monotonic()
    t.start()
    got = read_to_eof(s)
    t.join()
    s.close()
    if errors:
        raise errors[0]
    return bytes(got) == data, len(got), time.monotonic() - start
`;

/** A stack on the peer's TAP device; `wrap` may put operators (impairment) around the link. */
function stackOn(peer: KernelPeer, wrap: (link: Link) => Link = (l) => l, offload?: boolean): Stack {
  // Offload off here means "one TCP segment per frame" (loss tests): receive coalescing off too,
  // or a dropped frame would be a run of segments, as with GSO.
  const frames = offload === false ? { offload: false, coalesceReceived: false } : offload === undefined ? {} : { offload };
  const link = wrap(peer.attach({ mac: '02:00:00:00:00:02', ...frames }));
  return createStack({ interfaces: [{ name: 'eth0', link, ipv4: [`${STACK_IP}/24`] }] });
}

const tcpStat = (stack: Stack, name: string): number => (stack.tcpLayer.counters as unknown as Record<string, number>)[name];

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
}

function curlPath(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

describeKernelPeer('kernel peer: TCP', () => {
  const peer = useKernelPeer();
  const closeAfterTest = useCloseAfterEach<Stack>();

  it('the kernel echo client gets 16 MiB back byte-exact', async () => {
    const stack = closeAfterTest(stackOn(peer()));
    echoService(stack, 7);
    const out = await peer().python(`${PY_ECHO}
ok, n, secs = echo_once(16 * 1024 * 1024, 1)
print('ok' if ok else 'mismatch', n, '%.2f' % secs)`, [], { timeoutMs: 60_000 });
    const [verdict, bytes] = out.trim().split(' ');
    assert.equal(verdict, 'ok', out);
    assert.equal(Number(bytes), 16 * MIB);
    assert.equal(tcpStat(stack, 'connectionsAccepted'), 1);
    assert.equal(stack.tcpLayer.counters.drops['badChecksum'], 0, 'the kernel checksums verify');
  }).timeout(70_000);

  it('200 concurrent kernel connections, each echoed byte-exact', async () => {
    const stack = closeAfterTest(stackOn(peer()));
    echoService(stack, 7);
    const out = await peer().python(`${PY_ECHO}
from concurrent.futures import ThreadPoolExecutor
# Open all 200 first, so that all are established at once, then transfer on all together.
socks = [socket.create_connection(('${STACK_IP}', 7), timeout=30) for _ in range(200)]
print('open', len(socks), flush=True)
sizes = [1 + (i * 7919) % 50000 for i in range(200)]
with ThreadPoolExecutor(max_workers=200) as pool:
    results = list(pool.map(lambda i: echo_once(sizes[i], i, sock=socks[i]), range(200)))
bad = [i for i, r in enumerate(results) if not r[0] or r[1] != sizes[i]]
print('bad', len(bad), bad[:5])
print('bytes', sum(r[1] for r in results))`, [], { timeoutMs: 60_000 });
    assert.match(out, /^open 200$/m);
    assert.match(out, /^bad 0 \[\]$/m, out);
    const total = Array.from({ length: 200 }, (_, i) => 1 + ((i * 7919) % 50000)).reduce((a, b) => a + b, 0);
    assert.match(out, new RegExp(`^bytes ${total}$`, 'm'));
    assert.equal(tcpStat(stack, 'connectionsAccepted'), 200);
  }).timeout(70_000);

  it('curl gets 200 from the http service, with a fresh connection each time and with keep-alive', async function () {
    const curl = curlPath();
    assert.ok(curl !== undefined, 'curl is needed for this test (apt-get install curl)');
    const stack = closeAfterTest(stackOn(peer()));
    httpService(stack, 80);
    const url = `http://${STACK_IP}/`;
    const fmt = '%{http_code} %{num_connects}\\n';
    // Two URLs on one command line: curl reuses the connection (num_connects 0 the second time).
    const kept = await peer().run('curl', ['-sS', '--max-time', '10', '-w', fmt, url, url]);
    assert.equal(kept, `${HTTP_SERVICE_BODY}200 1\n${HTTP_SERVICE_BODY}200 0\n`);
    assert.equal(tcpStat(stack, 'connectionsAccepted'), 1);
    // Connection: close makes the server close after each answer: two connections.
    const closed = await peer().run('curl', ['-sS', '--max-time', '10', '-H', 'Connection: close', '-w', fmt, url, url]);
    assert.equal(closed, `${HTTP_SERVICE_BODY}200 1\n${HTTP_SERVICE_BODY}200 1\n`);
    assert.equal(tcpStat(stack, 'connectionsAccepted'), 3);
    const missing = await peer().run('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', '-w', '%{http_code}', `${url}nope`]);
    assert.equal(missing, '404');
  }).timeout(30_000);

  it('discard takes 1 MiB from the kernel and closes; chargen streams its pattern until the kernel resets', async () => {
    const stack = closeAfterTest(stackOn(peer()));
    discardService(stack, 9);
    chargenService(stack, 19);
    const out = await peer().python(`import socket
d = socket.create_connection(('${STACK_IP}', 9), timeout=10)
d.sendall(b'x' * (1 << 20))
d.shutdown(socket.SHUT_WR)
print('discard answered', len(d.recv(100)), 'bytes then EOF')
d.close()
cycle = b''.join(bytes(32 + (line + i) % 95 for i in range(72)) + b'\\r\\n' for line in range(95))
c = socket.create_connection(('${STACK_IP}', 19), timeout=10)
got = bytearray()
while len(got) < (1 << 20):
    chunk = c.recv(1 << 16)
    if not chunk:
        break
    got += chunk
want = (cycle * (len(got) // len(cycle) + 1))[:len(got)]
print('chargen', 'ok' if bytes(got) == want and len(got) >= (1 << 20) else 'mismatch')
# Closing with unread bytes makes the kernel send RST: chargen must stop.
c.close()`, [], { timeoutMs: 20_000 });
    assert.equal(out, 'discard answered 0 bytes then EOF\nchargen ok\n');
    await waitFor('both connections to close on our side', () => (stack!.tcpLayer.connections().length === 0 ? true : undefined));
    assert.ok(stack.tcpLayer.connectionCounters().rstReceived >= 1, 'the kernel reset chargen');
  }).timeout(30_000);

  it('the stack connects to a kernel server and moves 4 MiB each way at once, byte-exact', async () => {
    const stack = closeAfterTest(stackOn(peer()));
    const size = 4 * MIB;
    const server = await startPython(peer(), `${PY_PATTERN}
${PY_READ_TO_EOF}import socket, threading
${pyListen(HOST_IP, 5001)}
print('ready', flush=True)
c, addr = ls.accept()
c.settimeout(30)
print('peer', addr[0], flush=True)
def send():
    c.sendall(pattern(${size}, 3))
    c.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
got = read_to_eof(c)
t.join()
print('received', 'ok' if bytes(got) == pattern(${size}, 2) else 'mismatch', len(got))`, 60_000);
    const conn = await firstValueFrom(stack.tcp.connect({ address: HOST_IP, port: 5001 }));
    assert.equal(conn.localAddress, STACK_IP);
    const received = lastValueFrom(conn.data$.pipe(toArray()));
    conn.write(pattern(size, 2));
    conn.end();
    const got = concat(await received);
    assert.equal(got.length, size);
    assert.ok(equalBytes(got, pattern(size, 3)), 'the kernel\'s bytes arrived byte-exact');
    const out = await server.done;
    assert.match(out, new RegExp(`^peer ${STACK_IP}$`, 'm'));
    assert.match(out, new RegExp(`^received ok ${size}$`, 'm'), out);
  }).timeout(60_000);

  it('a kernel connect to a closed port is refused (RST)', async () => {
    const stack = closeAfterTest(stackOn(peer()));
    const out = await peer().python(`import socket
s = socket.socket()
s.settimeout(3)
try:
    s.connect(('${STACK_IP}', 9))
    print('connected')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')`);
    assert.equal(out.trim(), 'refused');
    assert.equal(tcpStat(stack, 'rstSent'), 1);
    assert.equal(stack.tcpLayer.counters.drops.noEndpoint, 1);
  });

  it('half-close from the kernel: after shutdown(SHUT_WR) it still gets every echoed byte, then EOF', async () => {
    const stack = closeAfterTest(stackOn(peer()));
    const states: TcpState[] = [];
    const accepted: TcpConnection[] = [];
    stack.tcp.listen({ port: 7 }).subscribe((conn) => {
      accepted.push(conn);
      conn.state$.subscribe((s) => states.push(s));
      echoConnection(conn).subscribe({ error: () => undefined });
    });
    const out = await peer().python(`${PY_PATTERN}
${PY_READ_TO_EOF}import socket
s = socket.create_connection(('${STACK_IP}', 7), timeout=10)
data = pattern(200000, 5)
# Small enough to sit in the buffers of both sides: send it all, half-close, then read.
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = read_to_eof(s)
print('echo', 'ok' if bytes(got) == data else 'mismatch', len(got))
print('eof')
s.close()`, [], { timeoutMs: 20_000 });
    assert.equal(out, 'echo ok 200000\neof\n');
    assert.equal(accepted.length, 1);
    // Our side: the peer's FIN first (CLOSE-WAIT), then ours after the echo (LAST-ACK), CLOSED.
    await firstValueFrom(accepted[0].closed$);
    assert.deepEqual(states, ['ESTABLISHED', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
  }).timeout(30_000);

  it('an echo of 3 MiB through 3% loss each way on the stack\'s link completes byte-exact', async () => {
    // Loss per Ethernet frame, one TCP segment each: without TAP offload and receive coalescing
    // (with them, a dropped frame may be a 64 KiB GSO segment or a coalesced run, and a handful
    // of losses may all hit tails).
    const stack = closeAfterTest(stackOn(peer(), (link) => impairLink(link, { inbound: { loss: 0.03, seed: 11 }, outbound: { loss: 0.03, seed: 12 } }), false));
    echoService(stack, 7);
    const out = await peer().python(`${PY_ECHO}
ok, n, secs = echo_once(3 * 1024 * 1024, 9)
print('ok' if ok else 'mismatch', n, '%.2f' % secs)`, [], { timeoutMs: 60_000 });
    const [verdict, bytes] = out.trim().split(' ');
    assert.equal(verdict, 'ok', out);
    assert.equal(Number(bytes), 3 * MIB);
    const counters = stack.tcpLayer.connectionCounters();
    assert.ok(counters.retransmits > 0, 'we lost and retransmitted segments');
    assert.ok(counters.outOfOrderSegments > 0, 'the kernel\'s segments after a loss were held until the gap filled');
  }).timeout(70_000);

  it("a reply one segment and a bit long leaves whole at once, its short tail not held for the kernel's ACK of the first segment (Minshall's Nagle, as Linux)", async () => {
    const stack = closeAfterTest(stackOn(peer(), (l) => l, false)); // MSS-sized segments: the tail is a segment of its own
    const REPLY = 2000;
    const sub = stack.tcp.listen({ port: 8080 }).subscribe((conn) => {
      conn.data$.subscribe({ next: () => conn.write(new Uint8Array(REPLY).fill(0x72)), error: () => undefined });
    });
    // What crossed the link, in order: our data segments by payload length, the kernel's frames.
    const events: Array<'in' | number> = [];
    const payload = (f: Uint8Array): number => {
      if (f.length < 54 || f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 6) return -1;
      const ihl = (f[14] & 15) * 4;
      if (((f[14 + ihl] << 8) | f[15 + ihl]) !== 8080) return -1; // from our port 8080
      return ((f[16] << 8) | f[17]) - ihl - (f[14 + ihl + 12] >> 4) * 4;
    };
    const outSub = stack.taps.link.down$.subscribe((f) => {
      const n = payload(f);
      if (n > 0) events.push(n);
    });
    const inSub = stack.taps.link.up$.subscribe(() => events.push('in'));
    try {
      // Twenty exchanges on one connection: past the kernel's quick-ACK start, it delays the ACK
      // of a lone full segment (40 ms), which classic Nagle made the tail wait for.
      const out = await peer().python(`import socket
s = socket.create_connection(('${STACK_IP}', 8080), timeout=10)
for i in range(20):
    s.sendall(b'q')
    got = 0
    while got < ${REPLY}:
        got += len(s.recv(65536))
s.close()
print('done')`, [], { timeoutMs: 30_000 });
      assert.equal(out.trim(), 'done');
      const mss = 1460 - 12; // the timestamps option in every segment
      const replies = events.flatMap((e, i) => (e === mss ? [i] : []));
      assert.equal(replies.length, 20, `20 full segments sent: ${JSON.stringify(events.slice(0, 12))}`);
      for (const at of replies) assert.equal(events[at + 1], REPLY - mss, `each full segment followed at once by its ${REPLY - mss}-byte tail, nothing received between: ${JSON.stringify(events.slice(at - 1, at + 3))}`);
    } finally {
      outSub.unsubscribe();
      inSub.unsubscribe();
      sub.unsubscribe();
    }
  }).timeout(40_000);
});
