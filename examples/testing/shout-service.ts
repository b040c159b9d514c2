/**
 * The code under test in examples/testing/shout.test.ts: a small TCP service built on
 * rx-netstack, as a user would write one. It answers every chunk it receives with the same
 * text in capitals, and closes its side when the client does.
 */
import { concatMap, type Subscription } from 'rxjs';
import type { Stack } from '../../streams/index.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Serves the shout protocol on `port` of `stack` until the returned subscription ends. */
export function shoutService(stack: Stack, port: number): Subscription {
  return stack.tcp.listen({ port }).subscribe((conn) => {
    conn.data$
      // One reply at a time: the next chunk waits until the previous reply is in the send buffer.
      .pipe(concatMap((chunk) => conn.write$(encoder.encode(decoder.decode(chunk).toUpperCase()))))
      .subscribe({ complete: () => conn.end(), error: () => conn.destroy() });
  });
}
