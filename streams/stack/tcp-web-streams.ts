import { ReadableStream, WritableStream } from 'node:stream/web';
import type { TcpConnection, TcpReader } from './tcp-connection.js';
import { NetstackError, netError } from '../../src/errors.js';

/**
 * The WHATWG streams and the async iterator of a TcpConnection. Each is one more reader (or
 * writer) of the connection's, with the same rules: one reader at a time, pull-based, nothing
 * lost between readers.
 */

/**
 * A ReadableStream over `conn`'s received bytes. Pull-based with no queue of its own
 * (highWaterMark 0): a chunk leaves the receive buffer only for a pending read, so unread bytes
 * stay in the connection (its advertised window closes when the consumer stops) and `cancel()`
 * loses nothing a later reader could have had.
 * @throws NetstackError EBUSY when the reader slot is taken.
 */
export function tcpReadable(conn: TcpConnection): ReadableStream<Uint8Array> {
  let reader: TcpReader | undefined;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        reader = {
          push: (chunk) => {
            controller.enqueue(chunk);
            return (controller.desiredSize ?? 0) > 0;
          },
          end: () => {
            conn.detachReader(reader!);
            controller.close();
          },
          error: (err) => {
            conn.detachReader(reader!);
            controller.error(err);
          },
        };
        // Throwing here makes the ReadableStream constructor throw: `conn.readable` throws EBUSY.
        const err = conn.attachReader(reader, true);
        if (err) throw err;
      },
      pull() {
        conn.resumeReading();
      },
      cancel() {
        // Stop reading; the connection stays open (close it with end/close/destroy).
        conn.detachReader(reader!);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * A WritableStream into `conn`: each write resolves once the chunk is in the send buffer;
 * close() half-closes (FIN), abort() resets (RST).
 */
export function tcpWritable(conn: TcpConnection): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>(
    {
      write(chunk) {
        if (!(chunk instanceof Uint8Array)) {
          throw new NetstackError('ERR_INVALID_ARG_VALUE', `${conn}: writable takes Uint8Array chunks, got ${typeof chunk}`);
        }
        return new Promise<void>((resolve, reject) => {
          conn.write$(chunk).subscribe({ complete: resolve, error: reject });
        });
      },
      close() {
        conn.end();
      },
      abort() {
        conn.destroy();
      },
    },
    { highWaterMark: 1 },
  );
}

/**
 * `for await (const chunk of conn)`: one chunk per `next()`, taken from the receive buffer only
 * then. The reader slot is claimed by the first `next()` and released when the iteration ends
 * (end of stream, error, or `return()` from a `break`), so a later reader continues with the
 * first byte the loop did not get.
 */
export function tcpChunks(conn: TcpConnection): AsyncIterableIterator<Uint8Array> {
  let attached = false;
  let finished = false;
  let failure: NetstackError | undefined;
  let waiter: { resolve(r: IteratorResult<Uint8Array>): void; reject(err: unknown): void } | undefined;

  const release = (): void => {
    finished = true;
    if (attached) conn.detachReader(reader);
  };
  const settle = (): typeof waiter => {
    const w = waiter;
    waiter = undefined;
    return w;
  };
  const reader: TcpReader = {
    // Only ever called for a pending next(): the reader is paused after every chunk.
    push: (chunk) => {
      settle()?.resolve({ value: chunk, done: false });
      return false;
    },
    end: () => {
      release();
      settle()?.resolve({ value: undefined, done: true });
    },
    error: (err) => {
      release();
      const w = settle();
      if (w !== undefined) w.reject(err);
      else failure = err;
    },
  };

  const iterator: AsyncIterableIterator<Uint8Array> = {
    next(): Promise<IteratorResult<Uint8Array>> {
      if (failure !== undefined) {
        const err = failure;
        failure = undefined; // reported once, then the iteration is over
        return Promise.reject(err);
      }
      if (finished) return Promise.resolve({ value: undefined, done: true });
      if (waiter !== undefined) return Promise.reject(netError('EBUSY', `${conn}: next() called while another next() is pending`));
      return new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
        waiter = { resolve, reject };
        if (attached) {
          conn.resumeReading();
          return;
        }
        attached = true; // before attaching: an ended connection ends the reader at once
        const err = conn.attachReader(reader, true);
        if (err) {
          attached = false;
          finished = true;
          settle()?.reject(err);
          return;
        }
        if (!finished) conn.resumeReading();
      });
    },
    return(): Promise<IteratorResult<Uint8Array>> {
      if (!finished) release();
      settle()?.resolve({ value: undefined, done: true });
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
