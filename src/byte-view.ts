/**
 * A typed array's `byteOffset` and `buffer`, and `set`, for the per-frame paths, through the
 * %TypedArray%.prototype functions themselves (`getter.call(view)`).
 *
 * Why: Node 20's V8 (11.3) does not inline the accessors and methods that Uint8Array inherits
 * from %TypedArray%.prototype (`byteOffset`, `byteLength`, `buffer`, `set`, `subarray`) in
 * code its optimizing compiler built on its background thread, which is how nearly all of the
 * stack's code gets built: every `view.byteOffset` there is a generic property look-up (the
 * LoadIC builtin, then the getter's call). `length` and indexing are not affected. A call of
 * the getter through `Function.prototype.call` with the getter known is reduced to the field's
 * load. In isolation (node 20, concurrent compilation, this machine): `byteOffset` plus `buffer`
 * 19-20 ns per pair against 9 through these; `set` of 10 bytes 12-15 against 9. Under TCP_CRR
 * the generic loads were ~1 % of `serve`'s samples (`perf`, the call sites read off
 * `--print-opt-code`), a frame taking a dozen of them on its way in and out.
 *
 * Only for typed arrays (a Uint8Array or a Buffer): the getters throw on anything else, a
 * DataView included.
 */

const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;

function getter(name: 'byteOffset' | 'buffer'): (this: ArrayBufferView) => unknown {
  const get = Object.getOwnPropertyDescriptor(typedArrayPrototype, name)?.get;
  if (get === undefined) throw new Error(`%TypedArray%.prototype.${name} has no getter`);
  return get as (this: ArrayBufferView) => unknown;
}

const byteOffsetGetter = getter('byteOffset');
const bufferGetter = getter('buffer');
const setMethod = (typedArrayPrototype as { set: (this: Uint8Array, src: ArrayLike<number>, at?: number) => void }).set;

/** `view.byteOffset`. */
export function byteOffsetOf(view: Uint8Array): number {
  return byteOffsetGetter.call(view) as number;
}

/** `view.buffer`. */
export function bufferOf(view: Uint8Array): ArrayBufferLike {
  return bufferGetter.call(view) as ArrayBufferLike;
}

/** `dst.set(src, at)`. */
export function setBytes(dst: Uint8Array, src: ArrayLike<number>, at = 0): void {
  setMethod.call(dst, src, at);
}
