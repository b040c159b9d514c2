/**
 * Where V8 maps its heap pages (native/heap-pages.c, streams/links/heap-pages.ts). Each case runs
 * in a child process of its own (the redirection is process-wide, and what it changes is where
 * the child's later pages land): the child sets a mode, allocates about 50 MiB of small objects
 * (V8 maps a few hundred 256 KiB pages for them), and reports its mappings and the counters.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { heapPages, setHeapPages, type HeapPagesMode, type HeapPagesStats } from '../../../streams/links/heap-pages.js';

const ADDON = fileURLToPath(new URL('../../../build/Release/rx_tap.node', import.meta.url));

interface ChildReport {
  /** Anonymous mappings of exactly 256 KiB: a V8 heap page alone, nothing next to it. */
  readonly lonePages: number;
  readonly mappings: number;
  /** The node binary's mappings that are writable (its RELRO part, with the imports, is not). */
  readonly writableBinary: number;
  readonly stats: HeapPagesStats | undefined;
  readonly statsAfterOff?: HeapPagesStats;
}

const CHILD = `
const { readFileSync, realpathSync } = require('node:fs');
const addon = require(process.env.ADDON);
const mode = process.env.MODE;
const exe = realpathSync(process.execPath);
const maps = () => readFileSync('/proc/self/maps', 'utf8').split('\\n').filter(Boolean).map((l) => l.split(/\\s+/));
const writableBinary = () => maps().filter((f) => f[5] === exe && f[1].startsWith('rw')).length;
const binaryBefore = writableBinary();
const stats = mode === 'none' ? undefined : addon.setHeapPages(mode);
const keep = [];
for (let i = 0; i < 400000; i++) keep.push({ i, s: 'x' + i });
const m = maps();
const lonePages = m.filter((f) => !f[5] && parseInt(f[0].split('-')[1], 16) - parseInt(f[0].split('-')[0], 16) === 262144).length;
const report = { lonePages, mappings: m.length, writableBinary: writableBinary() - binaryBefore, stats: mode === 'none' ? undefined : addon.heapPages() };
if (process.env.THEN_OFF) {
  addon.setHeapPages('off');
  const before = addon.heapPages().redirected;
  for (let i = 0; i < 200000; i++) keep.push({ i, s: 'y' + i });
  report.statsAfterOff = { ...addon.heapPages(), redirectedSince: addon.heapPages().redirected - before };
}
process.stdout.write(JSON.stringify(report));
`;

function child(mode: HeapPagesMode | 'none', thenOff = false): ChildReport {
  const out = execFileSync(process.execPath, ['-e', CHILD], {
    env: { ...process.env, ADDON, MODE: mode, ...(thenOff ? { THEN_OFF: '1' } : {}) },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return JSON.parse(out) as ChildReport;
}

describe('streams/links/heap-pages: V8\'s heap pages packed', function () {
  this.timeout(60_000);
  let none: ChildReport;
  before(() => {
    none = child('none');
  });

  it('without it, V8 maps its pages one by one at random addresses (the premise: Node without pointer compression)', () => {
    assert.ok(none.lonePages >= 60, `lone 256 KiB pages: ${none.lonePages}`);
  });

  it('packed: the imports are redirected, the pages mapped from then on lie next to each other (a few lone ones are left from before), the binary\'s imports read-only again', () => {
    const r = child('packed');
    assert.equal(r.stats?.mode, 'packed');
    assert.equal(r.stats?.installed, true, r.stats?.reason);
    assert.ok(r.stats!.imports >= 1);
    assert.equal(r.stats!.reason, '');
    assert.ok(r.stats!.redirected >= 100, `redirected ${r.stats!.redirected}`);
    assert.equal(r.stats!.advisedBytes, 0);
    assert.ok(r.lonePages * 4 < none.lonePages, `lone pages ${r.lonePages} against ${none.lonePages}`);
    assert.ok(r.mappings < none.mappings - 50, `mappings ${r.mappings} against ${none.mappings}`);
    assert.equal(r.writableBinary, 0, 'no page of the binary left writable');
  });

  it('huge: packed, and the mappings advised MADV_HUGEPAGE (counted)', () => {
    const r = child('huge');
    assert.equal(r.stats?.mode, 'huge');
    assert.equal(r.stats?.installed, true, r.stats?.reason);
    assert.ok(r.lonePages * 4 < none.lonePages);
    // 256 KiB pages asked for with room to align them: at least the page itself each.
    assert.ok(r.stats!.advisedBytes >= r.stats!.redirected * 262144, `advised ${r.stats!.advisedBytes} for ${r.stats!.redirected}`);
  });

  it('off puts the imports back: later pages are no longer redirected; the counters stay', () => {
    const r = child('packed', true);
    const after = r.statsAfterOff as HeapPagesStats & { redirectedSince: number };
    assert.equal(after.mode, 'off');
    assert.equal(after.installed, false);
    assert.equal(after.imports, 0);
    assert.equal(after.redirectedSince, 0);
    assert.equal(after.redirected, r.stats!.redirected);
  });

  it('bad modes throw with Node-style codes and change nothing', () => {
    const before = heapPages();
    assert.throws(() => setHeapPages('large' as HeapPagesMode), { code: 'ERR_INVALID_ARG_VALUE', name: 'TypeError' });
    assert.throws(() => setHeapPages(2 as unknown as HeapPagesMode), { code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' });
    assert.throws(() => setHeapPages(undefined as unknown as HeapPagesMode), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.deepEqual(heapPages(), before);
  });

  it('the addon checks too (a caller past the wrapper)', () => {
    const r = execFileSync(process.execPath, ['-e', `
const a = require(process.env.ADDON);
const codes = [];
for (const bad of ['Packed', 'packed ', '', 1, null]) { try { a.setHeapPages(bad); codes.push('none'); } catch (e) { codes.push(e.code); } }
try { a.setHeapPages(); } catch (e) { codes.push(e.code); }
codes.push(a.heapPages().mode, String(a.heapPages().installed));
process.stdout.write(codes.join(','));
`], { env: { ...process.env, ADDON }, encoding: 'utf8' });
    assert.equal(r, 'ERR_INVALID_ARG_VALUE,ERR_INVALID_ARG_VALUE,ERR_INVALID_ARG_VALUE,ERR_INVALID_ARG_TYPE,ERR_INVALID_ARG_TYPE,ERR_INVALID_ARG_TYPE,off,false');
  });
});
