/**
 * The TUN device as a Link with `layer: 'ip'`: `frames$` emits bare IPv4 packets read from the
 * device, `send` writes them. It shares the TAP link's machinery (tap-link.ts `deviceLink`:
 * read batches, write batching per inbound batch, offload headers, TCP segment merging over bare
 * IPv4 packets), without ACK coalescing, which reads Ethernet headers.
 *
 * An interface of the stack over this link has no MAC and no ARP: IPv4 runs straight on it,
 * and every packet routed to it goes to the kernel side whatever its next hop.
 *
 * @example
 * const link = tunLink({ name: 'tun0', netns: 'testns' });
 * const stack = createStack({ interfaces: [{ name: 'tun0', link, ipv4: ['198.18.0.2/24'] }] });
 */
import { TunDevice } from './tun-device.js';
import { deviceLink, openWithOffload, type TapLink } from './tap-link.js';

export interface TunLinkOptions {
  /** TUN device name (attached when it exists, created otherwise). */
  readonly name: string;
  /** Open the device inside /var/run/netns/<netns> (this process stays where it is). */
  readonly netns?: string;
  /** Set the device MTU. Default: the device's. `link.mtu` is the MTU at open. */
  readonly mtu?: number;
  /** Bring the device up on open. Default true. */
  readonly up?: boolean;
  /** Most packets read per wake-up. Default 256. */
  readonly batchLimit?: number;
  /** Most packets waiting for the fd to become writable. Default 1024. */
  readonly writeQueueLimit?: number;
  /** Busy-poll window after each batch, in microseconds (TapDeviceOptions.busyPollUs). Default 0 (off). */
  readonly busyPollUs?: number;
  /** Bytes of written frames the kernel may hold (TapDeviceOptions.sendBuffer). Default: tun's own (no limit). */
  readonly sendBuffer?: number;
  /**
   * Checksum and segmentation offload with the kernel (IFF_VNET_HDR, TUN_F_CSUM|TUN_F_TSO4): the
   * kernel hands over its TCP in segments of up to 64 KiB with partial checksums (vouched for
   * through Link.checksumVerified), and takes ours with partial checksums (Link.sendPartial),
   * the stack's large TCP segments (TSO, Link.maxGsoBytes) that it cuts. Default true, unless RX_NETSTACK_TAP_OFFLOAD is `0`; a kernel that refuses gets a plain link.
   */
  readonly offload?: boolean;
  /** Coalesce in-order TCP segments of one read batch (without offload; see TapLinkOptions.coalesceReceived). Default true. */
  readonly coalesceReceived?: boolean;
}

/** A TUN link: a TapLink whose device is a TunDevice and whose frames are IPv4 packets. */
export interface TunLink extends TapLink {
  readonly device: TunDevice;
  readonly layer: 'ip';
}

/** Opens the TUN device and wraps it as a Link; throws the device's coded Error on failure. */
export function tunLink(options: TunLinkOptions): TunLink {
  const open = (offload: boolean): TunDevice =>
    new TunDevice({
      name: options.name,
      netns: options.netns,
      mtu: options.mtu,
      up: options.up ?? true,
      batchLimit: options.batchLimit,
      writeQueueLimit: options.writeQueueLimit,
      busyPollUs: options.busyPollUs,
      sendBuffer: options.sendBuffer,
      offload,
    });
  const device = openWithOffload(open, options.offload);
  return deviceLink(device, { mac: undefined, coalesceAcks: false, coalesceReceived: options.coalesceReceived, layer: 'ip' }) as TunLink;
}
