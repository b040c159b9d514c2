/**
 * Compiles the kernel-side client and server (C, standard library and Linux headers only) at
 * bench time into a cache directory under the OS temp dir, keyed by a hash of the sources: no
 * binary is ever written into the repository.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './netns.js';

export interface KernelTools {
  readonly client: string;
  readonly server: string;
  /** tap-floor.c: the least a user-space responder on a TAP device can do. */
  readonly floor: string;
  /** tap-ladder.c: tap-floor with one of a Node process's traits added (wake-ladder.ts). */
  readonly ladder: string;
  /** mlock-preload.c: a shared object that, preloaded (LD_PRELOAD), calls mlockall at start. */
  readonly mlockPreload: string;
}

const SOURCES = ['kclient.c', 'kserver.c', 'tap-floor.c', 'tap-turn.h', 'tap-ladder.c', 'mlock-preload.c'] as const;

/** Builds (or reuses) the binaries; throws with the compiler's message when it cannot. */
export async function buildKernelTools(): Promise<KernelTools> {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  const hash = createHash('sha256');
  for (const s of SOURCES) hash.update(readFileSync(join(dir, s)));
  const out = join(tmpdir(), `rx-netstack-bench-${hash.digest('hex').slice(0, 12)}`);
  mkdirSync(out, { recursive: true });
  const tools: KernelTools = {
    client: join(out, 'kclient'),
    server: join(out, 'kserver'),
    floor: join(out, 'tap-floor'),
    ladder: join(out, 'tap-ladder'),
    mlockPreload: join(out, 'mlock-preload.so'),
  };
  // tap-ladder links the system's libuv (its headers are Node's: the libuv API is stable within 1.x).
  const builds: [string, string, string[]][] = [
    ['kclient.c', tools.client, []],
    ['kserver.c', tools.server, []],
    ['tap-floor.c', tools.floor, []],
    ['tap-ladder.c', tools.ladder, ['-I/usr/include/node', '-l:libuv.so.1', '-lpthread']],
    ['mlock-preload.c', tools.mlockPreload, ['-shared', '-fPIC', '-lpthread']],
  ];
  for (const [source, binary, flags] of builds) {
    if (existsSync(binary)) continue;
    // Build beside and rename: a concurrent run never sees a half-written binary.
    const partial = `${binary}.${process.pid}.tmp`;
    const r = await run('cc', ['-O2', '-Wall', '-o', partial, join(dir, source), ...flags], 60_000);
    if (r.code !== 0) throw new Error(`cc ${source} failed: ${r.stderr.trim()}`);
    renameSync(partial, binary);
  }
  return tools;
}
