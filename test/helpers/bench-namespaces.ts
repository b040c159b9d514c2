/**
 * For the tests of the benchmark programs (bench/kernel): the compiled kernel-side tools, built
 * once per suite, and fresh namespaces that are deleted after each test.
 */
import { buildKernelTools, type KernelTools } from '../../bench/kernel/build.js';
import { Netns } from '../../bench/kernel/netns.js';

/** What useBenchNamespaces gives a suite. */
export interface BenchNamespaces {
  /** The tools built in the suite's `before` hook. */
  readonly tools: KernelTools;
  /** A new namespace named after `role`, deleted after the current test. */
  namespace(role: string): Promise<Netns>;
}

/** Registers the suite's hooks (call it in a `describe`): build the tools before, delete the test's namespaces after each test. */
export function useBenchNamespaces(): BenchNamespaces {
  let tools: KernelTools | undefined;
  const made: Netns[] = [];
  before(async () => {
    tools = await buildKernelTools();
  });
  afterEach(async () => {
    for (const ns of made.splice(0).reverse()) await ns.destroy();
  });
  return {
    get tools(): KernelTools {
      if (tools === undefined) throw new Error('the kernel tools are built in the suite\'s before hook');
      return tools;
    },
    async namespace(role) {
      const ns = await Netns.create(role);
      made.push(ns);
      return ns;
    },
  };
}
