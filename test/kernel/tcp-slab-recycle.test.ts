/**
 * Receive batches reused while in cache (TapDevice.recycleBatch, streams/frame-lease.ts) against
 * the Linux kernel over a real TAP device with offload (64 KiB segments), in a namespace of the
 * test's own: tens of MB through the echo service and through a reader that keeps nothing, with
 * the device filling every recycled batch's memory with a poison byte before reusing it. Every
 * byte is checked, and the device must have reused batches.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createStack, type Stack } from '../../streams/stack/create-stack.js';
import { echoService } from '../../streams/services/echo.js';
import { isPaced, pacedRead } from '../../streams/operators/paced-concat-map.js';
import type { TapLink } from '../../streams/links/tap-link.js';
import { describeKernelPeer, useKernelPeer } from '../helpers/netns.js';
import { useCloseAfterEach } from '../helpers/close-after-each.js';
import { PY_READ_TO_EOF } from '../helpers/python.js';
import { PY_PATTERN } from '../helpers/pattern.js';

const STACK_IP = '198.18.0.2';
const MIB = 1024 * 1024;

/** No frame reached IPv4 or TCP with bytes changed (TCP's retransmission would hide it from the bytes compared). */
function assertNoneCorrupt(stack: Stack): void {
  // Only checksums: the kernel may send the stack other traffic it drops for its own reasons.
  assert.equal((stack.ipv4.counters.drops as Record<string, number>)['badChecksum'], 0, 'no IPv4 header checksum failed');
  assert.equal(stack.tcpLayer.counters.drops['badChecksum'], 0, 'no TCP checksum failed');
}

describeKernelPeer('kernel peer: TCP receive batches reused while in cache', () => {
  const peer = useKernelPeer();
  const closeAfterTest = useCloseAfterEach<Stack>();

  function stackWithPoison(): { stack: Stack; link: TapLink } {
    const link = peer().attach({ mac: '02:00:00:00:00:02', offload: true });
    link.device.poisonRecycled(0xa5);
    const stack = closeAfterTest(createStack({ interfaces: [{ name: 'eth0', link, ipv4: [`${STACK_IP}/24`] }] }));
    return { stack, link };
  }

  it('the kernel echo client gets 32 MiB back byte-exact with recycling (and poison) on', async () => {
    const { stack, link } = stackWithPoison();
    echoService(stack, 7);
    const out = await peer().python(`${PY_PATTERN}
${PY_READ_TO_EOF}import socket, threading
data = pattern(32 * 1024 * 1024, 21)
s = socket.create_connection(('${STACK_IP}', 7), timeout=60)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
got = read_to_eof(s)
t.join()
print('ok' if got == data else 'mismatch', len(got))`, [], { timeoutMs: 90_000 });
    assert.equal(out.trim(), `ok ${32 * MIB}`);
    assertNoneCorrupt(stack);
    const reuses = link.stats().rxSlabReuses;
    assert.ok(reuses > 0, `the device reused receive batches (${reuses})`);
  }).timeout(100_000);

  it('64 MiB into a reader that keeps nothing: the SHA-256 of what it read is the kernel\'s', async () => {
    const { stack, link } = stackWithPoison();
    const hash = createHash('sha256');
    let received = 0;
    // A paced reader declaring it keeps nothing (it hashes each chunk within the call).
    stack.tcp.listen({ port: 9 }).subscribe((c) => {
      const data$ = c.data$;
      assert.ok(isPaced(data$));
      data$[pacedRead]({
        copies: true,
        next: (chunk) => {
          hash.update(chunk);
          received += chunk.length;
          return true;
        },
        complete: () => c.end(),
        error: () => undefined,
      });
    });
    const out = await peer().python(`${PY_PATTERN}import hashlib, socket
data = pattern(64 * 1024 * 1024, 22)
s = socket.create_connection(('${STACK_IP}', 9), timeout=60)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
s.recv(1)
s.close()
print(hashlib.sha256(data).hexdigest())`, [], { timeoutMs: 90_000 });
    assert.equal(received, 64 * MIB);
    assert.equal(hash.digest('hex'), out.trim());
    assertNoneCorrupt(stack);
    const reuses = link.stats().rxSlabReuses;
    assert.ok(reuses > 0, `the device reused receive batches (${reuses})`);
  }).timeout(100_000);
});
