import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Reassembler, type Fragment, type ReassemblyResult } from '../../src/ipv4/reassembly.js';
import { planFragments, fragmentViews, isFragmentError } from '../../src/ipv4/fragmenter.js';

interface Hdr {
  tag: string;
}

const SRC = 0xc6120001;
const DST = 0xc6120002;
/** A fragment template, overridden per test with spread. */
const FRAG: Fragment<Hdr> = {
  src: SRC,
  dst: DST,
  protocol: 1,
  id: 0x1234,
  offset: 0,
  more: true,
  headerLength: 20,
  payload: new Uint8Array(0),
  header: { tag: 'first' },
};

function bytes(length: number, seed = 0): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 7 + seed) & 0xff);
}

function frag(offset: number, length: number, more: boolean, over: Partial<Fragment<Hdr>> = {}): Fragment<Hdr> {
  return { ...FRAG, offset, more, payload: bytes(length).subarray(0, length), header: { tag: `at ${offset}` }, ...over };
}

/** The payload `bytes(total)` cut at the given offsets into fragments. */
function cut(total: number, offsets: number[], over: Partial<Fragment<Hdr>> = {}): Fragment<Hdr>[] {
  const data = bytes(total);
  const bounds = [...offsets, total];
  return offsets.map((o, i) => ({
    ...FRAG,
    offset: o,
    more: i < offsets.length - 1,
    payload: data.subarray(o, bounds[i + 1]),
    header: { tag: `at ${o}` },
    ...over,
  }));
}

function completed(r: ReassemblyResult<Hdr>) {
  assert.equal(r.kind, 'complete');
  if (r.kind !== 'complete') throw new Error('unreachable');
  return r;
}

const NO_OVERHEAD = { fragmentOverheadBytes: 0 };

describe('Reassembler', () => {
  it('reassembles in order into one contiguous copy with the first fragment header', () => {
    const r = new Reassembler<Hdr>(NO_OVERHEAD);
    const [a, b, c] = cut(3000, [0, 1480, 2960]);
    assert.equal(r.add(a, 0).kind, 'pending');
    assert.equal(r.add(b, 1).kind, 'pending');
    assert.equal(r.bytesHeld, 2960);
    assert.equal(r.size, 1);
    const done = completed(r.add(c, 2));
    assert.deepEqual(done.payload, bytes(3000));
    assert.notEqual(done.payload.buffer, a.payload.buffer, 'a fresh copy');
    assert.deepEqual(done.header, { tag: 'at 0' });
    assert.deepEqual([done.src, done.dst, done.protocol, done.id, done.headerLength], [SRC, DST, 1, 0x1234, 20]);
    assert.equal(r.bytesHeld, 0);
    assert.equal(r.size, 0);
    assert.equal(r.nextDeadline(), undefined);
    assert.equal(r.counters.completed, 1);
    assert.equal(r.counters.fragments, 3);
  });

  it('reassembles out of order, last fragment first', () => {
    const r = new Reassembler<Hdr>();
    const [a, b, c, d] = cut(100, [0, 24, 48, 96]);
    for (const f of [d, b, a]) assert.equal(r.add(f, 0).kind, 'pending');
    const done = completed(r.add(c, 0));
    assert.deepEqual(done.payload, bytes(100));
    assert.deepEqual(done.header, { tag: 'at 0' });
  });

  it('hands an unfragmented datagram straight back without copying', () => {
    const r = new Reassembler<Hdr>();
    const f = frag(0, 50, false);
    const done = completed(r.add(f, 0));
    assert.equal(done.payload, f.payload);
    assert.equal(r.size, 0);
  });

  it('keeps datagrams apart by (src, dst, protocol, id)', () => {
    const r = new Reassembler<Hdr>();
    const mk = (over: Partial<Fragment<Hdr>>) => cut(16, [0, 8], over);
    const variants = [{}, { src: SRC + 1 }, { dst: DST + 1 }, { protocol: 17 }, { id: 1 }];
    for (const v of variants) assert.equal(r.add(mk(v)[0], 0).kind, 'pending');
    assert.equal(r.size, 5);
    for (const v of variants) assert.equal(r.add(mk(v)[1], 0).kind, 'complete');
    assert.equal(r.size, 0);
  });

  it('ignores exact duplicates', () => {
    const r = new Reassembler<Hdr>(NO_OVERHEAD);
    const [a, b] = cut(40, [0, 16]);
    r.add(a, 0);
    assert.equal(r.add({ ...a }, 0).kind, 'pending');
    assert.equal(r.counters.duplicate, 1);
    assert.equal(r.bytesHeld, 16);
    assert.deepEqual(completed(r.add(b, 0)).payload, bytes(40));
  });

  describe('overlap drops the whole datagram', () => {
    const cases: [string, Fragment<Hdr>[]][] = [
      ['partial overlap with the previous fragment', [frag(0, 16, true), frag(8, 16, true)]],
      ['partial overlap with the next fragment', [frag(16, 16, true), frag(8, 16, true)]],
      ['same offset, other length', [frag(0, 16, true), frag(0, 24, true)]],
      ['contained in another', [frag(0, 32, true), frag(8, 8, true)]],
      ['containing another', [frag(8, 8, true), frag(0, 32, true)]],
      ['last fragment overlapping', [frag(0, 16, true), frag(8, 20, false)]],
    ];
    for (const [name, frags] of cases) {
      it(name, () => {
        const r = new Reassembler<Hdr>();
        assert.equal(r.add(frags[0], 0).kind, 'pending');
        assert.deepEqual(r.add(frags[1], 0), { kind: 'dropped', reason: 'overlap' });
        assert.equal(r.counters.overlap, 1);
        assert.equal(r.size, 0);
        assert.equal(r.bytesHeld, 0);
      });
    }

    it('later fragments of a dropped datagram cannot complete it with the earlier data', () => {
      const r = new Reassembler<Hdr>();
      r.add(frag(0, 16, true), 0);
      r.add(frag(8, 16, true), 0); // overlap: all dropped
      assert.equal(r.add(frag(16, 8, false), 0).kind, 'pending', 'starts afresh, offset 0 is missing');
      assert.equal(r.size, 1);
    });
  });

  it('drops a datagram whose ends disagree', () => {
    const r = new Reassembler<Hdr>();
    r.add(frag(0, 8, true), 0);
    r.add(frag(16, 8, false), 0);
    assert.deepEqual(r.add(frag(24, 8, false), 0), { kind: 'dropped', reason: 'inconsistent' });
    r.add(frag(0, 8, true), 0);
    r.add(frag(16, 8, false), 0);
    assert.deepEqual(r.add(frag(24, 8, true), 0), { kind: 'dropped', reason: 'inconsistent' }, 'data past the end');
    r.add(frag(32, 8, true), 0);
    assert.deepEqual(r.add(frag(8, 8, false), 0), { kind: 'dropped', reason: 'inconsistent' }, 'end before data');
    r.add(frag(8, 8, true), 0);
    assert.deepEqual(r.add(frag(8, 8, false), 0), { kind: 'dropped', reason: 'overlap' }, 'same range, other MF');
    assert.equal(r.counters.inconsistent, 3);
    assert.equal(r.size, 0);
  });

  it('rejects anything that would end past 65,535 bytes', () => {
    const r = new Reassembler<Hdr>();
    // 65,512 + 8 + 20 = 65,540 > 65,535
    r.add(frag(0, 8, true), 0);
    assert.deepEqual(r.add(frag(65512, 8, false), 0), { kind: 'dropped', reason: 'tooBig' });
    assert.equal(r.size, 0, 'the partial datagram went with it');
    // 65,512 + 3 + 20 = 65,535: the largest legal end.
    r.add(frag(0, 65512, true, { payload: new Uint8Array(65512) }), 0);
    assert.equal(completed(r.add(frag(65512, 3, false), 0)).payload.length, 65515);
    // A first fragment with a longer header makes a datagram that passed piecewise too big.
    r.add(frag(0, 8, true, { headerLength: 24 }), 0);
    r.add(frag(8, 65504, true, { payload: new Uint8Array(65504) }), 0);
    assert.deepEqual(r.add(frag(65512, 3, false), 0), { kind: 'dropped', reason: 'tooBig' });
    assert.equal(r.counters['tooBig'], 2);
    assert.equal(r.bytesHeld, 0);
  });

  it('drops non-last fragments that are empty or not a multiple of 8 bytes', () => {
    const r = new Reassembler<Hdr>();
    assert.deepEqual(r.add(frag(0, 12, true), 0), { kind: 'dropped', reason: 'malformed' });
    assert.deepEqual(r.add(frag(8, 0, true), 0), { kind: 'dropped', reason: 'malformed' });
    assert.equal(r.counters.malformed, 2);
    assert.equal(r.size, 0);
  });

  describe('timeout (virtual time)', () => {
    it('an incomplete datagram expires at its deadline and frees its memory', () => {
      const r = new Reassembler<Hdr>({ timeoutMs: 30_000 });
      r.add(frag(0, 1480, true), 1000);
      r.add(frag(2960, 100, false), 5000); // a later fragment does not extend the deadline
      assert.ok(r.bytesHeld > 1580);
      assert.equal(r.nextDeadline(), 31_000);
      assert.deepEqual(r.expire(30_999), []);
      assert.equal(r.size, 1);
      const expired = r.expire(31_000);
      assert.equal(expired.length, 1);
      assert.deepEqual(expired[0].first?.header, { tag: 'at 0' }, 'first fragment reported: ICMP time exceeded allowed');
      assert.equal(expired[0].first?.payload.length, 1480);
      assert.deepEqual([expired[0].src, expired[0].dst, expired[0].protocol, expired[0].id], [SRC, DST, 1, 0x1234]);
      assert.equal(r.bytesHeld, 0);
      assert.equal(r.size, 0);
      assert.equal(r.nextDeadline(), undefined);
      assert.equal(r.counters.timeout, 1);
    });

    it('reports no first fragment when offset 0 never came', () => {
      const r = new Reassembler<Hdr>({ timeoutMs: 100 });
      r.add(frag(8, 8, true), 0);
      const [e] = r.expire(100);
      assert.equal(e.first, undefined);
    });

    it('expires oldest first and only what is due', () => {
      const r = new Reassembler<Hdr>({ timeoutMs: 1000 });
      for (let id = 0; id < 5; id++) r.add(frag(0, 8, true, { id }), id * 100);
      assert.equal(r.nextDeadline(), 1000);
      assert.deepEqual(r.expire(1250).map((e) => e.id), [0, 1, 2]);
      assert.equal(r.nextDeadline(), 1300);
      assert.equal(r.size, 2);
      assert.equal(r.add(frag(8, 8, false, { id: 3 }), 1299).kind, 'complete');
      assert.deepEqual(r.expire(5000).map((e) => e.id), [4]);
      assert.equal(r.bytesHeld, 0);
    });
  });

  describe('memory cap', () => {
    it('evicts the oldest datagrams to make room', () => {
      const r = new Reassembler<Hdr>({ maxBytes: 1000, fragmentOverheadBytes: 0 });
      r.add(frag(0, 400, true, { id: 1 }), 0);
      r.add(frag(0, 400, true, { id: 2 }), 1);
      assert.equal(r.bytesHeld, 800);
      r.add(frag(0, 400, true, { id: 3 }), 2); // 1200 > 1000: id 1 goes
      assert.equal(r.bytesHeld, 800);
      assert.equal(r.counters.evicted, 1);
      assert.deepEqual(r.expire(Infinity).map((e) => e.id), [2, 3]);
    });

    it('evicts others, not the datagram being added to, even when it is the oldest', () => {
      const r = new Reassembler<Hdr>({ maxBytes: 1000, fragmentOverheadBytes: 0 });
      r.add(frag(0, 400, true, { id: 1 }), 0);
      r.add(frag(0, 400, true, { id: 2 }), 1);
      r.add(frag(400, 400, true, { id: 1 }), 2); // id 2 goes
      assert.deepEqual(r.expire(Infinity).map((e) => e.id), [1]);
    });

    it('drops a datagram that alone would exceed the cap', () => {
      const r = new Reassembler<Hdr>({ maxBytes: 1000, fragmentOverheadBytes: 0 });
      r.add(frag(0, 800, true, { id: 9 }), 0);
      r.add(frag(0, 8, true, { id: 1 }), 0);
      assert.deepEqual(r.add(frag(800, 400, true, { id: 9 }), 0), { kind: 'dropped', reason: 'memory' });
      assert.equal(r.counters.memory, 1);
      assert.deepEqual(r.expire(Infinity).map((e) => e.id), [1], 'the other datagram was not evicted for nothing');
    });

    it('charges the per-fragment overhead', () => {
      const r = new Reassembler<Hdr>({ maxBytes: 1000, fragmentOverheadBytes: 100 });
      r.add(frag(0, 8, true), 0);
      r.add(frag(8, 8, true), 0);
      assert.equal(r.bytesHeld, 216);
    });

    it('caps the number of partial datagrams, evicting the oldest', () => {
      const r = new Reassembler<Hdr>({ maxDatagrams: 3 });
      for (let id = 0; id < 5; id++) r.add(frag(0, 8, true, { id }), id);
      assert.equal(r.size, 3);
      assert.equal(r.counters.evicted, 2);
      assert.deepEqual(r.expire(Infinity).map((e) => e.id), [2, 3, 4]);
    });
  });

  it('property: fragments delivered in any order with duplicates give back the exact payload', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 65515 }),
        fc.integer({ min: 68, max: 9000 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 3 }),
        (length, mtu, seed, dupFactor) => {
          const payload = new Uint8Array(length);
          let x = seed | 1;
          for (let i = 0; i < length; i++) {
            x ^= x << 13;
            x ^= x >>> 17;
            x ^= x << 5;
            payload[i] = x & 0xff;
          }
          const plan = planFragments(length, 20, mtu);
          if (isFragmentError(plan)) throw new Error('a 20-byte header datagram under 65,535 bytes always fragments');
          const views = fragmentViews(payload, plan);
          const frags: Fragment<Hdr>[] = plan.map((p, i) => ({
            ...FRAG,
            offset: p.offset,
            more: p.more,
            payload: views[i],
            header: { tag: `at ${p.offset}` },
          }));
          // Random order with duplicates, from the seed.
          const deliveries = [...frags];
          let y = seed ^ 0x9e3779b9 || 1;
          const rnd = (n: number) => {
            y ^= y << 13;
            y ^= y >>> 17;
            y ^= y << 5;
            return (y >>> 0) % n;
          };
          const dups = Math.floor((frags.length * dupFactor) / 3);
          for (let i = 0; i < dups; i++) deliveries.push(frags[rnd(frags.length)]);
          for (let i = deliveries.length - 1; i > 0; i--) {
            const j = rnd(i + 1);
            [deliveries[i], deliveries[j]] = [deliveries[j], deliveries[i]];
          }
          const r = new Reassembler<Hdr>();
          const results = deliveries.map((f) => r.add(f, 0));
          const done = results.filter((res) => res.kind === 'complete');
          assert.ok(done.length >= 1, 'completed');
          assert.ok(results.every((res) => res.kind !== 'dropped'), 'exact duplicates are never overlaps');
          const first = completed(done[0]);
          assert.equal(first.payload.length, length);
          assert.ok(Buffer.from(first.payload).equals(Buffer.from(payload)), 'exact payload');
          assert.deepEqual(first.header, { tag: 'at 0' });
          // Duplicates arriving after completion start a new partial datagram, which times out.
          r.expire(Infinity);
          assert.equal(r.bytesHeld, 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property: random fragment streams never throw and never hold more than the cap', () => {
    const fragArb = fc.record({
      id: fc.integer({ min: 0, max: 5 }),
      protocol: fc.constantFrom(1, 17),
      offset: fc.oneof(fc.integer({ min: 0, max: 64 }).map((n) => n * 8), fc.integer({ min: 0, max: 8191 }).map((n) => n * 8)),
      length: fc.oneof(fc.integer({ min: 0, max: 64 }).map((n) => n * 8), fc.integer({ min: 0, max: 1500 })),
      more: fc.boolean(),
      headerLength: fc.constantFrom(20, 24, 60),
      dt: fc.integer({ min: 0, max: 5000 }),
    });
    fc.assert(
      fc.property(
        fc.array(fragArb, { maxLength: 200 }),
        fc.integer({ min: 0, max: 4000 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 64 }),
        (stream, maxBytes, maxDatagrams, overhead) => {
          const r = new Reassembler<Hdr>({ maxBytes, maxDatagrams, timeoutMs: 10_000, fragmentOverheadBytes: overhead });
          let now = 0;
          const shared = new Uint8Array(2000);
          for (const s of stream) {
            now += s.dt;
            r.expire(now);
            const res = r.add({ ...FRAG, ...s, payload: shared.subarray(0, s.length), header: { tag: '' } }, now);
            assert.ok(['pending', 'dropped', 'complete'].includes(res.kind));
            assert.ok(r.bytesHeld <= maxBytes, `held ${r.bytesHeld} > cap ${maxBytes}`);
            assert.ok(r.bytesHeld >= 0);
            assert.ok(r.size <= maxDatagrams);
            const d = r.nextDeadline();
            if (r.size === 0) assert.equal(d, undefined);
            else assert.ok(d !== undefined && d > now - 1 && d <= now + 10_000);
          }
          r.expire(now + 10_000);
          assert.equal(r.size, 0);
          assert.equal(r.bytesHeld, 0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
