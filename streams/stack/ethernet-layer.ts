import type { Observable, Subscription } from 'rxjs';
import { createDemux, type Demux } from '../operators/demux.js';
import type { NetInterface } from './net-interface.js';
import { createCounters } from '../../src/stats.js';
import { log } from '../../src/log.js';
import { EtherType, ETHERNET_HEADER_LEN } from '../../src/wire/ethernet.js';
import { foldChecksum, onesSum } from '../../src/wire/checksum.js';
import { formatMac, macEquals, macKey } from '../../src/mac.js';
import type { PacketBuffer } from '../../src/packet-buffer.js';
import type { Boundary, Sink } from '../pipeline/boundary.js';
import type { FrameBoundary, FrameSink } from '../pipeline/link-boundary.js';
import type { ProtocolMux } from '../pipeline/protocol-mux.js';
import { attachUp, reportUnhandled, UpStream, type DirectIn } from '../pipeline/up-stream.js';
import type { DirectGate } from '../pipeline/direct-gate.js';

export const ETHERNET_DROP_REASONS = ['truncated', 'notForUs', 'vlanTagged', 'unknownEthertype', 'linkClosed'] as const;

export function createEthernetCounters() {
  return createCounters(['rxFrames', 'rxBytes', 'txFrames', 'txBytes', 'rxBroadcast', 'rxMulticast'], ETHERNET_DROP_REASONS);
}
export type EthernetCounters = ReturnType<typeof createEthernetCounters>;

/** 01:00:5e:00:00:01, the all-hosts group (224.0.0.1): every IPv4 host is a member. */
const ALL_HOSTS_MAC = macKey(new Uint8Array([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]));

/** What a protocol above Ethernet hands down: a packet for the MAC `dst` (six bytes from 0). */
export interface EthernetOut {
  readonly dst: Uint8Array;
  readonly pb: PacketBuffer;
}

/**
 * @internal The sink of an EtherType's boundary as the Ethernet layer makes it: besides
 * `next({ dst, pb })`, `sendTo(dst, pb)` does the same without the record. Layers right above
 * (ARP's resolver) use it when they find it, the clean path's fused form; a sink from
 * `between()` has none, so inserted operators always get records.
 */
export interface EthernetSink extends Sink<EthernetOut> {
  sendTo?(dst: Uint8Array, pb: PacketBuffer): void;
  /**
   * A finished frame of this EtherType, `buf[head..]`, whose 14-byte header the caller wrote (the
   * destination, `srcMac`, the EtherType) and whose checksums are complete: counted and handed
   * to the link as `send` hands a frame it made (for a fused way out, see ArpLayer's
   * `FrameOut`). The `head` bytes in front are the frame's own room: with `frameRoom` of them
   * or more, the link writes its header there (Link.sendInRoom). With `csumStart` (an index in
   * `buf`, -1: none) the transport checksum there is partial (the pseudo-header's sum at
   * `csumStart + csumOffset`): the link finishes it when `partialFrames` says it can, else it is
   * completed here.
   */
  sendFrame?(buf: Uint8Array, head: number, csumStart?: number, csumOffset?: number): void;
  /**
   * Frames given to `sendFrame` with room for the link's header may carry a partial transport
   * checksum that the link finishes (a TAP device with checksum offload: NEEDS_CSUM).
   */
  readonly partialFrames?: boolean;
  /** The room the link wants in front of a frame for its own header (Link.frameRoom); 0: none. */
  readonly frameRoom?: number;
  /** Our MAC on this interface: the source of every frame sent. */
  readonly srcMac?: Uint8Array;
}

/**
 * Ethernet input and output of one interface, over the boundary of its link.
 *
 * Inbound: frames are filtered by destination MAC (ours, broadcast, or a joined multicast
 * group; the rest dropped as `notForUs`), then split by EtherType with a keyed demux: ARP and
 * IPv4 claim theirs through `protocol(ethertype)`, a user may claim any other, and unclaimed
 * ones are counted as `unknownEthertype`. Tagged (802.1Q) frames are dropped: the stack is a
 * host without VLAN configuration. Each protocol gets the whole frame (the header included:
 * the layer above reads the link-level broadcast bit from it).
 *
 * Outbound: a protocol's `down` prepends the header into the packet's headroom and hands the
 * frame to the link's boundary. A transport checksum left partial is finished here unless the
 * boundary below is the link itself and the link can finish it (checksum offload).
 */
export class EthernetLayer implements ProtocolMux<number, Uint8Array, EthernetOut> {
  readonly counters: EthernetCounters = createEthernetCounters();
  /** Multicast MACs (as `macKey` numbers) this interface accepts besides broadcast. */
  readonly multicast = new Set<number>([ALL_HOSTS_MAC]);

  readonly #iface: NetInterface;
  readonly #down: FrameSink;
  /** The room the link's `sendInRoom` needs in front of a frame; Infinity without it (never enough). */
  readonly #frameRoom: number;
  readonly #demux: Demux<Uint8Array, number>;
  readonly #subscriptions: Subscription[] = [];
  #closed = false;
  /** Who took IPv4's direct way in (see `protocol`), and the gate the hops it skips keep. */
  #ipv4Direct: { readonly handler: (frame: Uint8Array) => void; readonly gate: DirectGate } | undefined;
  /** The same for IPv6's frames. */
  #ipv6Direct: { readonly handler: (frame: Uint8Array) => void; readonly gate: DirectGate } | undefined;

  constructor(iface: NetInterface, lower: FrameBoundary) {
    this.#iface = iface;
    this.#down = lower.down;
    this.#frameRoom = this.#down.sendInRoom !== undefined && this.#down.frameRoom !== undefined ? this.#down.frameRoom : Infinity;
    const raw$ = lower.up$;
    // Attached to the boundary below when it allows (see UpStream): a frame reaches the
    // EtherType demux, and the protocol that claimed it, by direct calls.
    const accepted$ = new UpStream<Uint8Array>((demux) =>
      attachUp(raw$, {
        next: (frame) => {
          if (!this.#accept(frame)) return;
          // The direct way in (DirectIn): an IPv4 or IPv6 frame goes straight to its layer's
          // input while nobody observes the demux or the hops above it; the rest through the demux.
          const direct = frame[12] === 0x08 && frame[13] === 0x00 ? this.#ipv4Direct : frame[12] === 0x86 && frame[13] === 0xdd ? this.#ipv6Direct : undefined;
          if (direct !== undefined && direct.gate.shut === 0) {
            try {
              direct.handler(frame);
            } catch (err) {
              reportUnhandled(err);
            }
            return;
          }
          demux.next(frame);
        },
        error: (err) => demux.error(err),
        complete: () => demux.complete(),
      }),
    );
    this.#demux = createDemux(accepted$, frameEthertype, {
      name: `${iface.name} ethertype`,
      formatKey: (k) => `0x${k.toString(16).padStart(4, '0')}`,
    });
    // Unclaimed EtherTypes are counted; keeping a subscriber here makes the demux count them as
    // `unmatched` instead of `dropped`, so the number below is the one the user reads.
    this.#subscriptions.push(
      this.#demux.unmatched$.subscribe((frame) => {
        if (frame[12] === 0x81 && frame[13] === 0x00) this.counters.drops.vlanTagged++;
        else this.counters.drops.unknownEthertype++;
      }),
    );
  }

  get iface(): NetInterface {
    return this.#iface;
  }

  /**
   * The boundary of one EtherType: its frames going up (subscribing claims it: EADDRINUSE if
   * taken), `{ dst, pb }` going down as frames of that EtherType.
   */
  protocol(ethertype: number): Boundary<Uint8Array, EthernetOut> {
    const down: EthernetSink = {
      next: (o: EthernetOut) => this.send(o.dst, ethertype, o.pb),
      sendTo: (dst: Uint8Array, pb: PacketBuffer) => this.send(dst, ethertype, pb),
      sendFrame: (buf: Uint8Array, head: number, csumStart?: number, csumOffset?: number) => this.sendFrame(buf, head, csumStart, csumOffset),
      frameRoom: this.#frameRoom === Infinity ? 0 : this.#frameRoom,
      partialFrames: this.#frameRoom !== Infinity && this.#down.sendPartial !== undefined,
      srcMac: this.#iface.mac,
      partialChecksum: true,
      maxGsoBytes: this.#down.maxGsoBytes,
    };
    const v4 = ethertype === EtherType.IPV4;
    if (!v4 && ethertype !== EtherType.IPV6) return { up$: this.#demux.endpoint(ethertype), down };
    // IPv4's and IPv6's frames may come by the direct way in (DirectIn), past the demux while
    // nobody observes it: the layer that claims 0x0800 (0x86DD) takes it with its attachment.
    const endpoint$ = this.#demux.endpoint(ethertype);
    const demux = this.#demux;
    const direct: DirectIn<Uint8Array> = {
      take: (handler, gate) => {
        const taken = { handler, gate };
        if (v4) this.#ipv4Direct = taken;
        else this.#ipv6Direct = taken;
        const subscription = demux.keepGate(gate);
        subscription.add(() => {
          if (v4 && this.#ipv4Direct === taken) this.#ipv4Direct = undefined;
          if (!v4 && this.#ipv6Direct === taken) this.#ipv6Direct = undefined;
        });
        return subscription;
      },
    };
    return { up$: new UpStream<Uint8Array>((observer) => attachUp(endpoint$, observer), direct), down };
  }

  get unmatched$(): Observable<Uint8Array> {
    return this.#demux.unmatched$;
  }

  observe$(ethertype?: number): Observable<Uint8Array> {
    return this.#demux.observe$(ethertype);
  }

  /** @internal (protocols send through their boundary's `down`) Prepends an Ethernet header (dst, our MAC, `ethertype`) to `pb` and writes the frame. */
  send(dst: Uint8Array, ethertype: number, pb: PacketBuffer): void {
    if (this.#closed) {
      this.counters.drops.linkClosed++;
      return;
    }
    const at = pb.prepend(ETHERNET_HEADER_LEN);
    const b = pb.buf;
    // Byte by byte: for six bytes, `set` is a builtin call that costs more than the loop.
    const src = this.#iface.mac;
    for (let i = 0; i < 6; i++) {
      b[at + i] = dst[i];
      b[at + 6 + i] = src[i];
    }
    b[at + 12] = ethertype >>> 8;
    b[at + 13] = ethertype & 0xff;
    const down = this.#down;
    // A link that writes a header of its own in front of each frame (TAP with offload) writes
    // it into the packet's unused headroom, so the device takes the frame as one piece. Not for
    // a large segment (its own header) nor a gathered payload.
    if (this.#frameRoom <= at && pb.tail === undefined && pb.gsoSize === 0) {
      const end = pb.end;
      this.counters.txFrames++;
      this.counters.txBytes += end - at;
      const start = pb.csumStart;
      if (start >= 0 && down.sendPartial === undefined) pb.completeChecksum();
      down.sendInRoom!(pb.buf, at, end, pb.csumStart < 0 ? -1 : start - at, pb.csumOffset);
      return;
    }
    if (pb.csumStart >= 0) {
      if (down.sendPartial !== undefined) {
        const tail = pb.tail;
        if (tail !== undefined && down.sendGathered !== undefined) {
          // A large TCP segment whose payload is a view of the send buffer: the link gathers
          // header and payload into one write (no copy of the payload on the way).
          const head = pb.buf.subarray(pb.head, pb.end);
          this.counters.txFrames++;
          this.counters.txBytes += head.length + tail.length;
          down.sendGathered(head, tail, pb.csumStart - pb.head, pb.csumOffset, pb.gsoSize);
          return;
        }
        // Transmit checksum offload: the link's device finishes the checksum.
        const frame = pb.bytes();
        this.counters.txFrames++;
        this.counters.txBytes += frame.length;
        down.sendPartial(frame, pb.csumStart - pb.head, pb.csumOffset, pb.gsoSize);
        return;
      }
      pb.completeChecksum();
    }
    const tail = pb.tail;
    if (tail !== undefined && down.sendGathered !== undefined) {
      // A full-sized segment (or a piece cut in software), its payload a view of the send buffer: the link writes the
      // finished frame in two pieces (no copy of the payload on the way).
      const head = pb.buf.subarray(pb.head, pb.end);
      this.counters.txFrames++;
      this.counters.txBytes += head.length + tail.length;
      down.sendGathered(head, tail, -1, 0, 0);
      return;
    }
    const frame = pb.bytes();
    this.counters.txFrames++;
    this.counters.txBytes += frame.length;
    down.next(frame);
  }

  /** @internal A finished frame, `buf[head..]` (header and checksums written by the caller: see EthernetSink.sendFrame), to the link. */
  sendFrame(buf: Uint8Array, head: number, csumStart = -1, csumOffset = 0): void {
    if (this.#closed) {
      this.counters.drops.linkClosed++;
      return;
    }
    this.counters.txFrames++;
    this.counters.txBytes += buf.length - head;
    const inRoom = this.#frameRoom <= head;
    // A partial checksum only where the link finishes it (with room: sendInRoom), else here.
    if (csumStart >= 0 && !(inRoom && this.#down.sendPartial !== undefined)) {
      completeChecksumAt(buf, csumStart, csumOffset);
      csumStart = -1;
    }
    if (inRoom) this.#down.sendInRoom!(buf, head, buf.length, csumStart < 0 ? -1 : csumStart - head, csumOffset);
    else this.#down.next(head === 0 ? buf : buf.subarray(head));
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions.length = 0;
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

/**
 * Finishes a partial transport checksum in place: sums `buf` from `csumStart` to the end, the
 * pseudo-header's sum in the field included. A result of 0 goes as 0xFFFF (the same value in
 * ones' complement; UDP's 0 would mean "no checksum"), as Linux finishes one.
 */
function completeChecksumAt(buf: Uint8Array, csumStart: number, csumOffset: number): void {
  const c = foldChecksum(onesSum(buf, csumStart, buf.length - csumStart)) || 0xffff;
  buf[csumStart + csumOffset] = c >>> 8;
  buf[csumStart + csumOffset + 1] = c & 0xff;
}
