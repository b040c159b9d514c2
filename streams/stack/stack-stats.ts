import type { EthernetCounters } from './ethernet-layer.js';
import type { ArpLayer } from './arp-layer.js';
import type { Ipv4Layer } from './ipv4-layer.js';
import type { IcmpLayer } from './icmp-layer.js';
import type { UdpLayer } from './udp-layer.js';
import type { TcpLayer } from './tcp-layer.js';
import type { TcpCounters } from '../../src/tcp/counters.js';

/**
 * A counter object as `stack.stats()` shows it: frozen, numbers as they were, `drops` by
 * reason, and `otherDrops` (a Map in the live counters) as a plain record.
 */
export type CountersSnapshot<C> = {
  readonly [K in keyof C]: C[K] extends number
    ? number
    : C[K] extends ReadonlyMap<string, number>
      ? Readonly<Record<string, number>>
      : C[K] extends object
        ? CountersSnapshot<C[K]>
        : C[K];
};

/**
 * What `stack.stats()` returns: every layer's counters, typed, so that documented accesses
 * such as `stats.tcp.drops.noEndpoint` or `stats['eth:eth0'].rxFrames` compile under strict.
 * Per-interface sections are named `eth:NAME`, `arp:NAME` and `neighbors:NAME`.
 */
export interface StackStats {
  readonly ipv4: CountersSnapshot<Ipv4Layer['counters']>;
  readonly reassembly: CountersSnapshot<Ipv4Layer['reassembler']['counters']>;
  readonly icmp: CountersSnapshot<IcmpLayer['counters']>;
  /** Echo forwarding (`stack.icmp.forwardEcho()`). */
  readonly icmpForward: CountersSnapshot<IcmpLayer['forwardCounters']>;
  readonly udp: CountersSnapshot<UdpLayer['counters']>;
  /** The UDP forwarder (`stack.udp.forward()`): sessions, datagrams each way, limits. */
  readonly udpForward: CountersSnapshot<UdpLayer['forwardCounters']>;
  /** The TCP layer: segments, demux drops, listeners, connections opened and closed. */
  readonly tcp: CountersSnapshot<TcpLayer['counters']>;
  /** The TCP forwarder (`stack.tcp.forward()`): requests, decisions, handshakes in flight. */
  readonly tcpForward: CountersSnapshot<TcpLayer['forwardCounters']>;
  /** Every TCP connection's own counters summed, closed ones included. */
  readonly tcpConnections: CountersSnapshot<TcpCounters>;
  readonly [ethernet: `eth:${string}`]: CountersSnapshot<EthernetCounters>;
  readonly [arp: `arp:${string}`]: CountersSnapshot<ArpLayer['counters']>;
  readonly [neighbors: `neighbors:${string}`]: CountersSnapshot<ArpLayer['cache']['counters']>;
}
