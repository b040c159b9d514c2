import { interval, map, Observable, type SchedulerLike } from 'rxjs';
import { interfaceFromConfig, type NetInterface } from './net-interface.js';
import { EthernetLayer, type EthernetOut } from './ethernet-layer.js';
import { ArpLayer } from './arp-layer.js';
import { Ipv4Layer, type Ipv4Datagram, type Ipv4Network, type Ipv4Outbound, type Ipv4Port, type Ipv4Send } from './ipv4-layer.js';
import { IcmpLayer, type EchoReply, type PingOptions } from './icmp-layer.js';
import { Ipv6Layer, type Ipv6Outbound, type Ipv6Port } from './ipv6-layer.js';
import { NdpLayer } from './ndp-layer.js';
import { MldLayer } from './mld-layer.js';
import { AutoconfLayer, type Ipv6AddressChange } from './autoconf-layer.js';
import { Icmpv6Layer } from './icmpv6-layer.js';
import type { IpDatagram, IpSend } from './ip-network.js';
import { Ipv6NextHeader } from '../../src/wire/ipv6.js';
import { AddressBook, formatIpAddr, parseIpAddr, type IpAddr } from '../../src/ip/address-book.js';
import { formatIpv6, parseIpv6 } from '../../src/ipv6/address.js';
import type { Ipv6NeighborChange } from '../../src/ipv6/neighbor-cache.js';
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
import { NetstackError, netError } from '../../src/errors.js';
import type { NeighborChange } from '../../src/arp/neighbor-cache.js';
import { createStackNet } from '../net/stack-net.js';
import type { NetModule } from '../net/create-net.js';
import { unrefScheduler } from './unref-scheduler.js';
import { watchHeldInput } from './late-wake.js';
import { pointToPoint, splitByIpVersion } from './point-to-point.js';
import type { EchoForwardOptions, EchoResponder } from './icmp-echo-forwarder.js';

/**
 * Operators a user inserts into the stack at its boundaries (the netfilter idea, in RxJS):
 * each takes `up` (inbound) and `down` (outbound) operators. See docs/pipelines.md.
 */
export interface StackHooks {
  /** Frames between each link and its Ethernet layer: `up` as they come off the link, `down` just before it. */
  readonly link?: BoundaryOperators<Uint8Array, Uint8Array>;
  /**
   * Between IP and the link layer under it, on each interface and for each family (one
   * instance of the operators per interface and family): `up` Ethernet frames carrying IPv4, or
   * IPv6 (NDP and MLD included), before validation; `down` routed packets with their IP header,
   * before the next hop's MAC is looked up (`Ipv4Outbound` or `Ipv6Outbound`: `isIpv6Outbound`).
   */
  readonly network?: BoundaryOperators<Uint8Array, NetworkOutbound>;
  /**
   * Between IP and the transports, every protocol and both families (one instance of the
   * operators per family): `up` datagrams addressed to us (validated, reassembled) before the
   * protocol demux, `down` what a transport sends, before routing. Addresses are `IpAddr`s:
   * IPv4 numbers, or IPv6 ids of the stack's address book (`stack.ipAddr(text)` makes one,
   * `stack.formatAddress(addr)` prints one); an `Ipv4Datagram`/`Ipv4Send` is such a record.
   */
  readonly transport?: BoundaryOperators<IpDatagram, IpSend>;
  /** TCP segments: `up` checked and parsed, before the endpoint lookup; `down` before the header is written. */
  readonly tcp?: BoundaryOperators<TcpSegmentIn, TcpSegmentOut>;
  /** UDP datagrams: `up` checked, before the socket lookup; `down` before the header is written. */
  readonly udp?: BoundaryOperators<UdpDatagramIn, UdpDatagramOut>;
}

/** A routed packet at the `network` boundary, either family (see `isIpv6Outbound`). */
export type NetworkOutbound = Ipv4Outbound | Ipv6Outbound;

/** Observe-only taps at the stack's boundaries (they claim nothing, change nothing). */
export interface StackTaps {
  /** Frames of every interface, as the links see them. */
  readonly link: BoundaryTaps<Uint8Array, Uint8Array>;
  /** IPv4 and IPv6 frames in, routed packets out (every interface). */
  readonly network: BoundaryTaps<Uint8Array, NetworkOutbound>;
  /** Datagrams delivered to the transports, and what they send (both families, as records). */
  readonly transport: BoundaryTaps<IpDatagram, IpSend>;
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
  /** Neighbour Discovery, when IPv6 runs on the interface (an Ethernet link and IPv6 enabled). */
  readonly ndp?: NdpLayer | undefined;
  /** MLD reports for the interface's groups, with IPv6. */
  readonly mld?: MldLayer | undefined;
  /** DAD, router discovery and SLAAC, with IPv6. */
  readonly autoconf?: AutoconfLayer | undefined;
}

/** An IPv6 address of an interface as the user reads it (`stack.inet6.addresses()`). */
export interface Inet6AddressInfo {
  readonly interface: string;
  /** `fd00:198:18::2/64`. */
  readonly cidr: string;
  readonly address: string;
  readonly prefixLength: number;
  /** 'link-local', 'static' (configured) or 'slaac' (formed from a router advertisement). */
  readonly origin: string;
  /** 'tentative' (DAD running: not usable yet), 'preferred', 'deprecated' (not chosen for new communication), 'duplicate' (DAD failed). */
  readonly state: string;
  /** ms (scheduler time) when the address goes; Infinity for static and link-local addresses. */
  readonly validUntil: number;
  /** ms when it becomes deprecated; Infinity likewise. */
  readonly preferredUntil: number;
}

/** An IPv6 route as the user reads it (`stack.inet6.routes()`). */
export interface Inet6RouteInfo {
  /** `::/0`, `2001:db8:1::/64`. */
  readonly destination: string;
  /** The next hop, or undefined for an on-link prefix. */
  readonly gateway: string | undefined;
  readonly interface: string;
  /** 'static' (configured), 'ra' (router advertisement) or 'redirect'. */
  readonly origin: string;
}

/** An IPv6 neighbour table row as the user reads it. */
export interface NdpEntryInfo {
  readonly interface: string;
  readonly ip: string;
  readonly mac: string | undefined;
  readonly state: string;
  readonly isRouter: boolean;
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
  /** IPv6 and ICMPv6, when enabled (`ipv6` addresses on an interface, or `ipv6.enabled`). */
  readonly ipv6: Ipv6Layer | undefined;
  readonly icmpv6: Icmpv6Layer | undefined;
  readonly taps: { readonly link: TapPoint<Uint8Array, Uint8Array>; readonly network: TapPoint<Uint8Array, NetworkOutbound>; readonly transport: TapPoint<IpDatagram, IpSend> };
  /** Takes the links out of late-wake.ts's reading (undefined: no link can be read on demand). */
  readonly unwatchHeldInput?: (() => void) | undefined;
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
  const taps = { link: new TapPoint<Uint8Array, Uint8Array>(), network: new TapPoint<Uint8Array, NetworkOutbound>(), transport: new TapPoint<IpDatagram, IpSend>() };

  // IPv4, one for the whole stack; above it the boundary of every transport.
  const ipv4 = new Ipv4Layer({ scheduler, ...config.ipv4, idTableSize: config.ipv4.idTableSize, transport: hooks.transport, taps: taps.transport });

  // IPv6 addresses reach the transports as ids of one address book (src/ip/address-book.ts).
  const book = new AddressBook();
  // IPv6, when enabled: one for the stack, as IPv4, with the same transport operators and tap
  // (its items shown as records with ids of the book). Its link-local addresses share one RFC 7217 secret.
  const ipv6 = config.ipv6.enabled
    ? new Ipv6Layer({ scheduler, hopLimit: config.ipv6.hopLimit, reassembly: config.ipv6.reassembly, transport: { book, operators: hooks.transport, taps: taps.transport } })
    : undefined;
  const stableSecret = ipv6 === undefined ? new Uint8Array(16) : config.ipv6.stableSecret ?? globalThis.crypto.getRandomValues(new Uint8Array(16));

  // Each interface:  link ── Ethernet ──┬── 0x0806 ARP
  //                                     └── 0x0800 neighbour resolution (ARP's cache) ── IPv4
  // or, over a link of bare IP packets (TUN):  link ── point-to-point ── IPv4
  // The network boundary's taps and operators serve both families; each boundary carries only
  // its own family's items (the union is what the user's operators and observers see).
  const net4 = { taps: taps.network as unknown as TapPoint<Uint8Array, Ipv4Outbound>, hooks: hooks.network as BoundaryOperators<Uint8Array, Ipv4Outbound> | undefined };
  const net6 = { taps: taps.network as unknown as TapPoint<Uint8Array, Ipv6Outbound>, hooks: hooks.network as BoundaryOperators<Uint8Array, Ipv6Outbound> | undefined };
  const interfaces = config.interfaces.map((c, index): InterfaceLayers => {
    const iface = interfaceFromConfig(index, c);
    if (c.link.layer === 'ip') {
      const lower = between(taps.link.wrap(linkBoundary(c.link)), hooks.link);
      if (ipv6 === undefined) {
        ipv4.attach(iface, between(net4.taps.wrap(pointToPoint(lower)), net4.hooks));
        return { iface, ethernet: undefined, arp: undefined };
      }
      // Both families on the link, by the version nibble; IPv6 without Neighbour Discovery (no
      // link-layer addresses), so its static addresses are usable at once (no DAD).
      const { v4, v6 } = splitByIpVersion(lower);
      ipv4.attach(iface, between(net4.taps.wrap(pointToPoint(v4)), net4.hooks));
      ipv6.attach(iface, between(net6.taps.wrap(pointToPoint<Ipv6Outbound>(v6)), net6.hooks));
      return { iface, ethernet: undefined, arp: undefined };
    }
    const ethernet = new EthernetLayer(iface, between(taps.link.wrap(linkBoundary(c.link)), hooks.link));
    const arp = new ArpLayer(iface, ethernet.protocol(EtherType.ARP), scheduler, config.arp);
    ipv4.attach(iface, between(net4.taps.wrap(arp.resolver(ethernet.protocol(EtherType.IPV4))), net4.hooks));
    // IPv6 beside it:  Ethernet ── 0x86DD neighbour discovery (NdpLayer) ── IPv6
    // with MLD (the groups' reports) and autoconfiguration (addresses, DAD, routers) on it.
    if (ipv6 === undefined) return { iface, ethernet, arp };
    const v6 = config.ipv6;
    const ndp = new NdpLayer(iface, scheduler, v6.neighbors);
    ipv6.attach(iface, between(net6.taps.wrap(ndp.resolver(ethernet.protocol(EtherType.IPV6))), net6.hooks));
    const mld = new MldLayer(iface, ndp, ethernet, scheduler);
    const autoconf = new AutoconfLayer(iface, ndp, mld, ipv6, scheduler, {
      slaac: { dadTransmits: v6.dadTransmits, retransTimerMs: v6.neighbors.retransTimerMs, acceptRa: v6.acceptRa, slaac: v6.slaac },
      linkLocal: v6.linkLocal, secretKey: stableSecret, acceptRedirects: v6.acceptRedirects,
    });
    return { iface, ethernet, arp, ndp, mld, autoconf };
  });

  // The transports, each on its IPv4 protocol's boundary; ICMP reports errors to them.
  const icmp = new IcmpLayer(ipv4.protocol(IpProtocol.ICMP), scheduler, config.icmp, ipv4);
  const icmpv6 = ipv6 === undefined
    ? undefined
    : new Icmpv6Layer(ipv6.protocol(Ipv6NextHeader.ICMPV6), scheduler, config.ipv6.icmp, (iface) => interfaces[iface.index]?.ndp, ipv6, (iface) => interfaces[iface.index]?.mld, book);
  const over6 = (protocol: number) => (ipv6 === undefined ? undefined : { port: ipv6.protocol(protocol), book, icmp: icmpv6, records: ipv6.records(protocol) });
  const udp = new UdpLayer(ipv4.protocol(IpProtocol.UDP), config.udp, { icmp, datagrams: hooks.udp, scheduler, ipv6: over6(IpProtocol.UDP) });
  const tcp = new TcpLayer(ipv4.protocol(IpProtocol.TCP), scheduler, config.tcp, { icmp, segments: hooks.tcp, ipv6: over6(IpProtocol.TCP) });

  // A timer of the stack's held up past its time (the event loop was busy) reads what the links
  // hold first (late-wake.ts): an ACK that came meanwhile cancels its retransmission, an ARP
  // reply its resolution's failure, an echo reply its ping's timeout.
  const pollable = config.interfaces.map((c) => c.link).filter((link) => link.pollInput !== undefined);
  const unwatchHeldInput = pollable.length === 0 ? undefined : watchHeldInput(scheduler, () => {
    for (const link of pollable) link.pollInput!();
  });

  // Claim the protocols before the links start delivering.
  for (const l of interfaces) l.arp?.start();
  icmp.start();
  icmpv6?.start();
  udp.start();
  tcp.start();
  for (const r of config.routes) {
    const index = interfaces.findIndex((l) => l.iface.name === r.interface);
    ipv4.routes.add({ destination: r.destination, prefixLength: r.prefixLength, gateway: r.gateway, interfaceIndex: index });
  }
  for (const r of config.routes6) {
    const index = interfaces.findIndex((l) => l.iface.name === r.interface);
    ipv6?.routes.add({ destination: r.destination, prefixLength: r.prefixLength, gateway: r.gateway, interfaceIndex: index, origin: 'static' });
  }
  // Gratuitous ARP for every address (RFC 5227 2.4): neighbours learn or refresh our MAC.
  for (const l of interfaces) for (const a of l.iface.addresses) l.arp?.announce(a.address);
  // An address whose valid lifetime ended (RFC 4862 5.5.4) takes what is bound to it along:
  // connections and sockets on it fail with EADDRNOTAVAIL. (Deprecated ones keep working.)
  for (const l of interfaces) {
    l.autoconf?.changes$.subscribe((c) => {
      if (c.kind !== 'removed' || c.reason !== 'expired') return;
      tcp.addressRemoved(c.address);
      udp.addressRemoved(c.address);
    });
  }
  // IPv6 addresses: link-local added, all tentative until DAD passes; router solicitations.
  for (const l of interfaces) l.autoconf?.start();
  return new Stack({ config, scheduler, interfaces, ipv4, icmp, udp, tcp, ipv6, icmpv6, taps, unwatchHeldInput });
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
  /** @internal IPv6, when enabled. */
  readonly ipv6: Ipv6Layer | undefined;
  /** @internal */
  readonly icmpv6Layer: Icmpv6Layer | undefined;
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
    this.ipv6 = parts.ipv6;
    this.icmpv6Layer = parts.icmpv6;
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
    if (parts.ipv6 !== undefined) {
      r.register('ipv6', parts.ipv6.counters);
      r.register('reassembly6', parts.ipv6.reassembler.counters);
    }
    if (parts.icmpv6 !== undefined) r.register('icmpv6', parts.icmpv6.counters);
    for (const l of parts.interfaces) {
      if (l.ndp === undefined) continue;
      r.register(`ndp:${l.iface.name}`, l.ndp.counters);
      r.register(`neighbors6:${l.iface.name}`, l.ndp.cache.counters);
      if (l.mld !== undefined) r.register(`mld:${l.iface.name}`, l.mld.counters);
      if (l.autoconf !== undefined) r.register(`autoconf:${l.iface.name}`, l.autoconf.machine.counters);
    }
  }

  /** The layers, for adding to the stack: a protocol on an EtherType or an IP protocol number. */
  get layers(): { readonly interfaces: readonly InterfaceLayers[]; readonly ipv4: ProtocolMux<number, Ipv4Datagram, Ipv4Send> & Ipv4Network } {
    return { interfaces: this.#parts.interfaces, ipv4: this.#parts.ipv4 };
  }

  /**
   * Text of an `IpAddr` as TCP and UDP hooks see it (`TcpSegmentIn.datagram.src`,
   * `UdpDatagramOut.dst`...): dotted quad for IPv4, canonical IPv6 for an id of the stack's
   * address book ('?' for an id no longer held).
   */
  formatAddress(addr: IpAddr): string {
    return formatIpAddr(addr, this.#parts.tcp.book);
  }

  /**
   * An `IpAddr` for address text, as transport, TCP and UDP hooks compare and write them: the
   * number of an IPv4 address, or the id of an IPv6 address in the stack's address book,
   * interned and held for the stack's life (make the few a hook needs once, not per packet).
   * Throws ERR_INVALID_ARG_VALUE for text that is not an address (a `%zone` is not taken).
   */
  ipAddr(text: string): IpAddr {
    const p = typeof text === 'string' && !text.includes('%') ? parseIpAddr(text) : undefined;
    if (p === undefined) throw new NetstackError('ERR_INVALID_ARG_VALUE', `ipAddr: ${String(text)} is not an IPv4 or IPv6 address`);
    return p.family === 4 ? p.v4 : this.#parts.tcp.book.acquire(p.v6);
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
    const icmpv6 = this.#parts.icmpv6;
    // One ping for both families: the address says which (an IPv6 literal has a colon).
    const ping = (address: string, options?: PingOptions): Observable<EchoReply> => {
      if (typeof address !== 'string' || !address.includes(':')) return icmp.ping(address, options);
      if (icmpv6 === undefined) {
        return new Observable<EchoReply>((s) => s.error(netError('EAFNOSUPPORT', `ping: ${address} is an IPv6 address and IPv6 is not enabled on this stack`)));
      }
      return icmpv6.ping(address, options);
    };
    // Echo forwarding for both families: IPv4's and, with IPv6, ICMPv6's beside it (one
    // responder, the counters of `icmpForward` shared, maxInFlight per family).
    const forwardEcho = (responder: EchoResponder, options: EchoForwardOptions = {}): Observable<never> => {
      if (icmpv6 === undefined) return icmp.forwardEcho(responder, options);
      return new Observable<never>((subscriber) => {
        const end = { error: (err: unknown) => subscriber.error(err), complete: () => subscriber.complete() };
        const v4 = icmp.forwardEcho(responder, options).subscribe(end);
        if (v4.closed) return undefined;
        const v6 = icmpv6.forwardEcho(responder, options, icmp.forwardCounters).subscribe(end);
        return () => {
          v4.unsubscribe();
          v6.unsubscribe();
        };
      });
    };
    return { ping, forwardEcho };
  }

  /** The IPv6 neighbour (NDP) tables; empty when IPv6 is not enabled. */
  get ndp() {
    const layers = this.#parts.interfaces.filter((l): l is InterfaceLayers & { readonly ndp: NdpLayer } => l.ndp !== undefined);
    return {
      /** A snapshot of every interface's table. */
      entries: (): NdpEntryInfo[] =>
        layers.flatMap((l) =>
          l.ndp.entries().map((e) => ({ interface: l.iface.name, ip: formatIpv6(e.ip), mac: e.mac && formatMac(e.mac), state: e.state, isRouter: e.isRouter })),
        ),
      /** Changes to any interface's table as they happen. */
      changes$: new Observable<{ interface: string; change: Ipv6NeighborChange }>((subscriber) => {
        const subs = layers.map((l) => l.ndp.changes$.subscribe((change) => subscriber.next({ interface: l.iface.name, change })));
        return () => subs.forEach((s) => s.unsubscribe());
      }),
      /** Adds a static entry (never expires, never changed by NDP traffic). Default: the first interface. */
      addStatic: (ip: string, mac: string, interfaceName?: string): void => {
        const addr = parseIpv6(ip);
        const bytes = parseMac(mac);
        const problems: string[] = [];
        if (addr === undefined) problems.push(`ip: "${ip}" is not an IPv6 address`);
        if (bytes === undefined) problems.push(`mac: "${mac}" is not a MAC address`);
        const layer = interfaceName === undefined ? layers[0] : layers.find((l) => l.iface.name === interfaceName);
        if (layer === undefined) problems.push(`interface: no interface with IPv6 named "${interfaceName ?? '(any)'}"`);
        if (problems.length > 0) throw new NetstackError('ERR_INVALID_ARG_VALUE', `ndp.addStatic: ${problems.join('; ')}`);
        layer!.ndp.addStatic(addr!, bytes!);
      },
    };
  }

  /**
   * IPv6 addresses, routes and default routers of every interface, read-only (empty when IPv6
   * is not enabled): what `ip -6 addr` and `ip -6 route` show. Addresses carry their RFC 4862
   * state; `ready()` resolves when no address is tentative any more (DAD done).
   */
  get inet6() {
    const layers = this.#parts.interfaces.filter((l): l is InterfaceLayers & { readonly autoconf: AutoconfLayer } => l.autoconf !== undefined);
    const ipv6 = this.#parts.ipv6;
    const ifaces = this.#parts.interfaces;
    const addresses = (): Inet6AddressInfo[] =>
      layers.flatMap((l) =>
        l.autoconf.addresses().map((a) => ({
          interface: l.iface.name, cidr: `${formatIpv6(a.address)}/${a.prefixLength}`, address: formatIpv6(a.address), prefixLength: a.prefixLength,
          origin: a.origin, state: a.state, validUntil: a.validUntil, preferredUntil: a.preferredUntil,
        })),
      );
    const changes$ = new Observable<{ interface: string; change: Ipv6AddressChange }>((subscriber) => {
      const subs = layers.map((l) => l.autoconf.changes$.subscribe((change) => subscriber.next({ interface: l.iface.name, change })));
      return () => subs.forEach((s) => s.unsubscribe());
    });
    return {
      /** Every interface's IPv6 addresses with their states and lifetimes (a snapshot). */
      addresses,
      /** IPv6 routes beyond the interfaces' own prefixes: configured, from RAs, from redirects (a snapshot). */
      routes: (): Inet6RouteInfo[] =>
        (ipv6?.routes.entries() ?? []).map((r) => ({
          destination: `${formatIpv6(r.destination)}/${r.prefixLength}`, gateway: r.gateway && formatIpv6(r.gateway),
          interface: ifaces[r.interfaceIndex]?.iface.name ?? '?', origin: r.origin,
        })),
      /** The default router lists learnt from RAs (a snapshot). */
      routers: (): { interface: string; address: string; expiresAt: number; unreachable: boolean }[] =>
        layers.flatMap((l) => l.autoconf.routers().map((r) => ({ interface: l.iface.name, address: formatIpv6(r.address), expiresAt: r.expiresAt, unreachable: r.unreachable }))),
      /** Address changes (added, state, removed) as they happen. */
      changes$,
      /** Resolves when no address is tentative (at once when none is, or IPv6 is off). */
      ready: (): Promise<void> =>
        new Promise<void>((resolve) => {
          const done = () => !addresses().some((a) => a.state === 'tentative');
          if (done()) return resolve();
          const sub = changes$.subscribe(() => {
            if (!done()) return;
            sub.unsubscribe();
            resolve();
          });
        }),
    };
  }

  /**
   * A protocol of your own on an IPv6 next header number: packets addressed to us going up
   * (subscribing claims the number: EADDRINUSE if taken; 58 by ICMPv6), `Ipv6Send`s going
   * down. ERR_INVALID_STATE when IPv6 is not enabled.
   */
  ipv6Protocol(protocol: number): Ipv6Port {
    if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) {
      throw new NetstackError('ERR_INVALID_ARG_VALUE', `ipv6Protocol: ${protocol} is not in 0..255`);
    }
    if (this.#parts.ipv6 === undefined) throw new NetstackError('ERR_INVALID_STATE', 'ipv6Protocol: IPv6 is not enabled on this stack');
    return this.#parts.ipv6.protocol(protocol);
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
    p.unwatchHeldInput?.();
    p.tcp.close();
    p.udp.close();
    p.icmp.close();
    p.icmpv6?.close();
    p.ipv4.close();
    p.ipv6?.close();
    for (const l of p.interfaces) {
      l.arp?.close();
      l.autoconf?.close();
      l.mld?.close();
      l.ndp?.close();
      l.ethernet?.close();
      l.iface.link.close();
    }
    p.taps.link.complete();
    p.taps.network.complete();
    p.taps.transport.complete();
  }
}
