/**
 * CPU per TCP request/response transaction on the memory wire (two stacks in this process, one
 * byte each way, the next request when the reply arrives): user and total (user + system)
 * microseconds per transaction from process.cpuUsage over N transactions after 20,000 of
 * warm-up. Both stacks count, so a change to the TCP path shows twice. COST_DIST is a compiled
 * tree's dist (`npx tsc -p tsconfig.build.json`): run two trees alternately, pinned, under the
 * bench lock, and compare medians.
 *
 *   COST_DIST=$PWD/dist taskset -c 0 node --import tsx bench/memory-rr-cost.ts [N=60000]
 */
import { echoExchanges } from './lib/echo-exchanges.js';

if (process.env.COST_DIST === undefined) throw new Error('COST_DIST: the dist directory of a compiled tree');
const root = `${process.env.COST_DIST}/`;
const { createMemoryWire } = (await import(`${root}streams/links/memory-wire.js`)) as typeof import('../streams/links/memory-wire.js');
const { createStack } = (await import(`${root}streams/stack/create-stack.js`)) as typeof import('../streams/stack/create-stack.js');
const { firstValueFrom } = await import('rxjs');
const [la, lb] = createMemoryWire({ mtu: 1500 });
const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }] });
const b = createStack({ interfaces: [{ name: 'eth0', link: lb, ipv4: ['198.18.0.2/24'] }] });
b.tcp.listen({ port: 7 }).subscribe((c) => c.data$.subscribe((d) => c.write(d)));
const conn = await firstValueFrom(a.tcp.connect({ address: '198.18.0.2', port: 7 }));
const one = new Uint8Array([1]);
const run = (n: number): Promise<void> => echoExchanges(conn, n, one);
await run(20000);
const n = Number(process.argv[2] ?? 60000);
const u0 = process.cpuUsage();
await run(n);
const u = process.cpuUsage(u0);
console.log(JSON.stringify({ userUsPerTx: u.user / n, totalUsPerTx: (u.user + u.system) / n }));
a.close(); b.close();
process.exit(0);
