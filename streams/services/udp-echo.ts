import { Subscription } from 'rxjs';
import type { Udp, UdpBindOptions } from '../stack/udp-layer.js';

/**
 * The UDP echo service (RFC 862): every datagram received on `port` goes back to its sender,
 * byte for byte. Binds at once, so a taken port throws `EADDRINUSE` here (the CLI reports it
 * before printing `ready`). Unsubscribing the returned Subscription closes the socket.
 *
 * @example
 * const service = udpEchoService(stack, 7);
 * // later
 * service.unsubscribe();
 */
export function udpEchoService(stack: { readonly udp: Udp }, port: number, options: Omit<UdpBindOptions, 'port'> = {}): Subscription {
  const socket = stack.udp.bind({ ...options, port });
  const subscription = new Subscription(() => socket.close());
  subscription.add(
    socket.datagrams$.subscribe((d) => {
      // Failures (no route, ARP gave up) go to errors$, which nobody needs to watch here.
      socket.send(d.payload, d);
    }),
  );
  return subscription;
}
