/**
 * Runs an example program as a user would (`node --import tsx examples/X.ts ...`, from the
 * repository root) and watches its output. The caller kills it by PID when done (`stop()`).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs an example to its end (killed after `timeoutMs`); `uid` runs it as that user and group. */
export function runExample(file: string, args: readonly string[] = [], timeoutMs = 20_000, options: { uid?: number } = {}): Promise<Finished> {
  const user = options.uid === undefined ? {} : { uid: options.uid, gid: options.uid };
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', file, ...args], { cwd: ROOT, timeout: timeoutMs, ...user }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, signal: (error?.signal as NodeJS.Signals | undefined) ?? null, stdout, stderr });
    });
  });
}

export interface RunningExample {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout has a line matching `pattern` (rejects if the program exits first). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` (default SIGTERM) and resolves with how it ended; SIGKILL after 5 s. */
  stop(signal?: NodeJS.Signals): Promise<Finished>;
}

/** Starts a long-running example (a server). */
export function startExample(file: string, args: readonly string[] = []): RunningExample {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: ROOT, stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<Finished>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForLine(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const check = (): void => {
          const line = out.split('\n').slice(0, -1).map((l) => l.match(pattern)).find((m) => m !== null);
          if (line) return resolve(line);
          if (child.exitCode !== null || child.signalCode !== null) {
            return reject(new Error(`${file} exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}; stdout: ${out} stderr: ${err}`));
          }
          if (Date.now() - started > timeoutMs) return reject(new Error(`${file} did not print ${pattern} within ${timeoutMs} ms; stdout: ${out} stderr: ${err}`));
          setTimeout(check, 20);
        };
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        const result = await exited;
        clearTimeout(force);
        return result;
      }
      return exited;
    },
  };
}
