/**
 * `--netns` without the rights for it: one line saying what to run instead, given before the
 * program touches anything.
 */
import { CAP_NET_ADMIN, CAP_SYS_ADMIN, findOnPath, hasCapability } from './privilege.js';

/** Quotes an argument for a POSIX shell when it needs it. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:,=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * Undefined when this process may enter and create network namespaces (CAP_SYS_ADMIN) and
 * open TAP devices (CAP_NET_ADMIN); otherwise the hint, naming the same command under sudo when
 * sudo exists, as root when not.
 */
export function netnsHint(
  argv: readonly string[],
  facts: { readonly capable?: boolean; readonly path?: string | undefined } = {},
): string | undefined {
  const capable = facts.capable ?? (hasCapability(CAP_SYS_ADMIN) && hasCapability(CAP_NET_ADMIN));
  if (capable) return undefined;
  const command = ['rx-netstack', ...argv].map(shellWord).join(' ');
  const sudo = findOnPath('sudo', 'path' in facts ? facts.path : process.env.PATH) !== undefined;
  return `--netns needs root (CAP_SYS_ADMIN to make and enter a network namespace): run ${sudo ? `sudo ${command}` : `${command} as root`}`;
}
