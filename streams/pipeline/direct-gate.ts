import { Subscription } from 'rxjs';

/**
 * @internal Whether a direct way in (DirectIn, up-stream.ts) may be taken now, as one number
 * the layer at its bottom reads once per item: `shut` counts the hops the way skips that are
 * observed at this moment (a tap point's `up$`, a demux's `observe$`). Zero: open.
 *
 * The hops keep it (a `GateKeeper` each) when an observer comes or goes, so the per-item test
 * is one property read instead of a call through every hop.
 */
export class DirectGate {
  shut = 0;
  /** Called each time a hop shuts the gate (one more observer), after `shut` grew: a way that must leave at once. */
  onShut: (() => void) | undefined = undefined;
}

/**
 * @internal What a hop keeps: the gates of the direct ways that skip it, each shut by one
 * while this hop is observed. `observed` is set by the hop whenever its observers change.
 */
export class GateKeeper {
  readonly #gates = new Set<DirectGate>();
  #observed = false;

  get observed(): boolean {
    return this.#observed;
  }

  set observed(now: boolean) {
    if (now === this.#observed) return;
    this.#observed = now;
    const step = now ? 1 : -1;
    for (const gate of this.#gates) {
      gate.shut += step;
      if (now) gate.onShut?.();
    }
  }

  /** Shuts `gate` while this hop is observed, until the Subscription is unsubscribed. */
  keep(gate: DirectGate): Subscription {
    if (this.#gates.has(gate)) return new Subscription();
    this.#gates.add(gate);
    if (this.#observed) {
      gate.shut++;
      gate.onShut?.();
    }
    return new Subscription(() => {
      if (!this.#gates.delete(gate)) return;
      if (this.#observed) gate.shut--;
    });
  }
}
