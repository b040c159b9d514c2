/**
 * Network namespaces for the kernel benchmarks, with the project's safety rules (see
 * /work/shared/KERNEL-PEER.md): every namespace is named `rxbench-<pid>-<random>-<role>`, every
 * address lies in 198.18.0.0/24 and is set only inside such a namespace, nothing is configured
 * in the root namespace (devices are created from inside a namespace: `ip -n NS link add`), and
 * everything is deleted afterwards, on failure too: `destroy()` in `finally`, plus process
 * 'exit' / SIGINT / SIGTERM hooks that kill what we spawned (by PID) and delete what is left.
 * Namespaces of an earlier run whose process is gone are deleted on the next start.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
// The safety rules are the test harness's (see the comment at the top of netns-core.ts).
import {
  checkedCommand, isSafeCidr, killChildrenSync, runCommand, staleNamespaces, stopChild, type CommandResult,
} from '../../test/helpers/netns-core.js';

const PREFIX = 'rxbench-';
/** Children get this long after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 2000;

export type RunResult = CommandResult;

export function run(program: string, args: readonly string[], timeoutMs = 20_000, input?: string): Promise<RunResult> {
  return runCommand(program, args, timeoutMs, input);
}

function checked(program: string, args: readonly string[]): Promise<string> {
  return checkedCommand(program, args, 20_000);
}

/** Throws unless `cidr` lies inside 198.18.0.0/24. */
export function assertSafeCidr(cidr: string): void {
  if (!isSafeCidr(cidr)) throw new Error(`refusing ${cidr}: benchmark addresses must lie in 198.18.0.0/24`);
}

const live = new Set<Netns>();
let hooksInstalled = false;

export class Netns {
  readonly #children = new Set<ChildProcess>();
  #deleted = false;

  private constructor(readonly name: string) {}

  /** Creates a namespace with loopback up, IPv6 off, and client-side TCP settings for rate tests. */
  static async create(role: string): Promise<Netns> {
    installHooks();
    const name = `${PREFIX}${process.pid}-${randomBytes(3).toString('hex')}-${role}`;
    await checked('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    live.add(ns);
    try {
      await checked('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
      await ns.sysctl({
        'net.ipv6.conf.all.disable_ipv6': '1',
        'net.ipv6.conf.default.disable_ipv6': '1',
        // Connection-rate runs open tens of thousands of connections that the client closes
        // first: without TIME-WAIT buckets (this namespace only) their ports are free at once.
        'net.ipv4.tcp_max_tw_buckets': '0',
        'net.ipv4.ip_local_port_range': '10000 65000',
      });
    } catch (error) {
      await ns.destroy();
      throw error;
    }
    return ns;
  }

  async sysctl(settings: Record<string, string>): Promise<void> {
    const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
    await checked('ip', ['netns', 'exec', this.name, 'sysctl', '-q', '-w', ...args]);
  }

  /** `ip -n NS args...` */
  ip(args: readonly string[]): Promise<string> {
    return checked('ip', ['-n', this.name, ...args]);
  }

  async addAddress(cidr: string, device: string): Promise<void> {
    assertSafeCidr(cidr);
    await this.ip(['addr', 'add', cidr, 'dev', device]);
  }

  /** Runs a program in the namespace and waits for it (bounded by `timeoutMs`). */
  exec(program: string, args: readonly string[], timeoutMs = 20_000, input?: string): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.name, program, ...args], timeoutMs, input);
  }

  /** Starts a long-running program in the namespace; `destroy()` kills it by PID. */
  spawn(program: string, args: readonly string[], env: Record<string, string> = {}): ChildProcess {
    if (this.#deleted) throw new Error(`namespace ${this.name} is deleted`);
    // `ip netns exec` execs the program, so the PID is the program's own.
    const child = spawn('ip', ['netns', 'exec', this.name, program, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  async destroy(): Promise<void> {
    if (this.#deleted) return;
    this.#deleted = true;
    await Promise.all([...this.#children].map((c) => stopChild(c, STOP_GRACE_MS)));
    await run('ip', ['netns', 'del', this.name]);
    live.delete(this);
  }

  destroySync(): void {
    if (this.#deleted) return;
    this.#deleted = true;
    killChildrenSync(this.#children);
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    live.delete(this);
  }
}

/** Resolves once `child` printed a line equal to `line` on stdout; rejects on exit or timeout. */
export function waitForLine(child: ChildProcess, line: string, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => finish(new Error(`${what}: no "${line}" within ${timeoutMs} ms; stderr: ${err.trim()}`)), timeoutMs);
    const onOut = (d: Buffer): void => {
      out += d.toString();
      if (out.split('\n').some((l) => l.trim() === line)) finish(undefined);
    };
    const onErr = (d: Buffer): void => {
      err += d.toString();
    };
    const onExit = (code: number | null): void => finish(new Error(`${what} exited (${code}) before "${line}"; stderr: ${err.trim()}`));
    function finish(error: Error | undefined): void {
      clearTimeout(timer);
      child.stdout?.off('data', onOut);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
    child.stdout?.on('data', onOut);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
  });
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  removeStale();
  process.on('exit', () => {
    for (const ns of [...live]) ns.destroySync();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const ns of [...live]) ns.destroySync();
      process.exit(130);
    });
  }
}

/** Namespaces of an earlier benchmark whose process is gone (a crash skipped the cleanup). */
function removeStale(): void {
  for (const name of staleNamespaces(PREFIX)) {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {
      // gone meanwhile
    }
  }
}
