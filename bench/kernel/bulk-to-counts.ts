/**
 * What the TAP device did during bulk to the stack: a stack in this process (TREE's sources,
 * default this tree's) serves discard:9 on a TAP device with offload, `kclient stream-to` sends to
 * it for SECONDS, RUNS times (a new connection each), and after each run the device's counters
 * are printed per GB received: read batches, batches whose memory the next one was read into
 * (rxSlabReuses), those cut short by the slab's end whose slab was retired instead (rxSlabMoves),
 * reads that found nothing, frames written (ACKs), and receive slabs made. Counts, not a rate:
 * the rate of a stack in a tsx process is not serve's. Run it pinned (`taskset -c 0`) to see
 * the batches of the pinned benchmarks.
 *
 *   taskset -c 0 node --import tsx bench/kernel/bulk-to-counts.ts [RUNS=4] [SECONDS=2] [TREE=.]
 *
 * Root; one namespace (198.18.0.0/24 inside it only), deleted afterwards.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernelTools } from './build.js';
import { Netns } from './netns.js';
import { client, STACK_IP } from './tap-bench.js';

const runs = Number(process.argv[2] ?? 4);
const seconds = process.argv[3] ?? '2';
const tree = resolve(process.argv[4] ?? fileURLToPath(new URL('../..', import.meta.url)));
const { createStack } = (await import(join(tree, 'streams/stack/create-stack.ts'))) as typeof import('../../streams/stack/create-stack.js');
const { tapLink } = (await import(join(tree, 'streams/links/tap-link.ts'))) as typeof import('../../streams/links/tap-link.js');
const { discardService } = (await import(join(tree, 'streams/services/discard.ts'))) as typeof import('../../streams/services/discard.js');

const tools = await buildKernelTools();
const ns = await Netns.create('bc');
try {
  await ns.ip(['tuntap', 'add', 'dev', 'rxb0', 'mode', 'tap']);
  await ns.addAddress('198.18.0.1/24', 'rxb0');
  await ns.ip(['link', 'set', 'rxb0', 'up']);
  const link = tapLink({ name: 'rxb0', netns: ns.name, mac: '02:00:00:00:00:02', offload: true });
  const stack = createStack({ interfaces: [{ name: 'eth0', link, ipv4: [`${STACK_IP}/24`] }] });
  const service = discardService(stack, 9);
  try {
    await client(ns, { cpu: 0 }, tools, ['stream-to', STACK_IP, '9', '1'], 30_000);
    for (let i = 0; i < runs; i++) {
      const s0 = link.stats() as unknown as Record<string, number>;
      const r = await client(ns, { cpu: 0 }, tools, ['stream-to', STACK_IP, '9', seconds], 30_000);
      const s1 = link.stats() as unknown as Record<string, number>;
      const gb = (s1.rxBytes - s0.rxBytes) / 1e9;
      const per = (k: string): string => (s1[k] === undefined ? '-' : ((s1[k] - s0[k]) / gb).toFixed(0));
      console.log(
        `run ${i + 1}: ${Number(r.gbps).toFixed(2)} Gbit/s; per GB: frames ${per('rxFrames')}, batches ${per('rxBatches')}, ` +
          `reused ${per('rxSlabReuses')}, moved ${per('rxSlabMoves')}, empty reads ${per('rxEmptyReads')}, written ${per('txFrames')}; ` +
          `slabs alive ${s1.rxSlabs}`,
      );
    }
  } finally {
    service.unsubscribe();
    stack.close();
  }
} finally {
  await ns.destroy();
}
