/**
 * The TCP layer's ACKs deferred to the end of a link's inbound batch (deferred-acks.ts,
 * TcpHost.deferAck), end to end over two TAP links back to back without a kernel
 * (test/helpers/fake-tap-device.ts), with offload: the sender's 64 KiB segments arrive in
 * batches, and the receiver builds an ACK at the end of each batch (and one per 128 KiB within
 * it), not one per segment: seen with the link's ACK coalescer off, which would otherwise drop
 * the superseded ones after they were built.
 */
import assert from 'node:assert/strict';
import { firstValueFrom } from 'rxjs';
import { createStack } from '../../../streams/stack/create-stack.js';
import { deviceLink } from '../../../streams/links/tap-link.js';
import { discardService } from '../../../streams/services/discard.js';
import { inboundBatchEnd, inboundBatchStart, atInboundBatchEnd, inInboundBatch } from '../../../streams/inbound-batch.js';
import { fakeDevicePair } from '../../helpers/fake-tap-device.js';
import { pattern } from '../../helpers/pattern.js';

const IPV4_TCP_AT = 14 + 20;

/** TCP payload length and flags of an Ethernet + IPv4 (no options) + TCP frame. */
function tcpOf(frame: Uint8Array): { payload: number; flags: number } {
  const total = (frame[16] << 8) | frame[17];
  const dataOffset = (frame[IPV4_TCP_AT + 12] >>> 4) * 4;
  return { payload: total - 20 - dataOffset, flags: frame[IPV4_TCP_AT + 13] };
}

describe('TAP link: ACKs deferred to the end of the inbound batch', () => {
  it('a bulk receiver builds one pure ACK per batch it read (and per 128 KiB in it), with the coalescer off', async () => {
    const [da, db] = fakeDevicePair({ offload: true });
    // Count the receiver's batches: wrap the device's onFrames before the link takes it.
    const receiver = db.asTapDevice();
    let batches = 0;
    let largest = 0;
    // The most pure ACKs the receiver may build: one at the end of each batch, and one for each
    // 128 KiB within it (the core's bound on a deferred ACK).
    let allowed = 0;
    const onFrames = receiver.onFrames.bind(receiver);
    receiver.onFrames = (callback) =>
      onFrames((frames, headers, time, slab) => {
        batches++;
        largest = Math.max(largest, frames.length);
        let bytes = 0;
        for (const f of frames) bytes += f.length;
        allowed += 1 + Math.floor(bytes / (128 << 10));
        callback(frames, headers, time, slab);
      });
    const la = deviceLink(da.asTapDevice(), { mac: undefined, coalesceAcks: false, layer: 'ethernet' });
    const lb = deviceLink(receiver, { mac: undefined, coalesceAcks: false, layer: 'ethernet' });
    const a = createStack({ interfaces: [{ name: 'if0', link: la, mac: '02:00:00:00:00:01', ipv4: ['198.18.0.1/24'] }] });
    const b = createStack({ interfaces: [{ name: 'if0', link: lb, mac: '02:00:00:00:00:02', ipv4: ['198.18.0.2/24'] }] });
    const service = discardService(b, 9);
    try {
      const conn = await firstValueFrom(a.tcp.connect({ address: '198.18.0.2', port: 9 }));
      const closed = firstValueFrom(conn.closed$);
      conn.write(pattern(4 << 20, 1));
      conn.end();
      await closed;
      const sent = da.written.map((w) => tcpOf(w.frame));
      const dataFrames = sent.filter((t) => t.payload > 0).length;
      const pureAcks = db.written.map((w) => tcpOf(w.frame)).filter((t) => t.payload === 0 && t.flags === 0x10).length;
      // Every segment here is more than two full-sized ones: ACKed one by one, there would be
      // about as many pure ACKs as data segments.
      assert.ok(largest > 2 && allowed < dataFrames, `batches held several segments (${dataFrames} in ${batches}, largest ${largest})`);
      // A segment that arrives twice or out of order is answered at once (RFC 5681 4.2, a
      // D-SACK): on a loaded machine the sender's tail loss probe or timeout can fire while the
      // receiver is starved, and each such duplicate earns an ACK of its own beyond the batches'.
      const r = b.stats().tcpConnections;
      const immediate = r.duplicateSegments + r.outOfOrderSegments;
      const s = a.stats().tcpConnections;
      assert.ok(pureAcks <= allowed + immediate,
        `${pureAcks} pure ACKs for ${batches} batches (at most ${allowed}, and ${immediate} for duplicate or out-of-order segments; the sender's probes ${s.tlpProbes}, timeouts ${s.timeouts})`);
    } finally {
      service.unsubscribe();
      a.close();
      b.close();
    }
  });

  it('atInboundBatchEnd: runs registered work once, at the end of the outermost batch, still inside it', () => {
    const seen: string[] = [];
    assert.equal(atInboundBatchEnd(() => seen.push('outside')), false, 'nothing to run it outside a batch');
    inboundBatchStart();
    inboundBatchStart();
    assert.equal(atInboundBatchEnd(() => seen.push(`end ${inInboundBatch()}`)), true);
    inboundBatchEnd();
    assert.deepEqual(seen, [], 'not at the end of a nested batch');
    inboundBatchEnd();
    assert.deepEqual(seen, ['end true']);
    inboundBatchStart();
    inboundBatchEnd();
    assert.deepEqual(seen, ['end true'], 'run once');
  });
});
