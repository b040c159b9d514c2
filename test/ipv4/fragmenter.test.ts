import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planFragments, fragmentViews, isFragmentError, type FragmentPlan } from '../../src/ipv4/fragmenter.js';

function plans(r: ReturnType<typeof planFragments>): FragmentPlan[] {
  if (isFragmentError(r)) throw new Error(`unexpected ${r.error}`);
  return r;
}

describe('planFragments', () => {
  it('leaves a datagram that fits in one piece', () => {
    assert.deepEqual(planFragments(1480, 20, 1500), [{ offset: 0, length: 1480, more: false }]);
    assert.deepEqual(planFragments(0, 20, 1500), [{ offset: 0, length: 0, more: false }]);
  });

  it('splits an 8000-byte ICMP echo (8008 bytes of payload) at MTU 1500 as Linux does', () => {
    // 1480 data bytes per fragment: 5 full fragments and 608 bytes in the last.
    assert.deepEqual(planFragments(8008, 20, 1500), [
      { offset: 0, length: 1480, more: true },
      { offset: 1480, length: 1480, more: true },
      { offset: 2960, length: 1480, more: true },
      { offset: 4440, length: 1480, more: true },
      { offset: 5920, length: 1480, more: true },
      { offset: 7400, length: 608, more: false },
    ]);
  });

  it('rounds non-last fragments down to a multiple of 8', () => {
    // MTU 1006 with a 24-byte header leaves 982 bytes: 976 per fragment.
    assert.deepEqual(planFragments(2000, 24, 1006), [
      { offset: 0, length: 976, more: true },
      { offset: 976, length: 976, more: true },
      { offset: 1952, length: 48, more: false },
    ]);
  });

  it('uses the shorter header of later fragments when options are not copied', () => {
    // First: 60-byte header, 1440 bytes; later: 20-byte header, 1480 bytes.
    assert.deepEqual(planFragments(3000, 60, 1500, { laterHeaderLength: 20 }), [
      { offset: 0, length: 1440, more: true },
      { offset: 1440, length: 1480, more: true },
      { offset: 2920, length: 80, more: false },
    ]);
  });

  it('EMSGSIZE when DF is set and the datagram does not fit', () => {
    assert.deepEqual(planFragments(1481, 20, 1500, { dontFragment: true }), { error: 'EMSGSIZE', maxPayload: 1480 });
    assert.deepEqual(planFragments(1480, 20, 1500, { dontFragment: true }), [{ offset: 0, length: 1480, more: false }]);
  });

  it('EMSGSIZE when the datagram would exceed 65,535 bytes', () => {
    assert.deepEqual(planFragments(65516, 20, 1500), { error: 'EMSGSIZE', maxPayload: 65515 });
    assert.equal(isFragmentError(planFragments(65515, 20, 1500)), false);
  });

  it('EMSGSIZE when the MTU leaves no room for 8 data bytes', () => {
    assert.deepEqual(planFragments(100, 60, 67), { error: 'EMSGSIZE', maxPayload: 7 });
    assert.equal(plans(planFragments(100, 60, 68)).length, 13, '8 bytes per fragment at the minimum MTU');
  });

  it('fragmentViews returns views of the payload, not copies', () => {
    const payload = new Uint8Array(3000).map((_, i) => i & 0xff);
    const views = fragmentViews(payload, plans(planFragments(3000, 20, 1500)));
    assert.deepEqual(views.map((v) => v.length), [1480, 1480, 40]);
    assert.equal(views[1].buffer, payload.buffer);
    assert.equal(views[1][0], 1480 & 0xff);
    payload[2960] = 0xee;
    assert.equal(views[2][0], 0xee);
  });

  it('property: plans tile the payload, fit the MTU, and align to 8', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65515 }),
        fc.integer({ min: 5, max: 15 }).map((ihl) => ihl * 4),
        fc.integer({ min: 68, max: 9000 }),
        (len, hl, mtu) => {
          const r = planFragments(len, hl, mtu);
          if (len + hl > 65535) {
            assert.equal(isFragmentError(r), true);
            return;
          }
          const ps = plans(r);
          let next = 0;
          ps.forEach((p, i) => {
            const last = i === ps.length - 1;
            assert.equal(p.offset, next);
            assert.equal(p.more, !last);
            assert.ok(hl + p.length <= mtu, 'fits the MTU');
            if (!last) assert.equal(p.length % 8, 0);
            assert.ok(p.offset / 8 <= 8191, 'offset fits 13 bits');
            next += p.length;
          });
          assert.equal(next, len);
        },
      ),
      { numRuns: 500 },
    );
  });
});
