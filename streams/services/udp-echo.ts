import { Subscription } from 'rxjs';
import type { Udp, UdpBindOptions } from '../stack/udp-layer.js';
import type { UdpSocket } from '../stack/udp-socket.js';

/**
 * The UDP echo service (RFC 862): every datagram received on `port` goes back to its sender,
 * byte for byte. Binds at once, so a taken port throws `EADDRINUSE` here (the CLI reports it
 * before printing `ready`). Unsubscribing the returned Subscription closes the socket.
 *
 * Without `options.address` it serves both families, as the TCP services do: on `'::'`
 * (dual stack) when the stack has IPv6, else on `'0.0.0.0'` (UDP's own default stays IPv4,
 * Node's `udp4`).
 *
 * @example
 * const service = udpEchoService(stack, 7);
 * // later
 * service.unsubscribe();
 */
export function udpEchoService(stack: { readonly udp: Udp }, port: number, options: Omit<UdpBindOptions, 'port'> = {}): Subscription {
  const socket = options.address !== undefined ? stack.udp.bind({ ...options, port }) : bindBothFamilies(stack.udp, { ...options, port });
  const subscription = new Subscription(() => socket.close());
  subscription.add(
    socket.datagrams$.subscribe((d) => {
      // A datagram from 0.0.0.0 (a host without an address yet, RFC 1122 3.2.1.3) or from
      // port 0 cannot be answered: send() would throw for that destination.
      if (d.port === 0 || d.address === '0.0.0.0' || d.address === '::') return;
      // Failures (no route, ARP gave up) go to errors$, which nobody needs to watch here.
      socket.send(d.payload, d);
    }),
  );
  return subscription;
}

/** `'::'` (both families) on a stack with IPv6; `'0.0.0.0'` where IPv6 is not enabled. */
function bindBothFamilies(udp: Udp, options: UdpBindOptions): UdpSocket {
  try {
    return udp.bind({ ...options, address: '::' });
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'EAFNOSUPPORT') throw err;
    return udp.bind(options);
  }
}
