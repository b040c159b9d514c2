import { interval, map, Observable, type SchedulerLike } from 'rxjs';
import { NetInterface } from './net-interface.js';
import { EthernetLayer, type EthernetHooks } from './ethernet-layer.js';
import { ArpLayer } from './arp-layer.js';
import { Ipv4Layer, type Ipv4Hooks } from './ipv4-layer.js';
import { IcmpLayer, type EchoReply, type PingOptions } from './icmp-layer.js';
import { UdpLayer, type Udp } from './udp-layer.js';
import { TcpLayer, type Tcp } from './tcp-layer.js';
import type { Link } from '../links/link.js';
import { decodeStackConfig, type StackConfigInput, type DecodedStackConfig } from '../../src/config/stack-config.js';
import { StatsRegistry, frozenCopy, type StatsSnapshot } from '../../src/stats.js';
import { randomMac, parseMac, formatMac } from '../../src/mac.js';
import { parseIpv4, formatIpv4 } from '../../src/ipv4/address.js';
import { NetstackError } from '../../src/errors.js';
import type { NeighborChange } from '../../src/arp/neighbor-cache.js';
import { unrefScheduler } from './unref-scheduler.js';

/** Operators a user inserts into the stack's pipelines (the netfilter idea). */
export interface StackHooks {
  /** Frames as they come off any link (before the destination-MAC filter). */
  readonly linkIngress?: EthernetHooks['ingress'];
  /** Frames about to be written to any link. */
  readonly linkEgress?: EthernetHooks['egress'];
  /** Datagrams addressed to us, before the transports. */
  readonly ipv4Input?: Ipv4Hooks['input'];
  /** Packets we send, after routing, before ARP. */
  readonly ipv4Output?: Ipv4Hooks['output'];
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

/** What each interface carries in the stack. */
interface InterfaceLayers {
  readonly iface: NetInterface;
  readonly eth: EthernetLayer;
  readonly arp: ArpLayer;
}

/**
 * A running stack: interfaces with their Ethernet and ARP layers, one IPv4 layer, ICMP, and the
 * transports. Created by `createStack`, which validates the configuration first.
 */
export class Stack {
  readonly config: DecodedStackConfig<Link>;
  readonly scheduler: SchedulerLike;
  readonly interfaces: readonly NetInterface[];
  readonly ipv4: Ipv4Layer;
  readonly icmpLayer: IcmpLayer;
  readonly udpLayer: UdpLayer;
  /** UDP: `bind(options)`, `bind$(options)`. */
  readonly udp: Udp;
  readonly tcpLayer: TcpLayer;
  /** TCP: `listen(options)`, `connect(options)`. */
  readonly tcp: Tcp;
  readonly statsRegistry = new StatsRegistry();
  readonly #layers: InterfaceLayers[] = [];
  #closed = false;

  constructor(config: DecodedStackConfig<Link>, options: StackOptions = {}) {
    this.config = config;
    const scheduler = options.scheduler ?? unrefScheduler;
    this.scheduler = scheduler;
    const hooks = options.hooks ?? {};
    this.ipv4 = new Ipv4Layer({
      scheduler,
      defaultTtl: config.ipv4.defaultTtl,
      reassembly: config.ipv4.reassembly,
      idTableSize: config.ipv4.idTableSize,
      hooks: { input: hooks.ipv4Input, output: hooks.ipv4Output },
    });
    const ifaces: NetInterface[] = [];
    config.interfaces.forEach((c, index) => {
      // Configured, else what the link prescribes, else a random locally administered one.
      const mac = c.mac ?? c.link.mac?.slice() ?? randomMac();
      const iface = new NetInterface(index, c.name, c.link, mac, Math.min(c.mtu, c.link.mtu ?? c.mtu));
      for (const a of c.ipv4) iface.addAddress(a.address, a.prefixLength);
      const eth = new EthernetLayer(iface, { ingress: hooks.linkIngress, egress: hooks.linkEgress });
      const arp = new ArpLayer(iface, eth, scheduler, config.arp);
      this.#layers.push({ iface, eth, arp });
      ifaces.push(iface);
      this.statsRegistry.register(`eth:${c.name}`, eth.counters);
      this.statsRegistry.register(`arp:${c.name}`, arp.counters);
      this.statsRegistry.register(`neighbors:${c.name}`, arp.cache.counters);
    });
    this.interfaces = ifaces;
    this.icmpLayer = new IcmpLayer(this.ipv4, scheduler, config.icmp);
    this.statsRegistry.register('ipv4', this.ipv4.counters);
    this.statsRegistry.register('reassembly', this.ipv4.reassembler.counters);
    this.statsRegistry.register('icmp', this.icmpLayer.counters);
    this.udpLayer = new UdpLayer(this.ipv4, this.icmpLayer, config.udp);
    const udp = this.udpLayer;
    this.udp = Object.freeze({ bind: udp.bind.bind(udp), bind$: udp.bind$.bind(udp) });
    this.statsRegistry.register('udp', this.udpLayer.counters);
    this.tcpLayer = new TcpLayer(this.ipv4, this.icmpLayer, scheduler, config.tcp);
    const tcp = this.tcpLayer;
    this.tcp = Object.freeze({ listen: tcp.listen.bind(tcp), connect: tcp.connect.bind(tcp) });
    this.statsRegistry.register('tcp', this.tcpLayer.counters);

    // Claim the protocol keys before the links start delivering.
    for (const l of this.#layers) {
      l.arp.start();
      this.ipv4.attach(l.iface, l.eth, l.arp);
    }
    this.icmpLayer.start();
    this.udpLayer.start();
    this.tcpLayer.start();
    for (const r of config.routes) {
      const index = ifaces.findIndex((i) => i.name === r.interface);
      this.ipv4.routes.add({ destination: r.destination, prefixLength: r.prefixLength, gateway: r.gateway, interfaceIndex: index });
    }
    // Gratuitous ARP for every address (RFC 5227 2.4): neighbours learn or refresh our MAC.
    for (const l of this.#layers) for (const a of l.iface.addresses) l.arp.announce(a.address);
  }

  /** ICMP: `ping(address, options)`. */
  get icmp(): { ping(address: string, options?: PingOptions): Observable<EchoReply> } {
    return { ping: (address, options) => this.icmpLayer.ping(address, options) };
  }

  /** The neighbour (ARP) tables. */
  get arp() {
    const layers = this.#layers;
    return {
      /** A snapshot of every interface's table. */
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

  /** Frames of a custom EtherType on an interface (claims it). */
  ethernetProtocol$(ethertype: number, interfaceName?: string): Observable<Uint8Array> {
    const layer = interfaceName === undefined ? this.#layers[0] : this.#layers.find((l) => l.iface.name === interfaceName);
    if (layer === undefined) throw new NetstackError('ERR_INVALID_ARG_VALUE', `no interface named "${interfaceName}"`);
    return layer.eth.protocol$(ethertype);
  }

  /** A frozen copy of every counter, drops by reason. */
  stats(): StatsSnapshot {
    // Per-connection TCP counters are summed at snapshot time (closed connections included).
    return Object.freeze({ ...this.statsRegistry.snapshot(), tcpConnections: frozenCopy(this.tcpLayer.connectionCounters()) });
  }

  /** `stats()` every `periodMs` on the stack's scheduler. */
  stats$(periodMs = 1000): Observable<StatsSnapshot> {
    return interval(periodMs, this.scheduler).pipe(map(() => this.stats()));
  }

  /** Stops every layer and closes every link. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.tcpLayer.close();
    this.udpLayer.close();
    this.icmpLayer.close();
    this.ipv4.close();
    for (const l of this.#layers) {
      l.arp.close();
      l.eth.close();
      l.iface.link.close();
    }
  }
}

/**
 * Creates a stack. The configuration is validated at once: a bad one throws a NetstackError
 * (code ERR_INVALID_CONFIG) naming every bad field.
 */
export function createStack(config: StackConfigInput<Link>, options: StackOptions = {}): Stack {
  return new Stack(decodeStackConfig<Link>(config), options);
}
