/**
 * Mocha's configuration. A script (not JSON) so that CI runs are stricter: under CI (CI set and not
 * '', '0' or 'false', as test/helpers/netns.ts reads it) a `.only` or a pending test (`it.skip`,
 * `this.skip()`, an `it` without a body) fails the run instead of quietly narrowing it.
 *
 * No `exit: true`: the run ends when the event loop drains, and test/helpers/leak-check.ts fails
 * it when a test file leaves handles or timers behind (with a watchdog for a run that hangs).
 */
const ci = process.env.CI;
const underCi = ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';

module.exports = {
  'node-option': ['import=tsx'],
  spec: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
  require: ['test/helpers/leak-check.ts'],
  timeout: 20000,
  recursive: true,
  'forbid-only': underCi,
  'forbid-pending': underCi,
};
