/**
 * bench/kernel/wake-trace-events.ts: the echoes found in tracer text (the format of
 * /sys/kernel/tracing/trace, lines as a real trace of the Node floor had them), their phases,
 * and when DAMON's kdamond last ran.
 */
import assert from 'node:assert/strict';
import { echoes, lastKdamond, parse } from '../../bench/kernel/wake-trace-events.js';

/** One echo on CPU 0 starting at `t0` seconds: the responder (pid 500) wakes after `wake` us and writes `work` us later. */
function echo(t0: number, wake: number, work: number): string[] {
  const at = (us: number): string => (t0 + us / 1e6).toFixed(6);
  return [
    `         kclient-600     [000] ..... ${at(0)}: sys_enter: NR 44 (3, 7fff5ae49d20, 40, 0, 7fff5ae4a3e0, 10)`,
    `         kclient-600     [000] d..2. ${at(5)}: sched_waking: comm=node pid=500 prio=120 target_cpu=000`,
    `         kclient-600     [000] d..2. ${at(wake)}: sched_switch: prev_comm=kclient prev_pid=600 prev_prio=120 prev_state=S ==> next_comm=node next_pid=500 next_prio=120`,
    `            node-500     [000] ..... ${at(wake + 9)}: sys_exit: NR 281 = 1`,
    `            node-500     [000] ..... ${at(wake + 19)}: sys_enter: NR 0 (12, 7f4adc9c4b50, 1001e, 0, 0, 0)`,
    `            node-500     [000] ..... ${at(wake + work)}: sys_enter: NR 1 (12, 7f4adc9c4b50, 62, 7ffec85361e8, 0, 0)`,
    `            node-500     [000] d..2. ${at(wake + work + 15)}: sched_switch: prev_comm=node prev_pid=500 prev_prio=120 prev_state=R ==> next_comm=kclient next_pid=600 next_prio=120`,
    `         kclient-600     [000] ..... ${at(wake + work + 20)}: sys_exit: NR 45 = 84`,
  ];
}

describe('bench/kernel wake-trace events', () => {
  it('cuts each echo at the switch-in and the write, on CPU 0, and notes kdamond', () => {
    const text = [
      '# tracer: nop',
      ...echo(100, 45, 46),
      // kdamond finishing a pass on the other CPU, between the echoes.
      '       kdamond.0-83      [001] d..2. 100.005000: sched_switch: prev_comm=kdamond.0 prev_pid=83 prev_prio=120 prev_state=I ==> next_comm=swapper/1 next_pid=0 next_prio=120',
      // Another CPU's write by the same-named process must not count.
      '            node-700     [001] ..... 100.010001: sys_enter: NR 1 (3, 0, 1, 0, 0, 0)',
      ...echo(100.01, 40, 800),
      // A lost echo: a sendto with no reply before the next one.
      '         kclient-600     [000] ..... 100.020000: sys_enter: NR 44 (3, 7fff5ae49d20, 40, 0, 7fff5ae4a3e0, 10)',
      ...echo(100.03, 50, 30),
    ].join('\n');
    const ev = parse(text);
    assert.equal(ev.length, 8 * 3 + 3);
    const list = echoes(ev, new Set([500]));
    assert.deepEqual(
      list.map((e) => [Math.round(e.wakeUs), Math.round(e.responderUs), Math.round(e.totalUs)]),
      [[45, 46, 111], [40, 800, 860], [50, 30, 100]],
    );
    // Indices point into the whole event list (what wake-trace prints from).
    assert.equal(ev[list[1].from].t, 100.01);
    assert.equal(ev[list[1].to].name, 'sys_exit');
    assert.ok(Number.isNaN(lastKdamond(ev, ev[list[0].from].t)));
    assert.equal(lastKdamond(ev, ev[list[1].from].t), 100.005);
  });

  it('skips an echo whose responder never wrote', () => {
    const lines = echo(5, 40, 50).filter((l) => !l.includes('NR 1 ('));
    assert.deepEqual(echoes(parse(lines.join('\n')), new Set([500])), []);
  });
});
