import { Subject, tap, type MonoTypeOperatorFunction, type Observable } from 'rxjs';
import { pinFrame } from '../frame-lease.js';

/**
 * Where a layer hands items down to the layer below: `next(item)`. An rxjs Subject or Observer
 * is one; so is any object with a `next` method. Items are handed over, not shared: once given,
 * the sender does not touch them again.
 */
export interface Sink<T> {
  next(item: T): void;
  /**
   * @internal True when whatever is below finishes a transport checksum left partial (see
   * PacketBuffer.csumStart), so the layer above may skip that work. Sinks made by `between()`
   * never say so: inserted operators always see finished packets.
   */
  readonly partialChecksum?: boolean;
  /**
   * @internal Largest IPv4 packet (headers included) whatever is below takes as one large TCP
   * segment and cuts itself (PacketBuffer.gsoSize: the link's TCP segmentation offload); absent
   * or 0: none, large segments are cut in software above. Like `partialChecksum`, sinks made by
   * `between()` never say so.
   */
  readonly maxGsoBytes?: number;
  /**
   * @internal True when whatever is below is done with an item's record (the object passed to
   * `next`, not what it refers to, such as a packet) when `next` returns, so the layer above may
   * pass one record, refilled, for every item (no object per packet). Like `partialChecksum`,
   * sinks made by `between()` never say so: inserted operators may keep what they get.
   */
  readonly retainsNothing?: boolean;
  /**
   * @internal A fused way past the layers below (see `FusedOut`), offered by a layer for its
   * plain form only: sinks made by `between()` with a `down` operator never carry it, and a
   * tap point's wrapper says `ready()` false while anyone observes what crosses it.
   */
  readonly fused?: FusedOut;
}

/**
 * @internal What a fused way out has in common at every level: `ready()` says whether it may
 * be taken now (false while a tap point on the way has observers, who must see each item
 * cross). The members beyond it are the level's own (ARP's `FrameOut`, IPv4's `WholeOut`).
 */
export interface FusedOut {
  ready(): boolean;
}

/**
 * The one contract between two layers: what crosses upward (inbound, `up$`) and where the upper
 * layer puts what goes downward (outbound, `down`). Every layer of the stack takes its lower
 * side as a Boundary (or as a keyed set of them, see `ProtocolMux`), so anything that has this
 * shape can stand in for the layer below: a link, a layer, or an operator inserted between two
 * layers with `between()`.
 *
 * `up$` is hot: items pass while the upper layer is subscribed, and nothing is buffered for an
 * absent subscriber (the layer below counts what nobody took).
 */
export interface Boundary<Up, Down> {
  readonly up$: Observable<Up>;
  readonly down: Sink<Down>;
}

/** Operators to insert at a boundary: `up` on inbound items, `down` on outbound ones. */
export interface BoundaryOperators<Up, Down> {
  readonly up?: MonoTypeOperatorFunction<Up>;
  readonly down?: MonoTypeOperatorFunction<Down>;
}

/**
 * Inserts operators between two layers: the result has the same shape (and every other member)
 * as `boundary`, with `ops.up` applied to what goes up and `ops.down` to what goes down. An
 * operator may drop, delay, rewrite, duplicate or replace items (a firewall, a shaper, a NAT);
 * an identity `tap()` observes without changing anything. Without operators the boundary is
 * returned as it is: the default stack pays nothing for the possibility.
 *
 * The downward pipeline is subscribed at once and lives as long as the boundary.
 *
 * @example
 * const shaped = between(linkBoundary(link), { down: concatMap((f) => timer(1).pipe(map(() => f))) });
 */
export function between<Up, Down, B extends Boundary<Up, Down>>(boundary: B, ops: BoundaryOperators<Up, Down> | undefined): B {
  if (ops === undefined || (ops.up === undefined && ops.down === undefined)) return boundary;
  let down: Sink<Down> = boundary.down;
  if (ops.down !== undefined) {
    const below = boundary.down;
    const entry = new Subject<Down>();
    entry.pipe(ops.down).subscribe({ next: (item) => below.next(item) });
    down = entry;
  }
  // An operator may keep what it gets: the received frame under each item is held (frame-lease.ts).
  const up$ = ops.up === undefined ? boundary.up$ : boundary.up$.pipe(tap(pinFrame), ops.up);
  return { ...boundary, up$, down };
}

/**
 * A boundary made of a function: for an upper layer that only sends (`up$` never emits), or to
 * adapt a callback API.
 */
export function sinkOf<T>(next: (item: T) => void): Sink<T> {
  return { next };
}

/**
 * A boundary inside a layer, as the layer uses it: `up` and `down` are where the layer puts
 * items crossing it, `onUp`/`onDown` where they come out, through the operators of `ops`
 * when there are any (a Subject piped through them), else straight (the handler itself: no
 * cost). Used for the hooks on TCP segments and UDP datagrams.
 */
export function hookPoint<Up, Down>(
  ops: BoundaryOperators<Up, Down> | undefined,
  onUp: (item: Up) => void,
  onDown: (item: Down) => void,
): { readonly up: (item: Up) => void; readonly down: (item: Down) => void } {
  return { up: through(ops?.up, onUp, true), down: through(ops?.down, onDown, false) };
}

/** `inbound`: an operator may keep what it gets, so the received frame under each item is held (frame-lease.ts). */
function through<T>(op: MonoTypeOperatorFunction<T> | undefined, handler: (item: T) => void, inbound: boolean): (item: T) => void {
  if (op === undefined) return handler;
  const entry = new Subject<T>();
  entry.pipe(op).subscribe({ next: handler });
  if (!inbound) return (item) => entry.next(item);
  return (item) => {
    pinFrame();
    entry.next(item);
  };
}
