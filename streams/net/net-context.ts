import type { SchedulerLike } from 'rxjs';
import type { Tcp } from '../stack/tcp-layer.js';
import type { KeepAliveHolder } from './keep-alive.js';

/** What `stack.net`'s servers and sockets need from their stack. */
export interface NetContext {
  readonly tcp: Tcp;
  /** Socket timeouts run on it. */
  readonly scheduler: SchedulerLike;
  /** Keeps the process alive while ref'd servers and sockets are active. */
  readonly keepAlive: KeepAliveHolder;
  /** The address `localhost` means: the stack's first IPv4 address, else its first IPv6 one (undefined if none). */
  localhostAddress(): string | undefined;
  /** True when the stack runs IPv6 (IPv6 literals and `::` listeners work). */
  readonly ipv6: boolean;
  /**
   * A port free for a listener on `address` (for `listen(0)`), or undefined if none is left;
   * `dualStack` for `::` without ipv6Only (free in both families).
   */
  freePort(address: string, dualStack: boolean): number | undefined;
}
