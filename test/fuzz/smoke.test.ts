/**
 * The fuzzer's smoke run: 10,000 frames with a fixed seed into a stack serving a live TCP and
 * UDP transfer (the same run as `npm run fuzz -- --frames 10000 --seed 12`), and a short
 * per-parser run. A failure here names the invariant; run the command above to get a reduced
 * reproducer under test/fixtures/fuzz/.
 */
import assert from 'node:assert/strict';
import { runFuzz } from '../../fuzz/run-fuzz.js';
import { fuzzParsers } from '../../fuzz/parsers.js';
import { FuzzSession } from '../../fuzz/session.js';

describe('fuzz: smoke run', function () {
  this.timeout(60_000);

  it('10,000 frames (seed 12): every invariant holds while the live transfer runs', async () => {
    const r = await runFuzz({ frames: 10_000, seed: 12 });
    assert.deepEqual(r.failures.map((f) => `[${f.invariant}] after frame ${f.afterFrame}: ${f.message}`), []);
    assert.equal(r.frames, 10_000);
    // The run did reach the depths it claims to: every kind of frame, a transfer, checked segments.
    for (const kind of ['arp', 'icmp', 'udp', 'tcp', 'tcp-session', 'ipv4', 'ethernet', 'nearly-valid', 'mutated', 'fragment-storm']) {
      assert.ok((r.byKind[kind] ?? 0) > 0, `frames of kind ${kind} were generated`);
    }
    assert.ok(r.liveBytes > 100_000, `the live transfer moved (${r.liveBytes} bytes)`);
    assert.ok(r.segmentsChecked > 100, `emitted segments were checked (${r.segmentsChecked})`);
  });

  it('every parser, 20,000 inputs each: no throw, a reason for each rejection, views inside the input', () => {
    const r = fuzzParsers({ inputs: 20_000, seed: 12 });
    assert.deepEqual(r.failures, []);
    assert.equal(Object.keys(r.perParser).length, 7);
  });

  it('the checks do catch a broken invariant (a frame counted nowhere)', async () => {
    const session = new FuzzSession();
    try {
      // Tamper with a counter as a bug would: one frame more accepted than the link delivered.
      const eth = session.a.layers.interfaces[0].ethernet!.counters;
      eth.rxFrames++;
      session.check();
      assert.ok(session.failures.some((f) => f.invariant === 'counters'), 'the counter check fails');
    } finally {
      session.close();
    }
  });
});
