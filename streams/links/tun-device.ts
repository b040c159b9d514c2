/**
 * A Linux TUN device: like `TapDevice` (same addon, same read batching into slabs, same bounded
 * write queue, same options and errors), but opened with IFF_TUN | IFF_NO_PI, so each read and
 * write is one bare IPv4 packet, without an Ethernet header. The device has no MAC.
 *
 * With `offload`, every packet comes and goes behind a virtio_net_hdr as on TAP, its offsets
 * counted from the start of the IP header.
 *
 * @example
 * const tun = new TunDevice({ name: 'tun0', netns: 'testns', up: true });
 * tun.onFrames((packets) => { for (const p of packets) console.log(p.length); });
 * tun.close();
 */
import { TapDevice, type TapDeviceOptions } from './tap-device.js';

/** TapDeviceOptions without `mac`: a TUN device has no link-layer address. */
export type TunDeviceOptions = Omit<TapDeviceOptions, 'mac'>;

export class TunDevice extends TapDevice {
  /** Opens (attaches to or creates) the device; throws a coded Error when it cannot. */
  constructor(options: TunDeviceOptions) {
    super(options, 'tun');
  }
}
