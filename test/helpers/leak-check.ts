/**
 * Mocha root hooks (loaded by .mocharc.cjs) that make a test which leaves something running fail
 * the run, instead of hiding behind `--exit` or hanging CI.
 *
 * - Between test files: whatever keeps the event loop alive (handles, timers, immediates) that was
 *   not there when the run began, other than stdio, and was there when the file's last test
 *   ended, is recorded against that file (after a short grace period for closes already under
 *   way). Not what the next file's `before` hooks started meanwhile: they run before the root
 *   beforeEach that notices the new file.
 * - After the last test: the same check, then the run FAILS listing every file and what it left.
 * - Watchdogs (unref'd, so they never keep the process alive themselves): a run that lasts longer
 *   than RX_NETSTACK_TEST_WATCHDOG_MINUTES (default 15), or a process still alive 10 s after the
 *   last test (something left keeps the loop alive), prints what is active and exits with status 1.
 *
 * Timers and immediates are only counted by Node; to see where leftovers were created, run with
 * RX_NETSTACK_LEAK_TRACE=1 (records the creation stack of every handle and timer; slow).
 */
import { createHook } from 'node:async_hooks';
import type { RootHookObject } from 'mocha';

/** Time given to closes already under way (a socket's close callback, a child being reaped). */
const GRACE_MS = 1000;
/** How long the process may stay alive after the last test. */
const DRAIN_MS = 10_000;
const RUN_MINUTES = Number(process.env.RX_NETSTACK_TEST_WATCHDOG_MINUTES ?? 15);

const stdio = (): unknown[] => [process.stdin, process.stdout, process.stderr];

// Node-internal, stable for years, and the only way to see *which* handles are active.
const activeHandles = (): unknown[] => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();

/** Resource types (as `process.getActiveResourcesInfo()` names them), stdio removed, counted. */
function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  const handles = activeHandles();
  for (const stream of stdio()) {
    if (!handles.includes(stream)) continue;
    // A stdio stream is a pipe, a TTY or a file: take one of those off the count.
    for (const type of ['PipeWrap', 'TTYWrap', 'FSEventWrap', 'FileHandle']) {
      const n = counts.get(type) ?? 0;
      if (n > 0) {
        counts.set(type, n - 1);
        break;
      }
    }
  }
  return counts;
}

function describeHandle(h: unknown): string {
  const any = h as Record<string, unknown> & { constructor: { name: string } };
  const call = (name: string): unknown => {
    try {
      return typeof any[name] === 'function' ? (any[name] as () => unknown).call(h) : undefined;
    } catch {
      return undefined;
    }
  };
  const name = any.constructor?.name ?? typeof h;
  if (typeof any.pid === 'number' && Array.isArray(any.spawnargs)) {
    return `child process ${any.pid} (${(any.spawnargs as string[]).join(' ').slice(0, 120)})`;
  }
  if (typeof any.type === 'string' && /^udp[46]$/.test(any.type)) {
    const a = call('address') as { address: string; port: number } | undefined;
    return `UDP socket${a ? ` bound to ${a.address}:${a.port}` : ''}`;
  }
  if (name === 'Server') {
    const a = call('address');
    return `server listening on ${typeof a === 'string' ? a : JSON.stringify(a)}`;
  }
  if (name === 'Socket' || name === 'TLSSocket') {
    if (typeof any.remotePort === 'number') {
      return `TCP socket ${String(any.localAddress)}:${String(any.localPort)} -> ${String(any.remoteAddress)}:${any.remotePort}`;
    }
    return `${name} (a pipe: a child's stdio or a Unix socket)`;
  }
  return name;
}

/** Creation stacks by async id, kept only with RX_NETSTACK_LEAK_TRACE=1. */
const traced = new Map<number, { type: string; stack: string; resource: object }>();
if (process.env.RX_NETSTACK_LEAK_TRACE === '1') {
  createHook({
    init(asyncId, type, _trigger, resource) {
      if (type === 'PROMISE' || type === 'TickObject' || type.endsWith('REQUEST') || /^(FSREQ|FILEHANDLE|DIRHANDLE)/.test(type)) return;
      // Only frames of our code: the test or the library that made the resource.
      const frames = (new Error().stack ?? '')
        .split('\n')
        .slice(1)
        .filter((f) => !/\(node:|at node:|node_modules|leak-check\.ts/.test(f));
      if (frames.length === 0) return;
      traced.set(asyncId, { type, stack: frames.slice(0, 8).join('\n'), resource });
    },
    destroy(asyncId) {
      traced.delete(asyncId);
    },
  }).enable();
}

function tracedStillActive(): string[] {
  const out: string[] = [];
  for (const { type, stack, resource } of traced.values()) {
    const r = resource as { hasRef?: () => boolean; _destroyed?: boolean };
    if (r._destroyed === true) continue;
    if (typeof r.hasRef === 'function' && !r.hasRef()) continue;
    out.push(`${type} created\n${stack}`);
  }
  return out;
}

/** What was active when the run began, and the same plus leftovers already reported. */
let startCounts = new Map<string, number>();
let startHandles = new Set<unknown>();
let baseline = new Map<string, number>();
let baselineHandles = new Set<unknown>();

interface Leftover {
  readonly types: string[];
  readonly handles: string[];
}

/** What was active when a test ended: the counts and the handles (the root afterEach). */
interface Snapshot {
  readonly counts: Map<string, number>;
  readonly handles: Set<unknown>;
}

/**
 * What is active now beyond `since`; with `endedWith`, only what was already active then (a
 * file's leftovers are judged from its last test's end: the next file's `before` hooks, which
 * run before the root beforeEach that notices the new file, may have started things of their own).
 */
function leftoverNow(since = baseline, sinceHandles = baselineHandles, endedWith?: Snapshot): Leftover | undefined {
  const types: string[] = [];
  for (const [type, n] of resourceCounts()) {
    const active = endedWith === undefined ? n : Math.min(n, endedWith.counts.get(type) ?? 0);
    const extra = active - (since.get(type) ?? 0);
    if (extra > 0) types.push(extra === 1 ? type : `${type} x${extra}`);
  }
  if (types.length === 0) return undefined;
  const skip = new Set([...stdio(), ...sinceHandles]);
  const handles = activeHandles()
    .filter((h) => !skip.has(h) && (endedWith === undefined || endedWith.handles.has(h)))
    .map(describeHandle);
  // Handles (children, sockets, servers) are told apart by identity, timers only by count: when
  // no handle of the file's end is left, a count of handle types is someone else's (the next
  // file's `before` started a child as the file's last one was being reaped).
  if (endedWith !== undefined && handles.length === 0 && types.every((t) => !TIMER_TYPES.test(t))) return undefined;
  return { types, handles };
}

/** Resource types that `_getActiveHandles()` does not list (counted only). */
const TIMER_TYPES = /^(Timeout|Immediate)/;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** What is left once closes under way have had `GRACE_MS` to finish. */
async function settledLeftover(endedWith?: Snapshot): Promise<Leftover | undefined> {
  const deadline = Date.now() + GRACE_MS;
  for (;;) {
    await turn();
    const left = leftoverNow(baseline, baselineHandles, endedWith);
    if (left === undefined || Date.now() >= deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function formatLeftover(left: Leftover): string {
  const lines = [`    active: ${left.types.join(', ')}`];
  for (const h of left.handles) lines.push(`      - ${h}`);
  if (traced.size > 0) for (const t of tracedStillActive()) lines.push(`      ${t.replace(/\n/g, '\n        ')}`);
  return lines.join('\n');
}

const leaks: { file: string; left: Leftover }[] = [];
let lastFile: string | undefined;
let currentTitle = '(before the first test)';
/** What was active when the last test ended. */
let lastEnd: Snapshot | undefined;

async function checkFile(file: string | undefined, endedWith?: Snapshot): Promise<void> {
  const left = await settledLeftover(endedWith);
  if (left === undefined) return;
  leaks.push({ file: file ?? '(unknown file)', left });
  // Do not report the same leftovers against every later file.
  baseline = resourceCounts();
  for (const h of activeHandles()) baselineHandles.add(h);
}

function dumpAndExit(reason: string): never {
  const left = leftoverNow(startCounts, startHandles);
  process.stderr.write(
    `\n${'!'.repeat(78)}\n${reason}\n` +
      (left === undefined ? '  nothing listed as active: a native handle (a TAP link not closed?) or a hung await\n' : `${formatLeftover(left)}\n`) +
      `${'!'.repeat(78)}\n`,
  );
  process.exit(1);
}

export const mochaHooks: RootHookObject = {
  async beforeAll() {
    await turn();
    startCounts = resourceCounts();
    startHandles = new Set(activeHandles());
    baseline = new Map(startCounts);
    baselineHandles = new Set(startHandles);
    if (RUN_MINUTES > 0) {
      setTimeout(
        () => dumpAndExit(`the test run has lasted over ${RUN_MINUTES} minutes (RX_NETSTACK_TEST_WATCHDOG_MINUTES); it was in: ${currentTitle}`),
        RUN_MINUTES * 60_000,
      ).unref();
    }
  },

  async beforeEach(this: Mocha.Context) {
    const test = this.currentTest;
    currentTitle = test?.fullTitle() ?? currentTitle;
    const file = test?.file;
    if (lastFile !== undefined && file !== lastFile) await checkFile(lastFile, lastEnd);
    lastFile = file;
  },

  afterEach() {
    lastEnd = { counts: resourceCounts(), handles: new Set(activeHandles()) };
  },

  async afterAll() {
    await checkFile(lastFile);
    setTimeout(() => dumpAndExit(`the process is still alive ${DRAIN_MS / 1000} s after the last test: something keeps the event loop running`), DRAIN_MS).unref();
    if (leaks.length > 0) {
      const report = leaks.map(({ file, left }) => `  ${file} left behind:\n${formatLeftover(left)}`).join('\n');
      throw new Error(
        `tests left handles or timers behind (every test must stop its stacks, destroy its sockets, close its servers and clear its timers):\n${report}` +
          (traced.size === 0 ? '\n  (run with RX_NETSTACK_LEAK_TRACE=1 to see where they were created)' : ''),
      );
    }
  },
};
