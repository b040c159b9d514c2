/**
 * Per-layer counters and the registry that snapshots them.
 *
 * Hot paths increment plain numeric fields directly (`counters.rxFrames++`,
 * `counters.drops.badChecksum++`): no method call, no Map, no allocation. Every object made by
 * one factory call pattern has the same fields in the same order, so V8 keeps one hidden class
 * and the increments stay monomorphic. The objects are made with `Object.fromEntries`, never by
 * assigning `record[name] = 0` in a loop: V8 turns an object given more than a dozen properties
 * that way into a hash table (dictionary mode), and every increment of its fields is then a
 * generic property look-up (about 10 ns against 2 here; the TCP layer's 30-odd counters were).
 * Drops are counted by reason, gVisor style: the known reasons of a layer are pre-populated at
 * zero; a reason nobody listed (a bug, or a new parser result) lands in `otherDrops` instead of
 * changing the shape of `drops`.
 *
 * Nothing here reads a clock or emits: the RxJS layer turns `snapshot()` into `stats$`.
 */
import { NetstackError } from './errors.js';

/** Drops of one layer: known reasons in `drops`, anything else in `otherDrops`. */
export interface DropCounters<R extends string = string> {
  readonly drops: Record<R, number>;
  /** Reasons not listed when the counters were created. A Map: reasons are never object keys. */
  readonly otherDrops: Map<string, number>;
}

/** Counters of one layer: a numeric field per event plus drops by reason. */
export type LayerCounters<F extends string = string, R extends string = string> = Record<F, number> & DropCounters<R>;

/** A `drops` record with every known reason at zero. */
export function dropCounts<const R extends string>(reasons: readonly R[]): Record<R, number> {
  return Object.fromEntries(reasons.map((reason) => [reason, 0])) as Record<R, number>;
}

/**
 * Counters with the given numeric fields and drop reasons, all zero:
 * `createCounters(['rxFrames', 'txFrames'], ['truncated', 'notForUs'])`.
 */
export function createCounters<const F extends string, const R extends string>(
  fields: readonly F[],
  reasons: readonly R[],
): LayerCounters<F, R> {
  // One call, drops last (Object.assign of the last two would put a large record in dictionary mode).
  const entries: Array<[string, unknown]> = fields.map((field) => [field, 0]);
  entries.push(['drops', dropCounts(reasons)], ['otherDrops', new Map<string, number>()]);
  return Object.fromEntries(entries) as LayerCounters<F, R>;
}

/**
 * Counts `n` drops for `reason`. Use it when the reason is only known at run time (a parser's
 * result); with a literal reason, `counters.drops.truncated++` is just as good.
 */
export function countDrop<R extends string>(counters: DropCounters<R>, reason: R | string, n = 1): void {
  const drops = counters.drops as Record<string, number>;
  // Own numeric fields only: inherited members ('constructor', '__proto__') are not numbers.
  if (typeof drops[reason] === 'number') drops[reason] += n;
  else counters.otherDrops.set(reason, (counters.otherDrops.get(reason) ?? 0) + n);
}

/** The sum of all drops of one layer, known and other reasons. */
export function totalDrops(counters: DropCounters): number {
  let sum = 0;
  for (const reason in counters.drops) sum += counters.drops[reason];
  for (const n of counters.otherDrops.values()) sum += n;
  return sum;
}

/** Sets every numeric field (and every drop) back to zero, keeping the object's shape. */
export function resetCounters(counters: object): void {
  const record = counters as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const value = record[key];
    if (typeof value === 'number') record[key] = 0;
    else if (value instanceof Map) value.clear();
    else if (value !== null && typeof value === 'object') resetCounters(value);
  }
}

/** A JSON-able, deep-frozen value. */
export type Snapshot =
  | number
  | string
  | boolean
  | null
  | readonly Snapshot[]
  | { readonly [key: string]: Snapshot };

/** What `StatsRegistry.snapshot()` returns: one frozen copy per registered name. */
export type StatsSnapshot = { readonly [name: string]: Snapshot };

/**
 * Where layers register their counter objects. `snapshot()` copies the live numbers into a
 * frozen plain object, so a consumer can keep or serialize it while the counters move on.
 */
export class StatsRegistry {
  readonly #entries = new Map<string, object>();
  readonly #before = new Set<() => void>();

  /**
   * Calls `fold` before every `snapshot()`: a part that counts elsewhere (native code relaying
   * datagrams for the stack) adds its counts into the registered counters then. Returns the
   * function that removes it.
   */
  beforeSnapshot(fold: () => void): () => void {
    this.#before.add(fold);
    return () => {
      this.#before.delete(fold);
    };
  }

  /**
   * Registers `counters` under `name` (e.g. `eth`, `tcp`, `link:tap0`) and returns the function
   * that unregisters it. Throws `ERR_INVALID_ARG_VALUE` when `name` is taken.
   */
  register(name: string, counters: object): () => void {
    if (this.#entries.has(name)) {
      throw new NetstackError('ERR_INVALID_ARG_VALUE', `stats name "${name}" is already registered`);
    }
    this.#entries.set(name, counters);
    return () => {
      // Only remove what this call registered: the name may have been reused since.
      if (this.#entries.get(name) === counters) this.#entries.delete(name);
    };
  }

  /** Removes `name`; false when nothing was registered under it. */
  unregister(name: string): boolean {
    return this.#entries.delete(name);
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** The live counters under `name` (not a copy). */
  get(name: string): object | undefined {
    return this.#entries.get(name);
  }

  names(): string[] {
    return [...this.#entries.keys()];
  }

  /** A deep-frozen, JSON-able copy of every registered counter object. */
  snapshot(): StatsSnapshot {
    for (const fold of this.#before) fold();
    const out: Record<string, Snapshot> = {};
    for (const [name, counters] of this.#entries) out[name] = frozenCopy(counters, 0);
    return Object.freeze(out);
  }
}

// Counter objects are shallow trees; the bound only protects against a cycle by mistake.
const MAX_DEPTH = 16;

/**
 * A frozen deep copy of `value` that JSON can hold: Maps become objects, functions and
 * undefined are left out, non-finite numbers become null (as JSON.stringify would).
 */
export function frozenCopy(value: unknown, depth = 0): Snapshot {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return null;
  if (Array.isArray(value)) return Object.freeze(value.map((v) => frozenCopy(v, depth + 1)));
  const out: Record<string, Snapshot> = {};
  const entries: Iterable<[unknown, unknown]> =
    value instanceof Map ? value.entries() : Object.entries(value as Record<string, unknown>);
  for (const [key, v] of entries) {
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    // defineProperty, not assignment: a key like "__proto__" must stay an own data property.
    Object.defineProperty(out, String(key), { value: frozenCopy(v, depth + 1), enumerable: true });
  }
  return Object.freeze(out);
}
