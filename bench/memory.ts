/**
 * Two stacks in this process joined by the in-memory wire (no bandwidth or latency limit):
 * what the stack costs end to end when nothing else does. A at 198.18.0.1, B at 198.18.0.2;
 * over IPv6 (`family` 6) two dual-stack stacks, A at fd00:198:18::1, B at fd00:198:18::2
 * (addresses usable at once: no DAD), the connections over IPv6.
 *
 * - bulk: A writes as fast as backpressure allows to a discarding listener on B; bytes B read
 *   per second;
 * - rr: one connection, one byte each way, the next request when the reply arrives;
 * - crr: connect, one byte each way, close (client first; the next connection once the server's
 *   FIN arrived), one at a time;
 * - idle memory: in a child process (node --expose-gc), heap and ArrayBuffer growth per
 *   established idle connection with N open (both ends live in that process: the figure is per
 *   connection end, i.e. growth / 2N).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { firstValueFrom, type Subscription } from 'rxjs';
import { createMemoryWire } from '../streams/links/memory-wire.js';
import { createStack, type Stack } from '../streams/stack/create-stack.js';
import { median, nowNs, withTimeout } from './lib/stats.js';
import { crrTransaction } from './lib/crr.js';

export interface MemoryPair {
  readonly a: Stack;
  readonly b: Stack;
  close(): void;
}

/**
 * The client stack A keeps closed connections in TIME-WAIT for 20 ms instead of 60 s (MSL 10 ms,
 * like the kernel client's `tcp_max_tw_buckets=0`): a connection-rate run would otherwise use up
 * the ephemeral ports within seconds.
 */
export function memoryPair(family: 4 | 6 = 4): MemoryPair {
  const [la, lb] = createMemoryWire({ mtu: 1500 });
  const v6 = family === 6 ? { ipv6: { dadTransmits: 0, acceptRa: false } } : {};
  const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'], ...(family === 6 ? { ipv6: ['fd00:198:18::1/64'] } : {}) }], tcp: { msl: 10 }, ...v6 });
  const b = createStack({ interfaces: [{ name: 'eth0', link: lb, ipv4: ['198.18.0.2/24'], ...(family === 6 ? { ipv6: ['fd00:198:18::2/64'] } : {}) }], ...v6 });
  return { a, b, close: () => { a.close(); b.close(); } };
}

/** B's address in a pair of `family`. */
function addressOfB(family: 4 | 6): string {
  return family === 6 ? 'fd00:198:18::2' : '198.18.0.2';
}

/** Discard on B:9 (counts bytes) and echo on B:7 (echoes, ends after the client's FIN). */
function servers(b: Stack, onDiscard: (n: number) => void): Subscription {
  const subs = b.tcp.listen({ port: 9 }).subscribe((c) => {
    c.data$.subscribe({ next: (chunk) => onDiscard(chunk.length), complete: () => c.end(), error: () => undefined });
  });
  subs.add(
    b.tcp.listen({ port: 7, noDelay: true }).subscribe((c) => {
      c.data$.subscribe({ next: (chunk) => c.write(chunk), complete: () => c.end(), error: () => undefined });
    }),
  );
  return subs;
}

export interface RateResult {
  readonly value: number;
  readonly runs: readonly number[];
}

/** One rate figure over both families, measured alternately. */
export interface PairedRateResult {
  readonly v4: RateResult;
  readonly v6: RateResult;
  /** Median over rounds of IPv6's rate / IPv4's. */
  readonly ratio: number;
}

/**
 * A memory-wire figure over IPv4 and IPv6 alternately, one run of each per round (the order
 * swapped every round, so a shared machine's drift hits both alike), medians.
 */
export async function pairedRate(figure: (durationMs: number, runs: number, family: 4 | 6) => Promise<RateResult>, durationMs: number, runs: number): Promise<PairedRateResult> {
  const r4: number[] = [];
  const r6: number[] = [];
  const ratios: number[] = [];
  for (let run = 0; run < runs; run++) {
    let a: number;
    let b: number;
    if (run % 2 === 0) {
      a = (await figure(durationMs, 1, 4)).value;
      b = (await figure(durationMs, 1, 6)).value;
    } else {
      b = (await figure(durationMs, 1, 6)).value;
      a = (await figure(durationMs, 1, 4)).value;
    }
    r4.push(a);
    r6.push(b);
    ratios.push(b / a);
  }
  return { v4: { value: median(r4), runs: r4 }, v6: { value: median(r6), runs: r6 }, ratio: median(ratios) };
}

/** Bulk A -> B, Gbit/s of payload read by B. */
export async function memoryBulk(durationMs: number, runs: number, family: 4 | 6 = 4): Promise<RateResult> {
  const samples: number[] = [];
  for (let run = 0; run < runs; run++) {
    const p = memoryPair(family);
    let received = 0;
    const subs = servers(p.b, (n) => (received += n));
    try {
      const conn = await withTimeout(firstValueFrom(p.a.tcp.connect({ address: addressOfB(family), port: 9 })), 5000, 'memory bulk connect');
      const chunk = new Uint8Array(64 * 1024).fill(0x42);
      let stop = false;
      const pump = (): void => {
        while (!stop && conn.write(chunk));
      };
      const drainSub = conn.drain$.subscribe(pump);
      const t0 = nowNs();
      const r0 = received;
      pump();
      await new Promise((resolve) => setTimeout(resolve, durationMs));
      const t1 = nowNs();
      const bytes = received - r0;
      stop = true;
      drainSub.unsubscribe();
      samples.push((bytes * 8) / (t1 - t0));
      conn.destroy();
    } finally {
      subs.unsubscribe();
      p.close();
    }
  }
  return { value: median(samples), runs: samples };
}

/** 1-byte ping-pong on one connection, transactions per second. */
export async function memoryRr(durationMs: number, runs: number, family: 4 | 6 = 4): Promise<RateResult> {
  const samples: number[] = [];
  for (let run = 0; run < runs; run++) {
    const p = memoryPair(family);
    const subs = servers(p.b, () => undefined);
    try {
      const conn = await withTimeout(firstValueFrom(p.a.tcp.connect({ address: addressOfB(family), port: 7, noDelay: true })), 5000, 'memory rr connect');
      const one = new Uint8Array([0x78]);
      let count = 0;
      const t0 = nowNs();
      const deadline = t0 + durationMs * 1e6;
      const tps = await new Promise<number>((resolve, reject) => {
        const sub = conn.data$.subscribe({
          next: () => {
            count++;
            // Check the clock every 64 transactions: hrtime is not free.
            if ((count & 63) === 0) {
              const t = nowNs();
              if (t >= deadline) {
                sub.unsubscribe();
                resolve((count * 1e9) / (t - t0));
                return;
              }
            }
            conn.write(one);
          },
          error: reject,
        });
        conn.write(one);
      });
      samples.push(tps);
      conn.destroy();
    } finally {
      subs.unsubscribe();
      p.close();
    }
  }
  return { value: median(samples), runs: samples };
}

/** connect + 1-byte echo + close, one at a time, connections per second. */
export async function memoryCrr(durationMs: number, runs: number, family: 4 | 6 = 4): Promise<RateResult> {
  const samples: number[] = [];
  for (let run = 0; run < runs; run++) {
    const p = memoryPair(family);
    const subs = servers(p.b, () => undefined);
    try {
      let count = 0;
      const t0 = nowNs();
      const deadline = t0 + durationMs * 1e6;
      let t = t0;
      while (t < deadline) {
        await crrTransaction(p.a, addressOfB(family), 7);
        count++;
        t = nowNs();
      }
      samples.push((count * 1e9) / (t - t0));
    } finally {
      subs.unsubscribe();
      p.close();
    }
  }
  return { value: median(samples), runs: samples };
}

export interface IdleMemoryResult {
  readonly connections: number;
  /** Bytes per connection end: (heapUsed + arrayBuffers growth) / (2 * connections). */
  readonly bytesPerConnection: number;
  readonly heapBytesPerConnection: number;
  readonly arrayBufferBytesPerConnection: number;
}

/** Runs bench/memory-idle.ts in a child process with --expose-gc. */
export function memoryIdle(connections: number, timeoutMs = 120_000): Promise<IdleMemoryResult> {
  const script = fileURLToPath(new URL('./memory-idle.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', script, String(connections)],
      { timeout: timeoutMs, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`memory-idle child failed: ${error.message}\n${stderr}`));
          return;
        }
        const line = stdout.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(line) as IdleMemoryResult);
        } catch {
          reject(new Error(`memory-idle child printed no result: ${stdout}\n${stderr}`));
        }
      },
    );
  });
}
