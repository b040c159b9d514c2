/**
 * Side by side runs of several compiled trees against the kernel's TAP peer (bulk-to-ab.ts,
 * bulk-from-ab.ts): which trees, one serving namespace each, and the counters read around a run.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KernelTools } from './build.js';
import type { Netns } from './netns.js';
import { client, stackNamespace, STACK_IP } from './tap-bench.js';

/** A compiled tree to serve from: its CLI and the node flags for its process. */
export interface ComparedTree { readonly cli: string; readonly nodeArgs: readonly string[] }

/**
 * The trees of `TREES`: `name=cli` or `name=cli@--flag --flag` (V8 flags for that tree),
 * comma-separated; the current tree's dist/ when unset.
 */
export function comparedTrees(spec = process.env.TREES ?? 'now=dist/bin/rx-netstack.js'): Record<string, ComparedTree> {
  return Object.fromEntries(
    spec.split(',').map((entry) => {
      const eq = entry.indexOf('=');
      const [cli, flags] = entry.slice(eq + 1).split('@');
      return [entry.slice(0, eq), { cli: resolve(cli!), nodeArgs: flags === undefined || flags === '' ? [] : flags.split(' ') }];
    }),
  );
}

/**
 * One namespace per tree (recorded in `made`, for the caller to destroy) serving on CPU 0, each
 * warmed up by a client run of `warmUp` (kclient mode and port): ARP, the JIT. WARM seconds
 * (default 5): after one second TCP_CRR's rate still climbs for several more (V8 still tiering
 * the connection's setup and teardown up on the same CPU; session 15), so a shorter warm-up
 * measures that climb in the first rounds.
 */
export async function serveTrees(
  trees: Record<string, ComparedTree>, made: Netns[], offload: boolean, tools: KernelTools, warmUp: readonly [string, string],
): Promise<Record<string, { ns: Netns; pid: number }>> {
  const served: Record<string, { ns: Netns; pid: number }> = {};
  for (const [name, { cli, nodeArgs }] of Object.entries(trees)) {
    const { ns, serve } = await stackNamespace({ cpu: 0, cli }, made, name.slice(0, 2), offload, [], nodeArgs);
    served[name] = { ns, pid: serve.pid! };
    await client(ns, { cpu: 0 }, tools, [warmUp[0], STACK_IP, warmUp[1], process.env.WARM ?? '5'], 60_000);
  }
  return served;
}

/** The kernel side of the TAP: rx is what the stack wrote, tx what it was given to read. */
export async function tapCounters(ns: Netns): Promise<{ rx: number; tx: number; rxBytes: number; txBytes: number }> {
  const dir = '/sys/class/net/rxb0/statistics';
  const r = await ns.exec('cat', [`${dir}/rx_packets`, `${dir}/tx_packets`, `${dir}/rx_bytes`, `${dir}/tx_bytes`]);
  const [rx, tx, rxBytes, txBytes] = r.stdout.trim().split('\n').map(Number);
  return { rx: rx!, tx: tx!, rxBytes: rxBytes!, txBytes: txBytes! };
}

/**
 * Takes `--tree DIR` out of `argv` (in place) and returns the CLI to serve with: DIR's
 * dist/bin/rx-netstack.js, or this tree's without the option.
 */
export function takeTreeCli(argv: string[]): string {
  const at = argv.indexOf('--tree');
  if (at < 0) return fileURLToPath(new URL('../../dist/bin/rx-netstack.js', import.meta.url));
  const tree = argv[at + 1];
  if (tree === undefined) throw new Error('--tree needs a directory');
  argv.splice(at, 2);
  return join(tree, 'dist/bin/rx-netstack.js');
}
