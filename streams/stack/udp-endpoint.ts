import { Observable, Subject, type Subscriber } from 'rxjs';
import { DatagramQueue, type QueueBudget } from './udp-receive-queue.js';
import type { IpAddr } from '../../src/ip/address-book.js';
import type { NetstackError } from '../../src/errors.js';
import { log } from '../../src/log.js';

/** One received datagram, as `UdpSocket.datagrams$` emits it. */
export interface ReceivedDatagram {
  /** The data: a view into the received frame (or the reassembled copy); keep it as long as you like. */
  readonly payload: Uint8Array;
  /** The sender's address and port. */
  readonly address: string;
  readonly port: number;
  /** Name of the interface it came in on. */
  readonly interface: string;
}

/** Limits of a socket's receive queue (datagrams held while nobody subscribes). */
export interface ReceiveQueueOptions {
  /** Default 1024. */
  readonly maxDatagrams?: number;
  /** Payload bytes; default 212,992 (Linux's default SO_RCVBUF). */
  readonly maxBytes?: number;
}

export const DEFAULT_RECEIVE_QUEUE = Object.freeze({ maxDatagrams: 1024, maxBytes: 212_992 });

/** Per-socket counters. */
export interface UdpEndpointCounters {
  rxDatagrams: number;
  rxBytes: number;
  txDatagrams: number;
  txBytes: number;
  /** Datagrams dropped because nobody subscribed and the receive queue was full. */
  queueFull: number;
  /** Errors emitted on `errors$`. */
  errors: number;
  /** Errors that found nobody subscribed to `errors$` (dropped after counting and logging). */
  errorsUnobserved: number;
}

/**
 * The UDP layer's side of a bound socket: its demux key, its receive queue and the subscribers
 * of its streams. Users hold the `UdpSocket` facade; this object lives in the endpoint table.
 *
 * `datagrams$` is hot: every datagram goes to every subscriber present when it arrives. While
 * there is none, datagrams wait in the bounded receive queue (over the limit they are dropped
 * and counted in `queueFull`), and the next subscriber gets the queued ones first, synchronously
 * on subscription, then the live ones.
 */
export class UdpEndpoint {
  localAddr: IpAddr;
  localPort: number;
  /** The connected peer, or 0 / 0. */
  remoteAddr: IpAddr = 0;
  remotePort = 0;
  /** SO_BROADCAST: may send to broadcast addresses. */
  broadcast: boolean;
  /** Bound to '::' without ipv6Only: takes and sends datagrams of both families. */
  dualStack = false;
  /** The socket's last destination (its one-entry parse cache), an IPv6 id held until replaced or closed. */
  lastSendAddr: IpAddr = 0;
  closed = false;
  readonly counters: UdpEndpointCounters = { rxDatagrams: 0, rxBytes: 0, txDatagrams: 0, txBytes: 0, queueFull: 0, errors: 0, errorsUnobserved: 0 };
  readonly queue: DatagramQueue<ReceivedDatagram>;
  readonly datagrams$: Observable<ReceivedDatagram>;
  readonly errors$: Observable<NetstackError>;
  /** Given to IPv4 as the send error callback: made once, never per datagram. */
  readonly onSendError = (err: NetstackError): void => this.fail(err);
  /** Called once when the endpoint ends (for `bind$`). */
  onEnd: (() => void) | undefined;

  /** Copy-on-write: deliver() iterates the array it read, subscribe/unsubscribe replace it. */
  #subscribers: Subscriber<ReceivedDatagram>[] = [];
  /** Async iterators in progress: while there is one, datagrams also go to the receive queue. */
  #pullers = 0;
  /** `next()` calls waiting for a datagram, oldest first. */
  #waiting: ((d: ReceivedDatagram | undefined) => void)[] = [];
  readonly #errors = new Subject<NetstackError>();

  /** @param budget the stack-wide limit of all receive queues. */
  constructor(localAddr: IpAddr, localPort: number, broadcast: boolean, queue: Required<ReceiveQueueOptions>, budget?: QueueBudget) {
    this.localAddr = localAddr;
    this.localPort = localPort;
    this.broadcast = broadcast;
    this.queue = new DatagramQueue(queue.maxDatagrams, queue.maxBytes, budget);
    this.errors$ = this.#errors.asObservable();
    this.datagrams$ = new Observable<ReceivedDatagram>((subscriber) => {
      if (this.closed) {
        subscriber.complete();
        return undefined;
      }
      // Queued datagrams first, in order. One that arrives meanwhile (only by re-entry) is
      // queued behind them, since this subscriber is not in the list yet.
      const q = this.queue;
      while (!subscriber.closed && q.length > 0) subscriber.next(q.shift()!);
      if (subscriber.closed) return undefined;
      this.#subscribers = [...this.#subscribers, subscriber];
      return () => {
        this.#subscribers = this.#subscribers.filter((s) => s !== subscriber);
      };
    });
  }

  get connected(): boolean {
    return this.remotePort !== 0;
  }

  /**
   * Hands a datagram to the subscribers, or queues it. 'ok', or why it was dropped: the
   * socket's queue is full, or the stack's budget of queued datagrams is spent.
   */
  deliver(d: ReceivedDatagram): 'ok' | 'queueFull' | 'stackQueueFull' {
    const c = this.counters;
    c.rxDatagrams++;
    c.rxBytes += d.payload.length;
    const subs = this.#subscribers;
    if (subs.length > 0) {
      if (subs.length === 1) subs[0].next(d);
      else for (let i = 0; i < subs.length; i++) subs[i].next(d);
      if (this.#pullers === 0) return 'ok';
    }
    // Nobody subscribed, or an iterator reads too: a waiting next() takes it, else the queue.
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) {
      waiter(d);
      return 'ok';
    }
    const queued = this.queue.pushOrWhyNot(d);
    if (queued !== 'ok') c.queueFull++;
    return queued;
  }

  /**
   * `for await (const d of socket)`: datagrams pulled from the receive queue, one per `next()`
   * (bounded by the queue's limits while the loop body runs: beyond them datagrams are dropped
   * and counted as `queueFull`). Several iterators share the queue (each datagram goes to one
   * of them, as recvmsg(2) from several threads); `datagrams$` subscribers still get every
   * datagram. Ends on close(); `break` (return()) stops it without closing the socket.
   */
  datagrams(): AsyncIterableIterator<ReceivedDatagram> {
    let done = this.closed;
    if (!done) this.#pullers++;
    const stop = (): void => {
      if (done) return;
      done = true;
      this.#pullers--;
    };
    const iterator: AsyncIterableIterator<ReceivedDatagram> = {
      next: () => {
        const queued = this.queue.shift();
        if (queued !== undefined) return Promise.resolve({ value: queued, done: false });
        if (done || this.closed) {
          stop();
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise<IteratorResult<ReceivedDatagram>>((resolve) => {
          this.#waiting.push((d) => {
            if (d === undefined) {
              stop();
              resolve({ value: undefined, done: true });
            } else resolve({ value: d, done: false });
          });
        });
      },
      return: () => {
        stop();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Reports a non-fatal error on `errors$` (the socket keeps working). */
  fail(err: NetstackError): void {
    if (this.closed) return;
    this.counters.errors++;
    if (!this.#errors.observed) {
      this.counters.errorsUnobserved++;
      if (log.udp.enabled) log.udp('port %d: unobserved error %s', this.localPort, err.message);
      return;
    }
    this.#errors.next(err);
  }

  /** Completes both streams and drops the queue. The layer has already removed the key. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.clear();
    const subs = this.#subscribers;
    this.#subscribers = [];
    for (const s of subs) s.complete();
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w(undefined);
    this.#errors.complete();
    const onEnd = this.onEnd;
    this.onEnd = undefined;
    onEnd?.();
  }
}
