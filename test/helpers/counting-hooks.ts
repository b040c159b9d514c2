import { map } from 'rxjs';
import type { StackHooks } from '../../streams/stack/create-stack.js';

/**
 * Stack hooks that change nothing and count what passes: a network-layer operator on the way up
 * and a transport-layer one. Installing them closes the direct ways in (an operator must see
 * every item), so a test feeds the same frames to a hooked stack and to a plain one and expects
 * the same outcome, with every frame and datagram counted here.
 */
export function countingHooks(): { readonly hooks: StackHooks; readonly count: { network: number; transport: number } } {
  const count = { network: 0, transport: 0 };
  return {
    hooks: {
      network: { up: map((f) => (count.network++, f)) },
      transport: { up: map((d) => (count.transport++, d)) },
    },
    count,
  };
}
