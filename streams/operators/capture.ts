import { createWriteStream, type WriteStream } from 'node:fs';
import { Observable, share, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import createDebug from 'debug';
import { PcapWriter, PCAP_DEFAULT_SNAPLEN } from '../../src/wire/pcap.js';
import type { Link } from '../links/link.js';

const log = createDebug('rx-netstack:capture');

/** Anything that takes bytes: a socket, an array collector, a node:stream Writable. */
export interface PcapByteSink {
  write(bytes: Uint8Array): unknown;
}

/** Where a capture goes: a file path (opened and closed by the capture) or a byte sink. */
export type PcapTarget = string | PcapByteSink;

export interface CaptureOptions {
  /** Bytes kept per frame; longer frames are truncated in the file. Default 65535. */
  readonly snaplen?: number;
  /**
   * Its `now()` stamps the records (virtual time under a TestScheduler). Default: wall-clock
   * milliseconds with sub-millisecond resolution (`performance.timeOrigin + performance.now()`),
   * so the file's microsecond stamps are real: on a local link a whole exchange takes tens of
   * microseconds, which `Date.now()` would stamp as one instant.
   */
  readonly scheduler?: SchedulerLike;
  /**
   * Called once when a capture file has been flushed and closed (with the error that ended it,
   * if any). Lets a program that exits on SIGINT wait for its capture, and a test read it.
   */
  readonly onClose?: (error?: Error) => void;
  /**
   * Called when writing the capture file fails. The frames keep flowing (a full disk must not
   * take the network down) but the capture stops. Default: a process warning.
   */
  readonly onError?: (error: Error) => void;
}

/** An open capture: one pcap stream of bytes. */
interface CaptureHandle {
  readonly writer: PcapWriter;
  close(): void;
}

function defaultOnError(error: Error): void {
  process.emitWarning(`rx-netstack capture stopped: ${error.message}`, { code: 'RX_NETSTACK_CAPTURE' });
}

/**
 * Opens one capture. For a path: a WriteStream (the file is created or truncated) with the
 * global header written first; for a sink: the global header written to it, and closing does
 * nothing (the caller owns the sink).
 */
function openCapture(target: PcapTarget, options: CaptureOptions): CaptureHandle {
  const snaplen = options.snaplen ?? PCAP_DEFAULT_SNAPLEN;
  if (typeof target !== 'string') {
    const writer = new PcapWriter((bytes) => {
      target.write(bytes);
    }, { snaplen });
    return { writer, close() {} };
  }

  const path = target;
  const stream: WriteStream = createWriteStream(path);
  let failure: Error | undefined;
  let closing = false;
  stream.on('error', (error: Error) => {
    if (failure !== undefined) return;
    failure = error;
    if (log.enabled) log('%s: %s', path, error.message);
    (options.onError ?? defaultOnError)(error);
    // A stream that errored closes itself (autoDestroy); onClose still fires from 'close'.
  });
  stream.on('close', () => {
    options.onClose?.(failure);
  });
  const writer = new PcapWriter((bytes) => {
    // Once failed or closed, frames are simply no longer recorded. The WriteStream buffers
    // without bound if the disk is slower than the link; a capture is a debugging tool.
    if (failure === undefined && !closing) stream.write(bytes);
  }, { snaplen });
  if (log.enabled) log('capturing to %s', path);
  return {
    writer,
    close() {
      if (closing) return;
      closing = true;
      if (failure === undefined) stream.end();
    },
  };
}

function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

function nowOf(options: CaptureOptions): () => number {
  const scheduler = options.scheduler;
  return scheduler === undefined ? wallClockMs : () => scheduler.now();
}

/**
 * A tap that writes every frame passing through to a classic pcap (LINKTYPE_ETHERNET) and passes
 * the frame on unchanged (same object, not a copy).
 *
 * `capture('out.pcap')` opens the file on subscribe and closes it on unsubscribe, error or
 * complete; each subscription writes its own file (put the tap after a `share()` to capture a
 * stream several consumers read). `capture(sink)` writes the global header to the sink on each
 * subscribe and never closes it.
 *
 * @example
 * link.frames$.pipe(capture('/tmp/in.pcap', { onClose: () => console.log('saved') }))
 */
export function capture<T extends Uint8Array>(target: PcapTarget, options: CaptureOptions = {}): MonoTypeOperatorFunction<T> {
  const now = nowOf(options);
  return (source) =>
    new Observable<T>((subscriber) => {
      const handle = openCapture(target, options);
      const { writer } = handle;
      const subscription = source.subscribe({
        next(frame) {
          writer.record(now(), frame);
          subscriber.next(frame);
        },
        error(err) {
          handle.close();
          subscriber.error(err);
        },
        complete() {
          handle.close();
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        handle.close();
      };
    });
}

/**
 * Wraps a Link so that both directions go into one pcap: frames arriving from the link (as they
 * are emitted on the wrapper's shared `frames$`) and frames sent through the wrapper. The capture
 * is opened at once (sends may come before anybody reads) and closed by `close()`, which also
 * closes the wrapped link. Classic pcap has no direction field: tell them apart by addresses.
 */
export function captureLink(link: Link, target: PcapTarget, options: CaptureOptions = {}): Link {
  const now = nowOf(options);
  const handle = openCapture(target, options);
  const { writer } = handle;
  let closed = false;

  const frames$ = new Observable<Uint8Array>((subscriber) =>
    link.frames$.subscribe({
      next(frame) {
        if (!closed) writer.record(now(), frame);
        subscriber.next(frame);
      },
      error(err) {
        subscriber.error(err);
      },
      complete() {
        subscriber.complete();
      },
    }),
  ).pipe(share());

  return {
    name: link.name,
    mtu: link.mtu,
    mac: link.mac,
    frames$,
    // Unchanged frames keep the vouching of the link below; changed copies are not in its set.
    checksumVerified: link.checksumVerified?.bind(link),
    send(frame: Uint8Array) {
      if (closed) return;
      writer.record(now(), frame);
      link.send(frame);
    },
    // Kept when the link below has it, so capturing does not turn checksum offload off: such a
    // frame is recorded as it leaves, its transport checksum holding only the pseudo-header sum
    // (tcpdump on an offloading Linux interface shows the same; Wireshark flags it as offloaded).
    sendPartial: link.sendPartial === undefined ? undefined : (frame: Uint8Array, csumStart: number, csumOffset: number) => {
      if (closed) return;
      writer.record(now(), frame);
      link.sendPartial!(frame, csumStart, csumOffset);
    },
    close() {
      if (closed) return;
      closed = true;
      handle.close();
      link.close();
    },
  };
}
