/** bench/lib/proc-cpu.ts against the test process itself: CPU time that grows with work done. */
import assert from 'node:assert/strict';
import { writeSync, openSync, closeSync } from 'node:fs';
import { processCpu, processSwitches, processSyscalls } from '../../bench/lib/proc-cpu.js';

describe('bench/lib/proc-cpu', () => {
  it('reads user and system seconds that grow by about the CPU time spent', () => {
    const before = processCpu(process.pid);
    const usage0 = process.cpuUsage();
    const until = Date.now() + 200;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    assert.ok(x > 0);
    const after = processCpu(process.pid);
    const spent = (after.user + after.system) - (before.user + before.system);
    const measured = (() => { const u = process.cpuUsage(usage0); return (u.user + u.system) / 1e6; })();
    assert.ok(before.user >= 0 && before.system >= 0);
    assert.ok(Math.abs(spent - measured) <= 0.05, `/proc says ${spent} s, process.cpuUsage ${measured} s`);
  });

  it('reads context switches', () => {
    const s = processSwitches(process.pid);
    assert.ok(Number.isInteger(s.voluntary) && s.voluntary > 0);
    assert.ok(Number.isInteger(s.involuntary) && s.involuntary >= 0);
  });

  it('reads write and read system calls that grow by the calls made', () => {
    const fd = openSync('/dev/null', 'w');
    try {
      const before = processSyscalls(process.pid);
      for (let i = 0; i < 50; i++) writeSync(fd, 'x');
      const after = processSyscalls(process.pid);
      assert.ok(after.writes - before.writes >= 50, `${after.writes - before.writes} writes counted`);
      assert.ok(Number.isInteger(after.reads) && after.reads >= before.reads);
    } finally {
      closeSync(fd);
    }
  });
});
