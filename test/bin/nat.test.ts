/**
 * `rx-netstack nat` (compiled, plain node) between two namespaces of the test's own: H plays the
 * host (the nat process runs there, servers listen on 198.18.0.200, an address of H's loopback,
 * and 198.18.0.201 is routed "unreachable"), NS is the namespace being connected (--cidr
 * 198.18.0.0/25: NS is 198.18.0.100, the gateway 198.18.0.2, DNS 198.18.0.3). Nothing is
 * configured in the root namespace. From NS: HTTP and a byte-exact TCP echo to H, UDP echo,
 * DNS through the forwarder to a resolver in H, a refused port, an unreachable host (TCP and
 * UDP: the ICMP errors slirp4netns sends too), ping to H through H's ICMP datagram socket (and
 * only to the gateway where H refuses that socket); from H:
 * published ports into NS. Then SIGTERM, and NS is left as found.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpusAllowed } from '../../bin/nat-sched.js';
import { loadTapAddon } from '../../streams/links/tap-native.js';
import { ensureDist, ROOT } from '../helpers/dist.js';
import { createKernelPeer, describeKernelPeer, type KernelPeer } from '../helpers/netns.js';

const CLI = join(ROOT, 'dist/bin/rx-netstack.js');
const SOURCES = ['bin/rx-netstack.ts', 'bin/nat.ts', 'bin/nat-args.ts', 'bin/nat-device.ts', 'bin/nat-tcp.ts', 'bin/nat-udp.ts', 'bin/nat-icmp.ts', 'bin/nat-publish.ts', 'bin/nat-sched.ts'];
const SERVER = '198.18.0.200';
const UNREACHABLE = '198.18.0.201';

function runNode(args: readonly string[], uid?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...args], { timeout: 15_000, ...(uid === undefined ? {} : { uid, gid: uid }) }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : (error.code as number | null), stdout, stderr }));
  });
}

/** Resolves once the child prints `line` on stdout (a server saying it listens, nat saying ready). */
function printed(child: ChildProcess, line: string, what: string): Promise<void> {
  let out = '';
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.split('\n').includes(line)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${what} exited ${code} before "${line}": ${err}`)));
  });
}

/** python3 servers in H: HTTP (a file), TCP echo, UDP echo, and a DNS responder for one name. */
const PY_H_SERVERS = `import socket, struct, threading, http.server, functools, sys
root = sys.argv[1]
def tcp_echo():
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('${SERVER}', 7)); ls.listen(16)
    def serve(c):
        while True:
            d = c.recv(1 << 16)
            if not d: break
            c.sendall(d)
        c.shutdown(socket.SHUT_WR); c.close()
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
def udp_echo():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('${SERVER}', 7))
    while True:
        d, a = u.recvfrom(65535); u.sendto(b're:' + d, a)
def dns():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('${SERVER}', 53))
    while True:
        q, a = u.recvfrom(512)
        i = 12; labels = []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode()); i += 1 + q[i]
        question = q[12:i + 5]
        name = '.'.join(labels)
        if name == 'svc.nat.test':
            u.sendto(q[:2] + struct.pack('!HHHHH', 0x8180, 1, 1, 0, 0) + question + struct.pack('!HHHIH', 0xc00c, 1, 1, 60, 4) + socket.inet_aton('198.18.0.123'), a)
        else:
            u.sendto(q[:2] + struct.pack('!HHHHH', 0x8183, 1, 0, 0, 0) + question, a)
def resetter():
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('${SERVER}', 8002)); ls.listen(4)
    while True:
        c, _ = ls.accept()
        c.recv(1)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        c.close()
def speaker():
    # Speaks first: 1 MiB the moment a connection is accepted, before the client sends anything.
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('${SERVER}', 8003)); ls.listen(4)
    data = bytes((i * 7 + (i >> 8)) & 0xff for i in range(1 << 20))
    while True:
        c, _ = ls.accept()
        c.sendall(data); c.shutdown(socket.SHUT_WR); c.close()
for f in (tcp_echo, udp_echo, dns, resetter, speaker):
    threading.Thread(target=f, daemon=True).start()
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
handler.log_message = lambda *a: None
httpd = http.server.ThreadingHTTPServer(('${SERVER}', 8000), handler)
print('listening', flush=True)
httpd.serve_forever()
`;

/** python3 in NS: one echo request (raw socket) to argv[1], what came back within argv[2] seconds. */
const PY_PING = `import socket, struct, sys, time
def csum(b):
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
dst, wait = sys.argv[1], float(sys.argv[2])
ident, seq, payload = 0x4242, 7, b'rx-nat-ping-payload!'
pkt = struct.pack('!BBHHH', 8, 0, 0, ident, seq) + payload
pkt = pkt[:2] + struct.pack('!H', csum(pkt)) + pkt[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(pkt, (dst, 0))
deadline = time.time() + wait
while True:
    left = deadline - time.time()
    if left <= 0: print('no reply'); break
    s.settimeout(left)
    try:
        data, a = s.recvfrom(2000)
    except socket.timeout:
        print('no reply'); break
    ihl = (data[0] & 15) * 4
    t, code, _, i, sq = struct.unpack('!BBHHH', data[ihl:ihl + 8])
    if t == 0 and i == ident and sq == seq:
        print('reply from', a[0], 'intact' if data[ihl + 8:] == payload else 'altered'); break
    if t == 3:
        print('unreachable', code, 'from', a[0]); break
`;

/** python3 servers in NS, reached through published ports: TCP (says who called) and UDP echo. */
const PY_NS_SERVERS = `import socket, threading
def tcp():
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('0.0.0.0', 8080)); ls.listen(4)
    while True:
        c, a = ls.accept()
        c.sendall(('inside NS, you are %s\\n' % a[0]).encode()); c.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('0.0.0.0', 5353))
threading.Thread(target=tcp, daemon=True).start()
print('listening', flush=True)
while True:
    d, a = u.recvfrom(65535); u.sendto(b'ns:' + d, a)
`;

describe('bin/rx-netstack nat: options (compiled, plain node)', () => {
  before(() => ensureDist(SOURCES));

  it('bad options exit 2 naming every one; nothing touched', async () => {
    const run = await runNode([CLI, 'nat', '--tun', 'a/b', '--tap', 'x', '--cidr', '10.0.0.0/28', '--mtu', '9', '--frob',
      '--publish', '8080:80', '--publish', '8080:81', '--publish', 'nope', '--dns-upstream', 'x:y', '--disable-dns']);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    for (const option of ['--netns', '--tun', '--tun, --tap', '--cidr', '--mtu', '--frob', '--dns-upstream']) {
      assert.match(run.stderr, new RegExp(`^ {2}${option}: `, 'm'), `${option} named in:\n${run.stderr}`);
    }
    assert.match(run.stderr, /--publish: "8080:81" publishes tcp port 8080 twice/);
    assert.match(run.stderr, /--publish: "nope" is not/);
    assert.match(run.stderr, /--dns-upstream: not with --disable-dns/);
  });

  it('nat --help prints its usage; --netns without root says to use sudo', async () => {
    const help = await runNode([CLI, 'nat', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: rx-netstack nat --netns NS/);
    const run = await runNode([CLI, 'nat', '--netns', 'rxns-never-made'], process.getuid?.() === 0 ? 65534 : undefined);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--netns needs root/);
    assert.equal(existsSync('/var/run/netns/rxns-never-made'), false);
  });
});

describeKernelPeer('bin/rx-netstack nat: a namespace reaches the host through it', function () {
  this.timeout(60_000);
  let h: KernelPeer;
  let ns: KernelPeer;
  let nat: ChildProcess;
  let natExit: Promise<number | null>;
  let natErr = '';
  let www: string;

  before(async function () {
    this.timeout(30_000);
    ensureDist(SOURCES);
    www = mkdtempSync(join(tmpdir(), 'rx-nat-www-'));
    writeFileSync(join(www, 'index.html'), 'hello from H\n');
    writeFileSync(join(www, 'big.bin'), Buffer.from(Array.from({ length: 3 << 20 }, (_, i) => (i * 131) >> 3)));
    h = await createKernelPeer({ createTap: false });
    ns = await createKernelPeer({ createTap: false });
    await h.ip(['addr', 'add', `${SERVER}/32`, 'dev', 'lo']);
    await h.ip(['route', 'add', 'unreachable', `${UNREACHABLE}/32`]);
    // A new namespace allows no ICMP datagram sockets ("1 0"); H allows every group, as systemd
    // sets up the root namespace. The --tap case below puts it back to test the fallback.
    await h.run('sysctl', ['-qw', 'net.ipv4.ping_group_range=0 2147483647']);
    const servers = h.spawn('python3', ['-u', '-c', PY_H_SERVERS, www]);
    await printed(servers, 'listening', 'servers in H');
    nat = h.spawn(process.execPath, [CLI, 'nat', '--netns', ns.netns, '--cidr', '198.18.0.0/25', '--dns-upstream', SERVER,
      '--publish', `${SERVER}:9090:8080`, '--publish', `${SERVER}:9091:5353/udp`]);
    nat.stderr!.on('data', (chunk: Buffer) => (natErr += chunk.toString()));
    natExit = new Promise((resolve) => nat.once('exit', (code) => resolve(code)));
    await printed(nat, 'ready', 'rx-netstack nat');
  });

  after(async () => {
    await ns?.destroy();
    await h?.destroy();
    if (www !== undefined) rmSync(www, { recursive: true, force: true });
  });

  it('plumbs NS like slirp4netns --configure: 198.18.0.100/25 on tun0, default route via 198.18.0.2', async () => {
    assert.match(await ns.ip(['-4', 'addr', 'show', 'dev', 'tun0']), /inet 198\.18\.0\.100\/25/);
    assert.match(await ns.ip(['route', 'show', 'default']), /^default via 198\.18\.0\.2 dev tun0/);
  });

  it('runs its event loop thread with the kernel\'s slice when free to move over CPUs, 6 ms when pinned to one (taskset) or with --sched-slice 6000, the kernel\'s with --sched-slice 0 (a kernel without per-thread slices: says so and runs)', async () => {
    const perThread = loadTapAddon().schedSlice() > 0; // Linux 6.12 and later
    const kernels = loadTapAddon().schedSlice() * 1000;
    // `ip netns exec` and taskset exec node, so the child's PID is the nat's main thread.
    const sliceOf = (pid: number): number => Number(/^se\.slice\s*:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/sched`, 'utf8'))![1]);
    if (perThread && cpusAllowed() > 1) assert.equal(sliceOf(nat.pid!), kernels, 'the kernel\'s default, as this thread has');
    const other = await createKernelPeer({ createTap: false });
    const taskset = ['taskset', '-c', '0'];
    const cases: Array<[string, string[], string[], number]> = [
      ['taskset -c 0', taskset, [], 6_000_000],
      ['--sched-slice 6000', [], ['--sched-slice', '6000'], 6_000_000],
      ['taskset -c 0, --sched-slice 0', taskset, ['--sched-slice', '0'], kernels],
    ];
    for (const [what, before, extra, expected] of cases) {
      const [program, ...head] = [...before, process.execPath, CLI];
      const child = h.spawn(program, [...head, 'nat', '--netns', other.netns, '--cidr', '198.18.0.0/25', '--disable-dns', '--tun', 'tun1', ...extra]);
      let said = '';
      child.stderr!.on('data', (chunk: Buffer) => (said += chunk.toString()));
      try {
        await printed(child, 'ready', `rx-netstack nat (${what})`);
        if (perThread) assert.equal(sliceOf(child.pid!), expected, what);
        else if (expected !== kernels) assert.match(said, /scheduling slice left as it is/, what);
      } finally {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    }
    await other.destroy();
  });

  it('curl in NS fetches from an HTTP server in H (small page, and 3 MiB byte-exact)', async () => {
    assert.equal(await ns.run('curl', ['-sS', '-m', '10', `http://${SERVER}:8000/`]), 'hello from H\n');
    const sum = await ns.run('sh', ['-c', `curl -sS -m 20 http://${SERVER}:8000/big.bin | sha256sum`]);
    const expected = await h.run('sh', ['-c', `sha256sum < ${join(www, 'big.bin')}`]);
    assert.equal(sum.split(' ')[0], expected.split(' ')[0]);
  });

  it('TCP both ways at once, half-close passed on: 2 MiB echoed byte-exact by H', async () => {
    const out = await ns.python(`import socket, threading
data = bytes(((i * 31) ^ (i >> 9)) & 0xff for i in range(2 << 20))
s = socket.create_connection(('${SERVER}', 7), timeout=20)
def send():
    s.sendall(data); s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send); t.start()
got = bytearray()
while True:
    c = s.recv(1 << 20)
    if not c: break
    got += c
t.join()
print('exact' if bytes(got) == data else 'differ', len(got))`, [], { timeoutMs: 30_000 });
    assert.equal(out.trim(), `exact ${2 << 20}`);
  });

  it('a server in H that speaks first (1 MiB at once, then FIN): NS reads it all, byte-exact, while reading slowly', async () => {
    const out = await ns.python(`import socket, time
data = bytes((i * 7 + (i >> 8)) & 0xff for i in range(1 << 20))
s = socket.create_connection(('${SERVER}', 8003), timeout=20)
time.sleep(0.2)  # let the host side's bytes pile up before reading
got = bytearray()
while True:
    c = s.recv(4096)
    if not c: break
    got += c
print('exact' if bytes(got) == data else 'differ', len(got))`, [], { timeoutMs: 30_000 });
    assert.equal(out.trim(), `exact ${1 << 20}`);
  });

  it('UDP: an echo in H answers NS, from the address NS sent to (answers of one length and of others, each its own bytes)', async () => {
    const pings = ['ping0', 'ping1', 'a longer ping2', 'ping3'];
    const out = await ns.python(`import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
for p in ${JSON.stringify(pings)}:
    u.sendto(p.encode(), ('${SERVER}', 7))
    d, a = u.recvfrom(100)
    print(d.decode(), a[0], a[1])`);
    assert.deepEqual(out.trim().split('\n'), pings.map((p) => `re:${p} ${SERVER} 7`));
  });

  it('DNS: a query to 198.18.0.3 is answered by the resolver in H (a name it knows, and NXDOMAIN)', async () => {
    const out = await ns.python(`import socket, struct
def resolve(name, qid):
    q = struct.pack('!HHHHHH', qid, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(p)]) + p.encode() for p in name.split('.')) + b'\\0' + struct.pack('!HH', 1, 1)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
    u.sendto(q, ('198.18.0.3', 53))
    r, a = u.recvfrom(512)
    rid, flags, _, an = struct.unpack('!HHHH', r[:8])
    assert rid == qid and a == ('198.18.0.3', 53)
    if flags & 15: return 'rcode%d' % (flags & 15)
    return socket.inet_ntoa(r[-4:])
print(resolve('svc.nat.test', 77), resolve('nope.nat.test', 78))`);
    assert.equal(out.trim(), '198.18.0.123 rcode3');
  });

  it('UDP to a closed port in H: a connected socket in NS gets ECONNREFUSED at once (ICMP port unreachable passed on)', async () => {
    const out = await ns.python(`import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
u.connect(('${SERVER}', 8001))
t = time.time()
u.send(b'anyone?')
try:
    u.recv(100); print('answered')
except ConnectionRefusedError:
    print('refused', time.time() - t < 3)
except socket.timeout:
    print('timeout')`);
    assert.equal(out.trim(), 'refused True');
  });

  it('UDP to an unreachable host: NS gets ICMP host unreachable (EHOSTUNREACH with IP_RECVERR, as from a router)', async () => {
    const out = await ns.python(`import socket, errno, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
u.setsockopt(socket.IPPROTO_IP, 11, 1)  # IP_RECVERR: soft errors reported too
u.connect(('${UNREACHABLE}', 9))
t = time.time()
u.send(b'anyone?')
try:
    u.recv(100); print('answered')
except socket.timeout:
    print('timeout')
except OSError as e:
    print(errno.errorcode.get(e.errno, e), time.time() - t < 3)`);
    assert.equal(out.trim(), 'EHOSTUNREACH True');
  });

  it('ping from NS to any address: answered from it through the host\'s ICMP socket; an address H cannot reach is not', async () => {
    assert.equal((await ns.run('python3', ['-c', PY_PING, SERVER, '5'])).trim(), `reply from ${SERVER} intact`);
    assert.equal((await ns.run('python3', ['-c', PY_PING, '198.18.0.2', '5'])).trim(), 'reply from 198.18.0.2 intact');
    assert.equal((await ns.run('python3', ['-c', PY_PING, UNREACHABLE, '1.5'])).trim(), 'no reply');
    assert.doesNotMatch(natErr, /pings to addresses other than/);
  });

  it('a closed port in H: NS gets ECONNREFUSED (the host RST passed on as RST)', async () => {
    const out = await ns.python(`import socket
try:
    socket.create_connection(('${SERVER}', 8001), timeout=5); print('connected')
except ConnectionRefusedError:
    print('refused')`);
    assert.equal(out.trim(), 'refused');
  });

  it('a reset by the server in H reaches NS as a reset (ECONNRESET)', async () => {
    const out = await ns.python(`import socket
s = socket.create_connection(('${SERVER}', 8002), timeout=5)
s.sendall(b'x')
try:
    print('read', len(s.recv(10)))
except ConnectionResetError:
    print('reset')`);
    assert.equal(out.trim(), 'reset');
  });

  it('an unreachable host: NS gets EHOSTUNREACH at once (ICMP host unreachable from the stack)', async () => {
    const out = await ns.python(`import socket, errno, time
t = time.time()
try:
    socket.create_connection(('${UNREACHABLE}', 80), timeout=5); print('connected')
except OSError as e:
    print(errno.errorcode.get(e.errno, e), time.time() - t < 3)`);
    assert.equal(out.trim(), 'EHOSTUNREACH True');
  });

  it('published ports: H reaches a TCP and a UDP server in NS; the TCP peer NS sees is the gateway', async () => {
    const servers = ns.spawn('python3', ['-u', '-c', PY_NS_SERVERS]);
    await printed(servers, 'listening', 'servers in NS');
    const out = await h.python(`import socket
s = socket.create_connection(('${SERVER}', 9090), timeout=5)
print(s.makefile().readline().strip())
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
u.sendto(b'hi', ('${SERVER}', 9091))
print(u.recvfrom(100)[0].decode())`);
    assert.deepEqual(out.trim().split('\n'), ['inside NS, you are 198.18.0.2', 'ns:hi']);
    servers.kill('SIGTERM');
  });

  it('SIGTERM: exits 0 and NS is left as found (no tun0, no default route)', async () => {
    nat.kill('SIGTERM');
    assert.equal(await natExit, 0, natErr);
    assert.match(natErr, /stopped \(\d+ datagrams relayed/);
    assert.doesNotMatch(await ns.ip(['link', 'show']), /tun0/);
    assert.equal((await ns.ip(['route', 'show', 'default'])).trim(), '');
  });

  it('--tap: the same over a TAP device (the stack answers ARP for the gateway); cleaned up on SIGTERM; where H refuses ICMP sockets, only the gateway answers pings', async () => {
    await h.run('sysctl', ['-qw', 'net.ipv4.ping_group_range=1 0']);
    const tap = h.spawn(process.execPath, [CLI, 'nat', '--netns', ns.netns, '--tap', 'tap0', '--cidr', '198.18.0.0/25', '--disable-dns']);
    let err = '';
    tap.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exit = new Promise<number | null>((resolve) => tap.once('exit', (code) => resolve(code)));
    await printed(tap, 'ready', 'rx-netstack nat --tap');
    try {
      assert.equal(await ns.run('curl', ['-sS', '-m', '10', `http://${SERVER}:8000/`]), 'hello from H\n');
      assert.match(await ns.ip(['neigh', 'show', '198.18.0.2', 'dev', 'tap0']), /lladdr [0-9a-f:]{17}/);
      assert.equal((await ns.run('python3', ['-c', PY_PING, '198.18.0.2', '5'])).trim(), 'reply from 198.18.0.2 intact');
      assert.equal((await ns.run('python3', ['-c', PY_PING, SERVER, '1.5'])).trim(), 'no reply');
      assert.match(err, /pings to addresses other than 198\.18\.0\.2 go unanswered: .*EACCES/);
    } finally {
      tap.kill('SIGTERM');
    }
    assert.equal(await exit, 0, err);
    assert.doesNotMatch(await ns.ip(['link', 'show']), /tap0/);
  });

  it('the device deleted under it: the nat says the link failed (ENODEV) and exits 1', async () => {
    const child = h.spawn(process.execPath, [CLI, 'nat', '--netns', ns.netns, '--cidr', '198.18.0.0/25', '--disable-dns']);
    let err = '';
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await printed(child, 'ready', 'rx-netstack nat');
    try {
      await ns.ip(['link', 'del', 'tun0']);
      assert.equal(await exit, 1, err);
      assert.match(err, /link failed: .*ENODEV/);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('a failed setup (NS has a default route already) exits 1 and leaves NS as found', async () => {
    await ns.ip(['route', 'add', 'blackhole', 'default']);
    try {
      const child = h.spawn(process.execPath, [CLI, 'nat', '--netns', ns.netns, '--cidr', '198.18.0.0/25']);
      let err = '';
      child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      assert.equal(code, 1, err);
      assert.match(err, /cannot start: cannot add the default route/);
      assert.doesNotMatch(await ns.ip(['link', 'show']), /tun0/);
      assert.match(await ns.ip(['route', 'show', 'default']), /^blackhole default/);
    } finally {
      await ns.ip(['route', 'del', 'blackhole', 'default']);
    }
  });
});
