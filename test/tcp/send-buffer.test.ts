import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SendBuffer, dropSendBufferSpares } from '../../src/tcp/send-buffer.js';

function bytes(from: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (from + i) & 0xff;
  return out;
}

/** What a property test checks while `driveAgainstModel` runs its operations. */
interface ModelChecks {
  /** After a write of `asked` bytes took `took`, the buffer having held `heldBefore`. */
  readonly wrote?: (asked: number, took: number, heldBefore: number) => void;
  /** A peek operation: `off` is an offset inside the held bytes, `b` the drawn length, `model` the bytes held. */
  readonly peek: (off: number, b: number, model: number[]) => void;
  /** After every operation. */
  readonly after?: (model: number[]) => void;
}

/**
 * Runs random operations on `sb` and on a plain array of the bytes it should hold: ['w', n, _]
 * writes n more bytes of the stream pattern, ['c', n, _] consumes up to n, ['p', a, b] peeks
 * (when anything is held) at offset a modulo the length.
 */
function driveAgainstModel(sb: SendBuffer, ops: ReadonlyArray<readonly [string, number, number]>, checks: ModelChecks): void {
  const model: number[] = [];
  let next = 0;
  for (const [op, a, b] of ops) {
    if (op === 'w') {
      const heldBefore = model.length;
      const took = sb.write(bytes(next, a));
      checks.wrote?.(a, took, heldBefore);
      for (let i = 0; i < took; i++) model.push((next + i) & 0xff);
      next += took;
    } else if (op === 'c') {
      const n = Math.min(a, model.length);
      sb.consume(n);
      model.splice(0, n);
    } else if (model.length > 0) {
      checks.peek(a % model.length, b, model);
    }
    checks.after?.(model);
  }
}

describe('tcp/send-buffer', () => {
  it('accepts up to capacity and reports free space', () => {
    const sb = new SendBuffer(10);
    assert.equal(sb.write(bytes(0, 6)), 6);
    assert.equal(sb.free, 4);
    assert.equal(sb.write(bytes(6, 6)), 4, 'only the room left is taken');
    assert.equal(sb.length, 10);
    assert.equal(sb.write(bytes(0, 1)), 0);
  });

  it('copies on write, so the caller may reuse its buffer', () => {
    const sb = new SendBuffer(100);
    const user = bytes(0, 8);
    sb.write(user);
    user.fill(0xee);
    assert.deepEqual([...sb.peek(0, 8)], [...bytes(0, 8)]);
  });

  it('peek returns a view (no copy) when the range is contiguous', () => {
    const sb = new SendBuffer(64 * 1024);
    sb.write(bytes(0, 3000));
    const a = sb.peek(100, 1000);
    const b = sb.peek(100, 1000);
    assert.equal(a.buffer, b.buffer, 'both are views of the same storage');
    assert.equal(a[0], 100);
  });

  it('wraps around the ring and still returns the right bytes', () => {
    const sb = new SendBuffer(16);
    sb.write(bytes(0, 12));
    sb.consume(10);
    sb.write(bytes(12, 12)); // wraps: holds 10..23
    assert.equal(sb.length, 14);
    assert.deepEqual([...sb.peek(0, 14)], [...bytes(10, 14)]);
    assert.deepEqual([...sb.peek(5, 4)], [...bytes(15, 4)]);
  });

  it('grows its storage lazily while keeping content', () => {
    const sb = new SendBuffer(256 * 1024);
    sb.write(bytes(0, 10_000));
    sb.consume(9_000);
    sb.write(bytes(10_000, 100_000));
    assert.equal(sb.length, 101_000);
    assert.deepEqual([...sb.peek(0, 50)], [...bytes(9_000, 50)]);
    assert.deepEqual([...sb.peek(100_950, 50)], [...bytes(109_950, 50)]);
  });

  it('allocates on demand and lets go of its storage once empty (idle connections hold nothing)', () => {
    const sb = new SendBuffer(256 * 1024);
    assert.equal(sb.allocated, 0);
    sb.write(bytes(0, 100));
    assert.equal(sb.allocated, 512);
    const view = sb.peek(0, 100);
    sb.write(bytes(100, 10_000));
    assert.equal(sb.allocated, 16_384, 'doubled as needed');
    sb.consume(10_100);
    assert.equal(sb.allocated, 0);
    assert.equal(view[5], 5, 'a view handed out earlier is still intact');
  });

  it('consume with hold keeps emptied storage until releaseIfEmpty (a reply written in the same call reuses it)', () => {
    const sb = new SendBuffer(256 * 1024);
    sb.write(bytes(0, 10));
    const first = sb.peek(0, 10);
    sb.consume(10, 5, true);
    assert.equal(sb.length, 0);
    assert.equal(sb.allocated, 512, 'held');
    sb.write(bytes(10, 3));
    const again = sb.peek(0, 3);
    assert.equal(again.buffer, first.buffer);
    assert.equal(again.byteOffset, first.byteOffset, 'written from the start of the same block');
    sb.releaseIfEmpty(5);
    assert.equal(sb.allocated, 512, 'not empty: kept');
    sb.consume(3, 5, true);
    sb.releaseIfEmpty(5);
    assert.equal(sb.allocated, 0, 'empty: let go');
    sb.write(bytes(0, 1));
    sb.consume(1);
    assert.equal(sb.allocated, 0, 'without hold, let go at once as before');
  });

  it('behaves like a byte queue under random writes, consumes and peeks (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.tuple(fc.constantFrom('w', 'c', 'p'), fc.nat(3000), fc.nat(3000)), { maxLength: 60 }),
        (capacity, ops) => {
          const sb = new SendBuffer(capacity);
          driveAgainstModel(sb, ops, {
            wrote: (asked, took, heldBefore) => assert.equal(took, Math.min(asked, capacity - heldBefore)),
            peek: (off, b, model) => {
              const len = Math.min(b, model.length - off);
              assert.deepEqual([...sb.peek(off, len)], model.slice(off, off + len));
            },
            after: (model) => {
              assert.equal(sb.length, model.length);
              assert.equal(sb.free, capacity - model.length);
            },
          });
        },
      ),
    );
  });

  it('contiguous: how much of a range lies before the ring end; peek is a view exactly then, and large storage (not zeroed) never shows an unwritten byte', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 5000, max: 300_000 }),
        fc.array(fc.tuple(fc.constantFrom('w', 'c', 'p'), fc.nat(100_000), fc.nat(70_000)), { maxLength: 40 }),
        (capacity, ops) => {
          const sb = new SendBuffer(capacity);
          driveAgainstModel(sb, ops, {
            peek: (off, b, model) => {
              const len = Math.max(1, Math.min(b, model.length - off));
              const c = sb.contiguous(off, len);
              assert.ok(c >= 1 && c <= len);
              const storage = sb.peek(0, 1).buffer;
              const before = sb.peek(off, c);
              assert.equal(before.buffer, storage, 'the part before the ring end is a view');
              const whole = sb.peek(off, len);
              if (c === len) assert.equal(whole.buffer, storage, 'a range that does not wrap is a view');
              else assert.notEqual(whole.buffer, storage, 'a range that wraps is a copy');
              assert.deepEqual([...whole], model.slice(off, off + len));
            },
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a fractional capacity is taken as whole bytes (a fraction made every later length fractional and bytes went astray)', () => {
    const b = new SendBuffer(1000);
    b.growCapacity(1500.7);
    assert.equal(b.capacity, 1500);
    const data = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
    assert.equal(b.write(data), 1500);
    assert.ok(Number.isInteger(b.free) && b.free === 0);
    assert.deepEqual([...b.peek(1490, 10)], [...data.subarray(1490, 1500)]);
  });

  it('large storage an emptied buffer lets go is reused by the next buffer that grows, only at a later time of the clock (views of it handed out in the same task stay intact)', () => {
    // The pool is shared by every buffer of the process: start from an empty one.
    dropSendBufferSpares();
    const n = 40_000;
    const a = new SendBuffer(n);
    assert.equal(a.write(bytes(1, n), 10), n);
    const viewA = a.peek(0, n);
    a.consume(n, 10);
    // Same time (the same task): fresh storage, and what A handed out keeps its bytes.
    const b = new SendBuffer(n);
    assert.equal(b.write(bytes(2, n), 10), n);
    assert.notEqual(b.peek(0, n).buffer, viewA.buffer);
    assert.deepEqual(viewA, bytes(1, n));
    // Later: A's storage again (no allocation), holding C's own bytes.
    const c = new SendBuffer(n);
    assert.equal(c.write(bytes(3, n), 11), n);
    assert.equal(c.peek(0, n).buffer, viewA.buffer);
    assert.deepEqual(c.peek(0, n), bytes(3, n));
    // Taken out of the pool: the next buffer at a later time allocates its own.
    const d = new SendBuffer(n);
    d.write(bytes(4, n), 12);
    assert.notEqual(d.peek(0, n).buffer, viewA.buffer);
  });
});
