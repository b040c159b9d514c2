import type { Observable } from 'rxjs';
import type { Boundary } from './boundary.js';

/**
 * A layer seen from above when it carries several protocols: Ethernet by EtherType, IPv4 by
 * protocol number. Each protocol gets a Boundary of its own; items go to the protocol that
 * claimed their key with ONE Map lookup (see createDemux).
 */
export interface ProtocolMux<K, Up, Down> {
  /**
   * The boundary of protocol `key`. Subscribing to its `up$` claims the key while subscribed
   * (a second claim errors with EADDRINUSE); its `down` may be used by anyone at any time.
   */
  protocol(key: K): Boundary<Up, Down>;
  /** Items of keys nobody claimed (hot). The stack answers them as a host must. */
  readonly unmatched$: Observable<Up>;
  /** Observe-only: items of `key` (of every key when omitted), claimed or not. Claims nothing. */
  observe$(key?: K): Observable<Up>;
}
