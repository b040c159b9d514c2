import { Subscription, type Observable, type Observer } from 'rxjs';
import type { Tcp, TcpListenOptions } from '../stack/tcp-layer.js';
import type { FinishWatcher, TcpConnection } from '../stack/tcp-connection.js';
import { logger } from '../../src/log.js';

const log = logger('services');

/** What a TCP service does with one accepted connection, for as long as it lives. */
export type ConnectionHandler = (conn: TcpConnection) => Observable<unknown>;

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

  constructor(
    readonly port: number,
    readonly handle: ConnectionHandler,
  ) {}

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
class ConnectionLifetime implements Partial<Observer<unknown>>, FinishWatcher {
  /** Neighbours in the service's list of running lifetimes (not `next`: this is an Observer). */
  newer: ConnectionLifetime | undefined;
  older: ConnectionLifetime | undefined;
  #work: Subscription | undefined;
  #finished = false;

  constructor(
    readonly conn: TcpConnection,
    readonly service: ServiceConnections,
  ) {}

  start(): void {
    this.#work = this.service.handle(this.conn).subscribe(this);
    // After the work's subscription, as closed$ was: a connection the work finished at once is
    // reported here, synchronously, and its work let go.
    this.conn.watchFinish(this);
  }

  error(err: unknown): void {
    // The connection failed (reset, timeout): its finish follows and ends this lifetime.
    if (log.enabled) log('%s: %s', this.conn.toString(), (err as Error).message);
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
