/**
 * Every citation of the docs in the repository's sources and docs must point at something that
 * is there, so that moving a section (docs/benchmarks.md's history went to docs/history/ in
 * session 17) cannot leave comments pointing nowhere. One form for all of them:
 *
 *   docs/<path>.md "<heading>"
 *
 * the path from the repository's root, one space, then a heading of that file in double quotes:
 * the whole heading or its start, whole words, naming one heading only (a citation may wrap
 * across comment lines: `*`, `//` and `#` leaders are dropped first). `docs/<path>.md#anchor`
 * and the relative Markdown links of the docs (`[text](file.md#anchor)`) are checked against
 * the anchors GitHub makes from the headings. A bare `docs/<path>.md` must name a file that
 * exists. Refused as not uniform: a comma between the path and the quoted heading, and an
 * unquoted "session N" or "section" after the path.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Where citations live: sources, tools, tests and docs. */
const TOP = [
  'README.md', 'package.json', 'tsconfig.json', 'tsconfig.build.json', 'binding.gyp', '.mocharc.cjs',
  'docs', 'src', 'streams', 'native', 'bin', 'bench', 'test', 'examples', 'scripts', 'fuzz', '.ci',
];
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build', 'results', '.git']);
const EXTS = new Set(['.ts', '.mts', '.js', '.mjs', '.cjs', '.c', '.h', '.md', '.sh', '.py', '.gyp']);
/** This file's own examples are deliberately wrong. */
const SELF = 'test/docs/citations.test.ts';

interface Source {
  /** From the repository's root, with `/`. */
  readonly path: string;
  readonly text: string;
}

interface Heading {
  readonly text: string;
  readonly anchor: string;
}

/** GitHub's anchor of a heading: the rendered text, lower case, punctuation dropped, spaces to `-`. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The text with fenced code blocks blanked (their lines kept, so line numbers still count). */
function withoutFences(markdown: string): string {
  let fenced = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        fenced = !fenced;
        return '';
      }
      return fenced ? '' : line;
    })
    .join('\n');
}

function headingsOf(markdown: string): Heading[] {
  const seen = new Map<string, number>();
  const out: Heading[] = [];
  for (const line of withoutFences(markdown).split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (m === null) continue;
    const text = m[1]!;
    const base = slug(text);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.push({ text: plain(text), anchor: n === 0 ? base : `${base}-${n}` });
  }
  return out;
}

/** A heading or a quoted citation as compared: no code or emphasis marks, single spaces. */
function plain(text: string): string {
  return text.replace(/[`*]/g, '').replace(/\s+/g, ' ').trim();
}

/**
 * The text as one line with each line's comment leader dropped, and where each line starts in it
 * (for the line numbers of the problems).
 */
function flatten(source: Source): { readonly flat: string; readonly starts: number[] } {
  const markdown = source.path.endsWith('.md');
  const lines = (markdown ? withoutFences(source.text) : source.text).split('\n');
  const starts: number[] = [];
  let flat = '';
  for (const line of lines) {
    starts.push(flat.length);
    const body = markdown ? line.trim() : line.replace(/^\s*(?:\/\/+|\/?\*+(?!\/)|#+(?=\s|$))?\s*/, '').trimEnd();
    flat += `${body} `;
  }
  return { flat, starts };
}

function lineAt(starts: readonly number[], offset: number): number {
  let line = 0;
  while (line + 1 < starts.length && starts[line + 1]! <= offset) line++;
  return line + 1;
}

/** What one cited heading names: a problem, or undefined when it names exactly one heading. */
function headingProblem(headings: readonly Heading[], cited: string): string | undefined {
  const q = plain(cited);
  if (headings.some((h) => h.text === q)) return undefined;
  const starts = headings.filter((h) => h.text.startsWith(q) && !/[\p{L}\p{N}_]/u.test(h.text.charAt(q.length)));
  if (starts.length === 1) return undefined;
  if (starts.length === 0) return 'no such heading';
  return `names ${starts.length} headings (${starts.map((h) => `"${h.text}"`).join(', ')})`;
}

/**
 * The problems of every citation in `sources`; `readDoc` gives a cited file's text (undefined
 * when there is none) and `exists` whether a linked path of another kind is there.
 */
function check(
  sources: readonly Source[],
  readDoc: (path: string) => string | undefined,
  exists: (path: string) => boolean,
): { readonly problems: string[]; readonly citations: number } {
  const problems: string[] = [];
  const headingCache = new Map<string, Heading[] | undefined>();
  const headings = (path: string): Heading[] | undefined => {
    if (!headingCache.has(path)) {
      const text = readDoc(path);
      headingCache.set(path, text === undefined ? undefined : headingsOf(text));
    }
    return headingCache.get(path);
  };
  let citations = 0;
  for (const source of sources) {
    const { flat, starts } = flatten(source);
    const where = (offset: number): string => `${source.path}:${lineAt(starts, offset)}`;
    const cite = /(?<![\w./-])(docs\/(?:[\w.-]+\/)*[\w.-]+\.md)(#[\w-]+)?(,?)( {1,3}"([^"]*)"|,? +(?:[Ss]ession \d|[Ss]ection\b))?/g;
    for (const m of flat.matchAll(cite)) {
      citations++;
      const [, path, anchor, comma, tail, quoted] = m;
      const at = where(m.index);
      const hs = headings(path!);
      if (hs === undefined) {
        problems.push(`${at}: ${path} does not exist`);
        continue;
      }
      if (anchor !== undefined && !hs.some((h) => `#${h.anchor}` === anchor)) {
        problems.push(`${at}: ${path}${anchor}: no such anchor`);
      }
      if (tail === undefined) continue;
      if (quoted === undefined) {
        problems.push(`${at}: ${path} cited by "${tail.trim()}...": quote the heading (docs/<path>.md "<heading>")`);
        continue;
      }
      if (comma === ',') {
        problems.push(`${at}: ${path}, "${quoted}": no comma between the path and the heading`);
      }
      const problem = headingProblem(hs, quoted);
      if (problem !== undefined) problems.push(`${at}: ${path} "${quoted}": ${problem}`);
    }
    if (!source.path.endsWith('.md')) continue;
    const lines = withoutFences(source.text).split('\n');
    lines.forEach((line, i) => {
      for (const m of line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        citations++;
        const at = `${source.path}:${i + 1}`;
        const hash = target.indexOf('#');
        const file = hash < 0 ? target : target.slice(0, hash);
        const anchor = hash < 0 ? undefined : target.slice(hash + 1);
        const path = file === '' ? source.path : normalize(join(dirname(source.path), file)).replace(/\\/g, '/');
        if (path.startsWith('..')) {
          problems.push(`${at}: ${target} leaves the repository`);
          continue;
        }
        if (!path.endsWith('.md')) {
          if (!exists(path)) problems.push(`${at}: ${target} does not exist`);
          continue;
        }
        const hs = headings(path);
        if (hs === undefined) problems.push(`${at}: ${target} does not exist`);
        else if (anchor !== undefined && !hs.some((h) => h.anchor === anchor)) {
          problems.push(`${at}: ${target}: no such anchor`);
        }
      }
    });
  }
  return { problems, citations };
}

function repositorySources(): Source[] {
  const out: Source[] = [];
  const walk = (rel: string): void => {
    const abs = join(ROOT, rel);
    if (!existsSync(abs)) return;
    if (statSync(abs).isFile()) {
      out.push({ path: rel, text: readFileSync(abs, 'utf8') });
      return;
    }
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name)) walk(child);
      } else if (entry.isFile() && EXTS.has(extname(entry.name)) && child !== SELF) {
        out.push({ path: child, text: readFileSync(join(ROOT, child), 'utf8') });
      }
    }
  };
  for (const top of TOP) walk(top);
  return out;
}

const fromRoot = (path: string): string | undefined => {
  const abs = join(ROOT, path);
  return relative(ROOT, abs).startsWith('..') || !existsSync(abs) ? undefined : readFileSync(abs, 'utf8');
};

describe('citations of the docs', () => {
  it('every cited file, heading and anchor exists, in the one citation form', () => {
    const sources = repositorySources();
    assert.ok(sources.some((s) => s.path === 'docs/benchmarks.md'), 'the scan found the docs');
    const { problems, citations } = check(sources, fromRoot, (p) => existsSync(join(ROOT, p)));
    assert.deepEqual(problems, []);
    // The session-17 move left about 40 citations in sources and several hundred links in docs.
    assert.ok(citations > 200, `only ${citations} citations found: is the scan looking anywhere?`);
  });

  it('finds each kind of broken citation (the checker checks)', () => {
    const docs: Record<string, string> = {
      'docs/a.md': [
        '# A',
        '## Session 1: the thing (issue 2)',
        '## Session 1: the other thing',
        '```',
        '## Not a heading: in a code block',
        '```',
        '## Other',
        '## Other',
      ].join('\n'),
    };
    const sources: Source[] = [
      {
        path: 'src/x.ts',
        text: [
          '/**',
          ' * Fine: docs/a.md "Session 1: the thing", docs/a.md "Other", docs/a.md, docs/a.md#other-1,',
          ' * and one that wraps: docs/a.md "Session 1: the',
          ' * other thing".',
          ' * Broken: docs/a.md "Session 1: the missing thing".',
          ' */',
          '// docs/b.md "Anything"',
          '// docs/a.md, "Other"',
          '// docs/a.md, session 1',
          '// docs/a.md "Session 1: the"',
          '// docs/a.md "Session 1: the thi"',
          '// docs/a.md "Not a heading"',
          '// docs/a.md#other-2',
        ].join('\n'),
      },
      {
        path: 'docs/c.md',
        text: ['# C', '[fine](a.md#session-1-the-thing-issue-2), [fine](#c), [gone](a.md#nothing), [gone](d.md), [here](../src/x.ts)', '[away](../../etc/passwd)'].join('\n'),
      },
    ];
    const { problems } = check(sources, (p) => docs[p] ?? (p === 'docs/c.md' ? sources[1]!.text : undefined), (p) => p === 'src/x.ts');
    assert.deepEqual(problems, [
      'src/x.ts:5: docs/a.md "Session 1: the missing thing": no such heading',
      'src/x.ts:7: docs/b.md does not exist',
      'src/x.ts:8: docs/a.md, "Other": no comma between the path and the heading',
      'src/x.ts:9: docs/a.md cited by "session 1...": quote the heading (docs/<path>.md "<heading>")',
      'src/x.ts:10: docs/a.md "Session 1: the": names 2 headings ("Session 1: the thing (issue 2)", "Session 1: the other thing")',
      'src/x.ts:11: docs/a.md "Session 1: the thi": no such heading',
      'src/x.ts:12: docs/a.md "Not a heading": no such heading',
      'src/x.ts:13: docs/a.md#other-2: no such anchor',
      'docs/c.md:2: a.md#nothing: no such anchor',
      'docs/c.md:2: d.md does not exist',
      'docs/c.md:3: ../../etc/passwd leaves the repository',
    ]);
  });
});
