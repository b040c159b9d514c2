/**
 * Two stacks on the memory wire for the forwarder tests: a "client" whose default route goes
 * through the "gateway", which forwards. The client's destinations (198.18.0.200 and the rest
 * of 198.18.0.128/25) belong to nobody: only the gateway's forwarders can answer them.
 *
 *   client 198.18.0.1/25 (default via .2)  <== memory wire ==>  gateway 198.18.0.2/25
 */
import assert from 'node:assert/strict';
import { firstValueFrom, lastValueFrom, mergeMap, toArray, type SchedulerLike } from 'rxjs';
import type { TcpForwardRequest } from '../../../streams/stack/tcp-forwarder.js';
import { pattern, concat } from './tcp-helpers.js';
import { stat } from './raw-peer.js';
import { createMemoryWire } from '../../../streams/links/memory-wire.js';
import { createStack, type Stack, type StackHooks } from '../../../streams/stack/create-stack.js';

export const CLIENT_IP = '198.18.0.1';
export const GATEWAY_IP = '198.18.0.2';
/** An address nobody owns, reached through the gateway. */
export const FAR_IP = '198.18.0.200';

export const CLIENT_IP6 = 'fd00:198:18::1';
export const GATEWAY_IP6 = 'fd00:198:18::2';
/** An IPv6 address nobody owns, off the link's prefix: reached through the gateway. */
export const FAR_IP6 = 'fd00:99::200';

export interface ForwardPair {
  readonly client: Stack;
  readonly gateway: Stack;
  close(): void;
}

/**
 * `ipv6`: both dual stack as well (fd00:198:18::1 and ::2 on one /64, the client's IPv6 default
 * route via the gateway; no DAD, no RAs), FAR_IP6 beyond the gateway.
 */
export function forwardPair(opts: { scheduler?: SchedulerLike; ipv6?: boolean; gatewayHooks?: StackHooks } = {}): ForwardPair {
  const [lc, lg] = createMemoryWire({ scheduler: opts.scheduler });
  const v6 = opts.ipv6 === true;
  const six = { dadTransmits: 0, acceptRa: false };
  const client = createStack(
    {
      interfaces: [{ name: 'eth0', link: lc, ipv4: [`${CLIENT_IP}/25`], ...(v6 ? { ipv6: [`${CLIENT_IP6}/64`] } : {}) }],
      routes: [{ destination: '0.0.0.0/0', gateway: GATEWAY_IP }, ...(v6 ? [{ destination: '::/0', gateway: GATEWAY_IP6 }] : [])],
      ...(v6 ? { ipv6: six } : {}),
    },
    { scheduler: opts.scheduler },
  );
  const gateway = createStack(
    { interfaces: [{ name: 'eth0', link: lg, ipv4: [`${GATEWAY_IP}/25`], ...(v6 ? { ipv6: [`${GATEWAY_IP6}/64`] } : {}) }], ...(v6 ? { ipv6: six } : {}) },
    { scheduler: opts.scheduler, hooks: opts.gatewayHooks },
  );
  return { client, gateway, close: () => { client.close(); gateway.close(); } };
}

/**
 * The TCP forwarder's basic case, for either family: the gateway accepts every request and
 * echoes; the client connects to `far` (nobody's address), and the request carries the original
 * 4-tuple (`far`:80 from `client`), the connection is answered as `far`, and 200 kB come back
 * byte-exact. `andThen` runs while the forwarder is still subscribed; then it is unsubscribed
 * (the caller closes the pair).
 */
export async function checkForwardedEcho(
  p: ForwardPair, far: string, client: string, family: 'ipv4' | 'ipv6', andThen?: () => Promise<void>,
): Promise<void> {
  const seen: TcpForwardRequest[] = [];
  const fwd = p.gateway.tcp.forward().pipe(
    mergeMap((req) => {
      seen.push(req);
      return req.accept();
    }),
  ).subscribe((c) => c.data$.subscribe({ next: (chunk) => c.write(chunk), complete: () => c.end(), error: () => undefined }));
  try {
    const conn = await firstValueFrom(p.client.tcp.connect({ address: far, port: 80 }));
    assert.equal(conn.remoteAddress, far);
    assert.equal(seen.length, 1);
    const req = seen[0];
    assert.deepEqual(
      { local: `${req.localAddress}:${req.localPort}`, remote: `${req.remoteAddress}:${req.remotePort}`, iface: req.interface },
      { local: `${far}:80`, remote: `${client}:${conn.localPort}`, iface: 'eth0' },
    );
    const payload = pattern(200_000, 7);
    const echoed = lastValueFrom(conn.data$.pipe(toArray()));
    conn.write(payload);
    conn.end();
    assert.deepEqual(concat(await echoed), payload);
    assert.equal(stat(p.gateway, 'tcpForward', 'requests'), 1);
    assert.equal(stat(p.gateway, 'tcpForward', 'established'), 1);
    assert.equal(stat(p.gateway, 'tcpForward', 'inFlight'), 0);
    assert.ok(stat(p.gateway, family, 'rxForeign') > 0);
    assert.equal(stat(p.gateway, family, 'drops', 'notForUs'), 0);
    await andThen?.();
  } finally {
    fwd.unsubscribe();
  }
}
