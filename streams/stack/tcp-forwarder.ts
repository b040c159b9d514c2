import { Observable, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import type { IpDatagram } from './ip-network.js';
import type { TcpConnection } from './tcp-connection.js';
import type { CongestionControlChoice } from '../../src/tcp/congestion/congestion-control.js';
import { TcpFlags, type TcpRepr } from '../../src/wire/tcp.js';
import { IcmpUnreachableCode } from '../../src/wire/icmp.js';
import type { IpAddr } from '../../src/ip/address-book.js';
import { createCounters } from '../../src/stats.js';
import { log } from '../../src/log.js';
import { NetstackError, netError } from '../../src/errors.js';
import { refTimer } from './unref-scheduler.js';

/** Options of `stack.tcp.forward()`. */
export interface TcpForwardOptions {
  /**
   * Handshakes in flight at once: requests waiting for `accept()`/`refuse()` plus accepted ones
   * not yet established. A SYN beyond it is dropped (the client retries) and counted as
   * `drops.inFlightFull`. Default 1024.
   */
  readonly maxInFlight?: number;
  /**
   * ms a request may wait for `accept()` or `refuse()`; after it the request is dropped
   * (counted `timeouts`) and frees its slot, and the client's next SYN makes a new one.
   * Default 30,000.
   */
  readonly decisionTimeoutMs?: number;
}

/** Options of `TcpForwardRequest.accept()`: those of the accepted connection. */
export interface TcpAcceptOptions {
  /** Nagle off (default: the stack's `tcp.noDelay`). */
  readonly noDelay?: boolean;
  /** 'cubic', 'newreno' or a factory (default: the stack's `tcp.congestionControl`). */
  readonly congestionControl?: CongestionControlChoice;
}

/**
 * How a request is refused: 'rst' answers the SYN with a RST (the destination port is closed);
 * 'unreachable' / 'host-unreachable', 'net-unreachable' and 'port-unreachable' with an ICMP
 * destination unreachable of that code (sent from the original destination, rate limited as
 * every ICMP error); 'drop' with nothing (the client's connect times out).
 */
export type TcpRefusal = 'rst' | 'unreachable' | 'host-unreachable' | 'net-unreachable' | 'port-unreachable' | 'drop';

/**
 * A SYN for an address and port nobody listens on, offered to the forwarder's subscriber. The
 * "local" side is the original destination (the address the client wanted), the "remote"
 * side the client. Decide once: `accept()` or `refuse()`.
 */
export interface TcpForwardRequest {
  /** The original destination address and port. */
  readonly localAddress: string;
  readonly localPort: number;
  /** The client. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The interface the SYN came in by. */
  readonly interface: string;
  /**
   * Completes the handshake as the original destination: subscribing sends the SYN-ACK; the
   * connection (its `localAddress`/`localPort` the original destination) is emitted once
   * established, then the Observable completes. Errors with the handshake's failure
   * (ECONNRESET, ETIMEDOUT), or ERR_INVALID_STATE when the request was already decided, has
   * expired, or the forwarder was stopped. Unsubscribing before it is established aborts it.
   */
  accept(options?: TcpAcceptOptions): Observable<TcpConnection>;
  /** Refuses the connection (default 'rst'). ERR_INVALID_STATE once decided. */
  refuse(how?: TcpRefusal): void;
}

export const TCP_FORWARD_DROP_REASONS = [
  /** A SYN found `maxInFlight` handshakes in flight. */
  'inFlightFull',
  /** A retransmitted SYN for a request still waiting for its decision. */
  'duplicateSyn',
] as const;

export function createTcpForwardCounters() {
  return createCounters(
    ['requests', 'accepted', 'established', 'failed', 'refusedRst', 'refusedUnreachable', 'refusedDrop', 'timeouts', 'inFlight'],
    TCP_FORWARD_DROP_REASONS,
  );
}
export type TcpForwardCounters = ReturnType<typeof createTcpForwardCounters>;

/** What the forwarder needs of the TCP layer (implemented there, where the endpoints live). */
export interface TcpForwarderHost {
  readonly scheduler: SchedulerLike;
  /**
   * Answers `syn` as a listener on its destination would: a connection in SYN-RECEIVED under
   * the 4-tuple, its SYN-ACK sent; `onEstablished` when the handshake completes.
   */
  open(syn: TcpRepr, local: IpAddr, remote: IpAddr, options: TcpAcceptOptions, onEstablished: (conn: TcpConnection) => void): TcpConnection | NetstackError;
  /** A RST in answer to `syn`, from `local`. */
  reset(syn: TcpRepr, local: IpAddr, remote: IpAddr): void;
  /**
   * A destination unreachable about `datagram` (a copy of the SYN's), from its destination:
   * ICMP with `code`, or over IPv6 ICMPv6 with the code that means the same (`icmpv6CodeOf`).
   */
  unreachable(datagram: IpDatagram, code: number): void;
  /** Text of an address (IPv6 ids through the stack's address book). */
  format(addr: IpAddr): string;
  /** One more reference on an IPv6 id (IPv4 numbers pass), and giving it back: a request holds its addresses until decided. */
  retain(addr: IpAddr): void;
  release(addr: IpAddr): void;
}

/** Bytes of the SYN kept for an ICMP quote: IPv4 header plus this much of TCP (RFC 1812 asks for 8 at least). */
const QUOTE_BYTES = 64;

/**
 * The TCP forwarder (gVisor's tcp.Forwarder, as an Observable): SYNs to any address and port
 * that no connection or listener owns become `TcpForwardRequest`s for the one subscriber. The
 * TCP layer offers it each SYN it would otherwise answer with a RST (`offer`); everything else
 * keeps the host's behaviour.
 */
export class TcpForwarder {
  readonly #pending = new Map<string, PendingRequest>();
  #inFlight = 0;
  #closed = false;

  constructor(
    readonly counters: TcpForwardCounters,
    readonly host: TcpForwarderHost,
    readonly subscriber: Subscriber<TcpForwardRequest>,
    readonly maxInFlight: number,
    readonly decisionTimeoutMs: number,
  ) {}

  /**
   * A segment for which the layer found no endpoint: true when the forwarder took it (a SYN:
   * a new request, or dropped and counted), false to let the layer answer as a host (RST).
   */
  offer(d: IpDatagram, seg: TcpRepr): boolean {
    if ((seg.flags & (TcpFlags.SYN | TcpFlags.ACK | TcpFlags.RST)) !== TcpFlags.SYN) return false;
    const c = this.counters;
    // A key only while requests wait: most are decided within the subscriber's call below.
    const key = this.#pending.size > 0 ? requestKey(d, seg) : undefined;
    if (key !== undefined && this.#pending.has(key)) {
      c.drops.duplicateSyn++;
      return true;
    }
    if (this.#inFlight >= this.maxInFlight) {
      c.drops.inFlightFull++;
      if (log.tcp.enabled) log.tcp('forward: %d handshakes in flight, SYN for %s:%d dropped', this.#inFlight, this.host.format(d.dst), seg.dstPort);
      return true;
    }
    c.requests++;
    this.#take();
    const request = new PendingRequest(this, d, seg.payload.length > 0 ? { ...seg, payload: seg.payload.slice() } : seg);
    this.subscriber.next(request);
    // Decided within the call (a NAT whose host connect finished at once), the SYN's datagram
    // was still the frame's: no copy of it, no key, no decision timer.
    if (!request.waiting) return true;
    if (this.#closed) {
      request.abandon();
      return true;
    }
    // It waits: what a refusal quotes is copied (the frame's memory is reused), a timer set.
    request.wait(key ?? requestKey(d, seg), copyDatagram(d));
    this.#pending.set(request.key, request);
    request.timer = refTimer(this.host.scheduler.schedule(() => request.expire(), this.decisionTimeoutMs));
    return true;
  }

  /** Stops forwarding: requests still undecided are dropped (their clients retry into a host). */
  close(): void {
    this.#closed = true;
    for (const r of [...this.#pending.values()]) r.abandon();
    this.#pending.clear();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** @internal */
  forget(key: string): void {
    if (key !== '') this.#pending.delete(key);
  }

  #take(): void {
    this.#inFlight++;
    this.counters.inFlight = this.#inFlight;
  }

  /** @internal A handshake slot is free again. */
  release(): void {
    this.#inFlight--;
    this.counters.inFlight = this.#inFlight;
  }
}

type RequestState = 'pending' | 'accepting' | 'done';

class PendingRequest implements TcpForwardRequest {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly interface: string;
  /** The original destination and the client (IPv6: the address book's ids). */
  readonly local: IpAddr;
  readonly remote: IpAddr;
  /** In the forwarder's table of waiting requests under this key ('' while offered). */
  key = '';
  timer: Subscription | undefined;
  #state: RequestState = 'pending';
  /**
   * The SYN's datagram, for a refusal's ICMP quote: the frame's own while the subscriber is
   * called (valid until the offer returns), a copy once the request waits beyond it.
   */
  #datagram: IpDatagram | undefined;

  constructor(
    readonly forwarder: TcpForwarder,
    datagram: IpDatagram,
    readonly syn: TcpRepr,
  ) {
    // The addresses' ids (IPv6) stay held until the request is finished (see #finish).
    const host = forwarder.host;
    this.local = datagram.dst;
    this.remote = datagram.src;
    host.retain(datagram.dst);
    host.retain(datagram.src);
    this.localAddress = host.format(datagram.dst);
    this.localPort = syn.dstPort;
    this.remoteAddress = host.format(datagram.src);
    this.remotePort = syn.srcPort;
    this.interface = datagram.iface.name;
    this.#datagram = datagram;
  }

  /** @internal Not decided during the offer. */
  get waiting(): boolean {
    if (this.#state === 'pending') return true;
    this.#datagram = undefined; // the frame's: not kept past the offer
    return false;
  }

  /** @internal It waits for a decision under `key`, with its own copy of the SYN's datagram. */
  wait(key: string, datagram: IpDatagram): void {
    this.key = key;
    this.#datagram = datagram;
  }

  accept(options: TcpAcceptOptions = {}): Observable<TcpConnection> {
    return new Observable<TcpConnection>((subscriber) => {
      if (this.#state !== 'pending' || this.forwarder.closed) {
        subscriber.error(new NetstackError('ERR_INVALID_STATE', `accept ${this.localAddress}:${this.localPort}: the request was already decided, expired or its forwarder stopped`));
        return undefined;
      }
      this.#decided('accepting');
      const f = this.forwarder;
      f.counters.accepted++;
      let established = false;
      const opened = f.host.open(this.syn, this.local, this.remote, options, (conn) => {
        established = true;
        f.counters.established++;
        this.#finish();
        subscriber.next(conn);
        subscriber.complete();
      });
      if (opened instanceof NetstackError) {
        f.counters.failed++;
        this.#finish();
        subscriber.error(opened);
        return undefined;
      }
      const conn = opened;
      const closed = conn.closed$.subscribe((err) => {
        if (established) return;
        f.counters.failed++;
        this.#finish();
        subscriber.error(err ?? netError('ECONNABORTED', `accept ${this.localAddress}:${this.localPort}: aborted`));
      });
      return () => {
        closed.unsubscribe();
        if (!established) conn.destroy();
      };
    });
  }

  refuse(how: TcpRefusal = 'rst'): void {
    if (this.#state !== 'pending') throw new NetstackError('ERR_INVALID_STATE', `refuse ${this.localAddress}:${this.localPort}: the request was already decided or expired`);
    const code = refusalCode(how);
    if (code === undefined && how !== 'rst' && how !== 'drop') {
      throw new NetstackError('ERR_INVALID_ARG_VALUE', `refuse: "${String(how)}" is not 'rst', 'unreachable', 'host-unreachable', 'net-unreachable', 'port-unreachable' or 'drop'`);
    }
    this.#decided('done');
    const f = this.forwarder;
    if (how === 'rst') {
      f.counters.refusedRst++;
      f.host.reset(this.syn, this.local, this.remote);
    } else if (how === 'drop') {
      f.counters.refusedDrop++;
    } else {
      f.counters.refusedUnreachable++;
      f.host.unreachable(this.#datagram!, code!);
    }
    this.#finish();
  }

  /** No decision in time. */
  expire(): void {
    if (this.#state !== 'pending') return;
    this.forwarder.counters.timeouts++;
    this.#decided('done');
    this.#finish();
  }

  /** The forwarder stopped before a decision. */
  abandon(): void {
    if (this.#state !== 'pending') return;
    this.#decided('done');
    this.#finish();
  }

  #decided(state: RequestState): void {
    this.#state = state;
    this.timer?.unsubscribe();
    this.timer = undefined;
    this.forwarder.forget(this.key);
  }

  /** The handshake slot is given back once: at refusal, expiry, establishment or failure. */
  #released = false;
  #finish(): void {
    if (this.#released) return;
    this.#released = true;
    this.#state = 'done';
    this.#datagram = undefined;
    this.forwarder.release();
    // A connection made from the request took references of its own.
    this.forwarder.host.release(this.local);
    this.forwarder.host.release(this.remote);
  }
}

/** A request's key in the table of those waiting: its 4-tuple. */
function requestKey(d: IpDatagram, seg: TcpRepr): string {
  return `${d.src}:${seg.srcPort}>${d.dst}:${seg.dstPort}`;
}

function refusalCode(how: TcpRefusal): number | undefined {
  switch (how) {
    case 'unreachable':
    case 'host-unreachable':
      return IcmpUnreachableCode.HOST_UNREACHABLE;
    case 'net-unreachable':
      return IcmpUnreachableCode.NET_UNREACHABLE;
    case 'port-unreachable':
      return IcmpUnreachableCode.PORT_UNREACHABLE;
    default:
      return undefined;
  }
}

/**
 * The ICMPv6 destination unreachable code (RFC 4443 3.1) that means what an ICMP one does: net
 * unreachable -> 0 no route, port unreachable -> 4, host unreachable (and the rest) -> 3
 * address unreachable.
 */
export function icmpv6CodeOf(icmpCode: number): number {
  if (icmpCode === IcmpUnreachableCode.NET_UNREACHABLE) return 0;
  if (icmpCode === IcmpUnreachableCode.PORT_UNREACHABLE) return 4;
  return 3;
}

/**
 * What of the SYN's datagram a later ICMP error quotes, copied (the frame's slab is not kept).
 * Every field named: a spread would also copy what a received datagram holds of its frame
 * (Ipv4Received's `packet`) and leave out its accessors.
 */
function copyDatagram(d: IpDatagram): IpDatagram {
  return {
    iface: d.iface, src: d.src, dst: d.dst, protocol: d.protocol, ttl: d.ttl,
    header: d.header.slice(), payload: d.payload.slice(0, QUOTE_BYTES),
    broadcast: d.broadcast, reassembled: d.reassembled, checksumVerified: d.checksumVerified,
  };
}
