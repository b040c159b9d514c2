import { spawn } from 'node:child_process';

/**
 * Runs `perf` with `args` (a `record` or `sched record` command line) around `work`: started,
 * given `settleMs` to attach, stopped with SIGINT (perf writes its file then) once `work` is
 * done; resolves when perf has exited.
 */
export async function perfDuring(args: readonly string[], work: () => Promise<unknown>, settleMs: number): Promise<void> {
  const recorder = spawn('perf', [...args], { stdio: 'ignore' });
  const exited = new Promise((resolve) => recorder.once('exit', resolve));
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  try {
    await work();
  } finally {
    recorder.kill('SIGINT');
    await exited;
  }
}
