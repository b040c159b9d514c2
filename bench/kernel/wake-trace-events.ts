/**
 * The events wake-trace.ts reads from the kernel's tracer, and what it makes of them: each echo
 * of kclient's spaced pings cut at the responder's switch-in and its write() of the reply, and
 * when DAMON's kdamond last finished a pass. Separate from wake-trace.ts so a test can feed it
 * trace text.
 */
import { CPU } from './wake-rungs.js';

export const SYS = { write: 1, sendto: 44, recvfrom: 45 } as const;

export interface Ev {
  readonly comm: string;
  readonly pid: number;
  readonly cpu: number;
  readonly t: number; // seconds
  readonly name: string;
  readonly rest: string;
}

/** When DAMON's kdamond last went to sleep before `t` (its sampling pass then over), or NaN. */
export function lastKdamond(ev: Ev[], before: number): number {
  let last = Number.NaN;
  for (const e of ev) {
    if (e.t > before) break;
    if (e.name === 'sched_switch' && e.rest.startsWith('prev_comm=kdamond')) last = e.t;
  }
  return last;
}

export function parse(text: string): Ev[] {
  const out: Ev[] = [];
  // "  kclient-1234  [000] d..2.  123.456789: sys_enter: NR 44 (...)"
  const re = /^\s*(.+)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+):\s+(\w+):\s?(.*)$/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (m !== null) out.push({ comm: m[1].trim(), pid: Number(m[2]), cpu: Number(m[3]), t: Number(m[4]), name: m[5], rest: m[6] });
  }
  return out;
}

export const nr = (e: Ev): number => Number(/NR (-?\d+)/.exec(e.rest)?.[1] ?? -1);
export const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

export interface Echo {
  readonly from: number; // index of kclient's sendto enter
  readonly to: number; // index of its recvfrom exit
  readonly totalUs: number;
  readonly responderUs: number; // first switch-in of the responder -> its write enter
  readonly wakeUs: number; // echo start -> responder's first switch-in
}

export function echoes(all: Ev[], responder: Set<number>): Echo[] {
  const ev = all.filter((e) => e.cpu === CPU);
  const out: Echo[] = [];
  for (let i = 0; i < ev.length; i++) {
    const e = ev[i];
    if (e.comm !== 'kclient' || e.name !== 'sys_enter' || nr(e) !== SYS.sendto) continue;
    let switchIn = -1;
    let write = -1;
    let j = i + 1;
    for (; j < ev.length; j++) {
      const f = ev[j];
      if (f.comm === 'kclient' && f.name === 'sys_enter' && nr(f) === SYS.sendto) break; // next echo: this one was lost
      if (switchIn < 0 && f.name === 'sched_switch') {
        const next = Number(/next_pid=(\d+)/.exec(f.rest)?.[1]);
        if (responder.has(next)) switchIn = j;
      }
      if (write < 0 && switchIn >= 0 && responder.has(f.pid) && f.name === 'sys_enter' && nr(f) === SYS.write) write = j;
      if (f.comm === 'kclient' && f.name === 'sys_exit' && nr(f) === SYS.recvfrom) break;
    }
    if (j >= ev.length || ev[j].name !== 'sys_exit' || switchIn < 0 || write < 0) continue;
    out.push({
      from: i,
      to: j,
      totalUs: (ev[j].t - e.t) * 1e6,
      responderUs: (ev[write].t - ev[switchIn].t) * 1e6,
      wakeUs: (ev[switchIn].t - e.t) * 1e6,
    });
    i = j;
  }
  // Indices into `all` (what the caller prints from).
  const at = new Map(ev.map((e, k) => [k, all.indexOf(e)]));
  return out.map((e) => ({ ...e, from: at.get(e.from)!, to: at.get(e.to)! }));
}

