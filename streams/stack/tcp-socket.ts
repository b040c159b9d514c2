import { Duplex } from 'node:stream';
import type { Subscription } from 'rxjs';
import { TcpConnection, type TcpReader } from './tcp-connection.js';
import { DeadlineTimer } from './deadline-timer.js';
import { netError, type NetstackError } from '../../src/errors.js';

/**
 * A node:stream Duplex over a TcpConnection that behaves like `net.Socket` closely enough for
 * `http.createServer().emit('connection', socket)`, `http.request({ createConnection })` and
 * `stream.pipeline`.
 *
 * Backpressure both ways:
 * - reading is pull: bytes move from the connection's receive buffer into the Readable only
 *   while the Readable wants more (`push()` returned true, or `_read()` was called); unread
 *   bytes stay in the receive buffer, so the advertised window closes when the consumer stalls;
 * - writing: `_write` calls back only once the connection took the chunk into its send buffer,
 *   so `write()` returns false and 'drain' follows as for a net.Socket.
 *
 * Closing, as with a kernel socket:
 * - `end()` sends FIN after everything written (half-close: reading goes on; the socket is
 *   created with `allowHalfOpen: true`, so the peer's FIN ends only the readable side, which is
 *   what `node:http` servers expect);
 * - `destroy()` closes the connection as close(2) does: FIN after what was written, or RST if
 *   received bytes were left unread; `destroy(err)` and `resetAndDestroy()` send RST;
 * - the connection failing (ECONNRESET, ETIMEDOUT...) destroys the socket with that error;
 * - 'close' comes last, with `hadError` as its argument.
 */
export class TcpSocket extends Duplex {
  readonly connection: TcpConnection;
  readonly remoteFamily = 'IPv4';
  readonly localFamily = 'IPv4';
  /** Always connected: a socket is made from an established connection. */
  readonly connecting = false;
  readonly pending = false;
  #bytesRead = 0;
  #bytesWritten = 0;
  #timeoutMs = 0;
  readonly #idle: DeadlineTimer;
  #subscriptions: Subscription[] = [];
  readonly #reader: TcpReader;

  constructor(connection: TcpConnection) {
    // emitClose: false because, like net.Socket, we emit 'close' ourselves with `hadError`.
    super({ allowHalfOpen: true, emitClose: false });
    this.connection = connection;
    this.#idle = new DeadlineTimer(connection.scheduler, () => this.emit('timeout'));
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
    if (err) throw err;
    // A connection that fails takes the socket with it (its reader may be paused, so the error
    // would otherwise wait behind unread bytes).
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

  /** The idle timeout set with setTimeout (ms), or undefined when off, as net.Socket#timeout. */
  get timeout(): number | undefined {
    return this.#timeoutMs > 0 ? this.#timeoutMs : undefined;
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
    if (!this.destroyed && this.connection.state !== 'CLOSED') this.connection.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelay?: number): this {
    if (!this.destroyed && this.connection.state !== 'CLOSED') this.connection.setKeepAlive(enable, initialDelay);
    return this;
  }

  /**
   * As net.Socket: emits 'timeout' after `ms` of inactivity (no byte read or written; 0 turns
   * it off); does not close the socket. The timer runs on the stack's scheduler.
   */
  setTimeout(ms: number, callback?: () => void): this {
    this.#timeoutMs = ms > 0 ? ms : 0;
    if (callback) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    if (this.#timeoutMs === 0) this.#idle.set(undefined);
    this.#touch();
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  /** Closes with RST at once, whatever is queued or unread (net.Socket#resetAndDestroy). */
  resetAndDestroy(): this {
    this.connection.destroy();
    return this.destroy();
  }

  /** Ends once everything written has gone into the connection, as net.Socket#destroySoon. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
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
    // The rest of the chunk waits in the connection: call back when it has gone into the send
    // buffer, or fail if the connection closes first.
    const connection = this.connection;
    const wait = connection.drain$.subscribe({
      next: () => {
        wait.unsubscribe();
        callback();
      },
      complete: () => callback(connection.error ?? netError('EPIPE', `${connection}: closed before the data was sent`, 'write')),
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.connection.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#idle.close();
    for (const s of this.#subscriptions) s.unsubscribe();
    this.connection.detachReader(this.#reader);
    if (this.connection.state !== 'CLOSED') {
      // An error aborts; a plain destroy() closes like close(2): FIN, or RST if bytes were unread.
      if (error) this.connection.destroy();
      else this.connection.close();
    }
    callback(error);
    // After 'error' (emitted on the next tick by the stream machinery), as net.Socket does.
    process.nextTick(() => this.emit('close', error != null));
  }

  #touch(): void {
    if (this.#timeoutMs > 0) this.#idle.set(this.connection.scheduler.now() + this.#timeoutMs);
  }
}

TcpConnection.socketFactory = (conn) => new TcpSocket(conn);
