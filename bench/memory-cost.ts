/**
 * A fixed amount of TCP work on the memory wire, for measuring cost by counting (instructions,
 * allocations) instead of by the clock: a rate on a busy 2-core machine moves with whatever
 * else runs, an instruction count much less (the wire's timers still run on the wall clock, so
 * counts of repeated runs differ by up to ~15 %; bench/core-cost.ts is the repeatable one).
 *
 *   node --import tsx bench/memory-cost.ts crr 2000      # 2,000 connect / 1-byte echo / close
 *   node --import tsx bench/memory-cost.ts bulk 64       # 64 MiB A -> B (discarding listener)
 *
 * Each run first does a fixed warm-up (500 connections, or 16 MiB) so that the compiler's work
 * is mostly done, then the measured part (between MEASURE-START and MEASURE-END on stderr,
 * where bench/cost.sh sums the GC trace's allocation), then prints one JSON line (wall time,
 * rate, segments sent by A).
 *
 * Per-connection or per-segment cost is the difference of two runs of different sizes divided
 * by the difference in work: the start-up, the warm-up and the compiler mostly cancel out.
 * bench/cost.sh does that under `valgrind --tool=cachegrind` (instructions) and plain node
 * (allocations). The script uses only createStack and the memory wire, so it runs unchanged
 * on older trees for comparison.
 */
import { firstValueFrom } from 'rxjs';
import type { Stack } from '../streams/stack/create-stack.js';
import { crrTransaction } from './lib/crr.js';

// With COST_DIST=<dir of a `tsc -p tsconfig.build.json` output> the stack is the compiled code
// (what users run; tsx's transform adds helper calls of its own), else these sources.
const root = process.env.COST_DIST !== undefined ? `${process.env.COST_DIST}/` : '../';
const { createMemoryWire } = (await import(`${root}streams/links/memory-wire.js`)) as typeof import('../streams/links/memory-wire.js');
const { createStack } = (await import(`${root}streams/stack/create-stack.js`)) as typeof import('../streams/stack/create-stack.js');

const CRR_WARMUP = 500;
const BULK_WARMUP_MIB = 16;

interface Pair {
  readonly a: Stack;
  readonly b: Stack;
}

/** As bench/memory.ts: A is the client (TIME-WAIT 20 ms), B serves discard :9 and echo :7. */
function pair(): Pair {
  const [la, lb] = createMemoryWire({ mtu: 1500 });
  // COST_TCP='{"sack":false}': TCP options for both stacks, to see what one mechanism costs.
  const tcp = JSON.parse(process.env.COST_TCP ?? '{}') as Record<string, unknown>;
  const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }], tcp: { ...tcp, msl: 10 } });
  const b = createStack({ interfaces: [{ name: 'eth0', link: lb, ipv4: ['198.18.0.2/24'] }], tcp });
  return { a, b };
}

async function serve(b: Stack, onDiscard: (n: number) => void): Promise<void> {
  b.tcp.listen({ port: 9 }).subscribe((c) => {
    c.data$.subscribe({ next: (chunk) => onDiscard(chunk.length), complete: () => c.end(), error: () => undefined });
  });
  // COST_ECHO=service: the echo service as `rx-netstack serve` runs it (tcpService, relayTo)
  // instead of the hand-written echo below.
  if (process.env.COST_ECHO === 'service') {
    const { echoService } = (await import(`${root}streams/services/echo.js`)) as typeof import('../streams/services/echo.js');
    echoService(b, 7, { noDelay: true });
    return;
  }
  b.tcp.listen({ port: 7, noDelay: true }).subscribe((c) => {
    c.data$.subscribe({ next: (chunk) => c.write(chunk), complete: () => c.end(), error: () => undefined });
  });
}

/** One connect / 1-byte echo / close from A to B. */
const crrOnce = (p: Pair): Promise<void> => crrTransaction(p.a, '198.18.0.2', 7);

/** Writes `bytes` on one connection to B's discard service; resolves when B has read them all. */
async function bulkOnce(p: Pair, bytes: number, received: () => number): Promise<void> {
  const conn = await firstValueFrom(p.a.tcp.connect({ address: '198.18.0.2', port: 9 }));
  const chunk = new Uint8Array(64 * 1024).fill(0x42);
  const target = received() + bytes;
  let written = 0;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (written < bytes) {
        const n = Math.min(chunk.length, bytes - written);
        written += n;
        if (!conn.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return;
      }
    };
    const check = setInterval(() => {
      if (received() >= target) {
        clearInterval(check);
        drain.unsubscribe();
        resolve();
      }
    }, 1);
    const drain = conn.drain$.subscribe(pump);
    pump();
  });
  conn.destroy();
}

/** Segments A has sent (all connections, closed ones included), if this tree reports them. */
function segmentsSent(s: Stack): number {
  const stats = s.stats() as unknown as { tcpConnections?: { segmentsSent?: number } };
  return stats.tcpConnections?.segmentsSent ?? NaN;
}

/**
 * COST_HEAP_PROFILE=<file>: V8's sampling heap profiler over the measured part, keeping the
 * objects the GC has collected since (the default keeps only live ones, which hides what a
 * connection allocates and drops), written as a .heapprofile DevTools opens. Returns the stop.
 */
async function startHeapSampling(): Promise<(file: string) => Promise<void>> {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return async (file) => {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

async function main(): Promise<void> {
  const [mode = 'crr', sizeArg = '1000'] = process.argv.slice(2);
  const size = Number(sizeArg);
  if (!(size >= 0) || (mode !== 'crr' && mode !== 'bulk')) {
    throw new Error('usage: memory-cost.ts crr <connections> | bulk <MiB>');
  }
  const p = pair();
  let received = 0;
  await serve(p.b, (n) => (received += n));
  if (mode === 'crr') {
    for (let i = 0; i < CRR_WARMUP; i++) await crrOnce(p);
  } else {
    await bulkOnce(p, BULK_WARMUP_MIB * 1024 * 1024, () => received);
  }
  // Marks the measured part in the GC trace (bench/cost.sh sums what each GC reports allocated
  // between the marks). With --expose-gc a full GC at each mark makes the sum exact: it
  // accounts for what was allocated up to that point. Not used under valgrind (instructions).
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heap = process.env.COST_HEAP_PROFILE !== undefined ? await startHeapSampling() : undefined;
  console.error('MEASURE-START');
  const seg0 = segmentsSent(p.a);
  const t0 = process.hrtime.bigint();
  if (mode === 'crr') {
    for (let i = 0; i < size; i++) await crrOnce(p);
  } else if (size > 0) {
    await bulkOnce(p, size * 1024 * 1024, () => received);
  }
  const ns = Number(process.hrtime.bigint() - t0);
  gc?.();
  console.error('MEASURE-END');
  if (heap !== undefined) await heap(process.env.COST_HEAP_PROFILE as string);
  const segments = segmentsSent(p.a) - seg0;
  const rate = mode === 'crr' ? (size * 1e9) / ns : (size * 1024 * 1024 * 8) / ns;
  console.log(JSON.stringify({ mode, size, ms: ns / 1e6, rate: Number(rate.toFixed(3)), unit: mode === 'crr' ? 'conn/s' : 'Gbit/s', segmentsSentByA: segments }));
  p.a.close();
  p.b.close();
}

await main();
