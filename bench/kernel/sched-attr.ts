import { execFileSync } from 'node:child_process';

/**
 * Sets the scheduling of thread `tid` for an experiment: SCHED_BATCH, or SCHED_OTHER with an
 * EEVDF slice of `sliceUs` (sched_setattr's sched_runtime, Linux 6.12 and later). Through
 * python's ctypes, since Node has no binding for sched_setattr (system call 314 on x86-64).
 */
export function setSched(tid: number, how: { batch?: boolean; sliceUs?: number }): void {
  const code = [
    'import ctypes, struct, sys',
    'tid, policy, runtime = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])',
    'attr = struct.pack("=IIQiIQQQ", 48, policy, 0, 0, 0, runtime, 0, 0)',
    'buf = ctypes.create_string_buffer(attr, 48)',
    'libc = ctypes.CDLL(None, use_errno=True)',
    'if libc.syscall(314, tid, buf, 0) != 0: sys.exit("sched_setattr: errno %d" % ctypes.get_errno())',
  ].join('\n');
  execFileSync('python3', ['-c', code, String(tid), how.batch === true ? '3' : '0', String(Math.round((how.sliceUs ?? 0) * 1000))]);
}
