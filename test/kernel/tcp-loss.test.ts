/**
 * Linux's TCP against ours through heavy loss (issue 10): 64 MiB each way at once, 5 % loss in
 * both directions on the stack's link, byte-exact (SHA-256 of what each side sent and received).
 *
 * Needs root (a network namespace of the test's own, 198.18.0.0/24); see test/helpers/netns.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { firstValueFrom } from 'rxjs';
import { createStack, type Stack } from '../../streams/stack/create-stack.js';
import { impairLink } from '../../streams/operators/impair.js';
import { describeKernelPeer, useKernelPeer } from '../helpers/netns.js';
import { useCloseAfterEach } from '../helpers/close-after-each.js';
import { startPython, pyListen } from '../helpers/python.js';
import { pattern, PY_PATTERN } from '../helpers/pattern.js';

const STACK_IP = '198.18.0.2';
const HOST_IP = '198.18.0.1';
const MIB = 1024 * 1024;
const SIZE = 64 * MIB;
/**
 * The bound on the whole exchange. On this machine (2 shared cores) it took 23-34 s; the
 * bound leaves room for a loaded machine, but a sender stalling in repeated timeouts (each at
 * least 200 ms, doubling) would not finish in it.
 */
const BOUND_MS = 150_000;

describeKernelPeer('kernel peer: TCP through 5 % loss', () => {
  const peer = useKernelPeer();
  const closeAfterTest = useCloseAfterEach<Stack>();

  it(`moves 64 MiB from the kernel and 64 MiB to it at once, byte-exact, through 5 % loss each way, within ${BOUND_MS / 1000} s`, async () => {
    // Without TAP offload: the loss then applies per MSS-sized segment, as on a real lossy path.
    // With offload a dropped frame may be a 64 KiB GSO segment (some 45 segments lost at once),
    // which is another experiment, and slower by far on this machine. Receive coalescing is off
    // for the same reason (the impairment would drop whole coalesced runs).
    const link = impairLink(peer().attach({ mac: '02:00:00:00:00:02', offload: false, coalesceReceived: false }), {
      inbound: { loss: 0.05, seed: 21 },
      outbound: { loss: 0.05, seed: 22 },
    });
    const stack = closeAfterTest(createStack({ interfaces: [{ name: 'eth0', link, ipv4: [`${STACK_IP}/24`] }] }));
    const server = await startPython(peer(), `${PY_PATTERN}
import hashlib, socket, threading, time
${pyListen(HOST_IP, 5001)}
print('ready', flush=True)
c, addr = ls.accept()
c.settimeout(60)
start = time.monotonic()
data = pattern(${SIZE}, 3)
print('sent', hashlib.sha256(data).hexdigest(), flush=True)
def send():
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
h = hashlib.sha256()
n = 0
while True:
    chunk = c.recv(1 << 20)
    if not chunk:
        break
    h.update(chunk)
    n += len(chunk)
t.join()
c.close()
print('received', n, h.hexdigest(), '%.1f' % (time.monotonic() - start), flush=True)`, BOUND_MS);
    const started = Date.now();
    const conn = await firstValueFrom(stack.tcp.connect({ address: HOST_IP, port: 5001 }));
    const toKernel = pattern(SIZE, 2);
    const received = createHash('sha256');
    let receivedBytes = 0;
    const done = new Promise<void>((resolve, reject) =>
      conn.data$.subscribe({
        next: (chunk) => {
          received.update(chunk);
          receivedBytes += chunk.length;
        },
        error: reject,
        complete: resolve,
      }),
    );
    conn.write(toKernel);
    conn.end();
    await done;
    const out = await server.done;
    const seconds = (Date.now() - started) / 1000;
    const sentByKernel = /^sent ([0-9a-f]{64})$/m.exec(out)?.[1];
    const got = /^received (\d+) ([0-9a-f]{64}) /m.exec(out);
    assert.equal(receivedBytes, SIZE, 'every byte from the kernel arrived');
    assert.equal(received.digest('hex'), sentByKernel, 'byte-exact from the kernel');
    assert.ok(got !== null, out);
    assert.equal(Number(got[1]), SIZE, 'every byte reached the kernel');
    assert.equal(got[2], createHash('sha256').update(toKernel).digest('hex'), 'byte-exact to the kernel');
    assert.ok(seconds * 1000 < BOUND_MS, `done in ${seconds} s`);
    const counters = stack.tcpLayer.connectionCounters();
    assert.ok(counters.retransmits > 0 && counters.outOfOrderSegments > 0, 'loss hit both directions');
    console.log(`      64 MiB each way through 5 % loss: ${seconds.toFixed(1)} s, our RTOs ${counters.timeouts}, retransmits ${counters.retransmits}`);
  }).timeout(BOUND_MS + 20_000);
});
