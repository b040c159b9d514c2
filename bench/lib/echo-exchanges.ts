/** What `echoExchanges` needs of a connection (a TcpConnection of any compiled tree). */
export interface EchoedConnection {
  readonly data$: { subscribe(next: (chunk: Uint8Array) => void): { unsubscribe(): void } };
  write(bytes: Uint8Array): unknown;
}

/**
 * `n` request/response exchanges on `conn` with an echoing peer, back to back: `request` written,
 * the next one when any data comes back. Resolves after the n-th reply.
 */
export function echoExchanges(conn: EchoedConnection, n: number, request: Uint8Array): Promise<void> {
  let left = n;
  return new Promise<void>((resolve) => {
    const sub = conn.data$.subscribe(() => {
      if (--left > 0) {
        conn.write(request);
        return;
      }
      sub.unsubscribe();
      resolve();
    });
    conn.write(request);
  });
}
