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

/**
 * `debug`'s module object (`createDebug`) is given some twenty properties one by one, which
 * leaves it in V8's dictionary mode; every debugger's `enabled` getter reads
 * `createDebug.namespaces` from it, so each `log.X.enabled` check on a hot path (TCP's
 * `setState`, 5-6 times per connection) was a generic property look-up from optimized code.
 * An object made another's prototype is turned back into fast mode by V8 (a prototype's map is
 * always fast), which makes that read a field load. Nothing observable changes: the same
 * properties, the same getter, `enable()`/`disable()` and `d.enabled = x` behave as before.
 */
function fastPropertiesOf(object: object): void {
  function Heir(): void {}
  Heir.prototype = object;
  // Instantiating is what makes V8 settle the prototype's map (as a prototype: fast).
  Reflect.construct(Heir, []);
  Heir.prototype = null;
}
fastPropertiesOf(createDebug);

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

/**
 * `d.enabled` as a function for a hot path: the debugger's own getter, so it answers exactly as
 * `d.enabled` does (DEBUG, `createDebug.enable()`/`disable()`, `d.enabled = x`). Reading the
 * property is a generic look-up from optimized code: every debugger made after the first has
 * its own accessor pair on a map of its own, and V8 keeps all but the first in dictionary mode;
 * the getter, held in a constant, is a call that TurboFan inlines.
 */
export function enabledCheck(d: Debugger): () => boolean {
  const getter = Object.getOwnPropertyDescriptor(d, 'enabled')?.get;
  return getter === undefined ? () => d.enabled : (getter.bind(d) as () => boolean);
}

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
