import { Subject, type Observable, type SchedulerLike } from 'rxjs';
import type { EthernetOut, EthernetSink } from './ethernet-layer.js';
import type { Boundary } from '../pipeline/boundary.js';
import { isAssigned, type NetInterface } from './net-interface.js';
import type { PendingPacket } from './arp-layer.js';
import type { Ipv6Datagram, Ipv6NeighborBoundary, Ipv6NextHopPacket } from './ipv6-layer.js';
import { DeadlineTimer } from './deadline-timer.js';
import {
  Ipv6NeighborCache, type Ipv6NeighborAction, type Ipv6NeighborCacheConfig, type Ipv6NeighborChange, type Ipv6NeighborEntry,
} from '../../src/ipv6/neighbor-cache.js';
import { emitNdp, ndpMessageLen, parseNdp, NDP_HOP_LIMIT, type NdpRedirect, type NdpRepr, type NdpRouterAdvert } from '../../src/wire/ndp.js';
import { emitIpv6Header, IPV6_HEADER_LEN, Ipv6NextHeader } from '../../src/wire/ipv6.js';
import { Ipv6Addresses, formatIpv6, ipv6MulticastMac, isIpv6Multicast, isIpv6Unspecified, solicitedNodeAddress, type Ipv6Addr } from '../../src/ipv6/address.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { createCounters, countDrop } from '../../src/stats.js';
import { logger } from '../../src/log.js';
import { NetstackError, netError } from '../../src/errors.js';
import type { MacAddr } from '../../src/mac.js';

const log = logger('ndp');

export const NDP_DROP_REASONS = [
  // parseNdp's reasons (RFC 4861 6.1, 7.1.1, 7.1.2).
  'notNdp', 'badHopLimit', 'badCode', 'truncated', 'badOptionLength', 'multicastTarget', 'badDadProbe', 'solicitedToMulticast', 'badSource',
  /** An NS for an address that is not ours (RFC 4861 7.2.3: silently discarded). */
  'notOurTarget',
  /** An NS from a unicast source for an address still under DAD (RFC 4862 5.4.3: silently discarded). */
  'tentativeTarget',
  /** Resolution gave up (no NA after maxMulticastSolicit NS): the queued packets failed. */
  'unresolved',
  'queueFull',
  'tableFull',
] as const;

function createNdpCounters() {
  return createCounters(
    [
      'rxMessages', 'rxSolicits', 'rxAdverts', 'rxRouterSolicits', 'rxRouterAdverts', 'rxRedirects', 'redirectsIgnored',
      'txSolicits', 'txAdverts', 'txDadProbes', 'txRouterSolicits', 'duplicateAddress',
    ],
    NDP_DROP_REASONS,
  );
}
export type NdpCounters = ReturnType<typeof createNdpCounters>;

/** What autoconfiguration wants to hear from Neighbour Discovery (streams/stack/autoconf-layer.ts). */
export interface NdpAutoconf {
  /** Another node uses `target`, one of our addresses: an NA for it, or a DAD probe for it while ours is tentative. */
  duplicate(target: Ipv6Addr): void;
  /** A valid RA from the link-local `src` (its source link-layer address already learnt). */
  routerAdvert(ra: NdpRouterAdvert, src: Ipv6Addr): void;
  /** A valid redirect from `src`; false when ignored (not accepted by configuration, or not from the first hop). */
  redirect(rd: NdpRedirect, src: Ipv6Addr): boolean;
}

/**
 * Neighbour Discovery on one interface (RFC 4861): the IPv6 twin of ArpLayer, on the pure
 * Ipv6NeighborCache (unreachability detection: incomplete, reachable, stale, delay, probe).
 *
 * - Answers a neighbour solicitation for one of our addresses with a solicited advertisement
 *   (override set, router clear; to all-nodes when the solicitation came from `::`, a DAD probe,
 *   RFC 4861 7.2.4), learning the solicitor's link-layer address as it goes (7.2.3).
 * - Resolves next hops for IPv6 output (`resolver()`): multicast destinations map to their
 *   33:33 MAC (RFC 2464 7) without asking; unicast ones go through the cache, and wait (bounded)
 *   while solicitations go to the target's solicited-node group; later probes go unicast.
 * - Learns from advertisements (7.2.5's flag rules, in the cache).
 *
 * NDP messages arrive through ICMPv6 (Icmpv6Layer hands them here by interface) and leave by
 * the IPv6 EtherType's boundary directly, with their own header (hop limit 255, RFC 4861 6.1):
 * resolving the next hop of a solicitation would be circular. Router advertisements and
 * redirects, and evidence of duplicate addresses, go to `autoconf` (the autoconfiguration of the
 * interface); router solicitations are for routers, counted and ignored. An address under DAD
 * (tentative) is never answered for: another node's probe for it is a duplicate, anything else
 * is dropped (RFC 4862 5.4.3).
 */
export class NdpLayer {
  readonly counters = createNdpCounters();
  readonly cache: Ipv6NeighborCache<PendingPacket>;
  readonly #changes = new Subject<Ipv6NeighborChange>();
  readonly #iface: NetInterface;
  readonly #scheduler: SchedulerLike;
  readonly #timer: DeadlineTimer;
  #sendTo: ((dst: Uint8Array, pb: PacketBuffer) => void) | undefined;
  /** Set by the autoconfiguration of the interface. */
  autoconf: NdpAutoconf | undefined;

  constructor(iface: NetInterface, scheduler: SchedulerLike, config: Readonly<Partial<Ipv6NeighborCacheConfig>>) {
    this.#iface = iface;
    this.#scheduler = scheduler;
    this.cache = new Ipv6NeighborCache<PendingPacket>(config);
    this.cache.onChange = (change) => this.#changes.next(change);
    this.#timer = new DeadlineTimer(scheduler, (now) => {
      this.#carryOut(this.cache.expire(now));
      this.#rearm();
    });
  }

  get iface(): NetInterface {
    return this.#iface;
  }

  /** Changes to the neighbour table as they happen. */
  get changes$(): Observable<Ipv6NeighborChange> {
    return this.#changes.asObservable();
  }

  /**
   * Neighbour resolution over `lower` (the IPv6 EtherType's boundary): the boundary IPv6 sits
   * on. Frames pass up untouched; packets going down get their next hop's MAC.
   */
  resolver(lower: Boundary<Uint8Array, EthernetOut>): Ipv6NeighborBoundary {
    const sendTo = (lower.down as EthernetSink).sendTo;
    const down = lower.down;
    this.#sendTo = sendTo !== undefined ? sendTo : (dst, pb) => down.next({ dst, pb });
    const partialChecksum = lower.down.partialChecksum === true;
    // The link's TSO limit passes through: a large TCP segment is resolved like any packet.
    const maxGsoBytes = lower.down.maxGsoBytes;
    return { up$: lower.up$, down: { next: (p: Ipv6NextHopPacket) => this.sendIpv6(p.nextHop, p.pb, p.onError), partialChecksum, maxGsoBytes } };
  }

  close(): void {
    this.#timer.close();
    this.#changes.complete();
  }

  entries(): Ipv6NeighborEntry[] {
    return this.cache.entries();
  }

  addStatic(ip: Ipv6Addr, mac: MacAddr): void {
    this.#carryOut(this.cache.addStatic(ip.slice(), mac.slice(), this.#scheduler.now()));
  }

  /** An upper layer saw `ip` answer (RFC 4861 7.3.1: TCP progress): no probe needed. */
  confirm(ip: Ipv6Addr): void {
    this.cache.confirm(ip, this.#scheduler.now());
  }

  /**
   * @internal (IPv6 sends through `resolver()`'s boundary) Sends a packet holding its IPv6
   * header to `nextHop` on this link; a failed resolution calls `onError` with EHOSTUNREACH.
   */
  sendIpv6(nextHop: Ipv6Addr, pb: PacketBuffer, onError?: (err: NetstackError) => void): void {
    const sendTo = this.#sendTo;
    if (sendTo === undefined) throw new NetstackError('ERR_INVALID_STATE', 'NdpLayer: sendIpv6 before resolver()');
    if (isIpv6Multicast(nextHop)) {
      sendTo(ipv6MulticastMac(nextHop), pb);
      return;
    }
    const r = this.cache.resolve(nextHop, { pb, onError }, this.#scheduler.now());
    if (r.mac !== undefined) sendTo(r.mac, pb);
    else pb.own(); // it waits: a payload gathered from the send buffer is copied (PacketBuffer.tail)
    if (r.actions.length > 0) this.#carryOut(r.actions);
    // Always: unlike ARP, a first use of a stale entry moves it to DELAY without any action,
    // and its probe deadline must be armed (a lazy DeadlineTimer makes this a compare).
    this.#rearm();
  }

  /** An NDP message (the whole ICMPv6 message, checksum verified) received on this interface. */
  input(d: Ipv6Datagram): void {
    const c = this.counters;
    c.rxMessages++;
    const parsed = parseNdp(d.payload, { src: d.src, dst: d.dst, hopLimit: d.hopLimit });
    if (!parsed.ok) {
      countDrop(c, parsed.reason);
      if (log.enabled) log('%s: drop NDP from %s (%s)', this.#iface.name, formatIpv6(d.src), parsed.reason);
      return;
    }
    const m = parsed.value;
    const now = this.#scheduler.now();
    switch (m.kind) {
      case 'neighbor-solicit': {
        c.rxSolicits++;
        const own = this.#iface.ipv6AddressAt(m.target);
        if (own === undefined) {
          c.drops.notOurTarget++;
          return;
        }
        const fromDad = isIpv6Unspecified(d.src);
        if (!isAssigned(own)) {
          // RFC 4862 5.4.3: a probe for our tentative address means someone else wants it too.
          if (fromDad) this.autoconf?.duplicate(own.address);
          else c.drops.tentativeTarget++;
          return;
        }
        if (!fromDad && m.sourceLinkAddr !== undefined) {
          this.#carryOut(this.cache.learn(d.src.slice(), m.sourceLinkAddr, now));
          this.#rearm();
        }
        // RFC 4861 7.2.4: solicited, override set (the target is not anycast), to the solicitor;
        // a DAD probe (from ::) is answered unsolicited to all-nodes.
        const target = m.target.slice();
        const na: NdpRepr = { kind: 'neighbor-advert', router: false, solicited: !fromDad, override: true, target, targetLinkAddr: this.#iface.mac };
        if (fromDad) this.#sendNdp(na, target, Ipv6Addresses.ALL_NODES, ipv6MulticastMac(Ipv6Addresses.ALL_NODES));
        else this.#sendNdp(na, target, d.src.slice(), m.sourceLinkAddr?.slice());
        c.txAdverts++;
        return;
      }
      case 'neighbor-advert':
        c.rxAdverts++;
        if (this.#iface.ipv6AddressAt(m.target) !== undefined) {
          // Someone else claims one of our addresses (RFC 4862 5.4.4).
          c.duplicateAddress++;
          if (log.enabled) log('%s: NA from another node for our %s', this.#iface.name, formatIpv6(m.target));
          this.autoconf?.duplicate(m.target.slice());
          return;
        }
        this.#carryOut(this.cache.advert(m.target, m, m.targetLinkAddr, now));
        this.#rearm();
        return;
      case 'router-advert':
        c.rxRouterAdverts++;
        // RFC 4861 6.3.4: the router's link-layer address, and that it is a router.
        if (m.sourceLinkAddr !== undefined) {
          this.#carryOut(this.cache.learn(d.src.slice(), m.sourceLinkAddr, now, true));
          this.#rearm();
        }
        this.autoconf?.routerAdvert(m, d.src.slice());
        return;
      case 'redirect':
        c.rxRedirects++;
        if (this.autoconf?.redirect(m, d.src.slice()) !== true) {
          c.redirectsIgnored++;
          return;
        }
        // RFC 4861 8.3: the target's link-layer address, when given.
        if (m.targetLinkAddr !== undefined) {
          this.#carryOut(this.cache.learn(m.target.slice(), m.targetLinkAddr, now));
          this.#rearm();
        }
        return;
      default:
        c.rxRouterSolicits++; // for routers; a host ignores them (RFC 4861 6.2.6)
    }
  }

  /** Sends a DAD probe for `target` (RFC 4862 5.4.2): an NS from :: to its solicited-node group, no source link-layer option. */
  sendDadProbe(target: Ipv6Addr): void {
    this.counters.txDadProbes++;
    const dst = solicitedNodeAddress(target);
    this.#sendNdp({ kind: 'neighbor-solicit', target }, Ipv6Addresses.UNSPECIFIED, dst, ipv6MulticastMac(dst));
  }

  /**
   * Sends a router solicitation to ff02::2 (RFC 4861 6.3.7) from `src`, with our link-layer
   * address; from :: without it while no link-local address is assigned (RFC 4861 4.1).
   */
  sendRouterSolicit(src: Ipv6Addr | undefined): void {
    this.counters.txRouterSolicits++;
    const dst = Ipv6Addresses.ALL_ROUTERS;
    const repr: NdpRepr = src === undefined ? { kind: 'router-solicit' } : { kind: 'router-solicit', sourceLinkAddr: this.#iface.mac };
    this.#sendNdp(repr, src ?? Ipv6Addresses.UNSPECIFIED, dst, ipv6MulticastMac(dst));
  }

  /**
   * Sends an NDP message from `src` to `dst`: to `mac` when known, else through the cache
   * (a unicast answer to a solicitor without a source link-layer option, as NUD probes are).
   */
  #sendNdp(repr: NdpRepr, src: Ipv6Addr, dst: Ipv6Addr, mac: Uint8Array | undefined): void {
    const pb = PacketBuffer.alloc(0, 14 + IPV6_HEADER_LEN + ndpMessageLen(repr));
    emitNdp(repr, pb, { src, dst });
    emitIpv6Header({ src, dst, nextHeader: Ipv6NextHeader.ICMPV6, hopLimit: NDP_HOP_LIMIT }, pb);
    if (mac !== undefined) this.#sendTo?.(mac, pb);
    else this.sendIpv6(dst, pb);
  }

  #sendSolicit(target: Ipv6Addr, mac: MacAddr | undefined): void {
    // The source: our address on this link that suits the target (RFC 4861 7.2.2).
    const src = this.#iface.ipv6SourceFor(target);
    if (src === undefined) return;
    this.counters.txSolicits++;
    const dst = mac === undefined ? solicitedNodeAddress(target) : target;
    const repr: NdpRepr = { kind: 'neighbor-solicit', target, sourceLinkAddr: this.#iface.mac };
    this.#sendNdp(repr, src, dst, mac ?? ipv6MulticastMac(dst));
  }

  #carryOut(actions: readonly Ipv6NeighborAction<PendingPacket>[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case 'solicit':
          this.#sendSolicit(a.ip, a.mac);
          break;
        case 'send': {
          const sendTo = this.#sendTo;
          if (sendTo !== undefined) for (const p of a.packets) sendTo(a.mac, p.pb);
          break;
        }
        case 'fail':
          this.counters.drops.unresolved += a.packets.length;
          if (log.enabled) log('%s: %s unreachable, %d packets failed', this.#iface.name, formatIpv6(a.ip), a.packets.length);
          for (const p of a.packets) p.onError?.(netError('EHOSTUNREACH', `no neighbour advertisement from ${formatIpv6(a.ip)}`));
          break;
        case 'drop':
          countDrop(this.counters, a.reason, a.packets.length);
          for (const p of a.packets) p.onError?.(netError('ENOBUFS', `neighbour queue for ${formatIpv6(a.ip)} full`));
          break;
      }
    }
  }

  #rearm(): void {
    this.#timer.set(this.cache.nextDeadline());
  }
}
