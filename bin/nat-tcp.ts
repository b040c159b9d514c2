/**
 * `rx-netstack nat`, TCP: each connection the namespace opens is opened again from this host
 * with a TCP socket of the addon (native/tcp-socket.c: node:net costs a Duplex stream per
 * connection and its machinery per write), and only once the host's connect has answered does
 * the namespace get its answer: accepted (SYN-ACK from the original destination) and joined both ways, or refused
 * the way the host's connect failed (RST, ICMP unreachable, or silence for a timeout).
 */
import { constants } from 'node:os';
import type { Subscription } from 'rxjs';
import { parseIpv4 } from '../src/ipv4/address.js';
import { loadTapAddon, type NativeTcpSocket } from '../streams/links/tap-native.js';
import type { Stack } from '../streams/stack/create-stack.js';
import type { TcpConnection } from '../streams/stack/tcp-connection.js';
import type { TcpRefusal } from '../streams/stack/tcp-forwarder.js';
import { NativeTcpJoin } from './splice.js';

export interface TcpRelayOptions {
  /** The gateway's address in the namespace: connections to it go to 127.0.0.1 here (or are refused). */
  readonly gateway: string;
  /** Connections to the gateway reach this host's 127.0.0.1. */
  readonly hostLoopback: boolean;
  /** Addresses of ours that take no TCP (the DNS forwarder's): refused with RST. */
  readonly refused: readonly string[];
  /** How long the host's connect may take; then the namespace's SYN goes unanswered. Default 20 s. */
  readonly connectTimeoutMs?: number;
  /** Called when bytes from the namespace went to a host socket (as UdpRelayOptions.answeredElsewhere). */
  readonly answeredElsewhere?: () => void;
}

/** Handshakes waiting for the host's connect at once; beyond, SYNs are dropped (the client retries). */
const MAX_IN_FLIGHT = 512;
const CONNECT_TIMEOUT_MS = 20_000;
/** TcpSocket.connect(..., settle) when the kernel finished the connect within the call. */
const CONNECTED_AT_ONCE = 1;
/** Every accepted connection's options (one object, not one per connection). */
const ACCEPT_OPTIONS = { noDelay: true } as const;
const LOOPBACK = parseIpv4('127.0.0.1')!;

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

/** Node's name for an errno (111 -> 'ECONNREFUSED'). */
const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** Starts relaying the namespace's TCP; unsubscribing stops it and resets the relayed connections. */
export function relayTcp(stack: Stack, options: TcpRelayOptions): Subscription {
  const live = new Set<NativeTcpSocket>();
  const timers = new Set<NodeJS.Timeout>();
  const TcpSocket = loadTapAddon().TcpSocket;
  const timeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  // The last destination's text and number: a client connecting again and again to one server
  // has its address parsed once.
  let lastText = '';
  let lastHost = 0;
  const subscription = stack.tcp.forward({ maxInFlight: MAX_IN_FLIGHT, decisionTimeoutMs: timeoutMs + 1000 }).subscribe((req) => {
    if (options.refused.includes(req.localAddress) || (req.localAddress === options.gateway && !options.hostLoopback)) {
      req.refuse('rst');
      return;
    }
    let host: number;
    if (req.localAddress === options.gateway) host = LOOPBACK;
    else if (req.localAddress === lastText) host = lastHost;
    else {
      host = lastHost = parseIpv4(req.localAddress)!;
      lastText = req.localAddress;
    }
    const join = new NativeTcpJoin(options.answeredElsewhere);
    let upstream: NativeTcpSocket;
    try {
      upstream = new TcpSocket(join.callbacks);
    } catch (err) {
      req.refuse(refusalFor((err as NodeJS.ErrnoException).code)); // out of sockets here (EMFILE)
      return;
    }
    join.socket = upstream;
    // To a server on this host the handshake ends inside connect(): then it is answered at once,
    // in this task (no wake-up of the socket's poll, no connect timer).
    const started = upstream.connect(host, req.localPort, true);
    if (started < 0) {
      req.refuse(refusalFor(ERRNO_NAMES.get(-started)));
      return;
    }
    live.add(upstream);
    const forget = (): void => void live.delete(upstream);
    const settled = (errno: number): void => {
      if (errno !== 0) {
        forget();
        req.refuse(refusalFor(ERRNO_NAMES.get(errno)));
        return;
      }
      req.accept(ACCEPT_OPTIONS).subscribe({
        next: (conn: TcpConnection) => {
          conn.closed$.subscribe(forget);
          join.attach(conn);
        },
        // The namespace's side gave up (reset, timed out, nat stopping): so does the host's.
        error: () => {
          forget();
          upstream.close(true);
        },
      });
    };
    if (started === CONNECTED_AT_ONCE) {
      settled(0);
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      upstream.close();
      forget();
      req.refuse('drop');
    }, timeoutMs);
    timers.add(timer);
    join.onConnect = (errno) => {
      clearTimeout(timer);
      timers.delete(timer);
      settled(errno);
    };
  });
  // Closed sockets call nothing back, and no connect timer is left to fire on a stopped forwarder.
  subscription.add(() => {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    for (const socket of live) socket.close(true);
    live.clear();
  });
  return subscription;
}
