/**
 * Turning io-ts errors into one error that names every bad path.
 *
 * A configuration is wrong all at once more often than not (a copied example with two typos);
 * reporting only the first problem makes the user fix them one run at a time.
 */
import type * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { NetstackError } from '../errors.js';
import { describeValue } from './describe.js';
import { describeCodec } from './object-codec.js';

/** One bad spot: `path` is dotted (`interfaces.0.ipv4.1`), '' for the value itself. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

export type ConfigErrorCode = 'ERR_INVALID_CONFIG' | 'ERR_INVALID_ARG_VALUE';

/** The error a bad configuration (or bad user options) throws: every problem at once. */
export class ConfigError extends NetstackError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], subject = 'stack configuration', code: ConfigErrorCode = 'ERR_INVALID_CONFIG') {
    super(code, `invalid ${subject}: ${formatProblems(problems)}`);
    this.name = 'ConfigError';
    this.problems = Object.freeze(problems.map((p) => Object.freeze({ path: p.path, message: p.message })));
  }
}

/** `path: message; path: message`, with `(root)` for the empty path. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `${p.path === '' ? '(root)' : p.path}: ${p.message}`).join('; ');
}

/** One problem per io-ts error, in the order io-ts found them. */
export function problemsFromErrors(errors: t.Errors): ConfigProblem[] {
  return errors.map((e) => {
    const path = e.context
      .map((entry) => entry.key)
      .filter((key) => key !== '')
      .join('.');
    const last = e.context[e.context.length - 1];
    const message =
      e.message ?? `${describeValue(e.value)} is not ${last === undefined ? 'valid' : describeCodec(last.type)}`;
    return { path, message };
  });
}

/**
 * Decodes `input` with `codec` or throws one ConfigError naming every bad path. For user
 * options at the API (`bind({ port })`) pass code 'ERR_INVALID_ARG_VALUE'.
 */
export function decodeOrThrow<A, O>(
  codec: t.Type<A, O, unknown>,
  input: unknown,
  subject: string,
  code: ConfigErrorCode = 'ERR_INVALID_ARG_VALUE',
): A {
  const result = codec.decode(input);
  if (isLeft(result)) throw new ConfigError(problemsFromErrors(result.left), subject, code);
  return result.right;
}
