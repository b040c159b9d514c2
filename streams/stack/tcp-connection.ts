import { BehaviorSubject, Observable, Subject, type SchedulerLike } from 'rxjs';
import type { TcpConnectionCore, TcpHost } from '../../src/tcp/connection.js';
import { tcpInfo, type TcpInfo } from '../../src/tcp/info.js';
import type { TcpState } from '../../src/tcp/state.js';
import type { TcpCounters } from '../../src/tcp/counters.js';
import type { TcpRepr } from '../../src/wire/tcp.js';
import { formatIpv4 } from '../../src/ipv4/address.js';
import { IPV6_ID_BASE } from '../../src/ip/address-book.js';
import { NetstackError, netError } from '../../src/errors.js';
import type { QueuedTimer, TimerQueue } from './timer-queue.js';
import type { TcpSocket } from './tcp-socket.js';
import type { TcpConnectionLimits } from './tcp-limits.js';
import { pacedRead, type PacedObservable, type PacedReader, type PacedSubscription } from '../operators/paced-concat-map.js';
import { tcpReadable, tcpWritable, tcpChunks } from './tcp-web-streams.js';
import type { ReadableStream, WritableStream } from 'node:stream/web';

/** Where received bytes go: `data$`'s subscriber, or the socket adapter. */
export interface TcpReader {
  /**
   * `push` copies what it takes of each chunk before it returns and keeps no view of it: the
   * core may then hand over a small payload as the view of its frame (TcpConnectionCore.readerCopies).
   */
  readonly copies?: boolean;
  /** Takes a chunk; false asks for no more until `resumeReading()` (backpressure). */
  push(chunk: Uint8Array): boolean;
  /** The peer's FIN, after every byte. */
  end(): void;
  error(err: NetstackError): void;
}

/** What the connection needs from the TCP layer that owns it. */
export interface TcpConnectionOwner {
  readonly scheduler: SchedulerLike;
  /** The connections' timers: one wake-up on `scheduler` for all of them (timer-queue.ts). */
  readonly timers: TimerQueue;
  /** `ect`: ECN-capable transport, ECT(0) in the IP header (see TcpHost.send). */
  transmit(conn: TcpConnection, seg: TcpRepr, ect: boolean): void;
  /** The core recorded send times to be stamped when its segments leave (TcpHost.onSendTimed). */
  sendTimed?(core: TcpConnectionCore): void;
  /** The core's ACK may wait for the end of the inbound batch (TcpHost.deferAck): true if it will. */
  deferAck?(core: TcpConnectionCore): boolean;
  /** The connection reached CLOSED: release its 4-tuple (and port). */
  released(conn: TcpConnection): void;
  established(conn: TcpConnection): void;
  /** The connection entered TIME-WAIT (the TIME-WAIT table may recycle an older one). */
  timeWait(conn: TcpConnection): void;
  /** The stack-wide limits: memory accounting, held writes, the pending-write cap. */
  readonly limits: TcpConnectionLimits;
  /** Text of an IPv6 address id (the stack's AddressBook); IPv4 numbers are formatted here. */
  formatAddress?(addr: number): string;
  /** The MTU of the route to the connection's peer (the interface's, or a lower learnt path MTU). */
  routeMtu?(conn: TcpConnection): number;
}

/** Told once when a connection is finished for its user (see TcpConnection.watchFinish). */
export interface FinishWatcher {
  connectionFinished(conn: TcpConnection, error: NetstackError | undefined): void;
}

/** `#pending` of a connection whose writes have all fitted the send buffer (shared, never written). */
const NO_WRITES: Uint8Array[] = [];

/**
 * A TCP connection as the user holds it, wrapping one sans-IO TcpConnectionCore.
 *
 * Reading: received bytes wait in the core's receive buffer (the advertised window shrinks)
 * until a reader takes them: `data$` (push: every chunk as it arrives; paced under
 * `pacedConcatMap`/`relayTo`), `readable` (a WHATWG ReadableStream), `for await` over the
 * connection, or `toSocket()` (a node:stream Readable); all but plain `data$` read only when
 * their consumer wants more. There is one reader at a time: a second one (a second concurrent
 * subscriber to `data$`, or `toSocket()`/`readable` while `data$` is subscribed...) gets
 * `EBUSY`. After a reader leaves, the next one continues where it stopped, so no byte is lost or
 * delivered twice. A reader that comes after the end gets the bytes still unread, then the end
 * (complete) or the error the connection closed with.
 *
 * Writing: `write(bytes)` queues bytes; it returns false when they did not all fit in the send
 * buffer. The rest waits here, in order, and `drain$` emits once it has all gone into the send
 * buffer. Nothing accepted is dropped, unless the connection itself fails (then `data$`
 * and `closed$` carry the error). What waits here is bounded (`tcp.maxPendingWrite`): a write
 * that would pass the bound throws ENOBUFS and queues nothing. While the stack's buffers are
 * above their hard mark (`tcp.memoryHardLimit`) writes wait here too.
 */
export class TcpConnection {
  /** @internal The sans-IO connection this wraps. */
  readonly core: TcpConnectionCore;
  readonly localPort: number;
  readonly remotePort: number;

  readonly #owner: TcpConnectionOwner;
  readonly #timer: QueuedTimer<TcpConnection>;
  // Made on the first subscription (most connections are never watched for their state or
  // drain, and their closed$ only by the one who opened them): a connection is cheap to make.
  #state$: BehaviorSubject<TcpState> | undefined;
  #drain$: Subject<void> | undefined;
  /** drain$ has completed (the connection closed): a late subscriber gets the completion. */
  #drainDone = false;
  #closed$: Subject<NetstackError | undefined> | undefined;
  /**
   * The last state the core reported (state$'s current value): the core delivers transitions
   * after the fact, so core.state may already be further on while they are delivered.
   */
  #deliveredState: TcpState;
  #localAddress: string | undefined;
  #remoteAddress: string | undefined;
  #data$: PacedObservable<Uint8Array> | undefined;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;
  #reader: TcpReader | undefined;
  /** The current reader said "no more" (pull mode) until resumeReading(). */
  #paused = false;
  #pumping = false;
  /** Inside `handleSegment`: re-arming waits for its end. */
  #inSegment = false;
  /** The current reader has had its end (or error): tell it only once. */
  #readerDone = false;
  /** Writes waiting for the send buffer: NO_WRITES (shared, never written) until the first. */
  #pending: Uint8Array[] = NO_WRITES;
  #pendingBytes = 0;
  #endRequested = false;
  /** close() was called: the FIN goes with close semantics (no more reading). */
  #closeRequested = false;
  /** The core reached CLOSED. */
  #closed = false;
  /** Finished for the user (TIME-WAIT, CLOSED or failed): closed$ has emitted. */
  #finished = false;
  #error: NetstackError | undefined;
  /** Set before aborting the core for an error found outside it (ICMP, ARP). */
  #externalError: NetstackError | undefined;
  #socket: TcpSocket | undefined;
  #finishWatcher: FinishWatcher | undefined;
  /** @internal The owner's record of this connection while it is live (the TCP layer's entry). */
  ownerEntry: unknown = undefined;
  /** @internal What it holds of the stack-wide limits while it is live (tcp-limits.ts). */
  limitSlot: unknown = undefined;

  constructor(core: TcpConnectionCore, owner: TcpConnectionOwner) {
    this.core = core;
    this.#owner = owner;
    // What the core calls: private to this wrapper (its methods are shared by all connections).
    core.host = new TcpConnection.#Host(this);
    this.localPort = core.localPort;
    this.remotePort = core.remotePort;
    this.#deliveredState = core.state;
    this.#timer = owner.timers.timer<TcpConnection>(TcpConnection.#onDeadline, this);
    this.#timer.keepAlive = keepsProcessAlive(core.state);
    if (core.remoteAddr >= IPV6_ID_BASE && owner.formatAddress !== undefined) {
      // IPv6 ids are the book's while the connection holds them: format them now, while it does.
      this.#localAddress = owner.formatAddress(core.localAddr);
      this.#remoteAddress = owner.formatAddress(core.remoteAddr);
    }
  }

  /** 'IPv4' or 'IPv6': the family of the connection's addresses. */
  get family(): 'IPv4' | 'IPv6' {
    return this.core.remoteAddr >= IPV6_ID_BASE ? 'IPv6' : 'IPv4';
  }

  /**
   * The core's host: one small object per connection whose methods, shared by every connection,
   * call back into its TcpConnection (per-connection closures cost an allocation each).
   */
  static readonly #Host = class ConnectionHost implements TcpHost {
    constructor(readonly conn: TcpConnection) {}
    send(_core: TcpConnectionCore, seg: TcpRepr, ect: boolean): void {
      this.conn.#owner.transmit(this.conn, seg, ect);
    }
    onSendTimed(core: TcpConnectionCore): void {
      const owner = this.conn.#owner;
      if (owner.sendTimed !== undefined) owner.sendTimed(core);
    }
    deferAck(core: TcpConnectionCore): boolean {
      const owner = this.conn.#owner;
      return owner.deferAck !== undefined && owner.deferAck(core);
    }
    onStateChange(_core: TcpConnectionCore, _from: TcpState, to: TcpState): void {
      this.conn.#onStateChange(to);
    }
    onEstablished(): void {
      this.conn.#owner.established(this.conn);
    }
    onReadable(): void {
      this.conn.#pump();
    }
    onPeerFin(): void {
      this.conn.#pump();
    }
    onWritable(): void {
      this.conn.#onWritable();
    }
    onClosed(_core: TcpConnectionCore, error: NetstackError | undefined): void {
      this.conn.#onClosed(error);
    }
  };

  get localAddress(): string {
    return (this.#localAddress ??= formatIpv4(this.core.localAddr));
  }

  get remoteAddress(): string {
    return (this.#remoteAddress ??= formatIpv4(this.core.remoteAddr));
  }

  /** The RFC 9293 state, now and at every change; completes after CLOSED (a late subscriber gets 'CLOSED'). */
  get state$(): Observable<TcpState> {
    return new Observable<TcpState>((subscriber) => {
      if (this.#closed) {
        subscriber.next('CLOSED');
        subscriber.complete();
        return;
      }
      this.#state$ ??= new BehaviorSubject<TcpState>(this.#deliveredState);
      return this.#state$.subscribe(subscriber);
    });
  }

  get state(): TcpState {
    return this.core.state;
  }

  /**
   * Emits once the connection is finished for its user, then completes: both directions done
   * (TIME-WAIT, or CLOSED after LAST-ACK), with undefined; or failed or aborted (CLOSED), with
   * the error (undefined after `destroy()`). TIME-WAIT itself goes on in the stack, keeping the
   * 4-tuple reserved for 2*MSL, but nobody waits for it. A late subscriber gets it at once.
   */
  get closed$(): Observable<NetstackError | undefined> {
    return new Observable((subscriber) => {
      if (this.#finished) {
        subscriber.next(this.#error);
        subscriber.complete();
        return;
      }
      const subject = (this.#closed$ ??= new Subject());
      const sub = subject.subscribe(subscriber);
      return () => {
        sub.unsubscribe();
        // The last watcher left (connect() watches only until the handshake): let the Subject
        // go with it rather than keep it for the connection's life; the next makes another.
        if (this.#closed$ === subject && !subject.observed) this.#closed$ = undefined;
      };
    });
  }

  /**
   * @internal `closed$` without an Observable, a Subject and a subscription: `watcher` is told
   * once, after closed$'s subscribers (at once if the connection is already finished). One
   * watcher per connection, for the stack's own services (tcp-service.ts: one per accepted
   * connection); a second replaces the first.
   */
  watchFinish(watcher: FinishWatcher): void {
    if (this.#finished) watcher.connectionFinished(this, this.#error);
    else this.#finishWatcher = watcher;
  }

  /** Emits each time bytes that `write()` could not place have all gone into the send buffer. */
  get drain$(): Observable<void> {
    return new Observable<void>((subscriber) => this.#drainSubject().subscribe(subscriber));
  }

  /** drain$'s Subject, made on first use (completed at once when the connection is closed). */
  #drainSubject(): Subject<void> {
    if (this.#drain$ === undefined) {
      this.#drain$ = new Subject<void>();
      if (this.#drainDone) this.#drain$.complete();
    }
    return this.#drain$;
  }

  /** The error the connection closed with (undefined while open or after a clean close). */
  get error(): NetstackError | undefined {
    return this.#error;
  }

  /** @internal The stack's scheduler (the socket adapter's idle timer runs on it). */
  get scheduler(): SchedulerLike {
    return this.#owner.scheduler;
  }

  /** Per-connection counters (live). */
  get counters(): Readonly<TcpCounters> {
    return this.core.counters;
  }

  /**
   * A TCP_INFO-like snapshot (state, RTT, RTO, windows, segment sizes, negotiated options,
   * totals): what `ss -ti` shows for a kernel socket. Frozen; take another for later figures.
   */
  info(): TcpInfo {
    return tcpInfo(this.core, this.#owner.routeMtu?.(this));
  }

  /** Bytes written but not yet in the send buffer, plus those in it not yet acknowledged. */
  get bufferedLength(): number {
    return this.#pendingBytes + this.core.bufferedLength;
  }

  /**
   * Bytes `write()` would take into the send buffer now (copied there at once, nothing kept
   * by reference): 0 while earlier writes wait or the stack is short of memory, and once ended.
   * A writer that reuses its buffer (a socket read into one fixed buffer) copies only beyond it.
   */
  get writableRoom(): number {
    return this.#pending.length > 0 || this.#owner.limits.exhausted ? 0 : this.core.writableLength;
  }

  /**
   * Received bytes as they arrive (views: copy a chunk to keep it past the next one); completes
   * after the peer's FIN, errors with ECONNRESET or ETIMEDOUT. One subscriber at a time (EBUSY
   * for a second); unsubscribing stops reading (the window closes as bytes pile up) without
   * closing the connection, and the next subscriber continues with the first unread byte.
   */
  get data$(): Observable<Uint8Array> {
    this.#data$ ??= this.#makeData$();
    return this.#data$;
  }

  #makeData$(): PacedObservable<Uint8Array> {
    const data$ = new Observable<Uint8Array>((subscriber) => {
      const reader: TcpReader = {
        push: (chunk) => {
          subscriber.next(chunk);
          // A subscriber that unsubscribed in its next() (take, takeUntil...) must get no more:
          // its teardown (detachReader) may not be registered yet while attachReader still
          // pumps, and a chunk pushed to a closed subscriber would be lost.
          return !subscriber.closed;
        },
        end: () => subscriber.complete(),
        error: (err) => subscriber.error(err),
      };
      const err = this.attachReader(reader);
      if (err) {
        subscriber.error(err);
        return;
      }
      return () => this.detachReader(reader);
    }) as PacedObservable<Uint8Array>;
    data$[pacedRead] = (reader) => this.#readPaced(reader);
    return data$;
  }

  /**
   * @internal `data$[pacedRead]` without making `data$`: the connection is a paced source itself
   * (the stack's services relay from it directly, relay-to.ts `relayDirectly`).
   */
  [pacedRead](paced: PacedReader<Uint8Array>): PacedSubscription {
    return this.#readPaced(paced);
  }

  /** `data$` read at its consumer's pace (pacedConcatMap, relayTo): the same reader slot. */
  #readPaced(paced: PacedReader<Uint8Array>): PacedSubscription {
    // One object is both the reader and the subscription (an echo or relay makes one per
    // connection: methods instead of five closures).
    const reader = new TcpConnection.#PacedReading(this, paced);
    const err = this.attachReader(reader);
    if (err) {
      paced.error(err);
      return NOT_READING;
    }
    return reader;
  }

  /** A paced reader in the reader slot, and the handle its consumer resumes or leaves it by. */
  static readonly #PacedReading = class PacedReading implements TcpReader, PacedSubscription {
    constructor(
      readonly conn: TcpConnection,
      readonly paced: PacedReader<Uint8Array>,
    ) {}
    get copies(): boolean {
      return this.paced.copies === true;
    }
    push(chunk: Uint8Array): boolean {
      return this.paced.next(chunk);
    }
    end(): void {
      this.paced.complete();
    }
    error(err: NetstackError): void {
      this.paced.error(err);
    }
    resume(): void {
      if (this.conn.#reader === this) this.conn.resumeReading();
    }
    unsubscribe(): void {
      this.conn.detachReader(this);
    }
  };

  /**
   * Received bytes as a WHATWG ReadableStream (the same stream on every access). Pull-based:
   * bytes leave the receive buffer only when the stream's consumer reads, so a consumer that
   * stops reading closes the advertised window. Closes after the peer's FIN; errors with the
   * connection's error (`err.code` ECONNRESET, ETIMEDOUT...). `cancel()` stops reading without
   * closing the connection (as unsubscribing `data$` does). Claims the reader slot.
   * @throws NetstackError EBUSY when another reader (data$, toSocket(), iteration) holds it.
   */
  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= tcpReadable(this);
    return this.#readable;
  }

  /**
   * A WHATWG WritableStream into the connection (the same stream on every access): `write()`
   * resolves once the chunk is in the send buffer (rejects with EPIPE or the connection's error
   * if it closes first); `close()` sends FIN after everything written (half-close: reading goes
   * on); `abort()` resets the connection (RST).
   */
  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= tcpWritable(this);
    return this.#writable;
  }

  /**
   * `for await (const chunk of conn)`: received bytes, pulled one chunk per iteration (the
   * window closes while the loop body runs long); ends after the peer's FIN, throws the
   * connection's error. Leaving the loop (`break`) stops reading without closing the connection.
   * @throws NetstackError EBUSY (from the first `next()`) when another reader holds the slot.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return tcpChunks(this);
  }

  /**
   * @internal Claims the reader slot; returns an error when taken. A reader attached `paused`
   * gets nothing until its first `resumeReading()`.
   */
  attachReader(reader: TcpReader, paused = false): NetstackError | undefined {
    if (this.#reader !== undefined) return netError('EBUSY', `${this} already has a reader (data$, readable, iteration or toSocket())`);
    this.#reader = reader;
    this.core.readerCopies = reader.copies === true;
    this.#paused = paused;
    this.#readerDone = false;
    this.#pump();
    return undefined;
  }

  /** @internal */
  detachReader(reader: TcpReader): void {
    if (this.#reader === reader) {
      this.#reader = undefined;
      this.core.readerCopies = false;
    }
  }

  /** @internal A pull reader that said "no more" wants more now. */
  resumeReading(): void {
    this.#paused = false;
    this.#pump();
  }

  /**
   * @internal `write` copies what fits into the send buffer at once (relayTo: see DirectTarget);
   * a getter, so it costs no field per connection.
   */
  get copiesWrites(): boolean {
    return true;
  }

  /**
   * Queues `bytes` for sending (they are not copied until they enter the send buffer: do not
   * modify them afterwards). Returns false when they did not all fit: wait for `drain$`.
   * @throws NetstackError EPIPE after `end()` or `destroy()`, or once the connection is closed.
   */
  write(bytes: Uint8Array): boolean {
    if (this.#endRequested) throw netError('EPIPE', `write after end on ${this}`, 'write');
    if (this.#closed) throw netError('EPIPE', `write on ${this}: closed${this.#error ? ` (${this.#error.code})` : ''}`, 'write');
    const limits = this.#owner.limits;
    const held = this.#pending.length > 0 || limits.exhausted;
    // What would wait here after this write: all of it when writes wait already, else what
    // does not fit in the send buffer.
    const excess = this.#pendingBytes + bytes.length - (held ? 0 : this.core.writableLength);
    if (excess > limits.maxPendingWrite) {
      limits.writeRefused();
      throw netError('ENOBUFS', `write of ${bytes.length} bytes on ${this}: ${this.#pendingBytes} bytes already wait for the send buffer (tcp.maxPendingWrite ${limits.maxPendingWrite}); wait for drain$ after write() returns false`, 'write');
    }
    if (held) {
      if (this.#pending.length === 0) {
        // The stack's buffers are above their hard mark: wait until they are below it.
        limits.writeHeld();
        limits.waitForMemory(this);
      }
      if (this.#pending === NO_WRITES) this.#pending = [];
      this.#pending.push(bytes);
      this.#pendingBytes += bytes.length;
      return false;
    }
    // Cannot throw: the core refuses writes only after shutdown (end()) or once CLOSED.
    const n = this.core.write(bytes, this.#owner.scheduler.now());
    this.rearm();
    if (n < bytes.length) {
      if (this.#pending === NO_WRITES) this.#pending = [];
      this.#pending.push(bytes.subarray(n));
      this.#pendingBytes += bytes.length - n;
      return false;
    }
    return true;
  }

  /** Like `write`, as an Observable that completes once the bytes are in the send buffer. */
  write$(bytes: Uint8Array): Observable<void> {
    return new Observable<void>((subscriber) => {
      if (this.write(bytes)) {
        subscriber.complete();
        return;
      }
      if (this.#closed) {
        subscriber.error(this.#error ?? netError('EPIPE', `${this} is closed`, 'write'));
        return;
      }
      const d = this.#drainSubject().subscribe(() => subscriber.complete());
      const c = (this.#closed$ ??= new Subject()).subscribe((err) => subscriber.error(err ?? netError('EPIPE', `${this} closed`, 'write')));
      return () => {
        d.unsubscribe();
        c.unsubscribe();
      };
    });
  }

  /** Sends FIN after everything written (half-close: reading goes on). Idempotent. */
  end(): void {
    if (this.#endRequested) return;
    this.#endRequested = true;
    if (this.#pending.length === 0) {
      this.core.shutdown(this.#owner.scheduler.now());
      this.rearm();
    }
  }

  /**
   * Full close, as close(2) on a kernel socket: FIN after everything written, and no more
   * reading: bytes left unread, or arriving later, reset the connection (RST), as Linux does.
   * The current reader's data$ completes when the connection reaches CLOSED. Idempotent.
   */
  close(): void {
    if (this.#closeRequested || this.#closed) return;
    this.#closeRequested = true;
    this.#endRequested = true;
    if (this.#pending.length === 0) {
      this.core.close(this.#owner.scheduler.now());
      this.rearm();
    }
  }

  /** Aborts: RST to the peer, everything queued is dropped. Idempotent. */
  destroy(): void {
    this.#endRequested = true;
    this.#pending = NO_WRITES;
    this.#pendingBytes = 0;
    this.core.abort(this.#owner.scheduler.now());
    this.rearm();
  }

  /** Turns Nagle's algorithm off (true) or on (false). */
  setNoDelay(noDelay = true): void {
    this.core.setNoDelay(noDelay, this.#owner.scheduler.now());
    this.rearm();
  }

  /**
   * Keepalive probes on or off, as net.Socket#setKeepAlive: `initialDelay` ms of idleness before
   * the first probe (default: the stack's `tcp.keepaliveIdle`); unanswered probes end the
   * connection with ETIMEDOUT.
   */
  setKeepAlive(enable = false, initialDelay?: number): void {
    this.core.setKeepAlive(enable, initialDelay, this.#owner.scheduler.now());
    this.rearm();
  }

  /**
   * A node:stream Duplex over this connection (claims the reader slot; the same socket on every
   * call).
   * @throws NetstackError EBUSY while `data$` is subscribed.
   */
  toSocket(): TcpSocket {
    if (this.#socket === undefined) {
      if (this.#reader !== undefined) throw netError('EBUSY', `${this} already has a reader (data$)`);
      // Imported lazily in the layer (see tcp-layer.ts) to keep node:stream off the core path.
      this.#socket = TcpConnection.socketFactory(this);
    }
    return this.#socket;
  }

  /** @internal A socket made over this connection by stack.net: `toSocket()` returns it. */
  adoptSocket(socket: TcpSocket): void {
    this.#socket ??= socket;
  }

  /** Set by tcp-socket.ts at load time. */
  /** @internal Set by tcp-socket.ts (it imports this module, not the other way round). */
  static socketFactory: (conn: TcpConnection) => TcpSocket;

  toString(): string {
    return `tcp ${this.localAddress}:${this.localPort} <-> ${this.remoteAddress}:${this.remotePort}`;
  }

  /** @internal Fails the connection with an error found outside the core (ICMP, ARP). */
  failWith(err: NetstackError): void {
    if (this.#closed) return;
    this.#externalError = err;
    this.core.abort(this.#owner.scheduler.now());
    this.rearm();
  }

  /**
   * @internal Where routing or ARP failures of this connection's segments go: fatal only while
   * connecting, so there is a function only then (afterwards TCP just retransmits, and a failure
   * is nobody's to hear: undefined). Made by `connect()` (watchSendErrors), dropped at
   * ESTABLISHED: an accepted or established connection holds none. A field, read per segment.
   */
  onSendError: ((err: NetstackError) => void) | undefined = undefined;

  /** @internal An active open: failures to send its SYN fail the connect (see onSendError). */
  watchSendErrors(): void {
    this.onSendError = (err: NetstackError): void => {
      if (this.state === 'SYN-SENT') this.failWith(err);
    };
  }

  /** The timer's call, one function for all connections (the timer passes its connection as `this`). */
  static #onDeadline(this: TcpConnection, now: number): void {
    this.core.handleTimer(now);
    this.rearm();
  }

  /**
   * @internal Hands a segment to the core (the TCP layer's dispatch), then re-arms once: the
   * calls the segment's events make into this connection (the reader's pump, a reply written
   * from it) do not re-arm each on their own (a request/response exchange made three re-arms).
   */
  handleSegment(seg: TcpRepr, now: number, ce: boolean): boolean {
    this.#inSegment = true;
    let consumed: boolean;
    try {
      consumed = this.core.handleSegment(seg, now, ce);
    } finally {
      this.#inSegment = false;
    }
    this.rearm();
    return consumed;
  }

  /**
   * @internal Right after `handleSegment`: whether nothing keeps a view of that segment's payload
   * (`payloadBytes` long), so the frame it came in may be overwritten (frame-lease.ts). Only in
   * ESTABLISHED, and for data only when a reader that copies (or keeps nothing) took all of it
   * within the call: nothing unread, nothing out of order, and the reader not paused (a relay
   * whose target was full keeps the view of the chunk it could not write).
   */
  keptNoViewOf(payloadBytes: number): boolean {
    const core = this.core;
    if (core.state !== 'ESTABLISHED') return false;
    if (payloadBytes === 0) return true;
    return core.readerCopies && !this.#paused && core.readableLength === 0 && core.outOfOrderBytes === 0;
  }

  /** @internal Re-arms the one timer after any call into the core. */
  rearm(): void {
    if (this.#closed || this.#inSegment) return;
    this.#timer.set(this.core.nextDeadline());
    this.#owner.limits.account(this);
  }

  // --- Called by the core (through the host object made in the constructor) -------------------

  #onStateChange(to: TcpState): void {
    // The handshake's retransmission wake-up (a second or more ahead) is stale now: clear it
    // rather than keep its timer until then; the re-arm after this call sets what is due.
    // Cleared before keepAlive changes: a passive open's timer was not keeping the process
    // alive, and turning that on for a timer about to go was a ref and an unref of a Node
    // timer per accepted connection.
    if (to === 'ESTABLISHED') {
      this.#timer.cancel();
      this.onSendError = undefined;
    }
    this.#timer.keepAlive = keepsProcessAlive(to);
    this.#deliveredState = to;
    this.#state$?.next(to);
    if (to === 'TIME-WAIT') {
      // Both directions are done: the reader gets its end first, then closed$ (TIME-WAIT goes
      // on in the stack, unnoticed by the user).
      this.#pump();
      this.#finish(undefined);
      this.#owner.timeWait(this);
    }
  }

  /** @internal The stack's memory fell below its hard mark: writes held back go on. */
  retryPending(): void {
    if (!this.#closed && this.#pending.length > 0) this.#onWritable();
  }

  #onWritable(): void {
    const now = this.#owner.scheduler.now();
    while (this.#pending.length > 0) {
      if (this.#owner.limits.exhausted) {
        this.#owner.limits.waitForMemory(this);
        return;
      }
      const head = this.#pending[0];
      let n: number;
      try {
        n = this.core.write(head, now);
      } catch {
        return;
      }
      this.#pendingBytes -= n;
      if (n < head.length) {
        this.#pending[0] = head.subarray(n);
        return;
      }
      this.#pending.shift();
    }
    if (this.#endRequested && !this.#closed) {
      if (this.#closeRequested) this.core.close(now);
      else this.core.shutdown(now);
    }
    this.#drain$?.next();
  }

  #onClosed(error: NetstackError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    const err = error ?? this.#externalError;
    this.#error = err;
    this.#timer.close();
    this.#owner.released(this);
    // The reader gets what is still readable, then the end or the error.
    this.#pump();
    this.#state$?.complete();
    this.#finish(err);
    this.#drainDone = true;
    this.#drain$?.complete();
  }

  #finish(err: NetstackError | undefined): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#closed$?.next(err);
    this.#closed$?.complete();
    const watcher = this.#finishWatcher;
    if (watcher !== undefined) {
      this.#finishWatcher = undefined;
      watcher.connectionFinished(this, err);
    }
  }

  /**
   * Moves readable bytes to the reader while it wants them; once none are left and the stream
   * is over (the peer's FIN, or CLOSED), gives the reader its end or the connection's error.
   */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      // The reader's pace, timed on the stack's clock, sizes the receive buffer (auto-tuning).
      const now = this.#owner.scheduler.now();
      while (this.#reader !== undefined && !this.#paused) {
        const chunk = this.core.read(undefined, now);
        if (chunk === undefined) break;
        if (!this.#reader.push(chunk)) this.#paused = true;
      }
      const reader = this.#reader;
      if (reader !== undefined && !this.#readerDone && this.core.readableLength === 0 && (this.#closed || this.core.readEnded)) {
        this.#readerDone = true;
        if (this.#error !== undefined) reader.error(this.#error);
        else reader.end();
      }
    } finally {
      this.#pumping = false;
    }
    this.rearm();
  }
}

/** What a paced read that could not claim the reader slot returns (it got the EBUSY error). */
const NOT_READING: PacedSubscription = Object.freeze({ resume: () => undefined, unsubscribe: () => undefined });

/**
 * Whether the connection's timers keep the process alive (see unref-scheduler.ts): while it
 * connects, or has data or a FIN not yet acknowledged, or is open for the user, a program
 * waiting on it must not exit under it. Half-open connections of a listener, FIN-WAIT-2 (all of
 * ours acknowledged) and TIME-WAIT do not hold the process.
 */
function keepsProcessAlive(state: TcpState): boolean {
  switch (state) {
    case 'SYN-SENT':
    case 'ESTABLISHED':
    case 'CLOSE-WAIT':
    case 'FIN-WAIT-1':
    case 'CLOSING':
    case 'LAST-ACK':
      return true;
    default:
      return false;
  }
}

export { NetstackError };
