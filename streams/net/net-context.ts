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
  /** The address `localhost` means: the stack's first IPv4 address (undefined if it has none). */
  localhostAddress(): string | undefined;
  /** A port free for a listener on `address` (for `listen(0)`), or undefined if none is left. */
  freePort(address: string): number | undefined;
}
