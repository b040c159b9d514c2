/**
 * CPU per TCP_CRR connection on the memory wire (two stacks in this process: B runs the echo
 * service `serve` runs, A connects, writes one byte, ends once it is back, waits for B's FIN;
 * bench/lib/crr.ts): user and total (user + system) microseconds per connection from
 * process.cpuUsage over N connections after a warm-up of 5,000. Both stacks count; there is no
 * system call on the way, so a change to the stack's JavaScript shows without the TAP device's
 * writes around it (serve-cost.ts's figure, a third JavaScript). COST_DIST is a compiled tree's
 * dist (`npx tsc -p tsconfig.build.json`): run two trees alternately, pinned, under the bench
 * lock, and compare medians.
 *
 *   COST_DIST=$PWD/dist taskset -c 0 node --import tsx bench/memory-crr-cost.ts [N=20000]
 */
import type { Stack } from '../streams/stack/create-stack.js';

if (process.env.COST_DIST === undefined) throw new Error('COST_DIST: the dist directory of a compiled tree');
const root = `${process.env.COST_DIST}/`;
const { createMemoryWire } = (await import(`${root}streams/links/memory-wire.js`)) as typeof import('../streams/links/memory-wire.js');
const { createStack } = (await import(`${root}streams/stack/create-stack.js`)) as typeof import('../streams/stack/create-stack.js');
const { echoService } = (await import(`${root}streams/services/echo.js`)) as typeof import('../streams/services/echo.js');
const { crrTransaction } = await import('./lib/crr.js');
const [la, lb] = createMemoryWire({ mtu: 1500 });
// A is the active closer: a short TIME-WAIT (2 x 10 ms) keeps its ephemeral ports from running out.
const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }], tcp: { msl: 10 } });
const b = createStack({ interfaces: [{ name: 'eth0', link: lb, ipv4: ['198.18.0.2/24'] }] });
const service = echoService(b, 7);
const run = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await crrTransaction(a as unknown as Stack, '198.18.0.2', 7);
};
await run(5000);
const n = Number(process.argv[2] ?? 20000);
const u0 = process.cpuUsage();
await run(n);
const u = process.cpuUsage(u0);
console.log(JSON.stringify({ userUsPerConn: u.user / n, totalUsPerConn: (u.user + u.system) / n }));
service.unsubscribe();
a.close();
b.close();
process.exit(0);
