/** The pure rules of the stack-wide TCP limits: configuration, the memory account, the TIME-WAIT table. */
import assert from 'node:assert/strict';
import { DEFAULT_TCP_LIMITS, TcpMemoryAccount, TimeWaitTable, resolveTcpLimits } from '../../src/tcp/limits.js';

describe('tcp/limits', () => {
  it('resolveTcpLimits fills defaults and names every bad field at once', () => {
    const ok: [string, string][] = [];
    assert.deepEqual(resolveTcpLimits({ maxTimeWait: 0 }, ok), { ...DEFAULT_TCP_LIMITS, maxTimeWait: 0 });
    assert.deepEqual(ok, []);
    const bad: [string, string][] = [];
    resolveTcpLimits({ maxConnections: 0, maxPendingWrite: -1, memorySoftLimit: 10, memoryHardLimit: 5 }, bad);
    assert.deepEqual(bad.map(([k]) => k), ['maxConnections', 'maxPendingWrite', 'memorySoftLimit']);
  });

  it('TcpMemoryAccount: charges replace each other; pressure at the soft mark, exhausted at the hard one', () => {
    const m = new TcpMemoryAccount(100, 200);
    m.change(0, 99);
    assert.equal(m.pressure, false);
    m.change(0, 1);
    assert.deepEqual([m.used, m.pressure, m.exhausted], [100, true, false]);
    m.change(1, 101);
    assert.deepEqual([m.used, m.exhausted, m.peak], [200, true, 200]);
    m.change(101, 0);
    assert.deepEqual([m.used, m.pressure, m.peak], [99, false, 200]);
  });

  it('TimeWaitTable: within its cap, the oldest entry is the one recycled; cap 0 recycles the newcomer', () => {
    const t = new TimeWaitTable<string>(2);
    assert.equal(t.add('a'), undefined);
    assert.equal(t.add('b'), undefined);
    assert.equal(t.add('c'), 'a');
    assert.equal(t.size, 2);
    assert.equal(t.delete('b'), true);
    assert.equal(t.add('d'), undefined);
    assert.equal(t.add('e'), 'c');
    assert.equal(new TimeWaitTable<string>(0).add('x'), 'x');
  });
});
