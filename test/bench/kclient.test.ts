/**
 * The benchmark client's bulk modes when a single write()/read() stalls across the warm-up mark
 * and the end of the run (a receiver that stops reading, or a CPU taken away for a few hundred
 * ms on a shared machine): the figure must cover the run, not the time since boot (stream-to)
 * or an empty window (stream-from: 0 Gbit/s). The peer is the kernel itself on the loopback of
 * a namespace made for the test, so only kclient is under test.
 */
import assert from 'node:assert/strict';
import { waitForLine } from '../../bench/kernel/netns.js';
import { describeKernelPeer } from '../helpers/netns.js';
import { useBenchNamespaces } from '../helpers/bench-namespaces.js';

/**
 * One connection on 127.0.0.1:9. `sink PAUSE`: reads nothing for PAUSE s, then everything.
 * `source PAUSE`: sends 64 KiB, nothing for PAUSE s, then as fast as it can. Ends with the
 * connection (kclient resets it).
 */
const SERVER = `
import socket, sys, time
mode, pause = sys.argv[1], float(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 9))
s.listen(1)
print('ready', flush=True)
c, _ = s.accept()
chunk = b'x' * 65536
try:
    if mode == 'sink':
        time.sleep(pause)
        while c.recv(65536):
            pass
    else:
        c.sendall(chunk)
        time.sleep(pause)
        while True:
            c.sendall(chunk)
except OSError:
    pass
`;

interface BulkResult {
  mode: string;
  bytes: number;
  seconds: number;
  gbps: number;
  max_stall_ms: number;
  warmup_skipped: boolean;
}

describeKernelPeer('bench/kernel/kclient bulk modes', function () {
  this.timeout(60_000);
  const bench = useBenchNamespaces();

  /** Starts the server in a fresh namespace, runs kclient MODE for 0.3 s against it. */
  async function bulk(mode: 'stream-to' | 'stream-from', server: 'sink' | 'source', pauseS: number): Promise<BulkResult> {
    const ns = await bench.namespace('kc');
    const child = ns.spawn('python3', ['-c', SERVER, server, String(pauseS)]);
    await waitForLine(child, 'ready', 10_000, 'python server');
    const r = await ns.exec(bench.tools.client, [mode, '127.0.0.1', '9', '0.3'], 20_000);
    assert.equal(r.code, 0, `kclient ${mode}: ${r.stdout} ${r.stderr}`);
    return JSON.parse(r.stdout) as BulkResult;
  }

  it('stream-to: a write blocked past the end of the run measures the whole run (was: seconds since boot, ~0 Gbit/s)', async () => {
    const r = await bulk('stream-to', 'sink', 1);
    assert.equal(r.warmup_skipped, true, JSON.stringify(r));
    // The run lasted until the server read, about 1 s after connect.
    assert.ok(r.seconds > 0.8 && r.seconds < 5, `window ${r.seconds} s: ${JSON.stringify(r)}`);
    assert.ok(r.max_stall_ms > 700, JSON.stringify(r));
    assert.ok(r.bytes > 0 && r.gbps > 0, JSON.stringify(r));
  });

  it('stream-from: a read blocked past the end of the run counts what arrived (was: 0 bytes, 0 Gbit/s)', async () => {
    const r = await bulk('stream-from', 'source', 1);
    assert.equal(r.warmup_skipped, true, JSON.stringify(r));
    assert.ok(r.seconds > 0.8 && r.seconds < 5, `window ${r.seconds} s: ${JSON.stringify(r)}`);
    assert.ok(r.max_stall_ms > 700, JSON.stringify(r));
    assert.ok(r.bytes >= 65536 && r.gbps > 0, JSON.stringify(r));
  });

  it('stream-to without a stall: the window starts after the warm-up, as before', async () => {
    const r = await bulk('stream-to', 'sink', 0);
    assert.equal(r.warmup_skipped, false, JSON.stringify(r));
    // 0.3 s run, 0.075 s warm-up.
    assert.ok(r.seconds > 0.15 && r.seconds < 0.3, `window ${r.seconds} s: ${JSON.stringify(r)}`);
    assert.ok(r.bytes > 0 && r.gbps > 0, JSON.stringify(r));
  });
});

describeKernelPeer('bench/kernel/kclient latency ping-recv', function () {
  this.timeout(30_000);
  const bench = useBenchNamespaces();

  it('times each echo waiting in recv() (no poll): the kernel on a namespace\'s loopback answers every one', async () => {
    const ns = await bench.namespace('kl');
    const r = await ns.exec(bench.tools.client, ['latency', 'ping-recv', '127.0.0.1', '0', '50', '0'], 20_000);
    assert.equal(r.code, 0, `${r.stdout} ${r.stderr}`);
    const j = JSON.parse(r.stdout) as { kind: string; replies: number; lost: number; p50Ms: number };
    assert.deepEqual([j.kind, j.replies, j.lost], ['ping-recv', 50, 0]);
    assert.ok(j.p50Ms > 0 && j.p50Ms < 100, JSON.stringify(j));
  });

  it('an echo nobody answers is given up after its second (the receive timeout), not waited for forever', async () => {
    const ns = await bench.namespace('kl');
    await ns.exec('sysctl', ['-q', '-w', 'net.ipv4.icmp_echo_ignore_all=1'], 5_000);
    const started = Date.now();
    const r = await ns.exec(bench.tools.client, ['latency', 'ping-recv', '127.0.0.1', '0', '2', '0'], 20_000);
    const took = Date.now() - started;
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /no replies/);
    assert.ok(took >= 1900 && took < 6000, `two unanswered echoes took ${took} ms`);
  });
});
