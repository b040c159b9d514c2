/**
 * bin/splice.ts on the memory wire: a client stack connects through a forwarding gateway stack
 * whose accepted connections are joined (NativeTcpJoin) with TCP sockets of the addon to a
 * server in this process (127.0.0.1, an ephemeral port: nothing is configured anywhere). Two
 * connections share the addon's read buffer: bytes the host side sends before the join are
 * kept and handed on; bytes beyond a connection's send buffer are copied before another
 * socket's read reuses the buffer.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { firstValueFrom, reduce } from 'rxjs';
import { NativeTcpJoin } from '../../bin/splice.js';
import { loadTapAddon, type NativeTcpSocket } from '../../streams/links/tap-native.js';
import type { TcpForwardRequest } from '../../streams/stack/tcp-forwarder.js';
import { forwardPair, FAR_IP } from '../streams/stack/forward-pair.js';

/** Bytes that say which stream they belong to (seed) and where in it they are. */
function pattern(n: number, seed: number, from = 0): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = ((from + i) * seed + ((from + i) >> 10)) & 0xff;
  return b;
}
const FIRST = 1000;
const REST = 2 << 20;

describe('bin/splice: stack connections joined with host sockets of the addon', function () {
  this.timeout(20_000);

  it('two at once through the shared read buffer: what each host socket sent before the join (held, paused) and 2 MiB after it arrive in order, byte-exact, then the FIN', async () => {
    // The server numbers its connections: stream k is pattern(seed 3 + 2k), its first byte tells k.
    const serverSockets: Socket[] = [];
    const server: Server = createServer({ allowHalfOpen: true }, (s) => {
      const k = serverSockets.length;
      serverSockets.push(s);
      s.write(Buffer.concat([Buffer.from([k]), pattern(FIRST - 1, 3 + 2 * k, 1)]));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const p = forwardPair();
    const hostSockets: NativeTcpSocket[] = [];
    const waiting: Array<{ req: TcpForwardRequest; join: NativeTcpJoin }> = [];
    let reads = 0;
    let bothRead: () => void = () => undefined;
    const firstReads = new Promise<void>((resolve) => (bothRead = resolve));
    try {
      p.gateway.tcp.forward().subscribe((req) => {
        const join = new NativeTcpJoin();
        // The join's callbacks, watched: the attaches wait until both host sockets have read.
        const socket = new (loadTapAddon().TcpSocket)({
          ...join.callbacks,
          onData: () => {
            if (++reads === 2) bothRead();
            return join.callbacks.onData();
          },
        });
        join.socket = socket;
        hostSockets.push(socket);
        assert.equal(socket.connect(0x7f000001, port), 0);
        waiting.push({ req, join });
      });
      const connecting = [0, 1].map(() => firstValueFrom(p.client.tcp.connect({ address: FAR_IP, port: 7 })));
      await firstReads;
      assert.equal(reads, 2, 'one read each, then paused until the join');
      for (const { req, join } of waiting) req.accept().subscribe((conn) => join.attach(conn));
      const conns = await Promise.all(connecting);
      for (const [k, s] of serverSockets.entries()) s.end(pattern(REST, 3 + 2 * k, FIRST));
      const received = await Promise.all(
        conns.map((c) => firstValueFrom(c.data$.pipe(reduce((acc, chunk) => (acc.push(Buffer.from(chunk)), acc), [] as Buffer[])))),
      );
      const seen = new Set<number>();
      for (const chunks of received) {
        const got = Buffer.concat(chunks);
        const k = got[0];
        seen.add(k);
        assert.equal(got.length, FIRST + REST);
        const want = Buffer.concat([Buffer.from([k]), pattern(FIRST + REST - 1, 3 + 2 * k, 1)]);
        assert.ok(got.equals(want), `stream ${k} byte-exact`);
      }
      assert.deepEqual([...seen].sort(), [0, 1]);
      for (const c of conns) c.end();
    } finally {
      for (const s of hostSockets) s.close();
      server.close();
      p.close();
    }
  });
});
