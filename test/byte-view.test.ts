import assert from 'node:assert/strict';
import { bufferOf, byteOffsetOf, setBytes } from '../src/byte-view.js';

describe('byte-view', () => {
  it('reads byteOffset and buffer as the properties do, for views, subarrays and Buffers', () => {
    const slab = new ArrayBuffer(64);
    const view = new Uint8Array(slab, 12, 20);
    const sub = view.subarray(3, 9);
    const node = Buffer.from([1, 2, 3]);
    for (const v of [view, sub, node, new Uint8Array(0), new Uint8Array(8)]) {
      assert.equal(byteOffsetOf(v), v.byteOffset);
      assert.equal(bufferOf(v), v.buffer);
    }
    assert.equal(byteOffsetOf(sub), 15);
    assert.equal(bufferOf(sub), slab);
  });

  it('setBytes copies as set does, offset included, and checks the range as set does', () => {
    const dst = new Uint8Array(6);
    setBytes(dst, new Uint8Array([1, 2, 3]), 2);
    assert.deepEqual([...dst], [0, 0, 1, 2, 3, 0]);
    setBytes(dst, [9, 8]);
    assert.deepEqual([...dst], [9, 8, 1, 2, 3, 0]);
    assert.throws(() => setBytes(dst, new Uint8Array(4), 3), RangeError);
  });

  it('refuses what is not a typed array, as the getters do', () => {
    assert.throws(() => byteOffsetOf(new DataView(new ArrayBuffer(4)) as unknown as Uint8Array), TypeError);
    assert.throws(() => bufferOf({} as Uint8Array), TypeError);
  });
});
