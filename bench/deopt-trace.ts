/**
 * Deoptimizations of a new TCP connection after a warmed-up one, in memory (two stacks on the
 * memory wire in this process, the echo of one byte each way, as the latency bench's TCP kind):
 * one connection of WARM back-to-back exchanges, five of 1,000 (the latency bench's warm-up, a
 * new connection each), then NEW connections of EACH exchanges. Markers (`=== phase ...`) are
 * written between the phases, so with `--trace-deopt` the deoptimizations of each new
 * connection can be counted (bench/deopt-count.mjs reads that output).
 *
 *   COST_DIST=$PWD/dist node --trace-deopt --import tsx bench/deopt-trace.ts [NEW=5] [EACH=300] [WARM=20000] > out.txt
 */
import { writeSync } from 'node:fs';
import { echoExchanges } from './lib/echo-exchanges.js';

if (process.env.COST_DIST === undefined) throw new Error('COST_DIST: the dist directory of a compiled tree');
const root = `${process.env.COST_DIST}/`;
const { createMemoryWire } = (await import(`${root}streams/links/memory-wire.js`)) as typeof import('../streams/links/memory-wire.js');
const { createStack } = (await import(`${root}streams/stack/create-stack.js`)) as typeof import('../streams/stack/create-stack.js');
const { firstValueFrom } = await import('rxjs');
type Conn = Awaited<ReturnType<typeof connect>>;

const [la, lb] = createMemoryWire({ mtu: 1500 });
const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }] });
const b = createStack({ interfaces: [{ name: 'eth0', link: lb, ipv4: ['198.18.0.2/24'] }] });
b.tcp.listen({ port: 7 }).subscribe((c) => {
  c.data$.subscribe({ next: (d) => c.write(d), complete: () => c.end() });
});
const one = new Uint8Array([1]);

function connect() {
  return firstValueFrom(a.tcp.connect({ address: '198.18.0.2', port: 7 }));
}

function marker(text: string): void {
  writeSync(1, `=== phase ${text}\n`);
}

function exchanges(conn: Conn, n: number): Promise<void> {
  return echoExchanges(conn, n, one);
}

/** One connection: opened, n exchanges, closed by us, and a pause for the close to finish. */
async function connection(n: number): Promise<void> {
  const conn = await connect();
  await exchanges(conn, n);
  conn.end();
  await new Promise((r) => setTimeout(r, 20));
}

const argv = process.argv.slice(2);
const fresh = Number(argv[0] ?? 5);
const each = Number(argv[1] ?? 300);
const warm = Number(argv[2] ?? 20000);
marker('warm');
await connection(warm);
for (let i = 0; i < 5; i++) {
  marker(`warmup-${i}`);
  await connection(1000);
}
for (let i = 0; i < fresh; i++) {
  marker(`new-${i}`);
  await connection(each);
}
marker('end');
a.close();
b.close();
process.exit(0);
