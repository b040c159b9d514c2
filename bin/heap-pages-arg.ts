/**
 * `--heap-pages packed|huge|off` of `serve` and `nat`: where V8 maps the JavaScript heap's pages
 * (streams/links/heap-pages.ts), set as the command starts, before the stack is built.
 */
import { HEAP_PAGES_MODES, setHeapPages, type HeapPagesMode } from '../streams/links/heap-pages.js';

/**
 * What `serve` and `nat` set without `--heap-pages`: measured in session 17
 * (docs/history/session-17.md "Session 17: the V8 heap on few 2 MiB regions").
 */
export const HEAP_PAGES_DEFAULT: HeapPagesMode = 'packed';

/** The value of `--heap-pages` (undefined when absent), or a problem naming the option. */
export function parseHeapPages(text: string | undefined, problems: string[]): HeapPagesMode | undefined {
  if (text === undefined) return undefined;
  const mode = HEAP_PAGES_MODES.find((m) => m === text);
  if (mode === undefined) problems.push(`--heap-pages: "${text}" is not one of ${HEAP_PAGES_MODES.join(', ')}`);
  return mode;
}

/**
 * Applies `mode` (the default when undefined); a line for stderr when it could not be (the
 * command runs on with V8's own placement), else undefined.
 */
export function applyHeapPages(mode: HeapPagesMode | undefined): string | undefined {
  const want = mode ?? HEAP_PAGES_DEFAULT;
  if (want === 'off') return undefined;
  const stats = setHeapPages(want);
  return stats.installed ? undefined : `--heap-pages ${want} not applied (${stats.reason}); V8 places its heap pages itself`;
}
