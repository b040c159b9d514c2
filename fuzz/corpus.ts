/**
 * The seed corpus: real frames, recorded from a session between two stacks on the memory wire
 * (a stack with A's identity and the stranger C): ARP both ways, a TCP echo exchange from
 * handshake to close, a refused connection, UDP echo (one datagram fragmented), a UDP datagram
 * to a closed port and its ICMP answer, pings small and fragmented. The mutators start from
 * these bytes, so that mutated frames get deep into the stack instead of dying at the first
 * check.
 *
 * The session runs in virtual time, so the corpus has the same shape every run (only the
 * ISNs, which come from node:crypto, differ).
 */
import { TestScheduler } from 'rxjs/testing';
import { take } from 'rxjs';
import { createMemoryWire } from '../streams/links/memory-wire.js';
import { createStack } from '../streams/stack/create-stack.js';
import { echoService } from '../streams/services/echo.js';
import { udpEchoService } from '../streams/services/udp-echo.js';
import { advance } from '../streams/testing/wait.js';
import { A_IP, A_MAC, C_IP, C_MAC, TCP_ECHO_PORT, UDP_ECHO_PORT } from './addresses.js';

/** A recorded frame and who sent it. */
export interface CorpusFrame {
  readonly bytes: Uint8Array;
  /** True when C sent it (addressed to A: the frames that reach deepest when replayed to A). */
  readonly toA: boolean;
}

let cached: readonly CorpusFrame[] | undefined;

/** The recorded frames (recorded once per process). */
export function seedCorpus(): readonly CorpusFrame[] {
  cached ??= record();
  return cached;
}

function pattern(n: number, salt: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + salt) & 0xff);
}

function record(): CorpusFrame[] {
  const scheduler = new TestScheduler(() => undefined);
  const [aEnd, cEnd] = createMemoryWire({ scheduler, macs: [A_MAC, C_MAC], latencyMs: 1 });
  const frames: CorpusFrame[] = [];
  // Both ends' arrivals, copied: a stack may reuse nothing it received, but be safe.
  aEnd.frames$.subscribe((f) => frames.push({ bytes: f.slice(), toA: true }));
  cEnd.frames$.subscribe((f) => frames.push({ bytes: f.slice(), toA: false }));
  const a = createStack({ interfaces: [{ name: 'eth0', link: aEnd, mac: A_MAC, ipv4: [`${A_IP}/24`] }] }, { scheduler });
  const c = createStack({ interfaces: [{ name: 'eth0', link: cEnd, mac: C_MAC, ipv4: [`${C_IP}/24`] }] }, { scheduler });
  const subs = [echoService(a, TCP_ECHO_PORT), udpEchoService(a, UDP_ECHO_PORT)];
  const step = (ms: number) => advance(scheduler, ms);

  // TCP: handshake, data both ways (one segment larger than the MSS), FIN both ways.
  c.tcp.connect({ address: A_IP, port: TCP_ECHO_PORT }).subscribe({
    next: (conn) => {
      conn.data$.subscribe({ error: () => undefined });
      conn.write(pattern(3000, 1));
      conn.write(new TextEncoder().encode('hello, echo'));
      conn.end();
    },
    error: () => undefined,
  });
  step(200);
  // A refused connection (RST) and its retry-less end.
  c.tcp.connect({ address: A_IP, port: 23 }).subscribe({ error: () => undefined });
  step(50);
  // UDP echo, one datagram fragmented; a datagram to a closed port (ICMP port unreachable).
  const udp = c.udp.bind({ port: 40000 });
  udp.datagrams$.pipe(take(2)).subscribe();
  udp.send(pattern(100, 2), { address: A_IP, port: UDP_ECHO_PORT });
  udp.send(pattern(4000, 3), { address: A_IP, port: UDP_ECHO_PORT });
  udp.send(pattern(20, 4), { address: A_IP, port: 9999 });
  step(50);
  // Pings: small, and one in three fragments.
  c.icmp.ping(A_IP, { count: 1, size: 56 }).subscribe({ error: () => undefined });
  c.icmp.ping(A_IP, { count: 1, size: 3500 }).subscribe({ error: () => undefined });
  step(50);
  udp.close();
  for (const s of subs) s.unsubscribe();
  step(10);
  a.close();
  c.close();
  return frames;
}
