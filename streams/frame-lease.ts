/**
 * The lease on a received frame while a link hands it up: whether anything may still look at
 * the frame's bytes after its emit returns. A link whose device can reuse a batch's memory
 * (tap-link.ts: the TAP device reads the next batch into the same slab while it is still in
 * the CPU's cache) asks this after each frame, and lets the memory go only when every frame of
 * the batch was released.
 *
 * Safe by default: a frame is held unless the one path that consumed it says it keeps nothing
 * (`releaseFrame`), and anything that showed the frame to code the stack does not control
 * (a tap's observer, an inserted operator, a second subscriber of the link) pins it for good
 * (`pinFrame`), whatever the consumer says afterwards. Paths that never call either (ARP,
 * ICMP, UDP, IPv6, listeners, reassembly, a user's claim) leave the frame held.
 *
 * Module state, like inbound-batch.ts: the stack runs on one thread and a frame is handled to
 * the end before the link emits the next.
 */

import { bufferOf, byteOffsetOf } from '../src/byte-view.js';

let released = false;
let pinned = false;
/** The frame being emitted: its memory and where it lies in it. */
let leasedBuffer: ArrayBufferLike | undefined;
let leasedStart = 0;
let leasedEnd = 0;

/** @internal The link, before it emits `frame`: nothing is known of it yet (held). */
export function leaseFrame(frame: Uint8Array, buffer: ArrayBufferLike = bufferOf(frame)): void {
  released = false;
  pinned = false;
  leasedBuffer = buffer;
  const start = byteOffsetOf(frame);
  leasedStart = start;
  leasedEnd = start + frame.length;
}

/**
 * @internal The path that consumed a packet, when it knows that no view of it outlives the call
 * (see TcpLayer's dispatch to an established connection). `view` is the part it consumed (a
 * TCP payload): it releases the frame being emitted only if it lies inside it, since an
 * operator on the way may hand up, during this emit, a frame it held from an earlier one.
 */
export function releaseFrame(view: Uint8Array): void {
  if (bufferOf(view) !== leasedBuffer) return;
  const start = byteOffsetOf(view);
  if (start >= leasedStart && start + view.length <= leasedEnd) released = true;
}

/** @internal Something showed the frame to code that may keep it: held, whatever comes after. */
export function pinFrame(): void {
  pinned = true;
}

/** @internal The link, after the emit: whether the frame's bytes may still be looked at. */
export function frameHeld(): boolean {
  leasedBuffer = undefined; // keeps no slab alive between emits
  return pinned || !released;
}
