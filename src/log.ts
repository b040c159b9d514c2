/**
 * Logging namespaces, one per layer, created once at module load.
 *
 * `debug` is the one logging facade allowed in `src/`: it does no I/O of its own until a
 * namespace is enabled (`DEBUG=rx-netstack:tcp`), and it keeps the core free of any logger
 * plumbing. On hot paths, test `enabled` before building a message so a disabled namespace costs
 * one property read and no string formatting:
 *
 * ```ts
 * if (log.eth.enabled) log.eth('drop %s from %s', reason, formatMac(frame, 6));
 * ```
 */
import createDebug from 'debug';
import type { Debugger } from 'debug';

export type { Debugger };

/** The root of every namespace the stack logs under. */
export const LOG_ROOT = 'rx-netstack';

/** One debugger per layer: `rx-netstack:link`, `rx-netstack:eth`, ... */
export const log = {
  link: createDebug(`${LOG_ROOT}:link`),
  eth: createDebug(`${LOG_ROOT}:eth`),
  arp: createDebug(`${LOG_ROOT}:arp`),
  ipv4: createDebug(`${LOG_ROOT}:ipv4`),
  icmp: createDebug(`${LOG_ROOT}:icmp`),
  udp: createDebug(`${LOG_ROOT}:udp`),
  tcp: createDebug(`${LOG_ROOT}:tcp`),
} as const;

export type LogLayer = keyof typeof log;

// Debuggers for finer namespaces are cached: creating one per call would allocate and would
// lose `enabled` caching inside `debug`.
const byNamespace = new Map<string, Debugger>();

/**
 * The debugger for `rx-netstack:<sub>`, e.g. `logger('tcp:cc')` for `rx-netstack:tcp:cc`.
 * Call it once at module level (or at endpoint creation), not per packet.
 */
export function logger(sub: string): Debugger {
  const namespace = `${LOG_ROOT}:${sub}`;
  let d = byNamespace.get(namespace);
  if (d === undefined) {
    d = createDebug(namespace);
    byNamespace.set(namespace, d);
  }
  return d;
}
