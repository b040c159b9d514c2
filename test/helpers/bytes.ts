/** Byte helpers the tests share. */

/** The parts one after the other in a new plain Uint8Array (not a Buffer: deepEqual compares prototypes). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
