/**
 * Runs the `ip` command (iproute2) for the programs' setup and cleanup steps.
 */
import { spawn } from 'node:child_process';

/** An `ip` command that takes longer is killed. */
const IP_TIMEOUT_MS = 10_000;

/**
 * Runs `ip args...`; resolves with its stdout, rejects naming the command and its stderr.
 * In a process group of its own (detached): a Ctrl-C typed at the terminal goes to the whole
 * foreground group, and would kill an `ip netns add` half-way; the program decides what a
 * Ctrl-C means (finish setup, then undo it).
 */
export function ip(args: readonly string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('ip', [...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill('SIGKILL'), IP_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`ip ${args.join(' ')}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(stdout);
      else reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || (signal === null ? `exit status ${code}` : `killed by ${signal}`)}`));
    });
  });
}

/** Whether `device` in `netns` carries `cidr` (as `ip addr` prints it: address/prefix). */
export async function hasAddress(netns: string, device: string, cidr: string): Promise<boolean> {
  const out = await ip(['-n', netns, '-j', 'addr', 'show', 'dev', device]);
  const [entry] = JSON.parse(out || '[]') as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>;
  return (entry?.addr_info ?? []).some((a) => `${a.local}/${a.prefixlen}` === cidr);
}
