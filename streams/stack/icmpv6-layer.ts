import { Observable, Subject, type SchedulerLike, type Subscription } from 'rxjs';
import { createDemux, type Demux } from '../operators/demux.js';
import type { IcmpErrorReport } from './icmp-layer.js';
import { IcmpType, IcmpUnreachableCode } from '../../src/wire/icmp.js';
import type { AddressBook } from '../../src/ip/address-book.js';
import type { Ipv6Datagram, Ipv6ParamProblemEvent, Ipv6Port, Ipv6ReassemblyTimeout } from './ipv6-layer.js';
import type { NetInterface } from './net-interface.js';
import type { NdpLayer } from './ndp-layer.js';
import type { MldLayer } from './mld-layer.js';
import { pingSession, type EchoReply, type PingOptions } from './ping-session.js';
import { emitIcmpv6, icmpv6QuoteLength, Icmpv6Type, Icmpv6TimeExceededCode, Icmpv6UnreachableCode, parseIcmpv6, parseIcmpv6Quote, type Icmpv6Repr } from '../../src/wire/icmpv6.js';
import { Icmpv6ParamProblemCode } from '../../src/wire/ipv6-ext.js';
import { Ipv6NextHeader } from '../../src/wire/ipv6.js';
import { IpProtocol } from '../../src/wire/ipv4.js';
import { TokenBucket } from '../../src/icmp/rate-limiter.js';
import type { IcmpConfig } from '../../src/ipv4/config.js';
import { type Ipv6Addr, formatIpv6, ipv6Equals, isIpv6Multicast, isIpv6Unspecified, parseIpv6 } from '../../src/ipv6/address.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import { createCounters, countDrop } from '../../src/stats.js';
import { logger } from '../../src/log.js';
import { NetstackError } from '../../src/errors.js';
import { EchoForwardSlot, type EchoForwardOptions, type EchoForwardRequest, type EchoResponder, type IcmpForwardCounters } from './icmp-echo-forwarder.js';

const log = logger('icmpv6');

export const ICMPV6_DROP_REASONS = [
  'truncated', 'badChecksum', 'badQuote', 'multicastEcho', 'unknownType', 'noListener', 'noNdp', 'noMld',
  /** An error quoting addresses no endpoint holds (not in the address book): it cannot name one. */
  'unknownEndpoint',
  /** A Packet Too Big whose quote is not a packet we sent (its source is not ours). */
  'packetTooBigNotOurs',
  /** A message for another host, taken in forwarding mode, that is not an echo request (only those are forwarded). */
  'foreignNotEcho',
] as const;

function createIcmpv6Counters() {
  return createCounters(
    ['rxMessages', 'rxEchoRequests', 'rxEchoReplies', 'rxErrors', 'rxNdp', 'rxMld', 'txEchoReplies', 'txEchoRequests', 'txErrors', 'errorsRateLimited', 'errorsSuppressed',
      /**
       * Packet Too Big received (RFC 8201): about TCP and UDP handed to them to check (see
       * `errors$`: a fragmentation-needed report), about anything else (echo) straight to the
       * path MTU cache.
       */
      'rxPacketTooBig'],
    ICMPV6_DROP_REASONS,
  );
}
export type Icmpv6Counters = ReturnType<typeof createIcmpv6Counters>;

/** What ICMPv6 answers besides its own protocol: what IPv6 could not deliver. */
export interface Icmpv6Sources {
  /** Packets of protocols nobody claimed: Parameter Problem code 1 (RFC 8200 4). */
  readonly unmatched$?: Observable<Ipv6Datagram>;
  /** Packets the extension header walk or reassembly refused with a Parameter Problem. */
  readonly paramProblems$?: Observable<Ipv6ParamProblemEvent>;
  /** Partial datagrams given up on: Time Exceeded code 1 (RFC 8200 4.5). */
  readonly reassemblyTimeouts$?: Observable<Ipv6ReassemblyTimeout>;
}

/**
 * ICMPv6 (RFC 4443): echo replies, `ping()` to IPv6 addresses, errors (Parameter Problem from
 * the extension header walk and for unknown next headers, Time Exceeded for reassembly) under
 * RFC 4443 2.4's "never in answer to" rules and a token bucket of its own, and Neighbour
 * Discovery and MLD messages handed to the NdpLayer and MldLayer of the interface they came in by.
 *
 * Received errors (destination unreachable, time exceeded, parameter problem) go to the
 * transport that sent the quoted packet through `errors$(protocol)`, as ICMP's do, when the
 * quote's addresses are in the stack's address book (else no endpoint can hold them). A Packet
 * Too Big about TCP or UDP goes the same way as "fragmentation needed" (type 3 code 4 with the
 * MTU): the transport checks that it names something in flight and tells IPv6's path MTU cache;
 * one about anything else we sent (echo requests) goes to the cache at once.
 */
export class Icmpv6Layer {
  readonly counters = createIcmpv6Counters();

  readonly #port: Ipv6Port;
  readonly #sources: Icmpv6Sources;
  readonly #ndp: (iface: NetInterface) => NdpLayer | undefined;
  readonly #mld: (iface: NetInterface) => MldLayer | undefined;
  readonly #scheduler: SchedulerLike;
  readonly #bucket: TokenBucket;
  readonly #pings = new Map<number, (d: Ipv6Datagram, seq: number, dataLength: number) => void>();
  #nextIdent = Math.floor(Math.random() * 0x10000);
  readonly #subscriptions: Subscription[] = [];
  readonly #reports = new Subject<IcmpErrorReport>();
  readonly #errors: Demux<IcmpErrorReport, number>;
  readonly #book: AddressBook | undefined;
  /** The `forwardEcho()` responder, while one is subscribed. */
  readonly #echo = new EchoForwardSlot();

  /**
   * @param port the boundary of IPv6 protocol 58 (claimed by `start()`).
   * @param ndp the NdpLayer of an interface, for the NDP messages that come in by it.
   * @param mld the MldLayer of an interface, for MLD queries and reports (default: none, counted as `noMld`).
   * @param book the stack's address book, to name the endpoints of received errors (without
   *   it they are counted as `noListener`).
   */
  constructor(
    port: Ipv6Port, scheduler: SchedulerLike, config: Readonly<IcmpConfig>, ndp: (iface: NetInterface) => NdpLayer | undefined,
    sources: Icmpv6Sources = {}, mld: (iface: NetInterface) => MldLayer | undefined = () => undefined, book?: AddressBook,
  ) {
    this.#port = port;
    this.#book = book;
    this.#errors = createDemux(this.#reports.asObservable(), (r) => r.protocol, { name: 'icmpv6 errors' });
    this.#subscriptions.push(this.#errors.unmatched$.subscribe(() => this.counters.drops.noListener++));
    this.#sources = sources;
    this.#ndp = ndp;
    this.#mld = mld;
    this.#scheduler = scheduler;
    this.#bucket = new TokenBucket(config.errorRatePerSecond, config.errorBurst);
  }

  start(): void {
    this.#subscriptions.push(this.#port.up$.subscribe((d) => this.#input(d)));
    const { unmatched$, paramProblems$, reassemblyTimeouts$ } = this.#sources;
    if (unmatched$ !== undefined) {
      this.#subscriptions.push(unmatched$.subscribe((d) =>
        this.#sendError(d.packet, d.multicast, { kind: 'parameter-problem', code: Icmpv6ParamProblemCode.UNRECOGNIZED_NEXT_HEADER, pointer: d.nextHeaderAt, quoted: EMPTY })));
    }
    if (paramProblems$ !== undefined) {
      this.#subscriptions.push(paramProblems$.subscribe((e) =>
        // RFC 4443 2.4 e.3: an unknown option whose action bits say "even to multicast" is answered.
        this.#sendError(e.packet, e.multicast && !(e.code === Icmpv6ParamProblemCode.UNRECOGNIZED_OPTION && unknownOptionAnswersMulticast(e)),
          { kind: 'parameter-problem', code: e.code, pointer: e.pointer, quoted: EMPTY })));
    }
    if (reassemblyTimeouts$ !== undefined) {
      this.#subscriptions.push(reassemblyTimeouts$.subscribe((t) => {
        const first = t.expired.firstPacket;
        if (first !== undefined) this.#sendError(first, isIpv6Multicast(t.expired.dst), { kind: 'time-exceeded', code: Icmpv6TimeExceededCode.REASSEMBLY_TIME_EXCEEDED, quoted: EMPTY });
      }));
    }
  }

  close(): void {
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions.length = 0;
    this.#reports.complete();
    this.#echo.close();
  }

  /**
   * Echo forwarding over IPv6 (the twin of IcmpLayer.forwardEcho, which `stack.icmp.forwardEcho`
   * subscribes beside this): while subscribed, echo requests to any address that is not the
   * stack's go to `responder`, and are answered from that address when it says so. `counters`:
   * where to count (the stack shares IPv4's `icmpForward`). One responder at a time (EADDRINUSE).
   */
  forwardEcho(responder: EchoResponder, options: EchoForwardOptions, counters: IcmpForwardCounters): Observable<never> {
    const network = this.#port.network;
    const acceptForeign = network.acceptForeign === undefined ? undefined : () => network.acceptForeign!(Ipv6NextHeader.ICMPV6);
    return this.#echo.forwardEcho(responder, options, counters, acceptForeign, (r) => this.#forwardedReply(r));
  }

  /** The echo reply a responder agreed to, from the original destination (allowed while the forwarding mode is held). */
  #forwardedReply(r: EchoForwardRequest): void {
    const src = parseIpv6(r.to);
    const dst = parseIpv6(r.from);
    if (src === undefined || dst === undefined) return;
    const pb = PacketBuffer.withPayload(r.data);
    emitIcmpv6({ kind: 'echo-reply', ident: r.ident, seq: r.seq, data: EMPTY }, pb, { src, dst });
    this.counters.txEchoReplies++;
    this.#port.down.next({ pb, dst, src, protocol: Ipv6NextHeader.ICMPV6 });
  }

  /**
   * ICMPv6 errors about packets of upper-layer `protocol` we sent, in ICMP's terms (see
   * IcmpErrorReport): TCP and UDP claim theirs. Subscribing claims the protocol (EADDRINUSE if
   * taken); errors nobody claimed are counted as `noListener`.
   */
  errors$(protocol: number): Observable<IcmpErrorReport> {
    return this.#errors.endpoint(protocol);
  }

  /**
   * Echo requests to the IPv6 `address`: one EchoReply per answer (its `ttl` is the reply's hop
   * limit), completing after `count`; ETIMEDOUT when a reply is `timeout` ms late, or the
   * routing/neighbour error (ENETUNREACH, EHOSTUNREACH) when a request cannot be sent.
   */
  ping(address: string, options: PingOptions = {}): Observable<EchoReply> {
    const target = parseIpv6(address);
    return pingSession<Ipv6Datagram>(address, options, {
      scheduler: this.#scheduler,
      maxSize: 65527, // 65,535 bytes of payload, less the 8-byte echo header
      addressProblem: () => (target === undefined ? `address: "${address}" is not an IPv6 address` : undefined),
      open: (onReply) => {
        const ident = this.#allocateIdent();
        this.#pings.set(ident, onReply);
        return ident;
      },
      close: (ident) => this.#pings.delete(ident),
      send: (ident, seq, size, onError) => {
        const dst = target as Ipv6Addr;
        const route = this.#port.network.routeFor(dst);
        if (!('iface' in route)) {
          onError(route);
          return;
        }
        const pb = PacketBuffer.alloc(size);
        for (let i = 0; i < size; i++) pb.buf[pb.head + i] = i & 0xff;
        emitIcmpv6({ kind: 'echo-request', ident, seq, data: EMPTY }, pb, { src: route.src, dst });
        this.counters.txEchoRequests++;
        this.#port.down.next({ pb, dst, src: route.src, protocol: Ipv6NextHeader.ICMPV6, onError });
      },
      fromTarget: (d) => isIpv6Multicast(target as Ipv6Addr) || ipv6Equals(d.src, target as Ipv6Addr),
      reply: (d, seq, bytes, rttMs) => ({ from: formatIpv6(d.src), seq, bytes, ttl: d.hopLimit, rttMs }),
    });
  }

  /**
   * Destination Unreachable (RFC 4443 3.1) for a packet a transport could not deliver (code 4,
   * port unreachable, for UDP to a closed port), under the same suppression rules and rate
   * limit as every error. `packet` is the invoking packet from its fixed header.
   */
  sendUnreachable(packet: Uint8Array, multicast: boolean, code: number, fromDestination = false): void {
    this.#sendError(packet, multicast, { kind: 'dest-unreachable', code, quoted: EMPTY }, fromDestination);
  }

  #allocateIdent(): number {
    for (let i = 0; i < 0x10000; i++) {
      const ident = (this.#nextIdent++) & 0xffff;
      if (!this.#pings.has(ident)) return ident;
    }
    throw new NetstackError('ENOBUFS', 'ping: every ICMPv6 identifier is in use');
  }

  #input(d: Ipv6Datagram): void {
    const c = this.counters;
    c.rxMessages++;
    const parsed = parseIcmpv6(d.payload, d);
    if (!parsed.ok) {
      countDrop(c, parsed.reason);
      return;
    }
    const m = parsed.value;
    if (d.foreign && m.kind !== 'echo-request') {
      c.drops.foreignNotEcho++; // another host's message: only its echo requests are a forwarder's
      return;
    }
    switch (m.kind) {
      case 'echo-request': {
        c.rxEchoRequests++;
        // As IPv4 with broadcasts: an echo to a group is an amplifier; not answered.
        if (d.multicast) {
          c.drops.multicastEcho++;
          return;
        }
        // Echo forwarding: a request to an address not ours is the responder's to answer.
        if (d.foreign) {
          this.#echo.forwarder?.offer({ from: formatIpv6(d.src), to: formatIpv6(d.dst), ident: m.ident, seq: m.seq, data: m.data.slice(), ttl: d.hopLimit });
          return;
        }
        const pb = PacketBuffer.withPayload(m.data);
        const src = d.dst.slice();
        const dst = d.src.slice();
        emitIcmpv6({ kind: 'echo-reply', ident: m.ident, seq: m.seq, data: EMPTY }, pb, { src, dst });
        c.txEchoReplies++;
        this.#port.down.next({ pb, dst, src, protocol: Ipv6NextHeader.ICMPV6, trafficClass: ((d.packet[0] & 0x0f) << 4) | (d.packet[1] >>> 4), iface: d.iface });
        return;
      }
      case 'echo-reply': {
        c.rxEchoReplies++;
        const handler = this.#pings.get(m.ident);
        if (handler === undefined) c.drops.noListener++;
        else handler(d, m.seq, m.data.length);
        return;
      }
      case 'dest-unreachable':
      case 'packet-too-big':
      case 'time-exceeded':
      case 'parameter-problem': {
        c.rxErrors++;
        const q = parseIcmpv6Quote(m.quoted);
        if (!q.ok) {
          c.drops.badQuote++;
          return;
        }
        const quote = q.value;
        if (m.kind === 'packet-too-big') {
          c.rxPacketTooBig++;
          // RFC 8201 4 / RFC 5927: believed only about a packet we sent; TCP and UDP check
          // further (a sequence number in flight, a socket on the port) before the cache learns.
          if (!this.#port.network.isLocal(quote.src)) {
            c.drops.packetTooBigNotOurs++;
            return;
          }
          if (quote.protocol !== IpProtocol.TCP && quote.protocol !== IpProtocol.UDP) {
            this.#port.network.packetTooBig?.(quote.dst, m.mtu);
            return;
          }
        }
        const book = this.#book;
        const local = book?.idOf(quote.src);
        const remote = book?.idOf(quote.dst);
        if (local === undefined || remote === undefined) {
          c.drops.unknownEndpoint++;
          return;
        }
        // Packet Too Big in ICMP's terms is "fragmentation needed" with the next-hop MTU.
        const [type, code] = m.kind === 'packet-too-big' ? PACKET_TOO_BIG_AS_ICMP : asIcmpError(m.kind, m.code);
        this.#reports.next({
          protocol: quote.protocol, type, code, from: 0, fromText: formatIpv6(d.src),
          localAddress: local, localPort: quote.srcPort, remoteAddress: remote, remotePort: quote.dstPort,
          nextHopMtu: m.kind === 'packet-too-big' ? m.mtu : 0, quotedSequence: quote.word1,
        });
        return;
      }
      case 'other': {
        if (m.type >= Icmpv6Type.ROUTER_SOLICIT && m.type <= Icmpv6Type.REDIRECT) {
          c.rxNdp++;
          const ndp = this.#ndp(d.iface);
          if (ndp === undefined) c.drops.noNdp++;
          else ndp.input(d);
          return;
        }
        if (m.type === Icmpv6Type.MLD_QUERY || m.type === Icmpv6Type.MLDV1_REPORT || m.type === Icmpv6Type.MLDV1_DONE || m.type === Icmpv6Type.MLDV2_REPORT) {
          c.rxMld++;
          const mld = this.#mld(d.iface);
          if (mld === undefined) c.drops.noMld++;
          else mld.input(d);
          return;
        }
        // Informational types we do not know (RFC 4443 2.4 b: silently dropped).
        c.drops.unknownType++;
      }
    }
  }

  /**
   * RFC 4443 2.4 e: never answer an ICMPv6 error or a redirect, a packet to a multicast address
   * or in a link-level group frame (`multicast`: the exceptions are decided by the caller), or a
   * packet whose source is not a unicast address; rate-limit the rest (f). The quote is cut so
   * the error fits the minimum MTU (c).
   */
  /** `fromDestination`: from the invoking packet's destination even when it is not ours (a forwarder speaking for it). */
  #sendError(invoking: Uint8Array, multicast: boolean, repr: Icmpv6Repr, fromDestination = false): void {
    const c = this.counters;
    const src = invoking.subarray(8, 24);
    const dst = invoking.subarray(24, 40);
    if (multicast || isIpv6Unspecified(src) || isIpv6Multicast(src) || isErrorMessage(invoking)) {
      c.errorsSuppressed++;
      return;
    }
    if (!this.#bucket.take(this.#scheduler.now())) {
      c.errorsRateLimited++;
      return;
    }
    // Answer from the address the packet was sent to, when it is ours (not a group).
    const from = isIpv6Multicast(dst) || (!fromDestination && !this.#port.network.isLocal(dst)) ? undefined : dst.slice();
    const to = src.slice();
    const route = this.#port.network.routeFor(to);
    if (!('iface' in route)) {
      c.errorsSuppressed++;
      return;
    }
    const srcAddr = from ?? route.src;
    const pb = PacketBuffer.withPayload(invoking.subarray(0, icmpv6QuoteLength(invoking.length)));
    emitIcmpv6(repr, pb, { src: srcAddr, dst: to });
    c.txErrors++;
    if (log.enabled) log('error type %d to %s', pb.buf[pb.head], formatIpv6(to));
    this.#port.down.next({ pb, dst: to, src: srcAddr, protocol: Ipv6NextHeader.ICMPV6 });
  }
}

const EMPTY = new Uint8Array(0);
const PACKET_TOO_BIG_AS_ICMP: [number, number] = [IcmpType.DEST_UNREACHABLE, IcmpUnreachableCode.FRAGMENTATION_NEEDED];

/**
 * An ICMPv6 error's type and code in ICMP's terms, as Linux's icmpv6_err_convert reads them:
 * no route -> net unreachable (ENETUNREACH); address unreachable and beyond scope -> host
 * unreachable (EHOSTUNREACH); port unreachable -> port unreachable (ECONNREFUSED);
 * administratively prohibited, source policy and reject route -> communication prohibited.
 */
function asIcmpError(kind: 'dest-unreachable' | 'time-exceeded' | 'parameter-problem', code: number): [number, number] {
  if (kind === 'time-exceeded') return [IcmpType.TIME_EXCEEDED, code];
  if (kind === 'parameter-problem') return [IcmpType.PARAMETER_PROBLEM, 0];
  switch (code) {
    case Icmpv6UnreachableCode.NO_ROUTE: return [IcmpType.DEST_UNREACHABLE, IcmpUnreachableCode.NET_UNREACHABLE];
    case Icmpv6UnreachableCode.PORT_UNREACHABLE: return [IcmpType.DEST_UNREACHABLE, IcmpUnreachableCode.PORT_UNREACHABLE];
    case Icmpv6UnreachableCode.ADMIN_PROHIBITED:
    case Icmpv6UnreachableCode.SOURCE_POLICY_FAILED:
    case Icmpv6UnreachableCode.REJECT_ROUTE:
      return [IcmpType.DEST_UNREACHABLE, IcmpUnreachableCode.COMMUNICATION_PROHIBITED];
    default: return [IcmpType.DEST_UNREACHABLE, IcmpUnreachableCode.HOST_UNREACHABLE];
  }
}

/** True when the invoking packet is itself an ICMPv6 error or a redirect (never answered). */
function isErrorMessage(packet: Uint8Array): boolean {
  if (packet[6] !== Ipv6NextHeader.ICMPV6) return false; // an ICMPv6 message behind extension headers is rare: treated as not an error
  if (packet.length < 41) return true;
  const type = packet[40];
  return type < 128 || type === Icmpv6Type.REDIRECT;
}

/** For code 2: the option type's high-order bits 10 ask for an answer even to multicast (RFC 8200 4.2). */
function unknownOptionAnswersMulticast(e: Ipv6ParamProblemEvent): boolean {
  const type = e.packet[e.pointer];
  return type !== undefined && type >>> 6 === 2;
}
