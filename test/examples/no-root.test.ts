/**
 * The TAP examples run by a user who is not root: one line on stderr saying what they need,
 * exit 1, no stack trace. When the tests run as root, the examples run as uid 65534.
 */
import assert from 'node:assert/strict';
import { runExample } from './run-example.js';

const NOBODY = 65534;
const asUser = process.getuid?.() === 0 ? { uid: NOBODY } : {};

const TAP_EXAMPLES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['examples/echo-server.ts', ['--tap', 'rxtap0']],
  ['examples/http-server.ts', ['--tap', 'rxtap0']],
  ['examples/tcp-client.ts', ['--tap', 'rxtap0', '--to', '198.18.0.1:5000']],
];

describe('TAP examples without root', () => {
  for (const [file, args] of TAP_EXAMPLES) {
    it(`${file}: one line saying it needs root, exit 1`, async () => {
      const end = await runExample(file, args, 20_000, asUser);
      assert.equal(end.code, 1, `exit ${end.code ?? end.signal}: ${end.stderr}`);
      assert.equal(end.stdout, '');
      const lines = end.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, end.stderr);
      assert.match(lines[0], /needs root for its TAP device: run it with sudo or as root \(examples\/memory-pair\.ts needs none\)$/);
    });
  }
});
