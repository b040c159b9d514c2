/**
 * `rx-netstack nat`, UDP: each flow of the namespace (its address and port to a destination)
 * gets a node:dgram socket of its own here, so the destination's replies find their way back;
 * the flow and its socket end together after a quiet minute. Datagrams to the DNS forwarder's
 * address, port 53, go to the upstream resolver instead, and its answers come back from the
 * forwarder's address. When the host's socket hears that the destination refuses (the kernel's
 * ICMP port unreachable: ECONNREFUSED) or cannot be reached (EHOSTUNREACH, ENETUNREACH, also
 * from connect), the flow is answered with that ICMP error from the destination, as a router would.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Subscription } from 'rxjs';
import type { Stack } from '../streams/stack/create-stack.js';
import type { UdpRefusal } from '../streams/stack/udp-forwarder.js';

export interface UdpRelayOptions {
  /** The gateway's address in the namespace: datagrams to it go to 127.0.0.1 here (or are dropped). */
  readonly gateway: string;
  readonly hostLoopback: boolean;
  /** The DNS forwarder's address in the namespace, when there is one. */
  readonly dns?: string;
  /** Where DNS queries go; undefined: nowhere (dropped). */
  readonly dnsUpstream?: { readonly address: string; readonly port: number };
  /** A flow with no datagram either way for this long ends. Default 60 s. */
  readonly idleTimeoutMs?: number;
}

const DNS_PORT = 53;
const MAX_SESSIONS = 1024;
const IDLE_TIMEOUT_MS = 60_000;
/** Datagrams kept while the socket connects (an address, no lookup: one turn of the event loop). */
const MAX_HELD = 64;

/** The ICMP error the namespace gets for the host socket's error; undefined: that datagram is just lost. */
export function udpRefusalFor(code: string | undefined): UdpRefusal | undefined {
  switch (code) {
    case 'ECONNREFUSED':
      return 'port-unreachable';
    case 'EHOSTUNREACH':
      return 'host-unreachable';
    case 'ENETUNREACH':
      return 'net-unreachable';
    default:
      return undefined;
  }
}

/** Starts relaying the namespace's UDP; unsubscribing ends every flow and closes its socket. */
export function relayUdp(stack: Stack, options: UdpRelayOptions): Subscription {
  const sockets = new Set<Socket>();
  const subscription = stack.udp
    .forward({ maxSessions: MAX_SESSIONS, idleTimeoutMs: options.idleTimeoutMs ?? IDLE_TIMEOUT_MS })
    .subscribe((session) => {
      let target: { address: string; port: number } | undefined;
      if (session.localAddress === options.dns) target = session.localPort === DNS_PORT ? options.dnsUpstream : undefined;
      else if (session.localAddress === options.gateway) target = options.hostLoopback ? { address: '127.0.0.1', port: session.localPort } : undefined;
      else target = { address: session.localAddress, port: session.localPort };
      if (target === undefined) {
        session.close();
        return;
      }
      const { address, port } = target;
      const socket = createSocket('udp4');
      sockets.add(socket);
      // An error of the connected socket (an ICMP error the kernel got for an earlier datagram,
      // a send with no route here) answers the flow with its ICMP error; others lose a datagram.
      socket.on('error', (err: NodeJS.ErrnoException) => {
        const how = udpRefusalFor(err.code);
        if (how !== undefined) session.refuse(how);
      });
      // Connected: only the destination's datagrams arrive, and sending needs no address lookup.
      let held: Uint8Array[] | undefined = [];
      // The connect failed (no route here): every datagram of the flow is answered with this.
      let unreachable: UdpRefusal | undefined;
      socket.connect(port, address, (err?: Error) => {
        const pending = held ?? [];
        held = undefined;
        if (err !== undefined && err !== null) {
          unreachable = udpRefusalFor((err as NodeJS.ErrnoException).code) ?? 'host-unreachable';
          session.refuse(unreachable);
          return;
        }
        for (const payload of pending) socket.send(payload);
      });
      socket.on('message', (payload) => session.send(payload));
      session.datagrams$.subscribe({
        next: (payload) => {
          if (unreachable !== undefined) session.refuse(unreachable);
          else if (held === undefined) socket.send(payload);
          else if (held.length < MAX_HELD) held.push(payload);
        },
        complete: () => {
          sockets.delete(socket);
          closeQuietly(socket);
        },
      });
    });
  subscription.add(() => {
    for (const socket of sockets) closeQuietly(socket);
    sockets.clear();
  });
  return subscription;
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // already closed
  }
}
