/**
 * The TCP services (echo, discard, chargen, http) over the memory wire: two stacks, the
 * service on b (198.18.0.2), clients on a (198.18.0.1).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { filter, firstValueFrom, lastValueFrom, merge, mergeMap, Observable, Subject, take, throwError, toArray } from 'rxjs';
import { memoryPair } from '../stack/memory-pair.js';
import type { Stack } from '../../../streams/stack/create-stack.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import { echoConnection, echoService } from '../../../streams/services/echo.js';
import { tcpService } from '../../../streams/services/tcp-service.js';
import type { TcpListenOptions } from '../../../streams/stack/tcp-layer.js';
import { discardService } from '../../../streams/services/discard.js';
import { CHARGEN_CYCLE, chargenService } from '../../../streams/services/chargen.js';
import { HTTP_SERVICE_BODY, httpService } from '../../../streams/services/http.js';
import { SERVICES, startServices } from '../../../streams/services/index.js';
import { waitFor } from '../../helpers/wait-for.js';
import { concatBytes, lcgBytes as pattern } from '../../helpers/bytes.js';

const connect = (s: Stack, port: number): Promise<TcpConnection> => firstValueFrom(s.tcp.connect({ address: '198.18.0.2', port }));
const serverSide = (s: Stack, port: number): TcpConnection | undefined => s.tcpLayer.connections().find((c) => c.localPort === port);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('services: TCP over the memory wire', () => {
  let p: ReturnType<typeof memoryPair>;
  beforeEach(() => {
    p = memoryPair();
  });
  afterEach(() => p.close());

  describe('echo (RFC 862)', () => {
    it('echoes 2 MiB byte-exact and answers our FIN with its own', async () => {
      const service = echoService(p.b, 7);
      const conn = await connect(p.a, 7);
      const data = pattern(2 * 1024 * 1024);
      const back = lastValueFrom(conn.data$.pipe(toArray()));
      conn.write(data);
      conn.end();
      const got = concatBytes(await back);
      assert.equal(got.length, data.length);
      assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'byte-exact');
      // data$ completed on the server's FIN; we closed first, so we wait in TIME-WAIT.
      assert.equal(conn.state, 'TIME-WAIT');
      await waitFor('the server side to close', () => (serverSide(p.b, 7) === undefined ? true : undefined));
      service.unsubscribe();
    });

    it('stops reading while its send buffer is full: a client that never reads cannot grow its memory', async () => {
      const service = echoService(p.b, 7);
      const conn = await connect(p.a, 7);
      // More than the echo's buffers can ever hold (auto-tuning caps: 6 MiB to receive, 4 MiB to
      // send), so the windows must close whatever the buffers grew to while the echo kept up.
      const data = pattern(16 * 1024 * 1024, 9);
      conn.write(data);
      // The transfer stalls (nobody reads the echoes on a): a's full receive buffer closes its
      // window to the echo, whose send buffer fills, so it stops reading and b's window closes too.
      await waitFor('both windows to close', () => {
        const b = serverSide(p.b, 7);
        return b !== undefined && b.core.sndWnd === 0 && conn.core.sndWnd === 0 ? true : undefined;
      }, { timeoutMs: 10_000 });
      const server = serverSide(p.b, 7)!;
      // The buffers are auto-tuned (they may have grown while the echo kept up), within their caps.
      const { sendBuffer, receiveBuffer } = server.info();
      assert.ok(sendBuffer <= 4 * 1024 * 1024 && receiveBuffer <= 6 * 1024 * 1024);
      // The server holds at most its send buffer plus the one chunk it could not place;
      // the rest waits on the client side because the server's window closed.
      assert.ok(server.bufferedLength <= sendBuffer + 64 * 1024, `server holds ${server.bufferedLength} bytes to send`);
      assert.ok(server.core.readableLength <= receiveBuffer, `server holds ${server.core.readableLength} unread`);
      assert.ok(conn.bufferedLength > 1024 * 1024, `client still holds ${conn.bufferedLength} bytes`);
      // Reading again lets everything through, in order.
      const back = lastValueFrom(conn.data$.pipe(toArray()));
      conn.end();
      const got = concatBytes(await back);
      assert.ok(Buffer.from(got).equals(Buffer.from(data)), `byte-exact (${got.length} of ${data.length})`);
      service.unsubscribe();
    });

    it('data$ left from inside next() (take) and taken up again loses no byte: the pause echo relies on', async () => {
      const got: Uint8Array[] = [];
      const server = p.b.tcp.listen({ port: 5 }).subscribe(async (c) => {
        // One chunk per subscription: every resubscription starts a synchronous pump.
        for (;;) {
          const chunk = await firstValueFrom(c.data$.pipe(take(1)), { defaultValue: undefined });
          if (chunk === undefined) break;
          got.push(chunk.slice());
        }
        c.end();
      });
      const conn = await connect(p.a, 5);
      const data = pattern(300_000, 3);
      conn.write(data);
      conn.end();
      await lastValueFrom(conn.data$, { defaultValue: undefined });
      assert.ok(Buffer.from(concatBytes(got)).equals(Buffer.from(data)), `byte-exact (${concatBytes(got).length} of ${data.length})`);
      server.unsubscribe();
    });

    it('throws EADDRINUSE at once for a taken port', () => {
      const first = echoService(p.b, 7);
      assert.throws(() => echoService(p.b, 7), (e: { code?: string }) => e.code === 'EADDRINUSE');
      first.unsubscribe();
      echoService(p.b, 7).unsubscribe();
    });

    it('unsubscribing stops listening and resets the open connections', async () => {
      const service = echoService(p.b, 7);
      const conn = await connect(p.a, 7);
      const failed = firstValueFrom(conn.closed$);
      service.unsubscribe();
      const err = await failed;
      assert.equal(err?.code, 'ECONNRESET');
      await assert.rejects(connect(p.a, 7), (e: { code?: string }) => e.code === 'ECONNREFUSED');
    });
  });

  describe('tcpService', () => {
    it('keeps each connection\'s work subscribed until the connection is finished, then lets it go (work that ends it at once included)', async () => {
      const torn: string[] = [];
      const accepted: TcpConnection[] = [];
      let allAccepted: () => void;
      const three = new Promise<void>((resolve) => (allAccepted = resolve));
      let n = 0;
      const service = tcpService(p.b, 7, (conn) => {
        if (accepted.push(conn) === 3) allAccepted();
        const destroyAtOnce = n++ === 1;
        return new Observable<never>(() => {
          // A handler that ends its connection from inside its subscription: finished before
          // the service watches it, and still let go. The others echo until the peer's FIN.
          if (destroyAtOnce) {
            conn.destroy();
            return () => torn.push('destroyed');
          }
          const echo = echoConnection(conn).subscribe();
          return () => {
            echo.unsubscribe();
            torn.push(conn.state);
          };
        });
      });
      const conns = [await connect(p.a, 7), await connect(p.a, 7), await connect(p.a, 7)];
      await three;
      assert.deepEqual(torn, ['destroyed'], 'the destroyed one let go; the work of the open ones stays subscribed');
      conns[0].end();
      conns[2].end();
      await Promise.all(accepted.map((c) => firstValueFrom(c.closed$)));
      // closed$'s subscribers are told first, then the service: its teardown has run by now.
      assert.deepEqual(torn, ['destroyed', 'CLOSED', 'CLOSED'], 'let go when finished (after LAST-ACK), not when the echo sent its FIN');
      service.unsubscribe();
      assert.equal(torn.length, 3, 'finished connections are not torn down again');
    });

    it('stopping resets every connection still open, and none that finished (the oldest, the newest, one in between)', async () => {
      const accepted: TcpConnection[] = [];
      let allAccepted: () => void;
      const five = new Promise<void>((resolve) => (allAccepted = resolve));
      const service = tcpService(p.b, 7, (conn) => {
        if (accepted.push(conn) === 5) allAccepted();
        return echoConnection(conn);
      });
      const conns: TcpConnection[] = [];
      for (let i = 0; i < 5; i++) conns.push(await connect(p.a, 7));
      await five;
      // Finish the first, the third and the last (each end's closed$ after its FIN exchange).
      for (const i of [0, 2, 4]) conns[i].end();
      await Promise.all([0, 2, 4].map((i) => firstValueFrom(accepted[i].closed$)));
      const results = conns.map((c) => firstValueFrom(c.closed$));
      service.unsubscribe();
      const errs = await Promise.all(results);
      assert.deepEqual(errs.map((e) => e?.code), [undefined, 'ECONNRESET', undefined, 'ECONNRESET', undefined]);
    });

    it('a listener that fails after listening aborts the connections it accepted (as unsubscribing does)', async () => {
      const fail = new Subject<TcpConnection>();
      const failing = { tcp: { ...p.b.tcp, listen: (o: TcpListenOptions) => merge(p.b.tcp.listen(o), fail.pipe(mergeMap(() => throwError(() => new Error('gone'))))) } };
      tcpService(failing, 7, echoConnection);
      const conn = await connect(p.a, 7);
      const closed = firstValueFrom(conn.closed$);
      fail.next(conn);
      assert.equal((await closed)?.code, 'ECONNRESET');
    });
  });

  describe('discard (RFC 863)', () => {
    it('reads 1 MiB, sends nothing back, answers FIN', async () => {
      const service = discardService(p.b, 9);
      const conn = await connect(p.a, 9);
      const back = lastValueFrom(conn.data$.pipe(toArray()));
      conn.write(pattern(1024 * 1024));
      conn.end();
      assert.deepEqual(await back, []);
      assert.equal(conn.state, 'TIME-WAIT', 'the server answered our FIN with its own');
      assert.equal(conn.counters.bytesReceived, 0, 'discard sends nothing');
      assert.equal(conn.counters.bytesAcked, 1024 * 1024, 'the server took every byte');
      service.unsubscribe();
    });
  });

  describe('chargen (RFC 864)', () => {
    it('the cycle is 95 lines of 72 rotating printable characters and CR LF', () => {
      assert.equal(CHARGEN_CYCLE.length, 95 * 74);
      const lines = text(CHARGEN_CYCLE).split('\r\n');
      assert.equal(lines.length, 96);
      assert.equal(lines[0], ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg');
      assert.equal(lines[1], lines[0].slice(1) + 'h');
      assert.equal(lines[94], '~' + lines[0].slice(0, 71));
      assert.equal(lines[95], '');
    });

    it('sends the pattern continuously and in order; our FIN stops it and it ends too', async () => {
      const service = chargenService(p.b, 19);
      const conn = await connect(p.a, 19);
      let position = 0;
      let mismatches = 0;
      const check = (chunk: Uint8Array): void => {
        for (let i = 0; i < chunk.length; i++) if (chunk[i] !== CHARGEN_CYCLE[(position + i) % CHARGEN_CYCLE.length]) mismatches++;
        position += chunk.length;
      };
      // Read 1 MiB, then say we are done and read what was still in flight until its FIN.
      await firstValueFrom(conn.data$.pipe(filter((chunk) => (check(chunk), position >= 1024 * 1024))));
      conn.end();
      await lastValueFrom(conn.data$.pipe(filter((chunk) => (check(chunk), false))), { defaultValue: undefined });
      assert.equal(mismatches, 0);
      assert.ok(position >= 1024 * 1024);
      assert.equal(conn.state, 'TIME-WAIT', 'the server answered our FIN with its own');
      await waitFor('the server side to close', () => (serverSide(p.b, 19) === undefined ? true : undefined));
      service.unsubscribe();
    });

    it('holds no more than its send buffer when the client does not read', async () => {
      const service = chargenService(p.b, 19);
      const conn = await connect(p.a, 19);
      await waitFor('the client receive buffer to fill', () => (conn.core.readableLength >= 200 * 1024 ? true : undefined), { timeoutMs: 10_000 });
      // a's window is closed: from now on the server can only pile up what chargen writes.
      await waitFor("a's window to close", () => (serverSide(p.b, 19)?.core.sndWnd === 0 ? true : undefined), { timeoutMs: 10_000 });
      const server = serverSide(p.b, 19)!;
      assert.ok(server.bufferedLength <= 256 * 1024 + CHARGEN_CYCLE.length, `server holds ${server.bufferedLength}`);
      conn.destroy();
      await waitFor('the server side to close on our RST', () => (serverSide(p.b, 19) === undefined ? true : undefined));
      service.unsubscribe();
    });
  });

  describe('http', () => {
    it('GET / is 200 with the body; two requests share one connection (keep-alive); other paths 404', async () => {
      const service = httpService(p.b, 80);
      const conn = await connect(p.a, 80);
      const back = lastValueFrom(conn.data$.pipe(toArray()));
      conn.write(new TextEncoder().encode(
        'GET / HTTP/1.1\r\nHost: b\r\n\r\n' +
        'GET /nope HTTP/1.1\r\nHost: b\r\n\r\n' +
        'GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n',
      ));
      const reply = text(concatBytes(await back));
      const statuses = [...reply.matchAll(/^HTTP\/1\.1 (\d+) /gm)].map((m) => m[1]);
      assert.deepEqual(statuses, ['200', '404', '200']);
      assert.equal(reply.split(HTTP_SERVICE_BODY).length - 1, 2);
      assert.match(reply, /Connection: keep-alive/i);
      service.unsubscribe();
    });

    it('node:http as the client, through toSocket() on the other stack', async () => {
      const service = httpService(p.b, 80);
      const conn = await connect(p.a, 80);
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '198.18.0.2', port: 80, path: '/', createConnection: () => conn.toSocket() }, (res) => {
          let b = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (b += d));
          res.on('end', () => (res.statusCode === 200 ? resolve(b) : reject(new Error(`status ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(body, HTTP_SERVICE_BODY);
      service.unsubscribe();
    });
  });

  describe('registry', () => {
    it('has every service the CLI offers; startServices starts them and stops them together', async () => {
      assert.deepEqual(Object.keys(SERVICES).sort(), ['chargen', 'discard', 'echo', 'http', 'udp-echo']);
      const all = startServices(p.b, [{ name: 'echo', port: 7 }, { name: 'discard', port: 9 }, { name: 'chargen', port: 19 }, { name: 'http', port: 80 }, { name: 'udp-echo', port: 7 }]);
      for (const port of [7, 9, 19, 80]) (await connect(p.a, port)).destroy();
      all.unsubscribe();
      for (const port of [7, 9, 19, 80]) await assert.rejects(connect(p.a, port), (e: { code?: string }) => e.code === 'ECONNREFUSED');
    });

    it('a failing service stops those already started', async () => {
      const taken = discardService(p.b, 9);
      assert.throws(() => startServices(p.b, [{ name: 'echo', port: 7 }, { name: 'discard', port: 9 }]), (e: { code?: string }) => e.code === 'EADDRINUSE');
      await assert.rejects(connect(p.a, 7), (e: { code?: string }) => e.code === 'ECONNREFUSED');
      taken.unsubscribe();
    });
  });
});
