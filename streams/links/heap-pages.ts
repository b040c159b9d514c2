/**
 * Where V8 maps its heap pages (native/heap-pages.c). Node built without pointer compression, as
 * Node 20 on Linux x64 is, maps each 256 KiB page of the JavaScript heap at a random address, so
 * every page is a 2 MiB region of the address space of its own (a page-table page each). After a
 * system call empties the TLB (PTI without PCID), or after a shadow-paging hypervisor reclaims,
 * each such region costs a walk or a rebuild of its own. `setHeapPages('packed')` has the pages
 * mapped from then on placed next to each other; docs/architecture.md "The V8 heap's pages".
 */
import { loadTapAddon } from './tap-native.js';

/**
 * - `packed`: small anonymous mappings that V8 asks for at a hint address (its heap pages,
 *   large objects up to 32 MiB) are placed where the kernel puts mappings without one: top-down,
 *   next to the previous ones.
 * - `huge`: packed, and each such mapping advised MADV_HUGEPAGE (with THP in `madvise` mode, a
 *   2 MiB range that lies wholly in one advised mapping may be backed by one huge page: fewer
 *   TLB entries, up to 2 MiB resident where V8 used less).
 * - `off`: V8's own placement (the original imports put back).
 */
export type HeapPagesMode = 'packed' | 'huge' | 'off';

export const HEAP_PAGES_MODES: readonly HeapPagesMode[] = ['packed', 'huge', 'off'];

/** What the redirection did, process-wide (every thread's and worker's V8 heap). */
export interface HeapPagesStats {
  readonly mode: HeapPagesMode;
  /** The imports are redirected. */
  readonly installed: boolean;
  /** How many import slots were redirected (mmap, mmap64). */
  readonly imports: number;
  /** Why a requested mode was not installed ('' when it was, or none was requested). */
  readonly reason: string;
  /** Mappings placed without their hint since the first install. */
  readonly redirected: number;
  /** Bytes advised MADV_HUGEPAGE (`huge`). */
  readonly advisedBytes: number;
  /** madvise calls the kernel refused (THP off, or an old kernel). */
  readonly adviseFailed: number;
}

/**
 * Sets where V8's heap pages are mapped from now on, for the whole process. Pages already
 * mapped stay where they are: call it early (before the stack is built). When the object that
 * holds V8 or its mmap import is not found (another libc, a static build), nothing changes and
 * the returned `reason` says why; `mode` is then 'off'.
 *
 * @throws {TypeError} ERR_INVALID_ARG_TYPE when `mode` is not a string, ERR_INVALID_ARG_VALUE
 *   when it is not one of 'packed', 'huge', 'off'.
 * @throws {NetstackError} ENOENT when the addon is not built.
 */
export function setHeapPages(mode: HeapPagesMode): HeapPagesStats {
  if (typeof mode !== 'string') {
    throw Object.assign(new TypeError(`The "mode" argument must be one of ${HEAP_PAGES_MODES.join(', ')}; received ${typeof mode}`), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
  }
  if (!HEAP_PAGES_MODES.includes(mode)) {
    throw Object.assign(new TypeError(`The "mode" argument must be one of ${HEAP_PAGES_MODES.join(', ')}; received '${mode}'`), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  return loadTapAddon().setHeapPages(mode);
}

/** The counters of `setHeapPages`. @throws {NetstackError} ENOENT when the addon is not built. */
export function heapPages(): HeapPagesStats {
  return loadTapAddon().heapPages();
}
