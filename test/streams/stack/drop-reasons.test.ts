import assert from 'node:assert/strict';
import { memoryPair } from './memory-pair.js';

/** Every key under any `drops` (and every counter name) of a snapshot, with its path. */
function keys(value: unknown, path: string, out: string[]): void {
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    out.push(`${path}.${k}`);
    keys(v, `${path}.${k}`, out);
  }
}

describe('stack: counter and drop-reason names', () => {
  it('every counter and drop reason of stats() is one camelCase word (drops.badChecksum, not drops["bad-checksum"])', () => {
    const p = memoryPair();
    const all: string[] = [];
    keys(p.a.stats(), 'stats', all);
    p.close();
    // Section names carry the interface (`eth:eth0`); everything below them is camelCase.
    const bad = all.filter((path) => path.split('.').slice(2).some((k) => !/^[a-z][a-zA-Z0-9]*$/.test(k)));
    assert.deepEqual(bad, []);
    assert.ok(all.includes('stats.tcp.drops.badChecksum') && all.includes('stats.ipv4.drops.badVersion') && all.length > 150);
  });
});
