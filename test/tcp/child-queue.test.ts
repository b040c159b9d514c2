import assert from 'node:assert/strict';
import { ChildQueue, type QueuedChild } from '../../src/tcp/child-queue.js';

class Child implements QueuedChild<Child> {
  queue: ChildQueue<Child> | undefined = undefined;
  queuePrev: Child | undefined = undefined;
  queueNext: Child | undefined = undefined;
  constructor(readonly name: string) {}
}

describe('tcp/child-queue', () => {
  it('keeps children in arrival order and takes the oldest first', () => {
    const q = new ChildQueue<Child>();
    const [a, b, c] = [new Child('a'), new Child('b'), new Child('c')];
    q.push(a);
    q.push(b);
    q.push(c);
    assert.equal(q.size, 3);
    assert.equal(q.shift()?.name, 'a');
    assert.equal(q.shift()?.name, 'b');
    assert.equal(q.shift()?.name, 'c');
    assert.equal(q.shift(), undefined);
    assert.equal(q.size, 0);
    assert.equal(a.queue, undefined);
  });

  it('removes a child from anywhere, and only from the queue holding it', () => {
    const q = new ChildQueue<Child>();
    const other = new ChildQueue<Child>();
    const [a, b, c, d] = [new Child('a'), new Child('b'), new Child('c'), new Child('d')];
    q.push(a);
    q.push(b);
    q.push(c);
    other.push(d);
    assert.equal(q.remove(d), false);
    assert.equal(other.size, 1);
    assert.equal(q.remove(b), true);
    assert.equal(q.remove(b), false);
    assert.equal(q.remove(c), true); // the tail
    q.push(b); // back in, behind a
    assert.deepEqual(q.drain().map((x) => x.name), ['a', 'b']);
    assert.equal(q.size, 0);
    q.push(c); // an emptied queue takes children again
    assert.equal(q.shift(), c);
  });
});
