import { RecordLender, NO_PACKET } from '../pipeline/lent-record.js';
import { Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { Ipv4Port, Ipv4Send, WholeOut } from './ipv4-layer.js';
import { ReceivedIpv6, type Ipv6Datagram, type Ipv6Send } from './ipv6-layer.js';
import { ReceivedIp } from './received-ip.js';
import { IpNetwork, deliverIpv6, type IpDatagram, type IpSend, type Ipv6Transport } from './ip-network.js';
import type { IcmpErrorReport, IcmpLayer } from './icmp-layer.js';
import { hookPoint, type Boundary, type BoundaryOperators, type Sink } from '../pipeline/boundary.js';
import { attachUp, attachUpDirect } from '../pipeline/up-stream.js';
import { UdpEndpoint, DEFAULT_RECEIVE_QUEUE, type ReceiveQueueOptions } from './udp-endpoint.js';
import { UdpSocket, type UdpSocketHost } from './udp-socket.js';
import { udpErrorFor } from './udp-icmp-errors.js';
import { UdpDatagram, UdpOffset, UDP_HEADER_LEN, emitUdp, writeUdpHeader } from '../../src/wire/udp.js';
import { IpProtocol, IPV4_MIN_HEADER_LEN } from '../../src/wire/ipv4.js';
import { IcmpType, IcmpUnreachableCode } from '../../src/wire/icmp.js';
import { EndpointTable } from '../../src/transport/endpoint-table.js';
import { PortManager } from '../../src/transport/port-manager.js';
import { DEFAULT_UDP_QUEUE_LIMITS, type UdpConfig } from '../../src/config/protocol-config.js';
import { QueueBudget } from './udp-receive-queue.js';
import { IPV4_BROADCAST, formatIpv4, isMulticast } from '../../src/ipv4/address.js';
import { AddressBook, IPV6_ID_BASE, IP_ANY4, IP_ANY6, isIpAny, type IpAddr } from '../../src/ip/address-book.js';
import { fillIpv6UpperChecksum, ipv6ChecksumOkAt, ipv6ChecksumOkFor, ipv6UpperChecksumOk } from '../../src/wire/ipv6.js';
import { ipv6EqualsAt, formatIpv6 } from '../../src/ipv6/address.js';
import { Icmpv6UnreachableCode } from '../../src/wire/icmpv6.js';
import { PacketBuffer, copyBytes } from '../../src/packet-buffer.js';
import type { NetInterface } from './net-interface.js';
import { ETHERNET_HEADER_LEN } from '../../src/wire/ethernet.js';
import { createCounters, countDrop } from '../../src/stats.js';
import { log } from '../../src/log.js';
import { NetstackError, netError } from '../../src/errors.js';
import { icmpv6CodeOf } from './tcp-forwarder.js';
import { UdpForwarder, createUdpForwardCounters, type UdpForwardOptions, type UdpForwardSession } from './udp-forwarder.js';

/** Options of `stack.udp.bind()`. */
export interface UdpBindOptions {
  /**
   * Local address: one of the stack's (IPv4 or IPv6 text), `'0.0.0.0'` (every IPv4 address) or
   * `'::'` (every address of both families: dual stack, unless `ipv6Only`). Default `'0.0.0.0'`.
   */
  readonly address?: string;
  /** With `'::'`: IPv6 only, no IPv4 datagrams (IPV6_V6ONLY). Default false. */
  readonly ipv6Only?: boolean;
  /** Local port; 0 or absent picks a free one from the ephemeral range. */
  readonly port?: number;
  /** SO_BROADCAST: may send to broadcast addresses. Default false (sending to one is EACCES). */
  readonly broadcast?: boolean;
  /** Limits of the receive queue that holds datagrams while nobody subscribes. */
  readonly receiveQueue?: ReceiveQueueOptions;
}

/** What `stack.udp` offers. */
export interface Udp {
  /**
   * Binds a socket now and returns it. @throws NetstackError EADDRINUSE (port taken, or no
   * ephemeral port left), EADDRNOTAVAIL (not one of our addresses), ERR_INVALID_ARG_VALUE,
   * ERR_SOCKET_CLOSED (the stack is closed).
   */
  bind(options?: UdpBindOptions): UdpSocket;
  /**
   * The same, tied to a subscription: subscribing binds and emits the socket once,
   * unsubscribing closes it (freeing the port); completes when the socket is closed otherwise;
   * errors with what `bind` throws.
   */
  bind$(options?: UdpBindOptions): Observable<UdpSocket>;
  /**
   * Forwarding: while subscribed, unicast datagrams that no socket takes, to ANY address and
   * port, are grouped by 4-tuple into sessions, each emitted once with its first datagram;
   * replies go out from the original destination. One subscriber at a time (EADDRINUSE);
   * unsubscribing ends every session. Without one, such datagrams are dropped as before (not
   * for us) or answered with port unreachable (ours).
   */
  forward(options?: UdpForwardOptions): Observable<UdpForwardSession>;
}

/** A UDP datagram that passed the header and checksum checks, on its way to the sockets. */
export interface UdpDatagramIn {
  /** The datagram it came in, either family (addresses as `IpAddr`, interface, broadcast). */
  readonly datagram: IpDatagram;
  readonly srcPort: number;
  readonly dstPort: number;
  /** The UDP payload: a view into the datagram. */
  readonly payload: Uint8Array;
}

/** A UDP datagram a socket sends, before its header is written. */
export interface UdpDatagramOut {
  /** `IpAddr`s: IPv4 numbers, or IPv6 ids (format with the stack's address book). */
  readonly src: IpAddr;
  readonly dst: IpAddr;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
  /** Where a later failure (no ARP answer, no route) goes: the sending socket. */
  readonly onError: ((err: NetstackError) => void) | undefined;
}

/** What the UDP layer needs of ICMP: errors about UDP, and port unreachable for strangers. */
export type UdpIcmp = Pick<IcmpLayer, 'errors$' | 'sendUnreachable'>;

export interface UdpLayerOptions {
  /** ICMP, when the stack has it: port unreachable out, errors in. */
  readonly icmp?: UdpIcmp;
  /** Operators on UDP datagrams: `up` between the checks and the sockets, `down` before the header. */
  readonly datagrams?: BoundaryOperators<UdpDatagramIn, UdpDatagramOut>;
  /** The stack's scheduler: the forwarder's idle timers run on it (needed for `forward()`). */
  readonly scheduler?: SchedulerLike;
  /** UDP over IPv6: the boundary of IPv6's protocol 17, the address book, ICMPv6 for port unreachable. */
  readonly ipv6?: Ipv6Transport;
}

export const UDP_DROP_REASONS = [
  'truncated', 'badLength', 'badChecksum', 'noPort', 'queueFull',
  /** The receive queues of all sockets together hold `udp.maxQueuedBytes` / `maxQueuedDatagrams`. */
  'stackQueueFull',
] as const;

function createUdpCounters() {
  return createCounters(
    ['rxDatagrams', 'rxDelivered', 'rxBytes', 'rxBroadcast', 'txDatagrams', 'txBytes', 'txErrors',
      'icmpErrors', 'icmpErrorsReported', 'icmpErrorsIgnored', 'socketsOpened', 'socketsClosed',
      /** Gauges: what all receive queues hold now (see QueueBudget). */
      'queuedDatagrams', 'queuedBytes',
      /** Datagrams not sent because their IPv6 address was no longer held (an operator kept them too long). */
      'txUnresolved'],
    UDP_DROP_REASONS,
  );
}

/**
 * The room a datagram to IPv4 is made with in front of its payload on the way the stack sends
 * it (no operators): its UDP header, IPv4's (without options: the stack sends none) and the
 * link's (Ethernet's 14 bytes, none on a link of bare IP packets). Exactly what they take, each
 * writing every byte of its own, so the headroom needs no zeroing and the finished frame is its
 * buffer (`PacketBuffer.withPayloadInFull`: `bytes()` makes no view). A longer link header (a
 * layer of one's own) makes `prepend` move the packet.
 */
const UDP_IPV4_HEADROOM = ETHERNET_HEADER_LEN + IPV4_MIN_HEADER_LEN + UDP_HEADER_LEN;
const UDP_IPV4_IP_LINK_HEADROOM = IPV4_MIN_HEADER_LEN + UDP_HEADER_LEN;

/** Largest UDP payload in one IPv4 datagram: 65,535 - 20 - 8. */
export const UDP_MAX_PAYLOAD = 0xffff - IPV4_MIN_HEADER_LEN - UDP_HEADER_LEN;

/**
 * UDP (RFC 768, RFC 1122 4.1) over the stack's IPv4 layer.
 *
 * Input: one reused header view, the checksum verified when present (a zero checksum means
 * none and is accepted), then ONE lookup in the endpoint table (gVisor's order: connected
 * 4-tuple, wildcard-local connected, bound address:port, bound *:port). Broadcast datagrams find
 * only wildcard-bound sockets, as on Linux, since nobody binds a broadcast address. Unmatched
 * unicast datagrams get an ICMP port unreachable (rate-limited by the ICMP layer); unmatched
 * broadcasts are dropped silently (RFC 1122 3.2.2). Every drop is counted by reason.
 *
 * Output: the payload is copied once into a buffer with headroom, the header and checksum
 * (0 sent as 0xFFFF) are prepended, and IPv4 fragments whatever exceeds the MTU.
 *
 * Ports: one PortManager (ephemeral range from the `udp` config, EADDRINUSE on conflict; a
 * wildcard bind conflicts with every specific bind of the port and the other way round).
 */
export class UdpLayer implements Udp {
  readonly counters = createUdpCounters();
  readonly ports: PortManager;
  readonly endpoints = new EndpointTable<UdpEndpoint>();
  /** IPv6 ids of the addresses the sockets hold (the stack's, shared with TCP). */
  readonly book: AddressBook;
  /** The forwarder's counters (`stack.stats().udpForward`), kept across forward() subscriptions. */
  readonly forwardCounters = createUdpForwardCounters();

  readonly #port: Ipv4Port;
  readonly #network: IpNetwork;
  readonly #down: Sink<Ipv4Send>;
  readonly #v6: Ipv6Transport | undefined;
  readonly #down6: Sink<Ipv6Send> | undefined;
  /** With transport operators over IPv6: datagrams as records (their ids, maybe rewritten), both ways. */
  readonly #records6: Boundary<IpDatagram, IpSend> | undefined;
  readonly #input6 = (ip: IpDatagram, v: UdpDatagram): void => {
    if (ip.broadcast) this.counters.rxBroadcast++;
    if (this.#hookedUp) this.#hooks.up({ datagram: ip, srcPort: v.srcPort, dstPort: v.dstPort, payload: v.payload });
    else this.#toSocket(ip, v.srcPort, v.dstPort, v.payload);
  };
  // The same for IPv6 senders, compared by their bytes (ids of strangers do not last).
  readonly #lastSrc6 = new Uint8Array(16);
  #lastSrc6Text = '';
  readonly #icmp: UdpIcmp | undefined;
  readonly #hooks: { readonly up: (d: UdpDatagramIn) => void; readonly down: (d: UdpDatagramOut) => void };
  readonly #hookedUp: boolean;
  readonly #hookedDown: boolean;
  readonly #view = new UdpDatagram();
  readonly #host: UdpSocketHost;
  readonly #sockets = new Set<UdpEndpoint>();
  readonly #subscriptions: Subscription[] = [];
  // Scratch record reused by every send: emitUdp reads it synchronously.
  readonly #txRepr = { srcPort: 0, dstPort: 0, payload: new Uint8Array(0) };
  /**
   * The record every IPv4 datagram is handed down in, refilled for each, when what is below
   * keeps no record (`Sink.retainsNothing`: IPv4 itself, maybe through taps, no operators);
   * no record otherwise, and a fresh one per datagram (see RecordLender).
   */
  readonly #sendRecord: RecordLender<{ pb: PacketBuffer; dst: IpAddr; src: IpAddr; readonly protocol: number; onError: ((err: NetstackError) => void) | undefined }>;
  /** IPv4's fused way out (see WholeOut), when what is below offers it and UDP has no `down` operator. */
  readonly #fused: WholeOut | undefined;
  /** The headroom for the interface `#checkDestination` found last (see UDP_IPV4_HEADROOM), for the send that asked. */
  #txHeadroom = 0;
  // One-entry cache: consecutive datagrams mostly come from the same sender.
  #lastSrc = -1;
  #lastSrcText = '';
  #closed = false;
  /** The forwarder while `forward()` is subscribed: offered the unicast datagrams no socket takes. */
  #forwarder: UdpForwarder | undefined;
  readonly #scheduler: SchedulerLike | undefined;
  /** What every socket's receive queue holds, together (stack-wide limits). */
  readonly #budget: QueueBudget;

  /**
   * @param port the boundary of IPv4 protocol 17 (claimed by `start()`).
   */
  constructor(port: Ipv4Port, config: UdpConfig, options: UdpLayerOptions = {}) {
    this.#port = port;
    this.#v6 = options.ipv6;
    this.book = options.ipv6?.book ?? new AddressBook();
    this.#network = new IpNetwork(port.network, options.ipv6?.port.network, this.book);
    this.#down = port.down;
    // IPv4's fused way out, unless UDP's own operators must see each datagram (see WholeOut).
    this.#fused = options.datagrams?.down === undefined ? (port.down.fused as WholeOut | undefined) : undefined;
    this.#sendRecord = new RecordLender(port.down.retainsNothing === true ? { pb: NO_PACKET, dst: 0, src: 0, protocol: IpProtocol.UDP, onError: undefined } : undefined);
    this.#down6 = options.ipv6?.port.down;
    this.#records6 = options.ipv6?.records;
    this.#icmp = options.icmp;
    this.#hooks = hookPoint(options.datagrams, (d) => this.#toSocket(d.datagram, d.srcPort, d.dstPort, d.payload), (d) => this.#emit(d.src, d.dst, d.srcPort, d.dstPort, d.payload, d.onError, 0));
    // Without operators no hook record is made on the way in (one allocation less per datagram).
    this.#hookedUp = options.datagrams?.up !== undefined;
    this.#hookedDown = options.datagrams?.down !== undefined;
    this.ports = new PortManager({ ephemeralRange: config.ephemeralPortRange });
    this.#scheduler = options.scheduler;
    this.#budget = new QueueBudget(config.maxQueuedBytes ?? DEFAULT_UDP_QUEUE_LIMITS.maxQueuedBytes, config.maxQueuedDatagrams ?? DEFAULT_UDP_QUEUE_LIMITS.maxQueuedDatagrams, this.counters);
    this.#host = {
      send: (ep, bytes, dst, dstPort) => this.#send(ep, bytes, dst, dstPort),
      rekey: (ep, remoteAddr, remotePort) => this.#rekey(ep, remoteAddr, remotePort),
      close: (ep) => this.#closeEndpoint(ep),
      parse: (text) => this.#network.parse(text),
      release: (addr) => this.book.release(addr),
      format: (addr) => this.book.format(addr),
    };
  }

  /** Claims IPv4 protocol 17 and ICMP errors about UDP. */
  start(): void {
    // IPv4's datagrams may come by the direct way in (DirectIn) on the plain stack.
    this.#subscriptions.push(attachUpDirect(this.#port.up$, (d) => this.#input(d)));
    const records6 = this.#records6;
    if (records6 !== undefined) this.#subscriptions.push(attachUp(records6.up$, (d) => this.#inputRecord6(d)));
    // IPv6's packets without extension headers may come by the direct way in (DirectIn) on the plain stack.
    else if (this.#v6 !== undefined) this.#subscriptions.push(attachUpDirect(this.#v6.port.up$, (d) => this.#inputIpv6(d)));
    const errors6 = this.#v6?.icmp?.errors$?.(IpProtocol.UDP);
    if (errors6 !== undefined) this.#subscriptions.push(errors6.subscribe((r) => this.#icmpError(r)));
    if (this.#icmp !== undefined) this.#subscriptions.push(this.#icmp.errors$(IpProtocol.UDP).subscribe((r) => this.#icmpError(r)));
  }

  /** Closes every socket and lets go of IPv4 and ICMP. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions.length = 0;
    this.#forwarder?.subscriber.complete();
    for (const ep of [...this.#sockets]) this.#closeEndpoint(ep);
  }

  forward(options: UdpForwardOptions = {}): Observable<UdpForwardSession> {
    return new Observable<UdpForwardSession>((subscriber) => {
      if (this.#closed) return subscriber.error(netError('ERR_SOCKET_CLOSED', 'the stack is closed'));
      const o = { maxSessions: options.maxSessions ?? 1024, idleTimeoutMs: options.idleTimeoutMs ?? 60_000, queueLimit: options.queueLimit ?? 64 };
      const problems: string[] = [];
      if (!Number.isInteger(o.maxSessions) || o.maxSessions < 1) problems.push(`maxSessions: ${String(o.maxSessions)} is not a positive integer`);
      if (!(typeof o.idleTimeoutMs === 'number' && o.idleTimeoutMs > 0)) problems.push(`idleTimeoutMs: ${String(o.idleTimeoutMs)} is not a positive number`);
      if (!Number.isInteger(o.queueLimit) || o.queueLimit < 0) problems.push(`queueLimit: ${String(o.queueLimit)} is not an integer >= 0`);
      if (problems.length > 0) return subscriber.error(new NetstackError('ERR_INVALID_ARG_VALUE', `forward: ${problems.join('; ')}`));
      if (this.#forwarder !== undefined) return subscriber.error(netError('EADDRINUSE', 'forward: UDP is already forwarded to another subscriber'));
      const scheduler = this.#scheduler;
      // Both families: datagrams to any IPv4 or IPv6 address.
      const release = scheduler === undefined ? undefined : this.#network.acceptForeign(IpProtocol.UDP);
      if (release === undefined || scheduler === undefined) {
        return subscriber.error(new NetstackError('ERR_INVALID_STATE', 'forward: needs a network layer with a forwarding mode and the stack scheduler'));
      }
      const book = this.book;
      const forwarder = new UdpForwarder(this.forwardCounters, {
        scheduler,
        send: (src, dst, sp, dp, payload) => this.#sendForwarded(src, dst, sp, dp, payload),
        // Over IPv6 an ICMPv6 destination unreachable, from the original destination.
        unreachable: (d, code) => {
          if (d.dst >= IPV6_ID_BASE) this.#v6?.icmp?.sendUnreachable(d.header, d.broadcast, icmpv6CodeOf(code), true);
          else this.#icmp?.sendUnreachable(d, code);
        },
        format: (addr) => book.format(addr),
        retain: (addr) => {
          book.retain(addr);
        },
        release: (addr) => book.release(addr),
      }, subscriber, o);
      this.#forwarder = forwarder;
      return () => {
        if (this.#forwarder === forwarder) this.#forwarder = undefined;
        forwarder.close();
        release();
      };
    });
  }

  /** A forwarded session's reply: from the original destination (any address: the mode is held). */
  #sendForwarded(src: IpAddr, dst: IpAddr, srcPort: number, dstPort: number, payload: Uint8Array): NetstackError | undefined {
    if (payload.length > UDP_MAX_PAYLOAD) return netError('EMSGSIZE', `send: ${payload.length} bytes exceed the UDP maximum of ${UDP_MAX_PAYLOAD}`, 'send');
    const route = this.#network.routeFor(dst);
    if (!('iface' in route)) return route;
    this.counters.txDatagrams++;
    this.counters.txBytes += payload.length;
    if (this.#hookedDown) this.#hooks.down({ src, dst, srcPort, dstPort, payload, onError: undefined });
    else {
      // The plain stack's way, as a socket's datagram takes it (IPv4 allows the foreign source
      // while the forwarding mode is held): over TUN, the nat's answers into the namespace.
      const fused = this.#fused;
      if (fused !== undefined && dst < IPV6_ID_BASE && fused.ready() && this.#emitFused(fused, src, dst, srcPort, dstPort, payload)) return undefined;
      this.#emit(src, dst, srcPort, dstPort, payload, undefined, headroomFor(route.iface));
    }
    return undefined;
  }

  bind(options: UdpBindOptions = {}): UdpSocket {
    return new UdpSocket(this.#host, this.#open(options));
  }

  bind$(options: UdpBindOptions = {}): Observable<UdpSocket> {
    return new Observable<UdpSocket>((subscriber) => {
      let ep: UdpEndpoint;
      try {
        ep = this.#open(options);
      } catch (err) {
        subscriber.error(err);
        return undefined;
      }
      ep.onEnd = () => subscriber.complete();
      subscriber.next(new UdpSocket(this.#host, ep));
      return () => this.#closeEndpoint(ep);
    });
  }

  #open(options: UdpBindOptions): UdpEndpoint {
    if (this.#closed) throw new NetstackError('ERR_SOCKET_CLOSED', 'bind: the stack is closed', { syscall: 'bind' });
    // A specific IPv6 address holds a reference from here (given back by #closeEndpoint).
    const { addr, port, broadcast, queue, dualStack } = this.#checkBind(options);
    const book = this.book;
    const reserve = { dualStack };
    let localPort = port;
    if (localPort === 0) {
      const picked = this.ports.allocateEphemeral(addr, undefined, reserve);
      if (picked === undefined) {
        book.release(addr);
        const [lo, hi] = this.ports.ephemeralRange;
        throw netError('EADDRINUSE', `bind ${book.format(addr)}:0: every port in ${lo}..${hi} is taken`, 'bind');
      }
      localPort = picked;
    } else if (this.ports.reserve(addr, localPort, reserve) === 'EADDRINUSE') {
      book.release(addr);
      throw netError('EADDRINUSE', `bind ${book.format(addr)}:${localPort}: address already in use`, 'bind');
    }
    const ep = new UdpEndpoint(addr, localPort, broadcast, queue, this.#budget);
    ep.dualStack = dualStack;
    if ((dualStack ? this.endpoints.insertDualStack(localPort, 0, 0, ep) : this.endpoints.insert(addr, localPort, 0, 0, ep)) === 'EADDRINUSE') {
      // The port manager rules out overlaps, so this is a bookkeeping bug; fail loudly, leak nothing.
      this.ports.release(addr, localPort);
      book.release(addr);
      throw netError('EADDRINUSE', `bind ${book.format(addr)}:${localPort}: endpoint key taken`, 'bind');
    }
    this.#sockets.add(ep);
    this.counters.socketsOpened++;
    if (log.udp.enabled) log.udp('bound %s:%d%s', book.format(addr), localPort, dualStack ? ' (dual stack)' : '');
    return ep;
  }

  #checkBind(o: UdpBindOptions): { addr: IpAddr; port: number; broadcast: boolean; queue: Required<ReceiveQueueOptions>; dualStack: boolean } {
    const problems: string[] = [];
    let addr: IpAddr = IP_ANY4;
    if (o.address !== undefined) {
      const parsed = this.#network.parse(o.address);
      if (parsed === undefined) problems.push(`address: "${String(o.address)}" is not an IP address`);
      else if (!('addr' in parsed)) throw parsed;
      else addr = parsed.addr;
    }
    if (o.ipv6Only !== undefined && typeof o.ipv6Only !== 'boolean') problems.push(`ipv6Only: ${String(o.ipv6Only)} is not a boolean`);
    const port = o.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`port: ${String(port)} is not in 0..65535`);
    const maxDatagrams = o.receiveQueue?.maxDatagrams ?? DEFAULT_RECEIVE_QUEUE.maxDatagrams;
    const maxBytes = o.receiveQueue?.maxBytes ?? DEFAULT_RECEIVE_QUEUE.maxBytes;
    if (!Number.isInteger(maxDatagrams) || maxDatagrams < 0) problems.push(`receiveQueue.maxDatagrams: ${String(maxDatagrams)} is not an integer >= 0`);
    if (!Number.isInteger(maxBytes) || maxBytes < 0) problems.push(`receiveQueue.maxBytes: ${String(maxBytes)} is not an integer >= 0`);
    if (problems.length > 0) {
      this.book.release(addr);
      throw new NetstackError('ERR_INVALID_ARG_VALUE', `bind: ${problems.join('; ')}`, { syscall: 'bind' });
    }
    if (!isIpAny(addr) && !this.#network.isLocal(addr)) {
      const text = this.book.format(addr);
      this.book.release(addr);
      throw netError('EADDRNOTAVAIL', `bind ${text}: not an address of this stack`, 'bind');
    }
    // '::' without ipv6Only is dual stack (Linux's bindv6only = 0, Node's default).
    return { addr, port, broadcast: o.broadcast === true, queue: { maxDatagrams, maxBytes }, dualStack: addr === IP_ANY6 && o.ipv6Only !== true };
  }

  /** A UDP datagram over IPv6: the checksum is mandatory (RFC 8200 8.1: a zero one fails). */
  #inputIpv6(d: Ipv6Datagram): void {
    const c = this.counters;
    c.rxDatagrams++;
    let reason;
    if (d instanceof ReceivedIpv6) {
      // IPv6's received record, read in place as IPv4's: no view of the packet or its payload.
      const frame = d.frame;
      const v = this.#view.reset(frame, d.payloadAt, d.payloadEnd);
      reason = v.check() ?? (d.checksumVerified || ipv6ChecksumOkAt(frame, d.headerAt, d.payloadAt, d.payloadAt + v.length, IpProtocol.UDP) ? undefined : 'badChecksum');
    } else {
      const v = this.#view.reset(d.payload);
      reason = v.check() ?? (d.checksumVerified || ipv6UpperChecksumOk(d.packet, v.length === d.payload.length ? d.payload : d.payload.subarray(0, v.length), IpProtocol.UDP) ? undefined : 'badChecksum');
    }
    const v = this.#view;
    if (reason !== undefined) {
      countDrop(c, reason);
      if (log.udp.enabled) log.udp('%s: drop from %s (%s)', d.iface.name, formatIpv6(d.packet, 8), reason);
      return;
    }
    deliverIpv6(this.book, d, v, this.#input6);
  }

  /**
   * A UDP datagram over IPv6 as it came out of the transport operators: the record's ids (an
   * operator may have rewritten them) for the checksum and the lookup; a group destination
   * looks up as `::` (only wildcard sockets take it), as for IPv6's own items.
   */
  #inputRecord6(d: IpDatagram): void {
    const c = this.counters;
    c.rxDatagrams++;
    const v = this.#view.reset(d.payload);
    const s6 = this.book.bytesOf(d.src);
    const d6 = this.book.bytesOf(d.dst);
    const message = v.length === d.payload.length ? d.payload : d.payload.subarray(0, v.length);
    const reason = v.check() ?? (s6 !== undefined && d6 !== undefined && ipv6ChecksumOkFor(s6, d6, message, IpProtocol.UDP) ? undefined : 'badChecksum');
    if (reason !== undefined) {
      countDrop(c, reason);
      if (log.udp.enabled) log.udp('%s: drop from %s (%s)', d.iface.name, this.book.format(d.src), reason);
      return;
    }
    this.#input6(d6![0] === 0xff ? { ...d, dst: IP_ANY6, broadcast: true } : d, v);
  }

  #input(d: IpDatagram): void {
    const c = this.counters;
    c.rxDatagrams++;
    // IPv4's own record: the datagram read in place in the frame (no view of the IP payload).
    const v = d instanceof ReceivedIp ? this.#view.reset(d.frame, d.payloadAt, d.payloadEnd) : this.#view.reset(d.payload);
    const reason = v.check() ?? (d.checksumVerified || v.verifyChecksum(d.src, d.dst) ? undefined : 'badChecksum');
    if (reason !== undefined) {
      countDrop(c, reason);
      if (log.udp.enabled) log.udp('%s: drop from %s (%s)', d.iface.name, formatIpv4(d.src), reason);
      return;
    }
    if (d.broadcast) c.rxBroadcast++;
    if (this.#hookedUp) this.#hooks.up({ datagram: d, srcPort: v.srcPort, dstPort: v.dstPort, payload: v.payload });
    else this.#toSocket(d, v.srcPort, v.dstPort, v.payload);
  }

  #toSocket(d: IpDatagram, srcPort: number, dstPort: number, payload: Uint8Array): void {
    const c = this.counters;
    const ep = this.endpoints.lookup(d.dst, dstPort, d.src, srcPort);
    if (ep === undefined) {
      // Forwarding: a unicast datagram no socket takes (to any address) goes to its session.
      if (this.#forwarder !== undefined && !d.broadcast) {
        this.#forwarder.offer(d, srcPort, dstPort, payload);
        return;
      }
      c.drops.noPort++;
      if (log.udp.enabled) log.udp('%s: no socket for %s:%d', d.iface.name, this.book.format(d.dst), dstPort);
      // RFC 1122 4.1.3.1 / RFC 4443 3.1; never for a broadcast or group (RFC 1122 3.2.2, RFC
      // 4443 2.4 e; ICMP and ICMPv6 check too), each rate-limited by its layer.
      if (d.dst >= IPV6_ID_BASE) this.#v6?.icmp?.sendUnreachable(d.header, d.broadcast, Icmpv6UnreachableCode.PORT_UNREACHABLE);
      else if (!d.broadcast) this.#icmp?.sendUnreachable(d, IcmpUnreachableCode.PORT_UNREACHABLE);
      return;
    }
    c.rxBytes += payload.length;
    const address = d.src < IPV6_ID_BASE ? this.#format(d.src) : this.#records6 !== undefined ? this.book.format(d.src) : d instanceof ReceivedIp ? this.#format6(d.frame, d.headerAt) : this.#format6(d.header, 0);
    const verdict = ep.deliver({ payload, address, port: srcPort, interface: d.iface.name });
    if (verdict === 'ok') c.rxDelivered++;
    else c.drops[verdict]++;
  }

  /** The source of the IPv6 packet at `bytes[at..]` (its bytes 8-23) as text, from a one-entry cache. */
  #format6(bytes: Uint8Array, at: number): string {
    const last = this.#lastSrc6;
    if (this.#lastSrc6Text === '' || !ipv6EqualsAt(bytes, at + 8, last, 0)) {
      for (let i = 0; i < 16; i++) last[i] = bytes[at + 8 + i];
      this.#lastSrc6Text = formatIpv6(bytes, at + 8);
    }
    return this.#lastSrc6Text;
  }

  #format(addr: IpAddr): string {
    if (addr !== this.#lastSrc) {
      this.#lastSrc = addr;
      this.#lastSrcText = formatIpv4(addr);
    }
    return this.#lastSrcText;
  }

  #send(ep: UdpEndpoint, bytes: Uint8Array, dst: IpAddr, dstPort: number): boolean {
    const c = this.counters;
    const err = this.#sendChecked(ep, bytes, dst, dstPort);
    if (err === undefined) {
      c.txDatagrams++;
      c.txBytes += bytes.length;
      ep.counters.txDatagrams++;
      ep.counters.txBytes += bytes.length;
      return true;
    }
    c.txErrors++;
    ep.fail(err);
    return false;
  }

  #sendChecked(ep: UdpEndpoint, bytes: Uint8Array, dst: IpAddr, dstPort: number): NetstackError | undefined {
    if (bytes.length > UDP_MAX_PAYLOAD) {
      return netError('EMSGSIZE', `send: ${bytes.length} bytes exceed the UDP maximum of ${UDP_MAX_PAYLOAD}`, 'send');
    }
    const check = this.#checkDestination(ep, dst);
    if (typeof check !== 'number') return check;
    if (this.#hookedDown) this.#hooks.down({ src: check, dst, srcPort: ep.localPort, dstPort, payload: bytes, onError: ep.onSendError });
    else {
      // The plain stack's way for a datagram to IPv4 (on an Ethernet link or one of bare IP
      // packets), when IPv4 offers it now.
      const fused = this.#fused;
      if (fused !== undefined && dst < IPV6_ID_BASE && fused.ready() && this.#emitFused(fused, check, dst, ep.localPort, dstPort, bytes)) return undefined;
      this.#emit(check, dst, ep.localPort, dstPort, bytes, ep.onSendError, this.#txHeadroom);
    }
    return undefined;
  }

  /**
   * Writes the header (and checksum: 0 is sent as 0xFFFF) and hands the datagram to IPv4.
   * `headroom`: the exact room of the headers below (UDP_IPV4_HEADROOM, for the interface the
   * route leaves by), or 0 when not known (after operators): the default, zeroed.
   */
  #emit(src: IpAddr, dst: IpAddr, srcPort: number, dstPort: number, payload: Uint8Array, onError: ((err: NetstackError) => void) | undefined, headroom: number): void {
    const pb = headroom === 0 || dst >= IPV6_ID_BASE ? PacketBuffer.withPayload(payload) : PacketBuffer.withPayloadInFull(payload, headroom);
    const repr = this.#txRepr;
    repr.srcPort = srcPort;
    repr.dstPort = dstPort;
    if (dst >= IPV6_ID_BASE) {
      const s6 = this.book.bytesOf(src);
      const d6 = this.book.bytesOf(dst);
      const down = this.#down6;
      if (s6 === undefined || d6 === undefined || down === undefined) {
        this.counters.txUnresolved++;
        return;
      }
      emitUdp(repr, pb, 0, 0);
      // The checksum again over IPv6's pseudo-header (0 sent as 0xFFFF: RFC 8200 8.1).
      fillIpv6UpperChecksum(pb.buf, pb.head, pb.length, 6, s6, d6, IpProtocol.UDP);
      if (this.#records6 !== undefined) this.#records6.down.next({ pb, dst, src, protocol: IpProtocol.UDP, onError });
      else down.next({ pb, dst: d6, src: s6, protocol: IpProtocol.UDP, onError });
      return;
    }
    emitUdp(repr, pb, src, dst);
    this.#sendDown(pb, dst, src, onError);
  }

  /**
   * A datagram to IPv4 on the plain stack, as one frame written here (see WholeOut): the
   * headers below by IPv4's `frame`, the UDP header and payload here, no packet or record made.
   * False when the way is not plain now: the caller sends the long way.
   */
  #emitFused(fused: WholeOut, src: IpAddr, dst: IpAddr, srcPort: number, dstPort: number, payload: Uint8Array): boolean {
    const len = UDP_HEADER_LEN + payload.length;
    const frame = fused.frame(dst, src, IpProtocol.UDP, len);
    if (frame === undefined) return false;
    const at = frame.length - len;
    copyBytes(frame, payload, at + UDP_HEADER_LEN);
    // Partial where the link finishes it (TAP with offload): the device is told NEEDS_CSUM, so
    // the kernel neither parses the headers to find UDP nor sums the datagram to verify it.
    if (fused.partialChecksum()) {
      writeUdpHeader(frame, at, srcPort, dstPort, len, src, dst, true);
      fused.send(frame, at, UdpOffset.CHECKSUM);
    } else {
      writeUdpHeader(frame, at, srcPort, dstPort, len, src, dst);
      fused.send(frame);
    }
    return true;
  }

  /** Hands a UDP datagram (header written) to IPv4, in the refilled record when one may be. */
  #sendDown(pb: PacketBuffer, dst: IpAddr, src: IpAddr, onError: ((err: NetstackError) => void) | undefined): void {
    const r = this.#sendRecord.take();
    if (r === undefined) {
      this.#down.next({ pb, dst, src, protocol: IpProtocol.UDP, onError });
      return;
    }
    r.pb = pb;
    r.dst = dst;
    r.src = src;
    r.onError = onError;
    try {
      this.#down.next(r);
    } finally {
      this.#sendRecord.giveBack();
    }
  }

  /** The source address for `dst`, or why the socket may not send there (as sendto(2) answers). */
  #checkDestination(ep: UdpEndpoint, dst: IpAddr): IpAddr | NetstackError {
    const v6 = dst >= IPV6_ID_BASE;
    // A socket sends in its own family; a dual-stack '::' in both (as an AF_INET6 socket does).
    if (!ep.dualStack && (ep.localAddr >= IPV6_ID_BASE) !== v6) {
      return netError('EAFNOSUPPORT', `${this.book.format(dst)}: the socket is bound to ${this.book.format(ep.localAddr)}, another address family`);
    }
    if (v6 ? this.book.bytesOf(dst)?.[0] === 0xff : isMulticast(dst)) return netError('ENETUNREACH', `${this.book.format(dst)}: multicast is not supported`);
    const route = this.#network.routeFor(dst);
    if (!('iface' in route)) return route;
    this.#txHeadroom = headroomFor(route.iface);
    if (!v6 && (dst === IPV4_BROADCAST || route.iface.isDirectedBroadcast(dst)) && !ep.broadcast) {
      return netError('EACCES', `${formatIpv4(dst)} is a broadcast address and the socket was not bound with broadcast: true`);
    }
    return isIpAny(ep.localAddr) ? route.src : ep.localAddr;
  }

  #rekey(ep: UdpEndpoint, remoteAddr: IpAddr, remotePort: number): void {
    if (remotePort !== 0) {
      const check = this.#checkDestination(ep, remoteAddr);
      if (typeof check !== 'number') throw check;
    }
    this.#unkey(ep);
    if (this.#key(ep, remoteAddr, remotePort) === 'EADDRINUSE') {
      this.#key(ep, ep.remoteAddr, ep.remotePort);
      throw netError('EADDRINUSE', `connect ${this.book.format(remoteAddr)}:${remotePort}: the 4-tuple is taken`, 'connect');
    }
    // The endpoint holds its peer's IPv6 id (the caller's reference is the caller's).
    this.book.retain(remoteAddr);
    this.book.release(ep.remoteAddr);
    ep.remoteAddr = remoteAddr;
    ep.remotePort = remotePort;
  }

  /**
   * The table entry of `ep` with the given remote: a dual-stack socket sits under both
   * wildcards while unconnected, and under its peer's family's wildcard once connected.
   */
  #key(ep: UdpEndpoint, remoteAddr: IpAddr, remotePort: number): 'ok' | 'EADDRINUSE' {
    if (!ep.dualStack) return this.endpoints.insert(ep.localAddr, ep.localPort, remoteAddr, remotePort, ep);
    if (remotePort === 0) return this.endpoints.insertDualStack(ep.localPort, 0, 0, ep);
    return this.endpoints.insert(remoteAddr >= IPV6_ID_BASE ? IP_ANY6 : IP_ANY4, ep.localPort, remoteAddr, remotePort, ep);
  }

  #unkey(ep: UdpEndpoint): void {
    if (!ep.dualStack) this.endpoints.remove(ep.localAddr, ep.localPort, ep.remoteAddr, ep.remotePort, ep);
    else if (ep.remotePort === 0) this.endpoints.removeDualStack(ep.localPort, 0, 0, ep);
    else this.endpoints.remove(ep.remoteAddr >= IPV6_ID_BASE ? IP_ANY6 : IP_ANY4, ep.localPort, ep.remoteAddr, ep.remotePort, ep);
  }

  #closeEndpoint(ep: UdpEndpoint): void {
    if (ep.closed) return;
    this.#unkey(ep);
    this.ports.release(ep.localAddr, ep.localPort);
    this.#sockets.delete(ep);
    this.counters.socketsClosed++;
    if (log.udp.enabled) log.udp('closed %s:%d', this.book.format(ep.localAddr), ep.localPort);
    this.book.release(ep.localAddr);
    this.book.release(ep.remoteAddr);
    this.book.release(ep.lastSendAddr);
    ep.lastSendAddr = 0;
    ep.end();
  }

  /**
   * One of the stack's addresses is gone (an IPv6 address whose valid lifetime ended): each
   * socket bound to it gets EADDRNOTAVAIL on `errors$` and is closed (it can neither send from
   * the address nor receive for it). Sockets on a wildcard live on. `bytes`: the address (IPv6).
   */
  addressRemoved(bytes: Uint8Array): void {
    const id = this.book.idOf(bytes);
    if (id === undefined) return;
    for (const ep of [...this.#sockets]) {
      if (ep.localAddr !== id) continue;
      ep.fail(netError('EADDRNOTAVAIL', `${this.book.format(id)}:${ep.localPort}: the local address is gone (its valid lifetime ended)`));
      this.#closeEndpoint(ep);
    }
  }

  /** An ICMP error quoting one of our datagrams: reported to a connected socket for that peer. */
  #icmpError(r: IcmpErrorReport): void {
    const c = this.counters;
    c.icmpErrors++;
    const ep = this.endpoints.lookup(r.localAddress, r.localPort, r.remoteAddress, r.remotePort);
    if (r.remoteAddress >= IPV6_ID_BASE && r.type === IcmpType.DEST_UNREACHABLE && r.code === IcmpUnreachableCode.FRAGMENTATION_NEEDED) {
      // A Packet Too Big about a datagram from a socket we have (RFC 8201 4: the quote names
      // something we sent): later datagrams to that peer are fragmented at the source to it.
      if (ep === undefined) c.icmpErrorsIgnored++;
      else this.#network.packetTooBig(r.remoteAddress, r.nextHopMtu);
      return;
    }
    const code = udpErrorFor(r.type, r.code);
    // Unconnected sockets hear nothing (as on Linux without IP_RECVERR, and in node:dgram).
    if (ep === undefined || !ep.connected || ep.remoteAddr !== r.remoteAddress || ep.remotePort !== r.remotePort || code === undefined) {
      c.icmpErrorsIgnored++;
      return;
    }
    c.icmpErrorsReported++;
    ep.fail(netError(code, `${this.book.format(r.remoteAddress)}:${r.remotePort}: ICMP type ${r.type} code ${r.code} from ${r.fromText ?? formatIpv4(r.from)}`, 'recv'));
  }
}


/** The exact headroom of a datagram to IPv4 leaving by `iface` (see UDP_IPV4_HEADROOM). */
function headroomFor(iface: NetInterface): number {
  return iface.link.layer === 'ip' ? UDP_IPV4_IP_LINK_HEADROOM : UDP_IPV4_HEADROOM;
}
