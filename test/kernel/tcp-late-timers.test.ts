/**
 * The event loop held up past a TCP timer's time: the ACK that came meanwhile is read before the
 * timer fires. Node runs due timers before it polls the TAP device, so without the stack's
 * late-wake drain (TimerQueue.onLateWake -> Link.pollInput) the tail loss probe (or the RTO)
 * armed for data sent before a long synchronous task fires after it, and resends data the
 * kernel had acknowledged long before.
 *
 * Needs root (a network namespace of the test's own, 198.18.0.0/24); see test/helpers/netns.ts.
 */
import assert from 'node:assert/strict';
import { firstValueFrom } from 'rxjs';
import { createStack, type Stack } from '../../streams/stack/create-stack.js';
import { describeKernelPeer, useKernelPeer } from '../helpers/netns.js';
import { useCloseAfterEach } from '../helpers/close-after-each.js';
import { startPython, pyListen } from '../helpers/python.js';

const STACK_IP = '198.18.0.2';
const HOST_IP = '198.18.0.1';

/** Holds the event loop for `ms` (a synchronous task, as a long computation would). */
function holdLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: nothing else runs, the TAP device fills
  }
}

describeKernelPeer('kernel peer: TCP timers after a held-up event loop', () => {
  const peer = useKernelPeer();
  const closeAfterTest = useCloseAfterEach<Stack>();

  it('data ACKed while the loop was held 400 ms is not resent when the loop runs again (no probe, no timeout)', async () => {
    const stack = closeAfterTest(createStack({ interfaces: [{ name: 'eth0', link: peer().attach({ mac: '02:00:00:00:00:02' }), ipv4: [`${STACK_IP}/24`] }] }));
    const server = await startPython(peer(), `import socket
${pyListen(HOST_IP, 5003)}
print('ready', flush=True)
c, addr = ls.accept()
n = 0
while True:
    chunk = c.recv(65536)
    if not chunk:
        break
    n += len(chunk)
print('received', n, flush=True)`, 30_000);
    const conn = await firstValueFrom(stack.tcp.connect({ address: HOST_IP, port: 5003 }));
    // A few round trips first: an RTT measured, the timers at their usual values.
    for (let i = 0; i < 5; i++) {
      conn.write(new Uint8Array(1000).fill(i));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const before = { ...conn.counters };
    const sent: number[] = [];
    const sentBefore = (round: number): number => sent[round];
    for (let round = 0; round < 3; round++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      sent[round] = conn.counters.segmentsSent;
      conn.write(new Uint8Array(3000).fill(0x61 + round));
      // The link writes the segments at the end of this task (a microtask queued by the write);
      // the kernel's ACK is in the device's queue when that write returns. Then the loop is
      // held: the probe's and the RTO's times pass, and at the next turn Node runs due timers
      // before it polls the device.
      await Promise.resolve();
      await Promise.resolve();
      assert.ok(conn.counters.segmentsSent > sentBefore(round), 'the segments left before the hold');
      holdLoop(400);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const after = conn.counters;
    assert.equal(after.tlpProbes - before.tlpProbes, 0, 'no tail loss probe');
    assert.equal(after.timeouts - before.timeouts, 0, 'no retransmission timeout');
    assert.equal(after.retransmits - before.retransmits, 0, 'nothing resent');
    conn.end();
    const out = await server.done;
    assert.match(out, /^received 14000$/m);
  }).timeout(30_000);
});
