import assert from 'node:assert/strict';
import { judgeSoak, type SoakSample } from '../../bench/lib/soak-trend.js';

const MIB = 2 ** 20;

/** Samples every 10 s for `n` samples; `f(i)` overrides fields of the i-th. */
function series(n: number, f: (i: number) => Partial<SoakSample> = () => ({})): SoakSample[] {
  return Array.from({ length: n }, (_, i) => ({
    t: i * 10,
    rss: 80 * MIB,
    heapUsed: 20 * MIB,
    external: 10 * MIB,
    handles: 12,
    activeConnections: 3,
    connectionsOpened: i * 100,
    ...f(i),
  }));
}

describe('soak trend judgement', () => {
  it('a flat run with garbage-collector noise passes', () => {
    const v = judgeSoak(series(60, (i) => ({ rss: (80 + (i % 3) * 4) * MIB, heapUsed: (20 + (i % 5)) * MIB })));
    assert.equal(v.ok, true, JSON.stringify(v.growth));
    assert.equal(v.growth.length, 5);
  });

  it('a steady climb of the heap is growth, named', () => {
    const v = judgeSoak(series(60, (i) => ({ heapUsed: (20 + i * 0.5) * MIB })));
    assert.equal(v.ok, false);
    const heap = v.growth.find((g) => g.name === 'heapUsed')!;
    assert.equal(heap.grew, true);
    assert.ok(heap.slopePerHour > 100 * MIB, `slope ${heap.slopePerHour / MIB} MiB/h`);
    assert.deepEqual(v.growth.filter((g) => g.grew).map((g) => g.name), ['heapUsed']);
  });

  it('leaked handles and connections are growth', () => {
    const v = judgeSoak(series(60, (i) => ({ handles: 12 + i, activeConnections: 3 + i * 5 })));
    assert.deepEqual(v.growth.filter((g) => g.grew).map((g) => g.name).sort(), ['activeConnections', 'handles']);
  });

  it('the warm-up (first fifth) is not judged: a start-up rise that then stays flat passes', () => {
    const v = judgeSoak(series(60, (i) => ({ rss: (i < 10 ? 40 + i * 4 : 80) * MIB })));
    assert.equal(v.ok, true, JSON.stringify(v.growth));
  });

  it('too few samples is not a pass', () => {
    const v = judgeSoak(series(5));
    assert.equal(v.ok, false);
    assert.match(v.note ?? '', /only \d+ samples/);
  });
});
