import type { SchedulerLike } from 'rxjs';
import { createMemoryWire, type MemoryWireOptions } from '../../../streams/links/memory-wire.js';
import { createStack, type Stack, type StackHooks } from '../../../streams/stack/create-stack.js';

/** Two stacks joined by the memory wire: a at 198.18.0.1, b at 198.18.0.2 (test helper). */
export function memoryPair(opts: { scheduler?: SchedulerLike; wire?: MemoryWireOptions; hooksA?: StackHooks; hooksB?: StackHooks; mtu?: number } = {}): { a: Stack; b: Stack; close(): void } {
  const [la, lb] = createMemoryWire({ mtu: opts.mtu ?? 1500, scheduler: opts.scheduler, ...opts.wire });
  const a = createStack({ interfaces: [{ name: 'eth0', link: la, ipv4: ['198.18.0.1/24'] }], routes: [{ destination: '0.0.0.0/0', gateway: '198.18.0.254' }] },
    { scheduler: opts.scheduler, hooks: opts.hooksA });
  const b = createStack({ interfaces: [{ name: 'eth0', link: lb, ipv4: ['198.18.0.2/24'] }] }, { scheduler: opts.scheduler, hooks: opts.hooksB });
  return { a, b, close: () => { a.close(); b.close(); } };
}
