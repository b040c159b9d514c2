import assert from 'node:assert/strict';
import { PacketBuffer, MAX_HEADROOM, allocBytes, allocUninitialized, allocUnzeroed, copyBytes } from '../src/packet-buffer.js';
import { internetChecksum } from '../src/wire/checksum.js';

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

  it('withPayload: the payload behind zeroed headroom, also in slabs made of recycled memory (they are not zero-filled)', () => {
    const payload = new Uint8Array(1400).map((_, i) => (i * 7 + 1) & 0xff);
    // 50 MB of packets, each scribbled over once checked: the slabs of the later ones are made of
    // memory the allocator had given to earlier ones.
    for (let i = 0; i < 30_000; i++) {
      const pb = PacketBuffer.withPayload(payload.subarray(0, i % 1401), 60 + (i % 79));
      const n = i % 1401;
      assert.equal(pb.buf.length, pb.head + n);
      assert.equal(pb.end, pb.head + n);
      for (let k = 0; k < pb.head; k++) if (pb.buf[k] !== 0) assert.fail(`packet ${i}: headroom byte ${k} is ${pb.buf[k]}`);
      for (let k = 0; k < n; k++) if (pb.buf[pb.head + k] !== payload[k]) assert.fail(`packet ${i}: payload byte ${k}`);
      pb.buf.fill(0xee);
    }
  });

  it('large buffers get storage of their own', () => {
    const pb = PacketBuffer.alloc(60_000);
    assert.equal(pb.buf.byteOffset, 0);
    assert.equal(pb.buf.buffer.byteLength, MAX_HEADROOM + 60_000);
  });

  it('prepend moves head down; beyond the headroom the packet moves to a larger buffer, partial checksum and all', () => {
    const pb = PacketBuffer.withPayload(new Uint8Array([1, 2, 3]), 10);
    assert.equal(pb.prepend(4), 6);
    assert.deepEqual([...pb.bytes()], [0, 0, 0, 0, 1, 2, 3]);
    pb.buf[6] = 9;
    pb.csumStart = 6;
    const before = pb.buf;
    const at = pb.prepend(7);
    assert.notEqual(pb.buf, before, 'a new buffer');
    assert.equal(pb.buf[at + 7], 9, 'the written bytes moved behind the new header');
    assert.equal(pb.csumStart, at + 7, 'the partial checksum start moved with them');
    assert.deepEqual([...pb.bytes()], [0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 2, 3]);
    assert.ok(pb.head >= 128, 'room to spare in front');
  });

  it('withPayloadInFull: the payload behind headroom left as the slab had it, for headers that fill it; the finished packet is its buffer', () => {
    const pb = PacketBuffer.withPayloadInFull(new Uint8Array([1, 2, 3]), 4);
    assert.equal(pb.head, 4);
    assert.equal(pb.buf.length, 7);
    assert.deepEqual([...pb.buf.subarray(4)], [1, 2, 3]);
    const at = pb.prepend(4);
    pb.buf.set([9, 8, 7, 6], at);
    assert.equal(pb.bytes(), pb.buf, 'no view made');
    assert.deepEqual([...pb.bytes()], [9, 8, 7, 6, 1, 2, 3]);
  });

  it('bytes() of a packet that fills its buffer (exact headroom, all of it taken) is the buffer itself, else a view', () => {
    const pb = PacketBuffer.withPayload(new Uint8Array([1, 2, 3]), 4);
    assert.notEqual(pb.bytes(), pb.buf);
    pb.prepend(4);
    assert.equal(pb.bytes(), pb.buf);
    assert.deepEqual([...pb.bytes()], [0, 0, 0, 0, 1, 2, 3]);
  });

  describe('a gathered tail (payload lent, not copied)', () => {
    /** A packet of `headerLength` written bytes (after 20 of headroom) and a `tailLength` tail. */
    function gathered(headerLength: number, tailLength: number): { pb: PacketBuffer; expected: number[] } {
      const pb = PacketBuffer.alloc(0, 20 + headerLength);
      const at = pb.prepend(headerLength);
      for (let i = 0; i < headerLength; i++) pb.buf[at + i] = (i * 3 + 1) & 0xff;
      const lent = new Uint8Array(tailLength + 10).subarray(5, 5 + tailLength); // a view, as the send buffer's
      for (let i = 0; i < tailLength; i++) lent[i] = (i * 7 + 5) & 0xff;
      pb.tail = lent;
      return { pb, expected: [...pb.buf.subarray(at, at + headerLength), ...lent] };
    }

    it('counts in length; bytes() and own() make the packet whole, same offsets, the tail copied once', () => {
      const { pb, expected } = gathered(40, 5000);
      const lent = pb.tail!;
      assert.equal(pb.length, 5040);
      const head = pb.head;
      const bytes = pb.bytes();
      assert.equal(pb.tail, undefined);
      assert.equal(pb.head, head, 'head (and the headroom in front) kept');
      assert.deepEqual([...bytes], expected);
      lent.fill(0xee); // the lender reuses its memory: the packet has its own copy
      assert.deepEqual([...pb.bytes()], expected);
      assert.equal(pb.prepend(20), head - 20, 'headroom still usable');
    });

    for (const headerLength of [40, 41]) {
      it(`completeChecksum sums the tail too (written part of ${headerLength % 2 === 0 ? 'even' : 'odd'} length)`, () => {
        const { pb, expected } = gathered(headerLength, 3001);
        const start = pb.head;
        pb.csumStart = start;
        pb.csumOffset = 16;
        pb.buf[start + 16] = 0;
        pb.buf[start + 17] = 0;
        expected[16] = 0;
        expected[17] = 0;
        pb.completeChecksum();
        const whole = Uint8Array.from(expected);
        const c = internetChecksum(whole, 0, whole.length);
        assert.deepEqual([pb.buf[start + 16], pb.buf[start + 17]], [c >>> 8, c & 0xff]);
        assert.equal(internetChecksum(Uint8Array.from(pb.bytes()), 0, pb.length), 0, 'the finished packet verifies');
      });
    }
  });

  it('allocUninitialized gives a plain Uint8Array of its own, of the size asked; reads after writes see what was written', () => {
    const b = allocUninitialized(100_000);
    assert.equal(Object.getPrototypeOf(b), Uint8Array.prototype, 'not a Buffer: one kind of array on hot paths');
    assert.equal(b.length, 100_000);
    assert.equal(b.byteOffset, 0);
    b.fill(7);
    assert.ok(b.every((x) => x === 7));
    assert.equal(allocUninitialized(0).length, 0);
  });

  it('allocUnzeroed: small blocks share a slab apart from the zeroed one, never overlap, 8-byte aligned; large ones are their own', () => {
    const zeroed = allocBytes(64);
    const blocks = Array.from({ length: 100 }, (_, i) => allocUnzeroed(1 + i * 5));
    for (const [i, b] of blocks.entries()) {
      assert.equal(Object.getPrototypeOf(b), Uint8Array.prototype);
      assert.equal(b.length, 1 + i * 5);
      assert.equal(b.byteOffset % 8, 0);
      assert.notEqual(b.buffer, zeroed.buffer, 'not from the zeroed packet slab');
      b.fill(i + 1);
    }
    for (const [i, b] of blocks.entries()) assert.ok(b.every((x) => x === i + 1), `block ${i} intact`);
    assert.ok(blocks.some((b, i) => i > 0 && b.buffer === blocks[i - 1].buffer), 'consecutive small blocks share storage');
    const large = allocUnzeroed(5000);
    assert.equal(large.length, 5000);
    assert.equal(large.byteOffset, 0);
    assert.equal(large.buffer.byteLength, 5000);
  });

  it('copyBytes copies as set does, short runs byte by byte and longer ones with set, from views at any offset', () => {
    const backing = Uint8Array.from({ length: 100 }, (_, i) => i + 1);
    for (let n = 0; n <= 40; n++) {
      for (const from of [0, 3]) {
        for (const at of [0, 5]) {
          const src = backing.subarray(from, from + n);
          const a = new Uint8Array(64).fill(0xaa);
          const b = new Uint8Array(64).fill(0xaa);
          copyBytes(a, src, at);
          b.set(src, at);
          assert.deepEqual(a, b, `n ${n} from ${from} at ${at}`);
        }
      }
    }
  });
});
