/**
 * `rx-netstack nat`, ICMP echo: a ping from the namespace to any address is sent again from this
 * host through its ICMP datagram socket (the addon's DatagramSocket: Node has none), and the
 * namespace gets its echo reply, from the address it pinged, when the host gets one. Requests
 * the host cannot send (no route: EHOSTUNREACH, ENETUNREACH) and requests with no reply within
 * `timeoutMs` are not answered, as from a host that is not there.
 *
 * The host may refuse the socket (net.ipv4.ping_group_range leaves out this process's group,
 * root included): then only the stack's own addresses (gateway, DNS) answer, as before.
 *
 * One socket for every flow: the kernel sets the socket's own identifier on what we send, so
 * each request goes out with a sequence number of ours, and a reply is matched back by its
 * source address and that number.
 */
import { Observable, type Subscription } from 'rxjs';
import { DATAGRAM_READ, loadTapAddon, type NativeDatagramSocket } from '../streams/links/tap-native.js';
import type { Stack } from '../streams/stack/create-stack.js';
import type { EchoForwardRequest } from '../streams/stack/icmp-echo-forwarder.js';
import { parseIpv4 } from '../src/ipv4/address.js';

export interface EchoRelayOptions {
  /** How long a reply may take; then the request goes unanswered. Default 5 s. */
  readonly timeoutMs?: number;
  /** Requests waiting for their reply at once (more are dropped). Default 256. */
  readonly maxInFlight?: number;
  /** Opens the host's socket (tests substitute it). Default: the addon's DatagramSocket('icmp'). */
  readonly openSocket?: (onMessage: (view: Uint8Array, address: number) => void) => NativeDatagramSocket;
  /** Called when a request went out through the host's socket (as UdpRelayOptions.answeredElsewhere). */
  readonly answeredElsewhere?: () => void;
}

export type EchoRelay =
  | { readonly mode: 'host-socket'; readonly subscription: Subscription }
  /** The host refused the socket: `reason` says why (its error message). */
  | { readonly mode: 'gateway-only'; readonly reason: string };

const TIMEOUT_MS = 5_000;
const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;
const MAX_IN_FLIGHT = 256;

/** The addon's ICMP datagram socket, its datagrams handed on as views of the shared buffer. */
function openIcmpSocket(onMessage: (view: Uint8Array, address: number) => void): NativeDatagramSocket {
  const addon = loadTapAddon();
  const bytes = new Uint8Array(addon.datagramReadBuffer);
  const read = addon.datagramRead;
  return new addon.DatagramSocket(
    'icmp',
    () => onMessage(bytes.subarray(read[DATAGRAM_READ.offset], read[DATAGRAM_READ.offset] + read[DATAGRAM_READ.length]), read[DATAGRAM_READ.address]),
    () => undefined,
  );
}

/** Starts relaying the namespace's pings, or says why it cannot (then nothing is installed). */
export function relayEcho(stack: Stack, options: EchoRelayOptions = {}): EchoRelay {
  const timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
  // address * 65536 + our sequence number -> the waiting request's answer.
  const waiting = new Map<number, (answered: boolean) => void>();
  // An echo reply (type 0): its sequence number is in bytes 6-7.
  const onMessage = (view: Uint8Array, address: number): void => {
    if (view.length >= 8 && view[0] === ICMP_ECHO_REPLY) waiting.get(address * 65536 + ((view[6] << 8) | view[7]))?.(true);
  };
  let socket: NativeDatagramSocket;
  try {
    socket = (options.openSocket ?? openIcmpSocket)(onMessage);
  } catch (error) {
    return { mode: 'gateway-only', reason: (error as Error).message };
  }
  let nextSeq = 0;
  const responder = (request: EchoForwardRequest): Observable<boolean> =>
    new Observable<boolean>((subscriber) => {
      const address = parseIpv4(request.to);
      if (address === undefined) return subscriber.next(false);
      // A sequence number no request to this address is waiting with (at most maxInFlight are).
      let seq = nextSeq;
      while (waiting.has(address * 65536 + seq)) seq = (seq + 1) & 0xffff;
      nextSeq = (seq + 1) & 0xffff;
      // Type 8, code 0; the checksum and identifier are the kernel's.
      const echo = new Uint8Array(8 + request.data.length);
      echo[0] = ICMP_ECHO_REQUEST;
      echo[6] = seq >> 8;
      echo[7] = seq & 0xff;
      echo.set(request.data, 8);
      if (socket.send(echo, address, 0) < 0) return subscriber.next(false);
      options.answeredElsewhere?.();
      const key = address * 65536 + seq;
      waiting.set(key, (answered) => subscriber.next(answered));
      const timer = setTimeout(() => subscriber.next(false), timeoutMs);
      return () => {
        clearTimeout(timer);
        waiting.delete(key);
      };
    });
  const subscription = stack.icmp.forwardEcho(responder, { maxInFlight: options.maxInFlight ?? MAX_IN_FLIGHT }).subscribe();
  subscription.add(() => {
    waiting.clear();
    socket.close();
  });
  return { mode: 'host-socket', subscription };
}
