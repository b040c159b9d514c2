import assert from 'node:assert/strict';
import { firstValueFrom, lastValueFrom, toArray, mergeMap, concatMap, take, reduce } from 'rxjs';
import { memoryPair } from './memory-pair.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

function pattern(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Echo server on b:7 for the tests. */
function echoOn(p: ReturnType<typeof memoryPair>, port = 7) {
  return p.b.tcp
    .listen({ port })
    .pipe(mergeMap((c) => c.data$.pipe(concatMap((chunk) => c.write$(chunk)), (s) => { s.subscribe({ complete: () => c.end(), error: () => undefined }); return s; })))
    .subscribe();
}

describe('stack: TCP over the memory wire', () => {
  it('connects, echoes bytes, closes both ways', async () => {
    const p = memoryPair();
    const server = p.b.tcp.listen({ port: 7 }).subscribe((c) => {
      c.data$.subscribe({ next: (chunk) => c.write(chunk), complete: () => c.end() });
    });
    try {
      const conn = await firstValueFrom(p.a.tcp.connect({ address: '198.18.0.2', port: 7 }));
      assert.equal(conn.state, 'ESTABLISHED');
      assert.equal(conn.remoteAddress, '198.18.0.2');
      const payload = pattern(100_000);
      const received = lastValueFrom(conn.data$.pipe(toArray()));
      conn.write(payload);
      conn.end();
      const got = concat(await received);
      assert.equal(got.length, payload.length);
      assert.deepEqual(got, payload);
      // We closed first: TIME-WAIT (2*MSL) before CLOSED.
      assert.equal(conn.state, 'TIME-WAIT');
    } finally {
      server.unsubscribe();
      p.close();
    }
  });

  it('connect to a closed port is refused (RST)', async () => {
    const p = memoryPair();
    try {
      await assert.rejects(firstValueFrom(p.a.tcp.connect({ address: '198.18.0.2', port: 9 })), (e: any) => e.code === 'ECONNREFUSED');
      assert.ok(((p.b.stats() as any).tcp.rstSent) >= 1);
    } finally {
      p.close();
    }
  });

  it('listen twice on a port is EADDRINUSE; unsubscribing frees it', async () => {
    const p = memoryPair();
    try {
      const s1 = p.b.tcp.listen({ port: 80 }).subscribe();
      await assert.rejects(firstValueFrom(p.b.tcp.listen({ port: 80 })), (e: any) => e.code === 'EADDRINUSE');
      s1.unsubscribe();
      const s2 = p.b.tcp.listen({ port: 80 }).subscribe();
      s2.unsubscribe();
    } finally {
      p.close();
    }
  });

  it('many concurrent connections each byte-exact', async () => {
    const p = memoryPair();
    const server = p.b.tcp.listen({ port: 7 }).subscribe((c) => {
      c.data$.subscribe({ next: (chunk) => c.write(chunk), complete: () => c.end() });
    });
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const conn = await firstValueFrom(p.a.tcp.connect({ address: '198.18.0.2', port: 7 }));
          const data = pattern(10_000 + i * 100, i + 7);
          const rx = lastValueFrom(conn.data$.pipe(toArray()));
          conn.write(data);
          conn.end();
          return [concat(await rx), data] as const;
        }),
      );
      for (const [got, want] of results) assert.deepEqual(got, want);
    } finally {
      server.unsubscribe();
      p.close();
    }
  });

  it('toSocket() serves node:http', async () => {
    const http = await import('node:http');
    const p = memoryPair();
    const server = http.createServer((req, res) => res.end(`hello ${req.url}`));
    const sub = p.b.tcp.listen({ port: 80 }).subscribe((c) => server.emit('connection', c.toSocket()));
    try {
      const conn = await firstValueFrom(p.a.tcp.connect({ address: '198.18.0.2', port: 80 }));
      const rx = lastValueFrom(conn.data$.pipe(toArray()));
      conn.write(new TextEncoder().encode('GET /x HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n'));
      const text = new TextDecoder().decode(concat(await rx));
      assert.match(text, /^HTTP\/1\.1 200 OK/);
      assert.match(text, /hello \/x$/);
    } finally {
      sub.unsubscribe();
      p.close();
    }
  });
});
