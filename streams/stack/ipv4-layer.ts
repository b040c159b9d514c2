import { RecordLender, NO_PACKET } from '../pipeline/lent-record.js';
import { Observable, Subject, Subscription, type SchedulerLike } from 'rxjs';
import { createDemux, type Demux } from '../operators/demux.js';
import type { NetInterface } from './net-interface.js';
import type { FrameOut, NeighborBoundary } from './arp-layer.js';
import type { PacketOut } from './point-to-point.js';
import { DeadlineTimer } from './deadline-timer.js';
import { between, type Boundary, type BoundaryOperators, type FusedOut, type Sink } from '../pipeline/boundary.js';
import type { ProtocolMux } from '../pipeline/protocol-mux.js';
import type { TapPoint } from '../pipeline/taps.js';
import { PacketSubject } from '../pipeline/packet-subject.js';
import { attachUp, attachUpDirect, reportUnhandled, UpStream, type DirectIn } from '../pipeline/up-stream.js';
import { DirectGate } from '../pipeline/direct-gate.js';
import { ETHERNET_HEADER_LEN, EtherType } from '../../src/wire/ethernet.js';
import { Ipv4Packet, emitIpv4, writeIpv4Header, IPV4_MIN_HEADER_LEN, IpProtocol } from '../../src/wire/ipv4.js';
import { Reassembler, type ExpiredDatagram } from '../../src/ipv4/reassembly.js';
import { RouteTable } from '../../src/ipv4/route-table.js';
import { planFragments, isFragmentError } from '../../src/ipv4/fragmenter.js';
import { segmentTcp } from '../../src/wire/tcp-segmenter.js';
import { IpIdGenerator } from '../../src/ipv4/ip-id.js';
import type { ReassemblyConfig } from '../../src/ipv4/config.js';
import { type Ipv4Addr, IPV4_BROADCAST, isMulticast, formatIpv4 } from '../../src/ipv4/address.js';
import { PacketBuffer, allocUnzeroed } from '../../src/packet-buffer.js';
import { createCounters, countDrop } from '../../src/stats.js';
import { log } from '../../src/log.js';
import { netError, type NetstackError } from '../../src/errors.js';
import { refTimer } from './unref-scheduler.js';
import { ReceivedIp } from './received-ip.js';

/**
 * @internal IPv4's received whole datagram as the stack's own transports get it: the record both
 * families share (`ReceivedIp`, received-ip.ts), its header's and payload's views made only when
 * read. The name IPv4's callers knew it by.
 */
export const ReceivedIpv4 = ReceivedIp;
/** @internal */
export type ReceivedIpv4 = ReceivedIp;

/** A received IPv4 datagram (reassembled if it came in fragments), as the transports see it. */
export interface Ipv4Datagram {
  readonly iface: NetInterface;
  readonly src: Ipv4Addr;
  readonly dst: Ipv4Addr;
  readonly protocol: number;
  readonly ttl: number;
  /** The IPv4 header (of the first fragment), for ICMP errors that quote it. */
  readonly header: Uint8Array;
  /** The transport payload: a view into the frame, or the reassembled copy. */
  readonly payload: Uint8Array;
  /** Addressed to a broadcast or multicast address: never answered with an ICMP error. */
  readonly broadcast: boolean;
  /** Came in fragments. */
  readonly reassembled: boolean;
  /**
   * The link vouched for the transport checksum (checksum offload: the kernel's own packet, its
   * checksum partial or already verified; see Link.checksumVerified): skip verifying it.
   */
  readonly checksumVerified: boolean;
}

/**
 * A datagram on its way out, after routing and header, before the next hop's MAC: what crosses
 * the boundary under IPv4 (see `NeighborBoundary`).
 */
export interface Ipv4Outbound {
  readonly iface: NetInterface;
  readonly nextHop: Ipv4Addr;
  readonly src: Ipv4Addr;
  readonly dst: Ipv4Addr;
  readonly protocol: number;
  /** Header and payload (one fragment when fragmented). An operator may read or drop it, not resize it. */
  readonly pb: PacketBuffer;
  readonly onError: ((err: NetstackError) => void) | undefined;
}

export interface Ipv4SendOptions {
  readonly dst: Ipv4Addr;
  readonly protocol: number;
  /** Source address; default: chosen from the outgoing interface. Must be ours. */
  readonly src?: Ipv4Addr;
  readonly ttl?: number;
  readonly dontFragment?: boolean;
  readonly dscp?: number;
  /** The ECN field (RFC 3168): 0 not ECN-capable (default), 2 ECT(0), 1 ECT(1), 3 CE. */
  readonly ecn?: number;
  /** Outgoing interface for the limited broadcast 255.255.255.255 (default: the first). */
  readonly iface?: NetInterface;
}

/**
 * What a transport hands down to IPv4: the transport packet in `pb` (its header written) and
 * where it goes. Errors known at once (no route, too big with DF) and later ones (no ARP
 * answer) go to `onError`.
 */
export interface Ipv4Send extends Ipv4SendOptions {
  readonly pb: PacketBuffer;
  readonly onError?: ((err: NetstackError) => void) | undefined;
}

/** What a transport may ask of the network layer besides sending: routes and addresses. */
export interface Ipv4Network {
  /** True when `addr` is one of the stack's addresses (on any interface). */
  isLocal(addr: Ipv4Addr): boolean;
  /** The interface, next hop and source address a datagram to `dst` would leave by. */
  routeFor(dst: Ipv4Addr, iface?: NetInterface): Ipv4Route | NetstackError;
  /** The interfaces IPv4 runs on. */
  readonly interfaces: readonly NetInterface[];
  /**
   * Forwarding mode for one transport protocol, until the returned function is called: its
   * datagrams to ANY unicast address are delivered (not dropped as `notForUs`), and it may send
   * from addresses that are not ours (the original destinations of the flows it terminates).
   * Calls nest: the mode lasts while any caller holds it. Optional for a network of your own.
   */
  acceptForeign?(protocol: number): () => void;
}

export interface Ipv4Route {
  readonly iface: NetInterface;
  readonly nextHop: Ipv4Addr;
  readonly src: Ipv4Addr;
  /**
   * Largest IPv4 packet (headers included) that leaves by this route as one large TCP segment
   * for the link to cut (TSO, PacketBuffer.gsoSize); 0 or absent: segments of one MSS. A
   * transport may send larger segments anyway: IPv4 then cuts them in software.
   */
  readonly maxGsoBytes?: number;
}

/**
 * @internal IPv4's fused way out (Sink.fused of the transports' `down`), for a whole datagram
 * on the plain stack: no transport or network operators, no observers at the taps on the way,
 * the destination's route cached and not ours, the source the route's (or any, while a
 * forwarder holds the forwarding mode), the next hop's MAC known and fresh on an Ethernet link
 * (a link of bare IP packets, TUN, has none to know), the datagram within the MTU. `frame`
 * then returns the whole frame with the link's header (Ethernet's, or none) and the IPv4
 * header written (the same bytes, IP ID included, as the long way writes), the transport's
 * `transportLength` bytes last for the caller to fill, complete with their checksum, before
 * it hands the frame to `send`; undefined: send the long way (`next`). One frame at a time:
 * `send` right after `frame`. The array may begin with room for the link's own header in front
 * of the frame (FrameOut.frameRoom): the caller finds its bytes from the end.
 */
export interface WholeOut extends FusedOut {
  /**
   * `tos`: the TOS byte (DSCP and ECN) the long way would write from the send's `dscp`/`ecn`;
   * default 0. `dontFragment`: an atomic datagram (DF set, ID 0, RFC 6864), as the long way
   * writes every TCP segment; default false (an ID from the generator, as UDP's).
   */
  frame(dst: Ipv4Addr, src: Ipv4Addr, protocol: number, transportLength: number, tos?: number, dontFragment?: boolean): Uint8Array | undefined;
  /**
   * Whether the frame `frame` just made may go with its transport checksum partial (the
   * pseudo-header's sum only, FrameOut.partialChecksum): its link finishes it (a TAP device with
   * checksum offload), so neither we nor the receiving kernel sum the datagram.
   */
  partialChecksum(): boolean;
  /** The frame `frame` made, complete, or with the partial checksum at `csumStart + csumOffset` (`csumStart` an index in `frame`) when `partialChecksum()` said so. */
  send(frame: Uint8Array, csumStart?: number, csumOffset?: number): void;
}

/** The boundary between IPv4 and one transport protocol, with the network's routing services. */
export interface Ipv4Port extends Boundary<Ipv4Datagram, Ipv4Send> {
  readonly network: Ipv4Network;
}

/** A partial datagram given up on after its first fragment arrived (ICMP answers it). */
export interface ReassemblyTimeout {
  readonly expired: ExpiredDatagram<Uint8Array>;
  /** The interface the first fragment came in by. */
  readonly iface: NetInterface;
  /** It was sent to a broadcast/multicast address (IP or link level): no ICMP error may answer. */
  readonly broadcast: boolean;
}

export const IPV4_DROP_REASONS = [
  'truncated', 'badVersion', 'badIhl', 'badTotalLength', 'badChecksum',
  'ttlZero', 'badSource', 'notForUs', 'fragmentDropped',
] as const;

/** Counters beside the drops: `rxForeign` datagrams for other hosts delivered to a forwarder. */

function createIpv4Counters() {
  return createCounters(
    ['rxPackets', 'rxDelivered', 'rxForeign', 'rxFragments', 'rxReassembled', 'txPackets', 'txFragments', 'txSegmented', 'txErrors', 'reassemblyTimeouts'],
    IPV4_DROP_REASONS,
  );
}

export interface Ipv4LayerOptions {
  readonly scheduler: SchedulerLike;
  readonly defaultTtl: number;
  readonly reassembly: Readonly<Partial<ReassemblyConfig>>;
  readonly idTableSize?: number;
  /**
   * Operators at the boundary above IPv4, for every protocol: `up` on each datagram addressed
   * to us before the protocol demux (a firewall, a logger), `down` on each datagram a
   * transport sends, before routing.
   */
  readonly transport?: BoundaryOperators<Ipv4Datagram, Ipv4Send>;
  /** Observers of that boundary, on IPv4's side of the operators (createStack's `taps.transport`). */
  readonly taps?: TapPoint<Ipv4Datagram, Ipv4Send>;
}

interface Attached {
  readonly iface: NetInterface;
  readonly down: Sink<Ipv4Outbound>;
  /**
   * The record every packet is handed down in, refilled for each, when `down` keeps none
   * (`Sink.retainsNothing`); none otherwise (a fresh record per packet; see RecordLender).
   */
  readonly record: RecordLender<{ -readonly [K in keyof Ipv4Outbound]: Ipv4Outbound[K] }>;
  /** The neighbour layer's fused way out (ARP's `FrameOut`), when `down` offers one. */
  readonly fused: FrameOut | undefined;
  /** The point-to-point boundary's fused way out (a link of bare IP packets), when `down` offers one. */
  readonly packetOut: PacketOut | undefined;
}

/**
 * IPv4 for the whole stack (RFC 791, RFC 1122 3.2/3.3): validation, reassembly, delivery to
 * the transport protocols through a keyed demux on the protocol number; routing, source address
 * selection, fragmentation and next-hop resolution for output.
 *
 * Weak host model, like Linux: a datagram for any of our addresses is accepted on any
 * interface. A host does not forward: anything else is dropped as `notForUs`, unless a
 * transport holds the forwarding mode for its protocol (`acceptForeign`: the TCP and UDP
 * forwarders, ICMP echo forwarding), which terminates flows to any address, as a userspace
 * NAT (slirp, gVisor's forwarders) does. Only the `notForUs` path looks at that mode.
 */
export class Ipv4Layer implements ProtocolMux<number, Ipv4Datagram, Ipv4Send>, Ipv4Network {
  readonly counters = createIpv4Counters();
  readonly routes = new RouteTable();
  readonly reassembler: Reassembler<Uint8Array>;

  readonly #demux: Demux<Ipv4Datagram, number>;
  readonly #attached: Attached[] = [];
  readonly #input$ = new PacketSubject<Ipv4Datagram>();
  /** Where every transport's datagrams enter (through the `transport.down` operator if any). */
  readonly #down: Sink<Ipv4Send>;
  readonly #reassemblyTimeouts$ = new Subject<ReassemblyTimeout>();
  readonly #opts: Ipv4LayerOptions;
  readonly #ids: IpIdGenerator;
  readonly #view = new Ipv4Packet();
  readonly #timer: DeadlineTimer;
  readonly #subscriptions: Subscription[] = [];
  /** Reassembly keeps no interface; remember where (and how addressed) each first piece came in. */
  readonly #fragmentIface = new Map<string, { readonly iface: NetInterface; readonly broadcast: boolean }>();
  /** Per protocol number: how many holders of the forwarding mode (see `acceptForeign`). */
  readonly #foreign = new Uint16Array(256);
  /** Holders of the forwarding mode, every protocol: while any, we may send from any address. */
  #foreignHolders = 0;
  /**
   * The last route found for a destination (routeFor without an interface): a request/response
   * flow asks for the same one for every datagram, UDP twice (the socket's checks, then
   * output). Valid while the route table's version, the number of addresses and the
   * attachments it was found with stay (see #routeCacheValid).
   */
  /** No transport operator on the way up (see #inputPacket). */
  readonly #upPlain: boolean;
  /** Per protocol number, the transport that took the direct way in (see `protocol`), and the gate of any hop above its port. */
  readonly #direct: ({ readonly handler: (d: Ipv4Datagram) => void; readonly gate: DirectGate } | undefined)[] = new Array(256).fill(undefined);
  /**
   * Open (0) while nothing may see or change a datagram between #inputPacket and its
   * transport: no transport operator, no observer of the transport tap point or of observe$
   * (see #inputPacket). Kept by those hops as observers come and go.
   */
  readonly #plain = new DirectGate();
  /** Where the frame #fusedFrame made last goes (its interface's FrameOut or PacketOut), until #fusedSend. */
  #fusedTo: FrameOut | PacketOut | undefined;
  #cachedDst = -1;
  #cachedRoute: Ipv4Route | undefined;
  /** The cached destination is one of our addresses (valid with #cachedRoute: addresses are only added). */
  #cachedLocal = false;
  #cachedRoutesVersion = -1;
  #cachedAddresses = -1;

  constructor(opts: Ipv4LayerOptions) {
    this.#opts = opts;
    this.reassembler = new Reassembler<Uint8Array>(opts.reassembly);
    this.#upPlain = opts.transport?.up === undefined;
    this.#ids = new IpIdGenerator(opts.idTableSize === undefined ? {} : { tableSize: opts.idTableSize });
    // The boundary above IPv4 for all protocols at once: the demux sits on top of it.
    // #sendItem reads the record while it routes and keeps nothing of it (the neighbour layer
    // gets a record of its own): a transport may refill one record for every packet.
    const fused: WholeOut = {
      ready: () => true,
      frame: (dst, src, protocol, transportLength, tos, dontFragment) => this.#fusedFrame(dst, src, protocol, transportLength, tos ?? 0, dontFragment === true),
      partialChecksum: () => this.#fusedTo?.partialChecksum === true,
      send: (frame, csumStart, csumOffset) => this.#fusedSend(frame, csumStart, csumOffset),
    };
    const send: Sink<Ipv4Send> = { next: (s) => this.#sendItem(s), partialChecksum: true, retainsNothing: true, fused };
    // #input$ is a PacketSubject: its asObservable() is an UpStream (the demux attaches to it).
    const own = { up$: this.#input$.asObservable(), down: send };
    const above = between(opts.taps === undefined ? own : opts.taps.wrap(own), opts.transport);
    this.#down = above.down;
    this.#demux = createDemux(above.up$, protocolOf, { name: 'ipv4 protocol' });
    if (!this.#upPlain) this.#plain.shut++;
    if (opts.taps !== undefined) this.#subscriptions.push(opts.taps.keepUp(this.#plain));
    this.#subscriptions.push(this.#demux.keepGate(this.#plain));
    this.#timer = new DeadlineTimer(opts.scheduler, (now) => this.#expire(now));
  }

  /**
   * The boundary of one transport protocol: its datagrams going up (subscribing claims the
   * protocol number: EADDRINUSE if taken), `Ipv4Send`s going down, and the routing services.
   */
  protocol(protocol: number): Ipv4Port {
    // The transport that claims the protocol may take the direct way in (DirectIn): the plain
    // branch of #inputPacket, which has checked that nobody observes or changes what goes up,
    // then calls it itself (no Subject, tap point or demux between).
    const endpoint$ = this.#demux.endpoint(protocol);
    const direct: DirectIn<Ipv4Datagram> = {
      take: (handler, gate) => {
        const taken = { handler, gate };
        this.#direct[protocol] = taken;
        return new Subscription(() => {
          if (this.#direct[protocol] === taken) this.#direct[protocol] = undefined;
        });
      },
    };
    return { up$: new UpStream<Ipv4Datagram>((observer) => attachUp(endpoint$, observer), direct), down: this.#down, network: this };
  }

  /** Datagrams of protocols nobody claimed (ICMP answers them with protocol unreachable). */
  get unmatched$(): Observable<Ipv4Datagram> {
    return this.#demux.unmatched$;
  }

  observe$(protocol?: number): Observable<Ipv4Datagram> {
    const inner$ = this.#demux.observe$(protocol);
    // While anyone observes, datagrams are plain records (see #inputPacket): the demux keeps #plain shut.
    return inner$;
  }

  /** @internal Shuts `gate` while anyone subscribes to `observe$` (a way that skips IPv4: the nat's offloaded UDP flows). */
  keepObserveGate(gate: DirectGate): Subscription {
    return this.#demux.keepGate(gate);
  }

  /** Partial datagrams given up on (after their first fragment came): ICMP time exceeded. */
  get reassemblyTimeouts$(): Observable<ReassemblyTimeout> {
    return this.#reassemblyTimeouts$.asObservable();
  }

  get interfaces(): readonly NetInterface[] {
    return this.#attached.filter((a) => a !== undefined).map((a) => a.iface);
  }

  /**
   * Runs IPv4 on an interface, over the boundary below it (neighbour resolution: ARP's
   * `resolver()`, or `staticNeighbors()`), and adds routes for the interface's subnets.
   */
  attach(iface: NetInterface, lower: NeighborBoundary): void {
    const record = new RecordLender(lower.down.retainsNothing === true ? { iface, nextHop: 0, src: 0, dst: 0, protocol: 0, pb: NO_PACKET, onError: undefined as ((err: NetstackError) => void) | undefined } : undefined);
    // The fused way below is ARP's FrameOut over Ethernet, the point-to-point PacketOut over a
    // link of bare IP packets (the two are told apart here, once, not per datagram).
    const fused = lower.down.fused as FrameOut | PacketOut | undefined;
    const packetOut = fused !== undefined && 'linkHeaderLength' in fused && fused.linkHeaderLength === 0 ? fused : undefined;
    const frameOut = fused !== undefined && packetOut === undefined ? (fused as FrameOut) : undefined;
    this.#attached[iface.index] = { iface, down: lower.down, record, fused: frameOut, packetOut };
    this.#cachedRoute = undefined;
    for (const a of iface.addresses) this.routes.addOnLink(iface.index, a.address, a.prefixLength);
    // A link of bare IP packets (no link header) has no link-level broadcast either.
    const input = lower.linkHeaderLength === 0
      ? (packet: Uint8Array) => this.#inputPacket(iface, packet, 0, false, iface.link.checksumVerified?.(packet) === true)
      : (frame: Uint8Array) => this.#input(iface, frame);
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

  /** True when `addr` is one of the stack's addresses (on any interface). */
  isLocal(addr: Ipv4Addr): boolean {
    const list = this.#attached;
    for (let i = 0; i < list.length; i++) if (list[i] !== undefined && list[i].iface.hasAddress(addr)) return true;
    return false;
  }

  /** The interface and source address a datagram to `dst` would leave by. */
  routeFor(dst: Ipv4Addr, iface?: NetInterface): Ipv4Route | NetstackError {
    if (iface !== undefined || dst === IPV4_BROADCAST) return this.#findRoute(dst, iface);
    if (dst === this.#cachedDst && this.#cachedRoute !== undefined && this.#routeCacheValid()) return this.#cachedRoute;
    const route = this.#findRoute(dst, undefined);
    if ('iface' in route) {
      this.#cachedDst = dst;
      this.#cachedRoute = route;
      this.#cachedLocal = this.isLocal(dst);
      this.#cachedRoutesVersion = this.routes.version;
      this.#cachedAddresses = this.#addressCount();
    }
    return route;
  }

  /** Nothing the cached route was found with has changed (IPv4 addresses are only ever added). */
  #routeCacheValid(): boolean {
    return this.routes.version === this.#cachedRoutesVersion && this.#addressCount() === this.#cachedAddresses;
  }

  #addressCount(): number {
    const list = this.#attached;
    let n = 0;
    for (let i = 0; i < list.length; i++) if (list[i] !== undefined) n += list[i].iface.addresses.length;
    return n;
  }

  #findRoute(dst: Ipv4Addr, iface: NetInterface | undefined): Ipv4Route | NetstackError {
    let out: NetInterface | undefined;
    let nextHop = dst;
    if (dst === IPV4_BROADCAST) {
      out = iface ?? this.#attached.find((a) => a !== undefined)?.iface;
    } else {
      const match = this.routes.lookup(dst);
      if (match === undefined) return netError('ENETUNREACH', `no route to ${formatIpv4(dst)}`);
      out = this.#attached[match.interfaceIndex]?.iface;
      nextHop = match.nextHop;
    }
    if (out === undefined) return netError('ENETUNREACH', `no interface for ${formatIpv4(dst)}`);
    const src = out.sourceFor(dst);
    if (src === undefined) return netError('EADDRNOTAVAIL', `interface ${out.name} has no IPv4 address`);
    const gso = this.#attached[out.index]?.down.maxGsoBytes;
    return { iface: out, nextHop, src, maxGsoBytes: gso === undefined || this.isLocal(dst) ? 0 : gso };
  }

  /**
   * @internal (transports use their port's `down`; tests call this directly)
   * Sends the transport packet held in `pb`: routes it, prepends the IPv4 header, fragments it
   * when it exceeds the interface MTU, and hands each packet to the boundary below. Returns an
   * error for what is known at once (no route, DF and too big); later failures (ARP) go to
   * `onError`. (The protocol boundaries' `down` does the same, with every error to `onError`.)
   */
  send(pb: PacketBuffer, o: Ipv4SendOptions, onError?: (err: NetstackError) => void): NetstackError | undefined {
    return this.#route(pb, o, onError);
  }

  #sendItem(s: Ipv4Send): void {
    const err = this.#route(s.pb, s, s.onError);
    if (err !== undefined) s.onError?.(err);
  }

  #route(pb: PacketBuffer, o: Ipv4SendOptions, onError: ((err: NetstackError) => void) | undefined): NetstackError | undefined {
    const route = this.routeFor(o.dst, o.iface);
    if (!('iface' in route)) {
      this.counters.txErrors++;
      return route;
    }
    const { iface, nextHop } = route;
    let src = route.src;
    if (o.src !== undefined && o.src !== 0 && o.src !== src) {
      // A forwarder answers (and refuses, by ICMP) from the addresses its flows were sent to.
      if (!this.isLocal(o.src) && this.#foreignHolders === 0) return netError('EADDRNOTAVAIL', `${formatIpv4(o.src)} is not a local address`);
      src = o.src;
    }
    const ttl = o.ttl ?? this.#opts.defaultTtl;
    const df = o.dontFragment === true;
    const payloadLength = pb.length;
    if (pb.gsoSize > 0 && o.protocol === IpProtocol.TCP) {
      // A large TCP segment (TSO): whole to a link that cuts it, else cut here (never fragmented).
      const max = this.#attached[iface.index]?.down.maxGsoBytes ?? 0;
      if (IPV4_MIN_HEADER_LEN + payloadLength <= max && pb.csumStart >= 0 && !this.isLocal(o.dst)) {
        this.#emitWhole(pb, src, o, ttl, true);
        this.#out(iface, nextHop, src, o.dst, o.protocol, pb, onError, false);
        return undefined;
      }
      const gsoSize = pb.gsoSize;
      pb.gsoSize = 0;
      this.counters.txSegmented++;
      this.#segment(pb, gsoSize, src, o, onError);
      return undefined;
    }
    if (IPV4_MIN_HEADER_LEN + payloadLength <= iface.mtu) {
      this.#emitWhole(pb, src, o, ttl, df);
      // A flow's packets ask the cached route: whether its destination is ours is known.
      const local = route === this.#cachedRoute && o.dst === this.#cachedDst ? this.#cachedLocal : this.isLocal(o.dst);
      this.#out(iface, nextHop, src, o.dst, o.protocol, pb, onError, local);
      return undefined;
    }
    pb.completeChecksum(); // fragments carry the finished transport checksum
    const plans = planFragments(payloadLength, IPV4_MIN_HEADER_LEN, iface.mtu, { dontFragment: df });
    if (isFragmentError(plans)) {
      this.counters.txErrors++;
      return netError('EMSGSIZE', `datagram of ${payloadLength} bytes exceeds ${plans.maxPayload} (MTU ${iface.mtu}${df ? ', DF set' : ''})`);
    }
    // The sender's record may be refilled by a send nested in #out: its fields are read first.
    const { dst, protocol, dscp, ecn } = o;
    const ident = this.#ids.next(src, dst, protocol, false, this.#opts.scheduler.now());
    const payload = pb.bytes();
    for (const plan of plans) {
      const frag = PacketBuffer.withPayload(payload.subarray(plan.offset, plan.offset + plan.length));
      emitIpv4({ src, dst, protocol, ttl, ident, dontFragment: false, moreFragments: plan.more, fragmentOffset: plan.offset, dscp, ecn }, frag);
      this.counters.txFragments++;
      this.#out(iface, nextHop, src, dst, protocol, frag, onError, this.isLocal(dst));
    }
    return undefined;
  }

  /**
   * A large TCP segment cut here (the link cannot). A method of its own: the closure it makes
   * captures the send's options, and in #route that made V8 allocate a context on every call.
   */
  #segment(pb: PacketBuffer, gsoSize: number, src: Ipv4Addr, o: Ipv4SendOptions, onError: ((err: NetstackError) => void) | undefined): void {
    // The pieces' checksums are left partial: #out completes them where nothing below will.
    segmentTcp(pb, gsoSize, src, o.dst, true, (piece) => {
      this.#route(piece, o, onError);
    });
  }

  /** WholeOut.frame: see there. The route is the one cached (the transport just asked routeFor). */
  #fusedFrame(dst: Ipv4Addr, src: Ipv4Addr, protocol: number, transportLength: number, tos: number, df: boolean): Uint8Array | undefined {
    const route = this.#cachedRoute;
    if (route === undefined || dst !== this.#cachedDst || this.#cachedLocal || !this.#routeCacheValid()) return undefined;
    // Another source than the route's: a forwarder's answer from the address its flow was sent
    // to, allowed while the forwarding mode is held (as #route allows it; any other such
    // source takes the long way, which checks it).
    if (src !== route.src && this.#foreignHolders === 0) return undefined;
    const total = IPV4_MIN_HEADER_LEN + transportLength;
    const iface = route.iface;
    if (total > iface.mtu) return undefined;
    const attached = this.#attached[iface.index];
    if (attached === undefined) return undefined;
    const bare = attached.packetOut;
    if (bare !== undefined) {
      // A link of bare IP packets (TUN): the packet is the frame, no next hop to resolve.
      if (!bare.ready()) return undefined;
      const packet = allocUnzeroed(total);
      // As #emitWhole: an atomic datagram (DF) has ID 0 and reads no clock.
      const id = df ? 0 : this.#ids.next(src, dst, protocol, false, this.#opts.scheduler.now());
      writeIpv4Header(packet, 0, tos, total, id, df, this.#opts.defaultTtl, protocol, src, dst);
      this.counters.txPackets++;
      this.#fusedTo = bare;
      return packet;
    }
    const out = attached.fused;
    if (out === undefined || !out.ready()) return undefined;
    const mac = out.macFor(route.nextHop);
    if (mac === undefined) return undefined;
    // Every byte of the frame is written: the headers here, the transport's by the caller. The
    // room in front (the link's header, a TAP device's virtio_net_hdr) is the link's to write.
    const at = out.frameRoom;
    const frame = allocUnzeroed(at + ETHERNET_HEADER_LEN + total);
    const srcMac = out.srcMac;
    for (let i = 0; i < 6; i++) {
      frame[at + i] = mac[i];
      frame[at + 6 + i] = srcMac[i];
    }
    frame[at + 12] = ETHERTYPE_IPV4 >>> 8;
    frame[at + 13] = ETHERTYPE_IPV4 & 0xff;
    // As #emitWhole: an ID for a datagram without DF (UDP's, an echo reply), 0 for an atomic one
    // (TCP's); the default TTL.
    const ident = df ? 0 : this.#ids.next(src, dst, protocol, false, this.#opts.scheduler.now());
    writeIpv4Header(frame, at + ETHERNET_HEADER_LEN, tos, total, ident, df, this.#opts.defaultTtl, protocol, src, dst);
    this.counters.txPackets++;
    this.#fusedTo = out;
    return frame;
  }

  /** WholeOut.send: the frame #fusedFrame made, its transport bytes written, to its interface's link. */
  #fusedSend(frame: Uint8Array, csumStart = -1, csumOffset = 0): void {
    const out = this.#fusedTo;
    if (out === undefined) throw new RangeError('WholeOut.send without a frame from WholeOut.frame');
    this.#fusedTo = undefined;
    if (csumStart < 0) out.send(frame, out.frameRoom);
    else if (out.partialChecksum === true) out.send(frame, out.frameRoom, csumStart, csumOffset);
    else throw new RangeError('WholeOut.send: a partial checksum where partialChecksum() is false');
  }

  /** Prepends the header of an unfragmented datagram. */
  #emitWhole(pb: PacketBuffer, src: Ipv4Addr, o: Ipv4SendOptions, ttl: number, df: boolean): void {
    // An atomic datagram (DF, every TCP segment) has ID 0 (RFC 6864): no clock read for it.
    const ident = df ? 0 : this.#ids.next(src, o.dst, o.protocol, false, this.#opts.scheduler.now());
    const tos = (((o.dscp ?? 0) & 0x3f) << 2) | ((o.ecn ?? 0) & 3);
    // Within 65,535: #route checked it against the MTU or the link's largest segment.
    const total = IPV4_MIN_HEADER_LEN + pb.length;
    writeIpv4Header(pb.buf, pb.prepend(IPV4_MIN_HEADER_LEN), tos, total, ident, df, ttl, o.protocol, src, o.dst);
  }

  close(): void {
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions.length = 0;
    this.#timer.close();
    this.#input$.complete();
    this.#reassemblyTimeouts$.complete();
    this.reassembler.clear();
  }

  /** `local`: `dst` is one of our addresses (the datagram loops back). */
  #out(iface: NetInterface, nextHop: Ipv4Addr, src: Ipv4Addr, dst: Ipv4Addr, protocol: number, pb: PacketBuffer, onError: ((err: NetstackError) => void) | undefined, local: boolean): void {
    this.counters.txPackets++;
    const attached = this.#attached[iface.index];
    if (attached === undefined) return;
    if (local) {
      // Loopback: a datagram to one of our own addresses never touches the link.
      pb.completeChecksum();
      const bytes = pb.bytes().slice();
      // A datagram in flight keeps the process alive, as one on a link would.
      refTimer(this.#opts.scheduler.schedule(() => this.#inputPacket(iface, bytes, 0, false, false)));
      return;
    }
    const down = attached.down;
    // An operator inserted below sees (and may log or capture) a finished packet.
    if (down.partialChecksum !== true) pb.completeChecksum();
    const r = attached.record.take();
    if (r === undefined) {
      down.next({ iface, nextHop, src, dst, protocol, pb, onError });
      return;
    }
    // What is below keeps no record (ARP's resolver, maybe through taps): one, refilled.
    r.iface = iface;
    r.nextHop = nextHop;
    r.src = src;
    r.dst = dst;
    r.protocol = protocol;
    r.pb = pb;
    r.onError = onError;
    try {
      down.next(r);
    } finally {
      attached.record.giveBack();
    }
  }

  #input(iface: NetInterface, frame: Uint8Array): void {
    // Link-level broadcast/multicast: the group bit of the destination MAC. A link with
    // checksum offload may vouch for the transport checksum of the frame it delivered.
    const verified = iface.link.checksumVerified?.(frame) === true;
    // Read in place, from byte 14: no view of the IPv4 part is made.
    this.#inputPacket(iface, frame, ETHERNET_HEADER_LEN, (frame[0] & 1) !== 0, verified);
  }

  /** The IPv4 packet in `bytes` from `at` on (14 in an Ethernet frame, 0 for a bare packet). */
  #inputPacket(iface: NetInterface, bytes: Uint8Array, at: number, linkBroadcast: boolean, checksumVerified: boolean): void {
    const c = this.counters;
    c.rxPackets++;
    const p = this.#view.reset(bytes, at);
    const reason = p.check() ?? (p.verifyChecksum() ? undefined : 'badChecksum');
    if (reason !== undefined) {
      countDrop(c, reason);
      if (log.ipv4.enabled) log.ipv4('%s: drop malformed (%s)', iface.name, reason);
      return;
    }
    const dst = p.dst;
    const src = p.src;
    let broadcast = linkBroadcast;
    if (!iface.hasAddress(dst) && !this.isLocal(dst)) {
      if (dst === IPV4_BROADCAST || iface.isDirectedBroadcast(dst) || dst === ALL_HOSTS) broadcast = true;
      else if (this.#foreign[p.protocol] !== 0 && !isMulticast(dst) && dst !== 0) {
        c.rxForeign++; // for another host, taken by a forwarder: delivered as to us
      } else {
        c.drops.notForUs++;
        if (log.ipv4.enabled) log.ipv4('%s: drop datagram for %s', iface.name, formatIpv4(dst));
        return;
      }
    }
    // RFC 1122 3.2.1.3: a broadcast or multicast source address is never legitimate.
    if (src === IPV4_BROADCAST || isMulticast(src) || iface.isDirectedBroadcast(src)) {
      c.drops.badSource++;
      return;
    }
    const ttl = p.ttl;
    if (ttl === 0) {
      c.drops.ttlZero++;
      return;
    }
    const hl = p.headerLength;
    if (!p.isFragment) {
      c.rxDelivered++;
      // On the plain stack the stack's own transports get the datagram with its header's view
      // made only if read (ICMP errors quote it); anyone else who may copy the record with a
      // spread (an operator, an observer) gets every field as a plain property.
      if (this.#plain.shut === 0) {
        const d = new ReceivedIp(iface, src, dst, p.protocol, ttl, broadcast, checksumVerified, bytes, at, at + hl, at + p.totalLength);
        // The same conditions leave nothing to see or change on the way to the transport: one
        // that took the direct way in gets it from here (the demux's routing, by hand).
        const direct = this.#direct[d.protocol];
        if (direct === undefined || direct.gate.shut !== 0) {
          this.#input$.next(d);
          return;
        }
        try {
          direct.handler(d);
        } catch (err) {
          reportUnhandled(err);
        }
      } else {
        this.#input$.next({ iface, src, dst, protocol: p.protocol, ttl, header: bytes.subarray(at, at + hl), payload: p.payload, broadcast, reassembled: false, checksumVerified });
      }
      return;
    }
    const header = bytes.subarray(at, at + hl);
    c.rxFragments++;
    const now = this.#opts.scheduler.now();
    const protocol = p.protocol;
    const id = p.ident;
    const result = this.reassembler.add(
      { src, dst, protocol, id, offset: p.fragmentOffset, more: p.moreFragments, headerLength: hl, payload: p.payload, header },
      now,
    );
    if (result.kind === 'dropped') {
      c.drops.fragmentDropped++;
      if (log.ipv4.enabled) log.ipv4('%s: fragment dropped (%s)', iface.name, result.reason);
    } else if (result.kind === 'complete') {
      c.rxReassembled++;
      c.rxDelivered++;
      this.#fragmentIface.delete(fragmentKey(src, dst, protocol, id));
      this.#input$.next({ iface, src, dst, protocol, ttl, header: result.header, payload: result.payload, broadcast, reassembled: true, checksumVerified: false });
    } else {
      if (p.fragmentOffset === 0) this.#fragmentIface.set(fragmentKey(src, dst, protocol, id), { iface, broadcast });
    }
    this.#timer.set(this.reassembler.nextDeadline());
    // The side table only needs entries for datagrams still held.
    if (this.#fragmentIface.size > this.reassembler.size) this.#pruneFragmentIfaces();
  }

  #expire(now: number): void {
    for (const e of this.reassembler.expire(now)) {
      this.counters.reassemblyTimeouts++;
      const key = fragmentKey(e.src, e.dst, e.protocol, e.id);
      const arrival = this.#fragmentIface.get(key);
      this.#fragmentIface.delete(key);
      if (e.first !== undefined && arrival !== undefined) this.#reassemblyTimeouts$.next({ expired: e, iface: arrival.iface, broadcast: arrival.broadcast });
    }
    this.#timer.set(this.reassembler.nextDeadline());
  }

  #pruneFragmentIfaces(): void {
    // Rare (only when datagrams were dropped whole): rebuild from nothing is fine, the table is
    // bounded by the reassembler's own limit on partial datagrams.
    if (this.reassembler.size === 0) this.#fragmentIface.clear();
    else if (this.#fragmentIface.size > 2 * this.reassembler.config.maxDatagrams) this.#fragmentIface.clear();
  }
}

const ALL_HOSTS = 0xe0000001;

function protocolOf(d: Ipv4Datagram): number {
  return d.protocol;
}

function fragmentKey(src: number, dst: number, protocol: number, id: number): string {
  return `${src}:${dst}:${protocol}:${id}`;
}

/** The EtherType #fusedFrame writes (a module-level number on the per-frame path). */
const ETHERTYPE_IPV4 = EtherType.IPV4;
