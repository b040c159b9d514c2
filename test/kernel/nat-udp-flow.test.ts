/**
 * `rx-netstack nat`'s UDP flow offload (bin/nat-udp.ts, native/udp-flow.c) over a real TUN
 * device, between two namespaces of the test's own: H plays the host (the nat runs there, driven
 * through stdin by a small script, so the test can read its stack's counters and attach an
 * observer), NS is the namespace. A python client in NS exchanges UDP echoes with a server in H
 * (198.18.0.200, on H's loopback); the established flow's datagrams are relayed by the device's
 * flow table, counted in the stack's counters, keep the session alive past its idle timeout,
 * and stop going that way the moment an observer watches the stack. A server that goes away
 * mid-flow still gives the client ECONNREFUSED.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { lines } from '../helpers/child-lines.js';
import { natPeers } from '../helpers/nat-peers.js';
import { ensureDist, ROOT } from '../helpers/dist.js';
import { describeKernelPeer, type KernelPeer } from '../helpers/netns.js';

const SOURCES = ['bin/nat.ts', 'bin/nat-args.ts', 'bin/nat-device.ts', 'bin/nat-udp.ts', 'streams/pipeline/taps.ts', 'streams/pipeline/direct-gate.ts', 'src/stats.ts'];
const SERVER = '198.18.0.200';
/** The sessions' idle timeout here: short, so that a flow the stack does not see would end mid-test. */
const IDLE_MS = 400;

/** Runs the nat in H and answers "stats", "observe", "observed" on stdin with one JSON line each. */
const DRIVER = `
const [root, netns, idle] = process.argv.slice(1);
const { startNat } = await import(root + '/dist/bin/nat.js');
const { parseNat } = await import(root + '/dist/bin/nat-args.js');
const { createInterface } = await import('node:readline');
const parsed = parseNat(['--netns', netns, '--cidr', '198.18.0.0/25', '--disable-dns']);
const nat = await startNat(parsed.args, { udpIdleTimeoutMs: Number(idle) });
let observed = 0;
let ipv4Seen = 0;
let ipv4Watch;
const answers = {
  stats: () => ({ stats: nat.stack.stats(), device: nat.link.device.stats() }),
  observe: () => {
    nat.stack.taps.transport.up$.subscribe((d) => { if (d.protocol === 17) observed++; });
    return { observing: true };
  },
  observed: () => ({ observed }),
  'observe-ipv4': () => {
    ipv4Seen = 0;
    ipv4Watch = nat.stack.ipv4.observe$(17).subscribe(() => ipv4Seen++);
    return { observing: true };
  },
  'unobserve-ipv4': () => {
    ipv4Watch.unsubscribe();
    return { seen: ipv4Seen };
  },
};
createInterface({ input: process.stdin }).on('line', async (line) => {
  if (line === 'quit') { await nat.close(); process.exit(0); }
  console.log(JSON.stringify(answers[line]()));
});
console.log('ready');
`;

/** UDP echo servers in H: port 7 answers everything; port 8 answers 10 datagrams, then closes. */
const PY_SERVERS = `import socket, threading
def echo(port, limit):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('${SERVER}', port))
    n = 0
    while limit is None or n < limit:
        d, a = s.recvfrom(2048); s.sendto(d, a); n += 1
    s.close()
ts = [threading.Thread(target=echo, args=(7, None), daemon=True), threading.Thread(target=echo, args=(8, 10), daemon=True)]
for t in ts: t.start()
print('listening', flush=True)
for t in ts: t.join()
`;

/**
 * A python client in NS: rounds of echoes to SERVER:7 (`counts[i]` datagrams each), printing
 * "first N", "second N", ... (N the echoes that came back right) and waiting for a line on
 * stdin between rounds.
 */
function echoRounds(counts: readonly number[]): string {
  const names = ['first', 'second', 'third', 'fourth'];
  const rounds = counts.map((n, i) => `print('${names[i]}', run(${n}, b'${String.fromCharCode(97 + i)}'))`).join('\nsys.stdin.readline()\n');
  return `import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
def run(n, tag):
    ok = 0
    for i in range(n):
        p = b'%s %d' % (tag, i)
        u.sendto(p, ('${SERVER}', 7)); ok += u.recv(100) == p
    return ok
${rounds}`;
}

interface Snapshot {
  stats: {
    ipv4: Record<string, number>;
    udp: Record<string, number>;
    udpForward: Record<string, number> & { drops: Record<string, number> };
  };
  device: { rxFlowFrames: number };
}

describeKernelPeer('nat: established UDP flows relayed by the TUN device flow table', function () {
  this.timeout(60_000);
  let h: KernelPeer;
  let ns: KernelPeer;
  let driver: ChildProcess;
  let next: () => Promise<string>;
  const ask = async <T>(command: string): Promise<T> => {
    driver.stdin!.write(`${command}\n`);
    return JSON.parse(await next()) as T;
  };

  before(async function () {
    this.timeout(30_000);
    ensureDist(SOURCES);
    ({ h, ns } = await natPeers(SERVER, PY_SERVERS));
    driver = h.spawn(process.execPath, ['--input-type=module', '-e', DRIVER, ROOT, ns.netns, String(IDLE_MS)]);
    next = lines(driver);
    assert.equal(await next(), 'ready');
  });

  after(async () => {
    driver?.stdin?.write('quit\n');
    await ns?.destroy();
    await h?.destroy();
  });

  it('relays an echo flow natively, counted by the stack, the session kept past its idle timeout, then ended by it', async () => {
    const before = await ask<Snapshot>('stats');
    // 60 echoes over ~2.4 s: six idle timeouts long. The counters are read all along (each
    // read folds the flow table's counts in): that must not hide the flow from the idle timer.
    const running = ns.python(`import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
ok = 0
for i in range(60):
    p = b'flow %d' % i
    u.sendto(p, ('${SERVER}', 7))
    d, a = u.recvfrom(100)
    ok += d == p and a == ('${SERVER}', 7)
    time.sleep(0.04)
print(ok)`);
    let done = false;
    void running.finally(() => (done = true));
    let reads = 0;
    while (!done) {
      await ask<Snapshot>('stats');
      reads++;
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal((await running).trim(), '60');
    assert.ok(reads >= 100, `${reads} reads`);
    const after = await ask<Snapshot>('stats');
    const d = (pick: (s: Snapshot) => number): number => pick(after) - pick(before);
    // All but the first (and any a check sent the stack's way) went by the flow table.
    assert.ok(d((s) => s.device.rxFlowFrames) >= 55, `relayed natively: ${d((s) => s.device.rxFlowFrames)}`);
    // Every datagram counted, as the stack counts those it relays itself.
    assert.equal(d((s) => s.stats.udpForward.rxDatagrams), 60);
    assert.equal(d((s) => s.stats.udpForward.txDatagrams), 60);
    assert.equal(d((s) => s.stats.udpForward.rxBytes), [...Array(60).keys()].reduce((n, i) => n + `flow ${i}`.length, 0));
    assert.equal(d((s) => s.stats.udp.rxDatagrams), 60);
    assert.equal(d((s) => s.stats.udp.txDatagrams), 60);
    assert.equal(d((s) => s.stats.ipv4.rxForeign), 60);
    assert.equal(d((s) => s.stats.ipv4.rxPackets), 60);
    assert.equal(d((s) => s.stats.ipv4.rxDelivered), 60);
    assert.equal(d((s) => s.stats.ipv4.txPackets), 60);
    assert.equal(d((s) => s.stats.udp.txBytes), d((s) => s.stats.udpForward.txBytes));
    assert.equal(d((s) => s.stats.udp.rxBytes), 0, 'as for the datagrams the stack forwards itself');
    // One session all along: the idle timer saw the flow table's datagrams.
    assert.equal(d((s) => s.stats.udpForward.sessionsOpened), 1);
    assert.equal(d((s) => s.stats.udpForward.sessionsExpired), 0);
    // Once quiet, it ends (within the timeout and a tick more): polled, bounded.
    let expired = 0;
    for (let i = 0; i < 40 && expired === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      expired = (await ask<Snapshot>('stats')).stats.udpForward.sessionsExpired - before.stats.udpForward.sessionsExpired;
    }
    assert.equal(expired, 1);
  });

  it('a server that goes away mid-flow: the client still gets ECONNREFUSED (ICMP port unreachable passed on)', async () => {
    const before = (await ask<Snapshot>('stats')).device.rxFlowFrames;
    const out = await ns.python(`import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3)
u.connect(('${SERVER}', 8))
ok = 0
for i in range(10):
    u.send(b'x%d' % i); ok += u.recv(100) == b'x%d' % i
# The server closes its socket after its 10th answer, on its own thread: a datagram that gets
# there before the close is queued and dropped with the socket (no ICMP), so ask again.
u.settimeout(0.5)
result = 'timeout'
for i in range(10):
    try:
        u.send(b'gone?'); u.recv(100)
        result = 'answered'
        break
    except ConnectionRefusedError:
        result = 'refused'
        break
    except socket.timeout:
        pass
print(ok, result)`);
    assert.equal(out.trim(), '10 refused');
    // The flow was the flow table's when the server went away.
    const now = await ask<Snapshot>('stats');
    const relayed = now.device.rxFlowFrames - before;
    assert.ok(relayed >= 8, `relayed natively: ${relayed} (${JSON.stringify(now.stats.udpForward)}, ${JSON.stringify(now.device)})`);
  });

  it('IPv4 observe$ subscribed mid-flow sees every later datagram; once it goes, the flow is offloaded again', async () => {
    const client = ns.spawn('python3', ['-u', '-c', echoRounds([10, 25, 20])]);
    const said = lines(client);
    assert.equal(await said(), 'first 10');
    assert.deepEqual(await ask('observe-ipv4'), { observing: true });
    const whileSeen = (await ask<Snapshot>('stats')).device.rxFlowFrames;
    client.stdin!.write('go\n');
    assert.equal(await said(), 'second 25');
    assert.deepEqual(await ask('unobserve-ipv4'), { seen: 25 });
    assert.equal((await ask<Snapshot>('stats')).device.rxFlowFrames, whileSeen, 'nothing relayed natively while observed');
    client.stdin!.write('go\n');
    assert.equal(await said(), 'third 20');
    assert.ok((await ask<Snapshot>('stats')).device.rxFlowFrames - whileSeen >= 15, 'offloaded again');
  });

  it('an observer attached mid-flow sees every later datagram (the flow goes back to the stack)', async () => {
    const client = ns.spawn('python3', ['-u', '-c', echoRounds([20, 30])]);
    const said = lines(client);
    const before = (await ask<Snapshot>('stats')).device.rxFlowFrames;
    assert.equal(await said(), 'first 20');
    const offloaded = (await ask<Snapshot>('stats')).device.rxFlowFrames;
    assert.ok(offloaded - before >= 15, 'the flow was the flow table\'s before the observer came');
    assert.deepEqual(await ask('observe'), { observing: true });
    client.stdin!.write('go\n');
    assert.equal(await said(), 'second 30');
    assert.deepEqual(await ask('observed'), { observed: 30 });
    assert.equal((await ask<Snapshot>('stats')).device.rxFlowFrames, offloaded, 'nothing relayed natively while observed');
  });
});
