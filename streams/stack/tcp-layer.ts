import { RecordLender, NO_PACKET } from '../pipeline/lent-record.js';
import { Observable, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import { randomBytes } from 'node:crypto';
import type { Ipv4Port, Ipv4Send, WholeOut } from './ipv4-layer.js';
import { ReceivedIpv6, type Ipv6Datagram, type Ipv6Send } from './ipv6-layer.js';
import { ReceivedIp } from './received-ip.js';
import { IpNetwork, deliverIpv6, ecnOf, type IpDatagram, type IpSend, type Ipv6Transport } from './ip-network.js';
import type { IcmpErrorReport, IcmpLayer } from './icmp-layer.js';
import { releaseFrame } from '../frame-lease.js';
import { hookPoint, type Boundary, type BoundaryOperators, type Sink } from '../pipeline/boundary.js';
import { attachUp, attachUpDirect } from '../pipeline/up-stream.js';
import { TcpConnection, type TcpConnectionOwner } from './tcp-connection.js';
import { TimerQueue } from './timer-queue.js';
import { SendStamps } from './send-stamps.js';
import { DeferredAcks } from './deferred-acks.js';
import './tcp-socket.js';
import { TcpConnectionCore, type TcpHost } from '../../src/tcp/connection.js';
import { TcpListener as TcpListenerCore, type TcpListenerVerdict } from '../../src/tcp/listener.js';
import { IPV6_TCP_HEADERS, clampMssToMtu, fixedBufferProblems, resolveTcpConfig, withFixedBuffers, type TcpConfig } from '../../src/tcp/config.js';
import { isCongestionControlChoice, type CongestionControlChoice } from '../../src/tcp/congestion/congestion-control.js';
import { IsnGenerator } from '../../src/tcp/isn.js';
import { IpEcn } from '../../src/tcp/ecn.js';
import { ChallengeAckLimiter } from '../../src/tcp/challenge-ack-limit.js';
import { rstForSegment } from '../../src/tcp/rst.js';
import { createTcpCounters, addTcpCounters } from '../../src/tcp/counters.js';
import { splitTcpLimits, type TcpStackConfig } from '../../src/config/protocol-config.js';
import { resolveTcpLimits } from '../../src/tcp/limits.js';
import { TcpLayerLimits, type ListenerSlots } from './tcp-limits.js';
import { TcpFlags, TcpSegment, emitTcp, readTcpRepr, tcpHeaderLen, writeTcpHeader, type TcpRepr } from '../../src/wire/tcp.js';
import { foldChecksum, onesSum, pseudoHeaderSum } from '../../src/wire/checksum.js';
import { IpProtocol } from '../../src/wire/ipv4.js';
import { IcmpType, IcmpUnreachableCode } from '../../src/wire/icmp.js';
import { EndpointTable } from '../../src/transport/endpoint-table.js';
import { PortManager } from '../../src/transport/port-manager.js';
import { IPV4_ANY, formatIpv4 } from '../../src/ipv4/address.js';
import { AddressBook, IPV6_ID_BASE, IP_ANY4, IP_ANY6, isIpAny, type IpAddr } from '../../src/ip/address-book.js';
import { ipv6ChecksumOkAt, ipv6ChecksumOkFor, ipv6PseudoHeaderSum, ipv6UpperChecksumOk } from '../../src/wire/ipv6.js';
import { TcpOffset } from '../../src/wire/tcp.js';
import { PacketBuffer, copyBytes } from '../../src/packet-buffer.js';
import { createCounters, countDrop } from '../../src/stats.js';
import { log } from '../../src/log.js';
import { NetstackError, netError, type NetstackErrorCode } from '../../src/errors.js';
import { TcpForwarder, createTcpForwardCounters, icmpv6CodeOf, type TcpAcceptOptions, type TcpForwardOptions, type TcpForwardRequest } from './tcp-forwarder.js';

export interface TcpListenOptions {
  /**
   * Local address to listen on: one of the stack's (IPv4 or IPv6 text), `'0.0.0.0'` (every
   * IPv4 address) or `'::'` (every address of both families: dual stack, as Linux and Node;
   * IPv4 peers then appear with their IPv4 addresses). Default: `'::'` when the stack has IPv6,
   * else `'0.0.0.0'`.
   */
  readonly address?: string;
  readonly port: number;
  /** With `'::'` (or no address): IPv6 only, no IPv4 connections (IPV6_V6ONLY). Default false. */
  readonly ipv6Only?: boolean;
  /**
   * Half-open (SYN-RECEIVED) connections held at once. When they are this many, further SYNs
   * are answered with SYN cookies (or dropped, with `synCookies: false`). Default 128.
   */
  readonly backlog?: number;
  /** Answer SYNs with SYN cookies (RFC 4987) while the backlog is full. Default true. */
  readonly synCookies?: boolean;
  /** Nagle off for the accepted connections (default: the stack's `tcp.noDelay`). */
  readonly noDelay?: boolean;
  /**
   * Congestion control of the accepted connections: 'cubic', 'newreno' or a factory
   * (default: the stack's `tcp.congestionControl`).
   */
  readonly congestionControl?: CongestionControlChoice;
  /**
   * Receive / send buffer of the accepted connections, bytes: fixed at this size, with its
   * auto-tuning off (as SO_RCVBUF / SO_SNDBUF on Linux). Default: the stack's
   * `tcp.receiveBufferSize` / `tcp.sendBufferSize`, auto-tuned up to `tcp.receiveBufferMax` /
   * `tcp.sendBufferMax`.
   */
  readonly receiveBufferSize?: number;
  readonly sendBufferSize?: number;
  /**
   * Connections this listener holds at once (half-open, plus accepted and not yet finished);
   * SYNs beyond it are dropped and counted. Default: the stack's `tcp.maxConnectionsPerListener`.
   */
  readonly maxConnections?: number;
}

export interface TcpConnectOptions {
  /** The peer: IPv4 or IPv6 text (`'fd00::1'`, `'fe80::1%eth0'`). */
  readonly address: string;
  readonly port: number;
  readonly localAddress?: string;
  /** Default: an ephemeral port. */
  readonly localPort?: number;
  readonly noDelay?: boolean;
  /** 'cubic', 'newreno' or a factory (default: the stack's `tcp.congestionControl`). */
  readonly congestionControl?: CongestionControlChoice;
  /** Receive / send buffer, bytes: fixed, auto-tuning off (see TcpListenOptions). */
  readonly receiveBufferSize?: number;
  readonly sendBufferSize?: number;
}

/** listen/connect: a `congestionControl` that is neither a built-in name nor a function. */
function congestionControlProblem(value: unknown, problems: string[]): void {
  if (value !== undefined && !isCongestionControlChoice(value)) {
    problems.push(`congestionControl: ${typeof value === 'string' ? `"${value}"` : String(value)} is not 'cubic', 'newreno' or a factory function`);
  }
}

/** What `stack.tcp` offers. */
export interface Tcp {
  /**
   * Listens while subscribed: emits each connection once established. Unsubscribing stops
   * listening (connections already emitted live on; half-open ones are reset). Errors with
   * EADDRINUSE / EADDRNOTAVAIL / ERR_INVALID_ARG_VALUE.
   */
  listen(options: TcpListenOptions): Observable<TcpConnection>;
  /**
   * Opens a connection on subscribe; emits it once established and completes. Errors with
   * ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH. Unsubscribing before it is established
   * aborts it.
   */
  connect(options: TcpConnectOptions): Observable<TcpConnection>;
  /**
   * Forwarding: while subscribed, every SYN that no connection or listener owns, to ANY address
   * and port (not only the stack's), is emitted as a request carrying the original 4-tuple, to
   * `accept()` (a connection whose local side is the original destination) or `refuse()`. One
   * subscriber at a time (EADDRINUSE); without one, such SYNs get a RST as before.
   */
  forward(options?: TcpForwardOptions): Observable<TcpForwardRequest>;
}

/** A TCP segment that passed the header and checksum checks, on its way to its endpoint. */
export interface TcpSegmentIn {
  /** The datagram it came in, either family (addresses as `IpAddr`, interface). */
  readonly datagram: IpDatagram;
  /** The parsed segment; `payload` is a view into the datagram. */
  readonly segment: TcpRepr;
}

/** A TCP segment the stack sends, before its header is written. */
export interface TcpSegmentOut {
  /** `IpAddr`s: IPv4 numbers, or IPv6 ids (format with the stack's address book). */
  readonly src: IpAddr;
  readonly dst: IpAddr;
  readonly segment: TcpRepr;
  /** Where a routing or ARP failure goes (the connection's, or nobody's for a RST). */
  readonly onError: ((err: NetstackError) => void) | undefined;
  /**
   * DF in the IPv4 header (path MTU discovery, RFC 1191): true except for a connection whose
   * path asked for less than 552 bytes (then routers may fragment). Absent: true.
   */
  readonly dontFragment?: boolean;
  /** The IPv4 ECN field: 2, ECT(0), for new data on an ECN connection (RFC 3168); absent: 0. */
  readonly ecn?: number;
}

/** What the TCP layer needs of ICMP: the errors about TCP segments (and, to refuse forwarded SYNs with, unreachables). */
export type TcpIcmp = Pick<IcmpLayer, 'errors$'> & Partial<Pick<IcmpLayer, 'sendUnreachable'>>;

export interface TcpLayerOptions {
  /** ICMP, when the stack has it: destination unreachable fails a connect. */
  readonly icmp?: TcpIcmp;
  /** Operators on TCP segments: `up` between the checks and the endpoints, `down` before the header. */
  readonly segments?: BoundaryOperators<TcpSegmentIn, TcpSegmentOut>;
  /** TCP over IPv6: the boundary of IPv6's protocol 6 and the stack's address book. */
  readonly ipv6?: Ipv6Transport;
}

export const TCP_LAYER_DROP_REASONS = [
  'truncated', 'badDataOffset', 'badChecksum', 'badOption', 'broadcast', 'noEndpoint',
  /** A SYN found the listener's half-open queue full with SYN cookies off. */
  'synBacklogFull',
  /** A SYN (or cookie ACK) found the listener's accept queue full. */
  'acceptQueueFull',
  /** A segment with neither SYN nor ACK (or a RST) to a listener. */
  'listenerNotSyn',
  /** A valid cookie ACK that could not complete the handshake. */
  'cookieUnusable',
  /** A SYN (or cookie ACK) beyond `tcp.maxConnections`. */
  'connectionLimit',
  /** A SYN beyond the listener's connection limit. */
  'listenerLimit',
  /** A segment's payload refused above `tcp.memoryHardLimit` (its ACK was kept). */
  'memoryLimit',
] as const;

/** Listener counters summed into the layer's (each listener counts them there too: TcpListenerOptions.totals). */
const LISTENER_FIELDS = ['synReceived', 'synCookiesSent', 'synCookiesAccepted', 'synCookiesRejected', 'halfOpenFailed', 'acceptQueueOverflows'] as const;

function createTcpLayerCounters() {
  return createCounters(
    [
      'rxSegments', 'txSegments', 'rstSent', 'connectionsOpened', 'connectionsAccepted', 'connectionsClosed', 'connectionsFailed',
      'icmpErrors', 'activeConnections', 'halfOpenConnections', ...LISTENER_FIELDS,
      // Stack-wide limits (tcp-limits.ts): gauges and what they refused.
      'connections', 'timeWaitConnections', 'timeWaitRecycled', 'memoryBytes', 'memoryPeakBytes',
      'connectRefused', 'writesHeld', 'writesRefused',
      /** Segments not sent because their IPv6 address was no longer held (an operator kept them past their peer's life). */
      'txUnresolved',
    ],
    TCP_LAYER_DROP_REASONS,
  );
}

/** A listening endpoint in the table: the sans-IO listener and who gets its connections. */
class ListenEndpoint implements ListenerSlots {
  /** Connections it made that are not finished yet (the limits count them). */
  children = 0;
  constructor(
    readonly core: TcpListenerCore,
    readonly subscriber: Subscriber<TcpConnection>,
    readonly maxChildren: number,
    /** A dual-stack listener's core for IPv4 SYNs (`core` takes the IPv6 ones). */
    readonly core4: TcpListenerCore | undefined = undefined,
  ) {}

  /** The core for a segment to `localAddr`. */
  coreFor(localAddr: IpAddr): TcpListenerCore {
    return this.core4 !== undefined && localAddr < IPV6_ID_BASE ? this.core4 : this.core;
  }
}

type Endpoint = TcpConnection | ListenEndpoint;

/** Bookkeeping per connection the layer keeps beside it. */
/**
 * The layer's record of a live connection, kept on the connection itself (`TcpConnection.ownerEntry`)
 * and in a doubly linked list in the order made: a Map keyed by the connection cost a hash
 * probe at every insert, look-up and delete (three or four per connection).
 */
class ConnectionEntry {
  established = false;
  older: ConnectionEntry | undefined;
  newer: ConnectionEntry | undefined;
  constructor(
    readonly conn: TcpConnection,
    readonly listener: ListenEndpoint | undefined,
    /** A port the connection reserved itself (active open): released when it closes. */
    readonly ownPort: boolean,
    public onEstablished: ((conn: TcpConnection) => void) | undefined,
    /** It holds a reference on its local IPv6 id (a forwarded flow's original destination). */
    readonly heldLocal: boolean,
  ) {}
}

/**
 * TCP for the stack: the endpoint table (gVisor's lookup order), listeners with a bounded SYN
 * backlog, active opens with ephemeral ports, RSTs for segments nobody owns, ICMP errors to the
 * connection they name, and the one-copy output path (payload view from the send buffer ->
 * packet buffer with headroom -> header and checksum prepended -> IPv4).
 */
export class TcpLayer implements Tcp {
  readonly counters = createTcpLayerCounters();
  /** Sum of the counters of every connection closed so far; live ones are added in stats(). */
  readonly closedConnectionCounters = createTcpCounters();
  /** The forwarder's counters (`stack.stats().tcpForward`), kept across forward() subscriptions. */
  readonly forwardCounters = createTcpForwardCounters();
  readonly ports: PortManager;
  readonly endpoints = new EndpointTable<Endpoint>();
  readonly scheduler: SchedulerLike;
  /** @internal The connections' timers: one scheduler wake-up for all of them (timer-queue.ts). */
  readonly timers: TimerQueue;
  /** IPv6 ids of the addresses the connections hold (the stack's, shared with UDP). */
  readonly book: AddressBook;
  readonly #port: Ipv4Port;
  readonly #network: IpNetwork;
  readonly #down: Sink<Ipv4Send>;
  /**
   * The record every IPv4 segment is handed down in, refilled for each, when what is below keeps
   * no record (`Sink.retainsNothing`: IPv4 itself, maybe through taps, no operators); undefined
   * otherwise, and a fresh one per segment (see RecordLender).
   */
  readonly #sendRecord: RecordLender<SendRecord>;
  readonly #v6: Ipv6Transport | undefined;
  readonly #down6: Sink<Ipv6Send> | undefined;
  /** With transport operators over IPv6: segments as records (their ids, maybe rewritten), both ways. */
  readonly #records6: Boundary<IpDatagram, IpSend> | undefined;
  /** Whether what is below IPv6 finishes a partial checksum. */
  readonly #partialChecksum6: boolean;
  readonly #input6 = (ip: IpDatagram, seg: TcpRepr): void => {
    if (this.#hookedUp) this.#hooks.up({ datagram: ip, segment: seg });
    // A segment read in place in the frame being handed up (the received record) may release it.
    else this.#dispatch(ip, seg, ip instanceof ReceivedIp);
  };
  readonly #icmp: TcpIcmp | undefined;
  readonly #hooks: { readonly up: (s: TcpSegmentIn) => void; readonly down: (s: TcpSegmentOut) => void };
  /** Whether IPv4 and what is below it finish a partial checksum (false when an operator is inserted). */
  readonly #partialChecksum: boolean;
  readonly #copyPayloads: boolean;
  readonly #hookedUp: boolean;
  readonly #hookedDown: boolean;
  /**
   * IPv4's fused way out (see WholeOut), when what is below offers it and no `segments.down`
   * operator must see each segment: small segments (a connection's, a SYN-ACK, a reset) are written straight into
   * the frame (#emitFused) while every tap on the way is unobserved.
   */
  readonly #fused: WholeOut | undefined;
  readonly #config: TcpConfig;
  readonly #maxPerListener: number;
  /** See #connectConfig: key `mtu * 3 + (noDelay undefined 0, true 1, false 2)`. */
  readonly #connectConfigs = new Map<number, TcpConfig>();
  readonly #isn: IsnGenerator;
  readonly #addressBytes: (addr: IpAddr) => Uint8Array | undefined;
  readonly #cookieSecret = randomBytes(16);
  /** One challenge-ACK budget for every connection of the stack (RFC 5961 7). */
  readonly #challengeAcks: ChallengeAckLimiter;
  /**
   * Host of a listener's children until their TcpConnection wraps them (the SYN-ACK, or a cookie
   * handshake completed by the ACK, happens inside the listener's call, before the wrapper).
   */
  readonly #childHost: TcpHost = {
    send: (core, seg) => this.#out(seg, core.localAddr, core.remoteAddr, undefined, true, 0),
    onSendTimed: (core) => this.#sendStamps.note(core),
  };
  /** Send times of the segments built in a task become the time the task's frames leave. */
  readonly #sendStamps: SendStamps;
  /** ACKs for in-order data owed during a link's inbound batch, built once at its end. */
  readonly #deferredAcks: DeferredAcks;
  /** What every connection of this layer calls back: kept private, one object for all. */
  readonly #owner: TcpConnectionOwner;
  readonly #view = new TcpSegment();
  /** The live connections' entries, oldest first (ConnectionEntry). */
  #oldest: ConnectionEntry | undefined;
  #newest: ConnectionEntry | undefined;
  /** Stack-wide limits: connections, TIME-WAIT, buffer memory, pending writes. */
  readonly limits: TcpLayerLimits;
  readonly #subscriptions: Subscription[] = [];
  #closed = false;
  /** The forwarder while `forward()` is subscribed: offered the SYNs nobody owns. */
  #forwarder: TcpForwarder | undefined;

  /**
   * @param port the boundary of IPv4 protocol 6 (claimed by `start()`).
   */
  constructor(port: Ipv4Port, scheduler: SchedulerLike, config: TcpStackConfig, options: TcpLayerOptions = {}) {
    this.#port = port;
    this.#v6 = options.ipv6;
    this.book = options.ipv6?.book ?? new AddressBook();
    const book = this.book;
    this.#addressBytes = (a) => book.bytesOf(a);
    this.#isn = new IsnGenerator(randomBytes(16), this.#addressBytes);
    this.#network = new IpNetwork(port.network, options.ipv6?.port.network, this.book);
    this.#down = port.down;
    this.#down6 = options.ipv6?.port.down;
    this.#records6 = options.ipv6?.records;
    this.#partialChecksum = port.down.partialChecksum === true;
    this.#sendRecord = new RecordLender<SendRecord>(port.down.retainsNothing === true
      ? { pb: NO_PACKET, dst: 0, src: 0, protocol: IpProtocol.TCP, onError: undefined, dontFragment: true, ecn: 0 }
      : undefined);
    this.#partialChecksum6 = (options.ipv6?.records ?? options.ipv6?.port)?.down.partialChecksum === true;
    this.#icmp = options.icmp;
    this.#hooks = hookPoint(options.segments, (s) => this.#dispatch(s.datagram, s.segment), (s) => this.#emit(s.segment, s.src, s.dst, s.onError, s.dontFragment ?? true, s.ecn ?? 0));
    // Without operators the records of the hook items are never made (one less allocation per
    // segment each way: the garbage collector's work per segment is what the clean path pays).
    this.#hookedUp = options.segments?.up !== undefined;
    this.#hookedDown = options.segments?.down !== undefined;
    // A segment's payload is a view into the send buffer, valid until acknowledged: an operator
    // that may hold segments gets copies it owns.
    this.#copyPayloads = options.segments?.down !== undefined;
    this.#fused = this.#hookedDown ? undefined : (port.down.fused as WholeOut | undefined);
    this.scheduler = scheduler;
    this.timers = new TimerQueue(scheduler);
    this.#sendStamps = new SendStamps(scheduler);
    this.#deferredAcks = new DeferredAcks(scheduler);
    const { ephemeralPortRange, ...rest } = config;
    const { limits: limitOptions, core } = splitTcpLimits(rest);
    this.#config = resolveTcpConfig(core);
    const limitProblems: [string, string][] = [];
    const limitConfig = resolveTcpLimits(limitOptions, limitProblems);
    if (limitProblems.length > 0) {
      throw new NetstackError('ERR_INVALID_CONFIG', `invalid TCP configuration: ${limitProblems.map(([k, m]) => `${k}: ${m}`).join('; ')}`);
    }
    this.limits = new TcpLayerLimits(limitConfig, this.counters);
    this.#maxPerListener = limitConfig.maxConnectionsPerListener;
    this.#owner = {
      scheduler,
      timers: this.timers,
      transmit: (conn, seg, ect) => this.#transmit(conn, seg, ect),
      sendTimed: (core) => this.#sendStamps.note(core),
      deferAck: (core) => this.#deferredAcks.defer(core),
      established: (conn) => this.#established(conn),
      released: (conn) => this.#released(conn),
      // A TIME-WAIT entry recycled to make room is closed quietly (no RST from TIME-WAIT).
      timeWait: (conn) => this.limits.enteredTimeWait(conn)?.destroy(),
      limits: this.limits,
      formatAddress: (addr) => book.format(addr),
      routeMtu: (conn) => {
        const route = this.#network.routeFor(conn.core.remoteAddr);
        return 'iface' in route ? this.#network.pathMtu(conn.core.remoteAddr, route.iface) : Number.POSITIVE_INFINITY;
      },
    };
    this.#challengeAcks = new ChallengeAckLimiter(this.#config.challengeAckLimit);
    this.ports = new PortManager({ ephemeralRange: ephemeralPortRange });
  }

  start(): void {
    // IPv4's datagrams may come by the direct way in (DirectIn) on the plain stack, as UDP's do.
    this.#subscriptions.push(attachUpDirect(this.#port.up$, (d) => this.#input(d)));
    const records6 = this.#records6;
    if (records6 !== undefined) this.#subscriptions.push(attachUp(records6.up$, (d) => this.#inputRecord6(d)));
    // IPv6's packets without extension headers may come by the direct way in (DirectIn) on the plain stack.
    else if (this.#v6 !== undefined) this.#subscriptions.push(attachUpDirect(this.#v6.port.up$, (d) => this.#inputIpv6(d)));
    const errors6 = this.#v6?.icmp?.errors$?.(IpProtocol.TCP);
    if (errors6 !== undefined) this.#subscriptions.push(errors6.subscribe((r) => this.#icmpError(r)));
    if (this.#icmp !== undefined) this.#subscriptions.push(this.#icmp.errors$(IpProtocol.TCP).subscribe((r) => this.#icmpError(r)));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const sub of this.#subscriptions) sub.unsubscribe();
    this.#subscriptions.length = 0;
    this.#forwarder?.subscriber.complete();
    for (const conn of this.connections()) conn.destroy();
    this.limits.clear();
    for (const e of this.endpoints.entries()) {
      if (e.endpoint instanceof ListenEndpoint) e.endpoint.subscriber.complete();
    }
    this.endpoints.clear();
  }

  /**
   * One of the stack's addresses is gone (an IPv6 address whose valid lifetime ended, RFC 4862
   * 5.5.4): the connections using it fail with EADDRNOTAVAIL (their RST cannot leave from an
   * address we no longer own), and listeners bound to it end with the same error. Listeners on
   * a wildcard live on. `bytes`: the address (IPv6).
   */
  addressRemoved(bytes: Uint8Array): void {
    const id = this.book.idOf(bytes);
    if (id === undefined) return; // never used by anything: nothing holds it
    const text = this.book.format(id);
    for (const conn of this.connections()) {
      if (conn.core.localAddr !== id) continue;
      conn.failWith(netError('EADDRNOTAVAIL', `${text}: the local address is gone (its valid lifetime ended)`));
    }
    const listeners = new Set<ListenEndpoint>();
    for (const e of this.endpoints.entries()) {
      if (e.endpoint instanceof ListenEndpoint && e.endpoint.core.localAddr === id) listeners.add(e.endpoint);
    }
    for (const l of listeners) l.subscriber.error(netError('EADDRNOTAVAIL', `listen ${text}:${l.core.localPort}: the address is gone (its valid lifetime ended)`, 'listen'));
  }

  /** Live connections (a snapshot). */
  connections(): TcpConnection[] {
    const live: TcpConnection[] = [];
    for (let e = this.#oldest; e !== undefined; e = e.newer) live.push(e.conn);
    return live;
  }

  /** Records `entry` as its connection's (see ConnectionEntry). */
  #add(entry: ConnectionEntry): void {
    entry.conn.ownerEntry = entry;
    const newest = this.#newest;
    entry.older = newest;
    if (newest === undefined) this.#oldest = entry;
    else newest.newer = entry;
    this.#newest = entry;
  }

  /** The entry of `conn` if it is live here. */
  #entryOf(conn: TcpConnection): ConnectionEntry | undefined {
    const entry = conn.ownerEntry;
    return entry instanceof ConnectionEntry ? entry : undefined;
  }

  #remove(entry: ConnectionEntry): void {
    entry.conn.ownerEntry = undefined;
    const { older, newer } = entry;
    if (older === undefined) this.#oldest = newer;
    else older.newer = newer;
    if (newer === undefined) this.#newest = older;
    else newer.older = older;
    entry.older = entry.newer = undefined;
  }

  /** Stack-wide TCP counters: closed connections plus live ones. */
  connectionCounters() {
    const sum = createTcpCounters();
    addTcpCounters(sum, this.closedConnectionCounters);
    for (let e = this.#oldest; e !== undefined; e = e.newer) addTcpCounters(sum, e.conn.counters);
    return sum;
  }

  listen(options: TcpListenOptions): Observable<TcpConnection> {
    return new Observable<TcpConnection>((subscriber) => {
      if (this.#closed) return subscriber.error(netError('ERR_SOCKET_CLOSED', 'the stack is closed'));
      const problems: string[] = [];
      const v6 = this.#v6 !== undefined;
      const parsed = options.address === undefined ? { addr: v6 ? IP_ANY6 : IP_ANY4, iface: undefined } : this.#network.parse(options.address);
      if (parsed === undefined) problems.push(`address: "${options.address}" is not an IP address`);
      if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) problems.push(`port: ${options.port} is not in 1..65535`);
      const backlog = options.backlog ?? 128;
      if (!Number.isInteger(backlog) || backlog < 1) problems.push(`backlog: ${backlog} is not a positive integer`);
      if (options.synCookies !== undefined && typeof options.synCookies !== 'boolean') problems.push(`synCookies: ${String(options.synCookies)} is not a boolean`);
      if (options.ipv6Only !== undefined && typeof options.ipv6Only !== 'boolean') problems.push(`ipv6Only: ${String(options.ipv6Only)} is not a boolean`);
      const maxChildren = options.maxConnections ?? this.#maxPerListener;
      if (!Number.isInteger(maxChildren) || maxChildren < 1) problems.push(`maxConnections: ${String(maxChildren)} is not a positive integer`);
      congestionControlProblem(options.congestionControl, problems);
      fixedBufferProblems(options, problems);
      if (problems.length > 0 || parsed === undefined || !('addr' in parsed)) {
        if (parsed !== undefined && 'addr' in parsed) this.book.release(parsed.addr);
        if (problems.length === 0 && parsed !== undefined && !('addr' in parsed)) return subscriber.error(parsed);
        return subscriber.error(new NetstackError('ERR_INVALID_ARG_VALUE', `listen: ${problems.join('; ')}`));
      }
      const addr = parsed.addr;
      // '::' without ipv6Only is dual stack (Linux's bindv6only = 0, Node's default).
      const dualStack = addr === IP_ANY6 && options.ipv6Only !== true;
      const text = this.book.format(addr);
      if (!isIpAny(addr) && !this.#network.isLocal(addr)) {
        this.book.release(addr);
        return subscriber.error(netError('EADDRNOTAVAIL', `listen ${options.address}:${options.port}: not an address of this stack`, 'listen'));
      }
      if (this.ports.reserve(addr, options.port, { dualStack }) !== 'ok') {
        this.book.release(addr);
        return subscriber.error(netError('EADDRINUSE', `listen ${text}:${options.port}: address in use`, 'listen'));
      }
      const makeCore = (localAddr: IpAddr): TcpListenerCore => {
        // The MSS for the family of localAddr (MTU - 40, or MTU - 60 over IPv6).
        const { mtu, headers } = this.#network.listenMtu(localAddr, false);
        let config = clampMssToMtu(this.#config, mtu, headers);
        if (options.noDelay !== undefined) config = Object.freeze({ ...config, noDelay: options.noDelay });
        if (options.congestionControl !== undefined) config = Object.freeze({ ...config, congestionControl: options.congestionControl });
        config = withFixedBuffers(config, options);
        return new TcpListenerCore({
          localAddr, localPort: options.port,
          // Accepting is immediate (each connection is emitted once established), so the accept
          // queue only ever holds the connection being handed over.
          backlog, maxHalfOpen: backlog, synCookies: options.synCookies ?? true,
          config, host: this.#childHost, isn: this.#isn, cookieSecret: this.#cookieSecret, challengeAcks: this.#challengeAcks, memory: this.limits.memory,
          addressBytes: this.#addressBytes, totals: this.counters,
          onAcceptable: (l) => {
            while (l.accept() !== undefined);
          },
        });
      };
      const core = makeCore(addr);
      // A dual-stack listener answers IPv4 SYNs with a core of its own: its children get the
      // IPv4 MSS (MTU - 40), the IPv6 ones MTU - 60.
      const listener = new ListenEndpoint(core, subscriber, maxChildren, dualStack ? makeCore(IP_ANY4) : undefined);
      if (dualStack) this.endpoints.insertDualStack(options.port, IP_ANY4, 0, listener);
      else this.endpoints.insert(addr, options.port, IPV4_ANY, 0, listener);
      if (log.tcp.enabled) log.tcp('listening on %s:%d%s', text, options.port, dualStack ? ' (dual stack)' : '');
      return () => {
        if (dualStack) this.endpoints.removeDualStack(options.port, IP_ANY4, 0, listener);
        else this.endpoints.remove(addr, options.port, IPV4_ANY, 0, listener);
        this.ports.release(addr, options.port);
        this.book.release(addr);
        // Half-open children die with their listener (RST): nobody would ever accept them.
        core.close(this.scheduler.now());
        listener.core4?.close(this.scheduler.now());
      };
    });
  }

  connect(options: TcpConnectOptions): Observable<TcpConnection> {
    return new Observable<TcpConnection>((subscriber) => {
      if (this.#closed) return subscriber.error(netError('ERR_SOCKET_CLOSED', 'the stack is closed'));
      const problems: string[] = [];
      const book = this.book;
      // IPv6 ids parsed here hold a reference: the remote's passes to the connection, the rest
      // are given back on every way out.
      const remote = this.#network.parse(options.address ?? '');
      const local = options.localAddress === undefined ? undefined : this.#network.parse(options.localAddress);
      const fail = (err: NetstackError): void => {
        if (remote !== undefined && 'addr' in remote) book.release(remote.addr);
        if (local !== undefined && 'addr' in local) book.release(local.addr);
        subscriber.error(err);
      };
      if (remote !== undefined && !('addr' in remote)) return fail(remote);
      if (local !== undefined && !('addr' in local)) return fail(local);
      if (remote === undefined || isIpAny(remote.addr) || book.bytesOf(remote.addr)?.[0] === 0xff) {
        problems.push(`address: "${options.address}" is not a unicast IP address`);
      }
      if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) problems.push(`port: ${options.port} is not in 1..65535`);
      if (options.localAddress !== undefined && local === undefined) problems.push(`localAddress: "${options.localAddress}" is not an IP address`);
      if (remote !== undefined && local !== undefined && !isIpAny(local.addr) && (remote.addr >= IPV6_ID_BASE) !== (local.addr >= IPV6_ID_BASE)) {
        problems.push(`localAddress: "${options.localAddress}" is not of the family of "${options.address}"`);
      }
      if (options.localPort !== undefined && (!Number.isInteger(options.localPort) || options.localPort < 1 || options.localPort > 65535)) {
        problems.push(`localPort: ${options.localPort} is not in 1..65535`);
      }
      congestionControlProblem(options.congestionControl, problems);
      fixedBufferProblems(options, problems);
      if (problems.length > 0 || remote === undefined) return fail(new NetstackError('ERR_INVALID_ARG_VALUE', `connect: ${problems.join('; ')}`));
      if (this.limits.full) {
        this.limits.refuseConnect();
        return fail(netError('EMFILE', `connect ${options.address}:${options.port}: the stack holds tcp.maxConnections connections already`, 'connect'));
      }
      const dst = remote.addr;
      const v6 = dst >= IPV6_ID_BASE;
      const route = this.#network.routeFor(dst, remote.iface);
      if (!('iface' in route)) return fail(route);
      let src = route.src;
      if (local !== undefined && !isIpAny(local.addr)) {
        if (!this.#network.isLocal(local.addr)) return fail(netError('EADDRNOTAVAIL', `connect: ${options.localAddress} is not an address of this stack`, 'connect'));
        // One of ours: held by the stack for good (see IpNetwork.ownId); the parse's reference goes back.
        src = v6 ? this.#network.ownId(book.bytes(local.addr)) : local.addr;
        book.release(local.addr);
      } else if (local !== undefined) {
        book.release(local.addr);
      }
      let localPort: number;
      if (options.localPort !== undefined) {
        if (this.ports.reserve(src, options.localPort) !== 'ok') {
          return fail(netError('EADDRINUSE', `connect: local port ${options.localPort} in use`, 'connect'));
        }
        localPort = options.localPort;
      } else {
        const picked = this.ports.allocateEphemeral(src, (p) => !this.endpoints.has(src, p, dst, options.port));
        if (picked === undefined) return fail(netError('EADDRNOTAVAIL', 'connect: no ephemeral port left', 'connect'));
        localPort = picked;
      }
      const now = this.scheduler.now();
      // MSS = MTU - 40 over IPv4, MTU - 60 over IPv6: an IPv6 path is 20 bytes "shorter".
      // Over IPv6 the path MTU a Packet Too Big taught, when lower than the interface's.
      let config = this.#connectConfig(v6 ? this.#network.pathMtu(dst, route.iface) - (IPV6_TCP_HEADERS - 40) : route.iface.mtu, options.noDelay);
      if (options.congestionControl !== undefined) config = Object.freeze({ ...config, congestionControl: options.congestionControl });
      config = withFixedBuffers(config, options);
      const core = new TcpConnectionCore({
        localAddr: src, localPort, remoteAddr: dst, remotePort: options.port,
        iss: this.#isn.isn(src, localPort, dst, options.port, now), host: NO_HOST, config, challengeAcks: this.#challengeAcks,
        memory: this.limits.memory,
      });
      core.gsoMaxBytes = route.maxGsoBytes ?? 0;
      if (this.#hookedDown || !(v6 ? this.#partialChecksum6 : this.#partialChecksum)) core.gsoMaxBytes = 0;
      const conn = new TcpConnection(core, this.#owner);
      const entry = new ConnectionEntry(conn, undefined, true, (c) => {
        subscriber.next(c);
        subscriber.complete();
      }, false);
      if (this.endpoints.insert(src, localPort, dst, options.port, conn) !== 'ok') {
        // The 4-tuple is taken (e.g. an accepted connection in TIME-WAIT on an explicit localPort).
        this.ports.release(src, localPort);
        return fail(netError('EADDRINUSE', `connect ${options.address}:${options.port} from port ${localPort}: connection exists`, 'connect'));
      }
      this.#add(entry);
      this.limits.opened(conn, undefined);
      this.counters.connectionsOpened++;
      this.counters.activeConnections++;
      const closedSub = conn.closed$.subscribe((err) => {
        if (!entry.established) subscriber.error(err ?? netError('ECONNABORTED', `connect ${options.address}:${options.port}: aborted`, 'connect'));
      });
      conn.watchSendErrors();
      core.connect(now);
      conn.rearm();
      return () => {
        closedSub.unsubscribe();
        if (!entry.established) conn.destroy();
      };
    });
  }

  forward(options: TcpForwardOptions = {}): Observable<TcpForwardRequest> {
    return new Observable<TcpForwardRequest>((subscriber) => {
      if (this.#closed) return subscriber.error(netError('ERR_SOCKET_CLOSED', 'the stack is closed'));
      const maxInFlight = options.maxInFlight ?? 1024;
      const decisionTimeoutMs = options.decisionTimeoutMs ?? 30_000;
      const problems: string[] = [];
      if (!Number.isInteger(maxInFlight) || maxInFlight < 1) problems.push(`maxInFlight: ${String(maxInFlight)} is not a positive integer`);
      if (!(typeof decisionTimeoutMs === 'number' && decisionTimeoutMs > 0)) problems.push(`decisionTimeoutMs: ${String(decisionTimeoutMs)} is not a positive number`);
      if (problems.length > 0) return subscriber.error(new NetstackError('ERR_INVALID_ARG_VALUE', `forward: ${problems.join('; ')}`));
      if (this.#forwarder !== undefined) return subscriber.error(netError('EADDRINUSE', 'forward: TCP is already forwarded to another subscriber'));
      // Both families: SYNs to any IPv4 or IPv6 address.
      const release = this.#network.acceptForeign(IpProtocol.TCP);
      if (release === undefined) return subscriber.error(new NetstackError('ERR_INVALID_STATE', 'forward: the network layer has no forwarding mode'));
      const book = this.book;
      const forwarder = new TcpForwarder(this.forwardCounters, {
        scheduler: this.scheduler,
        open: (syn, local, remote, o, onEstablished) => this.#openForwarded(syn, local, remote, o, onEstablished),
        reset: (syn, local, remote) => this.#reset(syn, local, remote),
        // Over IPv6 an ICMPv6 destination unreachable, from the original destination.
        unreachable: (d, code) => {
          if (d.dst >= IPV6_ID_BASE) this.#v6?.icmp?.sendUnreachable(d.header, d.broadcast, icmpv6CodeOf(code), true);
          else this.#icmp?.sendUnreachable?.(d, code);
        },
        format: (addr) => book.format(addr),
        retain: (addr) => {
          book.retain(addr);
        },
        release: (addr) => book.release(addr),
      }, subscriber, maxInFlight, decisionTimeoutMs);
      this.#forwarder = forwarder;
      return () => {
        forwarder.close();
        if (this.#forwarder === forwarder) this.#forwarder = undefined;
        release();
      };
    });
  }

  /** An accepted forward request: the SYN answered as a listener on its destination would. */
  #openForwarded(syn: TcpRepr, local: IpAddr, remote: IpAddr, options: TcpAcceptOptions, onEstablished: (conn: TcpConnection) => void): TcpConnection | NetstackError {
    if (this.#closed) return netError('ERR_SOCKET_CLOSED', 'the stack is closed');
    const problems: string[] = [];
    congestionControlProblem(options.congestionControl, problems);
    if (options.noDelay !== undefined && typeof options.noDelay !== 'boolean') problems.push(`noDelay: ${String(options.noDelay)} is not a boolean`);
    if (problems.length > 0) return new NetstackError('ERR_INVALID_ARG_VALUE', `accept: ${problems.join('; ')}`);
    if (this.endpoints.get(local, syn.dstPort, remote, syn.srcPort) !== undefined) {
      return netError('EADDRINUSE', `accept ${this.book.format(local)}:${syn.dstPort}: the 4-tuple is taken`, 'accept');
    }
    const route = this.#network.routeFor(remote);
    if (!('iface' in route)) return route;
    // The MSS as for a connect: MTU - 40 over IPv4, the path MTU - 60 over IPv6.
    const v6 = remote >= IPV6_ID_BASE;
    let config = clampMssToMtu(this.#config, v6 ? this.#network.pathMtu(remote, route.iface) - (IPV6_TCP_HEADERS - 40) : route.iface.mtu);
    if (options.noDelay !== undefined) config = Object.freeze({ ...config, noDelay: options.noDelay });
    if (options.congestionControl !== undefined) config = Object.freeze({ ...config, congestionControl: options.congestionControl });
    // A listener of one SYN: it negotiates the options and sends the SYN-ACK, as for a listen().
    const core = new TcpListenerCore({
      localAddr: local, localPort: syn.dstPort, backlog: 1, maxHalfOpen: 1, synCookies: false,
      config, host: this.#childHost, isn: this.#isn, cookieSecret: this.#cookieSecret, challengeAcks: this.#challengeAcks,
      onAcceptable: (l) => {
        while (l.accept() !== undefined);
      },
    });
    const verdict = core.handleSegment(syn, remote, local, this.scheduler.now());
    if (verdict.kind !== 'created') return netError('ECONNABORTED', `accept ${this.book.format(local)}:${syn.dstPort}: the SYN was not acceptable`, 'accept');
    verdict.conn.gsoMaxBytes = this.#gsoMaxBytes(remote);
    // The connection holds both IPv6 ids: its peer's, and the original destination (not ours).
    this.book.retain(remote);
    this.book.retain(local);
    const conn = new TcpConnection(verdict.conn, this.#owner);
    this.#add(new ConnectionEntry(conn, undefined, false, onEstablished, true));
    this.endpoints.insert(local, syn.dstPort, remote, syn.srcPort, conn);
    this.counters.activeConnections++;
    conn.rearm();
    return conn;
  }

  /**
   * The stack's configuration with the MSS clamped to `mtu` and Nagle as asked: made once for
   * each (MTU, noDelay) and shared, not copied for every connect (the configuration has some
   * 60 fields; a copy per connection was most of what connect() itself allocated).
   */
  #connectConfig(mtu: number, noDelay: boolean | undefined): TcpConfig {
    const key = mtu * 3 + (noDelay === undefined ? 0 : noDelay ? 1 : 2);
    let config = this.#connectConfigs.get(key);
    if (config === undefined) {
      config = clampMssToMtu(this.#config, mtu);
      if (noDelay !== undefined) config = Object.freeze({ ...config, noDelay });
      this.#connectConfigs.set(key, config);
    }
    return config;
  }

  // --- What the connections call (their owner) ---------------------------------------------------

  #transmit(conn: TcpConnection, seg: TcpRepr, ect: boolean): void {
    const core = conn.core;
    // A segment longer than the MSS is a large one (TSO, see #gsoMaxBytes): the link cuts it.
    const gsoSize = seg.payload.length > core.sndMss ? core.sndMss : 0;
    this.#out(seg, core.localAddr, core.remoteAddr, conn.onSendError, core.dontFragment, ect ? IpEcn.ECT0 : IpEcn.NOT_ECT, gsoSize);
  }

  /**
   * A segment to IPv4 on the plain stack as one frame written here (see WholeOut): the headers
   * below by IPv4's `frame` (the route cached, the next hop known, within the MTU), the TCP
   * header and payload here, no packet or record made; the same bytes as the long way (#emit,
   * IPv4's #route, the link's boundary) writes. False when the way is not plain now: the caller
   * sends the long way, whose errors go to the connection.
   */
  #emitFused(fused: WholeOut, seg: TcpRepr, src: IpAddr, dst: IpAddr, dontFragment: boolean, ecn: number): boolean {
    const hl = tcpHeaderLen(seg);
    const payload = seg.payload;
    const len = hl + payload.length;
    const frame = fused.frame(dst, src, IpProtocol.TCP, len, ecn & 3, dontFragment);
    if (frame === undefined) return false;
    this.counters.txSegments++;
    const at = frame.length - len;
    writeTcpHeader(frame, at, seg, hl);
    if (payload.length > 0) copyBytes(frame, payload, at + hl);
    const pseudo = pseudoHeaderSum(src, dst, IpProtocol.TCP, len);
    if (fused.partialChecksum()) {
      // The pseudo-header's sum only (as emitTcp's partial checksum): the link finishes it.
      frame[at + TCP_CHECKSUM_AT] = pseudo >>> 8;
      frame[at + TCP_CHECKSUM_AT + 1] = pseudo & 0xff;
      fused.send(frame, at, TCP_CHECKSUM_AT);
      return true;
    }
    const c = foldChecksum(onesSum(frame, at, len, pseudo));
    frame[at + TCP_CHECKSUM_AT] = c >>> 8;
    frame[at + TCP_CHECKSUM_AT + 1] = c & 0xff;
    fused.send(frame);
    return true;
  }

  /**
   * The core's `gsoMaxBytes` for a connection to `remote`: what its route's link takes as one
   * large TCP segment (TSO), or 0 (segments of one MSS) when segment operators are inserted
   * (they see the segments as they are on the wire) or checksums are not left partial below.
   */
  #gsoMaxBytes(remote: IpAddr): number {
    if (this.#hookedDown || !(remote >= IPV6_ID_BASE ? this.#partialChecksum6 : this.#partialChecksum)) return 0;
    const route = this.#network.routeFor(remote);
    return 'iface' in route ? (route.maxGsoBytes ?? 0) : 0;
  }

  #established(conn: TcpConnection): void {
    const entry = this.#entryOf(conn);
    if (entry === undefined || entry.established) return;
    entry.established = true;
    if (entry.listener !== undefined) {
      this.counters.halfOpenConnections--;
      this.counters.connectionsAccepted++;
      entry.listener.subscriber.next(conn);
    } else {
      const onEstablished = entry.onEstablished;
      // Called once: let go of it (and the connect subscriber it holds) for the connection's life.
      entry.onEstablished = undefined;
      onEstablished?.(conn);
    }
  }

  #released(conn: TcpConnection): void {
    const entry = this.#entryOf(conn);
    if (entry === undefined) return;
    this.#remove(entry);
    this.limits.released(conn);
    const core = conn.core;
    this.endpoints.remove(core.localAddr, core.localPort, core.remoteAddr, core.remotePort, conn);
    if (entry.ownPort) this.ports.release(core.localAddr, core.localPort);
    this.book.release(core.remoteAddr);
    if (entry.heldLocal) this.book.release(core.localAddr);
    if (entry.listener !== undefined && !entry.established) this.counters.halfOpenConnections--;
    addTcpCounters(this.closedConnectionCounters, core.counters);
    this.counters.activeConnections--;
    this.counters.connectionsClosed++;
    // conn.error, not core.error: it includes errors found outside the core (ICMP, ARP).
    if (conn.error !== undefined) this.counters.connectionsFailed++;
  }

  // --- Input -----------------------------------------------------------------------------------

  /**
   * A TCP segment over IPv6: the checksum (over IPv6's pseudo-header) and header checked as for
   * IPv4, then the same hooks and dispatch, with the addresses as ids (see deliverIpv6).
   */
  #inputIpv6(d: Ipv6Datagram): void {
    const c = this.counters;
    c.rxSegments++;
    // IPv6's received record is read in place, as IPv4's: no view of the packet or its payload.
    let reason;
    let group;
    if (d instanceof ReceivedIpv6) {
      const frame = d.frame;
      const v = this.#view.reset(frame, d.payloadAt, d.payloadEnd);
      reason = v.check() ?? (d.checksumVerified || ipv6ChecksumOkAt(frame, d.headerAt, d.payloadAt, d.payloadEnd, IpProtocol.TCP) ? undefined : 'badChecksum');
      group = frame[d.headerAt + 24] === 0xff;
    } else {
      const v = this.#view.reset(d.payload);
      reason = v.check() ?? (d.checksumVerified || ipv6UpperChecksumOk(d.packet, d.payload, IpProtocol.TCP) ? undefined : 'badChecksum');
      group = d.packet[24] === 0xff;
    }
    if (reason !== undefined) {
      countDrop(c, reason);
      return;
    }
    if (group) {
      c.drops.broadcast++; // TCP is unicast only: a segment to a group is ignored
      return;
    }
    const seg = readTcpRepr(this.#view);
    if (typeof seg === 'string') {
      countDrop(c, seg);
      return;
    }
    deliverIpv6(this.book, d, seg, this.#input6);
  }

  /**
   * A TCP segment over IPv6 as it came out of the transport operators: the addresses are the
   * record's ids (an operator may have rewritten them, adjusting the checksum as for IPv4),
   * held by the boundary while the segment is dispatched.
   */
  #inputRecord6(d: IpDatagram): void {
    const c = this.counters;
    c.rxSegments++;
    const v = this.#view.reset(d.payload);
    const s6 = this.book.bytesOf(d.src);
    const d6 = this.book.bytesOf(d.dst);
    const reason = v.check() ?? (s6 !== undefined && d6 !== undefined && ipv6ChecksumOkFor(s6, d6, d.payload, IpProtocol.TCP) ? undefined : 'badChecksum');
    if (reason !== undefined) {
      countDrop(c, reason);
      return;
    }
    if (d.broadcast || d6![0] === 0xff) {
      c.drops.broadcast++;
      return;
    }
    const seg = readTcpRepr(v);
    if (typeof seg === 'string') {
      countDrop(c, seg);
      return;
    }
    this.#input6(d, seg);
  }

  #input(d: IpDatagram): void {
    const c = this.counters;
    c.rxSegments++;
    // A datagram IPv4 handed up as received is read in place: no view of its payload.
    const v = d instanceof ReceivedIp ? this.#view.reset(d.frame, d.payloadAt, d.payloadEnd) : this.#view.reset(d.payload);
    const reason = v.check() ?? (d.checksumVerified || v.verifyChecksum(d.src, d.dst) ? undefined : 'badChecksum');
    if (reason !== undefined) {
      countDrop(c, reason);
      return;
    }
    if (d.broadcast) {
      // RFC 9293 3.9.1.3 / 1122 4.2.3.10: TCP is unicast only; a SYN to a broadcast is ignored.
      c.drops.broadcast++;
      return;
    }
    // The header was checked just above: the record is read from the same view.
    const seg = readTcpRepr(v);
    if (typeof seg === 'string') {
      countDrop(c, seg);
      return;
    }
    if (this.#hookedUp) this.#hooks.up({ datagram: d, segment: seg });
    else this.#dispatch(d, seg, !d.reassembled);
  }

  /**
   * Hands a checked segment to its endpoint: a connection, a listener, or nobody (RST).
   * `mayRelease`: the segment is a view of the received frame the link is handing up (not
   * reassembled, no operator on the way; over IPv6, a record read in place), which is released (frame-lease.ts) when an established
   * connection took it and kept no view of its payload.
   */
  #dispatch(d: IpDatagram, seg: TcpRepr, mayRelease = false): void {
    const c = this.counters;
    const now = this.scheduler.now();
    let ep = this.endpoints.lookup(d.dst, seg.dstPort, d.src, seg.srcPort);
    if (ep instanceof TcpConnection) {
      const payloadBytes = seg.payload.length;
      // Above the memory hard mark, new data waits at the peer (its ACK still counts here).
      if (payloadBytes > 0 && this.limits.exhausted) seg = this.limits.refuseData(seg);
      // The ECN field of the datagram (RFC 3168 5): CE is echoed by the connection.
      const consumed = ep.handleSegment(seg, now, ecnOf(d) === IpEcn.CE);
      if (consumed) {
        // The whole segment (`d.payload`): it lies in the frame being handed up iff it came in it
        // (so does the frame a ReceivedIp holds, without making the payload's view).
        if (mayRelease && ep.keptNoViewOf(payloadBytes)) releaseFrame(d instanceof ReceivedIp ? d.frame : d.payload);
        return;
      }
      // A new SYN for a 4-tuple in TIME-WAIT: the old incarnation is gone; offer it to a listener.
      ep = this.endpoints.lookup(d.dst, seg.dstPort, d.src, seg.srcPort);
      if (ep instanceof TcpConnection) return;
    }
    if (ep instanceof ListenEndpoint) {
      this.#toListener(ep, d, seg, now);
      return;
    }
    // Forwarding: a SYN nobody owns (to any address) becomes a request instead of a RST.
    if (this.#forwarder !== undefined && this.#forwarder.offer(d, seg)) return;
    c.drops.noEndpoint++;
    this.#reset(seg, d.dst, d.src);
  }

  #toListener(listener: ListenEndpoint, d: IpDatagram, seg: TcpRepr, now: number): void {
    // A SYN beyond the stack's or the listener's connection limit: dropped like one to a full
    // backlog (the peer resends it). Nothing is allocated for it.
    if ((seg.flags & (TcpFlags.SYN | TcpFlags.ACK | TcpFlags.RST)) === TcpFlags.SYN && !this.limits.admitSyn(listener)) return;
    const verdict = listener.coreFor(d.dst).handleSegment(seg, d.src, d.dst, now);
    this.#onListenerVerdict(listener, verdict, d);
  }

  #onListenerVerdict(listener: ListenEndpoint, verdict: TcpListenerVerdict, d: IpDatagram): void {
    const c = this.counters;
    switch (verdict.kind) {
      case 'created': {
        const core = verdict.conn;
        // A SYN-cookie handshake completed while the limits are reached: reset it.
        if (core.state !== 'SYN-RECEIVED' && !this.limits.admitCookie(listener)) {
          core.abort(this.scheduler.now());
          return;
        }
        // The peer's IPv6 id is held by the packet only while it is dispatched: the connection takes its own.
        this.book.retain(core.remoteAddr);
        core.gsoMaxBytes = this.#gsoMaxBytes(core.remoteAddr);
        const conn = new TcpConnection(core, this.#owner); // becomes the core's host
        this.#add(new ConnectionEntry(conn, listener, false, undefined, false));
        this.endpoints.insert(core.localAddr, core.localPort, core.remoteAddr, core.remotePort, conn);
        this.limits.opened(conn, listener);
        c.activeConnections++;
        c.halfOpenConnections++;
        // A SYN-cookie handshake completes inside the listener's call, before the wrapper existed.
        if (core.state !== 'SYN-RECEIVED') this.#established(conn);
        conn.rearm();
        return;
      }
      case 'reply':
        // A RST (an ACK or stray segment to the listener) or a cookie SYN-ACK.
        if ((verdict.seg.flags & TcpFlags.RST) !== 0) c.rstSent++;
        this.#out(verdict.seg, d.dst, d.src, undefined);
        return;
      case 'dropped':
        switch (verdict.reason) {
          case 'halfOpenFull':
            c.drops.synBacklogFull++; // the peer retransmits its SYN; by then a slot may be free
            return;
          case 'acceptQueueFull':
            c.drops.acceptQueueFull++;
            return;
          case 'cookieUnusable':
            c.drops.cookieUnusable++;
            return;
          default:
            c.drops.listenerNotSyn++;
            return;
        }
    }
  }

  #icmpError(r: IcmpErrorReport): void {
    this.counters.icmpErrors++;
    const ep = this.endpoints.get(r.localAddress, r.localPort, r.remoteAddress, r.remotePort);
    if (!(ep instanceof TcpConnection)) return;
    const fragNeeded = r.type === IcmpType.DEST_UNREACHABLE && r.code === IcmpUnreachableCode.FRAGMENTATION_NEEDED;
    if (ep.state !== 'SYN-SENT') {
      // Synchronized: the core checks the quoted sequence number (RFC 5927 4.1). "Fragmentation
      // needed" lowers the MSS; anything else is a soft error (RFC 1122 4.2.3.9, RFC 5927 4.2:
      // the quote proves too little to reset a connection on), reported only if it times out.
      const now = this.scheduler.now();
      if (fragNeeded) {
        // Over IPv6 this is a Packet Too Big: once the quote proved it is about a segment in
        // flight (RFC 5927 4.1), IPv6's path MTU cache learns it for every protocol (RFC 8201).
        if (ep.core.handleFragNeeded(r.quotedSequence, r.nextHopMtu, now) && r.remoteAddress >= IPV6_ID_BASE) {
          this.#network.packetTooBig(r.remoteAddress, r.nextHopMtu);
        }
      }
      else ep.core.handleIcmpSoftError(r.quotedSequence, icmpErrorCode(r), `${icmpErrorName(r)} from ${r.fromText ?? formatIpv4(r.from)}`);
      ep.rearm();
      return;
    }
    // A connect in progress fails on an ICMP unreachable, as in Linux. "Fragmentation needed"
    // is about path MTU, not reachability (and a SYN is small).
    if (r.type !== IcmpType.DEST_UNREACHABLE || fragNeeded) return;
    ep.failWith(netError(icmpErrorCode(r), `connect ${ep.remoteAddress}:${ep.remotePort}: ICMP destination unreachable (code ${r.code}) from ${r.fromText ?? formatIpv4(r.from)}`, 'connect'));
  }

  // --- Output ----------------------------------------------------------------------------------

  #reset(seg: TcpRepr, local: IpAddr, remote: IpAddr): void {
    const rst = rstForSegment(seg);
    if (rst === undefined) return;
    this.counters.rstSent++;
    this.#out(rst, local, remote, undefined);
  }

  /** A segment to send: through the `segments.down` operators when there are any, else straight to #emit. */
  #out(seg: TcpRepr, src: IpAddr, dst: IpAddr, onError: ((err: NetstackError) => void) | undefined, dontFragment = true, ecn = 0, gsoSize = 0): void {
    if (!this.#hookedDown) {
      this.#emit(seg, src, dst, onError, dontFragment, ecn, gsoSize);
      return;
    }
    // A segment's payload is a view into the send buffer, valid until acknowledged: an operator
    // that may hold segments gets a copy it owns.
    const segment = this.#copyPayloads && seg.payload.length > 0 ? { ...seg, payload: seg.payload.slice() } : seg;
    this.#hooks.down({ segment, src, dst, onError, dontFragment, ecn });
  }

  /** Writes the segment into a packet (the payload's one copy; none for a large segment, see below) and hands it to IPv4. */
  #emit(seg: TcpRepr, src: IpAddr, dst: IpAddr, onError: ((err: NetstackError) => void) | undefined, dontFragment: boolean, ecn: number, gsoSize = 0): void {
    if (dst >= IPV6_ID_BASE) {
      this.#emitIpv6(seg, src, dst, onError, ecn, gsoSize);
      return;
    }
    // A small segment on the plain stack goes straight into the frame (IPv4's fused way out),
    // whoever sends it: a connection, a listener's SYN-ACK, a reset. A larger one keeps the long
    // way, whose packet gathers its payload from the send buffer instead of copying it.
    const fused = this.#fused;
    if (fused !== undefined && gsoSize === 0 && seg.payload.length < GATHER_MIN && fused.ready() && this.#emitFused(fused, seg, src, dst, dontFragment, ecn)) return;
    this.counters.txSegments++;
    const pb = segmentPacket(seg.payload, gsoSize, !this.#hookedDown);
    // Partial checksum, when what is below finishes it (the TAP device with offload, or the
    // Ethernet layer): the bytes are summed once, where they are written last.
    emitTcp(seg, pb, src, dst, this.#partialChecksum ? PARTIAL_CHECKSUM : undefined);
    const r = this.#sendRecord.take();
    if (r === undefined) {
      this.#down.next({ pb, dst, src, protocol: IpProtocol.TCP, onError, dontFragment, ecn });
      return;
    }
    r.pb = pb;
    r.dst = dst;
    r.src = src;
    r.onError = onError;
    r.dontFragment = dontFragment;
    r.ecn = ecn;
    try {
      this.#down.next(r);
    } finally {
      this.#sendRecord.giveBack();
    }
  }

  /**
   * The same over IPv6: the header written with a partial checksum, whose pseudo-header part
   * is then replaced by IPv6's (RFC 8200 8.1); completed here unless what is below does it.
   */
  #emitIpv6(seg: TcpRepr, src: IpAddr, dst: IpAddr, onError: ((err: NetstackError) => void) | undefined, ecn: number, gsoSize: number): void {
    const book = this.book;
    const s6 = book.bytesOf(src);
    const d6 = book.bytesOf(dst);
    const down = this.#down6;
    if (s6 === undefined || d6 === undefined || down === undefined) {
      this.counters.txUnresolved++;
      return;
    }
    this.counters.txSegments++;
    const pb = segmentPacket(seg.payload, gsoSize, !this.#hookedDown);
    const records = this.#records6;
    emitTcp(seg, pb, 0, 0, PARTIAL_CHECKSUM);
    const at = pb.csumStart;
    // TCP length: the header just written (at === pb.head) and the payload, gathered or not.
    const sum = ipv6PseudoHeaderSum(s6, 0, d6, 0, IpProtocol.TCP, pb.length);
    pb.buf[at + TCP_CHECKSUM_AT] = sum >>> 8;
    pb.buf[at + TCP_CHECKSUM_AT + 1] = sum & 0xff;
    if (!this.#partialChecksum6) pb.completeChecksum();
    if (records !== undefined) {
      records.down.next({ pb, dst, src, protocol: IpProtocol.TCP, ecn, onError });
      return;
    }
    // ECN in the traffic class's low bits (RFC 3168 5 and RFC 8200 7).
    down.next({ pb, dst: d6, src: s6, protocol: IpProtocol.TCP, trafficClass: ecn, onError });
  }
}

const PARTIAL_CHECKSUM = Object.freeze({ partialChecksum: true });
/** The fields of an Ipv4Send the TCP layer fills in, writable (the refilled record). */
interface SendRecord {
  pb: PacketBuffer;
  dst: IpAddr;
  src: IpAddr;
  protocol: number;
  onError: ((err: NetstackError) => void) | undefined;
  dontFragment: boolean;
  ecn: number;
}
/** Offset of the checksum field in the TCP header. */
const TCP_CHECKSUM_AT = TcpOffset.CHECKSUM;

/** The errno an ICMP error stands for (as Linux's icmp_err_convert, with our codes). */
function icmpErrorCode(r: IcmpErrorReport): NetstackErrorCode {
  if (r.type === IcmpType.PARAMETER_PROBLEM) return 'EPROTO';
  if (r.type !== IcmpType.DEST_UNREACHABLE) return 'EHOSTUNREACH'; // time exceeded
  switch (r.code) {
    case IcmpUnreachableCode.PROTOCOL_UNREACHABLE:
    case IcmpUnreachableCode.PORT_UNREACHABLE:
      return 'ECONNREFUSED';
    case IcmpUnreachableCode.NET_UNREACHABLE:
    case IcmpUnreachableCode.DEST_NET_UNKNOWN:
    case IcmpUnreachableCode.NET_PROHIBITED:
    case IcmpUnreachableCode.NET_UNREACHABLE_FOR_TOS:
      return 'ENETUNREACH';
    case IcmpUnreachableCode.FRAGMENTATION_NEEDED:
      return 'EMSGSIZE';
    default:
      return 'EHOSTUNREACH';
  }
}

/** For messages: "ICMP destination unreachable (code 1)". */
function icmpErrorName(r: IcmpErrorReport): string {
  const name = r.type === IcmpType.DEST_UNREACHABLE ? 'destination unreachable' : r.type === IcmpType.TIME_EXCEEDED ? 'time exceeded' : 'parameter problem';
  return `ICMP ${name} (code ${r.code})`;
}

/** Placeholder host until the TcpConnection wrapper installs itself (it does so in its constructor). */
const NO_HOST = { send: () => undefined };

/**
 * Payloads from this size on are gathered rather than copied (segmentPacket): below it the copy
 * costs less than a frame in pieces (an array per frame, more work in the addon's writev).
 */
const GATHER_MIN = 1024;

/**
 * The packet a segment's headers are written in front of. Its payload stays a view of the send
 * buffer (valid until acknowledged: data not yet sent cannot be) as `PacketBuffer.tail`,
 * gathered behind the headers by a link that can (a TAP device's writev) and copied only by what
 * needs the packet whole or keeps it, for a large segment (TSO, `gsoSize` > 0) and,
 * when `gather`, for a full-sized one. A small one, or one an operator below TCP may hold
 * (`gather` false), holds a copy of its payload. Copying every full-sized payload into fresh
 * packet memory churned ArrayBuffers at the sending rate (hundreds of MB/s); V8 counts their
 * bytes as external memory allocated since the last full collection, and with a small old
 * generation that started a mark-compact every few tens of milliseconds (docs/history/topics.md
 * "Bulk from the stack without offload: the collector's trigger").
 */
function segmentPacket(payload: Uint8Array, gsoSize: number, gather: boolean): PacketBuffer {
  if (gsoSize === 0 && !(gather && payload.length >= GATHER_MIN)) return PacketBuffer.withPayload(payload);
  const pb = PacketBuffer.alloc(0);
  pb.tail = payload;
  pb.gsoSize = gsoSize;
  return pb;
}
