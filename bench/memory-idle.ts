/**
 * Child process of the idle-memory benchmark (run with --expose-gc): opens N connections
 * between two stacks on the memory wire, lets them go idle, and prints one JSON line with the
 * memory growth per connection end. Usage: node --expose-gc --import tsx bench/memory-idle.ts N
 *
 * `--by-object` (by hand, not part of `npm run bench`): also takes a heap snapshot before and
 * after (in the temporary directory, deleted afterwards) and prints, before the JSON line, what
 * one connection end adds by kind of object (bytes, objects), largest first. Snapshots are slow
 * and large: use N of a few thousand.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { firstValueFrom } from 'rxjs';
import { heapGrowth, heapKinds } from './lib/heap-diff.js';
import { memoryPair } from './memory.js';
import type { TcpConnection } from '../streams/stack/tcp-connection.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('memory-idle: run node with --expose-gc');
  process.exit(2);
}
const byObject = process.argv.includes('--by-object');
const n = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 10_000);
if (!Number.isInteger(n) || n < 1 || n > 60_000) {
  console.error('memory-idle: N must be 1..60000');
  process.exit(2);
}

function settle(): void {
  for (let i = 0; i < 4; i++) gc!();
}

async function main(): Promise<void> {
  const p = memoryPair();
  const accepted: TcpConnection[] = [];
  const sub = p.b.tcp.listen({ port: 7, backlog: 1024 }).subscribe((c) => accepted.push(c));
  // Warm-up: one connection, so code and the first tables exist before the baseline.
  const warm = await firstValueFrom(p.a.tcp.connect({ address: '198.18.0.2', port: 7 }));
  await new Promise((r) => setTimeout(r, 50));
  settle();
  const dir = byObject ? mkdtempSync(join(tmpdir(), 'memory-idle-')) : '';
  // Both snapshots are read after the second is taken: what reading one allocates (strings,
  // compiled code) is then in neither.
  const snapshotBefore = byObject ? writeHeapSnapshot(join(dir, 'before.heapsnapshot')) : '';
  if (byObject) settle();
  const before = process.memoryUsage();
  const clients: TcpConnection[] = [warm];
  const parallel = 256;
  for (let i = 0; i < n; i += parallel) {
    const batch = [];
    for (let k = i; k < Math.min(n, i + parallel); k++) batch.push(firstValueFrom(p.a.tcp.connect({ address: '198.18.0.2', port: 7 })));
    clients.push(...(await Promise.all(batch)));
  }
  // Let the last ACKs land and the delayed-ACK timers run out.
  await new Promise((r) => setTimeout(r, 300));
  settle();
  const after = process.memoryUsage();
  if (accepted.length !== n + 1) throw new Error(`accepted ${accepted.length} connections, expected ${n + 1}`);
  const ends = 2 * n;
  if (byObject) {
    const snapshotAfter = writeHeapSnapshot(join(dir, 'after.heapsnapshot'));
    const rows = heapGrowth(heapKinds(snapshotBefore), heapKinds(snapshotAfter), ends);
    rmSync(dir, { recursive: true, force: true });
    console.log('bytes/end  objects/end  kind (self sizes; "number:" = boxed numbers)');
    for (const r of rows.slice(0, 40)) console.log(`${r.bytes.toFixed(0).padStart(9)}  ${r.count.toFixed(2).padStart(11)}  ${r.kind}`);
  }
  const heap = (after.heapUsed - before.heapUsed) / ends;
  const ab = (after.arrayBuffers - before.arrayBuffers) / ends;
  console.log(JSON.stringify({ connections: n, bytesPerConnection: heap + ab, heapBytesPerConnection: heap, arrayBufferBytesPerConnection: ab }));
  sub.unsubscribe();
  // Keep the arrays alive until the measurement is taken.
  if (clients.length + accepted.length < 0) console.log('');
  p.close();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
