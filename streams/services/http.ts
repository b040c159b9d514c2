import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { Observable, type Subscription } from 'rxjs';
import type { Tcp, TcpListenOptions } from '../stack/tcp-layer.js';
import { tcpService } from './tcp-service.js';

/** The body `GET /` answers with. */
export const HTTP_SERVICE_BODY = 'hello from rx-netstack\n';

/**
 * The handler of the `http` service: `GET /` (and `HEAD /`) answer 200 with a short text body,
 * other paths 404, other methods 405. Keep-alive works as node:http does it.
 */
export const httpServiceHandler: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' }).end('method not allowed\n');
  } else if (path !== '/') {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  } else {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(HTTP_SERVICE_BODY) });
    res.end(req.method === 'HEAD' ? undefined : HTTP_SERVICE_BODY);
  }
};

/**
 * A node:http server on the stack: every accepted connection becomes a `net.Socket`-like
 * Duplex (`conn.toSocket()`) handed to the server with `emit('connection')`, exactly as a
 * `net.Server` would. The socket ties the receive window to what the HTTP parser consumed, and
 * its `write()` returns false when the send buffer is full, so node:http's own backpressure
 * applies.
 *
 * Unsubscribing stops listening and closes the server's connections.
 *
 * @example
 * const service = httpService(stack, 80);                       // the default handler
 * const mine = httpService(stack, 8080, { handler: (req, res) => res.end('hi') });
 */
export function httpService(
  stack: { readonly tcp: Tcp },
  port: number,
  options: Omit<TcpListenOptions, 'port'> & { readonly handler?: RequestListener; readonly server?: Server } = {},
): Subscription {
  const { handler, server: given, ...listen } = options;
  const server = given ?? createServer(handler ?? httpServiceHandler);
  const subscription = tcpService(
    stack,
    port,
    (conn) =>
      new Observable<never>(() => {
        server.emit('connection', conn.toSocket());
      }),
    listen,
  );
  // Connections still open are aborted by tcpService; the server itself holds no resources
  // beyond its sockets (it never listened on a port of the kernel).
  subscription.add(() => {
    if (given === undefined) server.close();
  });
  return subscription;
}
