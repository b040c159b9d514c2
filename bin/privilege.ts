/**
 * Root or not, and what to do about it: `npm start` and `npm test` need root for their TAP
 * devices and network namespaces. The README's commands carry no `sudo` (a fresh machine where
 * the user is root may have none); instead these programs re-run themselves under sudo when the
 * user is not root and sudo exists, and say what is needed when neither holds.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';

/** Set in the environment of the program sudo runs: a second "not root" there is an error, not a loop. */
export const VIA_SUDO_ENV = 'RX_NETSTACK_VIA_SUDO';

/** Variables that survive the hop through sudo (which resets the environment by default). */
const PASSED_THROUGH = ['CI', 'DEBUG', 'DEBUG_COLORS', 'FORCE_COLOR', 'NO_COLOR'];

export type PrivilegePlan =
  /** Root already: go on in this process. */
  | { readonly kind: 'here' }
  /** Not root, sudo at this path: run the same program again under it. */
  | { readonly kind: 'sudo'; readonly sudo: string }
  /** Not root and no sudo: say what is needed. */
  | { readonly kind: 'none'; readonly uid: number }
  /** Run by our own sudo hop and still not root (a sudo that does not grant root). */
  | { readonly kind: 'sudo-failed'; readonly uid: number };

export interface PrivilegeFacts {
  /** Effective uid. */
  readonly uid: number;
  /** The PATH to look for `sudo` on. */
  readonly path: string | undefined;
  /** True when this process was started by `runUnderSudo` (VIA_SUDO_ENV is set). */
  readonly viaSudo: boolean;
}

/** The facts of this process. */
export function currentFacts(env: NodeJS.ProcessEnv = process.env): PrivilegeFacts {
  return { uid: process.geteuid?.() ?? -1, path: env.PATH, viaSudo: env[VIA_SUDO_ENV] === '1' };
}

/** What a program that needs root does, given who runs it and what is on its PATH. */
export function planPrivilege(facts: PrivilegeFacts): PrivilegePlan {
  if (facts.uid === 0) return { kind: 'here' };
  if (facts.viaSudo) return { kind: 'sudo-failed', uid: facts.uid };
  const sudo = findOnPath('sudo', facts.path);
  return sudo === undefined ? { kind: 'none', uid: facts.uid } : { kind: 'sudo', sudo };
}

/** The first executable `program` in the directories of `path` (like the shell's lookup). */
export function findOnPath(program: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue; // a relative PATH entry would depend on the cwd
    const candidate = join(dir, program);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Runs `node <nodeArgs...>` as root through `sudo` (which may ask for a password on the
 * terminal) and resolves with its exit status (128 + signal number when a signal ended it).
 *
 * Node by absolute path (sudo's secure_path may not hold it), through `env` so that CI, DEBUG
 * and RX_NETSTACK_* reach it whatever sudoers says about keeping variables. Meanwhile this
 * process stays in the foreground process group with sudo: Ctrl-C reaches the root program from
 * the terminal (or through sudo), and SIGINT/SIGTERM/SIGHUP sent to this process (npm forwards
 * them) are passed on to sudo, which relays them; this process only waits.
 */
export function runUnderSudo(sudo: string, nodeArgs: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const assignments = Object.keys(env)
    .filter((name) => PASSED_THROUGH.includes(name) || name.startsWith('RX_NETSTACK_'))
    .filter((name) => name !== VIA_SUDO_ENV)
    .map((name) => `${name}=${env[name]}`);
  const args = ['--', 'env', ...assignments, `${VIA_SUDO_ENV}=1`, process.execPath, ...nodeArgs];
  return new Promise((resolve) => {
    const child = spawn(sudo, args, { stdio: 'inherit' });
    const relay = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const signal of signals) process.on(signal, relay);
    const done = (status: number): void => {
      for (const signal of signals) process.removeListener(signal, relay);
      resolve(status);
    };
    child.once('error', (error) => {
      process.stderr.write(`cannot run ${sudo}: ${error.message}\n`);
      done(1);
    });
    child.once('exit', (code, signal) => {
      done(code ?? 128 + (signal === null ? 0 : osConstants.signals[signal]));
    });
  });
}

/** Linux capability numbers from <linux/capability.h>. */
export const CAP_NET_ADMIN = 12;
export const CAP_SYS_ADMIN = 21;

/**
 * Whether this process holds capability `cap` (effective set, /proc/self/status `CapEff`).
 * A TAP device needs CAP_NET_ADMIN; entering or making a network namespace CAP_SYS_ADMIN.
 * Off Linux (no /proc), falls back to "is root".
 */
export function hasCapability(cap: number, status?: string): boolean {
  let text = status;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return process.geteuid?.() === 0;
    }
  }
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(text)?.[1];
  if (hex === undefined) return process.geteuid?.() === 0;
  return ((BigInt(`0x${hex}`) >> BigInt(cap)) & 1n) === 1n;
}
