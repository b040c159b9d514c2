import { interval, map, Observable, type SchedulerLike } from 'rxjs';
import { interfaceFromConfig, type NetInterface } from './net-interface.js';
import { EthernetLayer, type EthernetOut } from './ethernet-layer.js';
import { ArpLayer } from './arp-layer.js';
import { Ipv4Layer, type Ipv4Datagram, type Ipv4Network, type Ipv4Outbound, type Ipv4Port, type Ipv4Send } from './ipv4-layer.js';
import { IcmpLayer, type EchoReply, type PingOptions } from './icmp-layer.js';
import { UdpLayer, type Udp, type UdpDatagramIn, type UdpDatagramOut } from './udp-layer.js';
import { TcpLayer, type Tcp, type TcpSegmentIn, type TcpSegmentOut } from './tcp-layer.js';
import type { Link } from '../links/link.js';
import { between, type Boundary, type BoundaryOperators } from '../pipeline/boundary.js';
import { linkBoundary } from '../pipeline/link-boundary.js';
import type { ProtocolMux } from '../pipeline/protocol-mux.js';
import { TapPoint, type BoundaryTaps } from '../pipeline/taps.js';
import { EtherType } from '../../src/wire/ethernet.js';
import { IpProtocol } from '../../src/wire/ipv4.js';
import { decodeStackConfig, type StackConfigInput, type DecodedStackConfig } from '../../src/config/stack-config.js';
import { StatsRegistry, frozenCopy } from '../../src/stats.js';
import type { StackStats } from './stack-stats.js';
import { parseMac, formatMac } from '../../src/mac.js';
import { parseIpv4, formatIpv4 } from '../../src/ipv4/address.js';
import { NetstackError } from '../../src/errors.js';
import type { NeighborChange } from '../../src/arp/neighbor-cache.js';
import { createStackNet } from '../net/stack-net.js';
import type { NetModule } from '../net/create-net.js';
import { unrefScheduler } from './unref-scheduler.js';
import { pointToPoint } from './point-to-point.js';
import type { EchoForwardOptions, EchoResponder } from './icmp-echo-forwarder.js';

/**
 * Operators a user inserts into the stack at its boundaries (the netfilter idea, in RxJS):
 * each takes `up` (inbound) and `down` (outbound) operators. See docs/pipelines.md.
 */
export interface StackHooks {
  /** Frames between each link and its Ethernet layer: `up` as they come off the link, `down` just before it. */
  readonly link?: BoundaryOperators<Uint8Array, Uint8Array>;
  /**
   * Between IPv4 and the link layer under it, on each interface: `up` Ethernet frames carrying
   * IPv4 (before validation), `down` routed packets with their IPv4 header, before the next
   * hop's MAC is looked up.
   */
  readonly network?: BoundaryOperators<Uint8Array, Ipv4Outbound>;
  /**
   * Between IPv4 and the transports, every protocol: `up` datagrams addressed to us (validated,
   * reassembled) before the protocol demux, `down` what a transport sends, before routing.
   */
  readonly transport?: BoundaryOperators<Ipv4Datagram, Ipv4Send>;
  /** TCP segments: `up` checked and parsed, before the endpoint lookup; `down` before the header is written. */
  readonly tcp?: BoundaryOperators<TcpSegmentIn, TcpSegmentOut>;
  /** UDP datagrams: `up` checked, before the socket lookup; `down` before the header is written. */
  readonly udp?: BoundaryOperators<UdpDatagramIn, UdpDatagramOut>;
}

/** Observe-only taps at the stack's boundaries (they claim nothing, change nothing). */
export interface StackTaps {
  /** Frames of every interface, as the links see them. */
  readonly link: BoundaryTaps<Uint8Array, Uint8Array>;
  /** IPv4 frames in, routed packets out (every interface). */
  readonly network: BoundaryTaps<Uint8Array, Ipv4Outbound>;
  /** Datagrams delivered to the transports, and what they send. */
  readonly transport: BoundaryTaps<Ipv4Datagram, Ipv4Send>;
}

export interface StackOptions {
  /** Every timer of the stack runs on it. Default unrefScheduler (asyncScheduler, unref'd timers); tests pass a TestScheduler. */
  readonly scheduler?: SchedulerLike;
  readonly hooks?: StackHooks;
}

/** A neighbour table row as the user reads it. */
export interface ArpEntryInfo {
  readonly interface: string;
  readonly ip: string;
  readonly mac: string | undefined;
  readonly state: string;
}

/**
 * The layers of one interface: Ethernet and ARP over an Ethernet link; neither over a link of
 * bare IP packets (`link.layer` 'ip', a TUN device), where IPv4 sits on the link itself.
 */
export interface InterfaceLayers {
  readonly iface: NetInterface;
  readonly ethernet: EthernetLayer | undefined;
  readonly arp: ArpLayer | undefined;
}

/** @internal What `createStack` assembled, handed to the Stack that runs it. */
export interface StackParts {
  readonly config: DecodedStackConfig<Link>;
  readonly scheduler: SchedulerLike;
  readonly interfaces: readonly InterfaceLayers[];
  readonly ipv4: Ipv4Layer;
  readonly icmp: IcmpLayer;
  readonly udp: UdpLayer;
  readonly tcp: TcpLayer;
  readonly taps: { readonly link: TapPoint<Uint8Array, Uint8Array>; readonly network: TapPoint<Uint8Array, Ipv4Outbound>; readonly transport: TapPoint<Ipv4Datagram, Ipv4Send> };
}

/**
 * Creates a stack. The configuration is validated at once: a bad one throws a NetstackError
 * (code ERR_INVALID_CONFIG) naming every bad field.
 *
 * The stack is assembled here from the public layers, as docs/architecture.md draws it; a
 * program that wants another arrangement assembles its own from the same pieces
 * (docs/pipelines.md).
 */
export function createStack(input: StackConfigInput<Link>, options: StackOptions = {}): Stack {
  const config = decodeStackConfig<Link>(input);
  const scheduler = options.scheduler ?? unrefScheduler;
  const hooks = options.hooks ?? {};
  const taps = { link: new TapPoint<Uint8Array, Uint8Array>(), network: new TapPoint<Uint8Array, Ipv4Outbound>(), transport: new TapPoint<Ipv4Datagram, Ipv4Send>() };

  // IPv4, one for the whole stack; above it the boundary of every transport.
  const ipv4 = new Ipv4Layer({ scheduler, ...config.ipv4, idTableSize: config.ipv4.idTableSize, transport: hooks.transport, taps: taps.transport });

  // Each interface:  link ── Ethernet ──┬── 0x0806 ARP
  //                                     └── 0x0800 neighbour resolution (ARP's cache) ── IPv4
  // or, over a link of bare IP packets (TUN):  link ── point-to-point ── IPv4
  const interfaces = config.interfaces.map((c, index): InterfaceLayers => {
    const iface = interfaceFromConfig(index, c);
    if (c.link.layer === 'ip') {
      const lower = between(taps.link.wrap(linkBoundary(c.link)), hooks.link);
      ipv4.attach(iface, between(taps.network.wrap(pointToPoint(lower)), hooks.network));
      return { iface, ethernet: undefined, arp: undefined };
    }
    const ethernet = new EthernetLayer(iface, between(taps.link.wrap(linkBoundary(c.link)), hooks.link));
    const arp = new ArpLayer(iface, ethernet.protocol(EtherType.ARP), scheduler, config.arp);
    ipv4.attach(iface, between(taps.network.wrap(arp.resolver(ethernet.protocol(EtherType.IPV4))), hooks.network));
    return { iface, ethernet, arp };
  });

  // The transports, each on its IPv4 protocol's boundary; ICMP reports errors to them.
  const icmp = new IcmpLayer(ipv4.protocol(IpProtocol.ICMP), scheduler, config.icmp, ipv4);
  const udp = new UdpLayer(ipv4.protocol(IpProtocol.UDP), config.udp, { icmp, datagrams: hooks.udp, scheduler });
  const tcp = new TcpLayer(ipv4.protocol(IpProtocol.TCP), scheduler, config.tcp, { icmp, segments: hooks.tcp });

  // Claim the protocols before the links start delivering.
  for (const l of interfaces) l.arp?.start();
  icmp.start();
  udp.start();
  tcp.start();
  for (const r of config.routes) {
    const index = interfaces.findIndex((l) => l.iface.name === r.interface);
    ipv4.routes.add({ destination: r.destination, prefixLength: r.prefixLength, gateway: r.gateway, interfaceIndex: index });
  }
  // Gratuitous ARP for every address (RFC 5227 2.4): neighbours learn or refresh our MAC.
  for (const l of interfaces) for (const a of l.iface.addresses) l.arp?.announce(a.address);
  return new Stack({ config, scheduler, interfaces, ipv4, icmp, udp, tcp, taps });
}

/**
 * A running stack, made by `createStack`: its interfaces, the TCP, UDP and ICMP APIs, the
 * neighbour tables, taps, counters, and `close()`.
 */
export class Stack {
  readonly config: DecodedStackConfig<Link>;
  readonly scheduler: SchedulerLike;
  readonly interfaces: readonly NetInterface[];
  /** UDP: `bind(options)`, `bind$(options)`, `forward(options)`. */
  readonly udp: Udp;
  /** TCP: `listen(options)`, `connect(options)`, `forward(options)`. */
  readonly tcp: Tcp;
  /** Observe-only taps at the link, network and transport boundaries. */
  readonly taps: StackTaps;
  /** @internal */
  readonly ipv4: Ipv4Layer;
  /** @internal */
  readonly icmpLayer: IcmpLayer;
  /** @internal */
  readonly udpLayer: UdpLayer;
  /** @internal */
  readonly tcpLayer: TcpLayer;
  /** @internal */
  readonly statsRegistry = new StatsRegistry();
  readonly #parts: StackParts;
  #closed = false;
  #net: NetModule | undefined;

  /** @internal Use `createStack`. */
  constructor(parts: StackParts) {
    this.#parts = parts;
    this.config = parts.config;
    this.scheduler = parts.scheduler;
    this.interfaces = parts.interfaces.map((l) => l.iface);
    this.ipv4 = parts.ipv4;
    this.icmpLayer = parts.icmp;
    this.udpLayer = parts.udp;
    this.tcpLayer = parts.tcp;
    this.taps = parts.taps;
    const udp = parts.udp;
    this.udp = Object.freeze({ bind: udp.bind.bind(udp), bind$: udp.bind$.bind(udp), forward: udp.forward.bind(udp) });
    const tcp = parts.tcp;
    this.tcp = Object.freeze({ listen: tcp.listen.bind(tcp), connect: tcp.connect.bind(tcp), forward: tcp.forward.bind(tcp) });
    const r = this.statsRegistry;
    for (const l of parts.interfaces) {
      if (l.ethernet !== undefined) r.register(`eth:${l.iface.name}`, l.ethernet.counters);
      if (l.arp === undefined) continue;
      r.register(`arp:${l.iface.name}`, l.arp.counters);
      r.register(`neighbors:${l.iface.name}`, l.arp.cache.counters);
    }
    r.register('ipv4', parts.ipv4.counters);
    r.register('reassembly', parts.ipv4.reassembler.counters);
    r.register('icmp', parts.icmp.counters);
    r.register('icmpForward', parts.icmp.forwardCounters);
    r.register('udp', parts.udp.counters);
    r.register('udpForward', parts.udp.forwardCounters);
    r.register('tcp', parts.tcp.counters);
    r.register('tcpForward', parts.tcp.forwardCounters);
  }

  /** The layers, for adding to the stack: a protocol on an EtherType or an IP protocol number. */
  get layers(): { readonly interfaces: readonly InterfaceLayers[]; readonly ipv4: ProtocolMux<number, Ipv4Datagram, Ipv4Send> & Ipv4Network } {
    return { interfaces: this.#parts.interfaces, ipv4: this.#parts.ipv4 };
  }

  /** The node:net module over this stack: `const net = stack.net` (see docs/api.md). */
  get net(): NetModule {
    return (this.#net ??= createStackNet(this));
  }

  /** ICMP: `ping(address, options)`, `forwardEcho(responder, options)`. */
  get icmp(): {
    ping(address: string, options?: PingOptions): Observable<EchoReply>;
    forwardEcho(responder: EchoResponder, options?: EchoForwardOptions): Observable<never>;
  } {
    const icmp = this.#parts.icmp;
    return { ping: (address, options) => icmp.ping(address, options), forwardEcho: (responder, options) => icmp.forwardEcho(responder, options) };
  }

  /** The neighbour (ARP) tables. */
  get arp() {
    const layers = this.#parts.interfaces.filter((l): l is InterfaceLayers & { readonly arp: ArpLayer } => l.arp !== undefined);
    return {
      /** A snapshot of every interface's table (interfaces with ARP). */
      entries: (): ArpEntryInfo[] =>
        layers.flatMap((l) =>
          l.arp.entries().map((e) => ({ interface: l.iface.name, ip: formatIpv4(e.ip), mac: e.mac && formatMac(e.mac), state: e.state })),
        ),
      /** Changes to any interface's table as they happen. */
      changes$: new Observable<{ interface: string; change: NeighborChange }>((subscriber) => {
        const subs = layers.map((l) => l.arp.changes$.subscribe((change) => subscriber.next({ interface: l.iface.name, change })));
        return () => subs.forEach((s) => s.unsubscribe());
      }),
      /** Adds a static entry (never expires, never overwritten by ARP traffic). */
      addStatic: (ip: string, mac: string, interfaceName?: string): void => {
        const addr = parseIpv4(ip);
        const bytes = parseMac(mac);
        const problems: string[] = [];
        if (addr === undefined) problems.push(`ip: "${ip}" is not an IPv4 address`);
        if (bytes === undefined) problems.push(`mac: "${mac}" is not a MAC address`);
        const layer =
          interfaceName === undefined
            ? layers.find((l) => addr !== undefined && l.iface.isOnLink(addr)) ?? layers[0]
            : layers.find((l) => l.iface.name === interfaceName);
        if (layer === undefined) problems.push(`interface: no interface named "${interfaceName}"`);
        if (problems.length > 0) throw new NetstackError('ERR_INVALID_ARG_VALUE', `arp.addStatic: ${problems.join('; ')}`);
        layer!.arp.addStatic(addr!, bytes!);
      },
    };
  }

  /**
   * A protocol of your own on an EtherType: its frames going up (subscribing claims the
   * EtherType on that interface: EADDRINUSE if taken), `{ dst, pb }` going down. Default: the
   * first interface.
   */
  ethernetProtocol(ethertype: number, interfaceName?: string): Boundary<Uint8Array, EthernetOut> {
    const layers = this.#parts.interfaces;
    const layer = interfaceName === undefined ? layers[0] : layers.find((l) => l.iface.name === interfaceName);
    if (layer === undefined) throw new NetstackError('ERR_INVALID_ARG_VALUE', `no interface named "${interfaceName}"`);
    if (layer.ethernet === undefined) throw new NetstackError('ERR_INVALID_ARG_VALUE', `interface "${layer.iface.name}" has no Ethernet layer (its link carries IP packets)`);
    return layer.ethernet.protocol(ethertype);
  }

  /** The frames of a custom EtherType (claims it): `ethernetProtocol(ethertype).up$`. */
  ethernetProtocol$(ethertype: number, interfaceName?: string): Observable<Uint8Array> {
    return this.ethernetProtocol(ethertype, interfaceName).up$;
  }

  /**
   * A transport of your own on an IP protocol number: datagrams addressed to us going up
   * (subscribing claims the number: EADDRINUSE if taken, e.g. 6 and 17 by TCP and UDP),
   * `Ipv4Send`s going down, and routing services.
   */
  ipv4Protocol(protocol: number): Ipv4Port {
    if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) {
      throw new NetstackError('ERR_INVALID_ARG_VALUE', `ipv4Protocol: ${protocol} is not in 0..255`);
    }
    return this.#parts.ipv4.protocol(protocol);
  }

  /** A frozen copy of every counter, drops by reason. */
  stats(): StackStats {
    // Per-connection TCP counters are summed at snapshot time (closed connections included).
    const snapshot = { ...this.statsRegistry.snapshot(), tcpConnections: frozenCopy(this.tcpLayer.connectionCounters()) };
    return Object.freeze(snapshot) as unknown as StackStats;
  }

  /** `stats()` every `periodMs` on the stack's scheduler. */
  stats$(periodMs = 1000): Observable<StackStats> {
    return interval(periodMs, this.scheduler).pipe(map(() => this.stats()));
  }

  /** Stops every layer and closes every link. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const p = this.#parts;
    p.tcp.close();
    p.udp.close();
    p.icmp.close();
    p.ipv4.close();
    for (const l of p.interfaces) {
      l.arp?.close();
      l.ethernet?.close();
      l.iface.link.close();
    }
    p.taps.link.complete();
    p.taps.network.complete();
    p.taps.transport.complete();
  }
}
