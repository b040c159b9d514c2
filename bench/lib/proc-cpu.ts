/**
 * What a process has spent so far, from /proc/<pid>: the figures the cost benchmarks divide by
 * the work done (CPU seconds per GB, per 10^4 transactions), so they hold on a machine whose
 * load moves wall-clock rates.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on Linux). */
const CLK_TCK = 100;

/** User and system CPU seconds of `pid` so far (utime and stime, fields 14 and 15 of its stat). */
export function processCpu(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // After "pid (comm) " (comm may hold spaces and parentheses) field 3 is index 0.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLK_TCK, system: Number(fields[12]) / CLK_TCK };
}

/** Context switches of `pid` so far: voluntary (it slept) and involuntary (it was preempted). */
export function processSwitches(pid: number): { voluntary: number; involuntary: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const num = (re: RegExp): number => Number(re.exec(status)![1]);
  return { voluntary: num(/^voluntary_ctxt_switches:\s+(\d+)/m), involuntary: num(/^nonvoluntary_ctxt_switches:\s+(\d+)/m) };
}

/** Write and read system calls of `pid` so far (syscw and syscr of /proc/<pid>/io). */
export function processSyscalls(pid: number): { writes: number; reads: number } {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const num = (re: RegExp): number => Number(re.exec(io)![1]);
  return { writes: num(/^syscw: (\d+)/m), reads: num(/^syscr: (\d+)/m) };
}
