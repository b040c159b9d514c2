/**
 * The TAP device as a Link: `frames$` is fed by the device's read batches, `send` writes to it.
 *
 * The stack behind a TAP link is a separate host on the segment whose other host is the kernel
 * (the device's own MAC and addresses belong to the kernel side). So `mac` is the MAC prescribed
 * for the stack by `options.mac` (undefined when not given: the stack chooses), never the
 * device's; the device's own is `link.device.mac`.
 *
 * @example
 * const link = tapLink({ name: 'tap0', netns: 'testns' });
 * link.frames$.subscribe((frame) => console.log(frame.length));
 * link.send(frame);
 * link.close();
 */
import { Subject, type Observable } from 'rxjs';
import { NetstackError } from '../../src/errors.js';
import { parseMac } from '../../src/mac.js';
import type { Link } from './link.js';
import { TapDevice, type TapStats } from './tap-device.js';
import { AckCoalescer } from './ack-coalescer.js';

export interface TapLinkOptions {
  /** TAP device name (attached when it exists, created otherwise). */
  readonly name: string;
  /** Open the device inside /var/run/netns/<netns> (this process stays where it is). */
  readonly netns?: string;
  /** Set the device MTU. Default: the device's. `link.mtu` is the MTU at open. */
  readonly mtu?: number;
  /** The MAC the stack should use on this link (becomes `link.mac`). Default: none prescribed. */
  readonly mac?: string;
  /** Set the device's own (kernel side) MAC. Default: leave it. */
  readonly deviceMac?: string;
  /** Bring the device up on open. Default true (a TAP link that is down carries nothing). */
  readonly up?: boolean;
  /** Most frames read per wake-up. Default 256. */
  readonly batchLimit?: number;
  /** Most frames waiting for the fd to become writable. Default 1024. */
  readonly writeQueueLimit?: number;
  /**
   * Drop a pure TCP ACK that a later pure ACK of the same connection, sent while the same
   * inbound batch is processed, supersedes (see ack-coalescer.ts). Default true.
   */
  readonly coalesceAcks?: boolean;
}

export interface TapLinkStats extends TapStats {
  /** Sends dropped because the link was already closed. */
  txAfterClose: number;
  /** Pure ACKs not written because a later ACK of the same batch superseded them. */
  txAcksCoalesced: number;
}

export interface TapLink extends Link {
  readonly device: TapDevice;
  stats(): TapLinkStats;
}

/** Opens the TAP device and wraps it as a Link; throws the device's coded Error on failure. */
export function tapLink(options: TapLinkOptions): TapLink {
  let mac: Uint8Array | undefined;
  if (options.mac !== undefined) {
    mac = parseMac(options.mac);
    if (mac === undefined) throw new NetstackError('ERR_INVALID_ARG_VALUE', `bad MAC address "${options.mac}"`);
  }
  const device = new TapDevice({
    name: options.name,
    netns: options.netns,
    mtu: options.mtu,
    mac: options.deviceMac,
    up: options.up ?? true,
    batchLimit: options.batchLimit,
    writeQueueLimit: options.writeQueueLimit,
  });
  const frames = new Subject<Uint8Array>();
  const name = device.name;
  // Read once: the stack may consult `mtu` per packet, and an ioctl each time would cost.
  const mtu = device.mtu;
  let txAfterClose = 0;

  // Frames sent while an inbound batch is being processed (the replies to it) wait here and go
  // out together when the batch is done: one call into the addon instead of one per frame, and
  // superseded ACKs are dropped on the way. Sends at any other time are written at once.
  const coalescer = options.coalesceAcks === false ? undefined : new AckCoalescer();
  const pending: Array<Uint8Array | null> = [];
  let inBatch = false;
  const flush = (): void => {
    if (pending.length === 0) return;
    if (device.closed) {
      txAfterClose += pending.length;
    } else {
      let n = 0;
      for (let i = 0; i < pending.length; i++) if (pending[i] !== null) pending[n++] = pending[i];
      pending.length = n;
      if (n === 1) device.write(pending[0]!);
      else if (n > 1) device.writeBatch(pending as Uint8Array[]);
    }
    pending.length = 0;
    coalescer?.reset();
  };

  device.onError((error) => frames.error(error));
  device.onFrames((batch) => {
    inBatch = true;
    try {
      for (let i = 0; i < batch.length; i++) frames.next(batch[i]);
    } finally {
      inBatch = false;
      flush();
    }
  });

  return {
    name,
    device,
    mac,
    mtu,
    frames$: frames.asObservable() as Observable<Uint8Array>,
    send(frame: Uint8Array): void {
      if (device.closed) {
        txAfterClose++;
        return;
      }
      if (!inBatch) device.write(frame);
      else if (coalescer === undefined) pending.push(frame);
      else coalescer.push(pending, frame);
    },
    stats(): TapLinkStats {
      return { ...device.stats(), txAfterClose, txAcksCoalesced: coalescer?.coalesced ?? 0 };
    },
    close(): void {
      if (device.closed) return;
      device.close();
      frames.complete();
    },
  };
}
