import { Subject, type MonoTypeOperatorFunction, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { createDemux, type Demux } from '../operators/demux.js';
import type { NetInterface } from './net-interface.js';
import type { ArpLayer } from './arp-layer.js';
import type { EthernetLayer } from './ethernet-layer.js';
import { DeadlineTimer } from './deadline-timer.js';
import { Ipv4Packet, emitIpv4, IPV4_MIN_HEADER_LEN } from '../../src/wire/ipv4.js';
import { EtherType } from '../../src/wire/ethernet.js';
import { Reassembler, type ExpiredDatagram } from '../../src/ipv4/reassembly.js';
import { RouteTable } from '../../src/ipv4/route-table.js';
import { planFragments, isFragmentError } from '../../src/ipv4/fragmenter.js';
import { IpIdGenerator } from '../../src/ipv4/ip-id.js';
import type { ReassemblyConfig } from '../../src/ipv4/config.js';
import { type Ipv4Addr, IPV4_BROADCAST, isMulticast, formatIpv4 } from '../../src/ipv4/address.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { createCounters, countDrop } from '../../src/stats.js';
import { log } from '../../src/log.js';
import { netError, type NetstackError } from '../../src/errors.js';
import { isChecksumVerified } from '../links/rx-checksum.js';
import { refTimer } from './unref-scheduler.js';

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
   * checksum partial or already verified; see streams/links/rx-checksum.ts): skip verifying it.
   */
  readonly checksumVerified: boolean;
}

/** A datagram on its way out, after routing and header, before the next hop's MAC. */
export interface Ipv4Outbound {
  readonly iface: NetInterface;
  readonly nextHop: Ipv4Addr;
  readonly src: Ipv4Addr;
  readonly dst: Ipv4Addr;
  readonly protocol: number;
  /** Header and payload (one fragment when fragmented). The hook may read or drop it, not resize it. */
  readonly pb: PacketBuffer;
  readonly onError: ((err: NetstackError) => void) | undefined;
}

export interface Ipv4Hooks {
  /** Operators on every datagram addressed to us, before the protocol demux (a firewall, a logger). */
  readonly input?: MonoTypeOperatorFunction<Ipv4Datagram>;
  /** Operators on every packet we send, after routing, before ARP. */
  readonly output?: MonoTypeOperatorFunction<Ipv4Outbound>;
}

export interface Ipv4SendOptions {
  readonly dst: Ipv4Addr;
  readonly protocol: number;
  /** Source address; default: chosen from the outgoing interface. Must be ours. */
  readonly src?: Ipv4Addr;
  readonly ttl?: number;
  readonly dontFragment?: boolean;
  readonly dscp?: number;
  /** Outgoing interface for the limited broadcast 255.255.255.255 (default: the first). */
  readonly iface?: NetInterface;
}

export const IPV4_DROP_REASONS = [
  'truncated', 'bad-version', 'bad-ihl', 'bad-total-length', 'bad-checksum',
  'ttlZero', 'badSource', 'notForUs', 'fragmentDropped',
] as const;

function createIpv4Counters() {
  return createCounters(
    ['rxPackets', 'rxDelivered', 'rxFragments', 'rxReassembled', 'txPackets', 'txFragments', 'txErrors', 'reassemblyTimeouts'],
    IPV4_DROP_REASONS,
  );
}

export interface Ipv4LayerOptions {
  readonly scheduler: SchedulerLike;
  readonly defaultTtl: number;
  readonly reassembly: Readonly<Partial<ReassemblyConfig>>;
  readonly idTableSize?: number;
  readonly hooks?: Ipv4Hooks;
}

interface Attached {
  readonly iface: NetInterface;
  readonly eth: EthernetLayer;
  readonly arp: ArpLayer;
}

/**
 * IPv4 for the whole stack (RFC 791, RFC 1122 3.2/3.3): validation, reassembly, delivery to
 * the transport protocols through a keyed demux on the protocol number; routing, source address
 * selection, fragmentation and next-hop resolution for output.
 *
 * Weak host model, like Linux: a datagram for any of our addresses is accepted on any
 * interface. A host does not forward: anything else is dropped as `notForUs`.
 */
export class Ipv4Layer {
  readonly counters = createIpv4Counters();
  readonly routes = new RouteTable();
  readonly reassembler: Reassembler<Uint8Array>;
  /** Delivered datagrams by protocol number; unclaimed ones go to `unmatched$` (ICMP answers them). */
  readonly demux: Demux<Ipv4Datagram, number>;
  /**
   * Called for a partial datagram that timed out after its first fragment arrived, with the
   * interface that fragment came in by and whether it was sent to a broadcast/multicast address
   * (IP or link level), which no ICMP error may answer.
   */
  onReassemblyTimeout: ((expired: ExpiredDatagram<Uint8Array>, iface: NetInterface, broadcast: boolean) => void) | undefined;

  readonly #attached: Attached[] = [];
  readonly #input$ = new Subject<Ipv4Datagram>();
  readonly #output$: Subject<Ipv4Outbound> | undefined;
  readonly #opts: Ipv4LayerOptions;
  readonly #ids: IpIdGenerator;
  readonly #view = new Ipv4Packet();
  readonly #timer: DeadlineTimer;
  readonly #subscriptions: Subscription[] = [];
  /** Reassembly keeps no interface; remember where (and how addressed) each first piece came in. */
  readonly #fragmentIface = new Map<string, { readonly iface: NetInterface; readonly broadcast: boolean }>();

  constructor(opts: Ipv4LayerOptions) {
    this.#opts = opts;
    this.reassembler = new Reassembler<Uint8Array>(opts.reassembly);
    this.#ids = new IpIdGenerator(opts.idTableSize === undefined ? {} : { tableSize: opts.idTableSize });
    const delivered$ = opts.hooks?.input ? this.#input$.pipe(opts.hooks.input) : this.#input$.asObservable();
    this.demux = createDemux(delivered$, protocolOf, { name: 'ipv4 protocol' });
    if (opts.hooks?.output) {
      this.#output$ = new Subject<Ipv4Outbound>();
      this.#subscriptions.push(this.#output$.pipe(opts.hooks.output).subscribe((o) => this.#transmit(o)));
    }
    this.#timer = new DeadlineTimer(opts.scheduler, (now) => this.#expire(now));
  }

  /** Datagrams of one protocol (claims it). */
  protocol$(protocol: number): Observable<Ipv4Datagram> {
    return this.demux.endpoint(protocol);
  }

  get interfaces(): readonly NetInterface[] {
    return this.#attached.map((a) => a.iface);
  }

  /** Starts taking IPv4 frames from an interface and adds routes for its subnets. */
  attach(iface: NetInterface, eth: EthernetLayer, arp: ArpLayer): void {
    this.#attached[iface.index] = { iface, eth, arp };
    for (const a of iface.addresses) this.routes.addOnLink(iface.index, a.address, a.prefixLength);
    this.#subscriptions.push(eth.protocol$(EtherType.IPV4).subscribe((frame) => this.#input(iface, frame)));
  }

  /** True when `addr` is one of the stack's addresses (on any interface). */
  isLocal(addr: Ipv4Addr): boolean {
    const list = this.#attached;
    for (let i = 0; i < list.length; i++) if (list[i] !== undefined && list[i].iface.hasAddress(addr)) return true;
    return false;
  }

  /** The interface and source address a datagram to `dst` would leave by. */
  routeFor(dst: Ipv4Addr, iface?: NetInterface): { iface: NetInterface; nextHop: Ipv4Addr; src: Ipv4Addr } | NetstackError {
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
    return { iface: out, nextHop, src };
  }

  /**
   * Sends the transport payload held in `pb`: routes it, prepends the IPv4 header, fragments it
   * when it exceeds the interface MTU, and hands each packet to ARP. Returns an error for what
   * is known at once (no route, DF and too big); later failures (ARP) go to `onError`.
   */
  send(pb: PacketBuffer, o: Ipv4SendOptions, onError?: (err: NetstackError) => void): NetstackError | undefined {
    const route = this.routeFor(o.dst, o.iface);
    if (!('iface' in route)) {
      this.counters.txErrors++;
      return route;
    }
    const { iface, nextHop } = route;
    let src = route.src;
    if (o.src !== undefined && o.src !== 0) {
      if (!this.isLocal(o.src)) return netError('EADDRNOTAVAIL', `${formatIpv4(o.src)} is not a local address`);
      src = o.src;
    }
    const ttl = o.ttl ?? this.#opts.defaultTtl;
    const df = o.dontFragment === true;
    const payloadLength = pb.length;
    const now = this.#opts.scheduler.now();
    if (IPV4_MIN_HEADER_LEN + payloadLength <= iface.mtu) {
      const ident = this.#ids.next(src, o.dst, o.protocol, df, now);
      emitIpv4({ src, dst: o.dst, protocol: o.protocol, ttl, ident, dontFragment: df, moreFragments: false, fragmentOffset: 0, dscp: o.dscp }, pb);
      this.#out({ iface, nextHop, src, dst: o.dst, protocol: o.protocol, pb, onError });
      return undefined;
    }
    pb.completeChecksum(); // fragments carry the finished transport checksum
    const plans = planFragments(payloadLength, IPV4_MIN_HEADER_LEN, iface.mtu, { dontFragment: df });
    if (isFragmentError(plans)) {
      this.counters.txErrors++;
      return netError('EMSGSIZE', `datagram of ${payloadLength} bytes exceeds ${plans.maxPayload} (MTU ${iface.mtu}${df ? ', DF set' : ''})`);
    }
    const ident = this.#ids.next(src, o.dst, o.protocol, false, now);
    const payload = pb.bytes();
    for (const plan of plans) {
      const frag = PacketBuffer.withPayload(payload.subarray(plan.offset, plan.offset + plan.length));
      emitIpv4({ src, dst: o.dst, protocol: o.protocol, ttl, ident, dontFragment: false, moreFragments: plan.more, fragmentOffset: plan.offset, dscp: o.dscp }, frag);
      this.counters.txFragments++;
      this.#out({ iface, nextHop, src, dst: o.dst, protocol: o.protocol, pb: frag, onError });
    }
    return undefined;
  }

  close(): void {
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions.length = 0;
    this.#timer.close();
    this.#input$.complete();
    this.#output$?.complete();
    this.reassembler.clear();
  }

  #out(o: Ipv4Outbound): void {
    this.counters.txPackets++;
    if (this.#output$) {
      o.pb.completeChecksum(); // a hook sees (and may log or capture) a finished packet
      this.#output$.next(o);
    } else {
      this.#transmit(o);
    }
  }

  #transmit(o: Ipv4Outbound): void {
    const attached = this.#attached[o.iface.index];
    if (attached === undefined) return;
    if (this.isLocal(o.dst)) {
      // Loopback: a datagram to one of our own addresses never touches the link.
      o.pb.completeChecksum();
      const bytes = o.pb.bytes().slice();
      // A datagram in flight keeps the process alive, as one on a link would.
      refTimer(this.#opts.scheduler.schedule(() => this.#inputPacket(o.iface, bytes, false, false)));
      return;
    }
    attached.arp.sendIpv4(o.nextHop, o.pb, o.onError);
  }

  #input(iface: NetInterface, frame: Uint8Array): void {
    // Link-level broadcast/multicast: the group bit of the destination MAC.
    this.#inputPacket(iface, frame.subarray(14), (frame[0] & 1) !== 0, isChecksumVerified(frame));
  }

  #inputPacket(iface: NetInterface, bytes: Uint8Array, linkBroadcast: boolean, checksumVerified: boolean): void {
    const c = this.counters;
    c.rxPackets++;
    const p = this.#view.reset(bytes);
    const reason = p.check() ?? (p.verifyChecksum() ? undefined : 'bad-checksum');
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
      else {
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
    const header = bytes.subarray(0, hl);
    if (!p.isFragment) {
      c.rxDelivered++;
      this.#input$.next({ iface, src, dst, protocol: p.protocol, ttl, header, payload: p.payload, broadcast, reassembled: false, checksumVerified });
      return;
    }
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
      if (e.first !== undefined && arrival !== undefined) this.onReassemblyTimeout?.(e, arrival.iface, arrival.broadcast);
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
