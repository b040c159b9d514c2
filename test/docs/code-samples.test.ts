/**
 * The ```ts code blocks of the user guides must work as a user would write them: each block
 * becomes a module of its own in a temporary project that imports `rx-netstack`,
 * `rx-netstack/core` and `rx-netstack/testing` (mapped to this tree's sources). They are
 * type-checked by the project's tsc under the project's strict options, then run by mocha (the
 * samples are mocha tests, or scripts that assert). Marks after the language:
 *
 * - ```ts norun: type-checked, not run (a sample that needs root or the network);
 * - ```ts fragment: a reference snippet that uses `stack`, `conn`, `link`... without making
 *   them: type-checked (never run) after FRAGMENT_PRELUDE, which imports the package and
 *   declares those names; such a block has no imports of its own;
 * - ```ts nocheck: neither (a block that cannot stand alone: keep those rare).
 *
 * A deliberately wrong block is checked alongside, so a checker that silently checks nothing
 * fails this test too.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = ['docs/testing.md', 'docs/core.md', 'docs/pipelines.md', 'docs/api.md', 'docs/arp-ipv4-icmp.md', 'README.md'];
/** Each doc needs this many samples at least (a guide is mostly samples; a reference has some). */
const MIN_SAMPLES: Readonly<Record<string, number>> = { 'docs/arp-ipv4-icmp.md': 1, 'README.md': 1 };

/** What a ```ts fragment block may use without making it. */
const FRAGMENT_PRELUDE = [
  "import * as http from 'node:http';",
  "import { EMPTY, catchError, filter, firstValueFrom, map, merge, mergeMap, switchMap, tap, type Observable, type SchedulerLike } from 'rxjs';",
  "import * as rx from 'rx-netstack';",
  "import { createStack, createMemoryWire, relayTo, shape, between, ipv4Addr, ipv4Matcher, type Link, type Stack, type StackHooks, type TcpConnection } from 'rx-netstack';",
  'declare const stack: Stack;',
  'declare const link: Link;',
  'declare const scheduler: SchedulerLike;',
  'declare const hooks: StackHooks;',
  'declare const a: TcpConnection, b: TcpConnection;',
  'declare function reply(payload: Uint8Array): Uint8Array;',
  'void http; void EMPTY; void catchError; void filter; void firstValueFrom; void map; void merge; void mergeMap; void switchMap; void tap;',
  'void rx; void createStack; void createMemoryWire; void relayTo; void shape; void between; void ipv4Addr; void ipv4Matcher;',
  'void stack; void link; void scheduler; void hooks; void a; void b; void reply;',
  'export type { Observable };',
].join('\n');
/** Bounded: tsc on the whole tree takes a few seconds, the samples' tests about as long. */
const TSC_TIMEOUT_MS = 120_000;
const RUN_TIMEOUT_MS = 120_000;

interface Sample {
  readonly doc: string;
  /** Line of the first code line in the doc (1-based). */
  readonly line: number;
  readonly code: string;
  readonly run: boolean;
  /** Checked after FRAGMENT_PRELUDE. */
  readonly fragment?: boolean;
}

/** The ```ts blocks of a Markdown text, without the ones marked nocheck. */
function extractSamples(doc: string, text: string): { samples: Sample[]; skipped: number } {
  const lines = text.split('\n');
  const samples: Sample[] = [];
  let skipped = 0;
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)\b(.*)$/.exec(lines[i]);
    if (open === null) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    const fragment = /\bfragment\b/.test(open[2]);
    if (/\bnocheck\b/.test(open[2])) skipped++;
    else {
      const sample: Sample = { doc, line: start + 1, code: lines.slice(start, end).join('\n'), run: !fragment && !/\bnorun\b/.test(open[2]) };
      samples.push(fragment ? { ...sample, fragment } : sample);
    }
    i = end;
  }
  return { samples, skipped };
}

function run(args: string[], cwd: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, output: stdout + stderr }),
    );
  });
}

/** `docs/<name>.md` sample n -> `docs-<name>-md-n.ts`. */
const fileOf = (s: Sample, n: number): string => `${s.doc.replace(/\W+/g, '-')}-${n}.ts`;

describe('docs: the TypeScript samples compile and run', function () {
  this.timeout(TSC_TIMEOUT_MS + RUN_TIMEOUT_MS);
  let dir = '';
  const samples: Array<Sample & { readonly file: string }> = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rx-netstack-doc-samples-'));
    for (const doc of DOCS) {
      const found = extractSamples(doc, readFileSync(join(ROOT, doc), 'utf8')).samples;
      const least = MIN_SAMPLES[doc] ?? 3;
      assert.ok(found.length >= least, `${doc}: expected at least ${least} ts samples, found ${found.length}`);
      found.forEach((s, n) => samples.push({ ...s, file: fileOf(s, n + 1) }));
    }
    // Each block is a module of its own (`export {}`), so blocks may reuse names.
    // A fragment's prelude goes on its first line, so tsc's line numbers still match the doc.
    for (const s of samples) writeFileSync(join(dir, s.file), `${s.fragment === true ? FRAGMENT_PRELUDE.replaceAll('\n', ' ') + ' ' : ''}${s.code}\nexport {};\n`);
    writeFileSync(join(dir, 'canary.ts'), "import { createStack } from 'rx-netstack';\nconst n: number = createStack;\nexport { n };\n");
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const base = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        ...base.compilerOptions,
        noEmit: true,
        // A sample may show a declaration or an import for the reader without using it.
        noUnusedLocals: false,
        noUnusedParameters: false,
        declaration: false,
        sourceMap: false,
        rootDir: undefined,
        outDir: undefined,
        // The package's entry points, as a user imports them (tsx reads these paths too).
        paths: {
          'rx-netstack': [join(ROOT, 'streams/index.ts')],
          'rx-netstack/core': [join(ROOT, 'src/index.ts')],
          'rx-netstack/testing': [join(ROOT, 'streams/testing/index.ts')],
        },
      },
      include: ['*.ts'],
    }));
  });

  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('extracts ```ts blocks with their first line; nocheck leaves one out, norun keeps it from running', () => {
    const md = ['# t', '```ts', 'const a = 1;', '```', '```ts nocheck', 'broken(', '```', '```ts norun', 'rootOnly();', '```', '```sh', 'ls', '```'];
    const { samples: found, skipped } = extractSamples('x.md', md.join('\n'));
    assert.deepEqual(found, [
      { doc: 'x.md', line: 3, code: 'const a = 1;', run: true },
      { doc: 'x.md', line: 9, code: 'rootOnly();', run: false },
    ]);
    assert.equal(skipped, 1);
  });

  it('every ```ts block of the guides, the API reference and the README type-checks', async () => {
    const { code, output } = await run([join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], ROOT, TSC_TIMEOUT_MS);
    assert.notEqual(code, null, `tsc did not finish within ${TSC_TIMEOUT_MS} ms`);
    const errors = output.split('\n').filter((l) => /error TS\d+/.test(l));
    assert.equal(errors.filter((l) => l.includes('canary.ts')).length, 1, `the wrong canary block must fail to compile; tsc said:\n${output}`);
    // Map "file.ts(12,5): error ..." back to the doc's line.
    const problems = errors.filter((l) => !l.includes('canary.ts')).map((l) => {
      const m = /([\w.-]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(l);
      const s = m === null ? undefined : samples.find((x) => x.file === m[1]);
      return s === undefined || m === null ? l : `${s.doc}:${s.line + Number(m[2]) - 1}:${s.fragment === true && m[2] === '1' ? '~' : m[3]}: ${m[4]}`;
    });
    assert.deepEqual(problems, [], `doc samples that do not compile:\n${problems.join('\n')}`);
  });

  it('every ```ts block not marked norun runs and passes (mocha, tsx)', async () => {
    const files = samples.filter((s) => s.run).map((s) => s.file);
    assert.ok(files.length >= 6, `expected runnable samples, found ${files.length}`);
    const mocha = join(ROOT, 'node_modules/mocha/bin/mocha.js');
    const { code, output } = await run(
      ['--import', 'tsx', mocha, '--no-config', '--reporter', 'dot', '--timeout', '20000', '--exit', ...files], dir, RUN_TIMEOUT_MS,
    );
    const where = samples.map((s) => `${s.file} = ${s.doc}:${s.line}`).join('\n');
    assert.equal(code, 0, `doc samples failed (exit ${code}):\n${output}\n${where}`);
    assert.match(output, /\d+ passing/);
    assert.doesNotMatch(output, /failing/);
  });
});
