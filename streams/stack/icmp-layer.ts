import { Observable, Subject, type SchedulerLike, type Subscription } from 'rxjs';
import { ReceivedIpv4, type Ipv4Datagram, type Ipv4Port, type ReassemblyTimeout, type WholeOut } from './ipv4-layer.js';
import { createDemux, type Demux } from '../operators/demux.js';
import { attachUpDirect } from '../pipeline/up-stream.js';
import type { NetInterface } from './net-interface.js';
import { emitIcmp, ICMP_HEADER_LEN, IcmpPacket, IcmpType, IcmpUnreachableCode, IcmpTimeExceededCode, parseIcmpQuote, type IcmpRepr } from '../../src/wire/icmp.js';
import { IpProtocol } from '../../src/wire/ipv4.js';
import { TokenBucket } from '../../src/icmp/rate-limiter.js';
import type { IcmpConfig } from '../../src/ipv4/config.js';
import { type Ipv4Addr, formatIpv4, parseIpv4 } from '../../src/ipv4/address.js';
import { PacketBuffer, copyBytes } from '../../src/packet-buffer.js';
import { internetChecksum, onesSum } from '../../src/wire/checksum.js';
import { createCounters } from '../../src/stats.js';
import { log } from '../../src/log.js';
import { NetstackError } from '../../src/errors.js';
import { pingSession, type EchoReply, type PingOptions } from './ping-session.js';
import { EchoForwardSlot, createIcmpForwardCounters, type EchoForwardOptions, type EchoForwardRequest, type EchoResponder } from './icmp-echo-forwarder.js';

/** An ICMP error received for a datagram we sent, as handed to the transport that sent it. */
export interface IcmpErrorReport {
  /** The transport protocol of the quoted datagram (the key of `errors$`). */
  readonly protocol: number;
  readonly type: number;
  readonly code: number;
  /** Who sent the error (a router or the destination); 0 for an ICMPv6 error (see `fromText`). */
  readonly from: Ipv4Addr;
  /** The sender as text, for an ICMPv6 error (whose sender has no IpAddr of its own). */
  readonly fromText?: string;
  /**
   * From the quoted datagram: our address and port, and the peer's (`IpAddr`s: for an ICMPv6
   * error, ids of the stack's address book). An ICMPv6 error's type and code are given in
   * ICMP's terms (destination unreachable 3, time exceeded 11, parameter problem 12), as Linux's
   * icmpv6_err_convert maps them, so a transport handles both families alike.
   */
  readonly localAddress: Ipv4Addr;
  readonly localPort: number;
  readonly remoteAddress: Ipv4Addr;
  readonly remotePort: number;
  /** Next-hop MTU of a "fragmentation needed" error (RFC 1191), else 0. */
  readonly nextHopMtu: number;
  /**
   * Bytes 4-7 of the quoted transport header as an unsigned number: for TCP the quoted segment's
   * sequence number, which TCP checks against what it has in flight (RFC 5927 4.1).
   */
  readonly quotedSequence: number;
}

export type { EchoReply, PingOptions } from './ping-session.js';

export const ICMP_DROP_REASONS = ['truncated', 'badChecksum', 'badQuote', 'broadcastEcho', 'unknownType', 'noListener'] as const;

function createIcmpCounters() {
  return createCounters(
    ['rxMessages', 'rxEchoRequests', 'rxEchoReplies', 'rxErrors', 'txEchoReplies', 'txEchoRequests', 'txErrors', 'errorsRateLimited', 'errorsSuppressed'],
    ICMP_DROP_REASONS,
  );
}

/** Largest ICMP error datagram (RFC 1812 4.3.2.3: at most 576 bytes with the IP header). */
const MAX_ERROR_DATAGRAM = 576;

/**
 * ICMP (RFC 792, RFC 1122 3.2.2): echo replies for any size (reassembly and fragmentation make
 * large ones work), `ping()`, error generation with a token-bucket rate limit and RFC 1122's
 * "never in answer to" rules, and hand-off of received errors to the transport named by the
 * quoted header.
 */
/** What the ICMP layer answers besides its own protocol: what IPv4 could not deliver. */
export interface IcmpSources {
  /** Datagrams of protocols nobody claimed: protocol unreachable. */
  readonly unmatched$?: Observable<Ipv4Datagram>;
  /** Partial datagrams IPv4 gave up on: time exceeded (reassembly). */
  readonly reassemblyTimeouts$?: Observable<ReassemblyTimeout>;
}

export class IcmpLayer {
  readonly counters = createIcmpCounters();
  /** Echo forwarding's counters (`stack.stats().icmpForward`). */
  readonly forwardCounters = createIcmpForwardCounters();
  /** The `forwardEcho()` responder, while one is subscribed. */
  readonly #echo = new EchoForwardSlot();

  readonly #port: Ipv4Port;
  /** IPv4's fused way out (see WholeOut), for echo replies, when what is below offers it. */
  readonly #fused: WholeOut | undefined;
  readonly #sources: IcmpSources;
  readonly #reports = new Subject<IcmpErrorReport>();
  readonly #errors: Demux<IcmpErrorReport, number>;
  readonly #scheduler: SchedulerLike;
  readonly #bucket: TokenBucket;
  readonly #view = new IcmpPacket();
  readonly #pings = new Map<number, (d: Ipv4Datagram, seq: number, dataLength: number) => void>();
  #nextIdent = Math.floor(Math.random() * 0x10000);
  readonly #subscriptions: Subscription[] = [];

  /**
   * @param port the boundary of IPv4 protocol 1 (claimed by `start()`).
   * @param sources what IPv4 could not deliver, to answer with errors (each optional).
   */
  constructor(port: Ipv4Port, scheduler: SchedulerLike, config: Readonly<IcmpConfig>, sources: IcmpSources = {}) {
    this.#port = port;
    this.#fused = port.down.fused as WholeOut | undefined;
    this.#sources = sources;
    this.#scheduler = scheduler;
    this.#bucket = new TokenBucket(config.errorRatePerSecond, config.errorBurst);
    this.#errors = createDemux(this.#reports.asObservable(), (r) => r.protocol, { name: 'icmp errors' });
    // Nobody claimed the quoted protocol: count it (a subscriber here makes the demux deliver).
    this.#subscriptions.push(this.#errors.unmatched$.subscribe(() => this.counters.drops.noListener++));
  }

  start(): void {
    // IPv4's datagrams may come by the direct way in (DirectIn) on the plain stack.
    this.#subscriptions.push(attachUpDirect(this.#port.up$, (d) => this.#input(d)));
    // Datagrams for a protocol nobody speaks: protocol unreachable (RFC 1122 3.2.2.1).
    const { unmatched$, reassemblyTimeouts$ } = this.#sources;
    if (unmatched$ !== undefined) {
      this.#subscriptions.push(unmatched$.subscribe((d) => this.sendUnreachable(d, IcmpUnreachableCode.PROTOCOL_UNREACHABLE)));
    }
    if (reassemblyTimeouts$ !== undefined) {
      this.#subscriptions.push(reassemblyTimeouts$.subscribe((t) => this.#reassemblyTimeout(t)));
    }
  }

  /**
   * ICMP errors received about datagrams of transport `protocol` we sent (the protocol of the
   * quoted header): TCP and UDP claim theirs, a user may claim any other. Subscribing claims
   * the protocol (EADDRINUSE if taken); errors nobody claimed are counted as `noListener`.
   */
  errors$(protocol: number): Observable<IcmpErrorReport> {
    return this.#errors.endpoint(protocol);
  }

  close(): void {
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions.length = 0;
    this.#echo.close();
    this.#reports.complete();
  }

  /**
   * Echo forwarding, while subscribed (nothing is emitted): echo requests to ANY address that
   * is not the stack's are handed to `responder`, and answered from that address when it says
   * so. Echo requests to our own addresses are answered as always. One responder at a time
   * (EADDRINUSE).
   */
  forwardEcho(responder: EchoResponder, options: EchoForwardOptions = {}): Observable<never> {
    const network = this.#port.network;
    const acceptForeign = network.acceptForeign === undefined ? undefined : () => network.acceptForeign!(IpProtocol.ICMP);
    return this.#echo.forwardEcho(responder, options, this.forwardCounters, acceptForeign, (r) => this.#forwardedReply(r));
  }

  #forwardedReply(r: EchoForwardRequest): void {
    const src = parseIpv4(r.to);
    const dst = parseIpv4(r.from);
    if (src === undefined || dst === undefined) return;
    const pb = PacketBuffer.withPayload(r.data);
    emitIcmp({ kind: 'echo-reply', ident: r.ident, seq: r.seq, data: EMPTY }, pb);
    this.counters.txEchoReplies++;
    this.#port.down.next({ pb, dst, src, protocol: IpProtocol.ICMP });
  }

  /** Sends a destination unreachable error about datagram `d` (subject to the rules and the rate limit). */
  sendUnreachable(d: Ipv4Datagram, code: number): void {
    this.#sendError(d.iface, d.src, d.dst, d.broadcast, d.header, d.payload, { kind: 'dest-unreachable', code, nextHopMtu: 0, quoted: EMPTY }, d.protocol);
  }

  /**
   * Echo requests to `address`: emits one EchoReply per answered request and completes after
   * `count` replies; errors with ETIMEDOUT when a reply is `timeout` ms late, or with the
   * routing/ARP error (EHOSTUNREACH, ENETUNREACH) when a request cannot be sent.
   */
  ping(address: string, options: PingOptions = {}): Observable<EchoReply> {
    const target = parseIpv4(address);
    return pingSession<Ipv4Datagram>(address, options, {
      scheduler: this.#scheduler,
      maxSize: 65507, // 65,535 less the IPv4 and ICMP headers
      addressProblem: () => (target === undefined ? `address: "${address}" is not an IPv4 address` : undefined),
      open: (onReply) => {
        const ident = this.#allocateIdent();
        this.#pings.set(ident, onReply);
        return ident;
      },
      close: (ident) => this.#pings.delete(ident),
      send: (ident, seq, size, onError) => {
        const pb = PacketBuffer.alloc(size);
        // A recognisable pattern, as ping(8) fills its data.
        for (let i = 0; i < size; i++) pb.buf[pb.head + i] = i & 0xff;
        emitIcmp({ kind: 'echo-request', ident, seq, data: EMPTY }, pb);
        this.counters.txEchoRequests++;
        this.#port.down.next({ pb, dst: target as Ipv4Addr, protocol: IpProtocol.ICMP, onError });
      },
      fromTarget: (d) => d.src === target,
      reply: (d, seq, bytes, rttMs) => ({ from: formatIpv4(d.src), seq, bytes, ttl: d.ttl, rttMs }),
    });
  }

  #allocateIdent(): number {
    for (let i = 0; i < 0x10000; i++) {
      const ident = (this.#nextIdent++) & 0xffff;
      if (!this.#pings.has(ident)) return ident;
    }
    throw new NetstackError('ENOBUFS', 'ping: every ICMP identifier is in use');
  }

  #input(d: Ipv4Datagram): void {
    const c = this.counters;
    c.rxMessages++;
    // The stack's own record (the direct way in, or the plain stack): the message is read where
    // it lies in the frame, no view made. Anything else (an operator's or observer's copy, a
    // reassembled datagram): its payload.
    let bytes: Uint8Array;
    let at: number;
    let length: number;
    if (d instanceof ReceivedIpv4) {
      bytes = d.frame;
      at = d.payloadAt;
      length = d.payloadEnd - at;
    } else {
      bytes = d.payload;
      at = 0;
      length = bytes.length;
    }
    if (length < ICMP_HEADER_LEN) {
      c.drops.truncated++;
      return;
    }
    if (onesSum(bytes, at, length) !== 0xffff) {
      c.drops.badChecksum++;
      return;
    }
    if (bytes[at] === IcmpType.ECHO_REQUEST) {
      this.#echoRequest(d, bytes, at, length);
      return;
    }
    const p = this.#view.reset(d.payload);
    switch (p.type) {
      case IcmpType.ECHO_REPLY: {
        c.rxEchoReplies++;
        const handler = this.#pings.get(p.ident);
        if (handler === undefined) c.drops.noListener++;
        else handler(d, p.seq, p.data.length);
        return;
      }
      case IcmpType.DEST_UNREACHABLE:
      case IcmpType.TIME_EXCEEDED:
      case IcmpType.PARAMETER_PROBLEM: {
        c.rxErrors++;
        const q = parseIcmpQuote(p.data);
        if (!q.ok) {
          c.drops['badQuote']++;
          return;
        }
        const quote = q.value;
        this.#reports.next({
          protocol: quote.protocol,
          type: p.type,
          code: p.code,
          from: d.src,
          localAddress: quote.src,
          localPort: quote.srcPort,
          remoteAddress: quote.dst,
          remotePort: quote.dstPort,
          nextHopMtu: p.type === IcmpType.DEST_UNREACHABLE && p.code === IcmpUnreachableCode.FRAGMENTATION_NEEDED ? p.nextHopMtu : 0,
          quotedSequence: quote.word1,
        });
        return;
      }
      default:
        c.drops.unknownType++;
    }
  }

  /**
   * An echo request (checked: whole header, good checksum) in `bytes` from `at`, `length` bytes.
   * The reply is IPv4's fused way out when it offers one now (the frame written here, one
   * piece), else a PacketBuffer sent the long way: the same bytes either way (WholeOut).
   */
  #echoRequest(d: Ipv4Datagram, bytes: Uint8Array, at: number, length: number): void {
    const c = this.counters;
    c.rxEchoRequests++;
    // Like Linux's icmp_echo_ignore_broadcasts: broadcast pings are a smurf amplifier.
    if (d.broadcast) {
      c.drops.broadcastEcho++;
      return;
    }
    const ident = (bytes[at + 4] << 8) | bytes[at + 5];
    const seq = (bytes[at + 6] << 8) | bytes[at + 7];
    // Echo forwarding: a request to an address not ours is the responder's to answer.
    const forwarder = this.#echo.forwarder;
    if (forwarder !== undefined && !this.#port.network.isLocal(d.dst)) {
      forwarder.offer({ from: formatIpv4(d.src), to: formatIpv4(d.dst), ident, seq, data: bytes.slice(at + ICMP_HEADER_LEN, at + length), ttl: d.ttl });
      return;
    }
    // The reply keeps the request's DSCP (ECN not: the reply is not ECN-capable).
    const tos = (d instanceof ReceivedIpv4 ? d.frame[d.headerAt + 1] : d.header[1]) & 0xfc;
    const fused = this.#fused;
    // The fused way needs the route cached (routeFor) for the destination, as UDP's send asks it.
    if (fused !== undefined && fused.ready() && 'iface' in this.#port.network.routeFor(d.src)) {
      const frame = fused.frame(d.src, d.dst, IpProtocol.ICMP, length, tos);
      if (frame !== undefined) {
        // The ICMP message last in the frame (see WholeOut): as emitIcmp writes an echo reply.
        const o = frame.length - length;
        copyBytes(frame, bytes.subarray(at + ICMP_HEADER_LEN, at + length), o + ICMP_HEADER_LEN);
        frame[o] = IcmpType.ECHO_REPLY;
        frame[o + 1] = 0;
        frame[o + 2] = 0;
        frame[o + 3] = 0;
        frame[o + 4] = ident >>> 8;
        frame[o + 5] = ident & 0xff;
        frame[o + 6] = seq >>> 8;
        frame[o + 7] = seq & 0xff;
        const sum = replyChecksum(bytes, at) ?? internetChecksum(frame, o, length);
        frame[o + 2] = sum >>> 8;
        frame[o + 3] = sum & 0xff;
        c.txEchoReplies++;
        fused.send(frame);
        return;
      }
    }
    const pb = PacketBuffer.withPayload(bytes.subarray(at + ICMP_HEADER_LEN, at + length));
    emitIcmp({ kind: 'echo-reply', ident, seq, data: EMPTY }, pb);
    c.txEchoReplies++;
    this.#port.down.next({ pb, dst: d.src, src: d.dst, protocol: IpProtocol.ICMP, dscp: tos >>> 2 });
  }

  #reassemblyTimeout(t: ReassemblyTimeout): void {
    const { expired: e, iface, broadcast } = t;
    if (e.first === undefined) return;
    this.#sendError(iface, e.src, e.dst, broadcast, e.first.header, e.first.payload,
      { kind: 'time-exceeded', code: IcmpTimeExceededCode.REASSEMBLY_TIME_EXCEEDED, quoted: EMPTY }, e.protocol);
  }

  /**
   * RFC 1122 3.2.2: never answer an ICMP error, a broadcast/multicast datagram, a non-first
   * fragment, or a datagram whose source does not name a single host; rate-limit the rest.
   */
  #sendError(iface: NetInterface, src: Ipv4Addr, dst: Ipv4Addr, broadcast: boolean, header: Uint8Array, payload: Uint8Array, repr: IcmpRepr, protocol: number): void {
    const c = this.counters;
    const fragOffset = ((header[6] & 0x1f) << 8) | header[7];
    if (broadcast || src === 0 || fragOffset !== 0 || (protocol === IpProtocol.ICMP && isIcmpError(payload))) {
      c.errorsSuppressed++;
      return;
    }
    if (!this.#bucket.take(this.#scheduler.now())) {
      c.errorsRateLimited++;
      return;
    }
    const quoteData = Math.min(payload.length, MAX_ERROR_DATAGRAM - 20 - 8 - header.length);
    const pb = PacketBuffer.alloc(header.length + quoteData);
    pb.buf.set(header, pb.head);
    pb.buf.set(payload.subarray(0, quoteData), pb.head + header.length);
    emitIcmp(repr, pb);
    c.txErrors++;
    if (log.icmp.enabled) log.icmp('%s: error type %d to %s', iface.name, pb.buf[pb.head], formatIpv4(src));
    this.#port.down.next({ pb, dst: src, src: dst, protocol: IpProtocol.ICMP });
  }
}

const EMPTY = new Uint8Array(0);

/**
 * The checksum of the echo reply to the request at `at` (its checksum verified), from the
 * request's own (RFC 1624): the reply differs only in its first word (type 8 and the code
 * become 0), so the sum of the rest, R, is known without reading it again: the request's words
 * sum to 0 (mod 0xffff), so R = -(first word + checksum). The value is exactly the one a sum
 * over the reply gives (internetChecksum, as emitIcmp writes it), except when R is 0 mod
 * 0xffff, where that sum tells +0 (every byte zero) from -0: undefined then, sum the reply.
 */
function replyChecksum(request: Uint8Array, at: number): number | undefined {
  const first = (request[at] << 8) | request[at + 1];
  const checksum = (request[at + 2] << 8) | request[at + 3];
  const r = (0x1fffe - first - checksum) % 0xffff;
  return r === 0 ? undefined : ~r & 0xffff;
}

/** True when an ICMP message is an error (or too short to tell), so it must not be answered. */
function isIcmpError(payload: Uint8Array): boolean {
  if (payload.length < 1) return true;
  const t = payload[0];
  return t !== IcmpType.ECHO_REQUEST && t !== IcmpType.ECHO_REPLY && t !== IcmpType.TIMESTAMP && t !== IcmpType.TIMESTAMP_REPLY && t !== 13 && t !== 15 && t !== 17;
}
