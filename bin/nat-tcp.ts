/**
 * `rx-netstack nat`, TCP: each connection the namespace opens is opened again from this host
 * with node:net, and only once the host's connect has answered does the namespace get its
 * answer: accepted (SYN-ACK from the original destination) and joined both ways, or refused
 * the way the host's connect failed (RST, ICMP unreachable, or silence for a timeout).
 */
import { connect, type Socket } from 'node:net';
import type { Subscription } from 'rxjs';
import type { Stack } from '../streams/stack/create-stack.js';
import type { TcpConnection } from '../streams/stack/tcp-connection.js';
import type { TcpRefusal } from '../streams/stack/tcp-forwarder.js';
import { HostReader, spliceTcp } from './splice.js';

export interface TcpRelayOptions {
  /** The gateway's address in the namespace: connections to it go to 127.0.0.1 here (or are refused). */
  readonly gateway: string;
  /** Connections to the gateway reach this host's 127.0.0.1. */
  readonly hostLoopback: boolean;
  /** Addresses of ours that take no TCP (the DNS forwarder's): refused with RST. */
  readonly refused: readonly string[];
  /** How long the host's connect may take; then the namespace's SYN goes unanswered. Default 20 s. */
  readonly connectTimeoutMs?: number;
}

/** Handshakes waiting for the host's connect at once; beyond, SYNs are dropped (the client retries). */
const MAX_IN_FLIGHT = 512;
const CONNECT_TIMEOUT_MS = 20_000;

/** What the namespace sees for the way the host's connect failed. */
export function refusalFor(code: string | undefined): TcpRefusal {
  switch (code) {
    case 'ECONNREFUSED':
      return 'rst';
    case 'ENETUNREACH':
      return 'net-unreachable';
    case 'ETIMEDOUT':
      return 'drop';
    default:
      // EHOSTUNREACH, EACCES/EPERM (a firewall here), and anything else: the host is not reachable.
      return 'unreachable';
  }
}

/** Starts relaying the namespace's TCP; unsubscribing stops it and resets the relayed connections. */
export function relayTcp(stack: Stack, options: TcpRelayOptions): Subscription {
  const live = new Set<Socket>();
  const timeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const subscription = stack.tcp.forward({ maxInFlight: MAX_IN_FLIGHT, decisionTimeoutMs: timeoutMs + 1000 }).subscribe((req) => {
    if (options.refused.includes(req.localAddress) || (req.localAddress === options.gateway && !options.hostLoopback)) {
      req.refuse('rst');
      return;
    }
    const host = req.localAddress === options.gateway ? '127.0.0.1' : req.localAddress;
    const reader = new HostReader();
    const upstream = connect({ host, port: req.localPort, allowHalfOpen: true, noDelay: true, timeout: timeoutMs, onread: reader.onread });
    live.add(upstream);
    // Errors after the first (a reset during teardown) are nobody's business but the socket's.
    upstream.on('error', () => undefined);
    upstream.once('close', () => live.delete(upstream));
    let decided = false;
    upstream.once('timeout', () => {
      if (decided) return;
      decided = true;
      upstream.destroy();
      req.refuse('drop');
    });
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      if (decided) return;
      decided = true;
      req.refuse(refusalFor(err.code));
    });
    upstream.once('connect', () => {
      if (decided) return;
      decided = true;
      upstream.setTimeout(0);
      req.accept({ noDelay: true }).subscribe({
        next: (conn: TcpConnection) => spliceTcp(conn, upstream, reader),
        // The namespace's side gave up (reset, timed out, nat stopping): so does the host's.
        error: () => upstream.resetAndDestroy(),
      });
    });
  });
  subscription.add(() => {
    for (const socket of live) socket.resetAndDestroy();
  });
  return subscription;
}
