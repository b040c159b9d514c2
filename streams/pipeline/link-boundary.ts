import type { Link } from '../links/link.js';
import type { Boundary, Sink } from './boundary.js';

/**
 * The sink of a link's boundary. `sendPartial` is there when the link can finish a transport
 * checksum itself (TAP checksum offload): the Ethernet layer uses it only when nothing was
 * inserted below it, since an inserted operator must see complete frames (`between()` puts a
 * plain Subject in front, which has no `sendPartial`).
 */
export interface FrameSink extends Sink<Uint8Array> {
  sendPartial?(frame: Uint8Array, csumStart: number, csumOffset: number, gsoSize?: number): void;
  /**
   * The link's `sendGathered` (a frame as headers + a payload view): complete frames with
   * `csumStart` -1 on any link that gathers, partial ones only with `sendPartial`.
   */
  sendGathered?(head: Uint8Array, payload: Uint8Array, csumStart: number, csumOffset: number, gsoSize: number): void;
  /** The link's `frameRoom` and `sendInRoom` (a frame with room in front for the link's own header), when nothing was inserted below. */
  frameRoom?: number;
  sendInRoom?(buf: Uint8Array, head: number, end: number, csumStart: number, csumOffset: number): void;
  /** The link's `maxGsoBytes` (TCP segmentation offload), when nothing was inserted below. */
  maxGsoBytes?: number;
}

/** A link as the lowest boundary of a stack: frames up, frames down. */
export type FrameBoundary = Boundary<Uint8Array, Uint8Array>;

/** The boundary of a link: its `frames$` going up, `send()` (and `sendPartial()`) going down. */
export function linkBoundary(link: Link): FrameBoundary {
  const down: FrameSink = { next: (frame) => link.send(frame) };
  if (link.sendPartial !== undefined) {
    const partial = link.sendPartial.bind(link);
    down.sendPartial = partial;
    if (link.maxGsoBytes !== undefined && link.maxGsoBytes > 0) down.maxGsoBytes = link.maxGsoBytes;
  }
  if (link.sendInRoom !== undefined && link.frameRoom !== undefined) {
    down.sendInRoom = link.sendInRoom.bind(link);
    down.frameRoom = link.frameRoom;
  }
  if (link.sendGathered !== undefined) down.sendGathered = link.sendGathered.bind(link);
  return { up$: link.frames$, down };
}
