import assert from 'node:assert/strict';
import { NetstackError } from '../src/errors.js';
import { hasFastProperties } from './helpers/fast-properties.js';
import {
  StatsRegistry,
  countDrop,
  createCounters,
  dropCounts,
  frozenCopy,
  resetCounters,
  totalDrops,
} from '../src/stats.js';

const ETH_REASONS = ['truncated', 'notForUs', 'unknownEthertype'] as const;

function ethCounters() {
  return createCounters(['rxFrames', 'txFrames', 'rxBytes'], ETH_REASONS);
}

describe('stats', () => {
  it('createCounters makes every field and every known drop reason a zero', () => {
    const c = ethCounters();
    assert.deepEqual({ ...c, otherDrops: [...c.otherDrops] }, {
      rxFrames: 0, txFrames: 0, rxBytes: 0,
      drops: { truncated: 0, notForUs: 0, unknownEthertype: 0 },
      otherDrops: [],
    });
    assert.deepEqual(Object.keys(c.drops), [...ETH_REASONS], 'reasons keep their order');
    assert.deepEqual(dropCounts(['a', 'b']), { a: 0, b: 0 });
  });

  it('large counters stay fast-mode objects, one hidden class per field list (the TCP layer has 30-odd fields)', () => {
    // Assigned one by one by name (`c[field] = 0`), V8 turns an object of more than 16 fields
    // into a hash table, and each increment on a hot path into a generic look-up.
    const fields = Array.from({ length: 40 }, (_, i) => `field${i}`);
    const reasons = Array.from({ length: 30 }, (_, i) => `reason${i}`);
    const c = createCounters(fields, reasons);
    assert.equal(hasFastProperties(c), true);
    assert.equal(hasFastProperties(c.drops), true);
    assert.deepEqual(Object.keys(c), [...fields, 'drops', 'otherDrops']);
    assert.ok(c.otherDrops instanceof Map);
    c.field39++;
    countDrop(c, 'reason29');
    assert.equal(c.field39, 1);
    assert.equal(c.drops.reason29, 1);
  });

  it('hot paths increment fields directly', () => {
    const c = ethCounters();
    c.rxFrames++;
    c.rxBytes += 60;
    c.drops.truncated++;
    assert.equal(c.rxFrames, 1);
    assert.equal(c.rxBytes, 60);
    assert.equal(c.drops.truncated, 1);
  });

  it('countDrop counts known reasons in drops and unknown ones in otherDrops, without changing drops', () => {
    const c = ethCounters();
    const runtimeReason: string = 'notForUs';
    countDrop(c, runtimeReason);
    countDrop(c, 'notForUs', 2);
    countDrop(c, 'mystery');
    countDrop(c, 'mystery');
    // Inherited names must not be mistaken for known reasons or corrupt the object.
    countDrop(c, 'constructor');
    countDrop(c, '__proto__');
    assert.equal(c.drops.notForUs, 3);
    assert.deepEqual(Object.keys(c.drops), [...ETH_REASONS]);
    assert.deepEqual([...c.otherDrops], [['mystery', 2], ['constructor', 1], ['__proto__', 1]]);
    assert.equal(Object.getPrototypeOf(c.drops), Object.prototype);
    assert.equal(totalDrops(c), 3 + 2 + 1 + 1);
  });

  it('resetCounters zeroes numbers and drops, keeping the shape', () => {
    const c = ethCounters();
    c.rxFrames = 5;
    c.drops.truncated = 2;
    countDrop(c, 'odd');
    resetCounters(c);
    assert.equal(c.rxFrames, 0);
    assert.equal(c.drops.truncated, 0);
    assert.equal(c.otherDrops.size, 0);
    assert.deepEqual(Object.keys(c), ['rxFrames', 'txFrames', 'rxBytes', 'drops', 'otherDrops']);
  });

  describe('StatsRegistry', () => {
    it('snapshot copies every registered object, deep-frozen and JSON-able', () => {
      const reg = new StatsRegistry();
      const eth = ethCounters();
      const tcp = { activeOpens: 0, nested: { retransmits: 0 }, list: [1, 2] };
      reg.register('eth', eth);
      reg.register('tcp', tcp);
      eth.rxFrames = 10;
      countDrop(eth, 'weird', 4);
      tcp.nested.retransmits = 3;

      const snap = reg.snapshot();
      assert.deepEqual(snap, {
        eth: {
          rxFrames: 10, txFrames: 0, rxBytes: 0,
          drops: { truncated: 0, notForUs: 0, unknownEthertype: 0 },
          otherDrops: { weird: 4 },
        },
        tcp: { activeOpens: 0, nested: { retransmits: 3 }, list: [1, 2] },
      });
      assert.deepEqual(JSON.parse(JSON.stringify(snap)), snap, 'survives JSON');
      assert.ok(Object.isFrozen(snap));
      const ethSnap = snap.eth as { drops: object; otherDrops: object };
      assert.ok(Object.isFrozen(snap.eth) && Object.isFrozen(ethSnap.drops) && Object.isFrozen(ethSnap.otherDrops));
      assert.ok(Object.isFrozen((snap.tcp as { list: unknown[] }).list));

      // A copy: later increments do not show in an old snapshot.
      eth.rxFrames++;
      tcp.nested.retransmits++;
      assert.equal((snap.eth as { rxFrames: number }).rxFrames, 10);
      assert.equal((reg.snapshot().tcp as { nested: { retransmits: number } }).nested.retransmits, 4);
    });

    it('a name registers once; the returned function unregisters only its own object', () => {
      const reg = new StatsRegistry();
      const first = { n: 1 };
      const off = reg.register('udp', first);
      assert.throws(() => reg.register('udp', { n: 2 }), (e: unknown) => e instanceof NetstackError && e.code === 'ERR_INVALID_ARG_VALUE');
      off();
      assert.equal(reg.has('udp'), false);
      const second = { n: 2 };
      reg.register('udp', second);
      off(); // stale: must not remove the newer registration
      assert.equal(reg.get('udp'), second);
      assert.deepEqual(reg.names(), ['udp']);
      assert.equal(reg.unregister('udp'), true);
      assert.equal(reg.unregister('udp'), false);
      assert.deepEqual(reg.snapshot(), {});
    });

    it('beforeSnapshot: counts kept elsewhere are folded in before every snapshot, until removed', () => {
      const reg = new StatsRegistry();
      const udp = { rxDatagrams: 1 };
      reg.register('udp', udp);
      let elsewhere = 5;
      const off = reg.beforeSnapshot(() => {
        udp.rxDatagrams += elsewhere;
        elsewhere = 0;
      });
      assert.equal((reg.snapshot().udp as { rxDatagrams: number }).rxDatagrams, 6);
      elsewhere = 2;
      assert.equal((reg.snapshot().udp as { rxDatagrams: number }).rxDatagrams, 8);
      off();
      elsewhere = 3;
      assert.equal((reg.snapshot().udp as { rxDatagrams: number }).rxDatagrams, 8);
    });
  });

  it('frozenCopy keeps only JSON-able data', () => {
    const copy = frozenCopy({ a: 1, f: () => 1, u: undefined, inf: Infinity, big: 5n, m: new Map([[1, 2]]), s: 'x', b: true, n: null });
    assert.deepEqual(copy, { a: 1, inf: null, big: 5, m: { 1: 2 }, s: 'x', b: true, n: null });
  });

  it('frozenCopy keeps a "__proto__" key as data', () => {
    const copy = frozenCopy(new Map([['__proto__', 1]])) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(copy), Object.prototype);
    assert.deepEqual(Object.keys(copy), ['__proto__']);
    assert.equal(JSON.stringify(copy), '{"__proto__":1}');
  });
});
