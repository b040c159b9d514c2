/**
 * Large TCP segments through the stack (virtual time, memory wire):
 * - a link that says it segments (`maxGsoBytes`, `sendPartial` with a gsoSize: here a wrapper
 *   that cuts like a TSO device, then loses some pieces) gets large segments whole from TCP,
 *   through IPv4 and Ethernet;
 * - a link that does not get only MTU-sized frames even when a connection builds large segments
 *   (IPv4's software segmenter cuts them).
 * Both byte-exact.
 */
import assert from 'node:assert/strict';
import { VirtualTimeScheduler } from 'rxjs';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import type { Link } from '../../../streams/links/link.js';
import { impairLink } from '../../../streams/operators/impair.js';
import { createStack, type Stack } from '../../../streams/stack/create-stack.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { emitIpv4, IpProtocol } from '../../../src/wire/ipv4.js';
import { segmentTcp } from '../../../src/wire/tcp-segmenter.js';
import { completePartialChecksum } from '../../../streams/links/virtio-net-hdr.js';
import { pattern } from './tcp-helpers.js';
import { stat } from './raw-peer.js';

const MiB = 1024 * 1024;
const IP_AT = 14;
const TCP_AT = 34;

/** `inner` with TCP segmentation offload done here, as a device would: counts the large frames. */
function tsoLink(inner: Link): Link & { largeFrames: number; maxFrame: number } {
  const readU32 = (b: Uint8Array, at: number): number => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
  const link = {
    name: inner.name,
    mtu: inner.mtu,
    mac: inner.mac,
    frames$: inner.frames$,
    largeFrames: 0,
    maxFrame: 0,
    maxGsoBytes: 0xffff,
    send: (frame: Uint8Array) => inner.send(frame),
    sendPartial(frame: Uint8Array, start: number, offset: number, gsoSize?: number): void {
      link.maxFrame = Math.max(link.maxFrame, frame.length);
      if (gsoSize === undefined || gsoSize === 0) {
        completePartialChecksum(frame, start, offset);
        inner.send(frame);
        return;
      }
      assert.equal(start, TCP_AT);
      assert.ok(frame.length - TCP_AT > gsoSize, 'a large segment');
      link.largeFrames++;
      const src = readU32(frame, IP_AT + 12);
      const dst = readU32(frame, IP_AT + 16);
      const tcp = PacketBuffer.withPayload(frame.subarray(TCP_AT));
      segmentTcp(tcp, gsoSize, src, dst, false, (piece) => {
        emitIpv4({ src, dst, protocol: IpProtocol.TCP, ttl: 64, ident: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0 }, piece);
        const at = piece.prepend(14);
        piece.buf.set(frame.subarray(0, 14), at);
        inner.send(piece.bytes());
      });
    },
    close: () => inner.close(),
  };
  return link;
}

/**
 * `tsoLink(inner)` that also gathers (Link.sendGathered), as the TAP link's writev does: the frame
 * is put together from its pieces during the call (the payload is only lent for it), then cut.
 * Records whether each payload was a view of something larger (the send buffer), not a copy.
 */
function gatherLink(inner: Link): ReturnType<typeof tsoLink> & { gathered: number; payloadCopies: number; sameStore: number } {
  const link = Object.assign(tsoLink(inner), { gathered: 0, payloadCopies: 0, sameStore: 0 });
  let lastStore: ArrayBufferLike | undefined;
  const sendGathered = (head: Uint8Array, payload: Uint8Array, start: number, offset: number, gsoSize: number): void => {
    link.gathered++;
    assert.notEqual(payload.buffer, head.buffer, 'the payload is not in the packet buffer');
    if (payload.buffer.byteLength === payload.length) link.payloadCopies++;
    if (payload.buffer === lastStore) link.sameStore++;
    lastStore = payload.buffer;
    const frame = new Uint8Array(head.length + payload.length);
    frame.set(head, 0);
    frame.set(payload, head.length);
    link.sendPartial!(frame, start, offset, gsoSize);
  };
  return Object.assign(link, { sendGathered });
}

/**
 * `inner` that gathers but finishes no checksum (a TAP device without offload: writev, no
 * virtio_net_hdr): `sendGathered` only ever gets complete frames (csumStart -1), put together
 * here as the device's writev would. Counts them, and whether each payload was a view of
 * something larger (the send buffer) rather than a copy.
 */
function plainGatherLink(inner: Link): Link & { gathered: number; views: number; smallest: number; whole: number } {
  const link = {
    name: inner.name,
    mtu: inner.mtu,
    mac: inner.mac,
    frames$: inner.frames$,
    gathered: 0,
    views: 0,
    smallest: Infinity,
    whole: 0,
    send: (frame: Uint8Array) => {
      link.whole++;
      inner.send(frame);
    },
    sendGathered(head: Uint8Array, payload: Uint8Array, start: number, _offset: number, gsoSize: number): void {
      assert.equal(start, -1, 'a complete frame: nothing below finishes checksums');
      assert.equal(gsoSize, 0);
      link.gathered++;
      if (payload.buffer.byteLength > payload.length) link.views++;
      link.smallest = Math.min(link.smallest, payload.length);
      const frame = new Uint8Array(head.length + payload.length);
      frame.set(head, 0);
      frame.set(payload, head.length);
      inner.send(frame);
    },
    close: () => inner.close(),
  };
  return link;
}

/**
 * Runs `bulk(a, b, size)` to its end in virtual time (`ms` of it) and checks that every byte
 * arrived, in order and unchanged; returns the run for further checks.
 */
function bulkDone(scheduler: VirtualTimeScheduler, a: Stack, b: Stack, size: number, ms = 60_000, onConnected?: (c: TcpConnection) => void): ReturnType<typeof bulk> {
  const run = bulk(a, b, size, onConnected);
  scheduler.schedule(() => undefined, ms);
  scheduler.flush();
  assert.equal(run.mismatch(), -1, 'byte-exact: no stale byte reached the wire');
  assert.equal(run.received(), size);
  return run;
}

/** The large frames `la` is given to write, copied as written (from byte `from`: 14 skips Ethernet). */
function recordLargeFrames(la: Link, from = 0): Uint8Array[] {
  const written: Uint8Array[] = [];
  const partial = la.sendPartial!.bind(la);
  la.sendPartial = (frame, start, offset, gsoSize) => {
    if (gsoSize !== undefined && gsoSize > 0) written.push(frame.slice(from));
    partial(frame, start, offset, gsoSize);
  };
  return written;
}

function bulk(a: Stack, b: Stack, size: number, onConnected?: (c: TcpConnection) => void): { received: () => number; mismatch: () => number; ended: () => boolean } {
  const data = pattern(size, 5);
  let received = 0;
  let mismatch = -1;
  let ended = false;
  const l = b.tcp.listen({ port: 5001 }).subscribe((c) => {
    l.unsubscribe();
    c.data$.subscribe({
      next: (chunk) => {
        for (let i = 0; i < chunk.length && mismatch < 0; i++) if (chunk[i] !== data[received + i]) mismatch = received + i;
        received += chunk.length;
      },
      complete: () => (ended = true),
    });
  });
  a.tcp.connect({ address: '198.18.0.2', port: 5001 }).subscribe((c) => {
    onConnected?.(c);
    let offset = 0;
    const pump = (): void => {
      while (offset < size) {
        const chunk = data.subarray(offset, Math.min(offset + 256 * 1024, size));
        offset += chunk.length;
        if (!c.write(chunk)) return;
      }
      c.end();
    };
    c.drain$.subscribe(pump);
    pump();
  });
  return { received: () => received, mismatch: () => mismatch, ended: () => ended };
}

describe('stack: large TCP segments (TSO)', function () {
  this.timeout(60_000);

  it('a link that segments gets large segments whole; 1% of the pieces lost, 8 MiB byte-exact', () => {
    const scheduler = new VirtualTimeScheduler();
    const [wa, wb] = createMemoryWire({ scheduler, latencyMs: 1 });
    const la = tsoLink(impairLink(wa, { outbound: { loss: 0.01, seed: 3 }, scheduler }));
    const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }] }, { scheduler });
    const b = createStack({ interfaces: [{ name: 'eth0', link: wb, ipv4: ['198.18.0.2/24'] }] }, { scheduler });
    try {
      const run = bulkDone(scheduler, a, b, 8 * MiB, 120_000);
      assert.ok(run.ended());
      assert.ok(la.largeFrames > 20, `${la.largeFrames} large frames`);
      assert.ok(la.maxFrame > 30_000, `largest frame ${la.maxFrame} bytes`);
      assert.ok(stat(a, 'tcpConnections', 'largeSegmentsSent') > 20);
      assert.ok(stat(a, 'tcpConnections', 'retransmits') > 0, 'pieces were lost and resent');
      assert.equal(stat(a, 'ipv4', 'txSegmented'), 0, 'nothing cut in software');
    } finally {
      a.close();
      b.close();
    }
  });

  it('a link that gathers gets each large segment as headers + a view of the send buffer; 1% of the pieces lost, 8 MiB byte-exact', () => {
    const scheduler = new VirtualTimeScheduler();
    const [wa, wb] = createMemoryWire({ scheduler, latencyMs: 1 });
    const la = gatherLink(impairLink(wa, { outbound: { loss: 0.01, seed: 3 }, scheduler }));
    const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }] }, { scheduler });
    const b = createStack({ interfaces: [{ name: 'eth0', link: wb, ipv4: ['198.18.0.2/24'] }] }, { scheduler });
    try {
      const run = bulkDone(scheduler, a, b, 8 * MiB, 120_000);
      assert.ok(run.ended());
      assert.ok(la.gathered >= la.largeFrames, 'every large segment came gathered (full-sized ones too)');
      assert.ok(la.gathered > 20, `${la.gathered} gathered frames`);
      assert.ok(la.payloadCopies < la.gathered / 20, `${la.payloadCopies} of ${la.gathered} payloads copies: only ranges that wrap the send buffer's ring`);
      assert.ok(la.sameStore > la.gathered / 2, 'consecutive payloads are views of one store (the ring)');
      assert.ok(stat(a, 'tcpConnections', 'retransmits') > 0, 'pieces were lost and resent');
    } finally {
      a.close();
      b.close();
    }
  });

  it('an observer of the link tap sees whole frames, as written; unobserved, the same link gathers', () => {
    const scheduler = new VirtualTimeScheduler();
    const [wa, wb] = createMemoryWire({ scheduler, latencyMs: 1 });
    const la = gatherLink(wa);
    const written = recordLargeFrames(la);
    const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }] }, { scheduler });
    const b = createStack({ interfaces: [{ name: 'eth0', link: wb, ipv4: ['198.18.0.2/24'] }] }, { scheduler });
    const seen: Uint8Array[] = [];
    const tap = a.taps.link.down$.subscribe((f) => {
      if (f.length > 1514) seen.push(f); // kept beyond the call, on purpose
    });
    try {
      bulkDone(scheduler, a, b, 2 * MiB);
      assert.equal(la.gathered, 0, 'observed: frames go whole');
      assert.ok(seen.length > 5, `${seen.length} large frames observed`);
      assert.equal(seen.length, written.length);
      for (let i = 0; i < seen.length; i++) assert.deepEqual(seen[i], written[i], `frame ${i} as observed = as written`);
      // Nobody observes any more: the same stack gathers again.
      tap.unsubscribe();
      bulkDone(scheduler, a, b, 2 * MiB);
      assert.ok(la.gathered > 5, `${la.gathered} frames gathered once unobserved`);
    } finally {
      tap.unsubscribe();
      a.close();
      b.close();
    }
  });

  it('an observer of the network tap may keep the packets it sees: their bytes stay those sent', () => {
    const scheduler = new VirtualTimeScheduler();
    const [wa, wb] = createMemoryWire({ scheduler, latencyMs: 1 });
    const la = gatherLink(wa);
    const written = recordLargeFrames(la, 14);
    // A small send buffer: its ring is reused many times while the observer holds the packets.
    const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }], tcp: { sendBufferMax: 256 * 1024 } }, { scheduler });
    const b = createStack({ interfaces: [{ name: 'eth0', link: wb, ipv4: ['198.18.0.2/24'] }] }, { scheduler });
    const kept: PacketBuffer[] = [];
    const tap = a.taps.network.down$.subscribe((o) => {
      if (o.pb.gsoSize > 0) kept.push(o.pb);
    });
    try {
      bulkDone(scheduler, a, b, 4 * MiB);
      assert.ok(kept.length > 20, `${kept.length} large packets kept`);
      assert.equal(kept.length, written.length);
      for (let i = 0; i < kept.length; i++) assert.deepEqual(kept[i].bytes().subarray(14), written[i], `packet ${i} as kept = as sent`);
    } finally {
      tap.unsubscribe();
      a.close();
      b.close();
    }
  });

  it('a link that does not segment: a connection building large segments still puts only MTU-sized frames on the wire', () => {
    const scheduler = new VirtualTimeScheduler();
    const [wa, wb] = createMemoryWire({ scheduler, latencyMs: 1 });
    let largest = 0;
    const seen: Link = {
      name: wa.name, mtu: wa.mtu, mac: wa.mac, frames$: wa.frames$,
      send: (f: Uint8Array) => {
        largest = Math.max(largest, f.length);
        wa.send(f);
      },
      close: () => wa.close(),
    };
    const a = createStack({ interfaces: [{ name: 'eth0', link: seen, ipv4: ['198.18.0.1/24'] }] }, { scheduler });
    const b = createStack({ interfaces: [{ name: 'eth0', link: wb, ipv4: ['198.18.0.2/24'] }] }, { scheduler });
    try {
      let gsoBefore = -1;
      bulkDone(scheduler, a, b, 4 * MiB, 120_000, (c) => {
        gsoBefore = c.core.gsoMaxBytes;
        c.core.gsoMaxBytes = 0xffff; // as if the route had said so
      });
      assert.equal(gsoBefore, 0, 'the memory wire does not segment: the core was told MSS-sized');
      assert.ok(stat(a, 'tcpConnections', 'largeSegmentsSent') > 10);
      assert.ok(stat(a, 'ipv4', 'txSegmented') > 10, 'IPv4 cut them');
      assert.ok(largest <= 1514, `largest frame ${largest}`);
      assert.equal(stat(b, 'tcp', 'drops', 'badChecksum'), 0);
    } finally {
      a.close();
      b.close();
    }
  });
  it('a link that gathers without checksum offload gets full-sized segments as a finished header + a view of the send buffer; 1% lost, 4 MiB byte-exact', () => {
    const scheduler = new VirtualTimeScheduler();
    const [wa, wb] = createMemoryWire({ scheduler, latencyMs: 1 });
    const la = plainGatherLink(impairLink(wa, { outbound: { loss: 0.01, seed: 5 }, scheduler }));
    const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }] }, { scheduler });
    const b = createStack({ interfaces: [{ name: 'eth0', link: wb, ipv4: ['198.18.0.2/24'] }] }, { scheduler });
    try {
      bulkDone(scheduler, a, b, 4 * MiB, 120_000);
      // 4 MiB in segments of at most 1448 bytes: nearly all of them full-sized, all gathered.
      assert.ok(la.gathered > (4 * MiB) / 1448 - 50, `${la.gathered} frames gathered`);
      assert.ok(la.gathered - la.views < la.gathered / 20, `${la.views} of ${la.gathered} payloads views of the send buffer: copies only where a range wraps its ring`);
      assert.ok(la.smallest >= 1024, 'small payloads are copied instead (cheaper than pieces)');
      assert.ok(la.whole > 0, 'the handshake, ACKs and small segments go whole');
      assert.ok(stat(a, 'tcpConnections', 'retransmits') > 0, 'frames were lost and resent');
      assert.equal(stat(b, 'tcp', 'drops', 'badChecksum'), 0);
    } finally {
      a.close();
      b.close();
    }
  });

  it('with an operator below TCP (hooks.tcp.down), segments hold copies: nothing is gathered', () => {
    const scheduler = new VirtualTimeScheduler();
    const [wa, wb] = createMemoryWire({ scheduler, latencyMs: 1 });
    const la = plainGatherLink(wa);
    const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }] }, { scheduler, hooks: { tcp: { down: (s$) => s$ } } });
    const b = createStack({ interfaces: [{ name: 'eth0', link: wb, ipv4: ['198.18.0.2/24'] }] }, { scheduler });
    try {
      bulkDone(scheduler, a, b, 1 * MiB);
      assert.equal(la.gathered, 0);
      assert.ok(la.whole > MiB / 1448, `${la.whole} frames written whole`);
    } finally {
      a.close();
      b.close();
    }
  });
});
