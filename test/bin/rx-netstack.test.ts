/**
 * The compiled command line (dist/bin/*.js) under plain `node`, as a user runs it: no tsx.
 * `npm test` compiles first; run `npm run build:ts` before running this file alone.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait-for.js';
import { describeKernelPeer, useKernelPeer } from '../helpers/netns.js';
import { PY_READ_TO_EOF } from '../helpers/python.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(root, 'dist/bin/rx-netstack.js');

function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build:ts\` (npm test does it)`);
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the compiled program to its end; `uid` runs it as that user (and group). */
function runNode(args: readonly string[], options: { uid?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...args],
      { timeout: 15_000, ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }) },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : (error.code as number | null), stdout, stderr }),
    );
  });
}

/** Collects a child's output and resolves `ready` when it prints the line `ready`. */
function watch(child: ChildProcess): { out: () => string; err: () => string; ready: Promise<void>; exit: Promise<number | null> } {
  let out = '';
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/^ready$/m.test(out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before ready: ${err}`)));
  });
  ready.catch(() => undefined);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { out: () => out, err: () => err, ready, exit };
}

describe('bin/rx-netstack (compiled, plain node)', () => {
  before(assertBuilt);

  it('bad options exit 2 and name every bad option', async () => {
    const { code, stderr, stdout } = await runNode([
      CLI, 'serve', '--ip', '198.18.0.300/24', '--mtu', '20', '--mac', 'nope', '--frob', '--services', 'echo:7,gopher',
      '--busy-poll', '-5',
    ]);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    for (const option of ['--tap', '--ip', '--mtu', '--mac', '--frob', '--services', '--busy-poll']) {
      assert.match(stderr, new RegExp(`^  ${option}: `, 'm'), `${option} named in:\n${stderr}`);
    }
    assert.match(stderr, /gopher/);
  });

  it('bad IPv6 options exit 2 and name every one: --ip6 (each bad value), --gw6, --no-slaac without IPv6', async () => {
    const bad = await runNode([CLI, 'serve', '--tap', 'rxt9', '--ip', '198.18.0.2/24', '--ip6', 'fd00::1/129', '--ip6', 'ff02::1/64', '--gw6', '2001:db8::1']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^ {2}--ip6: "fd00::1\/129" is not an IPv6 address with prefix/m);
    assert.match(bad.stderr, /^ {2}--ip6: ff02::1\/64 cannot be a host's own address/m);
    assert.match(bad.stderr, /^ {2}--gw6: 2001:db8::1 is neither link-local nor on the prefix of an --ip6 address/m);
    const lone = await runNode([CLI, 'serve', '--tap', 'rxt9', '--ip', '198.18.0.2/24', '--no-slaac']);
    assert.equal(lone.code, 2);
    assert.match(lone.stderr, /^ {2}--no-slaac: IPv6 is off without --ip6 or --gw6/m);
  });

  it('--host-ip without --netns is refused: addresses are set only inside a namespace', async () => {
    const { code, stderr } = await runNode([CLI, 'serve', '--tap', 'rxt9', '--ip', '198.18.0.2/24', '--host-ip', '198.18.0.1/24']);
    assert.equal(code, 2);
    assert.match(stderr, /--host-ip: needs --netns/);
  });

  it('an unknown command exits 2; --help prints the usage and exits 0', async () => {
    assert.equal((await runNode([CLI, 'frobnicate'])).code, 2);
    const help = await runNode([CLI, '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /rx-netstack serve --tap NAME --ip CIDR/);
  });

  it('no arguments at all: the usage on stderr, exit 2', async () => {
    const run = await runNode([CLI]);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^usage: rx-netstack serve --tap NAME --ip CIDR/);
  });

  it('--services naming a port and protocol twice is a bad option, reported with the others before any device is touched', async () => {
    // As a user who is not root: had it got as far as the TAP device, it would say EPERM instead.
    const run = await runNode([CLI, 'serve', '--tap', 'rxt9', '--ip', '198.18.0.2/24', '--mtu', 'x',
      '--services', 'echo:7,udp-echo:7,echo:7,discard:7'], process.getuid?.() === 0 ? { uid: 65534 } : {});
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^ {2}--services: "echo:7" wants TCP port 7, already taken by "echo:7"$/m);
    assert.match(run.stderr, /^ {2}--services: "discard:7" wants TCP port 7, already taken by "echo:7"$/m);
    assert.match(run.stderr, /^ {2}--mtu: /m, 'every bad option at once');
    assert.doesNotMatch(run.stderr, /udp-echo:7" wants/, 'UDP 7 next to TCP 7 is fine');
    assert.doesNotMatch(run.stderr, /EPERM|TAP device/);
  });

  it('--netns without root: one line saying what to run instead, nothing touched', async () => {
    const args = ['serve', '--tap', 'rxt9', '--ip', '198.18.0.2/24', '--netns', 'rxns-never-made'];
    const run = await runNode([CLI, ...args], process.getuid?.() === 0 ? { uid: 65534 } : {});
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    const lines = run.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0], /^rx-netstack: --netns needs root .*: run (sudo )?rx-netstack serve --tap rxt9 --ip 198\.18\.0\.2\/24 --netns rxns-never-made( as root)?$/);
    assert.equal(existsSync('/var/run/netns/rxns-never-made'), false);
  });
});

describeKernelPeer('bin/rx-netstack serve against a namespace', () => {
  before(assertBuilt);
  const peer = useKernelPeer({ tapName: 'rxcli0' });

  it('inside the namespace: attaches to the persistent device, says "ready", SIGTERM exits 0 leaving it as found', async () => {
    const found = (await peer().linkInfo())!;
    const child = peer().spawn(process.execPath, [CLI, 'serve', '--tap', 'rxcli0', '--ip', '198.18.0.2/24', '--mtu', '1400']);
    const run = watch(child);
    await run.ready;
    const attached = (await peer().linkInfo())!;
    assert.equal(attached.mtu, 1400);
    assert.ok(attached.flags.includes('LOWER_UP'), 'carrier while the CLI holds the device');
    assert.match(run.err(), /attached to TAP device rxcli0/);

    child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.err());
    const after = (await peer().linkInfo())!;
    assert.equal(after.mtu, found.mtu);
    assert.equal(after.address, found.address);
    assert.deepEqual(after.flags.filter((f) => f !== 'LOWER_UP' && f !== 'NO-CARRIER'),
      found.flags.filter((f) => f !== 'LOWER_UP' && f !== 'NO-CARRIER'));
    assert.match(await peer().ip(['-4', 'addr', 'show', 'dev', 'rxcli0']), /198\.18\.0\.1\/24/);
  });

  it('the served stack answers ARP and ping, echoes UDP, and RSTs a closed TCP port', async () => {
    const child = peer().spawn(process.execPath, [CLI, 'serve', '--tap', 'rxcli0', '--ip', '198.18.0.2/24', '--services', 'udp-echo:7']);
    const run = watch(child);
    await run.ready;
    try {
      const out = await peer().python(`
import socket, struct, os, time, errno
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
icmp.settimeout(2)
ident = os.getpid() & 0xffff
ok = 0
for seq in range(5):
    body = struct.pack('!BBHHH', 8, 0, 0, ident, seq) + b'x' * 56
    body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
    icmp.sendto(body, ('198.18.0.2', 0))
    while True:
        buf, _ = icmp.recvfrom(2000)
        ihl = (buf[0] & 15) * 4
        t, _, _, rid, rseq = struct.unpack('!BBHHH', buf[ihl:ihl + 8])
        if t == 0 and rid == ident and rseq == seq:
            ok += 1
            break
print('ping', ok)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(2)
u.sendto(b'hello rx', ('198.18.0.2', 7))
print('udp', u.recvfrom(100)[0].decode())
t = socket.socket()
t.settimeout(2)
try:
    t.connect(('198.18.0.2', 9))
    print('tcp connected')
except ConnectionRefusedError:
    print('tcp refused')
`);
      assert.match(out, /^ping 5$/m);
      assert.match(out, /^udp hello rx$/m);
      assert.match(out, /^tcp refused$/m);
      const neigh = await peer().ip(['neigh', 'show', '198.18.0.2']);
      assert.match(neigh, /lladdr [0-9a-f:]{17}/, 'the kernel learned the stack\'s MAC');
    } finally {
      child.kill('SIGTERM');
      assert.equal(await run.exit, 0, run.err());
    }
  });

  it('--heap-pages: by default (packed) V8\'s pages land next to each other, --heap-pages off leaves them scattered; both serve', async () => {
    // `ip netns exec` execs the program: the child's PID is the CLI's. After 3,000 UDP echoes
    // and some TCP, V8 has mapped its pages; count those left alone at 256 KiB.
    const lonePages = async (extra: readonly string[]): Promise<{ lone: number; stderr: string }> => {
      const child = peer().spawn(process.execPath, [CLI, 'serve', '--tap', 'rxcli0', '--ip', '198.18.0.2/24', '--services', 'udp-echo:7,echo:7', ...extra]);
      const run = watch(child);
      await run.ready;
      try {
        const out = await peer().python(`
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(2)
n = 0
for i in range(3000):
    u.sendto(b'x' * (i % 1400 + 1), ('198.18.0.2', 7))
    if len(u.recvfrom(2000)[0]) == i % 1400 + 1: n += 1
for i in range(20):
    t = socket.create_connection(('198.18.0.2', 7), timeout=2)
    t.sendall(b'y' * 5000)
    got = 0
    while got < 5000: got += len(t.recv(8192))
    t.close()
print('echoed', n)
`);
        assert.match(out, /^echoed 3000$/m);
        const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8').split('\n').filter(Boolean).map((l) => l.split(/\s+/));
        const lone = maps.filter((f) => !f[5] && (([a, b]) => parseInt(b, 16) - parseInt(a, 16))(f[0].split('-')) === 262144).length;
        return { lone, stderr: run.err() };
      } finally {
        child.kill('SIGTERM');
        assert.equal(await run.exit, 0, run.err());
      }
    };
    const packed = await lonePages([]);
    const off = await lonePages(['--heap-pages', 'off']);
    assert.doesNotMatch(packed.stderr, /heap-pages/, 'applied without a complaint');
    assert.ok(off.lone >= 40, `V8 scatters its pages without it: ${off.lone}`);
    assert.ok(packed.lone * 2 < off.lone, `lone 256 KiB pages packed ${packed.lone}, off ${off.lone}`);
  });

  it('--services echo:7,discard:9,chargen:19,http:80,udp-echo:7 serves them all; other ports answer RST', async () => {
    const child = peer().spawn(process.execPath, [
      CLI, 'serve', '--tap', 'rxcli0', '--ip', '198.18.0.2/24', '--services', 'echo:7,discard:9,chargen:19,http:80,udp-echo:7',
    ]);
    const run = watch(child);
    await run.ready;
    try {
      const out = await peer().python(`
import socket, threading, urllib.request
${PY_READ_TO_EOF}S = '198.18.0.2'
data = bytes((i * 7 + (i >> 9)) & 0xff for i in range(300000))
e = socket.create_connection((S, 7), timeout=10)
threading.Thread(target=lambda: (e.sendall(data), e.shutdown(socket.SHUT_WR))).start()
got = read_to_eof(e)
print('echo', 'ok' if bytes(got) == data else 'mismatch %d' % len(got))
d = socket.create_connection((S, 9), timeout=10)
d.sendall(data)
d.shutdown(socket.SHUT_WR)
print('discard', len(d.recv(100)))
c = socket.create_connection((S, 19), timeout=10)
line = b''
while len(line) < 74:
    line += c.recv(74 - len(line))
print('chargen', line.decode().rstrip())
c.close()
with urllib.request.urlopen('http://%s/' % S, timeout=10) as r:
    print('http', r.status, r.read().decode().strip())
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(2)
u.sendto(b'udp hello', (S, 7))
print('udp-echo', u.recvfrom(100)[0].decode())
t = socket.socket()
t.settimeout(2)
try:
    t.connect((S, 23))
    print('23 connected')
except ConnectionRefusedError:
    print('23 refused')
`, [], { timeoutMs: 30_000 });
      assert.equal(out, [
        'echo ok',
        'discard 0',
        `chargen ${Array.from({ length: 72 }, (_, i) => String.fromCharCode(32 + i)).join('')}`,
        'http 200 hello from rx-netstack',
        'udp-echo udp hello',
        '23 refused',
        '',
      ].join('\n'));
    } finally {
      child.kill('SIGTERM');
      assert.equal(await run.exit, 0, run.err());
    }
  }).timeout(40_000);

  it('SIGINT during setup (--netns made, device not yet): setup finishes and is undone, exit 0, nothing left', async () => {
    const netns = `${peer().netns}-setup`;
    const child = spawn(process.execPath, [
      CLI, 'serve', '--tap', 'rxcli1', '--ip', '198.18.0.2/24', '--netns', netns, '--host-ip', '198.18.0.1/24',
    ], { stdio: 'pipe' });
    const run = watch(child);
    try {
      // The namespace exists, the device and the address are still to come.
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (!/created network namespace/.test(run.err())) return;
          child.stderr!.off('data', check);
          resolve();
        };
        child.stderr!.on('data', check);
      });
      child.kill('SIGINT');
      assert.equal(await run.exit, 0, run.err());
      assert.match(run.err(), /SIGINT: stopping/);
      assert.equal(existsSync(`/var/run/netns/${netns}`), false, `namespace removed: ${run.err()}`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (existsSync(`/var/run/netns/${netns}`)) await new Promise((resolve) => execFile('ip', ['netns', 'del', netns], resolve));
    }
  });

  it('the device deleted under it: "link failed", the rest undone, exit 1', async () => {
    const netns = `${peer().netns}-gone`;
    const child = spawn(process.execPath, [CLI, 'serve', '--tap', 'rxcli1', '--ip', '198.18.0.2/24', '--netns', netns], { stdio: 'pipe' });
    const run = watch(child);
    try {
      await run.ready;
      await new Promise<void>((resolve, reject) =>
        execFile('ip', ['-n', netns, 'link', 'del', 'rxcli1'], (e) => (e ? reject(e) : resolve())));
      assert.equal(await run.exit, 1, run.err());
      assert.match(run.err(), /link failed: /);
      assert.equal(existsSync(`/var/run/netns/${netns}`), false, 'the namespace it made is removed');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (existsSync(`/var/run/netns/${netns}`)) await new Promise((resolve) => execFile('ip', ['netns', 'del', netns], resolve));
    }
  });

  it('--netns NS from outside: creates NS, the device and the host address there, captures, and removes it all on SIGINT', async () => {
    const netns = `${peer().netns}-cli`;
    const dir = mkdtempSync(join(tmpdir(), 'rx-cli-'));
    const pcap = join(dir, 'serve.pcap');
    let child: ChildProcess | undefined;
    try {
      assert.equal(existsSync(`/var/run/netns/${netns}`), false);
      child = spawn(process.execPath, [
        CLI, 'serve', '--tap', 'rxcli1', '--ip', '198.18.0.2/24', '--netns', netns, '--host-ip', '198.18.0.1/24', '--pcap', pcap,
      ], { stdio: 'pipe' });
      const run = watch(child);
      await run.ready;
      const addr = await new Promise<string>((resolve, reject) =>
        execFile('ip', ['-n', netns, '-4', 'addr', 'show', 'dev', 'rxcli1'], (e, out) => (e ? reject(e) : resolve(out))));
      assert.match(addr, /inet 198\.18\.0\.1\/24/);
      // The kernel there ARPs for the stack: one frame at least reaches the CLI and the capture.
      await new Promise<void>((resolve, reject) =>
        execFile('ip', ['netns', 'exec', netns, 'python3', '-c',
          "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('198.18.0.2', 9))"],
        (e) => (e ? reject(e) : resolve())));
      await waitFor('a captured frame', () => (existsSync(pcap) && readFileSync(pcap).length > 24 ? true : undefined));

      child.kill('SIGINT');
      assert.equal(await run.exit, 0, run.err());
      assert.match(run.err(), /stopped \([1-9][0-9]* frames received\)/);
      assert.equal(existsSync(`/var/run/netns/${netns}`), false, 'the namespace it created is gone');
      const bytes = readFileSync(pcap);
      assert.equal(bytes.readUInt32LE(0), 0xa1b2c3d4, 'classic pcap magic');
      assert.equal(bytes.readUInt32LE(20), 1, 'LINKTYPE_ETHERNET');
      assert.equal(bytes.readUInt16BE(24 + 16 + 12), 0x0806, 'the first record is the ARP request');
    } finally {
      if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (existsSync(`/var/run/netns/${netns}`)) {
        await new Promise((resolve) => execFile('ip', ['netns', 'del', netns], resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
