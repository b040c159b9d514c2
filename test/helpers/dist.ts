/**
 * Tests of the compiled package (plain node, published declarations) need dist/ built from the
 * sources they exercise. `npm test` builds it before mocha; a test run alone builds it here when
 * any of `sources` is newer than its output.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** True when a source file (path from the repository root) has no compiled output or a newer one. */
export function distStale(sources: readonly string[]): boolean {
  return sources.some((src) => {
    const out = join(ROOT, 'dist', src.replace(/\.ts$/, '.js'));
    return !existsSync(out) || statSync(out).mtimeMs < statSync(join(ROOT, src)).mtimeMs;
  });
}

/** Builds dist/ when it is missing or older than `sources`; fails when that did not help. */
export function ensureDist(sources: readonly string[]): void {
  if (!distStale(sources)) return;
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
  } catch {
    // tsc still emits when some other file of the tree has a type error; the check below
    // decides whether what is needed was built.
  }
  assert.equal(distStale(sources), false, 'dist/ is missing or stale after `tsc -p tsconfig.build.json`');
}
