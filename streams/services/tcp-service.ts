import { Subscription, type Observable, type Observer, type Unsubscribable } from 'rxjs';
import type { RelaySink } from '../operators/relay-to.js';
import type { Tcp, TcpListenOptions } from '../stack/tcp-layer.js';
import type { FinishWatcher, TcpConnection } from '../stack/tcp-connection.js';
import { logger } from '../../src/log.js';

const log = logger('services');

/** What a TCP service does with one accepted connection, for as long as it lives. */
export type ConnectionHandler = (conn: TcpConnection) => Observable<unknown>;

/**
 * @internal A handler's work started without an Observable (the stack's own services): reports
 * to `sink` as the handler's Observable would to its subscriber; the result stops it.
 */
export const directWork: unique symbol = Symbol('rx-netstack.directWork');

/** @internal A handler that can also start its work directly (see directWork). */
export interface DirectConnectionHandler extends ConnectionHandler {
  [directWork]?: (conn: TcpConnection, sink: RelaySink) => Unsubscribable;
}

/**
 * Listens on `port` at once and runs `handle(conn)` for every accepted connection.
 *
 * - The listen happens inside this call, so a taken port throws `EADDRINUSE` here (the CLI
 *   reports it before printing `ready`).
 * - Each connection's work stays subscribed until the connection is CLOSED; an error in it
 *   (ECONNRESET...) ends that connection only, never the listener.
 * - Unsubscribing the returned Subscription stops listening and aborts (RST) the service's
 *   connections that are still open: a stopped service leaves nothing behind.
 */
export function tcpService(
  stack: { readonly tcp: Tcp },
  port: number,
  handle: ConnectionHandler,
  options: Omit<TcpListenOptions, 'port'> = {},
): Subscription {
  const connections = new ServiceConnections(port, handle);
  connections.listener = stack.tcp.listen({ ...options, port }).subscribe(connections);
  connections.listening = true;
  if (connections.failure !== undefined) throw connections.failure;
  return new Subscription(() => connections.stop());
}

/**
 * A service's accepted connections: the listener's observer, and the set of connections whose
 * work runs. It is what `listen().pipe(mergeMap((conn) => lifetime(conn)))` was, without an
 * inner subscriber, an Observable of the lifetime and a `closed$` subscription (with its
 * Subject) for every connection: a connection-per-request client pays those per request.
 */
class ServiceConnections implements Observer<TcpConnection> {
  listener: Subscription | undefined;
  listening = false;
  failure: unknown;
  /**
   * The lifetimes still running, newest first, a doubly linked list through their `newer` and
   * `older` (a Set's add and delete hash the object: two probes per connection for a list that
   * is only ever walked when the service stops).
   */
  #head: ConnectionLifetime | undefined;
  #stopped = false;

  /** The handler's direct start, when it has one (directWork). */
  readonly direct: ((conn: TcpConnection, sink: RelaySink) => Unsubscribable) | undefined;

  constructor(
    readonly port: number,
    readonly handle: ConnectionHandler,
  ) {
    this.direct = (handle as DirectConnectionHandler)[directWork];
  }

  next(conn: TcpConnection): void {
    if (this.#stopped) return;
    const lifetime = new ConnectionLifetime(conn, this);
    const head = this.#head;
    if (head !== undefined) {
      lifetime.older = head;
      head.newer = lifetime;
    }
    this.#head = lifetime;
    lifetime.start();
  }

  /** The listener failed: as mergeMap's error, the connections still running are aborted. */
  error(err: unknown): void {
    if (!this.listening) this.failure = err;
    else if (log.enabled) log('listener on port %d failed: %s', this.port, (err as Error).message);
    this.stop();
  }

  complete(): void {}

  /** @internal A lifetime ended (its connection finished). */
  ended(lifetime: ConnectionLifetime): void {
    const { newer, older } = lifetime;
    if (newer !== undefined) newer.older = older;
    else if (this.#head === lifetime) this.#head = older;
    if (older !== undefined) older.newer = newer;
    lifetime.newer = lifetime.older = undefined;
  }

  /** Stops listening, then aborts the connections still running (as mergeMap's teardown did). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.listener?.unsubscribe();
    // Oldest first, as the Set was walked: the list is newest first.
    const running: ConnectionLifetime[] = [];
    for (let l = this.#head; l !== undefined; l = l.older) running.push(l);
    this.#head = undefined;
    for (let i = running.length - 1; i >= 0; i--) running[i].abort();
  }
}

/**
 * One accepted connection's work: `handle(conn)` stays subscribed until the connection is
 * finished (TIME-WAIT, CLOSED or failed); aborted earlier (service stopped), it destroys `conn`.
 * A finished connection is left alone: TIME-WAIT runs its course in the stack. The object is the
 * work's observer and the connection's finish watcher (no closures per connection).
 */
class ConnectionLifetime implements Partial<Observer<unknown>>, FinishWatcher, RelaySink {
  /** Neighbours in the service's list of running lifetimes (not `next`: this is an Observer). */
  newer: ConnectionLifetime | undefined;
  older: ConnectionLifetime | undefined;
  #work: Unsubscribable | undefined;
  /** The work completed or failed (RelaySink.closed). */
  #workDone = false;
  #finished = false;

  constructor(
    readonly conn: TcpConnection,
    readonly service: ServiceConnections,
  ) {}

  start(): void {
    const direct = this.service.direct;
    if (direct === undefined) this.#work = this.service.handle(this.conn).subscribe(this);
    else {
      const work = direct(this.conn, this);
      // Ended already (inside the call): let it go now, as a completed subscription is.
      if (this.#workDone) work.unsubscribe();
      else this.#work = work;
    }
    // After the work's subscription, as closed$ was: a connection the work finished at once is
    // reported here, synchronously, and its work let go.
    this.conn.watchFinish(this);
  }

  get closed(): boolean {
    return this.#workDone;
  }

  error(err: unknown): void {
    // The connection failed (reset, timeout): its finish follows and ends this lifetime.
    if (log.enabled) log('%s: %s', this.conn.toString(), (err as Error).message);
    this.#endWork();
  }

  complete(): void {
    this.#endWork();
  }

  /** The work ended by itself: its teardown runs now (as a subscription's on complete or error). */
  #endWork(): void {
    if (this.#workDone) return;
    this.#workDone = true;
    const work = this.#work;
    this.#work = undefined;
    work?.unsubscribe();
  }

  connectionFinished(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.service.ended(this);
    this.#work?.unsubscribe();
  }

  abort(): void {
    this.#work?.unsubscribe();
    if (!this.#finished) {
      this.#finished = true;
      this.conn.destroy();
    }
  }
}
