import { Duplex } from 'node:stream';
import type { Subscription } from 'rxjs';
import { TcpConnection, type TcpReader } from './tcp-connection.js';
import type { NetstackError } from '../../src/errors.js';

/**
 * A node:stream Duplex over a TcpConnection that behaves like `net.Socket` closely enough for
 * `http.createServer().emit('connection', socket)` and `stream.pipeline`.
 *
 * Backpressure both ways:
 * - reading is pull: bytes move from the connection's receive buffer into the Readable only
 *   while the Readable wants more (`push()` returned true, or `_read()` was called); unread
 *   bytes stay in the receive buffer, so the advertised window closes when the consumer stalls;
 * - writing: `_write` calls back only once the connection took the chunk into its send buffer,
 *   so `write()` returns false and 'drain' follows as for a net.Socket.
 */
export class TcpSocket extends Duplex {
  readonly connection: TcpConnection;
  readonly remoteFamily = 'IPv4';
  connecting = false;
  #bytesRead = 0;
  #bytesWritten = 0;
  #timeoutMs = 0;
  #timeoutTimer: NodeJS.Timeout | undefined;
  #subscriptions: Subscription[] = [];
  readonly #reader: TcpReader;

  constructor(connection: TcpConnection) {
    super({ allowHalfOpen: true });
    this.connection = connection;
    this.#reader = {
      push: (chunk) => {
        this.#bytesRead += chunk.length;
        this.#touch();
        // Buffer.from over the same memory: no copy. Node's stream consumers expect Buffers.
        return this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      },
      end: () => this.push(null),
      error: (err: NetstackError) => this.destroy(err),
    };
    const err = connection.attachReader(this.#reader);
    if (err) process.nextTick(() => this.destroy(err));
    // Once the connection is closed and both directions are done, the socket is done too.
    this.#subscriptions.push(
      connection.closed$.subscribe((error) => {
        if (error) this.destroy(error);
      }),
    );
  }

  get remoteAddress(): string {
    return this.connection.remoteAddress;
  }

  get remotePort(): number {
    return this.connection.remotePort;
  }

  get localAddress(): string {
    return this.connection.localAddress;
  }

  get localPort(): number {
    return this.connection.localPort;
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  get readyState(): string {
    if (this.destroyed) return 'closed';
    const readable = !this.readableEnded;
    const writable = !this.writableEnded;
    return readable && writable ? 'open' : readable ? 'readOnly' : writable ? 'writeOnly' : 'closed';
  }

  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: 'IPv4', port: this.localPort };
  }

  setNoDelay(noDelay = true): this {
    this.connection.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(_enable?: boolean, _initialDelay?: number): this {
    return this;
  }

  /** As net.Socket: emits 'timeout' after `ms` of inactivity (0 turns it off); does not close. */
  setTimeout(ms: number, callback?: () => void): this {
    this.#timeoutMs = ms;
    if (callback) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    this.#touch();
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  override _read(): void {
    this.connection.resumeReading();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#touch();
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let accepted: boolean;
    try {
      accepted = this.connection.write(bytes);
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.#bytesWritten += chunk.length;
    if (accepted) {
      callback();
      return;
    }
    const done = this.connection.drain$.subscribe({ next: () => finish(), complete: () => finish() });
    const self = this;
    function finish(): void {
      done.unsubscribe();
      callback();
      void self;
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.connection.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#timeoutTimer) clearTimeout(this.#timeoutTimer);
    for (const s of this.#subscriptions) s.unsubscribe();
    this.connection.detachReader(this.#reader);
    // A socket destroyed by its user (or by an error the connection did not report) aborts the
    // connection; one whose connection already closed cleanly leaves it alone.
    if (this.connection.state !== 'CLOSED') {
      if (error || !this.writableFinished) this.connection.destroy();
    }
    callback(error);
  }

  #touch(): void {
    if (this.#timeoutMs <= 0) {
      if (this.#timeoutTimer) clearTimeout(this.#timeoutTimer);
      this.#timeoutTimer = undefined;
      return;
    }
    if (this.#timeoutTimer) this.#timeoutTimer.refresh();
    else {
      this.#timeoutTimer = setTimeout(() => {
        this.#timeoutTimer = undefined;
        this.emit('timeout');
      }, this.#timeoutMs);
      this.#timeoutTimer.unref?.();
    }
  }
}

TcpConnection.socketFactory = (conn) => new TcpSocket(conn);
