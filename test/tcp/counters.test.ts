import assert from 'node:assert/strict';
import { addTcpCounters, createTcpCounters, type TcpCounters } from '../../src/tcp/counters.js';

describe('tcp/counters', () => {
  it('addTcpCounters sums every counter createTcpCounters makes (none left out of the written-out sum)', () => {
    const from = createTcpCounters();
    const keys = Object.keys(from) as (keyof TcpCounters)[];
    keys.forEach((k, i) => (from[k] = i + 1));
    const into = createTcpCounters();
    into.segmentsSent = 100;
    addTcpCounters(into, from);
    addTcpCounters(into, from);
    for (const [i, k] of keys.entries()) {
      assert.equal(into[k], (k === 'segmentsSent' ? 100 : 0) + 2 * (i + 1), k);
    }
    assert.deepEqual(Object.keys(into), keys, 'no counter added that createTcpCounters does not make');
  });
});
