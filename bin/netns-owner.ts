/**
 * Who owns the namespace `npm start` makes. The program itself never enters the namespace (the
 * addon opens the TAP device there with setns() around the open only), so `ip netns pids` cannot
 * tell whether a live `npm start` still uses it. Instead, before creating the namespace, start
 * writes an owner record `/run/rx-netstack/<netns>.owner`: its pid and the process's start time
 * (field 22 of /proc/<pid>/stat, so a recycled pid is not mistaken for it). A clean exit removes
 * namespace and record; a killed start (SIGKILL, a crash, a power cut of the terminal) leaves
 * both, and the next start finds a record whose process is gone: a leftover it may delete.
 * /run is a tmpfs, like the /run/netns the namespaces live in: both vanish at reboot.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const OWNER_DIR = '/run/rx-netstack';
export const NETNS_DIR = '/var/run/netns';

export interface OwnerRecord {
  readonly pid: number;
  /** Clock ticks since boot at which the process started. */
  readonly startTime: string;
}

export type NamespaceState =
  /** No such namespace: start creates it. */
  | { readonly kind: 'absent' }
  /** Exists, and the `npm start` that made it is alive. */
  | { readonly kind: 'in-use'; readonly owner: OwnerRecord }
  /** Exists, made by an `npm start` that is gone: a leftover. */
  | { readonly kind: 'leftover'; readonly owner: OwnerRecord }
  /** Exists with no owner record: made by someone else (or by a version before the records). */
  | { readonly kind: 'foreign' };

export interface Places {
  readonly netnsDir?: string;
  readonly ownerDir?: string;
}

/** The start time of process `pid`, or undefined when there is no such process. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ")".
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function ownerPath(netns: string, places: Places): string {
  return join(places.ownerDir ?? OWNER_DIR, `${netns}.owner`);
}

export function readOwner(netns: string, places: Places = {}): OwnerRecord | undefined {
  try {
    const { pid, startTime } = JSON.parse(readFileSync(ownerPath(netns, places), 'utf8')) as Partial<OwnerRecord>;
    return typeof pid === 'number' && typeof startTime === 'string' ? { pid, startTime } : undefined;
  } catch {
    return undefined;
  }
}

/** Looks at namespace `netns` and its owner record. */
export function inspectNamespace(netns: string, places: Places = {}): NamespaceState {
  if (!existsSync(join(places.netnsDir ?? NETNS_DIR, netns))) return { kind: 'absent' };
  const owner = readOwner(netns, places);
  if (owner === undefined) return { kind: 'foreign' };
  return processStartTime(owner.pid) === owner.startTime ? { kind: 'in-use', owner } : { kind: 'leftover', owner };
}

/** Writes this process's owner record for `netns`; the returned function removes it. */
export function claimNamespace(netns: string, places: Places = {}): () => void {
  const path = ownerPath(netns, places);
  mkdirSync(places.ownerDir ?? OWNER_DIR, { recursive: true, mode: 0o755 });
  const record: OwnerRecord = { pid: process.pid, startTime: processStartTime(process.pid) ?? '' };
  writeFileSync(path, `${JSON.stringify(record)}\n`);
  return () => forgetOwner(netns, places);
}

export function forgetOwner(netns: string, places: Places = {}): void {
  rmSync(ownerPath(netns, places), { force: true });
}
