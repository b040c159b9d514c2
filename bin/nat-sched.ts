/**
 * The nat's event loop thread gets a longer EEVDF slice than the default (Linux 6.12 and later,
 * native/sched-slice.c). Why: a request/response exchange through the nat is a chain of
 * wake-ups (client -> nat -> server -> nat -> client). Where the chain shares a CPU, a peer the
 * nat wakes should run at once (its answer is then there when the nat reads right after its
 * send), and the nat, woken by a peer, should not preempt that peer before it goes to sleep in
 * its own read. With equal slices the scheduler does the opposite about half the time (the nat
 * runs on, sleeps in epoll, and then preempts the peer that woke it: two more context switches
 * and an event-loop turn per exchange); a longer slice gives the nat a later deadline than its
 * peers, so a woken peer preempts it (shorter slices may) and it does not preempt them. Across
 * CPUs it orders nothing between the nat and its peers, yet with everything unpinned on two CPUs
 * the runs went to the slow mode where the three sit on different CPUs (15,000/s against up to
 * 110,000) more often than without it; so the nat applies it by default only where its thread
 * may run on one CPU alone (its affinity when it starts: a machine with one CPU, or a nat pinned
 * by taskset or a cpuset), and --sched-slice asks for it elsewhere. A nat that can move cannot
 * fall into that slow mode through its slice: it is never given one. docs/history/session-11.md
 * "Session 11: the nat's UDP_RR, the whole chain" and docs/history/session-13.md
 * "Session 13: the nat's request/response".
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { loadTapAddon } from '../streams/links/tap-native.js';

/**
 * How many CPUs a `Cpus_allowed_list` value of /proc names ("0", "0-3,6"), or undefined when it
 * is not one.
 */
export function countCpuList(list: string): number | undefined {
  let count = 0;
  for (const part of list.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) return undefined;
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) return undefined;
    count += last - first + 1;
  }
  return count;
}

/**
 * The CPUs the calling thread may run on: its affinity as /proc/thread-self/status reports it
 * (the affinity alone, where Node's availableParallelism may in later versions also count a
 * cgroup's CPU quota, which does not keep a thread on one CPU); availableParallelism() where
 * that cannot be read.
 */
export function cpusAllowed(): number {
  try {
    const m = /^Cpus_allowed_list:\s*(.*)$/m.exec(readFileSync('/proc/thread-self/status', 'utf8'));
    const n = m === null ? undefined : countCpuList(m[1]);
    if (n !== undefined && n > 0) return n;
  } catch {
    // No /proc: the fallback below.
  }
  return availableParallelism();
}

/**
 * The slice the nat takes without --sched-slice: `longUs` when the calling thread's CPU affinity
 * allows one CPU, else 0 (the kernel's). `allowed` is for tests.
 */
export function defaultSchedSliceUs(longUs: number, allowed: number = cpusAllowed()): number {
  return allowed === 1 ? longUs : 0;
}

/**
 * Sets the calling thread's slice to `us` (0: leave it); returns the undo (the slice it had), or
 * undefined when nothing was changed (a kernel without per-thread slices, a policy other than
 * SCHED_OTHER, a refusal), with the reason given to `report`.
 */
export function applySchedSlice(us: number, report: (line: string) => void): (() => void) | undefined {
  if (us === 0) return undefined;
  const addon = loadTapAddon();
  const before = addon.schedSlice();
  const now = addon.setSchedSlice(us);
  if (now === us) return () => void (before > 0 ? addon.setSchedSlice(before) : undefined);
  report(now < 0 ? `scheduling slice left as it is: ${addon.errorFor(-now, 'sched_setattr', '').code}` : 'scheduling slice left as it is: this kernel has no per-thread slice');
  return undefined;
}
