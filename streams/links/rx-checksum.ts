/**
 * Frames whose transport (TCP/UDP) checksum a link vouches for: a TAP device with checksum
 * offload hands over the kernel's own packets with only a partial checksum (the kernel never
 * computed the rest, as for any local traffic) or marks them already verified. The link records
 * such frames here; the IPv4 layer looks the frame up and tells the transports to skip their
 * verification. A WeakSet keyed by the frame object: wrappers that pass frames on unchanged
 * (capture, ingress hooks) keep the mark, a modified copy (impairment's bit flips) loses it and
 * is verified as usual, and nothing is retained once the frame is garbage.
 */

const verified = new WeakSet<Uint8Array>();
/** No link has marked anything yet: the lookup on the receive path costs nothing. */
let inUse = false;

/** Marks `frame`'s transport checksum as vouched for by the link it came from. */
export function markChecksumVerified(frame: Uint8Array): void {
  inUse = true;
  verified.add(frame);
}

/** True when a link vouched for `frame`'s transport checksum. */
export function isChecksumVerified(frame: Uint8Array): boolean {
  return inUse && verified.has(frame);
}
