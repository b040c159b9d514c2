import { Observable, Subject, type MonoTypeOperatorFunction, type Subscription } from 'rxjs';
import { createDemux, type Demux } from '../operators/demux.js';
import type { NetInterface } from './net-interface.js';
import { createCounters } from '../../src/stats.js';
import { log } from '../../src/log.js';
import { EtherType, ETHERNET_HEADER_LEN } from '../../src/wire/ethernet.js';
import { formatMac, macEquals, macKey } from '../../src/mac.js';
import type { PacketBuffer } from '../../src/packet-buffer.js';

export const ETHERNET_DROP_REASONS = ['truncated', 'notForUs', 'vlanTagged', 'unknownEthertype', 'linkClosed'] as const;

export function createEthernetCounters() {
  return createCounters(['rxFrames', 'rxBytes', 'txFrames', 'txBytes', 'rxBroadcast', 'rxMulticast'], ETHERNET_DROP_REASONS);
}
export type EthernetCounters = ReturnType<typeof createEthernetCounters>;

/** 01:00:5e:00:00:01, the all-hosts group (224.0.0.1): every IPv4 host is a member. */
const ALL_HOSTS_MAC = macKey(new Uint8Array([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]));

export interface EthernetHooks {
  /** Operators applied to every frame as it comes off the link, before anything else. */
  readonly ingress?: MonoTypeOperatorFunction<Uint8Array>;
  /** Operators applied to every frame the stack writes, just before the link. */
  readonly egress?: MonoTypeOperatorFunction<Uint8Array>;
}

/**
 * Ethernet input and output of one interface.
 *
 * Inbound: the link's frames (through the ingress hook) are filtered by destination MAC (ours,
 * broadcast, or a joined multicast group; the rest dropped as `notForUs`), then split by
 * EtherType with a keyed demux: the ARP and IPv4 layers claim their EtherTypes, a user may claim
 * any other with `protocol$(ethertype)`, and unclaimed ones are counted as `unknownEthertype`.
 * Tagged (802.1Q) frames are dropped: the stack is a host without VLAN configuration.
 *
 * Outbound: `send()` prepends the header into the packet's headroom and writes the frame,
 * through a Subject piped into the egress hook when one is installed, else straight to the link.
 */
export class EthernetLayer {
  readonly counters: EthernetCounters = createEthernetCounters();
  /** Accepted inbound frames keyed by EtherType. */
  readonly demux: Demux<Uint8Array, number>;
  /** Multicast MACs (as `macKey` numbers) this interface accepts besides broadcast. */
  readonly multicast = new Set<number>([ALL_HOSTS_MAC]);

  readonly #iface: NetInterface;
  readonly #egress$: Subject<Uint8Array> | undefined;
  readonly #subscriptions: Subscription[] = [];

  constructor(iface: NetInterface, hooks: EthernetHooks = {}) {
    this.#iface = iface;
    const link = iface.link;
    const raw$ = hooks.ingress ? link.frames$.pipe(hooks.ingress) : link.frames$;
    const accepted$ = new Observable<Uint8Array>((subscriber) =>
      raw$.subscribe({
        next: (frame) => {
          if (this.#accept(frame)) subscriber.next(frame);
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
    this.demux = createDemux(accepted$, frameEthertype, {
      name: `${iface.name} ethertype`,
      formatKey: (k) => `0x${k.toString(16).padStart(4, '0')}`,
    });
    // Unclaimed EtherTypes are counted; keeping a subscriber here makes the demux count them as
    // `unmatched` instead of `dropped`, so the number below is the one the user reads.
    this.#subscriptions.push(
      this.demux.unmatched$.subscribe((frame) => {
        if (frame[12] === 0x81 && frame[13] === 0x00) this.counters.drops.vlanTagged++;
        else this.counters.drops.unknownEthertype++;
      }),
    );
    if (hooks.egress) {
      this.#egress$ = new Subject<Uint8Array>();
      this.#subscriptions.push(this.#egress$.pipe(hooks.egress).subscribe((frame) => link.send(frame)));
    }
  }

  /** Frames of one EtherType, for custom protocols (claims it: EADDRINUSE if taken). */
  protocol$(ethertype: number): Observable<Uint8Array> {
    return this.demux.endpoint(ethertype);
  }

  /**
   * Prepends an Ethernet header (dst, our MAC, `ethertype`) to `pb` and writes the frame.
   * `dst` may be a view into a longer array: six bytes are read from `dstOffset`.
   */
  send(dst: Uint8Array, ethertype: number, pb: PacketBuffer, dstOffset = 0): void {
    const at = pb.prepend(ETHERNET_HEADER_LEN);
    const b = pb.buf;
    for (let i = 0; i < 6; i++) b[at + i] = dst[dstOffset + i];
    b.set(this.#iface.mac, at + 6);
    b[at + 12] = ethertype >>> 8;
    b[at + 13] = ethertype & 0xff;
    if (pb.csumStart >= 0) {
      const link = this.#iface.link;
      if (this.#egress$ === undefined && link.sendPartial !== undefined) {
        // Transmit checksum offload: the link's device finishes the checksum.
        const frame = pb.bytes();
        this.counters.txFrames++;
        this.counters.txBytes += frame.length;
        link.sendPartial(frame, pb.csumStart - pb.head, pb.csumOffset);
        return;
      }
      pb.completeChecksum();
    }
    this.writeFrame(pb.bytes());
  }

  /** Writes a complete frame (header included). */
  writeFrame(frame: Uint8Array): void {
    this.counters.txFrames++;
    this.counters.txBytes += frame.length;
    if (this.#egress$) this.#egress$.next(frame);
    else this.#iface.link.send(frame);
  }

  close(): void {
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions.length = 0;
    this.#egress$?.complete();
  }

  #accept(frame: Uint8Array): boolean {
    const c = this.counters;
    if (frame.length < ETHERNET_HEADER_LEN) {
      c.drops.truncated++;
      return false;
    }
    c.rxFrames++;
    c.rxBytes += frame.length;
    if ((frame[0] & 1) === 0) {
      if (macEquals(frame, 0, this.#iface.mac)) return true;
    } else if (
      frame[0] === 0xff && frame[1] === 0xff && frame[2] === 0xff &&
      frame[3] === 0xff && frame[4] === 0xff && frame[5] === 0xff
    ) {
      c.rxBroadcast++;
      return true;
    } else if (this.multicast.has(macKey(frame, 0))) {
      c.rxMulticast++;
      return true;
    }
    c.drops.notForUs++;
    if (log.eth.enabled) log.eth('%s: drop frame for %s', this.#iface.name, formatMac(frame, 0));
    return false;
  }
}

/** The EtherType of an untagged frame; tagged frames have no key and land in `unmatched$`. */
function frameEthertype(frame: Uint8Array): number | undefined {
  const type = (frame[12] << 8) | frame[13];
  return type === EtherType.VLAN ? undefined : type;
}
