/**
 * Bulk transfers from the kernel into the stack, compared by SHA-256: the stack side hashes what
 * a listener receives, the kernel side (python3) sends its bytes and prints their hash.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Subscription } from 'rxjs';
import type { Stack } from '../../streams/stack/create-stack.js';

/** What a sha256Sink has seen so far. */
export interface Sha256Sink {
  /** The listener's subscription: unsubscribe to stop listening. */
  readonly subscription: Subscription;
  /** SHA-256 over every byte received, in order (across connections). */
  readonly hash: Hash;
  /** Bytes received. */
  received: number;
  /** The peer has ended a connection (its FIN), and the sink ended its side too. */
  finished: boolean;
}

/** A TCP listener on `port` that hashes and counts what each connection sends, and ends its side when the peer does. */
export function sha256Sink(stack: Stack, port: number): Sha256Sink {
  const hash = createHash('sha256');
  const sink: Sha256Sink = {
    hash,
    received: 0,
    finished: false,
    subscription: stack.tcp.listen({ port }).subscribe((c) => {
      c.data$.subscribe({
        next: (chunk) => {
          hash.update(chunk);
          sink.received += chunk.length;
        },
        complete: () => {
          sink.finished = true;
          c.end();
        },
      });
    }),
  };
  return sink;
}

/**
 * python3 source: `dataLine` (a line of Python defining `data`), then one connection to
 * host:port that sends it all, half-closes, reads to the stack's FIN and prints the SHA-256 hex
 * digest of `data`.
 */
export function pySendHashed(dataLine: string, host: string, port: number, timeoutSeconds: number): string {
  return `import socket, hashlib
${dataLine}
s = socket.create_connection(('${host}', ${port}), timeout=${timeoutSeconds})
s.sendall(data)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
print(hashlib.sha256(data).hexdigest())`;
}
