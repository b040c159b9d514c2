/**
 * Kernel-peer harness: a network namespace of the test's own with a TAP device in it, the Linux
 * kernel on one side (address 198.18.0.1/24 by default) and our code on the other (attached to
 * the device with `tapLink({ name, netns })` from this, the root, namespace).
 *
 * Safety (see /work/shared/KERNEL-PEER.md): every namespace is named `rxns-<pid>-<random>`,
 * addresses come only from 198.18.0.0/24 and are set only inside it, nothing is configured in the
 * root namespace, and `destroy()` removes it all (kills the processes it spawned, by PID, then
 * deletes the namespace). Hooks made by `useKernelPeer` destroy even when a test fails, and a
 * process 'exit' handler deletes whatever is left.
 *
 * @example
 * describeKernelPeer('ARP with the kernel', () => {
 *   const peer = useKernelPeer();
 *   it('...', async () => {
 *     const link = peer().attach();
 *     await peer().python('import socket; ...');
 *   });
 * });
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { tapLink, type TapLink, type TapLinkOptions } from '../../streams/links/tap-link.js';
import {
  checkedCommand, isSafeCidr, killChildrenSync, runCommand, staleNamespaces, stopChild, type CommandResult,
} from './netns-core.js';

const NETNS_PREFIX = 'rxns-';
/** Default time limit of a command, and how long a child gets after SIGTERM before SIGKILL. */
const EXEC_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 1000;

export interface KernelPeerOptions {
  /** TAP device name inside the namespace. Default `rxtap0`. */
  readonly tapName?: string;
  /** Kernel side address on the TAP device; must lie in 198.18.0.0/24. Default 198.18.0.1/24. */
  readonly hostCidr?: string;
  /**
   * Create the TAP device as a persistent device (`ip tuntap add`), give it `hostCidr` and set it
   * up. Default true. With false the namespace is empty: the test creates the device (for
   * example with `new TapDevice({ name, netns })`) and may call `configureHost()` after.
   */
  readonly createTap?: boolean;
  /** MTU of the TAP device. Default: the kernel's (1500). */
  readonly mtu?: number;
  /** Make the persistent device a TUN device (`mode tun`: IP packets, no Ethernet) instead of TAP. Default 'tap'. */
  readonly mode?: 'tap' | 'tun';
}

export type ExecResult = CommandResult;

export interface ExecOptions {
  /** Kill the program after this long. Default 10 s. */
  readonly timeoutMs?: number;
  /** Text for the program's standard input. */
  readonly input?: string;
}

export interface LinkCounters {
  readonly rxPackets: number;
  readonly rxBytes: number;
  readonly rxDropped: number;
  readonly txPackets: number;
  readonly txBytes: number;
  readonly txDropped: number;
}

export interface LinkInfo {
  readonly name: string;
  readonly mtu: number;
  readonly address: string;
  readonly flags: readonly string[];
  readonly operstate: string;
}

export interface Neighbour {
  readonly dst: string;
  readonly lladdr?: string;
  readonly state: readonly string[];
}

const live = new Set<KernelPeer>();
let exitHookInstalled = false;

export class KernelPeer {
  readonly netns: string;
  readonly tapName: string;
  readonly hostCidr: string;
  /** The kernel side address without prefix (`198.18.0.1`). */
  readonly hostIp: string;
  readonly #children = new Set<ChildProcess>();
  readonly #links = new Set<TapLink>();
  #destroyed = false;

  constructor(netns: string, tapName: string, hostCidr: string) {
    this.netns = netns;
    this.tapName = tapName;
    this.hostCidr = hostCidr;
    this.hostIp = hostCidr.split('/')[0];
  }

  /** Runs `program args` inside the namespace; resolves with its output whatever its exit code. */
  exec(program: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.netns, program, ...args], options);
  }

  /** Like exec, but rejects when the program exits non-zero; resolves with its stdout. */
  async run(program: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<string> {
    const result = await this.exec(program, args, options);
    if (result.code !== 0) {
      throw new Error(`${program} ${args.join(' ')} in ${this.netns} exited ${result.code}: ${result.stderr.trim()}`);
    }
    return result.stdout;
  }

  /** `ip -n NETNS args...` (rejects on failure). */
  ip(args: readonly string[], options: ExecOptions = {}): Promise<string> {
    return checked('ip', ['-n', this.netns, ...args], options);
  }

  /** Runs a python3 program (standard library only on a fresh machine) inside the namespace. */
  python(source: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<string> {
    return this.run('python3', ['-c', source, ...args], options);
  }

  /**
   * Starts `program args` inside the namespace and returns it; `destroy()` kills it by PID if it
   * is still running. `ip netns exec` execs the program, so the PID is the program's own.
   */
  spawn(program: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    this.#assertAlive();
    const child = spawn('ip', ['netns', 'exec', this.netns, program, ...args], { stdio: 'pipe', ...options });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** Attaches our side with `tapLink({ name, netns })`; closed by `destroy()` if still open. */
  attach(options: Omit<TapLinkOptions, 'name' | 'netns'> = {}): TapLink {
    this.#assertAlive();
    const link = tapLink({ ...options, name: this.tapName, netns: this.netns });
    this.#links.add(link);
    return link;
  }

  /** Gives the TAP device the kernel side address and sets it up (for `createTap: false`). */
  async configureHost(): Promise<void> {
    await this.ip(['addr', 'add', this.hostCidr, 'dev', this.tapName]);
    await this.ip(['link', 'set', this.tapName, 'up']);
  }

  /** Packet counters of the TAP device as the kernel sees them (rx = frames we wrote). */
  async counters(device = this.tapName): Promise<LinkCounters> {
    const [entry] = JSON.parse(await this.ip(['-s', '-j', 'link', 'show', 'dev', device])) as Array<{
      stats64: { rx: Record<string, number>; tx: Record<string, number> };
    }>;
    const { rx, tx } = entry.stats64;
    return {
      rxPackets: rx.packets,
      rxBytes: rx.bytes,
      rxDropped: rx.dropped,
      txPackets: tx.packets,
      txBytes: tx.bytes,
      txDropped: tx.dropped,
    };
  }

  /** The device as `ip link` shows it, or undefined when there is no such device. */
  async linkInfo(device = this.tapName): Promise<LinkInfo | undefined> {
    const result = await run('ip', ['-n', this.netns, '-j', 'link', 'show', 'dev', device]);
    if (result.code !== 0) return undefined;
    const [entry] = JSON.parse(result.stdout) as Array<{
      ifname: string; mtu: number; address: string; flags: string[]; operstate: string;
    }>;
    return { name: entry.ifname, mtu: entry.mtu, address: entry.address, flags: entry.flags, operstate: entry.operstate };
  }

  /** The kernel's neighbour (ARP) table for the TAP device. */
  async neighbours(device = this.tapName): Promise<Neighbour[]> {
    const out = await this.ip(['-j', 'neigh', 'show', 'dev', device]);
    return (JSON.parse(out || '[]') as Array<{ dst: string; lladdr?: string; state?: string[] }>).map((n) => ({
      dst: n.dst,
      ...(n.lladdr === undefined ? {} : { lladdr: n.lladdr }),
      state: n.state ?? [],
    }));
  }

  /** Kills what it spawned, closes links it attached, deletes the namespace. Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const link of this.#links) link.close();
    this.#links.clear();
    await Promise.all([...this.#children].map((child) => stopChild(child, STOP_GRACE_MS)));
    // Deleting the namespace deletes the virtual devices in it (the TAP device included).
    await run('ip', ['netns', 'del', this.netns]);
    live.delete(this);
  }

  /** Synchronous last resort for process exit. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const link of this.#links) link.close();
    killChildrenSync(this.#children);
    try {
      execFileSync('ip', ['netns', 'del', this.netns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    live.delete(this);
  }

  #assertAlive(): void {
    if (this.#destroyed) throw new Error(`kernel peer ${this.netns} is destroyed`);
  }
}

/** Makes a namespace with a TAP device, the kernel side at `hostCidr`, IPv6 off. */
export async function createKernelPeer(options: KernelPeerOptions = {}): Promise<KernelPeer> {
  const tapName = options.tapName ?? 'rxtap0';
  const hostCidr = options.hostCidr ?? '198.18.0.1/24';
  assertSafeCidr(hostCidr);
  installExitHook();
  await removeStaleNamespaces();

  const netns = `${NETNS_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`;
  await checked('ip', ['netns', 'add', netns]);
  const peer = new KernelPeer(netns, tapName, hostCidr);
  live.add(peer);
  try {
    await peer.ip(['link', 'set', 'lo', 'up']);
    // Before any device exists, so 'default' covers the TAP device too: no router
    // solicitations or MLD reports on the wire to confuse a test.
    await peer.run('sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    if (options.createTap ?? true) {
      await peer.ip(['tuntap', 'add', 'dev', tapName, 'mode', options.mode ?? 'tap']);
      if (options.mtu !== undefined) await peer.ip(['link', 'set', tapName, 'mtu', String(options.mtu)]);
      await peer.configureHost();
    }
  } catch (error) {
    await peer.destroy();
    throw error;
  }
  return peer;
}

/** Why kernel-peer tests cannot run here, or undefined when they can. */
export function kernelPeerUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not running as root (they need CAP_NET_ADMIN and CAP_SYS_ADMIN: run `npm test` as root, or through sudo)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun (TUN/TAP driver missing)';
  if (!onPath('ip')) return 'no `ip` command (apt-get install iproute2)';
  if (!onPath('python3')) return 'no `python3` command (apt-get install python3)';
  if (!onPath('sysctl')) return 'no `sysctl` command (apt-get install procps)';
  return undefined;
}

/** Whether this run is CI's (CI set, and not to 0 or false): there nothing may be skipped. */
export function isCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * `describe` for tests that need the kernel peer. Where root or /dev/net/tun is missing: under
 * CI the suite FAILS (a CI run that silently skipped them would prove nothing); elsewhere it
 * prints a loud notice and its tests are reported as pending.
 */
export function describeKernelPeer(title: string, fn: (this: Mocha.Suite) => void): Mocha.Suite {
  const missing = kernelPeerUnavailable();
  if (missing === undefined) return describe(title, fn);
  if (isCI()) {
    return describe(title, function () {
      it('can run kernel-peer tests (root, /dev/net/tun, iproute2)', function () {
        throw new Error(`kernel-peer tests cannot run under CI: ${missing}`);
      });
    });
  }
  return describe(title, function () {
    before(function () {
      const bar = '!'.repeat(78);
      console.warn(`\n${bar}\n!! SKIPPING kernel-peer tests "${title}":\n!!   ${missing}\n${bar}\n`);
      this.skip();
    });
    fn.call(this);
  });
}

/**
 * Registers hooks in the current `describe` that create a kernel peer before (each) test and
 * destroy it after, even when the test fails. Returns the accessor for the current peer.
 */
export function useKernelPeer(options: KernelPeerOptions & { readonly perTest?: boolean } = {}): () => KernelPeer {
  let current: KernelPeer | undefined;
  const setUp = async (): Promise<void> => {
    current = await createKernelPeer(options);
  };
  const tearDown = async (): Promise<void> => {
    const peer = current;
    current = undefined;
    await peer?.destroy();
  };
  if (options.perTest ?? true) {
    beforeEach(setUp);
    afterEach(tearDown);
  } else {
    before(setUp);
    after(tearDown);
  }
  return () => {
    if (current === undefined) throw new Error('no kernel peer: useKernelPeer() hooks have not run');
    return current;
  };
}

/** Throws unless `cidr` is an address/prefix inside 198.18.0.0/24 (the only range tests use). */
export function assertSafeCidr(cidr: string): void {
  if (!isSafeCidr(cidr)) {
    throw new Error(`refusing ${cidr}: test addresses must lie in 198.18.0.0/24 (prefix 24..32)`);
  }
}

function onPath(program: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin'])) {
    try {
      accessSync(join(dir, program), fsConstants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}

function run(program: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return runCommand(program, args, options.timeoutMs ?? EXEC_TIMEOUT_MS, options.input);
}

function checked(program: string, args: readonly string[], options: ExecOptions = {}): Promise<string> {
  return checkedCommand(program, args, options.timeoutMs ?? EXEC_TIMEOUT_MS, options.input);
}

/** Namespaces of earlier runs whose process is gone (a crash or a kill -9 skipped cleanup). */
async function removeStaleNamespaces(): Promise<void> {
  for (const name of staleNamespaces(NETNS_PREFIX)) await run('ip', ['netns', 'del', name]);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const peer of [...live]) peer.destroySync();
  });
}
