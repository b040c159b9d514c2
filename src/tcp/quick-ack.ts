/**
 * Quick-ACK mode of the receiver (as Linux's): after events that mean the sender is recovering
 * or missed our ACKs, the next in-order segments are acknowledged one by one, without the
 * delayed-ACK wait, so the sender's SACK scoreboard and RACK see holes (and its window grows)
 * sooner. Entered when an out-of-order run is filled (the sender is in or ending fast recovery)
 * and when a duplicate segment arrives (our ACK of it was lost, or the sender timed out).
 */

/** Most segments ACKed at once per quick-ACK spell (Linux: TCP_MAX_QUICKACKS). */
export const MAX_QUICK_ACKS = 16;

/**
 * Segments to ACK at once: half the window in full segments (a sender that fills it gets an ACK
 * per segment for one round), at least 2, at most MAX_QUICK_ACKS.
 */
export function quickAckBudget(window: number, mss: number): number {
  const n = Math.floor(window / (2 * Math.max(mss, 1)));
  return n < 2 ? 2 : n > MAX_QUICK_ACKS ? MAX_QUICK_ACKS : n;
}
