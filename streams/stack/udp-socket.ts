import type { Observable } from 'rxjs';
import type { ReceivedDatagram, UdpEndpoint } from './udp-endpoint.js';
import { IPV6_ID_BASE, isIpAny, type IpAddr } from '../../src/ip/address-book.js';
import { NetstackError } from '../../src/errors.js';

/** A remote address and port (`send` destination, `connect` peer). */
export interface UdpRemote {
  readonly address: string;
  readonly port: number;
}

/** What `address()` and `remoteAddress()` return, shaped like node:dgram's. */
export interface UdpAddressInfo {
  readonly address: string;
  /** 'IPv6' for an IPv6 address, and for a socket bound to '::'. */
  readonly family: 'IPv4' | 'IPv6';
  readonly port: number;
}

/** A copy of a socket's counters. */
export interface UdpSocketStats {
  readonly rxDatagrams: number;
  readonly rxBytes: number;
  readonly txDatagrams: number;
  readonly txBytes: number;
  readonly queueFull: number;
  readonly errors: number;
  readonly errorsUnobserved: number;
  /** Datagrams (and their payload bytes) waiting for a `datagrams$` subscriber. */
  readonly queued: number;
  readonly queuedBytes: number;
}

/** What a socket needs from the UDP layer (kept off the layer's public surface). */
export interface UdpSocketHost {
  send(ep: UdpEndpoint, bytes: Uint8Array, dst: IpAddr, dstPort: number): boolean;
  /** Moves the endpoint to a new remote (0/0 to disconnect); throws what connect(2) would. */
  rekey(ep: UdpEndpoint, remoteAddr: IpAddr, remotePort: number): void;
  close(ep: UdpEndpoint): void;
  /**
   * Address text as an IpAddr, an IPv6 one holding a reference (see `release`); undefined when
   * not an address; an error when its family or zone is not available.
   */
  parse(text: unknown): { addr: IpAddr } | NetstackError | undefined;
  release(addr: IpAddr): void;
  format(addr: IpAddr): string;
}

/**
 * A bound UDP socket, made by `stack.udp.bind()`. It stays bound until `close()` (or until the
 * stack closes, or the `bind$` subscription that made it ends); unsubscribing from
 * `datagrams$` alone does not unbind it: datagrams then wait in the receive queue again.
 *
 * - `datagrams$`: hot. Each datagram goes to every subscriber present when it arrives. With no
 *   subscriber, datagrams wait in a bounded receive queue (like SO_RCVBUF: default 1024
 *   datagrams / 212,992 payload bytes; beyond that they are dropped and counted as
 *   `queueFull`), and the next subscriber receives the queued ones first, synchronously when it
 *   subscribes. Completes on `close()`; never errors.
 * - `errors$`: hot, never errors, completes on `close()`. Network errors that do not end the
 *   socket, as node:dgram's 'error' events: failed sends (`ENETUNREACH`, `EHOSTUNREACH` when
 *   ARP gets no answer, `EMSGSIZE`, `EACCES` for a broadcast without `broadcast: true`) and, on
 *   a connected socket, ICMP errors from the peer (`ECONNREFUSED` for port unreachable). Errors
 *   that find no subscriber are counted (`errorsUnobserved`) and dropped.
 * - Methods throw `NetstackError` synchronously only for caller mistakes: `ERR_INVALID_ARG_VALUE`
 *   (bad address, port or payload), `ENOTCONN`, `ERR_SOCKET_CLOSED`.
 */
export class UdpSocket {
  /** Received datagrams (see the class comment for hot/queue semantics). */
  readonly datagrams$: Observable<ReceivedDatagram>;
  /** Non-fatal errors (see the class comment). */
  readonly errors$: Observable<NetstackError>;

  readonly #host: UdpSocketHost;
  readonly #ep: UdpEndpoint;
  // One-entry cache: a socket usually sends to the same address again and again. The address
  // is kept in the endpoint (`lastSendAddr`), which holds a reference on an IPv6 id until the
  // cache moves on or the layer closes it.
  #lastText: string | undefined;

  /** Made by the UDP layer; use `stack.udp.bind()`. */
  constructor(host: UdpSocketHost, ep: UdpEndpoint) {
    this.#host = host;
    this.#ep = ep;
    this.datagrams$ = ep.datagrams$;
    this.errors$ = ep.errors$;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#ep.closed;
  }

  /**
   * Sends one datagram to `to`, or to the connected peer when `to` is omitted (a connected
   * socket may still name another destination, as sendto(2) allows on Linux). The bytes are
   * copied: the caller may reuse them at once. Returns true when the datagram was handed to
   * IPv4, false when it failed at once (the error is also emitted on `errors$`); ARP failures
   * come later, on `errors$` only.
   *
   * @throws NetstackError ERR_INVALID_ARG_VALUE (not a Uint8Array, bad address or port),
   *   ENOTCONN (no `to` on an unconnected socket), ERR_SOCKET_CLOSED.
   */
  send(bytes: Uint8Array, to?: UdpRemote): boolean {
    const ep = this.#ep;
    if (ep.closed) throw new NetstackError('ERR_SOCKET_CLOSED', 'send: the socket is closed', { syscall: 'send' });
    if (!(bytes instanceof Uint8Array)) throw new NetstackError('ERR_INVALID_ARG_VALUE', 'send: bytes must be a Uint8Array');
    if (to === undefined) {
      if (!ep.connected) throw new NetstackError('ENOTCONN', 'send: no destination and the socket is not connected', { syscall: 'send' });
      return this.#host.send(ep, bytes, ep.remoteAddr, ep.remotePort);
    }
    return this.#host.send(ep, bytes, this.#destination(to, 'send'), to.port);
  }

  /**
   * Connects to a peer: from now on only its datagrams arrive, `send(bytes)` needs no
   * destination, and hard ICMP errors for it arrive on `errors$` as `ECONNREFUSED` (port or
   * protocol unreachable), `EHOSTUNREACH` or `ENETUNREACH` without ending the socket. May be
   * called again to change peers. Datagrams already queued stay queued.
   *
   * @throws NetstackError ERR_INVALID_ARG_VALUE, ERR_SOCKET_CLOSED, or what connect(2) answers
   *   at once: ENETUNREACH (no route), EACCES (a broadcast address without `broadcast: true`).
   */
  connect(remote: UdpRemote): void {
    if (this.#ep.closed) throw new NetstackError('ERR_SOCKET_CLOSED', 'connect: the socket is closed', { syscall: 'connect' });
    this.#host.rekey(this.#ep, this.#destination(remote, 'connect'), remote.port);
  }

  /** Forgets the peer: datagrams from anyone arrive again. @throws ENOTCONN, ERR_SOCKET_CLOSED */
  disconnect(): void {
    if (this.#ep.closed) throw new NetstackError('ERR_SOCKET_CLOSED', 'disconnect: the socket is closed');
    if (!this.#ep.connected) throw new NetstackError('ENOTCONN', 'disconnect: the socket is not connected');
    this.#host.rekey(this.#ep, 0, 0);
  }

  /** SO_BROADCAST: allows sending to (and connecting to) broadcast addresses. */
  setBroadcast(on: boolean): void {
    this.#ep.broadcast = on;
  }

  /** The local address (`0.0.0.0` when bound to every address) and port. */
  address(): UdpAddressInfo {
    const a = this.#ep.localAddr;
    return { address: this.#host.format(a), family: a >= IPV6_ID_BASE ? 'IPv6' : 'IPv4', port: this.#ep.localPort };
  }

  /** The connected peer. @throws ENOTCONN when not connected. */
  remoteAddress(): UdpAddressInfo {
    if (!this.#ep.connected) throw new NetstackError('ENOTCONN', 'remoteAddress: the socket is not connected');
    const a = this.#ep.remoteAddr;
    return { address: this.#host.format(a), family: a >= IPV6_ID_BASE ? 'IPv6' : 'IPv4', port: this.#ep.remotePort };
  }

  /** A copy of the counters and the receive queue's depth. */
  stats(): UdpSocketStats {
    const ep = this.#ep;
    return Object.freeze({ ...ep.counters, queued: ep.queue.length, queuedBytes: ep.queue.bytes });
  }

  /**
   * `for await (const d of socket)`: received datagrams, pulled from the receive queue (bounded
   * by `receiveQueue`; drops counted as `queueFull`). Ends on `close()`; leaving the loop does
   * not close the socket. See UdpEndpoint#datagrams for sharing with `datagrams$`.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<ReceivedDatagram> {
    return this.#ep.datagrams();
  }

  /** Unbinds: frees the port, completes `datagrams$` and `errors$`, drops queued datagrams. Idempotent. */
  close(): void {
    this.#host.close(this.#ep);
    this.#lastText = undefined;
  }

  #destination(to: UdpRemote, what: string): IpAddr {
    if (to === null || typeof to !== 'object') throw new NetstackError('ERR_INVALID_ARG_VALUE', `${what}: destination must be { address, port }`);
    const { address, port } = to;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new NetstackError('ERR_INVALID_ARG_VALUE', `${what}: port ${String(port)} is not in 1..65535`);
    }
    const ep = this.#ep;
    if (address === this.#lastText) return ep.lastSendAddr;
    const parsed = this.#host.parse(address);
    if (parsed !== undefined && !('addr' in parsed)) throw parsed;
    if (parsed === undefined || isIpAny(parsed.addr)) {
      if (parsed !== undefined) this.#host.release(parsed.addr);
      throw new NetstackError('ERR_INVALID_ARG_VALUE', `${what}: "${String(address)}" is not a destination IP address`);
    }
    this.#host.release(ep.lastSendAddr);
    this.#lastText = address;
    ep.lastSendAddr = parsed.addr;
    return parsed.addr;
  }
}
