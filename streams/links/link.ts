import type { Observable } from 'rxjs';

/**
 * A link: where whole frames come in and go out. The TAP device, one end of the in-memory wire,
 * the TUN device, and any decorator (impairment, capture) all offer this shape. What a frame is
 * depends on `layer`: an Ethernet frame (the default), or a bare IPv4 packet on a point-to-point
 * link without link-layer addresses (a TUN device): a "frame" below means either.
 */
export interface Link {
  /** Name for logs and stats (`tap0`, `wire-a`). */
  readonly name: string;
  /**
   * What the frames are: 'ethernet' (absent means the same) or 'ip' (bare IPv4 packets: the
   * stack runs IPv4 straight on the link, with no Ethernet header and no ARP).
   */
  readonly layer?: 'ethernet' | 'ip';
  /** Link MTU: the largest IP packet (a frame minus its Ethernet header, if any) the link carries. */
  readonly mtu: number;
  /**
   * The MAC the stack should use on this link, when the link prescribes one (each end of the
   * memory wire has its own). Undefined for a TAP link: the TAP device's own MAC belongs to the
   * kernel side, and the stack, a separate host behind it, needs another one.
   */
  readonly mac?: Uint8Array;
  /**
   * Inbound frames. Hot and shared: every subscriber sees frames arriving while it is
   * subscribed. Each frame is a view the receiver may keep (the link never reuses its bytes).
   * Errors only on a fatal device failure; completes when the link is closed.
   */
  readonly frames$: Observable<Uint8Array>;
  /**
   * Optional: delivers on `frames$`, before returning, what the link's device holds now (a
   * TAP or TUN link). The stack calls it when its timers fire late, the event loop having been
   * held up: Node runs due timers before it polls, so the frames that came meanwhile (the ACK
   * that would cancel a retransmission) are read first. A link without it is read when the
   * loop polls, as always.
   */
  pollInput?(): void;
  /**
   * Writes one whole frame. The link owns `frame` afterwards (it may queue it); the caller must
   * not modify it. Never throws for a full queue: a link that cannot take more counts a drop.
   */
  send(frame: Uint8Array): void;
  /**
   * Optional, for links with transmit checksum offload: like `send`, for a frame whose
   * transport checksum is partial: the field at `csumStart + csumOffset` (offsets in `frame`)
   * holds the pseudo-header sum, and the one's complement sum of the bytes from `csumStart` to
   * the end is still to be folded in. The link (or its device) completes it. Links without it
   * are only ever given complete frames. `gsoSize`, only on a link with `maxGsoBytes`: the
   * frame is a large TCP segment to be cut into segments of that many payload bytes.
   */
  sendPartial?(frame: Uint8Array, csumStart: number, csumOffset: number, gsoSize?: number): void;
  /**
   * Optional, for links that gather (a TAP device's writev): a frame in two pieces, `head` (the
   * headers) followed by `payload`, a view of memory the link does not own (the TCP send
   * buffer) that stays unchanged until the end of the current task (it is data not yet
   * acknowledged), so the link may batch the frame with its other frames and write it then.
   * With a partial checksum (`csumStart` >= 0, only on a link with `sendPartial`; offsets in
   * `head`): as `sendPartial`. With `csumStart` -1, a complete frame (a segment cut in software).
   * Links without it get such frames contiguous (copied) through `send` or `sendPartial`.
   */
  sendGathered?(head: Uint8Array, payload: Uint8Array, csumStart: number, csumOffset: number, gsoSize: number): void;
  /**
   * Optional, for links that write a header of their own in front of every frame (a TAP device
   * with offload: the 10-byte virtio_net_hdr): how many bytes of room `sendInRoom` needs in
   * front of a frame. Present exactly when `sendInRoom` is.
   */
  readonly frameRoom?: number;
  /**
   * Optional, with `frameRoom`: like `send` (`csumStart` -1) or `sendPartial` (`csumStart` >= 0,
   * offsets from `head`) for the frame `buf[head, end)`, whose packet owns the `frameRoom` bytes
   * in front of it (`head >= frameRoom`: the headroom its headers did not take). The link writes
   * its own header there and the device takes header and frame as one piece (one `write`, not a
   * `writev` of two). The link owns `buf` afterwards, as `send` owns its frame.
   */
  sendInRoom?(buf: Uint8Array, head: number, end: number, csumStart: number, csumOffset: number): void;
  /**
   * Optional, for links with TCP segmentation offload: the largest IPv4 packet (headers
   * included) the link takes as one large TCP segment through `sendPartial` with a `gsoSize`
   * (the payload of each segment it is to be cut into; the frame's IPv4 total length covers the
   * whole, its TCP checksum is partial). The link's device cuts it: headers copied, sequence
   * numbers advanced, PSH/FIN on the last piece. Absent or 0: never given such a frame.
   */
  readonly maxGsoBytes?: number;
  /**
   * Optional, for links with receive checksum offload: true when the link vouches for the
   * transport (TCP/UDP) checksum of `frame`, one of the frames it delivered (the kernel's own
   * packet over TAP, its checksum partial or already verified). The stack then skips verifying
   * it. An operator that passes frames on unchanged keeps the vouching, a modified copy loses it
   * and is verified as usual. (The TAP and TUN links with offload answer from where the frame
   * starts in their receive memory: a view of the same bytes from the same start is vouched for
   * as well.)
   */
  checksumVerified?(frame: Uint8Array): boolean;
  /** Releases the device; frames$ completes and later sends are dropped. Idempotent. */
  close(): void;
}
