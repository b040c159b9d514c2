/**
 * Empties `array` and keeps its storage for the next use: for the lists that fill and empty
 * once per packet or per batch (the link's write batch, a receive buffer's chunks).
 *
 * `array.length = 0` makes V8 drop the array's backing store, so the next `push` allocates a
 * new one (about 100 to 150 bytes for a small array); popping the elements one by one leaves
 * a short array's store in place (V8 shrinks a long one by halves as it empties, in place).
 * The references the array held are released either way. Measured: a push and `length = 0`
 * allocate ~130 bytes per cycle, a push and this ~1.
 */
export function emptyArray(array: unknown[]): void {
  while (array.length > 0) array.pop();
}
