/**
 * tapLink's write batching against the kernel: replies to an inbound batch go out together at
 * its end, and pure ACKs a later ACK supersedes are dropped (ack-coalescer.ts) without costing
 * a byte: a 4 MiB transfer from the kernel arrives intact with far fewer ACKs than segments.
 * The TCP layer itself builds one ACK per inbound batch for in-order data (deferred-acks.ts), so
 * with the coalescer off the ACKs are still few.
 * Without offload (one segment per frame); tap-offload.test.ts covers the offloaded link.
 */
import assert from 'node:assert/strict';
import { createStack } from '../../../streams/stack/create-stack.js';
import { describeKernelPeer, useKernelPeer, type KernelPeer } from '../../helpers/netns.js';
import { waitFor } from '../../helpers/wait-for.js';
import { pySendHashed, sha256Sink } from '../../helpers/sha256-sink.js';

const SIZE = 4 * 1024 * 1024;
const SENDER = pySendHashed(`data = bytes((i * 31 + 7) & 0xff for i in range(${SIZE}))`, '198.18.0.2', 9, 20);

async function transfer(peer: KernelPeer, coalesceAcks: boolean, offload = false, coalesceReceived = true) {
  const link = peer.attach({ mac: '02:00:00:00:00:02', coalesceAcks, offload, coalesceReceived });
  const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: ['198.18.0.2/24'] }] });
  const sink = sha256Sink(stack, 9);
  try {
    const before = await peer.counters();
    const sent = (await peer.python(SENDER, [], { timeoutMs: 30_000 })).trim();
    await waitFor('the FIN', () => (sink.finished ? true : undefined));
    const after = await peer.counters();
    return {
      received: sink.received,
      sameBytes: sink.hash.digest('hex') === sent,
      acksCoalesced: link.stats().txAcksCoalesced,
      rxSuperFrames: link.stats().rxSuperFrames,
      // Frames the kernel sent us (tx) and frames we wrote (rx), as the kernel counts them.
      kernelSent: after.txPackets - before.txPackets,
      weWrote: after.rxPackets - before.rxPackets,
    };
  } finally {
    sink.subscription.unsubscribe();
    stack.close();
  }
}

describeKernelPeer('tapLink write batching and ACK coalescing', function () {
  this.timeout(60_000);
  const peer = useKernelPeer({ tapName: 'rxbat0' });

  it('4 MiB from the kernel arrive intact with far fewer ACKs than segments', async () => {
    const r = await transfer(peer(), true);
    assert.equal(r.received, SIZE);
    assert.ok(r.sameBytes, 'SHA-256 of what arrived equals the sender\'s');
    assert.ok(r.acksCoalesced > 0, 'some ACKs were superseded');
    // A receiver ACKing every second full-sized segment would write about 1,440 here.
    assert.ok(r.weWrote < r.kernelSent / 3, `we wrote ${r.weWrote} frames for ${r.kernelSent} received`);
  });

  it('coalesceAcks: false drops no ACK; the stack itself builds one per inbound batch', async () => {
    // Received segments are not coalesced either: every second full-sized segment owes an ACK,
    // which the TCP layer defers to the end of the batch (deferred-acks.ts), so the ACKs are
    // still few although the link drops none.
    const r = await transfer(peer(), false, false, false);
    assert.equal(r.received, SIZE);
    assert.ok(r.sameBytes);
    assert.equal(r.acksCoalesced, 0);
    assert.ok(r.weWrote < r.kernelSent / 3, `we wrote ${r.weWrote} frames for ${r.kernelSent} received`);
  });
});
