/**
 * `rx-netstack nat --publish`: ports of this host that lead into the namespace. A TCP
 * connection to host port H becomes a connection from the gateway to the namespace's address,
 * port N; a UDP client of host port H gets a UDP socket of the stack of its own (so the
 * namespace's replies find the client), closed after a quiet minute.
 */
import { createServer, type Server, type Socket as NetSocket } from 'node:net';
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import type { Stack } from '../streams/stack/create-stack.js';
import type { UdpSocket } from '../streams/stack/udp-socket.js';
import { spliceTcp } from './splice.js';
import type { PublishSpec } from './nat-args.js';

/** A UDP client of a published port with no datagram either way for this long is forgotten. */
const UDP_IDLE_MS = 60_000;
/** UDP clients of one published port at once (each holds a port of the stack); more are dropped. */
const MAX_UDP_CLIENTS = 1024;

export interface Published {
  /** `tcp 0.0.0.0:8080 -> 10.0.2.100:80` */
  readonly description: string;
  close(): void;
}

/** Listens on the host port; resolves once listening, rejects with the listen error (EADDRINUSE...). */
export function publish(stack: Stack, guest: string, spec: PublishSpec): Promise<Published> {
  const description = `${spec.protocol} ${spec.hostAddress ?? '0.0.0.0'}:${spec.hostPort} -> ${guest}:${spec.guestPort}`;
  return spec.protocol === 'tcp' ? publishTcp(stack, guest, spec, description) : publishUdp(stack, guest, spec, description);
}

function publishTcp(stack: Stack, guest: string, spec: PublishSpec, description: string): Promise<Published> {
  const clients = new Set<NetSocket>();
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    clients.add(client);
    client.on('error', () => undefined);
    const attempt = stack.tcp.connect({ address: guest, port: spec.guestPort, noDelay: true }).subscribe({
      next: (conn) => spliceTcp(conn, client),
      // Refused or unreachable in the namespace: the host's client sees a reset.
      error: () => client.resetAndDestroy(),
    });
    client.once('close', () => {
      clients.delete(client);
      attempt.unsubscribe();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: spec.hostPort, ...(spec.hostAddress === undefined ? {} : { host: spec.hostAddress }) }, () => {
      server.off('error', reject);
      resolve({
        description,
        close: () => {
          server.close();
          for (const client of clients) client.resetAndDestroy();
        },
      });
    });
  });
}

interface UdpClient {
  readonly inner: UdpSocket;
  timer: NodeJS.Timeout;
}

function publishUdp(stack: Stack, guest: string, spec: PublishSpec, description: string): Promise<Published> {
  const host: DgramSocket = createSocket('udp4');
  const clients = new Map<string, UdpClient>();
  const forget = (key: string): void => {
    const client = clients.get(key);
    if (client === undefined) return;
    clients.delete(key);
    clearTimeout(client.timer);
    client.inner.close();
  };
  host.on('message', (payload, from) => {
    const key = `${from.address}:${from.port}`;
    let client = clients.get(key);
    if (client === undefined) {
      if (clients.size >= MAX_UDP_CLIENTS) return;
      const inner = stack.udp.bind();
      inner.connect({ address: guest, port: spec.guestPort });
      inner.datagrams$.subscribe((d) => {
        host.send(d.payload, from.port, from.address);
        refresh(key);
      });
      inner.errors$.subscribe(() => undefined);
      client = { inner, timer: setTimeout(() => forget(key), UDP_IDLE_MS) };
      clients.set(key, client);
    }
    client.inner.send(payload);
    refresh(key);
  });
  const refresh = (key: string): void => {
    const client = clients.get(key);
    if (client !== undefined) client.timer.refresh();
  };
  return new Promise((resolve, reject) => {
    host.once('error', reject);
    host.bind({ port: spec.hostPort, ...(spec.hostAddress === undefined ? {} : { address: spec.hostAddress }) }, () => {
      host.off('error', reject);
      host.on('error', () => undefined);
      resolve({
        description,
        close: () => {
          for (const key of [...clients.keys()]) forget(key);
          host.close();
        },
      });
    });
  });
}
