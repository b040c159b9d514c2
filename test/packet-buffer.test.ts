import assert from 'node:assert/strict';
import { PacketBuffer, MAX_HEADROOM } from '../src/packet-buffer.js';

describe('PacketBuffer', () => {
  it('alloc gives zeroed bytes of exactly headroom + payload, head at the headroom', () => {
    const pb = PacketBuffer.alloc(100);
    assert.equal(pb.buf.length, MAX_HEADROOM + 100);
    assert.equal(pb.head, MAX_HEADROOM);
    assert.equal(pb.length, 100);
    assert.ok(pb.buf.every((b) => b === 0));
  });

  it('small buffers share a slab but never overlap, and each starts 8-byte aligned', () => {
    const bufs = Array.from({ length: 200 }, (_, i) => PacketBuffer.alloc(i * 7, 20).buf);
    for (const [i, b] of bufs.entries()) {
      assert.equal(b.byteOffset % 8, 0);
      b.fill(i + 1);
    }
    // Writing each one fully did not touch any other.
    for (const [i, b] of bufs.entries()) assert.ok(b.every((x) => x === ((i + 1) & 0xff)), `buffer ${i} intact`);
    assert.ok(bufs.some((b, i) => i > 0 && b.buffer === bufs[i - 1].buffer), 'consecutive small buffers share storage');
  });

  it('a fresh slab is used once the current one is full, and is zeroed', () => {
    const seen = new Set<ArrayBufferLike>();
    for (let i = 0; i < 100; i++) {
      const b = PacketBuffer.alloc(1500).buf;
      assert.ok(b.every((x) => x === 0));
      b.fill(0xee);
      seen.add(b.buffer);
    }
    assert.ok(seen.size > 1);
  });

  it('large buffers get storage of their own', () => {
    const pb = PacketBuffer.alloc(60_000);
    assert.equal(pb.buf.byteOffset, 0);
    assert.equal(pb.buf.buffer.byteLength, MAX_HEADROOM + 60_000);
  });

  it('prepend moves head down and throws beyond the headroom', () => {
    const pb = PacketBuffer.withPayload(new Uint8Array([1, 2, 3]), 10);
    assert.equal(pb.prepend(4), 6);
    assert.deepEqual([...pb.bytes()], [0, 0, 0, 0, 1, 2, 3]);
    assert.throws(() => pb.prepend(7), RangeError);
  });
});
