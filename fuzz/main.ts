/**
 * `npm run fuzz -- --frames N --seed S [--parsers M] [--reduce-budget-ms B]`
 *
 * Whole-stack fuzzing (see docs/reliability.md): N frames into a stack serving live
 * connections, invariants checked throughout; a failure is reduced to a minimal reproducer
 * written under test/fixtures/fuzz/. With `--parsers M`, also M inputs into each wire parser.
 * Exit status 0 only when every invariant held; the last line is the summary.
 */
import { parseArgs } from 'node:util';
import { runFuzz, replay } from './run-fuzz.js';
import { reduceFailure } from './reduce.js';
import { writeFixture } from './fixtures.js';
import { fuzzParsers } from './parsers.js';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    parsers: { type: 'string', default: '0' },
    'reduce-budget-ms': { type: 'string', default: '120000' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log('usage: npm run fuzz -- [--frames N] [--seed S] [--parsers M] [--reduce-budget-ms B]');
  process.exit(0);
}

const problems: string[] = [];
const frames = Number(values.frames);
const seed = Number(values.seed);
const parsers = Number(values.parsers);
const budget = Number(values['reduce-budget-ms']);
if (!Number.isInteger(frames) || frames < 0) problems.push(`--frames: ${values.frames} is not an integer >= 0`);
if (!Number.isInteger(seed)) problems.push(`--seed: ${values.seed} is not an integer`);
if (!Number.isInteger(parsers) || parsers < 0) problems.push(`--parsers: ${values.parsers} is not an integer >= 0`);
if (!(budget >= 0)) problems.push(`--reduce-budget-ms: ${values['reduce-budget-ms']} is not a number >= 0`);
if (problems.length > 0) {
  console.error(`fuzz: ${problems.join('; ')}`);
  process.exit(2);
}

const log = (line: string) => console.log(line);
let failures = 0;
let parserInputs = 0;
let parserSeconds = 0;

if (parsers > 0) {
  log(`parsers: ${parsers} inputs each, seed ${seed}`);
  const r = fuzzParsers({ inputs: parsers, seed, log });
  failures += r.failures.length;
  parserInputs = r.inputs;
  parserSeconds = r.elapsedMs / 1000;
  for (const f of r.failures.slice(0, 10)) log(`  FAIL ${f}`);
}

let stackFrames = 0;
let stackSeconds = 0;
if (frames > 0) {
  log(`stack: ${frames} frames, seed ${seed}`);
  const r = await runFuzz({ frames, seed, log });
  stackFrames = r.frames;
  stackSeconds = r.elapsedMs / 1000;
  log(`  by kind: ${Object.entries(r.byKind).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  log(`  by protocol: ${Object.entries(r.byProtocol).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
  log(`  live transfer: ${r.liveBytes} bytes echoed byte-exact over ${(r.virtualMs / 1000).toFixed(1)} s of virtual time; ${r.segmentsChecked} emitted TCP segments checked`);
  failures += r.failures.length;
  for (const f of r.failures.slice(0, 10)) log(`  FAIL [${f.invariant}] after frame ${f.afterFrame}: ${f.message}`);
  const first = r.failures[0];
  if (first !== undefined) {
    // The shortest tail of the run that fails the same way, doubling from 1,000 frames.
    let tail: typeof r.recent | undefined;
    for (let n = 1000; tail === undefined; n *= 2) {
      const candidate = r.recent.slice(-n);
      log(`reproducing with the last ${candidate.length} frames...`);
      const again = await replay(candidate);
      if (again.some((f) => f.invariant === first.invariant)) tail = candidate;
      else if (candidate.length === r.recent.length) break;
    }
    if (tail !== undefined) {
      const reduced = await reduceFailure(tail, { invariant: first.invariant, budgetMs: budget, log });
      const path = writeFixture(`${first.invariant}-seed${seed}`, reduced);
      log(`  reproducer: ${path}`);
    } else {
      log('  the last frames alone do not reproduce it (the state that led there is older): no reproducer written');
    }
  }
}

const seconds = stackSeconds + parserSeconds;
const rate = stackSeconds > 0 ? Math.round(stackFrames / stackSeconds) : 0;
const parserRate = parserSeconds > 0 ? Math.round(parserInputs / parserSeconds) : 0;
console.log(
  `fuzz: seed ${seed}, ${stackFrames} frames in ${stackSeconds.toFixed(1)} s (${rate} frames/s)` +
    (parsers > 0 ? `, ${parserInputs} parser inputs (${parserRate}/s)` : '') +
    `, ${seconds.toFixed(1)} s, ${failures} failures`,
);
process.exitCode = failures === 0 ? 0 : 1;
