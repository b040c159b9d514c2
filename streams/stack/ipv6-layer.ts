import { Subject, Subscription, type Observable, type SchedulerLike } from 'rxjs';
import { createDemux, type Demux } from '../operators/demux.js';
import { isAssigned, type InterfaceIpv6Address, type NetInterface } from './net-interface.js';
import { Ipv6RouteTable, type Ipv6RouteEntry } from '../../src/ipv6/route-table.js';
import { between, type Boundary, type BoundaryOperators, type Sink } from '../pipeline/boundary.js';
import type { TapPoint } from '../pipeline/taps.js';
import { attachUp, attachUpDirect, reportUnhandled, UpStream, type DirectIn } from '../pipeline/up-stream.js';
import { DirectGate } from '../pipeline/direct-gate.js';
import type { InPlace } from './received-ip.js';
import { PacketSubject } from '../pipeline/packet-subject.js';
import { Ipv6Records, mappedDemux } from './ipv6-transport-boundary.js';
import type { IpDatagram, IpSend } from './ip-network.js';
import type { AddressBook } from '../../src/ip/address-book.js';
import type { ProtocolMux } from '../pipeline/protocol-mux.js';
import type { PendingPacket } from './arp-layer.js';
import { DeadlineTimer } from './deadline-timer.js';
import { refTimer } from './unref-scheduler.js';
import { emitIpv6Header, checkIpv6At, IPV6_HEADER_LEN, Ipv6NextHeader, ipv6PseudoHeaderSum } from '../../src/wire/ipv6.js';
import { segmentTcpWithPseudoSum } from '../../src/wire/tcp-segmenter.js';
import { walkIpv6Chain, IPV6_CHAIN_DEFAULTS, type Ipv6ChainLimits } from '../../src/wire/ipv6-ext.js';
import { Ipv6Reassembler, type Ipv6ExpiredDatagram } from '../../src/ipv6/reassembly.js';
import { IPV6_LIMITS } from '../../src/ipv6/config.js';
import { Ipv6PmtuCache, type Ipv6PmtuCacheConfig } from '../../src/ipv6/pmtu-cache.js';
import type { ReassemblyConfig } from '../../src/ipv4/config.js';
import { type Ipv6Addr, formatIpv6, ipv6EqualsAt, isIpv6LinkLocal, isIpv6Multicast, isIpv6Unspecified } from '../../src/ipv6/address.js';
import { IpProtocol } from '../../src/wire/ipv4.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { createCounters, countDrop } from '../../src/stats.js';
import { logger } from '../../src/log.js';
import { netError, type NetstackError } from '../../src/errors.js';

const log = logger('ipv6');

/** A received IPv6 packet addressed to us (reassembled if it came in fragments), as the protocols above see it. */
export interface Ipv6Datagram {
  readonly iface: NetInterface;
  /**
   * Views into `packet`, made when first read (the layer's records are class instances whose
   * `src` and `dst` are accessors: a spread copy `{ ...d }` leaves them out, so name them).
   */
  readonly src: Ipv6Addr;
  readonly dst: Ipv6Addr;
  /** The upper-layer protocol (after the extension headers). */
  readonly protocol: number;
  readonly hopLimit: number;
  /** The whole packet from its fixed header (ICMPv6 errors quote it). */
  readonly packet: Uint8Array;
  /** The upper-layer bytes: a view into `packet`. */
  readonly payload: Uint8Array;
  /** Offset in `packet` of the Next Header field that named `protocol` (Parameter Problem code 1 points there). */
  readonly nextHeaderAt: number;
  /** Sent to a multicast address, or in a link-level group frame: never answered with an error (RFC 4443 2.4 e). */
  readonly multicast: boolean;
  readonly reassembled: boolean;
  /**
   * The link vouched for the transport checksum (its device's checksum offload, see
   * Link.checksumVerified): the transport may skip verifying it. Never for a reassembled packet.
   */
  readonly checksumVerified: boolean;
  /** Addressed to another host and taken for a forwarder (`acceptForeign`): its destination is not ours. */
  readonly foreign: boolean;
}

/** What a protocol hands down to IPv6: its message in `pb` and where it goes. */
export interface Ipv6Send {
  readonly pb: PacketBuffer;
  readonly dst: Ipv6Addr;
  readonly protocol: number;
  /** Default: chosen from the outgoing interface (RFC 6724). Must be ours. */
  readonly src?: Ipv6Addr;
  /** Default: the stack's `ipv6.hopLimit`. */
  readonly hopLimit?: number;
  /** DSCP and ECN as the 8-bit traffic class. Default 0. */
  readonly trafficClass?: number;
  /** Outgoing interface for link-local and multicast destinations (default: the first with IPv6). */
  readonly iface?: NetInterface;
  readonly onError?: ((err: NetstackError) => void) | undefined;
}

/** A packet on its way out, IPv6 header written, before its next hop's MAC (see `Ipv6NeighborBoundary`). */
export interface Ipv6NextHopPacket extends PendingPacket {
  readonly nextHop: Ipv6Addr;
}

/**
 * What `Ipv6Layer` hands down (routed, IPv6 header written, one per fragment): the packet for a
 * next hop, with its interface, addresses and upper-layer protocol, as the `network` hook and
 * tap show it beside IPv4's `Ipv4Outbound` (tell them apart with `isIpv6Outbound`).
 */
export interface Ipv6Outbound extends Ipv6NextHopPacket {
  readonly iface: NetInterface;
  /** Views: do not write into them. */
  readonly src: Ipv6Addr;
  readonly dst: Ipv6Addr;
  /** The upper-layer protocol (also of a fragment, whose Next Header is 44). */
  readonly protocol: number;
}

/** True for an IPv6 packet at the `network` boundary (its next hop is 16 bytes, not an IPv4 number). */
export function isIpv6Outbound(o: { readonly nextHop: unknown }): o is Ipv6Outbound {
  return typeof o.nextHop !== 'number';
}

/** The boundary under IPv6 on one interface: IPv6 frames up, packets for a next hop down. */
export interface Ipv6NeighborBoundary extends Boundary<Uint8Array, Ipv6NextHopPacket> {
  /** Bytes of link header in front of each packet going up: 14 (Ethernet, when absent) or 0 (bare IP packets, `pointToPoint`). */
  readonly linkHeaderLength?: number;
}

export interface Ipv6Route {
  readonly iface: NetInterface;
  readonly nextHop: Ipv6Addr;
  readonly src: Ipv6Addr;
  /**
   * Largest IPv6 packet (headers included) that leaves by this route as one large TCP segment
   * for the link to cut (TSO, PacketBuffer.gsoSize); 0: segments of one MSS.
   */
  readonly maxGsoBytes: number;
}

/** What a protocol over IPv6 may ask besides sending. */
export interface Ipv6Network {
  isLocal(addr: Ipv6Addr): boolean;
  routeFor(dst: Ipv6Addr, iface?: NetInterface): Ipv6Route | NetstackError;
  readonly interfaces: readonly NetInterface[];
  /**
   * The largest packet towards `dst` leaving by `iface`: the interface's IPv6 MTU, or less when
   * a Packet Too Big taught so (RFC 8201).
   */
  pathMtu?(dst: Ipv6Addr, iface: NetInterface): number;
  /**
   * A Packet Too Big the protocol validated (its quote names a packet it sent, in flight): the
   * path MTU to `dst` becomes `mtu` (1280 when less) if that is lower. True when it was lowered.
   */
  packetTooBig?(dst: Ipv6Addr, mtu: number): boolean;
  /**
   * Forwarding mode for one upper-layer protocol, until the returned function is called (as
   * `Ipv4Network.acceptForeign`): its packets to ANY unicast address are delivered, marked
   * `foreign`, and anything may be sent from addresses that are not ours.
   */
  acceptForeign?(protocol: number): () => void;
}

/** The boundary between IPv6 and one upper-layer protocol, with the routing services. */
export interface Ipv6Port extends Boundary<Ipv6Datagram, Ipv6Send> {
  readonly network: Ipv6Network;
}

/** A packet the extension header walk (or reassembly) refused with a Parameter Problem to send back. */
export interface Ipv6ParamProblemEvent {
  readonly iface: NetInterface;
  /** The invoking packet from its fixed header (a view: copy to keep). */
  readonly packet: Uint8Array;
  readonly code: number;
  readonly pointer: number;
  readonly multicast: boolean;
}

/** A partial datagram given up on after its first fragment came (ICMPv6 Time Exceeded code 1). */
export interface Ipv6ReassemblyTimeout {
  readonly expired: Ipv6ExpiredDatagram;
}

export const IPV6_DROP_REASONS = [
  'truncated', 'badVersion', 'badPayloadLength', 'badSource', 'notForUs',
  /** For an address still under duplicate address detection (RFC 4862 5.4: silently discarded). */
  'tentativeAddress',
  // The extension header walk (src/wire/ipv6-ext.ts), by its reasons.
  'hopByHopNotFirst', 'unknownOption', 'excessPadding', 'tooManyOptions', 'unknownRoutingType',
  'badFragmentLength', 'fragmentTooLong', 'incompleteChain', 'nestedFragment', 'tooManyHeaders', 'chainTooLong',
  'fragmentDropped',
] as const;

function createIpv6Counters() {
  return createCounters(
    ['rxPackets', 'rxDelivered', 'rxNoNextHeader', 'rxFragments', 'rxReassembled', 'txPackets', 'txFragments', 'txSegmented', 'txErrors', 'reassemblyTimeouts',
      /** Packet Too Big messages that lowered a destination's path MTU, and those that named no lower one. */
      'pmtuLowered', 'pmtuNotLower',
      /** Packets for other hosts delivered to a forwarder (`acceptForeign`). */
      'rxForeign',
      /** Items at the transport boundary naming an address id no longer held (an operator kept them too long): dropped. */
      'unresolvedAddress'],
    IPV6_DROP_REASONS,
  );
}
export type Ipv6Counters = ReturnType<typeof createIpv6Counters>;

export interface Ipv6LayerOptions {
  readonly scheduler: SchedulerLike;
  readonly hopLimit: number;
  readonly reassembly: Readonly<Partial<ReassemblyConfig>>;
  readonly chain?: Readonly<Ipv6ChainLimits>;
  /** The path MTU cache's age and size (default 10 minutes, 1024 destinations). */
  readonly pmtu?: Readonly<Partial<Ipv6PmtuCacheConfig>>;
  /**
   * The boundary above IPv6 as the `transport` hook and tap show it, beside IPv4's: records
   * with `IpAddr` ids of `book` (see Ipv6Records). With operators, every protocol's items pass
   * through them (TCP and UDP then claim `records(n)`); with only taps, the records are made
   * while someone observes. Absent: IPv6's own items, nothing converted.
   */
  readonly transport?: {
    readonly book: AddressBook;
    readonly operators?: BoundaryOperators<IpDatagram, IpSend> | undefined;
    readonly taps?: TapPoint<IpDatagram, IpSend> | undefined;
  };
}

interface Attached {
  readonly iface: NetInterface;
  readonly down: Sink<Ipv6NextHopPacket>;
}

/**
 * IPv6 for the whole stack (RFC 8200), beside Ipv4Layer: header validation, the extension
 * header chain, reassembly, delivery to the upper-layer protocols through a keyed demux on the
 * protocol number; for output, the route (on-link prefixes, link-local, `routes`: configured
 * ones and what router advertisements teach), source address selection, the header, and fragmentation at the source.
 *
 * The common case costs no walk: when the fixed header's Next Header is TCP, UDP or ICMPv6 the
 * upper layer starts at byte 40. Anything else is walked (`walkIpv6Chain`); a walk that asks
 * for a Parameter Problem emits it on `paramProblems$` (ICMPv6 answers it, within its rules
 * and rate limit), and a protocol nobody claimed goes to `unmatched$` (Parameter Problem code 1).
 *
 * Weak host model as for IPv4: a packet for any of our unicast addresses is taken on any
 * interface; multicast only for the groups of the interface it came in by.
 */
export class Ipv6Layer implements ProtocolMux<number, Ipv6Datagram, Ipv6Send>, Ipv6Network {
  readonly counters = createIpv6Counters();
  readonly reassembler: Ipv6Reassembler;
  /**
   * Routes beyond the interfaces' own prefixes: configured ones, and what router
   * advertisements teach (on-link prefixes, the default router, redirects).
   */
  readonly routes = new Ipv6RouteTable();
  /** The path MTU per destination (RFC 8201), fed by validated Packet Too Big messages. */
  readonly pmtu: Ipv6PmtuCache;

  readonly #demux: Demux<Ipv6Datagram, number>;
  /** With transport operators: the demux of records (above them), and where records go down. */
  readonly #recordDemux: Demux<IpDatagram, number> | undefined;
  readonly #recordDown: Sink<IpSend> | undefined;
  readonly #records: Ipv6Records | undefined;
  readonly #attached: Attached[] = [];
  readonly #input$ = new PacketSubject<Ipv6Datagram>();
  readonly #down: Sink<Ipv6Send>;
  readonly #paramProblems$ = new Subject<Ipv6ParamProblemEvent>();
  readonly #reassemblyTimeouts$ = new Subject<Ipv6ReassemblyTimeout>();
  readonly #opts: Ipv6LayerOptions;
  readonly #chain: Readonly<Ipv6ChainLimits>;
  /** Per protocol number, the transport that took the direct way in (see `protocol`), and the gate of any hop above its port. */
  readonly #direct: ({ readonly handler: (d: Ipv6Datagram) => void; readonly gate: DirectGate } | undefined)[] = new Array(256).fill(undefined);
  /**
   * Open (0) while nothing may see or change a packet between #inputPacket and the protocol
   * above: no transport operator, no observer of the transport tap point or of observe$. While
   * open the protocols get `ReceivedIpv6` records (views made only when read), and a transport
   * that took the direct way is called from #inputPacket itself. Kept by those hops.
   */
  readonly #plain = new DirectGate();
  readonly #timer: DeadlineTimer;
  readonly #subscriptions: Subscription[] = [];
  /** Per protocol number: how many hold the forwarding mode (see `acceptForeign`). */
  readonly #foreign = new Uint16Array(256);
  /** Holders of the forwarding mode, every protocol: while any, foreign destinations pass the first check and we may send from any address. */
  #foreignHolders = 0;
  /** Fragment identifications (RFC 8200 4.5): a counter from a random start (RFC 7739 3.1's simplest choice). */
  #nextIdent = (Math.random() * 0x100000000) >>> 0;

  constructor(opts: Ipv6LayerOptions) {
    this.#opts = opts;
    this.#chain = opts.chain ?? IPV6_CHAIN_DEFAULTS;
    this.reassembler = new Ipv6Reassembler(opts.reassembly);
    this.pmtu = new Ipv6PmtuCache(opts.pmtu);
    // #input$ is a PacketSubject: its asObservable() is an UpStream (the demux attaches to it).
    const own: Boundary<Ipv6Datagram, Ipv6Send> = { up$: this.#input$.asObservable(), down: { next: (s: Ipv6Send) => this.#sendItem(s), partialChecksum: true } };
    const t = opts.transport;
    const records = t === undefined ? undefined : new Ipv6Records(t.book, this.counters, (a) => this.isLocal(a));
    this.#records = records;
    if (records === undefined || t === undefined || (t.operators?.up === undefined && t.operators?.down === undefined)) {
      // No operators: IPv6's own items above (shown as records to the tap's observers only).
      const above = records === undefined || t?.taps === undefined ? own : records.tapped(own, t.taps);
      this.#down = above.down;
      this.#demux = createDemux(above.up$, protocolOf, { name: 'ipv6 protocol' });
      this.#recordDemux = undefined;
      this.#recordDown = undefined;
      if (records !== undefined && t?.taps !== undefined) this.#subscriptions.push(t.taps.keepUp(this.#plain));
    } else {
      // Operators: every item crosses as a record, and the protocols that take IPv6's own
      // items (ICMPv6, the user's) get them converted back from what came out.
      const rb = records.recordBoundary(own);
      const above = between(t.taps === undefined ? rb : t.taps.wrap(rb), t.operators);
      const recordDown = above.down;
      this.#recordDemux = createDemux(above.up$, protocolOfRecord, { name: 'ipv6 protocol' });
      this.#recordDown = recordDown;
      this.#demux = mappedDemux(this.#recordDemux, (r) => records.fromRecord(r));
      this.#down = { next: (s: Ipv6Send) => recordDown.next(records.toSend(s)) };
      this.#plain.shut++; // every item crosses the operators, as a record
    }
    this.#subscriptions.push(this.#demux.keepGate(this.#plain));
    this.#timer = new DeadlineTimer(opts.scheduler, (now) => this.#expire(now));
  }

  /** The boundary of one upper-layer protocol (subscribing claims it: EADDRINUSE if taken). */
  protocol(protocol: number): Ipv6Port {
    const endpoint$ = this.#demux.endpoint(protocol);
    // With operators every item takes the long way (the gate stays shut): no direct way offered.
    if (this.#recordDemux !== undefined) return { up$: endpoint$, down: this.#down, network: this };
    // The protocol that claims the number may take the direct way in (DirectIn), as over IPv4:
    // #up, which has checked that nobody observes or changes what goes up, calls it itself.
    const direct: DirectIn<Ipv6Datagram> = {
      take: (handler, gate) => {
        const taken = { handler, gate };
        this.#direct[protocol] = taken;
        return new Subscription(() => {
          if (this.#direct[protocol] === taken) this.#direct[protocol] = undefined;
        });
      },
    };
    return { up$: new UpStream<Ipv6Datagram>((observer) => attachUp(endpoint$, observer), direct), down: this.#down, network: this };
  }

  /**
   * With operators at the transport boundary: one protocol's records (IpAddr ids, as the
   * operators left them) and where its records go down. Subscribing claims the protocol as
   * `protocol(n)` does. Undefined without operators (take `protocol(n)`).
   */
  records(protocol: number): Boundary<IpDatagram, IpSend> | undefined {
    if (this.#recordDemux === undefined || this.#recordDown === undefined) return undefined;
    return { up$: this.#recordDemux.endpoint(protocol), down: this.#recordDown };
  }

  /** Packets for a protocol nobody claimed (ICMPv6 answers Parameter Problem code 1). */
  get unmatched$(): Observable<Ipv6Datagram> {
    return this.#demux.unmatched$;
  }

  observe$(protocol?: number): Observable<Ipv6Datagram> {
    return this.#demux.observe$(protocol);
  }

  /** Packets the chain walk or reassembly refused with a Parameter Problem to answer. */
  get paramProblems$(): Observable<Ipv6ParamProblemEvent> {
    return this.#paramProblems$.asObservable();
  }

  get reassemblyTimeouts$(): Observable<Ipv6ReassemblyTimeout> {
    return this.#reassemblyTimeouts$.asObservable();
  }

  get interfaces(): readonly NetInterface[] {
    return this.#attached.filter((a) => a !== undefined).map((a) => a.iface);
  }

  /** Runs IPv6 on an interface, over the boundary below it (`NdpLayer.resolver()`). */
  attach(iface: NetInterface, lower: Ipv6NeighborBoundary): void {
    this.#attached[iface.index] = { iface, down: lower.down };
    // A link of bare IP packets (TUN) has no link header, and no link-level multicast either.
    const input = lower.linkHeaderLength === 0
      ? (packet: Uint8Array) => this.#inputPacket(iface, packet, 0, false, iface.link.checksumVerified?.(packet) === true)
      : (frame: Uint8Array) => this.#inputFrame(iface, frame);
    // The frames may come past the hops below by the direct way in (DirectIn) while unobserved.
    this.#subscriptions.push(attachUpDirect(lower.up$, input));
  }

  acceptForeign(protocol: number): () => void {
    this.#foreign[protocol]++;
    this.#foreignHolders++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#foreign[protocol]--;
      this.#foreignHolders--;
    };
  }

  /** True when `addr` is one of our assigned addresses (a tentative one is not, RFC 4862 5.4). */
  isLocal(addr: Ipv6Addr): boolean {
    return this.#isLocalAt(addr, 0);
  }

  /**
   * The interface, next hop and source towards `dst`: a multicast or link-local destination
   * leaves by `iface` (default: the first interface with IPv6); a global one by the interface
   * whose static prefix holds it, else by the longest matching route (`routes`: configured,
   * on-link prefixes and the default router from RAs). Else ENETUNREACH.
   */
  routeFor(dst: Ipv6Addr, iface?: NetInterface): Ipv6Route | NetstackError {
    const out = this.#outInterface(dst, iface);
    if (out === undefined) return netError('ENETUNREACH', `no route to ${formatIpv6(dst)}`);
    const src = out.ipv6SourceFor(dst);
    if (src === undefined) return netError('EADDRNOTAVAIL', `interface ${out.name} has no usable IPv6 address`);
    return { iface: out, nextHop: this.#nextHop, src, maxGsoBytes: this.#attached[out.index]?.down.maxGsoBytes ?? 0 };
  }

  /**
   * The route cache: the last destination `send` routed (its bytes as four int32 words: a
   * flow's packets repeat it, and comparing words costs less than routing), with the `iface`
   * it was asked for, the interface and next hop found (the destination itself when on-link:
   * then the packet's own array is used), and whether the destination is one of our addresses
   * in any state. Good while `#stamp()` stays: routes, interfaces and their address lists
   * unchanged (address states are read per packet).
   */
  #rc0 = 0; #rc1 = 0; #rc2 = 0; #rc3 = 0;
  #rcIfaceArg: NetInterface | undefined = undefined;
  #rcStamp = -1;
  #rcIface: NetInterface | undefined = undefined;
  #rcNextHop: Ipv6Addr = new Uint8Array(16);
  #rcNextHopIsDst = false;
  #rcDstOurs = false;
  /** The last source `send` checked (four words), the stamp then and the address entry that proved it ours. */
  #sc0 = 0; #sc1 = 0; #sc2 = 0; #sc3 = 0;
  #scStamp = -1;
  #scEntry: InterfaceIpv6Address | undefined = undefined;

  /** A number that changes whenever a route, an interface or an interface's address list does. */
  #stamp(): number {
    const list = this.#attached;
    let n = this.routes.version + list.length;
    for (let i = 0; i < list.length; i++) if (list[i] !== undefined) n += list[i].iface.ipv6Generation;
    return n;
  }

  /** Our address entry for `addr` on any interface (only an assigned one when `assigned`). */
  #ownEntry(addr: Ipv6Addr, assigned: boolean): InterfaceIpv6Address | undefined {
    const list = this.#attached;
    for (let i = 0; i < list.length; i++) {
      if (list[i] === undefined) continue;
      const addrs = list[i].iface.ipv6Addresses;
      for (let j = 0; j < addrs.length; j++) {
        const a = addrs[j];
        if (ipv6EqualsAt(a.address, 0, addr, 0) && (!assigned || isAssigned(a))) return a;
      }
    }
    return undefined;
  }

  /** The next hop #outInterface found (a field, not a record: it runs for every packet sent). */
  #nextHop: Ipv6Addr = new Uint8Array(16);

  /**
   * The interface towards `dst` (see routeFor), its next hop left in `#nextHop`; undefined when
   * there is none. Plain loops, no closure or record: every packet sent is routed.
   */
  #outInterface(dst: Ipv6Addr, iface: NetInterface | undefined): NetInterface | undefined {
    const list = this.#attached;
    this.#nextHop = dst;
    if (isIpv6Multicast(dst) || isIpv6LinkLocal(dst)) {
      if (iface !== undefined) return iface;
      for (let i = 0; i < list.length; i++) if (list[i] !== undefined && list[i].iface.ipv6Addresses.length > 0) return list[i].iface;
      return undefined;
    }
    for (let i = 0; i < list.length; i++) if (list[i] !== undefined && list[i].iface.ipv6AddressAt(dst) !== undefined) return list[i].iface;
    for (let i = 0; i < list.length; i++) if (list[i] !== undefined && list[i].iface.isIpv6OnLink(dst)) return list[i].iface;
    const r = this.routes.lookup(dst);
    if (r === undefined) return undefined;
    if (r.gateway !== undefined) this.#nextHop = r.gateway;
    return list[r.interfaceIndex]?.iface;
  }

  pathMtu(dst: Ipv6Addr, iface: NetInterface): number {
    const learnt = this.pmtu.get(dst, 0, this.#opts.scheduler.now());
    return learnt === undefined || learnt > iface.ipv6Mtu ? iface.ipv6Mtu : learnt;
  }

  packetTooBig(dst: Ipv6Addr, mtu: number): boolean {
    const route = this.routeFor(dst);
    const linkMtu = 'iface' in route ? route.iface.ipv6Mtu : IPV6_LIMITS.MAX_PAYLOAD;
    const now = this.#opts.scheduler.now();
    this.pmtu.expire(now);
    const lowered = this.pmtu.packetTooBig(dst, mtu, linkMtu, now) === 'lowered';
    if (lowered) this.counters.pmtuLowered++;
    else this.counters.pmtuNotLower++;
    if (lowered && log.enabled) log('path MTU to %s: %d', formatIpv6(dst), this.pmtu.get(dst, 0, now));
    return lowered;
  }

  /** Sets (or with `router` undefined, clears) the default route learnt from RAs on `iface`. */
  setDefaultRouter(iface: NetInterface, router: Ipv6Addr | undefined): void {
    this.routes.remove((r) => r.interfaceIndex === iface.index && r.origin === 'ra' && r.prefixLength === 0);
    if (router !== undefined) this.routes.add({ destination: new Uint8Array(16), prefixLength: 0, gateway: router, interfaceIndex: iface.index, origin: 'ra' });
  }

  /** An RA's on-link prefix on `iface` comes (`present`) or goes. */
  setOnLinkPrefix(iface: NetInterface, prefix: Ipv6Addr, prefixLength: number, present: boolean): void {
    const route: Ipv6RouteEntry = { destination: prefix, prefixLength, gateway: undefined, interfaceIndex: iface.index, origin: 'ra' };
    if (present) this.routes.add(route);
    else this.routes.remove((r) => r.interfaceIndex === iface.index && r.origin === 'ra' && r.prefixLength === prefixLength && r.gateway === undefined && ipv6EqualsAt(r.destination, 0, prefix, 0));
  }

  /**
   * @internal (protocols use their port's `down`) Routes the message in `pb`, prepends the
   * IPv6 header (fragmenting at the source when it exceeds the path MTU: the interface's, or
   * what a Packet Too Big taught) and hands it to the neighbour boundary. Returns the error
   * known at once; later ones go to `onError`.
   */
  send(s: Ipv6Send): NetstackError | undefined {
    const stamp = this.#stamp();
    const d = s.dst;
    const d0 = word32(d, 0);
    const d1 = word32(d, 4);
    const d2 = word32(d, 8);
    const d3 = word32(d, 12);
    let iface: NetInterface;
    let nextHop: Ipv6Addr;
    let dstOurs: boolean;
    if (d3 === this.#rc3 && d2 === this.#rc2 && d1 === this.#rc1 && d0 === this.#rc0 && s.iface === this.#rcIfaceArg && stamp === this.#rcStamp) {
      iface = this.#rcIface!;
      nextHop = this.#rcNextHopIsDst ? d : this.#rcNextHop;
      dstOurs = this.#rcDstOurs;
    } else {
      const out = this.#outInterface(d, s.iface);
      if (out === undefined) {
        this.counters.txErrors++;
        return netError('ENETUNREACH', `no route to ${formatIpv6(d)}`);
      }
      iface = out;
      nextHop = this.#nextHop;
      dstOurs = !isIpv6Multicast(d) && this.#ownEntry(d, false) !== undefined;
      this.#rc0 = d0; this.#rc1 = d1; this.#rc2 = d2; this.#rc3 = d3;
      this.#rcIfaceArg = s.iface;
      this.#rcStamp = stamp;
      this.#rcIface = iface;
      this.#rcNextHop = nextHop;
      this.#rcNextHopIsDst = nextHop === d;
      this.#rcDstOurs = dstOurs;
    }
    let src: Ipv6Addr;
    const given = s.src;
    if (given !== undefined && !isIpv6Unspecified(given)) {
      // The sender's source (a connection's): checked, not chosen again. The entry that proved
      // it ours last time still does while it is assigned and no address came or went.
      const s0 = word32(given, 0);
      const s1 = word32(given, 4);
      const s2 = word32(given, 8);
      const s3 = word32(given, 12);
      if (s3 !== this.#sc3 || s2 !== this.#sc2 || s1 !== this.#sc1 || s0 !== this.#sc0 || stamp !== this.#scStamp || !isAssigned(this.#scEntry!)) {
        const entry = this.#ownEntry(given, true);
        if (entry !== undefined) {
          this.#sc0 = s0; this.#sc1 = s1; this.#sc2 = s2; this.#sc3 = s3;
          this.#scStamp = stamp;
          this.#scEntry = entry;
        } else if (this.#foreignHolders === 0) {
          // Not ours; only a forwarder answers (and refuses, by ICMPv6) from the addresses its
          // flows were sent to.
          this.counters.txErrors++;
          return netError('EADDRNOTAVAIL', `${formatIpv6(given)} is not a local address`);
        }
      }
      src = given;
    } else {
      const chosen = iface.ipv6SourceFor(s.dst);
      if (chosen === undefined) {
        this.counters.txErrors++;
        return netError('EADDRNOTAVAIL', `interface ${iface.name} has no usable IPv6 address`);
      }
      src = chosen;
    }
    const maxGsoBytes = this.#attached[iface.index]?.down.maxGsoBytes ?? 0;
    // To one of our own addresses: looped back (asked once per packet, for #out and TSO alike;
    // the address scan only when the destination is one of ours in some state).
    const local = dstOurs && this.isLocal(s.dst);
    const hopLimit = s.hopLimit ?? this.#opts.hopLimit;
    const tc = s.trafficClass ?? 0;
    const pb = s.pb;
    const length = pb.length;
    // The path MTU when a Packet Too Big lowered it (one lookup, none while the cache is empty).
    const mtu = this.pmtu.size === 0 ? iface.ipv6Mtu : this.pathMtu(s.dst, iface);
    if (pb.gsoSize > 0) {
      // A large TCP segment (TSO): whole to a link that cuts it, else cut here (never fragmented).
      if (IPV6_HEADER_LEN + length <= maxGsoBytes && pb.csumStart >= 0 && s.protocol === IpProtocol.TCP && !local) {
        emitIpv6Header({ src, dst: s.dst, nextHeader: s.protocol, hopLimit, dscp: tc >>> 2, ecn: tc & 3 }, pb);
        this.#out(iface, nextHop, src, s.dst, s.protocol, pb, s.onError, local);
        return undefined;
      }
      this.#segment(s, src);
      return undefined;
    }
    if (IPV6_HEADER_LEN + length <= mtu) {
      emitIpv6Header({ src, dst: s.dst, nextHeader: s.protocol, hopLimit, dscp: tc >>> 2, ecn: tc & 3 }, pb);
      this.#out(iface, nextHop, src, s.dst, s.protocol, pb, s.onError, local);
      return undefined;
    }
    // Source fragmentation (RFC 8200 4.5): 8-byte units, every fragment but the last full.
    if (length > IPV6_LIMITS.MAX_PAYLOAD - IPV6_LIMITS.FRAGMENT_HEADER) {
      this.counters.txErrors++;
      return netError('EMSGSIZE', `packet of ${length} bytes exceeds the IPv6 maximum`);
    }
    pb.completeChecksum();
    const data = pb.bytes();
    const per = Math.floor((mtu - IPV6_HEADER_LEN - IPV6_LIMITS.FRAGMENT_HEADER) / IPV6_LIMITS.FRAGMENT_UNIT) * IPV6_LIMITS.FRAGMENT_UNIT;
    const ident = this.#nextIdent;
    this.#nextIdent = (this.#nextIdent + 1) >>> 0;
    for (let offset = 0; offset < length; offset += per) {
      const end = Math.min(length, offset + per);
      const more = end < length;
      const frag = PacketBuffer.withPayload(data.subarray(offset, end));
      const at = frag.prepend(IPV6_LIMITS.FRAGMENT_HEADER);
      const b = frag.buf;
      b[at] = s.protocol;
      b[at + 1] = 0;
      const field = offset | (more ? 1 : 0); // offset in 8-byte units sits in the high 13 bits
      b[at + 2] = field >>> 8;
      b[at + 3] = field & 0xff;
      b[at + 4] = ident >>> 24;
      b[at + 5] = (ident >>> 16) & 0xff;
      b[at + 6] = (ident >>> 8) & 0xff;
      b[at + 7] = ident & 0xff;
      emitIpv6Header({ src, dst: s.dst, nextHeader: Ipv6NextHeader.FRAGMENT, hopLimit, dscp: tc >>> 2, ecn: tc & 3 }, frag);
      this.counters.txFragments++;
      this.#out(iface, nextHop, src, s.dst, s.protocol, frag, s.onError, local);
    }
    return undefined;
  }

  close(): void {
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions.length = 0;
    this.#timer.close();
    this.#input$.complete();
    this.#paramProblems$.complete();
    this.#reassemblyTimeouts$.complete();
    this.reassembler.clear();
    this.pmtu.clear();
    this.#records?.close();
  }

  /**
   * Cuts a large TCP segment into segments of `pb.gsoSize` payload bytes (their checksums left
   * partial for what is below, or completed by #out) and sends each as its own packet.
   */
  #segment(s: Ipv6Send, src: Ipv6Addr): void {
    const gsoSize = s.pb.gsoSize;
    s.pb.gsoSize = 0;
    this.counters.txSegmented++;
    const pseudo = ipv6PseudoHeaderSum(src, 0, s.dst, 0, IpProtocol.TCP, 0);
    segmentTcpWithPseudoSum(s.pb, gsoSize, pseudo, true, (piece) => {
      const err = this.send({ ...s, pb: piece, src });
      if (err !== undefined) s.onError?.(err);
    });
  }

  #sendItem(s: Ipv6Send): void {
    const err = this.send(s);
    if (err !== undefined) s.onError?.(err);
  }

  /** `local`: the destination is one of our own unicast addresses (looped back, never on the link). */
  #out(iface: NetInterface, nextHop: Ipv6Addr, src: Ipv6Addr, dst: Ipv6Addr, protocol: number, pb: PacketBuffer, onError: ((err: NetstackError) => void) | undefined, local: boolean): void {
    this.counters.txPackets++;
    const attached = this.#attached[iface.index];
    if (attached === undefined) return;
    if (local) {
      // Loopback: a packet to one of our own addresses never touches the link.
      pb.completeChecksum();
      const bytes = pb.bytes().slice();
      refTimer(this.#opts.scheduler.schedule(() => this.#inputPacket(iface, bytes, 0, false, false)));
      return;
    }
    const down = attached.down;
    if (down.partialChecksum !== true) pb.completeChecksum();
    const item: Ipv6Outbound = { nextHop, pb, onError, iface, src, dst, protocol };
    down.next(item);
  }

  #inputFrame(iface: NetInterface, frame: Uint8Array): void {
    // The group bit of the destination MAC: a link-level multicast or broadcast frame.
    // A link with checksum offload may vouch for the transport checksum of the frame it delivered.
    // Read in place, from byte 14: no view of the IPv6 part is made.
    this.#inputPacket(iface, frame, 14, (frame[0] & 1) !== 0, iface.link.checksumVerified?.(frame) === true);
  }

  /** The IPv6 packet in `bytes` from `at` on (14 in an Ethernet frame, 0 for a bare packet). */
  #inputPacket(iface: NetInterface, bytes: Uint8Array, at: number, linkMulticast: boolean, checksumVerified: boolean): void {
    const c = this.counters;
    c.rxPackets++;
    const reason = checkIpv6At(bytes, at);
    if (reason !== undefined) {
      countDrop(c, reason);
      if (log.enabled) log('%s: drop malformed (%s)', iface.name, reason);
      return;
    }
    const dstAt = at + 24;
    let multicast = linkMulticast;
    let foreign = false;
    if (bytes[dstAt] === 0xff) {
      if (!iface.isIpv6GroupMember(bytes, dstAt)) {
        c.drops.notForUs++;
        return;
      }
      multicast = true;
    } else {
      const own = iface.ipv6AddressAt(bytes, dstAt);
      if (own === undefined && this.#foreignHolders !== 0 && !this.#isLocalAt(bytes, dstAt) && !isIpv6Unspecified(bytes.subarray(dstAt, dstAt + 16))) {
        foreign = true; // for another host: a forwarder may take it (its protocol is checked past the chain)
      } else if (own !== undefined ? !isAssigned(own) : !this.#isLocalAt(bytes, dstAt)) {
        if (own !== undefined) c.drops.tentativeAddress++;
        else c.drops.notForUs++;
        if (log.enabled) log('%s: drop packet for %s', iface.name, formatIpv6(bytes, dstAt));
        return;
      }
    }
    // RFC 4291 2.7: a multicast address is never a source.
    if (bytes[at + 8] === 0xff) {
      c.drops.badSource++;
      return;
    }
    // Without the link's padding: the packet ends where its payload length says.
    const end = at + IPV6_HEADER_LEN + ((bytes[at + 4] << 8) | bytes[at + 5]);
    const nh = bytes[at + 6];
    if (nh === IpProtocol.TCP || nh === IpProtocol.UDP || nh === Ipv6NextHeader.ICMPV6) {
      // The common case: no extension header, the upper layer at byte 40, read in place.
      if (foreign && !this.#takeForeign(nh)) return;
      c.rxDelivered++;
      this.#up(iface, bytes, at, at + IPV6_HEADER_LEN, end, nh, 6, multicast, false, foreign, checksumVerified, true);
      return;
    }
    // The packet itself when it is all of `bytes` (a bare packet, no padding): no view made.
    this.#deliver(iface, at === 0 && end === bytes.length ? bytes : bytes.subarray(at, end), multicast, false, foreign);
  }

  /** Past the checks on the fixed header, a packet with extension headers: the chain, reassembly, the demux. */
  #deliver(iface: NetInterface, packet: Uint8Array, multicast: boolean, reassembled: boolean, foreign: boolean): void {
    const c = this.counters;
    const nh = packet[6];
    if (nh === IpProtocol.TCP || nh === IpProtocol.UDP || nh === Ipv6NextHeader.ICMPV6) {
      // A reassembled packet without other extension headers.
      if (foreign && !this.#takeForeign(nh)) return;
      c.rxDelivered++;
      this.#up(iface, packet, 0, IPV6_HEADER_LEN, packet.length, nh, 6, multicast, reassembled, foreign, false, false);
      return;
    }
    const walk = walkIpv6Chain(packet, this.#chain);
    switch (walk.kind) {
      case 'drop':
        countDrop(c, walk.reason);
        if (log.enabled) log('%s: drop (%s)', iface.name, walk.reason);
        if (walk.icmp !== undefined) this.#paramProblems$.next({ iface, packet, code: walk.icmp.code, pointer: walk.icmp.pointer, multicast });
        return;
      case 'upper':
        if (walk.protocol === Ipv6NextHeader.NO_NEXT_HEADER) {
          c.rxNoNextHeader++; // RFC 8200 4.7: nothing to deliver, and nothing to answer
          return;
        }
        if (foreign && !this.#takeForeign(walk.protocol)) return;
        c.rxDelivered++;
        this.#up(iface, packet, 0, walk.offset, packet.length, walk.protocol, walk.nextHeaderAt, multicast, reassembled, foreign, false, false);
        return;
      case 'fragment': {
        c.rxFragments++;
        const now = this.#opts.scheduler.now();
        const r = this.reassembler.add(packet, walk.fragment, now);
        if (r.kind === 'dropped') {
          c.drops.fragmentDropped++;
          if (log.enabled) log('%s: fragment dropped (%s)', iface.name, r.reason);
          if (r.icmp !== undefined) this.#paramProblems$.next({ iface, packet, code: r.icmp.code, pointer: r.icmp.pointer, multicast });
        } else if (r.kind === 'complete') {
          c.rxReassembled++;
          this.#deliver(iface, r.packet, multicast, true, foreign);
        }
        this.#timer.set(this.reassembler.nextDeadline());
        return;
      }
    }
  }

  /**
   * A checked packet (at `bytes[at..end)`, its upper layer from `payloadAt`) up to its protocol.
   * On the plain stack (#plain open) as a `ReceivedIpv6` (views made only when read), straight
   * to the transport that took the direct way when `direct` allows (a packet without extension
   * headers: the others take the long way); else, while anyone may copy it with a spread (an
   * observer, an operator), with every field a plain property.
   */
  #up(
    iface: NetInterface, bytes: Uint8Array, at: number, payloadAt: number, end: number, protocol: number, nextHeaderAt: number,
    multicast: boolean, reassembled: boolean, foreign: boolean, checksumVerified: boolean, direct: boolean,
  ): void {
    if (this.#plain.shut === 0) {
      const d = new ReceivedIpv6(iface, bytes, at, payloadAt, end, protocol, nextHeaderAt, multicast, reassembled, checksumVerified, foreign);
      const taken = direct ? this.#direct[protocol] : undefined;
      if (taken === undefined || taken.gate.shut !== 0) {
        this.#input$.next(d);
        return;
      }
      try {
        taken.handler(d);
      } catch (err) {
        reportUnhandled(err);
      }
      return;
    }
    const packet = at === 0 && end === bytes.length ? bytes : bytes.subarray(at, end);
    this.#input$.next({
      iface, src: packet.subarray(8, 24), dst: packet.subarray(24, 40), protocol, hopLimit: packet[7], packet, payload: packet.subarray(payloadAt - at),
      nextHeaderAt, multicast, reassembled, checksumVerified, foreign,
    });
  }

  /** A packet for another host: delivered when a forwarder holds its protocol, else dropped as not for us. */
  #takeForeign(protocol: number): boolean {
    if (this.#foreign[protocol] === 0) {
      this.counters.drops.notForUs++;
      return false;
    }
    this.counters.rxForeign++;
    return true;
  }

  #isLocalAt(bytes: Uint8Array, offset: number): boolean {
    const list = this.#attached;
    for (let i = 0; i < list.length; i++) {
      if (list[i] === undefined) continue;
      const a = list[i].iface.ipv6AddressAt(bytes, offset);
      if (a !== undefined && isAssigned(a)) return true;
    }
    return false;
  }

  #expire(now: number): void {
    for (const e of this.reassembler.expire(now)) {
      this.counters.reassemblyTimeouts++;
      if (e.firstPacket !== undefined) this.#reassemblyTimeouts$.next({ expired: e });
    }
    this.#timer.set(this.reassembler.nextDeadline());
  }
}

/**
 * @internal A received `Ipv6Datagram` as the layer hands it to the stack's own protocols while
 * nothing observes the hops above (see #up): read in place, like IPv4's record (InPlace,
 * received-ip.ts: the same shape), so the views of its addresses, packet and payload are made
 * only when read.
 * TCP and UDP read their segment from `frame` between `payloadAt` and `payloadEnd`, and the
 * addresses at `headerAt + 8` and `+ 24`, so a segment costs no view of the IP packet. The
 * views are accessors on the prototype: a spread copy (`{ ...d }`) leaves them out.
 */
export class ReceivedIpv6 implements Ipv6Datagram, InPlace {
  readonly hopLimit: number;
  readonly #bytes: Uint8Array;
  readonly #headerAt: number;
  readonly #payloadAt: number;
  readonly #end: number;
  #src: Ipv6Addr | undefined = undefined;
  #dst: Ipv6Addr | undefined = undefined;
  #packet: Uint8Array | undefined = undefined;
  #payload: Uint8Array | undefined = undefined;

  constructor(
    readonly iface: NetInterface,
    bytes: Uint8Array,
    headerAt: number,
    payloadAt: number,
    end: number,
    readonly protocol: number,
    readonly nextHeaderAt: number,
    readonly multicast: boolean,
    readonly reassembled: boolean,
    readonly checksumVerified: boolean,
    readonly foreign: boolean,
  ) {
    this.#bytes = bytes;
    this.#headerAt = headerAt;
    this.#payloadAt = payloadAt;
    this.#end = end;
    this.hopLimit = bytes[headerAt + 7];
  }

  get frame(): Uint8Array {
    return this.#bytes;
  }

  get headerAt(): number {
    return this.#headerAt;
  }

  get payloadAt(): number {
    return this.#payloadAt;
  }

  get payloadEnd(): number {
    return this.#end;
  }

  get payload(): Uint8Array {
    return (this.#payload ??= this.#bytes.subarray(this.#payloadAt, this.#end));
  }

  get src(): Ipv6Addr {
    return (this.#src ??= this.#bytes.subarray(this.#headerAt + 8, this.#headerAt + 24));
  }

  get dst(): Ipv6Addr {
    return (this.#dst ??= this.#bytes.subarray(this.#headerAt + 24, this.#headerAt + 40));
  }

  get packet(): Uint8Array {
    if (this.#packet === undefined) {
      const bytes = this.#bytes;
      const at = this.#headerAt;
      const end = this.#end;
      this.#packet = at === 0 && end === bytes.length ? bytes : bytes.subarray(at, end);
    }
    return this.#packet;
  }
}

/** Four bytes as an int32 (the route cache compares addresses by words). */
function word32(b: Uint8Array, i: number): number {
  return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3];
}

function protocolOf(d: Ipv6Datagram): number {
  return d.protocol;
}

function protocolOfRecord(d: IpDatagram): number {
  return d.protocol;
}
