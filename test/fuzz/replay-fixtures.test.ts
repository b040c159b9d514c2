/**
 * Every reproducer the fuzzer saved (test/fixtures/fuzz/*.pcap) is replayed into a fresh fuzzing
 * session, at the virtual times it was recorded with, while the live TCP and UDP transfer runs;
 * every invariant must hold (no exception, counters consistent, tables bounded, the transfer
 * byte-exact, every emitted segment valid).
 */
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { listFixtures, readFixture } from '../../fuzz/fixtures.js';
import { replay } from '../../fuzz/run-fuzz.js';

describe('fuzz reproducers (test/fixtures/fuzz)', function () {
  this.timeout(30_000);
  const fixtures = listFixtures();

  it('there are reproducers to replay', () => {
    assert.ok(fixtures.length > 0, 'test/fixtures/fuzz holds at least one reproducer');
  });

  for (const path of fixtures) {
    it(`${basename(path)}: every invariant holds`, async () => {
      const frames = readFixture(path);
      assert.ok(frames.length > 0);
      const failures = await replay(frames);
      assert.deepEqual(failures.map((f) => `[${f.invariant}] ${f.message}`), []);
    });
  }
});
