/**
 * The thread's EEVDF slice (native/sched-slice.c, bin/nat-sched.ts): set on the calling thread,
 * seen by the kernel (/proc/thread-self/sched), put back by the undo; bad arguments throw with a
 * code. Runs on the test's own thread and restores its slice; on a kernel without per-thread
 * slices (before 6.12) it checks that nothing is changed and the reason is given.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { applySchedSlice, countCpuList, cpusAllowed, defaultSchedSliceUs } from '../../bin/nat-sched.js';
import { loadTapAddon } from '../../streams/links/tap-native.js';

/** The slice the kernel reports for this thread, in ns. */
function kernelSlice(): number {
  const m = /^se\.slice\s*:\s*(\d+)/m.exec(readFileSync('/proc/thread-self/sched', 'utf8'));
  return m === null ? NaN : Number(m[1]);
}

describe('bin/nat-sched: the event loop thread\'s scheduling slice', () => {
  const addon = loadTapAddon();

  it('applySchedSlice sets the calling thread\'s slice and its undo puts the old one back (a kernel without per-thread slices: says so, changes nothing)', () => {
    const before = addon.schedSlice();
    const lines: string[] = [];
    if (before <= 0) {
      // Before Linux 6.12: nothing to set, nothing to undo, the reason reported.
      assert.equal(applySchedSlice(6000, (line) => lines.push(line)), undefined);
      assert.equal(lines.length, 1);
      assert.match(lines[0], /^scheduling slice left as it is: /);
      assert.equal(addon.schedSlice(), before);
      return;
    }
    const undo = applySchedSlice(before === 6000 ? 7000 : 6000, (line) => lines.push(line));
    try {
      assert.notEqual(undo, undefined, lines.join('; '));
      const want = before === 6000 ? 7000 : 6000;
      assert.equal(addon.schedSlice(), want);
      assert.equal(kernelSlice(), want * 1000);
    } finally {
      undo?.();
    }
    assert.equal(addon.schedSlice(), before);
    assert.equal(kernelSlice(), before * 1000);
  });

  it('0 leaves the slice alone', () => {
    const before = addon.schedSlice();
    assert.equal(applySchedSlice(0, () => assert.fail('nothing to report')), undefined);
    assert.equal(addon.schedSlice(), before);
  });

  it('setSchedSlice refuses what the kernel would not take, with a code, and changes nothing', () => {
    const before = addon.schedSlice();
    for (const bad of [99, 100_001, 1500.5, NaN]) assert.throws(() => addon.setSchedSlice(bad), { code: 'ERR_OUT_OF_RANGE' }, String(bad));
    assert.throws(() => (addon.setSchedSlice as (us: unknown) => number)('6000'), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => (addon.setSchedSlice as () => number)(), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.equal(addon.schedSlice(), before);
  });
  it('defaultSchedSliceUs: the long slice only where the thread may run on one CPU (its affinity), else the kernel\'s (0)', () => {
    assert.equal(defaultSchedSliceUs(6000, 1), 6000);
    assert.equal(defaultSchedSliceUs(6000, 2), 0);
    assert.equal(defaultSchedSliceUs(6000, 64), 0);
    // Without the count: this thread's affinity as the kernel reports it.
    const allowed = /^Cpus_allowed_list:\s*(.*)$/m.exec(readFileSync('/proc/thread-self/status', 'utf8'))![1];
    const one = /^\d+$/.test(allowed.trim());
    assert.equal(cpusAllowed() === 1, one, allowed);
    assert.equal(defaultSchedSliceUs(6000), one ? 6000 : 0);
  });

  it('countCpuList: CPUs named by a Cpus_allowed_list value; anything else undefined', () => {
    assert.equal(countCpuList('0'), 1);
    assert.equal(countCpuList('3\n'), 1);
    assert.equal(countCpuList('0-1'), 2);
    assert.equal(countCpuList('0,2-3,7'), 4);
    assert.equal(countCpuList('0-63'), 64);
    for (const bad of ['', 'x', '1-0', '0-', '0,,1', 'ff']) assert.equal(countCpuList(bad), undefined, JSON.stringify(bad));
  });
});
