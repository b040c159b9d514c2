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
 * fall into that slow mode through its slice: it is never given one. docs/benchmarks.md,
 * "Session 11: the nat's UDP_RR, the whole chain" and "Session 13: the nat's request/response".
 */
import { availableParallelism } from 'node:os';
import { loadTapAddon } from '../streams/links/tap-native.js';

/**
 * The slice the nat takes without --sched-slice: `longUs` when the calling thread's CPU affinity
 * (sched_getaffinity, through libuv's uv_available_parallelism) allows one CPU, else 0 (the
 * kernel's). `cpusAllowed` is for tests.
 */
export function defaultSchedSliceUs(longUs: number, cpusAllowed: number = availableParallelism()): number {
  return cpusAllowed === 1 ? longUs : 0;
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
