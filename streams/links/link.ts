import type { Observable } from 'rxjs';

/**
 * A link: where whole Ethernet frames come in and go out. The TAP device, one end of the
 * in-memory wire, and any decorator (impairment, capture) all offer this shape.
 */
export interface Link {
  /** Name for logs and stats (`tap0`, `wire-a`). */
  readonly name: string;
  /** Link MTU: the largest IP packet (frame minus Ethernet header) the link carries. */
  readonly mtu: number;
  /** The link's hardware address when the link has one of its own (TAP), else undefined. */
  readonly mac?: Uint8Array;
  /**
   * Inbound frames. Hot and shared: every subscriber sees frames arriving while it is
   * subscribed. Each frame is a view the receiver may keep (the link never reuses its bytes).
   * Errors only on a fatal device failure; completes when the link is closed.
   */
  readonly frames$: Observable<Uint8Array>;
  /**
   * Writes one whole frame. The link owns `frame` afterwards (it may queue it); the caller must
   * not modify it. Never throws for a full queue: a link that cannot take more counts a drop.
   */
  send(frame: Uint8Array): void;
  /** Releases the device; frames$ completes and later sends are dropped. Idempotent. */
  close(): void;
}
