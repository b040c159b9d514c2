/**
 * One connect / request / response / close transaction (netperf's TCP_CRR) between two stacks
 * in this process, the unit the in-memory CRR benchmarks count and measure.
 */
import { firstValueFrom } from 'rxjs';
import type { Stack } from '../../streams/stack/create-stack.js';
import type { TcpConnection } from '../../streams/stack/tcp-connection.js';

/** The request: one byte. */
const REQUEST = new Uint8Array([0x79]);

/**
 * `client` connects to the echo service at address:port (no Nagle), writes one byte, ends its
 * side once the byte came back, and resolves when the server's FIN arrives.
 */
export async function crrTransaction(client: Stack, address: string, port: number): Promise<void> {
  const conn: TcpConnection = await firstValueFrom(client.tcp.connect({ address, port, noDelay: true }));
  await new Promise<void>((resolve, reject) => {
    let got = 0;
    conn.data$.subscribe({
      next: (c) => {
        got += c.length;
        if (got === 1) conn.end();
      },
      complete: () => resolve(),
      error: reject,
    });
    conn.write(REQUEST);
  });
}
