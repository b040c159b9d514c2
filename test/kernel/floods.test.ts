/**
 * Floods from the kernel side: our stack on a TAP device (198.18.0.2) in a namespace of the
 * test's own, and a python3 attacker in that namespace writing crafted frames straight onto the
 * TAP device (AF_PACKET), with spoofed sources in 198.18.0.100-199. Each flood is bounded in
 * count and in time (a paced sender, a python time limit). For each: a legitimate echo client
 * (the kernel's own 198.18.0.1) is served byte-exact during the flood and after it, the stack's
 * tables stay within their limits (read from stats() and the tables themselves), and its heap
 * and RSS stay flat within generous bounds.
 */
import assert from 'node:assert/strict';
import { createStack, type Stack } from '../../streams/stack/create-stack.js';
import { echoService } from '../../streams/services/echo.js';
import { describeKernelPeer, useKernelPeer } from '../helpers/netns.js';
import { PY_READ_TO_EOF } from '../helpers/python.js';
import { PY_INET_CSUM } from '../helpers/py-icmp-ping.js';

const STACK_IP = '198.18.0.2';
const STACK_MAC = '02:00:00:00:00:02';
const LIMITS = { maxConnections: 512, maxTimeWait: 512 } as const;
const BACKLOG = 128;
const MIB = 1024 * 1024;
/**
 * Frames the TAP device queues for us (its txqueuelen, 1000 by default): room for a whole flood
 * (20,000 frames at most). Frames the kernel dropped at a full queue would be the legitimate
 * client's too, as often as the attacker's, whenever this process is slow to read (a loaded
 * machine). A cookie handshake whose ACK and first data segments were dropped there is reset,
 * rightly (the later segments do not carry the cookie's ISN + 1, see TcpListener): the echo then
 * failed for the machine's load, not for the stack's behaviour.
 */
const TAP_QUEUE_FRAMES = 32_768;

/**
 * The attacker and the legitimate client. `run(kind, n)` floods from a thread (paced: bursts of
 * 64 frames, then 1 ms) while the main thread makes an echo round trip after 50 ms, then
 * another once the flood is over; prints one line: `sent ok-during ok-after`.
 */
const PY_FLOOD = String.raw`
import socket, struct, random, threading, time, sys
${PY_READ_TO_EOF}TAP, KIND, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
STACK_MAC = bytes.fromhex('020000000002')
MY_MAC = bytes.fromhex(open('/sys/class/net/%s/address' % TAP).read().strip().replace(':', ''))
STACK_IP = socket.inet_aton('${STACK_IP}')
rnd = random.Random(12)

${PY_INET_CSUM}
def ipv4(src, proto, payload, ident=0, frag=0x4000, total=None):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, total or 20 + len(payload), ident, frag, 64, proto, 0, src, STACK_IP)
    return h[:10] + struct.pack('!H', csum(h)) + h[12:] + payload

def tcp(src, sport, dport, seq, ack, flags):
    h = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    c = csum(src + STACK_IP + struct.pack('!BBH', 0, 6, len(h)) + h)
    return ipv4(src, 6, h[:16] + struct.pack('!H', c) + h[18:])

def eth(payload, src=MY_MAC, dst=STACK_MAC, etype=0x0800):
    return dst + src + struct.pack('!H', etype) + payload

def spoof():
    return bytes([198, 18, 0, rnd.randint(100, 199)])

def frame(i):
    port = rnd.randint(1024, 65535)
    seq, ack = rnd.getrandbits(32), rnd.getrandbits(32)
    if KIND == 'syn':
        return eth(tcp(spoof(), port, 7, seq, 0, 0x02))
    if KIND == 'ack':
        return eth(tcp(spoof(), port, 7, seq, ack, 0x10))
    if KIND == 'rst':
        return eth(tcp(spoof(), port, rnd.choice((7, 8)), seq, ack, 0x04))
    if KIND == 'fin':
        return eth(tcp(spoof(), port, 7, seq, ack, 0x11))
    if KIND == 'frag':
        # First fragments of 1,400-byte UDP datagrams that never complete: MF set, offset 0.
        body = struct.pack('!HHHH', port, 9, 1408, 0) + bytes(1000)
        return eth(ipv4(spoof(), 17, body, ident=i & 0xffff, frag=0x2000))
    if KIND == 'udp':
        return eth(ipv4(spoof(), 17, struct.pack('!HHHH', port, rnd.randint(20000, 60000), 40, 0) + bytes(32)))
    if KIND == 'arp':
        mac = bytes([2, rnd.getrandbits(8), rnd.getrandbits(8), rnd.getrandbits(8), rnd.getrandbits(8), rnd.getrandbits(8)])
        ip = bytes([198, 18, 0, rnd.randint(3, 254)])
        arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, mac, ip, bytes(6), STACK_IP)
        return eth(arp, src=mac, dst=b'\xff' * 6, etype=0x0806)
    raise SystemExit('unknown flood ' + KIND)

frames = [frame(i) for i in range(N)]
sent = [0]
def flood():
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((TAP, 0))
    deadline = time.monotonic() + 15
    for i, f in enumerate(frames):
        try:
            s.send(f)
            sent[0] += 1
        except OSError:
            pass  # the device queue is full: pace on
        if i % 64 == 63:
            time.sleep(0.001)
            if time.monotonic() > deadline:
                break
    s.close()

data = bytes((i * 7 + 3) & 0xff for i in range(65536))
def echo(when):
    start = time.monotonic()
    try:
        c = socket.create_connection(('${STACK_IP}', 7), timeout=15)
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        got = read_to_eof(c)
        c.close()
        if bytes(got) != data:
            sys.stderr.write('echo %s: %d bytes back of %d\n' % (when, len(got), len(data)))
        return bytes(got) == data
    except OSError as e:
        sys.stderr.write('echo %s: %r after %.1f s (flood sent %d)\n' % (when, e, time.monotonic() - start, sent[0]))
        return False

t = threading.Thread(target=flood)
t.start()
time.sleep(0.05)
during = echo('during')
t.join()
after = echo('after')
print(sent[0], during, after)
`;

/**
 * A connection flood from real kernel sockets: N non-blocking connects at once; once the stack
 * has completed the handshakes it will (up to its limit, argv[2]; bounded in time), every socket
 * the kernel calls connected sends one byte and waits for its echo; then all are closed and an
 * echo round trip follows. Prints `served connected unanswered ok-after`: the sockets whose byte
 * came back (connections the stack holds), those the kernel called connected, those that got
 * no verdict in time.
 *
 * The kernel's "connected" alone over-counts: with the half-open queue full the stack answers
 * with SYN cookies, the kernel is connected as soon as the cookie SYN-ACK arrives, and a cookie
 * ACK beyond the stack's limit is reset only when the stack reads it (later on a loaded
 * machine). The echoed byte is the stack's own answer: a connection it holds echoes it, a
 * cookie handshake it refuses is reset (again) when the byte arrives.
 */
const PY_CONNECTIONS = String.raw`
import select, socket, sys, time
${PY_READ_TO_EOF}N, LIMIT = int(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(N):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(('${STACK_IP}', 7))
    socks.append(s)
def is_connected(s):
    try:
        s.getpeername()
        return True
    except OSError:
        return False
def count():
    return sum(1 for s in socks if is_connected(s))
deadline = time.monotonic() + 15
connected = count()
while connected < LIMIT and time.monotonic() < deadline:
    time.sleep(0.1)
    connected = count()
probed = {}
for s in socks:
    if is_connected(s):
        try:
            s.send(b'x')
            probed[s.fileno()] = s
        except OSError:
            pass  # reset already
poll = select.poll()
for fd in probed:
    poll.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
served = 0
deadline = time.monotonic() + 15
while probed and time.monotonic() < deadline:
    for fd, _ in poll.poll(500):
        s = probed.pop(fd)
        poll.unregister(fd)
        try:
            if s.recv(1) == b'x':
                served += 1
        except OSError:
            pass  # reset: a handshake the stack refused
for s in socks:
    s.close()
data = bytes((i * 5 + 1) & 0xff for i in range(65536))
c = socket.create_connection(('${STACK_IP}', 7), timeout=15)
c.sendall(data)
c.shutdown(socket.SHUT_WR)
got = read_to_eof(c)
print(served, connected, len(probed), bytes(got) == data)
`;

interface Sample {
  readonly heap: number;
  readonly rss: number;
}

const sample = (): Sample => {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
};

/** The counters of `after` that differ from `before` (`tcp.synCookiesSent +20000 ...`): what a failure message shows. */
function movedCounters(before: object, after: object, prefix = ''): string {
  const moved: string[] = [];
  for (const [key, value] of Object.entries(after)) {
    const was = (before as Record<string, unknown>)[key];
    if (typeof value === 'number' && typeof was === 'number' && value !== was) moved.push(`${prefix}${key} ${value - was >= 0 ? '+' : ''}${value - was}`);
    else if (typeof value === 'object' && value !== null && typeof was === 'object' && was !== null) {
      const inner = movedCounters(was, value, `${prefix}${key}.`);
      if (inner !== '') moved.push(inner);
    }
  }
  return moved.join(' ');
}

describeKernelPeer('kernel peer: floods against the stack', function () {
  this.timeout(30_000);
  const peer = useKernelPeer({ perTest: false });
  let stack: Stack;

  before(async () => {
    await peer().run('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    await peer().ip(['link', 'set', peer().tapName, 'txqueuelen', String(TAP_QUEUE_FRAMES)]);
    const link = peer().attach({ mac: STACK_MAC });
    stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: [`${STACK_IP}/24`] }], tcp: LIMITS });
    echoService(stack, 7);
    stack.udp.bind({ port: 9 }); // a socket nobody reads: fragments that completed would queue here
  });
  after(() => stack?.close());

  /** Floods `n` frames of `kind`; returns what the python program printed. */
  async function flood(kind: string, n: number): Promise<{ sent: number; during: boolean; after: boolean; errors: string }> {
    const r = await peer().exec('python3', ['-c', PY_FLOOD, peer().tapName, kind, String(n)], { timeoutMs: 25_000 });
    if (r.code !== 0) throw new Error(`the flood program exited ${r.code}: ${r.stderr.trim()}`);
    const [sent, during, after] = r.stdout.trim().split(/\s+/);
    return { sent: Number(sent), during: during === 'True', after: after === 'True', errors: r.stderr.trim() };
  }

  /** Every table the floods aim at, within its limit. */
  function assertTablesBounded(): void {
    const s = stack.stats();
    const cfg = stack.config;
    assert.ok(s.tcp.connections <= LIMITS.maxConnections, `connections ${s.tcp.connections}`);
    assert.ok(s.tcp.timeWaitConnections <= LIMITS.maxTimeWait, `TIME-WAIT ${s.tcp.timeWaitConnections}`);
    assert.ok(s.tcp.halfOpenConnections <= BACKLOG, `half-open ${s.tcp.halfOpenConnections}`);
    assert.ok(s.tcp.memoryBytes <= cfg.tcp.memoryHardLimit);
    assert.ok(stack.ipv4.reassembler.bytesHeld <= cfg.ipv4.reassembly.maxBytes, `reassembly ${stack.ipv4.reassembler.bytesHeld}`);
    assert.ok(stack.ipv4.reassembler.size <= cfg.ipv4.reassembly.maxDatagrams);
    assert.ok(stack.arp.entries().length <= cfg.arp.maxEntries, `neighbours ${stack.arp.entries().length}`);
    assert.ok(s.udp.queuedBytes <= cfg.udp.maxQueuedBytes);
  }

  const FLOODS: readonly (readonly [string, number, (s: ReturnType<Stack['stats']>, before: ReturnType<Stack['stats']>) => void])[] = [
    ['syn', 20_000, (s, b) => assert.ok(s.tcp.synCookiesSent - b.tcp.synCookiesSent > 1000, 'the SYN flood was answered with cookies')],
    ['ack', 10_000, (s, b) => assert.ok(s.tcp.synCookiesRejected - b.tcp.synCookiesRejected > 1000, 'forged cookie ACKs were rejected')],
    ['rst', 10_000, (s, b) => assert.ok(s.tcp.rxSegments - b.tcp.rxSegments > 1000)],
    ['fin', 10_000, (s, b) => assert.ok(s.tcp.rxSegments - b.tcp.rxSegments > 1000)],
    ['frag', 10_000, (s, b) => assert.ok(s.reassembly.evicted + s.reassembly.memory - b.reassembly.evicted - b.reassembly.memory > 1000, 'partial datagrams were evicted to stay within the limits')],
    ['udp', 10_000, (s, b) => assert.ok(s.udp.drops.noPort - b.udp.drops.noPort > 1000, 'datagrams to closed ports were counted')],
    ['arp', 10_000, (s, b) => assert.ok(s['arp:eth0'].rxRequests - b['arp:eth0'].rxRequests > 1000)],
  ];

  it('connection flood (700 kernel sockets against maxConnections 512): the excess SYNs are dropped and counted, an echo is served after', async () => {
    const before = stack.stats();
    const m0 = sample();
    const out = await peer().python(PY_CONNECTIONS, ['700', String(LIMITS.maxConnections)], { timeoutMs: 40_000 });
    const m1 = sample();
    const [served, connected, unanswered, ok] = out.trim().split(/\s+/);
    const seen = `${served} sockets echoed a byte, of ${connected} the kernel called connected`;
    assert.equal(unanswered, '0', `every probed socket got its echo or a reset (${seen}, ${unanswered} neither)`);
    assert.ok(Number(served) <= LIMITS.maxConnections, `the stack held no more than its limit: ${seen}`);
    assert.ok(Number(served) >= LIMITS.maxConnections - 10, `the stack served up to its limit: ${seen}`);
    assert.equal(ok, 'True', 'an echo after the flood came back byte-exact');
    const s = stack.stats();
    assert.ok(s.tcp.drops.connectionLimit - before.tcp.drops.connectionLimit > 0, 'SYNs beyond the limit were counted');
    assertTablesBounded();
    assert.ok(m1.heap - m0.heap < 64 * MIB, `heap grew ${((m1.heap - m0.heap) / MIB).toFixed(1)} MiB`);
  });

  for (const [kind, n, check] of FLOODS) {
    it(`${kind} flood (${n} frames): memory flat, tables bounded, a legitimate echo served during and after`, async () => {
      const before = stack.stats();
      const device0 = await peer().counters();
      const m0 = sample();
      const r = await flood(kind, n);
      const m1 = sample();
      const device1 = await peer().counters();
      assert.ok(r.sent > n / 2, `the attacker sent ${r.sent} of ${n} frames`);
      assert.equal(device1.txDropped - device0.txDropped, 0, 'the TAP device queued the whole flood for us (none dropped at its queue)');
      const why = r.during && r.after ? '' : `: ${r.errors || 'no error text'}; the TAP device ${JSON.stringify(device1)}; our counters that moved ${movedCounters(before, stack.stats())}`;
      assert.equal(r.during, true, `an echo during the flood came back byte-exact${why}`);
      assert.equal(r.after, true, `an echo after the flood came back byte-exact${why}`);
      check(stack.stats(), before);
      assertTablesBounded();
      assert.ok(m1.heap - m0.heap < 64 * MIB, `heap grew ${((m1.heap - m0.heap) / MIB).toFixed(1)} MiB`);
      assert.ok(m1.rss - m0.rss < 128 * MIB, `RSS grew ${((m1.rss - m0.rss) / MIB).toFixed(1)} MiB`);
    });
  }
});
