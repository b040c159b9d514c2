import assert from 'node:assert/strict';
import { emptyArray } from '../src/empty-array.js';

describe('emptyArray', () => {
  it('empties the array in place, so later pushes start at index 0', () => {
    const list: Array<Uint8Array | null> = [new Uint8Array(1), null, new Uint8Array(2)];
    const same = list;
    emptyArray(list);
    assert.equal(list.length, 0);
    assert.equal(list, same);
    list.push(new Uint8Array(3));
    assert.deepEqual(list, [new Uint8Array(3)]);
  });

  it('empties a long array too', () => {
    const list = Array.from({ length: 5000 }, (_, i) => i);
    emptyArray(list);
    assert.equal(list.length, 0);
    assert.equal(list[0], undefined);
  });
});
