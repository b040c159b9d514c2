import { Subject, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { EthernetOut, EthernetSink } from './ethernet-layer.js';
import type { Boundary, FusedOut } from '../pipeline/boundary.js';
import { attachUp } from '../pipeline/up-stream.js';
import type { NetInterface } from './net-interface.js';
import { DeadlineTimer } from './deadline-timer.js';
import { NeighborCache, type NeighborAction, type NeighborChange, type NeighborEntry } from '../../src/arp/neighbor-cache.js';
import type { NeighborCacheConfig } from '../../src/ipv4/config.js';
import { ArpOp, ArpPacket, ARP_PACKET_LEN, emitArp } from '../../src/wire/arp.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { type Ipv4Addr, IPV4_BROADCAST, isMulticast, formatIpv4 } from '../../src/ipv4/address.js';
import { MAC_BROADCAST, MAC_ZERO, type MacAddr } from '../../src/mac.js';
import { createCounters, countDrop } from '../../src/stats.js';
import { log } from '../../src/log.js';
import { NetstackError, netError } from '../../src/errors.js';

/** A packet waiting for its next hop's MAC, and whom to tell if it never gets one. */
export interface PendingPacket {
  readonly pb: PacketBuffer;
  readonly onError: ((err: NetstackError) => void) | undefined;
}

/** What IPv4 hands to neighbour resolution: a packet (IPv4 header included) for `nextHop`. */
export interface NextHopPacket extends PendingPacket {
  readonly nextHop: Ipv4Addr;
}

/** The boundary under IPv4 on one interface: IPv4 frames up, packets for a next hop down. */
export interface NeighborBoundary extends Boundary<Uint8Array, NextHopPacket> {
  /**
   * Bytes of link header in front of each IPv4 packet going up: 14 (Ethernet, the default when
   * absent) or 0 (a link of bare IP packets, see `pointToPoint`).
   */
  readonly linkHeaderLength?: number;
}

/**
 * @internal ARP's fused way out (Sink.fused of the resolver's `down`): a sender above that
 * writes a whole IPv4 frame itself asks for the next hop's MAC and hands over the frame. Only
 * for a neighbour already known and fresh (the packet would leave at once on the long way too);
 * anything else (unknown, stale, broadcast, multicast) takes `next` with a record.
 */
export interface FrameOut extends FusedOut {
  /** The next hop's MAC when it is known and reachable now; undefined: send the long way. */
  macFor(nextHop: Ipv4Addr): Uint8Array | undefined;
  /** Our MAC: the frame's source. */
  readonly srcMac: Uint8Array;
  /**
   * The room to leave in front of a frame for the link's own header (EthernetSink.frameRoom):
   * a frame made with it goes to the device in one piece.
   */
  readonly frameRoom: number;
  /**
   * `send` may be given a partial transport checksum (the pseudo-header's sum at `csumStart +
   * csumOffset`, `csumStart` an index in `buf`) for the link to finish: a frame made with
   * `frameRoom` in front goes to a device that finishes it (checksum offload).
   */
  readonly partialChecksum: boolean;
  /** A finished frame, `buf[head..]` (Ethernet header with `macFor`'s MAC and `srcMac`; checksums complete, or one partial as `partialChecksum` allows), to the link. */
  send(buf: Uint8Array, head: number, csumStart?: number, csumOffset?: number): void;
}

export const ARP_DROP_REASONS = ['truncated', 'badHardwareType', 'badProtocolType', 'badAddressLength', 'unknownOp', 'unresolved', 'queueFull'] as const;

function createArpCounters() {
  return createCounters(['rxPackets', 'rxRequests', 'rxReplies', 'txRequests', 'txReplies', 'txGratuitous'], ARP_DROP_REASONS);
}

/**
 * ARP on one interface: answers requests for our addresses (broadcast or unicast, since Linux
 * re-validates neighbours with unicast requests), learns per RFC 826's merge rule through the
 * pure NeighborCache, and resolves next hops for IPv4 output, queueing packets meanwhile.
 * The cache's one deadline (retries, aging, failures) is kept on one DeadlineTimer.
 */
export class ArpLayer {
  readonly counters = createArpCounters();
  readonly cache: NeighborCache<PendingPacket>;
  readonly #changes = new Subject<NeighborChange>();
  readonly #iface: NetInterface;
  readonly #arp: Boundary<Uint8Array, EthernetOut>;
  /**
   * Where resolved IPv4 packets go: the IPv4 EtherType's boundary (see `resolver`), record-free
   * when the Ethernet layer is right below (see EthernetSink).
   */
  #ipv4SendTo: ((dst: Uint8Array, pb: PacketBuffer) => void) | undefined;
  readonly #scheduler: SchedulerLike;
  readonly #timer: DeadlineTimer;
  readonly #view = new ArpPacket();
  #subscription: Subscription | undefined;

  /**
   * @param arp the boundary of the ARP EtherType (claimed by `start()`): requests and replies.
   */
  constructor(iface: NetInterface, arp: Boundary<Uint8Array, EthernetOut>, scheduler: SchedulerLike, config: Readonly<Partial<NeighborCacheConfig>>) {
    this.#iface = iface;
    this.#arp = arp;
    this.#scheduler = scheduler;
    this.cache = new NeighborCache<PendingPacket>(config);
    this.cache.onChange = (change) => this.#changes.next(change);
    this.#timer = new DeadlineTimer(scheduler, (now) => {
      this.#carryOut(this.cache.expire(now));
      this.#rearm();
    });
  }

  /** Changes to the neighbour table as they happen. */
  get changes$(): Observable<NeighborChange> {
    return this.#changes.asObservable();
  }

  start(): void {
    this.#subscription = attachUp(this.#arp.up$, (frame) => this.#input(frame));
  }

  /**
   * Neighbour resolution over `lower` (the IPv4 EtherType's boundary): the boundary IPv4 sits
   * on. Its frames pass up untouched; a packet going down gets its next hop's MAC from the
   * cache, or waits (bounded) while ARP asks for it. One resolver per interface.
   */
  resolver(lower: Boundary<Uint8Array, EthernetOut>): NeighborBoundary {
    const sendTo = (lower.down as EthernetSink).sendTo;
    const down = lower.down;
    this.#ipv4SendTo = sendTo !== undefined ? sendTo : (dst, pb) => down.next({ dst, pb });
    const partialChecksum = lower.down.partialChecksum === true;
    const maxGsoBytes = lower.down.maxGsoBytes;
    // Whole frames written above go straight to Ethernet's writer, when it has one.
    const sendFrame = (lower.down as EthernetSink).sendFrame;
    const srcMac = (lower.down as EthernetSink).srcMac;
    const fused: FrameOut | undefined = sendFrame === undefined || srcMac === undefined ? undefined : {
      ready: () => true,
      macFor: (nextHop) => this.#freshMac(nextHop),
      srcMac,
      frameRoom: (lower.down as EthernetSink).frameRoom ?? 0,
      partialChecksum: (lower.down as EthernetSink).partialFrames === true,
      send: sendFrame,
    };
    // The record is read at once and kept by nothing (a waiting packet gets an item of its own).
    return { up$: lower.up$, down: { next: (p: NextHopPacket) => this.sendIpv4(p.nextHop, p.pb, p.onError), partialChecksum, maxGsoBytes, retainsNothing: true, fused } };
  }

  /** A unicast next hop's MAC when known and fresh (as `sendIpv4` finds it: no clock read), else undefined. */
  #freshMac(nextHop: Ipv4Addr): Uint8Array | undefined {
    if (nextHop === IPV4_BROADCAST || isMulticast(nextHop) || this.#iface.isDirectedBroadcast(nextHop)) return undefined;
    return this.cache.reachableMac(nextHop);
  }

  close(): void {
    this.#subscription?.unsubscribe();
    this.#timer.close();
    this.#changes.complete();
  }

  entries(): NeighborEntry[] {
    return this.cache.entries();
  }

  addStatic(ip: Ipv4Addr, mac: MacAddr): void {
    this.#carryOut(this.cache.addStatic(ip, mac, this.#scheduler.now()));
  }

  remove(ip: Ipv4Addr): void {
    this.#carryOut(this.cache.remove(ip));
  }

  /** Announces `ip` as ours (gratuitous ARP request, RFC 5227 2.4), so neighbours update caches. */
  announce(ip: Ipv4Addr): void {
    this.counters.txGratuitous++;
    this.#sendArp(ArpOp.REQUEST, MAC_BROADCAST, MAC_ZERO, ip, ip);
  }

  /**
   * @internal (IPv4 sends through `resolver()`'s boundary)
   * Sends an IPv4 packet (already holding its IPv4 header) to `nextHop` on this link: broadcast
   * and multicast map to group MACs; unicast next hops go through the neighbour cache, waiting
   * for resolution when needed. A failed resolution calls `onError` with EHOSTUNREACH.
   */
  sendIpv4(nextHop: Ipv4Addr, pb: PacketBuffer, onError?: (err: NetstackError) => void): void {
    const sendTo = this.#ipv4SendTo;
    if (sendTo === undefined) throw new NetstackError('ERR_INVALID_STATE', 'ArpLayer: sendIpv4 before resolver()');
    if (nextHop === IPV4_BROADCAST || this.#iface.isDirectedBroadcast(nextHop)) {
      sendTo(MAC_BROADCAST, pb);
      return;
    }
    if (isMulticast(nextHop)) {
      // RFC 1112 6.4: 01:00:5e + the low 23 bits of the group address.
      const mac = new Uint8Array([0x01, 0x00, 0x5e, (nextHop >>> 16) & 0x7f, (nextHop >>> 8) & 0xff, nextHop & 0xff]);
      sendTo(mac, pb);
      return;
    }
    // A known, fresh neighbour (nearly every packet): its MAC at once, no clock read and no
    // queue item made. The entry turns stale when its reachable time is up at the timer (the
    // cache's deadline, always armed while an entry is reachable), not by a reading per packet.
    const mac = this.cache.reachableMac(nextHop);
    if (mac !== undefined) {
      sendTo(mac, pb);
      return;
    }
    const now = this.#scheduler.now();
    const r = this.cache.resolve(nextHop, { pb, onError }, now);
    if (r.mac !== undefined) sendTo(r.mac, pb);
    else pb.own(); // it waits: a payload gathered from the send buffer is copied (PacketBuffer.tail)
    if (r.actions.length > 0) this.#carryOut(r.actions);
    // Re-arm whenever the packet waits: a new resolution whose first request the rate limit
    // refused comes back with no action, yet its retry/failure deadline must be armed.
    if (r.mac === undefined || r.actions.length > 0) this.#rearm();
  }

  /** An upper layer saw `ip` answer (e.g. TCP progress): its entry is still good. */
  confirm(ip: Ipv4Addr): void {
    this.cache.confirm(ip, this.#scheduler.now());
    // The entry's reachable time runs out at a deadline the timer must know (see sendIpv4).
    this.#rearm();
  }

  #input(frame: Uint8Array): void {
    const c = this.counters;
    c.rxPackets++;
    const p = this.#view.reset(frame.subarray(14));
    const reason = p.check();
    if (reason !== undefined) {
      countDrop(c, reason);
      if (log.arp.enabled) log.arp('%s: drop malformed ARP (%s)', this.#iface.name, reason);
      return;
    }
    const op = p.op;
    if (op !== ArpOp.REQUEST && op !== ArpOp.REPLY) {
      c.drops.unknownOp++;
      return;
    }
    const senderIp = p.senderIp;
    const targetIp = p.targetIp;
    const targetIsOurs = this.#iface.hasAddress(targetIp);
    if (op === ArpOp.REQUEST) c.rxRequests++;
    else c.rxReplies++;
    // Copy the sender MAC: the cache keeps it, and the frame's bytes are the link's.
    const senderMac = p.senderMac.slice();
    if (this.#iface.hasAddress(senderIp)) {
      // Someone else claims our address (or our own announcement looped back): learn nothing.
      if (log.arp.enabled) log.arp('%s: ARP from our own address %s', this.#iface.name, formatIpv4(senderIp));
      return;
    }
    this.#carryOut(this.cache.receive(senderIp, senderMac, targetIsOurs, this.#scheduler.now()));
    this.#rearm();
    if (op === ArpOp.REQUEST && targetIsOurs) {
      c.txReplies++;
      this.#sendArp(ArpOp.REPLY, senderMac, senderMac, targetIp, senderIp);
    }
  }

  #sendArp(op: number, ethDst: Uint8Array, targetMac: Uint8Array, senderIp: Ipv4Addr, targetIp: Ipv4Addr): void {
    const pb = PacketBuffer.alloc(0, 14 + ARP_PACKET_LEN);
    emitArp({ op, senderMac: this.#iface.mac, senderIp, targetMac, targetIp }, pb);
    this.#arp.down.next({ dst: ethDst, pb });
  }

  #carryOut(actions: readonly NeighborAction<PendingPacket>[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case 'request': {
          this.counters.txRequests++;
          const src = this.#iface.sourceFor(a.ip);
          if (src === undefined) break;
          this.#sendArp(ArpOp.REQUEST, a.mac ?? MAC_BROADCAST, MAC_ZERO, src, a.ip);
          break;
        }
        case 'send': {
          const sendTo = this.#ipv4SendTo;
          if (sendTo !== undefined) for (const p of a.packets) sendTo(a.mac, p.pb);
          break;
        }
        case 'fail': {
          this.counters.drops.unresolved += a.packets.length;
          if (log.arp.enabled) log.arp('%s: %s unreachable, %d packets failed', this.#iface.name, formatIpv4(a.ip), a.packets.length);
          for (const p of a.packets) p.onError?.(netError('EHOSTUNREACH', `no ARP reply from ${formatIpv4(a.ip)}`));
          break;
        }
        case 'drop':
          this.counters.drops.queueFull += a.packets.length;
          for (const p of a.packets) p.onError?.(netError('ENOBUFS', `ARP queue for ${formatIpv4(a.ip)} full`));
          break;
      }
    }
  }

  #rearm(): void {
    this.#timer.set(this.cache.nextDeadline());
  }
}
