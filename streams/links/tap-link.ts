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
}

export interface TapLinkStats extends TapStats {
  /** Sends dropped because the link was already closed. */
  txAfterClose: number;
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

  device.onError((error) => frames.error(error));
  device.onFrames((batch) => {
    for (let i = 0; i < batch.length; i++) frames.next(batch[i]);
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
      device.write(frame);
    },
    stats(): TapLinkStats {
      return { ...device.stats(), txAfterClose };
    },
    close(): void {
      if (device.closed) return;
      device.close();
      frames.complete();
    },
  };
}
