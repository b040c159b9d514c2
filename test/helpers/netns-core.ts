/**
 * What the kernel-peer test harness (test/helpers/netns.ts) and the kernel benchmarks
 * (bench/kernel/netns.ts) share: running a command with a bounded time, the 198.18.0.0/24 rule,
 * stopping a spawned child by PID, and finding the namespaces an earlier, crashed run left.
 *
 * It lives here, under test/helpers, because the safety rules of /work/shared/KERNEL-PEER.md are
 * defined and exercised by the test harness; the benchmarks are one more user of them. Tests must
 * never depend on benchmark code, so the dependency points from bench/ to test/helpers/ only.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { inSubnet, parseIpv4 } from '../../src/ipv4/address.js';

const SAFE_NETWORK = parseIpv4('198.18.0.0')!;

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit code, or null when killed by a signal (the timeout included). */
  readonly code: number | null;
}

/** Runs a program, killed after `timeoutMs`; resolves with its output whatever its exit code. */
export function runCommand(program: string, args: readonly string[], timeoutMs: number, input?: string): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(program, [...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ stdout, stderr: stderr || (error !== null && code === null ? String(error.message) : ''), code });
    });
    child.stdin?.end(input);
  });
}

/** Like runCommand, but rejects when the program exits non-zero; resolves with its stdout. */
export async function checkedCommand(program: string, args: readonly string[], timeoutMs: number, input?: string): Promise<string> {
  const r = await runCommand(program, args, timeoutMs, input);
  if (r.code !== 0) throw new Error(`${program} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** True when `cidr` is an address/prefix (24..32) inside 198.18.0.0/24. */
export function isSafeCidr(cidr: string): boolean {
  const [address, prefix, ...rest] = cidr.split('/');
  const addr = parseIpv4(address ?? '');
  const length = Number(prefix);
  return rest.length === 0 && addr !== undefined && Number.isInteger(length) && length >= 24 && length <= 32 &&
    inSubnet(addr, SAFE_NETWORK, 24);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** SIGKILL to every child still running: the synchronous last resort at process exit. */
export function killChildrenSync(children: Iterable<ChildProcess>): void {
  for (const c of children) if (c.exitCode === null && c.pid !== undefined) c.kill('SIGKILL');
}

/**
 * Namespaces named `<prefix><pid>-...` whose process is gone (a crash or a kill -9 skipped the
 * cleanup): the caller deletes them. Ours and those of live processes are left alone.
 */
export function staleNamespaces(prefix: string): string[] {
  let names: string[];
  try {
    names = readdirSync('/var/run/netns');
  } catch {
    return [];
  }
  const stale: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-/.exec(name.slice(prefix.length));
    if (m === null || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    stale.push(name);
  }
  return stale;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: existence check only
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
