import { Observable, Subject, type Subscription } from 'rxjs';
import { GateKeeper, type DirectGate } from './direct-gate.js';
import { PacketBuffer } from '../../src/packet-buffer.js';
import type { Boundary, FusedOut, Sink } from './boundary.js';
import { attachUp, directOf, UpStream, type DirectIn } from './up-stream.js';
import { pinFrame } from '../frame-lease.js';

/** Observe-only views of a boundary: what crosses it upward and downward. They claim nothing. */
export interface BoundaryTaps<Up, Down> {
  /** Every inbound item as it crosses (hot). */
  readonly up$: Observable<Up>;
  /** Every outbound item as it crosses (hot). A TCP or UDP packet may carry a partial checksum here. */
  readonly down$: Observable<Down>;
}

/**
 * A place where what crosses one or more boundaries can be observed without taking part: the
 * observers see each item as it passes and cannot drop or change it (for that, insert an
 * operator with `between()`). `wrap()` one boundary or several (the same boundary of every
 * interface): their items meet here. While nobody observes, an item costs one boolean test.
 */
export class TapPoint<Up, Down> implements BoundaryTaps<Up, Down> {
  readonly #up = new Subject<Up>();
  readonly #down = new Subject<Down>();

  /** Keeps the gates of the direct ways in past this point shut while `up$` is observed. */
  readonly #upKeeper = new GateKeeper();
  /** The same for `down$` (a way out that skips this point: the nat's offloaded UDP flows). */
  readonly #downKeeper = new GateKeeper();

  get up$(): Observable<Up> {
    const up = this.#up;
    const keeper = this.#upKeeper;
    return new Observable<Up>((subscriber) => {
      const inner = up.subscribe(subscriber);
      keeper.observed = up.observed;
      return () => {
        inner.unsubscribe();
        keeper.observed = up.observed;
      };
    });
  }

  /** @internal Shuts `gate` while anyone observes `up$` (a layer that skips this point by itself). */
  keepUp(gate: DirectGate): Subscription {
    return this.#upKeeper.keep(gate);
  }

  get down$(): Observable<Down> {
    const down = this.#down;
    const keeper = this.#downKeeper;
    return new Observable<Down>((subscriber) => {
      const inner = down.subscribe(subscriber);
      keeper.observed = down.observed;
      return () => {
        inner.unsubscribe();
        keeper.observed = down.observed;
      };
    });
  }

  /** @internal Shuts `gate` while anyone observes `down$` (a way out that skips this point by itself). */
  keepDown(gate: DirectGate): Subscription {
    return this.#downKeeper.keep(gate);
  }

  /** @internal Whether anyone observes `up$` (a boundary that converts its items for the observers asks first). */
  get upObserved(): boolean {
    return this.#up.observed;
  }

  /** @internal Whether anyone observes `down$`. */
  get downObserved(): boolean {
    return this.#down.observed;
  }

  /** @internal Shows an item to the observers of `up$` (for a boundary whose own items are of another type). */
  showUp(item: Up): void {
    // The observers may keep what they see: the received frame under it is held (frame-lease.ts).
    pinFrame();
    this.#up.next(item);
  }

  /** @internal Shows an item to the observers of `down$`. */
  showDown(item: Down): void {
    this.#down.next(item);
  }

  /** `boundary`, with what crosses it shown to this point's observers. */
  wrap<B extends Boundary<Up, Down>>(boundary: B): B {
    const upTap = this.#up;
    const downTap = this.#down;
    const below = boundary.down;
    const retains = below.retainsNothing === true;
    const source$ = boundary.up$;
    // An UpStream: the layer above attaches to it and is called straight from the closure
    // below (one boolean test per item while nobody observes); a subscriber gets the same.
    // The direct way in below (DirectIn), closed while anyone observes this boundary's up$.
    const inner = directOf(source$);
    const keeper = this.#upKeeper;
    const direct: DirectIn<Up> | undefined = inner === undefined ? undefined : {
      take: (handler, gate) => {
        const taken = keeper.keep(gate);
        taken.add(inner.take(handler, gate));
        return taken;
      },
    };
    const up$ = new UpStream<Up>((above) =>
      attachUp(source$, {
        next(item) {
          if (upTap.observed) {
            // The observers may keep what they see: the received frame under it is held (frame-lease.ts).
            pinFrame();
            upTap.next(item);
          }
          above.next(item);
        },
        error: (err) => above.error(err),
        complete: () => above.complete(),
      }),
      direct,
    );
    const down: Sink<Down> & { sendPartial?: unknown; sendGathered?: unknown; sendInRoom?: unknown; frameRoom?: number; fused?: FusedOut } = {
      next(item) {
        if (downTap.observed) {
          // Observers may keep what they see: a packet whose payload is only gathered (a view
          // of the TCP send buffer, PacketBuffer.tail) is made their own first.
          const pb = (item as { pb?: unknown }).pb;
          if (pb instanceof PacketBuffer) pb.own();
          // A record the sender refills for its next item (see Sink.retainsNothing): the
          // observers get one of their own.
          downTap.next(retains ? ({ ...(item as object) } as Down) : item);
        }
        below.next(item);
      },
      partialChecksum: below.partialChecksum,
      maxGsoBytes: below.maxGsoBytes,
      retainsNothing: retains,
    };
    // A fused way past the layers below (Sink.fused) is taken only while nobody observes this
    // boundary: the observers see every item, so they send it the long way. Its other members
    // are the inner one's, through the prototype.
    const fused = below.fused;
    if (fused !== undefined) {
      const outer = Object.create(fused) as { ready(): boolean };
      outer.ready = () => !downTap.observed && fused.ready();
      down.fused = outer;
    }
    // The link's checksum offload stays usable through a tap: the tap sees the frame as sent.
    const partial = (below as { sendPartial?: (frame: Uint8Array, start: number, offset: number, gsoSize?: number) => void }).sendPartial;
    if (partial !== undefined) {
      down.sendPartial = (frame: Uint8Array, start: number, offset: number, gsoSize?: number) => {
        if (downTap.observed) downTap.next(frame as Down);
        partial(frame, start, offset, gsoSize);
      };
    }
    // A frame with room in front for the link's own header (the link writes only into that room):
    // the observers see the frame, a view of the same bytes.
    const inRoom = (below as { sendInRoom?: (buf: Uint8Array, head: number, end: number, start: number, offset: number) => void }).sendInRoom;
    if (inRoom !== undefined) {
      down.frameRoom = (below as { frameRoom?: number }).frameRoom;
      down.sendInRoom = (buf: Uint8Array, head: number, end: number, start: number, offset: number) => {
        if (downTap.observed) downTap.next(buf.subarray(head, end) as Down);
        inRoom(buf, head, end, start, offset);
      };
    }
    // Gathered frames stay gathered while nobody observes; an observer gets them contiguous
    // (and the link then gets that one frame: complete, or through sendPartial).
    const gathered = (below as { sendGathered?: (head: Uint8Array, payload: Uint8Array, start: number, offset: number, gsoSize: number) => void }).sendGathered;
    if (gathered !== undefined) {
      down.sendGathered = (head: Uint8Array, payload: Uint8Array, start: number, offset: number, gsoSize: number) => {
        if (!downTap.observed) {
          gathered(head, payload, start, offset, gsoSize);
          return;
        }
        const frame = new Uint8Array(head.length + payload.length);
        frame.set(head, 0);
        frame.set(payload, head.length);
        downTap.next(frame as Down);
        if (start < 0) below.next(frame as Down);
        else if (partial !== undefined) partial(frame, start, offset, gsoSize);
        else throw new RangeError('sendGathered: a partial checksum on a link without sendPartial');
      };
    }
    return { ...boundary, up$, down };
  }

  /** Ends the observers' streams (the stack closed). */
  complete(): void {
    this.#up.complete();
    this.#down.complete();
  }
}
