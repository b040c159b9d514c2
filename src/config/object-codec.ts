/**
 * io-ts combinators with the error paths and messages a configuration needs.
 *
 * `t.type`/`t.partial`/`t.intersection` ignore unknown keys (a typo like `rotues` would be
 * silently dropped) and intersections put member indexes into error paths (`0.1.name`). The
 * combinators here give clean paths (`interfaces.0.ipv4.1`), report a missing field as
 * missing, and report every unknown key with a "did you mean" hint.
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { closestName, describeValue } from './describe.js';

const descriptions = new WeakMap<object, string>();

/** Attaches the phrase messages use for `codec` ("an IPv4 CIDR like 198.18.0.2/24"). */
export function describedAs<C extends t.Any>(codec: C, description: string): C {
  descriptions.set(codec, description);
  return codec;
}

/** The phrase for `codec`: the one attached with `describedAs`, else its io-ts name. */
export function describeCodec(codec: { readonly name: string }): string {
  return descriptions.get(codec) ?? codec.name;
}

/**
 * A codec for values checked by `test` (and optionally normalised by it): `test` returns the
 * decoded value, or undefined when `u` is not acceptable. By default `is(u)` holds when `u` is
 * already its own decoded (canonical) form.
 */
export function refinement<A, O>(
  name: string,
  description: string,
  test: (u: unknown) => A | undefined,
  encode: (a: A) => O,
  is: (u: unknown) => u is A = (u): u is A => u !== undefined && test(u) === u,
): t.Type<A, O, unknown> {
  const codec = new t.Type<A, O, unknown>(
    name,
    is,
    (u, c) => {
      const a = test(u);
      return a === undefined ? t.failure(u, c, `${describeValue(u)} is not ${description}`) : t.success(a);
    },
    encode,
  );
  return describedAs(codec, description);
}

type Props = Record<string, t.Mixed>;

export type ClosedObjectType<R extends Props, O extends Props> = { [K in keyof R]: t.TypeOf<R[K]> } & {
  [K in keyof O]?: t.TypeOf<O[K]>;
};
export type ClosedObjectOutput<R extends Props, O extends Props> = { [K in keyof R]: t.OutputOf<R[K]> } & {
  [K in keyof O]?: t.OutputOf<O[K]>;
};

export interface ClosedObjectCodec<R extends Props, O extends Props>
  extends t.Type<ClosedObjectType<R, O>, ClosedObjectOutput<R, O>, unknown> {
  readonly required: R;
  readonly optional: O;
}

/**
 * An object codec with `required` and `optional` props that rejects unknown keys. An optional
 * prop set to `undefined` counts as absent (callers often spread options).
 */
export function closedObject<R extends Props, O extends Props>(
  name: string,
  description: string,
  required: R,
  optional: O,
): ClosedObjectCodec<R, O> {
  const known = [...Object.keys(required), ...Object.keys(optional)];
  const isRecord = (u: unknown): u is Record<string, unknown> =>
    u !== null && typeof u === 'object' && !Array.isArray(u);

  const codec = new t.Type<ClosedObjectType<R, O>, ClosedObjectOutput<R, O>, unknown>(
    name,
    (u): u is ClosedObjectType<R, O> =>
      isRecord(u) &&
      Object.keys(u).every((k) => known.includes(k)) &&
      Object.keys(required).every((k) => required[k].is(u[k])) &&
      Object.keys(optional).every((k) => u[k] === undefined || optional[k].is(u[k])),
    (u, c) => {
      if (!isRecord(u)) return t.failure(u, c, `${describeValue(u)} is not ${description}`);
      const out: Record<string, unknown> = {};
      const errors: t.ValidationError[] = [];
      const check = (k: string, codec: t.Mixed, isRequired: boolean): void => {
        const v = u[k];
        const context = t.appendContext(c, k, codec, v);
        if (v === undefined) {
          if (isRequired) errors.push({ value: v, context, message: `missing: expected ${describeCodec(codec)}` });
          return;
        }
        const result = codec.validate(v, context);
        if (isLeft(result)) errors.push(...result.left);
        else out[k] = result.right;
      };
      for (const k of Object.keys(required)) check(k, required[k], true);
      for (const k of Object.keys(optional)) check(k, optional[k], false);
      for (const k of Object.keys(u)) {
        if (known.includes(k)) continue;
        const hint = closestName(k, known);
        errors.push({
          value: u[k],
          context: t.appendContext(c, k, t.unknown, u[k]),
          message:
            hint === undefined
              ? `unknown option (${description} takes ${known.length > 0 ? known.join(', ') : 'no options'})`
              : `unknown option (did you mean "${hint}"?)`,
        });
      }
      return errors.length > 0 ? t.failures(errors) : t.success(out as ClosedObjectType<R, O>);
    },
    (a) => {
      const out: Record<string, unknown> = {};
      const record = a as Record<string, unknown>;
      for (const k of Object.keys(required)) out[k] = required[k].encode(record[k]);
      for (const k of Object.keys(optional)) if (record[k] !== undefined) out[k] = optional[k].encode(record[k]);
      return out as ClosedObjectOutput<R, O>;
    },
  );
  return Object.assign(describedAs(codec, description), { required, optional });
}

/** An array codec whose items are checked one by one, every bad index reported. */
export function listOf<C extends t.Mixed>(
  item: C,
  description: string,
): t.Type<t.TypeOf<C>[], t.OutputOf<C>[], unknown> {
  const codec = new t.Type<t.TypeOf<C>[], t.OutputOf<C>[], unknown>(
    `Array<${item.name}>`,
    (u): u is t.TypeOf<C>[] => Array.isArray(u) && u.every((v) => item.is(v)),
    (u, c) => {
      if (!Array.isArray(u)) return t.failure(u, c, `${describeValue(u)} is not ${description}`);
      const out: t.TypeOf<C>[] = [];
      const errors: t.ValidationError[] = [];
      u.forEach((v, i) => {
        const result = item.validate(v, t.appendContext(c, String(i), item, v));
        if (isLeft(result)) errors.push(...result.left);
        else out.push(result.right);
      });
      return errors.length > 0 ? t.failures(errors) : t.success(out);
    },
    (a) => a.map((v) => item.encode(v)),
  );
  return describedAs(codec, description);
}
