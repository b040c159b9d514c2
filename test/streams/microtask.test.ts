/**
 * atEndOfTask: queueMicrotask's ordering without its per-call AsyncResource (the link's write
 * batch and the per-task clock queue one or two per packet).
 */
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { atEndOfTask } from '../../streams/microtask.js';

describe('streams: atEndOfTask', () => {
  it('runs after the synchronous work, in queue order with other microtasks, before the next macrotask', async () => {
    const seen: string[] = [];
    const immediate = new Promise<void>((resolve) => setImmediate(() => (seen.push('immediate'), resolve())));
    atEndOfTask(() => seen.push('a'));
    queueMicrotask(() => seen.push('b'));
    atEndOfTask(() => seen.push('c'));
    seen.push('sync');
    await immediate;
    assert.deepEqual(seen, ['sync', 'a', 'b', 'c', 'immediate']);
  });

  it('makes no Microtask async resource per call (queueMicrotask makes one)', async () => {
    let microtasks = 0;
    const hook = createHook({ init: (_id, type) => void (type === 'Microtask' && microtasks++) }).enable();
    try {
      for (let i = 0; i < 10; i++) atEndOfTask(() => undefined);
      await new Promise<void>((resolve) => setImmediate(resolve));
      assert.equal(microtasks, 0);
      // The hook does see queueMicrotask's resources: the count above would have caught them.
      queueMicrotask(() => undefined);
      assert.equal(microtasks, 1);
    } finally {
      hook.disable();
    }
  });
});
